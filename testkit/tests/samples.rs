//! The sample processes with special shapes (`rest-v3.md` §2.2): an apensado, restricted access,
//! a retirado document, one file in two documents. What the platform asks for, and a full
//! reception of each.

use pen_protocol::api::TramiteDeProcessoCriado;
use pen_protocol::situacao::Situacao;
use pen_testkit::sim::{spawn_simulator, Api, TestSimulator};
use serde_json::Value;

use crate::common::{
    bytes_of, download_all, envio, post_recibo, processo, situacao, tramite, upload, ORG_A, ORG_B,
};

/// Every declared hash of a sample, in document order (apensados after the main process).
fn declared(name: &str) -> Vec<(String, String)> {
    processo(name)
        .components()
        .into_iter()
        .map(|(protocolo, _, c)| (protocolo.0.clone(), c.hash_conteudo().unwrap().to_owned()))
        .collect()
}

async fn open(a: &Api, name: &str) -> TramiteDeProcessoCriado {
    let raw: Value = a
        .post_json(
            "tramites/processo",
            &envio(processo(name), ORG_A, ORG_B, None),
        )
        .await
        .json();
    let solicitados = &raw["processosComComponentesDigitaisSolicitados"];
    for entry in solicitados.as_array().unwrap() {
        let members: Vec<&str> = entry
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(members.len(), 2, "{entry}");
        assert!(
            entry["protocolo"].is_string() && entry["hashes"].is_array(),
            "{entry}"
        );
    }
    serde_json::from_value(raw).unwrap()
}

/// Uploads what was asked for, lets org-b receive everything and post its receipt, and org-a
/// fetch it; returns the hashes org-b had to download.
async fn receive_all(sim: &TestSimulator, created: &TramiteDeProcessoCriado) -> Vec<String> {
    let (a, b) = (sim.org("org-a"), sim.org("org-b"));
    upload(&a, created, None).await;
    assert_eq!(
        situacao(&a, created.idt).await,
        Situacao::ComponentesEnviadosRemetente
    );
    b.get(&format!("tramites/{}", created.idt)).await.ok();
    let downloaded = download_all(&b, created.idt, Some(500)).await;
    assert_eq!(
        situacao(&b, created.idt).await,
        Situacao::ComponentesRecebidosDestinatario
    );
    post_recibo(&b, created.idt, "org-b").await.ok();
    a.get(&format!("tramites/{}/recibo", created.idt))
        .await
        .ok();
    assert_eq!(
        situacao(&a, created.idt).await,
        Situacao::ReciboRecebidoRemetente
    );
    downloaded
}

#[tokio::test]
async fn apensado_first_entry_lists_every_hash_then_the_apensado() {
    let sim = spawn_simulator().await;
    let a = sim.org("org-a");
    let sample = processo("processo-com-apensado");
    let main = sample.protocolo.clone().unwrap().0;
    let apensado = sample.processo_apensado[0].protocolo.clone().unwrap().0;
    let components = declared("processo-com-apensado");
    let apensado_hashes: Vec<String> = components
        .iter()
        .filter(|(p, _)| *p == apensado)
        .map(|(_, h)| h.clone())
        .collect();
    assert!(
        !apensado_hashes.is_empty()
            && components.iter().any(|(p, _)| *p == main)
            && !components
                .iter()
                .any(|(p, h)| *p == main && apensado_hashes.contains(h)),
        "the sample has distinct components in both processes: {components:?}"
    );

    let created = open(&a, "processo-com-apensado").await;
    let solicitados = &created.processos_com_componentes_digitais_solicitados;
    assert_eq!(solicitados.len(), 2, "{solicitados:?}");
    // The SEI module checks every component, apensados' too, against the first entry's list.
    assert_eq!(solicitados[0].protocolo, main);
    let every: Vec<String> = components.iter().map(|(_, h)| h.clone()).collect();
    assert_eq!(solicitados[0].hashes, every);
    assert_eq!(solicitados[1].protocolo, apensado);
    assert_eq!(solicitados[1].hashes, apensado_hashes);

    let t = tramite(&a, created.idt).await;
    assert_eq!(t.protocolo, main);
    assert_eq!(t.hash_dos_componentes_pendentes_de_envio, every);

    // Each apensado component uploaded with its own protocol; all downloaded with the main one.
    let downloaded = receive_all(&sim, &created).await;
    assert_eq!(downloaded, every);

    // The recipient gets the apensado back in the metadata.
    let v: Value = sim
        .org("org-b")
        .get(&format!("tramites/{}", created.idt))
        .await
        .json();
    assert_eq!(v["processo"]["protocolo"], main.as_str());
    assert_eq!(
        v["processo"]["processoApensado"][0]["protocolo"],
        apensado.as_str()
    );
}

#[tokio::test]
async fn restricted_process_keeps_its_hipotese_legal() {
    let sim = spawn_simulator().await;
    let a = sim.org("org-a");
    let created = open(&a, "processo-restrito").await;
    let sent = serde_json::to_value(processo("processo-restrito")).unwrap();
    assert!(
        sent["hipoteseLegal"].is_object(),
        "the sample carries a hipótese legal: {sent}"
    );
    let every: Vec<String> = declared("processo-restrito")
        .into_iter()
        .map(|(_, h)| h)
        .collect();
    assert_eq!(
        created.processos_com_componentes_digitais_solicitados[0].hashes,
        every
    );
    assert_eq!(receive_all(&sim, &created).await, every);

    let v: Value = sim
        .org("org-b")
        .get(&format!("tramites/{}", created.idt))
        .await
        .json();
    let echoed = &v["processo"];
    assert_eq!(echoed["hipoteseLegal"], sent["hipoteseLegal"], "{echoed}");
    assert_eq!(echoed["hipoteseLegal"]["identificacao"], 6);
    assert_eq!(echoed["nivelDeSigilo"], sent["nivelDeSigilo"]);
    let documentos = echoed["documentos"].as_array().unwrap();
    let expected = sent["documentos"].as_array().unwrap();
    assert_eq!(documentos.len(), expected.len());
    for (got, want) in documentos.iter().zip(expected) {
        assert_eq!(got["hipoteseLegal"], want["hipoteseLegal"], "{got}");
        assert_eq!(got["nivelDeSigilo"], want["nivelDeSigilo"], "{got}");
    }
}

#[tokio::test]
async fn retirado_document_component_is_not_requested() {
    let sim = spawn_simulator().await;
    let a = sim.org("org-a");
    let sample = processo("processo-documento-cancelado");
    let retirado: Vec<String> = sample
        .documentos
        .iter()
        .filter(|d| d.retirado)
        .flat_map(|d| &d.componentes_digitais)
        .map(|c| c.hash_conteudo().unwrap().to_owned())
        .collect();
    let kept: Vec<String> = sample
        .documentos
        .iter()
        .filter(|d| !d.retirado)
        .flat_map(|d| &d.componentes_digitais)
        .map(|c| c.hash_conteudo().unwrap().to_owned())
        .collect();
    assert!(!retirado.is_empty() && !kept.is_empty());

    let created = open(&a, "processo-documento-cancelado").await;
    assert_eq!(
        created.processos_com_componentes_digitais_solicitados.len(),
        1
    );
    assert_eq!(
        created.processos_com_componentes_digitais_solicitados[0].hashes,
        kept
    );
    // Uploading the retirado document's file anyway is refused.
    let path = format!(
        "tickets-de-envio-de-componente/{}/protocolos/componentes-a-enviar",
        created.ticket_para_envio_de_componentes_digitais
    );
    let refused = a
        .put_component(
            &path,
            bytes_of(&retirado[0]),
            &retirado[0],
            &sample.protocolo.clone().unwrap().0,
        )
        .await
        .error();
    assert_eq!(refused.codigo_erro, "9104");

    assert_eq!(receive_all(&sim, &created).await, kept);
    // The retirado document still travels in the metadata.
    let v: Value = sim
        .org("org-b")
        .get(&format!("tramites/{}", created.idt))
        .await
        .json();
    assert_eq!(
        v["processo"]["documentos"].as_array().unwrap().len(),
        sample.documentos.len()
    );
}

#[tokio::test]
async fn shared_file_is_requested_once() {
    let sim = spawn_simulator().await;
    let a = sim.org("org-a");
    let components = declared("processo-mesmo-arquivo");
    assert!(components.len() >= 2);
    let first = components[0].1.clone();
    assert!(
        components.iter().all(|(_, h)| *h == first),
        "one file in every document: {components:?}"
    );

    let created = open(&a, "processo-mesmo-arquivo").await;
    assert_eq!(
        created.processos_com_componentes_digitais_solicitados[0].hashes,
        [first.as_str()]
    );
    assert_eq!(receive_all(&sim, &created).await, [first.as_str()]);
    let t = tramite(&a, created.idt).await;
    assert_eq!(t.hash_dos_componentes_pendentes_de_recebimento, [first]);
}
