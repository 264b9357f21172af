//! Uploads, end to end over mutual TLS: a component is readable before the feed shows its
//! trâmite (a recipient that downloads the instant it is told never finds it missing), a refused
//! acceptance takes back the bytes it added and never another trâmite's, and an upload over
//! HTTP/2 is read whole whatever the moment its frames reach the handler.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use bytes::Bytes;
use futures_util::StreamExt as _;
use pen_protocol::api::{IdentificacaoDeComponente, Pendencia, TramiteDeProcessoCriado};
use pen_protocol::hash::ComponentHash;
use pen_protocol::ids::Idt;
use pen_protocol::situacao::Situacao;
use pen_simulator::runtime::{Simulator, SimulatorOptions};
use pen_simulator::server::Server;
use pen_testkit::sim::{spawn_simulator, Api, Reply, TestSimulator};
use pen_testkit::{certs_dir, https_client, test_pki, TestIdentity};

use crate::common::{bytes_of, complete, envio, open, processo, ORG_A, ORG_B};

/// The one component of a freshly opened trâmite: (hash, protocolo, bytes).
fn only_component(created: &TramiteDeProcessoCriado) -> (String, String, Vec<u8>) {
    let solicitados = &created.processos_com_componentes_digitais_solicitados;
    let hash = solicitados[0].hashes[0].clone();
    let owner = solicitados
        .iter()
        .rev()
        .find(|s| s.hashes.contains(&hash))
        .unwrap_or(&solicitados[0]);
    let bytes = bytes_of(&hash);
    (hash, owner.protocolo.clone(), bytes)
}

fn upload_path(created: &TramiteDeProcessoCriado) -> String {
    format!(
        "tickets-de-envio-de-componente/{}/protocolos/componentes-a-enviar",
        created.ticket_para_envio_de_componentes_digitais
    )
}

/// The whole component as the recipient downloads it: the reply, and its bytes when it is one.
async fn download(api: &Api, idt: Idt, hash: &str, protocolo: &str) -> (Reply, Vec<u8>) {
    let body = IdentificacaoDeComponente {
        hash_do_componente_digital: hash.to_owned(),
        protocolo: protocolo.to_owned(),
    };
    let reply = api
        .post_json(
            &format!("tramites/{idt}/protocolos/componentes-digitais"),
            &body,
        )
        .await;
    let bytes = STANDARD.decode(reply.text()).unwrap_or_default();
    (reply, bytes)
}

/// org-a opens a trâmite of processo-simples under another protocol: a process of its own, whose
/// despacho is the same file.
async fn open_another(a: &Api) -> TramiteDeProcessoCriado {
    let mut outro = processo("processo-simples");
    outro.protocolo = Some("00394.000999/2025-11".into());
    a.post_json("tramites/processo", &envio(outro, ORG_A, ORG_B, None))
        .await
        .json()
}

/// Starts the upload of a trâmite's only component on its own task.
fn spawn_upload(a: &Api, created: &TramiteDeProcessoCriado) -> tokio::task::JoinHandle<Reply> {
    let (hash, protocolo, bytes) = only_component(created);
    let (a, path) = (a.clone(), upload_path(created));
    tokio::spawn(async move { a.put_component(&path, bytes, &hash, &protocolo).await })
}

/// Waits, without sleeping, until `parked` long-polls are held by the platform.
async fn until_parked(sim: &TestSimulator, parked: usize) {
    let started = Instant::now();
    while sim.state.platform.long_poll_waiters() < parked {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the long-poll never parked"
        );
        tokio::task::yield_now().await;
    }
}

#[tokio::test]
async fn what_the_feed_shows_can_be_downloaded_at_once() {
    let sim = spawn_simulator().await;
    let (a, b) = (sim.org("org-a"), sim.org("org-b"));
    let created = open(&a, "processo-simples").await;
    let (hash, protocolo, bytes) = only_component(&created);

    // The last component is staged and hashed; its commit waits here.
    let hold = sim.state.blobs.hold_commits();
    let upload = spawn_upload(&a, &created);
    hold.reached(1).await;

    // Whatever the feed shows now, its component must download.
    let shown: Vec<Pendencia> = b.get("tramites/pendentes?todas=true").await.json();
    for pendencia in &shown {
        let (reply, got) = download(&b, pendencia.idt, &hash, &protocolo).await;
        assert_eq!(
            reply.status,
            200,
            "the feed shows trâmite {} in situação {:?} and its component answers {}",
            pendencia.idt,
            pendencia.status,
            reply.text()
        );
        assert_eq!(got, bytes);
    }
    assert!(shown.is_empty(), "{shown:?}");

    // A recipient long-polling downloads the instant the pendência appears.
    let recipient = tokio::spawn({
        let (b, hash, protocolo) = (b.clone(), hash.clone(), protocolo.clone());
        async move {
            let woken: Vec<Pendencia> = b
                .get("tramites/pendentes?todas=true&aguardar=30")
                .await
                .json();
            let idt = woken.first().expect("woken by a pendência").idt;
            (idt, download(&b, idt, &hash, &protocolo).await)
        }
    });
    until_parked(&sim, 1).await;
    hold.release();
    upload.await.unwrap().ok();
    let (idt, (reply, got)) = recipient.await.unwrap();
    assert_eq!(idt, created.idt);
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(got, bytes);
}

/// Opens a trâmite and cancels it while the upload of its only component waits at the commit:
/// the acceptance after the commit is refused. Returns the component's hash.
async fn refused_after_commit(
    sim: &TestSimulator,
    created: &TramiteDeProcessoCriado,
) -> ComponentHash {
    let a = sim.org("org-a");
    let (hash, _, _) = only_component(created);
    let hold = sim.state.blobs.hold_commits();
    let upload = spawn_upload(&a, created);
    hold.reached(1).await;
    a.delete(&format!("tramites/{}", created.idt)).await.ok();
    hold.release();
    let refused = upload.await.unwrap();
    assert!(
        refused.status >= 400,
        "{} {}",
        refused.status,
        refused.text()
    );
    assert_eq!(
        sim.state.platform.situacao(created.idt),
        Some(Situacao::Cancelado)
    );
    ComponentHash::from_base64(&hash).unwrap()
}

#[tokio::test]
async fn a_refused_acceptance_takes_back_the_bytes_it_added() {
    let sim = spawn_simulator().await;
    let created = open(&sim.org("org-a"), "processo-simples").await;
    let hash = refused_after_commit(&sim, &created).await;
    assert!(!sim.state.blobs.contains(&hash), "the refused bytes stayed");
}

#[tokio::test]
async fn a_refused_acceptance_leaves_another_tramites_bytes() {
    let sim = spawn_simulator().await;
    let (first, _) = complete(&sim, "processo-simples").await;
    let another = open_another(&sim.org("org-a")).await;
    let shared = refused_after_commit(&sim, &another).await;
    assert!(sim.state.blobs.contains(&shared));
    let t = crate::common::tramite(&sim.org("org-b"), first).await;
    let (reply, got) = download(
        &sim.org("org-b"),
        first,
        &t.hash_dos_componentes_pendentes_de_recebimento[0],
        &t.protocolo,
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(got, bytes_of(&shared.to_base64()));
}

#[tokio::test]
async fn a_refused_acceptance_leaves_bytes_another_upload_is_committing() {
    let sim = spawn_simulator().await;
    let a = sim.org("org-a");
    let refused = open(&a, "processo-simples").await;
    let kept = open_another(&a).await;
    let hold = sim.state.blobs.hold_commits();
    let first = spawn_upload(&a, &refused);
    hold.reached(1).await;
    a.delete(&format!("tramites/{}", refused.idt)).await.ok();
    // The same bytes for another trâmite, committing at the same time as the refused ones.
    let second = spawn_upload(&a, &kept);
    hold.reached(2).await;
    hold.release();
    assert!(first.await.unwrap().status >= 400);
    second.await.unwrap().ok();
    let (hash, protocolo, bytes) = only_component(&kept);
    assert!(sim
        .state
        .blobs
        .contains(&ComponentHash::from_base64(&hash).unwrap()));
    let b = sim.org("org-b");
    let (reply, got) = download(&b, kept.idt, &hash, &protocolo).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(got, bytes);
}

// ---------------------------------------------------------------------- HTTP/2 request bodies

/// Hands the routes each upload body as a handler can meet it over HTTP/2, where a request is
/// dispatched on its HEADERS frame: the first read finds nothing yet, the next finds every DATA
/// frame and END_STREAM at once. (The real interleaving is a few microseconds wide inside the
/// server; the body is read whole here first so that every run meets it.)
async fn first_read_finds_nothing(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let (parts, body) = request.into_parts();
    let mut frames = Vec::new();
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        frames.push(chunk.unwrap());
    }
    let mut first = true;
    let mut frames = frames.into_iter();
    let replay = futures_util::stream::poll_fn(move |cx| {
        if std::mem::take(&mut first) {
            cx.waker().wake_by_ref();
            return std::task::Poll::Pending;
        }
        std::task::Poll::Ready(frames.next().map(Ok::<Bytes, std::io::Error>))
    });
    next.run(axum::extract::Request::from_parts(
        parts,
        Body::from_stream(replay),
    ))
    .await
}

#[tokio::test]
async fn an_upload_over_h2_is_read_whole_when_its_frames_come_after_the_first_read() {
    let simulator = Simulator::bind(SimulatorOptions::new(certs_dir()))
        .await
        .unwrap();
    let state = simulator.state();
    let tls = Arc::new(test_pki().server_config().unwrap());
    let server = Server::bind(std::net::SocketAddr::from(([127, 0, 0, 1], 0)), tls)
        .await
        .unwrap();
    let base = format!("https://{}{}", server.local_addr(), pen_protocol::BASE_PATH);
    let app = pen_simulator::http::router(state.clone())
        .layer(axum::middleware::from_fn(first_read_finds_nothing));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(server.serve(app, async {
        let _ = stopped.await;
    }));

    let org_a = TestIdentity::org("org-a");
    let probe = https_client(&org_a)
        .get(format!("{base}healthcheck"))
        .send()
        .await
        .unwrap();
    assert_eq!(probe.version(), reqwest::Version::HTTP_2, "ALPN chose h2");

    // The reference client's own upload (reqwest multipart over h2).
    let identity = pen_client::Identity::from_pem(&org_a.identity_pem().unwrap()).unwrap();
    let ca = std::fs::read(certs_dir().join("ca.pem")).unwrap();
    let client =
        pen_client::Client::new(pen_client::ClientConfig::new(base, ca, identity)).unwrap();
    let created = client
        .open_process(&envio(processo("processo-simples"), ORG_A, ORG_B, None))
        .await
        .unwrap();
    let (hash, protocolo, bytes) = only_component(&created);
    client
        .upload_component(
            created.ticket_para_envio_de_componentes_digitais,
            &hash,
            &protocolo,
            bytes,
        )
        .await
        .unwrap();
    assert_eq!(
        state.platform.situacao(created.idt),
        Some(Situacao::ComponentesEnviadosRemetente)
    );
    let _ = stop.send(());
}
