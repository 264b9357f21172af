//! Rules the real platform does not enforce are off by default and, each one, available as an
//! opt-in policy with its own validation message.

use pen_protocol::api::TramiteDeProcessoCriado;
use pen_protocol::ids::Protocolo;
use pen_simulator::config::{PlatformConfig, Policies};
use pen_testkit::sim::{spawn_simulator, spawn_simulator_with};

use crate::common::{envio, processo, ORG_A, ORG_B};

fn with(policies: Policies) -> PlatformConfig {
    PlatformConfig {
        policies,
        ..PlatformConfig::default()
    }
}

/// processo-varios-documentos has an unsigned txt and pdf; make its NUP's check digits wrong and
/// give one component a MIME type outside the schema's list.
fn sample() -> pen_protocol::api::EnvioDeProcesso {
    let mut body = envio(processo("processo-varios-documentos"), ORG_A, ORG_B, None);
    body.processo.protocolo = Some(Protocolo::from("13990.000185/2024-00"));
    body.processo.documentos[0].componentes_digitais[0].mime_type =
        Some("application/x-custom".to_owned());
    body
}

#[tokio::test]
async fn off_by_default_like_the_real_platform() {
    let sim = spawn_simulator().await;
    let created: TramiteDeProcessoCriado = sim
        .org("org-a")
        .post_json("tramites/processo", &sample())
        .await
        .json();
    assert!(!created
        .processos_com_componentes_digitais_solicitados
        .is_empty());
}

#[tokio::test]
async fn each_policy_refuses_with_its_message() {
    let cases: [(Policies, &str); 5] = [
        (Policies { max_component_bytes: Some(100), ..Policies::default() }, "tamanhoEmBytes excede o tamanho máximo permitido"),
        (Policies { allowed_extensions: Some(vec!["pdf".to_owned()]), ..Policies::default() }, "nome tem extensão não permitida"),
        (Policies { require_signatures: true, ..Policies::default() }, "assinaturasDigitais não pode ser vazio"),
        (Policies { require_valid_nup_check_digits: true, ..Policies::default() }, "processo.protocolo deve ser um NUP com dígitos verificadores válidos"),
        (Policies { restrict_mime_types: true, ..Policies::default() }, "processo.documentos[0].componentesDigitais[0].mimeType deve ser um tipo de arquivo válido"),
    ];
    for (policies, text) in cases {
        let sim = spawn_simulator_with(with(policies)).await;
        let e = sim
            .org("org-a")
            .post_json("tramites/processo", &sample())
            .await
            .error();
        assert_eq!(e.codigo_erro, "9010", "{}", e.mensagem);
        assert!(
            e.mensagem.contains(text),
            "{:?} does not contain {text:?}",
            e.mensagem
        );
    }
}
