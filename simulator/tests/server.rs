//! The TLS edge (`pen_simulator::server`) over real TCP and mutual TLS on loopback, with the
//! committed test PKI: who gets in, what handlers see, HTTP versions, path normalisation,
//! shutdown.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::Extension;
use axum::http::{StatusCode, Uri, Version};
use axum::routing::get;
use axum::{Json, Router};
use pen_protocol::registry::NegativeKind;
use pen_simulator::pki::{self, Pki};
use pen_simulator::server::{ConnectionInfo, EdgeLimits, HandshakeFailure, PeerIdentity, Server};
use rustls::ClientConfig;
use rustls_pki_types::ServerName;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio_rustls::TlsConnector;

/// Upper bound for anything that should happen "at once"; only reached when a test fails.
const PATIENCE: Duration = Duration::from_secs(10);

fn committed() -> Pki {
    Pki::load(concat!(env!("CARGO_MANIFEST_DIR"), "/../certs")).unwrap()
}

/// A server on `127.0.0.1:0` serving [`app`], its handshake failures, and its shutdown switch.
struct Running {
    addr: SocketAddr,
    /// The server's count of open connections.
    open: tokio::sync::watch::Receiver<usize>,
    failures: mpsc::UnboundedReceiver<HandshakeFailure>,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<io::Result<()>>,
}

impl Running {
    async fn start(app: Router) -> Self {
        Self::start_with(app, |server| server).await
    }

    async fn start_with(app: Router, configure: impl FnOnce(Server) -> Server) -> Self {
        let tls = Arc::new(committed().server_config().unwrap());
        let (tx, failures) = mpsc::unbounded_channel();
        let server = Server::bind("127.0.0.1:0".parse().unwrap(), tls)
            .await
            .unwrap()
            .with_handshake_observer(Arc::new(move |failure| {
                let _ = tx.send(failure);
            }));
        let server = configure(server);
        let addr = server.local_addr();
        let open = server.open_connections();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = server.spawn(app, async move {
            let _ = stopped.await;
        });
        Self {
            addr,
            open,
            failures,
            stop: Some(stop),
            task,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("https://127.0.0.1:{}{path}", self.addr.port())
    }

    async fn next_failure(&mut self) -> HandshakeFailure {
        tokio::time::timeout(PATIENCE, self.failures.recv())
            .await
            .expect("a handshake failure is reported")
            .unwrap()
    }

    /// Triggers shutdown and waits (boundedly) for `serve` to return.
    async fn shut_down(mut self) -> io::Result<()> {
        let _ = self.stop.take().unwrap().send(());
        tokio::time::timeout(PATIENCE, &mut self.task)
            .await
            .expect("serve returns soon after shutdown")
            .unwrap()
    }
}

async fn whoami(
    Extension(peer): Extension<PeerIdentity>,
    Extension(connection): Extension<ConnectionInfo>,
    version: Version,
) -> Json<Value> {
    Json(json!({
        "cn": peer.common_name,
        "sha1": peer.sha1_fingerprint,
        "sha256": peer.sha256_fingerprint,
        "tcp_nodelay": connection.tcp_nodelay,
        "peer_addr": connection.peer_addr.to_string(),
        "version": format!("{version:?}"),
    }))
}

async fn healthcheck(uri: Uri) -> String {
    format!("ok {uri}")
}

fn app() -> Router {
    Router::new()
        .route("/whoami", get(whoami))
        .route("/interoperabilidade/rest/v3/healthcheck", get(healthcheck))
}

/// The identity PEM of an organisation or a negative identity, as reqwest takes it.
fn identity_pem(pki: &Pki, who: Who) -> Vec<u8> {
    let relative = match who {
        Who::Org(id) => &pki.manifest().organisation(id).unwrap().files.identity_pem,
        Who::Negative(kind) => {
            &pki.manifest()
                .negative
                .iter()
                .find(|n| n.kind == kind)
                .unwrap()
                .files
                .identity_pem
        }
    };
    std::fs::read(pki.path(relative)).unwrap()
}

#[derive(Clone, Copy)]
enum Who {
    Org(&'static str),
    Negative(NegativeKind),
}

fn https_client(who: Who, http1_only: bool) -> reqwest::Client {
    let pki = committed();
    let ca = std::fs::read(pki.path(&pki.manifest().ca)).unwrap();
    let mut builder = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(&ca).unwrap()])
        .identity(reqwest::Identity::from_pem(&identity_pem(&pki, who)).unwrap())
        .timeout(PATIENCE);
    if http1_only {
        builder = builder.http1_only();
    }
    builder.build().unwrap()
}

/// A raw rustls client (no ALPN unless set) presenting `identity`.
fn rustls_client(identity: Option<pki::Identity>) -> ClientConfig {
    committed().client_config(identity).unwrap()
}

/// Connects, sends one HTTP/1.1 request and reads the whole answer (`Connection: close`).
async fn raw_get(addr: SocketAddr, config: ClientConfig, path: &str) -> io::Result<String> {
    let tcp = TcpStream::connect(addr).await?;
    let name = ServerName::try_from("localhost").unwrap();
    let mut tls = TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    tls.write_all(request.as_bytes()).await?;
    let mut answer = String::new();
    tls.read_to_string(&mut answer).await?;
    Ok(answer)
}

#[tokio::test]
async fn org_a_gets_its_own_fingerprint_over_h2() {
    let server = Running::start(app()).await;
    let pki = committed();
    let org_a = &pki.manifest().organisation("org-a").unwrap().files;

    let response = https_client(Who::Org("org-a"), false)
        .get(server.url("/whoami"))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.version(), Version::HTTP_2, "ALPN offered h2 first");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["sha1"], org_a.sha1_fingerprint.as_str());
    assert_eq!(body["sha256"], org_a.sha256_fingerprint.as_str());
    assert_eq!(body["cn"], org_a.common_name.as_str());
    assert_eq!(body["version"], "HTTP/2.0");
    // Read back from the accepted socket with getsockopt by the server itself.
    assert_eq!(body["tcp_nodelay"], true);
    server.shut_down().await.unwrap();
}

#[tokio::test]
async fn http1_when_alpn_chooses_it_or_chooses_nothing() {
    let server = Running::start(app()).await;

    let response = https_client(Who::Org("org-b"), true)
        .get(server.url("/whoami"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.version(), Version::HTTP_11);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["version"], "HTTP/1.1");

    // No ALPN at all: the server sniffs the preface.
    let pki = committed();
    let identity = pki.organisation_identity("org-a").unwrap();
    let answer = raw_get(server.addr, rustls_client(Some(identity)), "/whoami")
        .await
        .unwrap();
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    assert!(answer.contains(r#""version":"HTTP/1.1""#), "{answer}");
    server.shut_down().await.unwrap();
}

#[tokio::test]
async fn repeated_slashes_reach_the_route_and_the_query_is_kept() {
    let server = Running::start(app()).await;
    let client = https_client(Who::Org("org-a"), false);

    for path in [
        "/interoperabilidade/rest/v3//healthcheck",
        "//interoperabilidade///rest/v3/healthcheck",
    ] {
        let response = client.get(server.url(path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let body = response.text().await.unwrap();
        assert!(
            body.ends_with("/interoperabilidade/rest/v3/healthcheck"),
            "{path}: {body}"
        );
    }
    let response = client
        .get(server.url("/interoperabilidade/rest/v3//healthcheck?a=b//c"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body = response.text().await.unwrap();
    assert!(
        body.ends_with("/interoperabilidade/rest/v3/healthcheck?a=b//c"),
        "{body}"
    );

    // Over HTTP/1.1 with an origin-form target too.
    let answer = raw_get(
        server.addr,
        rustls_client(Some(committed().organisation_identity("org-a").unwrap())),
        "/interoperabilidade/rest/v3//healthcheck",
    )
    .await
    .unwrap();
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    server.shut_down().await.unwrap();
}

/// Connects a raw client, expects the connection to fail, and returns the server's report.
async fn refused(server: &mut Running, config: ClientConfig) -> (HandshakeFailure, SocketAddr) {
    let tcp = TcpStream::connect(server.addr).await.unwrap();
    let client_addr = tcp.local_addr().unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    // With TLS 1.3 the client finishes its side before the server has looked at the
    // certificate, so the refusal may show up on the first read instead of in `connect`.
    let outcome = async {
        let mut tls = TlsConnector::from(Arc::new(config))
            .connect(name, tcp)
            .await?;
        tls.write_all(b"GET /whoami HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .await?;
        let mut buf = Vec::new();
        tls.read_to_end(&mut buf).await?;
        Ok::<_, io::Error>(buf)
    }
    .await;
    assert!(outcome.is_err(), "the client got an answer: {outcome:?}");
    (server.next_failure().await, client_addr)
}

#[tokio::test]
async fn clients_without_a_valid_certificate_are_refused_in_the_handshake() {
    let mut server = Running::start(app()).await;
    let pki = committed();

    let cases = [
        ("no certificate", None, "no certificates"),
        (
            "expired",
            Some(pki.negative_identity(NegativeKind::Expired).unwrap()),
            "expired",
        ),
        (
            "foreign CA",
            Some(pki.negative_identity(NegativeKind::ForeignCa).unwrap()),
            "unknownissuer",
        ),
    ];
    for (label, identity, cause) in cases {
        let (failure, client_addr) = refused(&mut server, rustls_client(identity)).await;
        assert_eq!(failure.peer, client_addr, "{label}");
        assert!(
            failure.reason.to_lowercase().contains(cause),
            "{label}: reason {:?} does not mention {cause:?}",
            failure.reason
        );
        assert!(failure.to_string().contains(&failure.reason), "{label}");
    }
    assert!(
        server.failures.try_recv().is_err(),
        "one report per refusal"
    );
    server.shut_down().await.unwrap();
}

#[tokio::test]
async fn the_unregistered_identity_passes_tls() {
    let mut server = Running::start(app()).await;

    let response = https_client(Who::Negative(NegativeKind::Unregistered), false)
        .get(server.url("/whoami"))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["cn"], pki::UNREGISTERED_COMMON_NAME);
    assert!(server.failures.try_recv().is_err());
    server.shut_down().await.unwrap();
}

#[tokio::test]
async fn silent_clients_are_cut_at_the_handshake_timeout() {
    let mut server = Running::start_with(app(), |s| {
        s.with_handshake_timeout(Duration::from_millis(200))
    })
    .await;

    let mut silent = TcpStream::connect(server.addr).await.unwrap();
    let failure = server.next_failure().await;
    assert!(failure.reason.contains("within"), "{}", failure.reason);
    let mut buf = [0; 1];
    let read = tokio::time::timeout(PATIENCE, silent.read(&mut buf)).await;
    assert!(
        matches!(read, Ok(Ok(0) | Err(_))),
        "closed by the server: {read:?}"
    );
    server.shut_down().await.unwrap();
}

#[tokio::test]
async fn shutdown_ends_serve_while_idle_connections_are_open() {
    // A long grace proves that idle connections are closed at once, not at the deadline.
    let server = Running::start_with(app(), |s| {
        s.with_shutdown_grace(Duration::from_secs(600))
            .with_handshake_timeout(Duration::from_secs(600))
    })
    .await;
    let addr = server.addr;

    // Idle keep-alive connections, one per protocol, kept in the clients' pools.
    let h2 = https_client(Who::Org("org-a"), false);
    let h1 = https_client(Who::Org("org-a"), true);
    for client in [&h2, &h1] {
        let response = client.get(server.url("/whoami")).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        response.bytes().await.unwrap();
    }
    // And a TCP connection that never starts its handshake.
    let _silent = TcpStream::connect(addr).await.unwrap();

    server.shut_down().await.unwrap();
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "the listener is closed"
    );
}

/// [`app`] plus `/slow`, which answers "done" once released; `entered` hears of each call.
struct Slow {
    app: Router,
    entered: mpsc::UnboundedReceiver<()>,
    release: tokio::sync::watch::Sender<bool>,
}

impl Slow {
    fn new() -> Self {
        let (entered_tx, entered) = mpsc::unbounded_channel::<()>();
        let (release, released) = tokio::sync::watch::channel(false);
        let app = app().route(
            "/slow",
            get(move || {
                let entered_tx = entered_tx.clone();
                let mut released = released.clone();
                async move {
                    let _ = entered_tx.send(());
                    let _ = released.wait_for(|r| *r).await;
                    "done"
                }
            }),
        );
        Slow {
            app,
            entered,
            release,
        }
    }

    async fn entered(&mut self) {
        tokio::time::timeout(PATIENCE, self.entered.recv())
            .await
            .unwrap()
            .unwrap();
    }
}

#[tokio::test]
async fn shutdown_lets_an_in_flight_request_finish() {
    let Slow {
        app,
        mut entered,
        release,
    } = Slow::new();
    let mut server = Running::start(app).await;
    let client = https_client(Who::Org("org-a"), true);
    let request = tokio::spawn(client.get(server.url("/slow")).send());
    tokio::time::timeout(PATIENCE, entered.recv())
        .await
        .unwrap()
        .unwrap();

    let _ = server.stop.take().unwrap().send(());
    // Once the listener is closed, serve has seen the shutdown; it must still be waiting for
    // the request.
    let addr = server.addr;
    tokio::time::timeout(PATIENCE, async {
        while TcpStream::connect(addr).await.is_ok() {
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("the listener closes");
    assert!(!server.task.is_finished(), "serve waits for the request");
    release.send_replace(true);
    let response = tokio::time::timeout(PATIENCE, request)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.text().await.unwrap(), "done");
    tokio::time::timeout(PATIENCE, &mut server.task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}

/// Waits (boundedly) until the server reports `n` open connections.
async fn until_open(open: &mut tokio::sync::watch::Receiver<usize>, n: usize) {
    let reached = tokio::time::timeout(PATIENCE, open.wait_for(|now| *now == n))
        .await
        .map(|r| r.is_ok());
    assert_eq!(reached, Ok(true), "never {n} open: {}", *open.borrow());
}

/// One GET on a fresh client, whose connection then idles in the client's pool.
async fn idle_client(server: &Running, http1_only: bool) -> reqwest::Client {
    let client = https_client(Who::Org("org-a"), http1_only);
    let response = client.get(server.url("/whoami")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.bytes().await.unwrap();
    client
}

/// Issue 16: 1,013 idle h2 connections under `ulimit -n 1024` locked every new client out.
/// Beyond the cap a connection is closed at once (reported like a refused handshake), and a
/// slot freed by a client that leaves is usable again.
#[tokio::test]
async fn connections_beyond_the_cap_are_closed_at_once() {
    let limits = EdgeLimits {
        max_connections: 3,
        ..EdgeLimits::default()
    };
    let mut server = Running::start_with(app(), |s| s.with_limits(limits)).await;
    let mut open = server.open.clone();
    let mut clients = Vec::new();
    for http1_only in [false, false, true] {
        clients.push(idle_client(&server, http1_only).await);
    }
    until_open(&mut open, 3).await;

    let identity = committed().organisation_identity("org-a").unwrap();
    let (failure, client_addr) = refused(&mut server, rustls_client(Some(identity))).await;
    assert_eq!(failure.peer, client_addr);
    assert!(
        failure.reason.contains("3 connections already open"),
        "{}",
        failure.reason
    );
    assert_eq!(*open.borrow(), 3, "the refused one never held a slot");

    drop(clients.pop());
    until_open(&mut open, 2).await;
    idle_client(&server, false).await;
    server.shut_down().await.unwrap();
}

/// Issue 16: HTTP/1.1 connections timed out and h2 ones never did. Now both close once no
/// request has been in flight for the idle timeout, and a request in flight (a long-poll)
/// keeps its connection however long it takes.
#[tokio::test]
async fn idle_connections_of_both_protocols_are_closed_and_busy_ones_are_not() {
    let mut slow = Slow::new();
    let limits = EdgeLimits {
        idle_timeout: Duration::from_millis(200),
        ..EdgeLimits::default()
    };
    let server = Running::start_with(slow.app.clone(), |s| s.with_limits(limits)).await;
    let mut open = server.open.clone();

    let busy = https_client(Who::Org("org-b"), false);
    let in_flight = tokio::spawn(busy.get(server.url("/slow")).send());
    slow.entered().await;
    let _h2 = idle_client(&server, false).await;
    let _h1 = idle_client(&server, true).await;
    // The idle two go (their clients still hold them); the busy one stays.
    until_open(&mut open, 1).await;
    assert!(!in_flight.is_finished());

    slow.release.send_replace(true);
    let response = tokio::time::timeout(PATIENCE, in_flight)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(response.text().await.unwrap(), "done");
    until_open(&mut open, 0).await;
    server.shut_down().await.unwrap();
}
