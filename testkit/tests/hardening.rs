//! Issue 16, the edge: what hostile or careless clients used to do to the platform (panic it,
//! hold its connections, stage bytes without a ticket, reach the control plane from a web page)
//! and what it answers now, each provoked over the real listeners.

use std::time::Duration;

use futures_util::StreamExt as _;
use pen_protocol::error::ErrorBody;
use pen_protocol::situacao::Situacao;
use pen_simulator::runtime::{Simulator, SimulatorOptions};
use pen_simulator::server::{BodyPace, EdgeLimits};
use pen_testkit::sim::{spawn_simulator, Api, START};
use pen_testkit::TestIdentity;
use serde_json::{json, Value};

use crate::common::{open, upload};

/// `POST control/clock/advance {"days": 3000000}` used to make every later request panic.
#[tokio::test]
async fn an_advance_past_the_clocks_limit_is_refused_and_the_platform_keeps_answering() {
    let sim = spawn_simulator().await;
    let control = sim.control();
    for by in [
        json!({"days": 3_000_000}),
        json!({"seconds": u64::MAX, "days": u64::MAX}),
    ] {
        let reply = control.post_json("clock/advance", &by).await;
        assert_eq!(reply.status, 400, "{by}: {}", reply.text());
        let body: Value = serde_json::from_slice(&reply.body).unwrap();
        let erro = body["erro"].as_str().unwrap_or_default();
        assert!(erro.contains("9000-01-01T00:00:00.000Z"), "{erro}");
    }
    let now: Value = control.get("clock").await.json();
    assert_eq!(
        now["now"], "2025-06-01T13:00:00.000Z",
        "the clock did not move"
    );
    sim.org("org-a").get("tramites/pendentes").await.ok();
    // A long but possible move still works.
    control
        .post_json("clock/advance", &json!({"days": 365 * 100}))
        .await
        .ok();
    sim.org("org-a").get("tramites/pendentes").await.ok();
}

/// A simulator with its own edge limits (the test simulator keeps the defaults), stopped when
/// dropped.
struct Edge {
    base_url: String,
    control_url: String,
    state: std::sync::Arc<pen_simulator::http::AppState>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

async fn edge_with(edge: EdgeLimits) -> Edge {
    let mut options = SimulatorOptions::new(pen_testkit::certs_dir());
    options.clock = std::sync::Arc::new(pen_simulator::clock::ManualClock::new(START));
    options.control_addr = Some(std::net::SocketAddr::from(([127, 0, 0, 1], 0)));
    options.edge = edge;
    let simulator = Simulator::bind(options).await.unwrap();
    let (base_url, control_url) = (simulator.base_url(), simulator.control_url().unwrap());
    let state = simulator.state();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(simulator.run_until(async {
        let _ = stopped.await;
    }));
    Edge {
        base_url,
        control_url,
        state,
        _stop: stop,
    }
}

/// An organisation's client over HTTP/1.1 or (by ALPN) h2.
fn client_of(who: &str, http1: bool) -> reqwest::Client {
    let identity = TestIdentity::org(who);
    if http1 {
        pen_testkit::https_client_http1(&identity)
    } else {
        pen_testkit::https_client(&identity)
    }
}

/// A request body that sends `first` and then nothing, ever.
fn stalled_body(first: &'static [u8]) -> reqwest::Body {
    let chunks =
        futures_util::stream::iter([Ok::<_, std::io::Error>(bytes::Bytes::from_static(first))])
            .chain(futures_util::stream::pending());
    reqwest::Body::wrap_stream(chunks)
}

/// Issue 16: 50 uploads at 1 byte / 5 s stayed open indefinitely. A body that stops, or
/// trickles below the minimum rate, gets the platform's error body.
#[tokio::test]
async fn a_body_that_stalls_or_trickles_gets_the_platforms_error() {
    let stall = BodyPace {
        idle: Duration::from_millis(200),
        grace: Duration::from_secs(600),
        min_rate: 0,
    };
    // 2 bytes at 1,000 bytes/s with no grace: late after 2 ms.
    let trickle = BodyPace {
        idle: Duration::from_secs(600),
        grace: Duration::ZERO,
        min_rate: 1000,
    };
    for (pace, expected) in [(stall, "parou de chegar"), (trickle, "devagar demais")] {
        let edge = edge_with(EdgeLimits {
            body: pace,
            ..EdgeLimits::default()
        })
        .await;
        for http1 in [false, true] {
            let client = client_of("org-a", http1);
            let reply = client
                .post(format!("{}tramites/processo", edge.base_url))
                .header("content-type", "application/json")
                .body(stalled_body(b"{\""))
                .send()
                .await
                .unwrap();
            assert_eq!(reply.status(), 400, "http1={http1}");
            let body: ErrorBody = reply.json().await.unwrap();
            assert_eq!(body.codigo_erro, "9109", "{body:?}");
            assert!(body.mensagem.contains(expected), "{}", body.mensagem);
        }
        // An upload under a valid ticket that stalls inside its `conteudo` part.
        let api = Api {
            http: pen_testkit::https_client(&TestIdentity::org("org-a")),
            base: edge.base_url.clone(),
        };
        let created = open(&api, "processo-simples").await;
        let ticket = created.ticket_para_envio_de_componentes_digitais;
        let form = b"--X\r\nContent-Disposition: form-data; name=\"conteudo\"; filename=\"c.html\"\r\n\r\nab";
        let reply = api
            .http
            .put(format!(
                "{}tickets-de-envio-de-componente/{ticket}/protocolos/componentes-a-enviar",
                edge.base_url
            ))
            .header("content-type", "multipart/form-data; boundary=X")
            .body(stalled_body(form))
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), 400);
        let body: ErrorBody = reply.json().await.unwrap();
        assert_eq!(body.codigo_erro, "9109", "{body:?}");
        assert!(body.mensagem.contains(expected), "{}", body.mensagem);
        assert_eq!(
            edge.state.platform.situacao(created.idt),
            Some(Situacao::Iniciado),
            "nothing was accepted"
        );
    }
}

/// Issue 16: 283 MiB were staged for a ticket that did not exist. The ticket, the caller and
/// (when named before `conteudo`) the hash are checked before the content is read: these
/// uploads never send more than two bytes and are answered at once, long before the 30 s a
/// stalled body is given.
#[tokio::test]
async fn an_upload_is_refused_before_its_content_is_read() {
    let sim = spawn_simulator().await;
    let a = sim.org("org-a");
    let created = open(&a, "processo-simples").await;
    let ticket = created.ticket_para_envio_de_componentes_digitais.0;
    let requested = &created.processos_com_componentes_digitais_solicitados[0];
    let protocolo = requested.protocolo.clone();
    let unrequested = pen_protocol::hash::hash_bytes(b"nobody asked").to_base64();
    let whole =
        |t: u64| format!("tickets-de-envio-de-componente/{t}/protocolos/componentes-a-enviar");
    let form =
        b"--X\r\nContent-Disposition: form-data; name=\"conteudo\"; filename=\"c.html\"\r\n\r\nab";
    let cases = [
        ("org-a", whole(999), vec![], "9103"),
        ("org-b", whole(ticket), vec![], "9103"),
        (
            "org-a",
            whole(ticket),
            vec![
                ("hashDoComponenteDigital", unrequested.clone()),
                ("protocolo", protocolo.clone()),
            ],
            "9104",
        ),
        (
            "org-a",
            format!("{}/partes/0-1000000000", whole(ticket)),
            vec![
                ("hashDoComponenteDigital", requested.hashes[0].clone()),
                ("protocolo", protocolo.clone()),
            ],
            "9013",
        ),
    ];
    for http1 in [false, true] {
        for (who, path, query, code) in &cases {
            let client = client_of(who, http1);
            let request = client
                .put(format!("{}{path}", sim.base_url))
                .query(query)
                .header("content-type", "multipart/form-data; boundary=X")
                .body(stalled_body(form))
                .send();
            let reply = tokio::time::timeout(Duration::from_secs(10), request)
                .await
                .unwrap_or_else(|_| panic!("{who} {path}: no answer before the body arrived"))
                .unwrap();
            let body: ErrorBody = reply.json().await.unwrap();
            assert_eq!(
                &body.codigo_erro, code,
                "{who} {path} http1={http1}: {body:?}"
            );
        }
    }
    assert_eq!(
        sim.state.platform.situacao(created.idt),
        Some(Situacao::Iniciado)
    );
    // The sender's own upload, content first as the SEI module sends it, still goes through.
    upload(&a, &created, None).await;
    assert_eq!(
        sim.state.platform.situacao(created.idt),
        Some(Situacao::ComponentesEnviadosRemetente)
    );
}

/// Issue 16: `tramites/%FF` (not UTF-8 once decoded) got axum's plain-text rejection.
#[tokio::test]
async fn a_path_that_does_not_decode_gets_the_platforms_error_body() {
    let sim = spawn_simulator().await;
    let a = sim.org("org-a");
    for (method, path) in [
        ("GET", "tramites/%FF"),
        ("GET", "tramites/%FF/recibo"),
        ("DELETE", "tramites/%C3%28"),
        (
            "PUT",
            "tickets-de-envio-de-componente/%FF/protocolos/componentes-a-enviar",
        ),
        (
            "GET",
            "repositorios-de-estruturas/1/estruturas-organizacionais/%FF",
        ),
    ] {
        let request = a
            .http
            .request(method.parse().unwrap(), format!("{}{path}", sim.base_url));
        let reply = request.send().await.unwrap();
        assert_eq!(reply.status(), 404, "{method} {path}");
        let content_type = reply.headers()["content-type"].to_str().unwrap().to_owned();
        assert!(
            content_type.starts_with("application/json"),
            "{content_type}"
        );
        let body: ErrorBody = reply.json().await.unwrap();
        assert_eq!(body.codigo_erro, "9110", "{method} {path}: {body:?}");
        assert!(body.mensagem.contains(path), "{}", body.mensagem);
    }
}

/// The `{"erro"}` of a control-plane answer, failing the test when it is anything else.
async fn control_error(reply: reqwest::Response, what: &str) -> (u16, String) {
    let status = reply.status().as_u16();
    let content_type = reply
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let text = reply.text().await.unwrap();
    assert!(
        content_type.starts_with("application/json"),
        "{what}: {status} {content_type} {text}"
    );
    let body: Value = serde_json::from_str(&text).unwrap();
    let erro = body["erro"].as_str().unwrap_or_default().to_owned();
    assert!(!erro.is_empty(), "{what}: {text}");
    (status, erro)
}

fn plain() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

/// Issue 16: on loopback the control plane answered whatever reached it, so a web page could
/// `POST /reset` with a cross-site form and read trâmites through DNS rebinding.
#[tokio::test]
async fn the_control_plane_refuses_what_a_web_page_can_send() {
    let sim = spawn_simulator().await;
    let created = open(&sim.org("org-a"), "processo-simples").await;
    let control = &sim.control_url;
    let port = control
        .trim_start_matches("http://127.0.0.1:")
        .split('/')
        .next()
        .unwrap();
    let http = plain();
    let cases = [
        // A cross-site form: the browser adds its page's origin.
        (
            http.post(format!("{control}reset"))
                .header("origin", "https://evil.example")
                .header("content-type", "application/x-www-form-urlencoded")
                .body("a=b"),
            403,
            "Origin: https://evil.example",
        ),
        // A sandboxed page or a file: says "null".
        (
            http.post(format!("{control}reset"))
                .header("origin", "null"),
            403,
            "Origin: null",
        ),
        // DNS rebinding: the page's own name, now resolving to 127.0.0.1.
        (
            http.get(format!("{control}tramites/{}", created.idt))
                .header("host", format!("evil.example:{port}")),
            403,
            "Host: evil.example",
        ),
        // A form without an Origin (curl -d, an old browser) still is not JSON.
        (
            http.post(format!("{control}reset"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body("a=b"),
            415,
            "application/json",
        ),
        (
            http.post(format!("{control}faults"))
                .header("content-type", "text/plain")
                .body(r#"{"type":"feed_outage"}"#),
            415,
            "application/json",
        ),
        (
            http.post(format!("{control}faults"))
                .body(r#"{"type":"feed_outage"}"#),
            415,
            "application/json",
        ),
    ];
    for (request, status, says) in cases {
        let (got, erro) = control_error(request.send().await.unwrap(), says).await;
        assert_eq!(got, status, "{says}: {erro}");
        assert!(erro.contains(says), "{says}: {erro}");
    }
    assert!(
        sim.state.platform.inspect(created.idt).is_some(),
        "nothing was reset"
    );
    assert!(sim.state.faults.list().is_empty(), "no fault was added");

    // Loopback names and pages pass; so does a POST with neither body nor type.
    for host in [
        format!("localhost:{port}"),
        format!("127.0.0.2:{port}"),
        format!("[::1]:{port}"),
    ] {
        let reply = http
            .get(format!("{control}health"))
            .header("host", host.as_str())
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), 200, "{host}");
    }
    let reply = http
        .get(format!("{control}health"))
        .header("origin", "http://localhost:3000")
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 200);
    let reply = http.post(format!("{control}reset")).send().await.unwrap();
    assert_eq!(reply.status(), 200);
}

/// Issue 16: 12 of 15 bad inputs got axum's plain text instead of `{"erro": …}`, and a
/// `u64::MAX` latency fault was accepted (and hung every request it matched).
#[tokio::test]
async fn every_control_plane_refusal_is_json() {
    let sim = spawn_simulator().await;
    let control = &sim.control_url;
    let http = plain();
    let json_post = |path: &str, body: String| {
        http.post(format!("{control}{path}"))
            .header("content-type", "application/json")
            .body(body)
    };
    let fault = |spec: Value| json_post("faults", spec.to_string());
    let cases = [
        (json_post("faults", "{not json".into()), 400),
        (fault(json!({"type": "nope"})), 400),
        (fault(json!({"type": "latency", "millis": u64::MAX})), 400),
        (fault(json!({"type": "latency", "millis": 300_001})), 400),
        (fault(json!({"type": "error", "status": 200})), 400),
        (fault(json!({"type": "error", "status": 1000})), 400),
        (fault(json!({"type": "feed_outage", "times": 0})), 400),
        (
            fault(json!({"type": "feed_outage", "path_contains": "x".repeat(2000)})),
            400,
        ),
        (
            json_post("faults", format!("\"{}\"", "x".repeat(2 * 1024 * 1024))),
            413,
        ),
        (
            json_post("clock/advance", json!({"days": "x"}).to_string()),
            400,
        ),
        (json_post("clock/advance", String::new()), 400),
        (json_post("spes", "{}".into()), 400),
        (json_post("inject", json!({"as": 1}).to_string()), 400),
        (json_post("inject", json!({"as": "org-b"}).to_string()), 400),
        (http.get(format!("{control}journal?after=abc")), 400),
        (
            http.get(format!("{control}journal/wait?timeout_ms=-1")),
            400,
        ),
        (http.get(format!("{control}tramites/abc")), 400),
        (http.get(format!("{control}tramites/%FF")), 400),
        (http.delete(format!("{control}faults/abc")), 400),
        (http.get(format!("{control}tramites/999")), 404),
        (http.delete(format!("{control}faults/999")), 404),
        (http.get(format!("{control}nothing-here")), 404),
        (http.put(format!("{control}reset")), 405),
    ];
    for (request, status) in cases {
        let request = request.build().unwrap();
        let what = format!("{} {}", request.method(), request.url());
        let what = what.chars().take(120).collect::<String>();
        let (got, erro) = control_error(http.execute(request).await.unwrap(), &what).await;
        assert_eq!(got, status, "{what}: {erro}");
    }
    assert!(sim.state.faults.list().is_empty(), "no fault was added");
    // The platform's own refusal of an injection stays the platform's body.
    let reply = json_post(
        "inject",
        json!({"as": "org-b", "validate": true, "processo": {"cabecalho": {}, "processo": {}}})
            .to_string(),
    )
    .send()
    .await
    .unwrap();
    assert!(reply.status().is_client_error(), "{}", reply.status());
}

/// Issue 16: the plain control-plane listener had no header timeout; a client that never
/// finishes its headers is cut off like on the REST listener.
#[tokio::test]
async fn the_plain_control_plane_cuts_a_client_that_never_finishes_its_headers() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    let edge = edge_with(EdgeLimits {
        header_read_timeout: Duration::from_millis(200),
        ..EdgeLimits::default()
    })
    .await;
    let addr = edge
        .control_url
        .trim_start_matches("http://")
        .trim_end_matches("/control/")
        .to_owned();
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    tcp.write_all(b"GET /control/health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(10), tcp.read_to_end(&mut answer)).await;
    assert!(closed.is_ok(), "the connection is still open");
}
