//! The reference client (`pen_client::Client`) against the simulator over real mutual TLS: every
//! flow driven only through its typed methods, and its error classification (TLS, transport,
//! platform) on the committed negative identities.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use pen_client::{Client, ClientConfig, Error, EstruturaQuery, Identity, TramiteFilter};
use pen_protocol::api::{
    EnvioDeReciboDeTramite, Pendencia, Recusa, Tramite, TramiteDeProcessoCriado,
};
use pen_protocol::datetime;
use pen_protocol::hash::hash_bytes;
use pen_protocol::ids::{Idt, Nre};
use pen_protocol::ranges::PartRange;
use pen_protocol::receipt::ReciboDeConclusao;
use pen_protocol::situacao::Situacao;
use pen_protocol::tables::MotivoRecusa;
use pen_testkit::sim::{spawn_simulator, TestSimulator};

use crate::common::{bytes_of, envio, processo, unit, ORG_A, ORG_B};

/// A file of the committed test PKI, relative to `certs/`.
fn pki_file(relative: &str) -> Vec<u8> {
    let path = pen_testkit::certs_dir().join(relative);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A reference client for `base_url` presenting `identity` and trusting only `ca` (both
/// relative to `certs/`), with timeouts short enough for a test.
fn client_with(base_url: &str, identity: &str, ca: &str) -> Client {
    let identity = Identity::from_pem(&pki_file(identity)).unwrap();
    let mut config = ClientConfig::new(base_url, pki_file(ca), identity);
    config.timeout = Duration::from_secs(30);
    config.connect_timeout = Duration::from_secs(5);
    Client::new(config).unwrap()
}

/// The reference client of an organisation of the test PKI (`"org-a"`).
fn org_client(sim: &TestSimulator, org: &str) -> Client {
    client_with(&sim.base_url, &format!("orgs/{org}/identity.pem"), "ca.pem")
}

/// The trâmite as `GET tramites?IDT=` shows it to `client`.
async fn tramite(client: &Client, idt: Idt) -> Tramite {
    let filter = TramiteFilter {
        idt: Some(idt),
        ..TramiteFilter::default()
    };
    let mut found = client.tramites(&filter).await.unwrap().tramites;
    assert_eq!(found.len(), 1, "{found:?}");
    found.remove(0)
}

/// org-a opens a trâmite of a sample process towards org-b's main unit.
async fn open(a: &Client, name: &str) -> TramiteDeProcessoCriado {
    a.open_process(&envio(processo(name), ORG_A, ORG_B, None))
        .await
        .unwrap()
}

/// Uploads every requested component whole; a hash also listed under an apensado's entry goes
/// with that apensado's protocol (as `common::upload`).
async fn upload_all(a: &Client, created: &TramiteDeProcessoCriado) {
    let solicitados = &created.processos_com_componentes_digitais_solicitados;
    for hash in &solicitados[0].hashes {
        let owner = solicitados
            .iter()
            .rev()
            .find(|s| s.hashes.contains(hash))
            .unwrap_or(&solicitados[0]);
        a.upload_component(
            created.ticket_para_envio_de_componentes_digitais,
            hash,
            &owner.protocolo,
            bytes_of(hash),
        )
        .await
        .unwrap();
    }
}

/// Downloads every pending component in parts of `block` bytes, checking each hash; returns the
/// trâmite as read before the downloads.
async fn download_all(b: &Client, idt: Idt, block: u64) -> Tramite {
    let t = tramite(b, idt).await;
    for hash in &t.hash_dos_componentes_pendentes_de_recebimento {
        let size = bytes_of(hash).len() as u64;
        let mut got = Vec::new();
        for part in PartRange::split(size, block) {
            got.extend(
                b.download_part(idt, part, hash, &t.protocolo)
                    .await
                    .unwrap(),
            );
        }
        assert_eq!(hash_bytes(&got).to_base64(), *hash, "bytes of {hash}");
    }
    t
}

/// The recibo de conclusão as the SEI module builds it (the status-4 time, UTC, `.000Z`),
/// signed with the client's own mTLS key, then posted.
async fn send_recibo(b: &Client, idt: Idt) {
    let t = tramite(b, idt).await;
    assert_eq!(t.situacao_atual, Situacao::ComponentesRecebidosDestinatario);
    let at = t
        .reached(Situacao::ComponentesRecebidosDestinatario)
        .expect("status 4 in mudancasDeSituacao")
        .parse()
        .unwrap();
    let data = datetime::format_receipt_date(at);
    assert!(data.ends_with(".000Z"), "{data}");
    let recibo = ReciboDeConclusao {
        idt,
        nre: t.nre.clone(),
        data_de_recebimento: data.clone(),
        hashes: t.hash_dos_componentes_pendentes_de_recebimento.clone(),
    };
    let signer = b.identity().receipt_signer().unwrap();
    let body = EnvioDeReciboDeTramite {
        data_de_recebimento: data,
        hash_da_assinatura: recibo.sign(&signer).unwrap(),
    };
    b.post_receipt(idt, &body).await.unwrap();
}

/// A→B to situação 6 through the client only; returns the IDT and NRE.
async fn complete(a: &Client, b: &Client, name: &str) -> (Idt, Nre) {
    let created = open(a, name).await;
    let idt = created.idt;
    upload_all(a, &created).await;
    b.metadata(idt).await.unwrap();
    download_all(b, idt, 1 << 20).await;
    send_recibo(b, idt).await;
    a.receipt(idt).await.unwrap();
    assert_eq!(
        tramite(a, idt).await.situacao_atual,
        Situacao::ReciboRecebidoRemetente
    );
    (idt, created.nre)
}

fn platform_code(e: &Error) -> &str {
    e.rejection()
        .map_or_else(|| panic!("not a platform error: {e}"), |b| &b.codigo_erro)
}

#[tokio::test]
async fn client_drives_a_whole_process_trâmite() {
    let sim = spawn_simulator().await;
    let (a, b) = (org_client(&sim, "org-a"), org_client(&sim, "org-b"));

    // Sender: open, one component whole, the others in parts and the end-of-parts signal.
    let created = open(&a, "processo-varios-documentos").await;
    let idt = created.idt;
    let ticket = created.ticket_para_envio_de_componentes_digitais;
    let protocolo = created.processos_com_componentes_digitais_solicitados[0]
        .protocolo
        .clone();
    let requested = created.processos_com_componentes_digitais_solicitados[0]
        .hashes
        .clone();
    assert!(requested.len() >= 3, "{requested:?}");
    assert_eq!(tramite(&a, idt).await.situacao_atual, Situacao::Iniciado);

    a.upload_component(ticket, &requested[0], &protocolo, bytes_of(&requested[0]))
        .await
        .unwrap();
    let early = a.sending_receipt(idt).await.unwrap_err();
    assert!(early.rejection().is_some(), "{early}");
    for hash in &requested[1..] {
        let bytes = bytes_of(hash);
        for part in PartRange::split(bytes.len() as u64, 100) {
            let chunk = bytes[part.inicio as usize..part.fim as usize].to_vec();
            a.upload_part(ticket, part, hash, &protocolo, chunk)
                .await
                .unwrap();
        }
        a.finish_parts(ticket, hash, &protocolo).await.unwrap();
    }

    // The platform's recibo de envio lists every hash and verifies with its certificate.
    let envio_recibo = a.sending_receipt(idt).await.unwrap();
    let recibo_de_envio = &envio_recibo.recibo_de_envio;
    assert_eq!(
        (recibo_de_envio.idt, &recibo_de_envio.nre),
        (idt, &created.nre)
    );
    let listed: BTreeSet<&String> = recibo_de_envio
        .hashes_dos_componentes_digitais
        .iter()
        .collect();
    assert_eq!(listed, requested.iter().collect());
    envio_recibo.verify().unwrap();

    // Recipient: pendency 2, metadata (→ 3), downloads in parts (→ 4), signed recibo (→ 5).
    assert_eq!(
        b.pending(true).await.unwrap(),
        [Pendencia {
            idt,
            status: Situacao::ComponentesEnviadosRemetente
        }]
    );
    let metadados = b.metadata(idt).await.unwrap();
    assert_eq!(metadados.nre.as_ref(), Some(&created.nre));
    assert_eq!(
        metadados.processo.unwrap().documentos.len(),
        processo("processo-varios-documentos").documentos.len()
    );
    let before = download_all(&b, idt, 64).await;
    assert_eq!(
        before.situacao_atual,
        Situacao::MetadadosRecebidoDestinatario
    );
    assert_eq!(
        before.hash_dos_componentes_pendentes_de_recebimento,
        requested
    );
    send_recibo(&b, idt).await;
    assert_eq!(
        a.pending(true).await.unwrap(),
        [Pendencia {
            idt,
            status: Situacao::ReciboEnviadoDestinatario
        }]
    );

    // Sender fetches the recibo de conclusão (→ 6) and can verify org-b's signature.
    let recibo = a.receipt(idt).await.unwrap();
    assert_eq!((recibo.recibo.idt, &recibo.recibo.nre), (idt, &created.nre));
    recibo.verify().unwrap();
    let t = tramite(&a, idt).await;
    assert_eq!(t.situacao_atual, Situacao::ReciboRecebidoRemetente);
    let codes: Vec<u8> = t
        .mudancas_de_situacao
        .iter()
        .map(|m| m.situacao.code())
        .collect();
    assert_eq!(codes, [1, 2, 3, 4, 5, 6]);
    assert!(a.pending(true).await.unwrap().is_empty());
}

#[tokio::test]
async fn client_reads_the_catalogue() {
    let sim = spawn_simulator().await;
    let a = org_client(&sim, "org-a");
    a.healthcheck().await.unwrap();

    let ids: Vec<u64> = a
        .repositorios(true)
        .await
        .unwrap()
        .iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(ids, [1, 5], "the inactive repository 49 is left out");
    assert_eq!(a.repositorios(false).await.unwrap().len(), 3);

    let coprot = a.estrutura(1, "152256").await.unwrap();
    assert_eq!(coprot.numero_de_identificacao_da_estrutura, "152256");
    assert_eq!(coprot.sigla, "COPROT-ORGABC");
    let chain: Vec<&str> = coprot
        .hierarquia
        .iter()
        .map(|h| h.numero_de_identificacao_da_estrutura.as_str())
        .collect();
    assert_eq!(chain, ["152254", "152255"]);
    let unknown = a.estrutura(1, "999999").await.unwrap_err();
    assert_eq!(
        (platform_code(&unknown), unknown.status()),
        ("0055", Some(404))
    );

    let query = EstruturaQuery {
        nome: Some("protocolo".to_owned()),
        ..EstruturaQuery::default()
    };
    let found = a.estruturas(1, &query).await.unwrap();
    let mut ids: Vec<&str> = found
        .estruturas
        .iter()
        .map(|e| e.numero_de_identificacao_da_estrutura.as_str())
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, ["152256", "159099"]);
    assert_eq!(found.total_de_registros, 2);

    let especies = a.especies().await.unwrap();
    assert_eq!(especies.especies.len(), 187);
    assert!(especies
        .especies
        .iter()
        .any(|e| e.codigo == 42 && e.nome_no_produtor == "Despacho"));

    let active = a.hipoteses(Some(true)).await.unwrap();
    assert_eq!(active.hipoteses_legais.len(), 24);
    assert!(active.hipoteses_legais.iter().all(|h| h.status));
    assert_eq!(a.hipoteses(None).await.unwrap().hipoteses_legais.len(), 25);

    let motivos = a.motivos_urgencia().await.unwrap();
    assert_eq!(motivos.motivos_urgencia.len(), 5);
    assert_eq!(
        motivos.motivos_urgencia[0].descricao,
        "Hipótese de prioridade prevista em lei"
    );
}

#[tokio::test]
async fn client_refuses_acknowledges_and_cancels() {
    let sim = spawn_simulator().await;
    let (a, b) = (org_client(&sim, "org-a"), org_client(&sim, "org-b"));

    // Refusal (motivo 02) at situação 3, then the sender's ciência (→ 9).
    let created = open(&a, "processo-simples").await;
    let idt = created.idt;
    upload_all(&a, &created).await;
    b.metadata(idt).await.unwrap();
    let recusa = Recusa {
        justificativa: "Componente digital ilegível no destino.".to_owned(),
        motivo: MotivoRecusa::ComponenteCorrompido,
    };
    b.refuse(idt, &recusa).await.unwrap();
    assert_eq!(
        a.pending(true).await.unwrap(),
        [Pendencia {
            idt,
            status: Situacao::Recusado
        }]
    );
    let t = tramite(&a, idt).await;
    assert_eq!(t.motivo_da_recusa, Some(MotivoRecusa::ComponenteCorrompido));
    assert_eq!(
        t.justificativa_da_recusa.as_deref(),
        Some(recusa.justificativa.as_str())
    );
    a.acknowledge_refusal(idt).await.unwrap();
    let t = tramite(&a, idt).await;
    assert_eq!(t.situacao_atual, Situacao::CienciaRecusa);
    assert_eq!(t.situacao_atual.code(), 9);

    // Cancel at situação 1 (→ 7); a second cancel is refused with 9102 / 409.
    let created = open(&a, "processo-simples").await;
    let idt = created.idt;
    assert_eq!(tramite(&a, idt).await.situacao_atual, Situacao::Iniciado);
    a.cancel(idt).await.unwrap();
    let t = tramite(&a, idt).await;
    assert_eq!(t.situacao_atual, Situacao::Cancelado);
    assert_eq!(t.situacao_atual.code(), 7);
    let again = a.cancel(idt).await.unwrap_err();
    assert!(matches!(again, Error::Platform { .. }), "{again:?}");
    assert_eq!(platform_code(&again), "9102", "{again}");
    assert_eq!(again.status(), Some(409));
}

#[tokio::test]
async fn client_reproduces_a_completed_trâmite() {
    let sim = spawn_simulator().await;
    let (a, b) = (org_client(&sim, "org-a"), org_client(&sim, "org-b"));
    let (first, nre) = complete(&a, &b, "processo-varios-documentos").await;

    let again = b
        .reproduce(&nre, &unit(ORG_B))
        .await
        .unwrap()
        .tramite_de_processo_criado;
    assert_eq!(again.nre, nre);
    assert_ne!(again.idt, first);
    assert!(!again.processos_com_componentes_digitais_solicitados[0]
        .hashes
        .is_empty());
    // The original sender sees it as pendência 1.
    assert_eq!(
        a.pending(true).await.unwrap(),
        [Pendencia {
            idt: again.idt,
            status: Situacao::Iniciado
        }]
    );
    // A second request while this one is open: 0044.
    let busy = b.reproduce(&nre, &unit(ORG_B)).await.unwrap_err();
    assert_eq!(platform_code(&busy), "0044", "{busy}");
}

/// One call with each identity or trust the simulator's handshake refuses: an expired client
/// certificate, a client certificate of a foreign CA, and a client that trusts a foreign CA for
/// the server.
async fn handshake_refusals(sim: &TestSimulator) -> Vec<(&'static str, Error)> {
    let cases = [
        (
            "expired identity",
            "negative/expired/identity.pem",
            "ca.pem",
        ),
        (
            "identity of a foreign CA",
            "negative/foreign-ca/identity.pem",
            "ca.pem",
        ),
        (
            "server CA not trusted",
            "orgs/org-a/identity.pem",
            "negative/foreign-ca/ca.pem",
        ),
    ];
    let mut out = Vec::new();
    for (case, identity, ca) in cases {
        let client = client_with(&sim.base_url, identity, ca);
        out.push((case, client.pending(true).await.unwrap_err()));
    }
    out
}

#[tokio::test]
async fn client_tells_tls_transport_and_platform_errors_apart() {
    let sim = spawn_simulator().await;

    // Refused in the handshake (either side): no answer, the cause named in the whole chain.
    for (case, e) in handshake_refusals(&sim).await {
        assert!(!matches!(e, Error::Platform { .. }), "{case}: {e:?}");
        assert!(!e.is_timeout(), "{case}: {e}");
        assert_eq!(e.status(), None, "{case}");
        let text = e.to_string().to_lowercase();
        assert!(
            text.contains("certificate") || text.contains("alert"),
            "{case}: the chain names the cause: {e}"
        );
        assert!(text.contains(" → "), "{case}: the whole source chain: {e}");
    }

    // Through TLS, unknown to the platform: its 9001 answer.
    let unregistered = client_with(
        &sim.base_url,
        "negative/unregistered/identity.pem",
        "ca.pem",
    );
    let e = unregistered.pending(true).await.unwrap_err();
    assert!(!e.is_tls(), "{e}");
    assert!(matches!(e, Error::Platform { .. }), "{e:?}");
    assert_eq!(platform_code(&e), "9001", "{e}");

    // Nobody listening: a transport failure, not TLS.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let nowhere = client_with(
        &format!("https://127.0.0.1:{closed}{}", pen_protocol::BASE_PATH),
        "orgs/org-a/identity.pem",
        "ca.pem",
    );
    let e = nowhere.healthcheck().await.unwrap_err();
    assert!(!e.is_tls(), "{e:?}");
    assert!(matches!(e, Error::Transport { .. }), "{e:?}");
}

#[tokio::test]
async fn client_classifies_handshake_refusals_as_tls() {
    let sim = spawn_simulator().await;
    for (case, e) in handshake_refusals(&sim).await {
        assert!(e.is_tls(), "{case}: not classified as TLS: {e:?}");
    }
}

/// `https://127.0.0.1:PORT/interoperabilidade/pendencias/` of a simulator.
fn legacy_long_poll_url(sim: &TestSimulator) -> String {
    let origin = sim
        .base_url
        .split("/interoperabilidade/")
        .next()
        .unwrap()
        .to_owned();
    format!("{origin}/interoperabilidade/pendencias/")
}

#[tokio::test]
async fn client_legacy_long_poll_finds_a_pending_trâmite() {
    let sim = spawn_simulator().await;
    let (a, b) = (org_client(&sim, "org-a"), org_client(&sim, "org-b"));
    let created = open(&a, "processo-simples").await;
    upload_all(&a, &created).await;

    let got = b.long_poll(&legacy_long_poll_url(&sim), 0).await.unwrap();
    assert!(got.encontrou, "{got:?}");
    assert_eq!(
        (got.idt, got.status),
        (
            Some(created.idt),
            Some(Situacao::ComponentesEnviadosRemetente)
        )
    );
}

#[tokio::test]
async fn client_wait_pending_wakes_when_a_trâmite_is_sent() {
    let sim = spawn_simulator().await;
    let (a, b) = (org_client(&sim, "org-a"), org_client(&sim, "org-b"));
    let started = Instant::now();
    let waiter = tokio::spawn(async move { b.wait_pending(5).await });
    // The waiter is parked before anything is sent, so only the send can wake it.
    while sim.state.platform.long_poll_waiters() < 1 {
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "the waiter never parked"
        );
        tokio::task::yield_now().await;
    }
    let created = open(&a, "processo-simples").await;
    upload_all(&a, &created).await;
    let got = waiter.await.unwrap().unwrap();
    assert_eq!(
        got,
        [Pendencia {
            idt: created.idt,
            status: Situacao::ComponentesEnviadosRemetente
        }]
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "woken by the send, not by the 5 s hold: {:?}",
        started.elapsed()
    );
}
