//! The reference client's flows against the simulator: one call sends a process (only what the
//! platform requests, whole or in parts, recibo de envio verified), one call receives it (hashes
//! checked while streaming, recibo de conclusão signed and accepted).

use std::collections::HashMap;

use pen_client::flows::{self, FileSink, FileSource, MemorySink, MemorySource, TransferOptions};
use pen_client::{Client, ClientConfig, Identity};
use pen_fixtures::generated::LargeComponent;
use pen_protocol::hash::hash_reader;
use pen_protocol::situacao::Situacao;
use pen_testkit::sim::{spawn_simulator, TestSimulator};

use crate::common::{envio, processo, situacao, ORG_A, ORG_B};

fn client(sim: &TestSimulator, org: &str) -> Client {
    let certs = pen_testkit::certs_dir();
    let identity =
        Identity::from_pem(&std::fs::read(certs.join(format!("orgs/{org}/identity.pem"))).unwrap())
            .unwrap();
    Client::new(ClientConfig::new(
        sim.base_url.clone(),
        std::fs::read(certs.join("ca.pem")).unwrap(),
        identity,
    ))
    .unwrap()
}

fn samples() -> MemorySource {
    MemorySource(
        pen_fixtures::files("componentes")
            .into_iter()
            .map(|(_, bytes)| {
                (
                    pen_protocol::hash::hash_bytes(bytes).to_base64(),
                    bytes.to_vec(),
                )
            })
            .collect(),
    )
}

#[tokio::test]
async fn send_and_receive_in_one_call_each() {
    let sim = spawn_simulator().await;
    let (a, b) = (client(&sim, "org-a"), client(&sim, "org-b"));
    // Parts of 100 bytes for everything above 500: both upload paths in one process.
    let options = TransferOptions {
        block: 100,
        whole_below: 500,
    };
    let sent = flows::send_process(
        &a,
        &envio(processo("processo-varios-documentos"), ORG_A, ORG_B, None),
        &samples(),
        options,
    )
    .await
    .unwrap();
    assert!(sent.uploaded.len() >= 3);
    let mut sink = MemorySink::default();
    let received = flows::receive(&b, sent.created.idt, &mut sink, options)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(received.hashes, sent.uploaded);
    for (hash, bytes) in &sink.0 {
        assert_eq!(&pen_protocol::hash::hash_bytes(bytes).to_base64(), hash);
    }
    assert_eq!(
        situacao(&sim.org("org-a"), sent.created.idt).await,
        Situacao::ReciboEnviadoDestinatario
    );
}

#[tokio::test]
async fn a_large_component_goes_file_to_file() {
    let sim = spawn_simulator().await;
    let (a, b) = (client(&sim, "org-a"), client(&sim, "org-b"));
    let dir = tempfile::tempdir().unwrap();
    let component = LargeComponent::new(24 * 1024 * 1024 + 7, 5);
    let path = dir.path().join("grande.pdf");
    std::io::copy(
        &mut component.reader(),
        &mut std::fs::File::create(&path).unwrap(),
    )
    .unwrap();
    let (hash, size) = hash_reader(component.reader()).unwrap();
    let hash = hash.to_base64();
    let mut body = envio(processo("processo-simples"), ORG_A, ORG_B, None);
    let c = &mut body.processo.documentos[0].componentes_digitais[0];
    c.nome = Some("grande.pdf".into());
    c.hash = Some(pen_protocol::model::Hash::sha256(hash.clone()));
    c.tamanho_em_bytes = Some(size);
    c.mime_type = Some("application/pdf".into());
    let options = TransferOptions {
        block: 4 * 1024 * 1024,
        whole_below: 4 * 1024 * 1024,
    };
    let source = FileSource(HashMap::from([(hash.clone(), path)]));
    let sent = flows::send_process(&a, &body, &source, options)
        .await
        .unwrap();
    let mut sink = FileSink::new(dir.path().join("recebidos"));
    flows::receive(&b, sent.created.idt, &mut sink, options)
        .await
        .unwrap()
        .unwrap();
    drop(sink);
    let written =
        std::fs::File::open(FileSink::new(dir.path().join("recebidos")).path_of(&hash)).unwrap();
    assert_eq!(hash_reader(written).unwrap().0.to_base64(), hash);
}
