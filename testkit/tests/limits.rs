//! Body limits (`simulator/src/config.rs` `Limits`) and a component of several MiB moved in
//! parts of 1 MiB both ways, hashed while it streams instead of held whole.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use pen_fixtures::generated::LargeComponent;
use pen_protocol::api::{IdentificacaoDeComponente, Recusa, TramiteDeProcessoCriado};
use pen_protocol::hash::{hash_reader, ComponentHasher};
use pen_protocol::model::{Hash, Processo};
use pen_protocol::ranges::PartRange;
use pen_protocol::situacao::Situacao;
use pen_protocol::tables::MotivoRecusa;
use pen_simulator::config::{Limits, PlatformConfig};
use pen_testkit::sim::{spawn_simulator_with, Api, Reply};
use pen_testkit::{https_client_http1, TestIdentity};

use crate::common::{envio, post_recibo, processo, situacao, ORG_A, ORG_B};

const MIB: u64 = 1024 * 1024;

fn limited(limits: Limits) -> PlatformConfig {
    PlatformConfig {
        limits,
        ..PlatformConfig::default()
    }
}

fn assert_too_large(reply: &Reply, limit: u64, what: &str) {
    assert_eq!(reply.status, 413, "{what}: {}", reply.text());
    assert!(
        reply.content_type.starts_with("application/json"),
        "{what}: {}",
        reply.content_type
    );
    let e = reply.error();
    assert_eq!(e.codigo_erro, "9108", "{what}: {}", e.mensagem);
    assert_eq!(
        e.parametro("limite"),
        Some(limit.to_string().as_str()),
        "{what}"
    );
}

#[tokio::test]
async fn json_body_over_the_limit_is_413_9108_on_a_live_connection() {
    const LIMIT: usize = 2 * 1024;
    let sim = spawn_simulator_with(limited(Limits {
        max_json_body: LIMIT,
        ..Limits::default()
    }))
    .await;
    let negotiated = sim.org("org-a");
    let http1 = Api {
        http: https_client_http1(&TestIdentity::org("org-a")),
        base: sim.base_url.clone(),
    };
    let body = envio(processo("processo-varios-documentos"), ORG_A, ORG_B, None);
    assert!(serde_json::to_vec(&body).unwrap().len() > LIMIT);
    let mut huge = body.clone();
    huge.processo.descricao = Some("x".repeat(256 * 1024));

    for (name, api) in [("h2 or http/1.1", &negotiated), ("http/1.1", &http1)] {
        for (size, envio) in [("small excess", &body), ("256 KiB", &huge)] {
            let reply = api.post_json("tramites/processo", envio).await;
            assert_too_large(&reply, LIMIT as u64, &format!("{name}, {size}"));
            // The same client goes on (the connection was answered, not reset).
            let pendentes = api.get("tramites/pendentes").await;
            assert_eq!(pendentes.status, 200, "{name}: {}", pendentes.text());
        }
        // A body under the limit is read and judged on its content.
        let recusa = Recusa {
            justificativa: "curta".to_owned(),
            motivo: MotivoRecusa::Outro,
        };
        let e = api
            .post_json("tramites/999999/recusa", &recusa)
            .await
            .error();
        assert_eq!(e.codigo_erro, "9100", "{name}: {}", e.mensagem);
    }
    assert!(
        sim.org("org-b")
            .get("tramites?situacaoAtual=1")
            .await
            .json::<pen_protocol::api::ConsultaDeTramites>()
            .tramites
            .is_empty(),
        "nothing was opened"
    );
}

/// processo-simples with its single component replaced by a generated one.
fn with_component(component: &LargeComponent, hash: &str) -> Processo {
    let mut p = processo("processo-simples");
    assert_eq!(p.documentos.len(), 1);
    assert_eq!(p.documentos[0].componentes_digitais.len(), 1);
    let c = &mut p.documentos[0].componentes_digitais[0];
    c.nome = Some("grande.pdf".to_owned());
    c.hash = Some(Hash::sha256(hash));
    c.tamanho_em_bytes = Some(component.size());
    c.mime_type = Some("application/pdf".to_owned());
    p
}

#[tokio::test]
async fn several_mib_in_parts_of_1_mib_both_ways_and_a_larger_part_refused() {
    let sim = spawn_simulator_with(limited(Limits {
        max_part_bytes: MIB,
        ..Limits::default()
    }))
    .await;
    let (a, b) = (sim.org("org-a"), sim.org("org-b"));
    let component = LargeComponent::new(8 * MIB + 12_345, 2025);
    let (hash, size) = hash_reader(component.reader()).unwrap();
    assert_eq!(size, component.size());
    let hash = hash.to_base64();

    let created: TramiteDeProcessoCriado = a
        .post_json(
            "tramites/processo",
            &envio(with_component(&component, &hash), ORG_A, ORG_B, None),
        )
        .await
        .json();
    let solicitado = &created.processos_com_componentes_digitais_solicitados[0];
    assert_eq!(solicitado.hashes, [hash.as_str()]);
    let protocolo = solicitado.protocolo.clone();
    let base = format!(
        "tickets-de-envio-de-componente/{}/protocolos/componentes-a-enviar",
        created.ticket_para_envio_de_componentes_digitais
    );

    // One byte more than the part limit is refused, cleanly.
    let too_big = a
        .put_component(
            &format!("{base}/partes/0-{}", MIB + 1),
            component.bytes_at(0..MIB + 1),
            &hash,
            &protocolo,
        )
        .await;
    assert_too_large(&too_big, MIB, "part of 1 MiB + 1");

    let parts: Vec<PartRange> = PartRange::split(size, MIB).collect();
    assert_eq!(parts.len(), 9);
    for part in &parts {
        a.put_component(
            &format!("{base}/partes/{part}"),
            component.bytes_at(part.inicio..part.fim),
            &hash,
            &protocolo,
        )
        .await
        .ok();
    }
    let signal = IdentificacaoDeComponente {
        hash_do_componente_digital: hash.clone(),
        protocolo: protocolo.clone(),
    };
    a.post_json(&format!("{base}/partes/sinalizacao-termino-envio"), &signal)
        .await
        .ok();
    let idt = created.idt;
    assert_eq!(
        situacao(&a, idt).await,
        Situacao::ComponentesEnviadosRemetente
    );

    // The recipient downloads in parts of 1 MiB and hashes as it goes.
    b.get(&format!("tramites/{idt}")).await.ok();
    let mut hasher = ComponentHasher::new();
    for part in &parts {
        let reply = b
            .post_json(
                &format!("tramites/{idt}/protocolos/componentes-digitais/partes/{part}"),
                &signal,
            )
            .await;
        assert!(
            reply.content_type.starts_with("text/plain"),
            "{}",
            reply.content_type
        );
        let bytes = STANDARD.decode(&reply.body).unwrap();
        assert_eq!(bytes.len() as u64, part.len(), "part {part}");
        hasher.update(&bytes);
    }
    assert_eq!(hasher.len(), size);
    assert_eq!(hasher.finish().to_base64(), hash, "identical bytes");
    assert_eq!(
        situacao(&b, idt).await,
        Situacao::ComponentesRecebidosDestinatario
    );
    post_recibo(&b, idt, "org-b").await.ok();
    assert_eq!(situacao(&a, idt).await, Situacao::ReciboEnviadoDestinatario);
}

/// Peak resident memory of this process, from `/proc/self/status` (Linux).
fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// A component of hundreds of MiB crosses the simulator both ways without being held in memory
/// anywhere: the reference client uploads it in 32 MiB parts from a generator, the simulator
/// serves it once whole as one streamed base64 body (hashed on the fly here), then the reference
/// client receives it in 32 MiB parts into a file, checks its hash, and signs the recibo.
#[tokio::test]
async fn hundreds_of_mib_cross_with_bounded_memory() {
    use futures_util::StreamExt as _;
    use pen_client::flows::{self, FileSink, TransferOptions};
    use pen_client::samples::SampleSource;

    const SIZE: u64 = 320 * MIB;
    let sim = pen_testkit::sim::spawn_simulator().await;
    let b = sim.org("org-b");
    let component = LargeComponent::new(SIZE, 77);
    let (hash, _) = hash_reader(component.reader()).unwrap();
    let hash = hash.to_base64();
    let before = peak_rss_bytes();
    let options = TransferOptions {
        block: 32 * MIB,
        whole_below: 32 * MIB,
    };

    let mut source = SampleSource::default();
    source.generated.insert(hash.clone(), component);
    let envelope = envio(with_component(&component, &hash), ORG_A, ORG_B, None);
    let sent = flows::send_process(
        &pen_testkit::agents::client(&sim, "org-a"),
        &envelope,
        &source,
        options,
    )
    .await
    .unwrap();
    assert_eq!(sent.uploaded, std::slice::from_ref(&hash));
    let idt = sent.created.idt;
    let protocolo = sent.created.processos_com_componentes_digitais_solicitados[0]
        .protocolo
        .clone();

    // The whole component as one body: the simulator streams it.
    b.get(&format!("tramites/{idt}")).await.ok();
    let signal = IdentificacaoDeComponente {
        hash_do_componente_digital: hash.clone(),
        protocolo,
    };
    let response = b
        .http
        .post(format!(
            "{}tramites/{idt}/protocolos/componentes-digitais",
            sim.base_url
        ))
        .json(&signal)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let mut stream = response.bytes_stream();
    let (mut pending, mut hasher) = (Vec::new(), ComponentHasher::new());
    while let Some(chunk) = stream.next().await {
        pending.extend_from_slice(&chunk.unwrap());
        let whole = pending.len() / 4 * 4;
        hasher.update(&STANDARD.decode(&pending[..whole]).unwrap());
        pending.drain(..whole);
    }
    assert!(pending.is_empty());
    assert_eq!(hasher.len(), SIZE);
    assert_eq!(hasher.finish().to_base64(), hash);
    assert_eq!(
        situacao(&b, idt).await,
        Situacao::ComponentesRecebidosDestinatario
    );

    // The reference client's reception: parts into a file, hash checked, recibo signed.
    let dir = tempfile::tempdir().unwrap();
    let mut sink = FileSink::new(dir.path());
    let received = flows::receive(
        &pen_testkit::agents::client(&sim, "org-b"),
        idt,
        &mut sink,
        options,
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(received.hashes, std::slice::from_ref(&hash));
    let (on_disk, len) = hash_reader(std::fs::File::open(sink.path_of(&hash)).unwrap()).unwrap();
    assert_eq!((on_disk.to_base64(), len), (hash, SIZE));
    assert_eq!(situacao(&b, idt).await, Situacao::ReciboEnviadoDestinatario);

    if let (Some(before), Some(after)) = (before, peak_rss_bytes()) {
        // One 32 MiB part (and its base64) in the client's hands at a time, plus buffers: below
        // the 320 MiB the component weighs (and the 427 MiB of its base64), with room for the
        // other tests that run in this process at the same time.
        let growth = after.saturating_sub(before);
        assert!(
            growth < 256 * MIB,
            "peak memory grew by {} MiB",
            growth / MIB
        );
    }
}
