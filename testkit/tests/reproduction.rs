//! Reprodução de último trâmite (`rest-v3.md` §2.13): the recipient of a completed trâmite asks
//! for it again; the original sender sees pendência 1 and re-uploads with the ticket its
//! metadata carry.

use pen_protocol::api::{Metadados, Pendencia, ReproducaoDeTramite};
use pen_protocol::situacao::Situacao;
use pen_testkit::sim::spawn_simulator;

use crate::common::{complete, download_all, post_recibo, situacao, upload, ORG_B};

#[tokio::test]
async fn recipient_asks_again_and_the_sender_re_uploads() {
    let sim = spawn_simulator().await;
    let (a, b, c) = (sim.org("org-a"), sim.org("org-b"), sim.org("org-c"));
    let (first, nre) = complete(&sim, "processo-varios-documentos").await;
    let path = format!(
        "NREs/{nre}/destinatarios/{}/{}/reproducoes-de-tramite",
        ORG_B.0, ORG_B.1
    );

    // Only the recipient of that destination may ask.
    assert_eq!(
        a.post_json(&path, &serde_json::json!([]))
            .await
            .error()
            .codigo_erro,
        "9101"
    );
    assert_eq!(
        c.post_json(&path, &serde_json::json!([]))
            .await
            .error()
            .codigo_erro,
        "9101"
    );

    let created: ReproducaoDeTramite = b.post_json(&path, &serde_json::json!([])).await.json();
    let again = created.tramite_de_processo_criado;
    assert_eq!(again.nre, nre);
    assert_ne!(again.idt, first);
    assert!(
        !again.processos_com_componentes_digitais_solicitados[0]
            .hashes
            .is_empty(),
        "every component is asked for again"
    );

    // A second request while this one is open: the text the SEI module matches.
    let busy = b.post_json(&path, &serde_json::json!([])).await.error();
    assert_eq!(
        (busy.codigo_erro.as_str(), busy.mensagem.as_str()),
        (
            "0044",
            &*format!("NRE, '{nre}', já possui trâmite em andamento para este destinatário")
        )
    );

    // The original sender sees pendência 1 and the metadata say it is a reproduction.
    let pendentes: Vec<Pendencia> = a.get("tramites/pendentes").await.json();
    assert_eq!(
        pendentes,
        [Pendencia {
            idt: again.idt,
            status: Situacao::Iniciado
        }]
    );
    let metadados: Metadados = a.get(&format!("tramites/{}", again.idt)).await.json();
    assert_eq!(metadados.reproducao_de_tramite, Some(true));
    assert_eq!(
        metadados.ticket_para_reenvio_de_componentes_digitais,
        Some(again.ticket_para_envio_de_componentes_digitais)
    );

    upload(&a, &again, None).await;
    b.get(&format!("tramites/{}", again.idt)).await.ok();
    download_all(&b, again.idt, None).await;
    post_recibo(&b, again.idt, "org-b").await.ok();
    assert_eq!(
        situacao(&b, again.idt).await,
        Situacao::ReciboEnviadoDestinatario
    );
}

#[tokio::test]
async fn nothing_completed_means_nothing_to_reproduce() {
    let sim = spawn_simulator().await;
    let b = sim.org("org-b");
    let (_, nre) = complete(&sim, "processo-simples").await;
    // org-c's unit never received this process.
    let path = format!("NREs/{nre}/destinatarios/5/30682/reproducoes-de-tramite");
    let e = b.post_json(&path, &serde_json::json!([])).await.error();
    assert!(
        e.mensagem
            .starts_with("Não é possível executar o serviço de reprodução de trâmite do processo "),
        "{}",
        e.mensagem
    );
    let unknown = b
        .post_json(
            "NREs/0000000099992025/destinatarios/1/159098/reproducoes-de-tramite",
            &serde_json::json!([]),
        )
        .await
        .error();
    assert_eq!(unknown.codigo_erro, "9017");
}
