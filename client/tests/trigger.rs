//! `pen-client trigger`, what a harness's command trigger runs, against a stand-in for an
//! agent's trigger: the request it posts, and the exit status each kind of answer becomes.

use wiremock::matchers::{body_json, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// Runs `pen-client --json trigger --addr <server> ARGS…` from `dir`.
async fn run(server: &str, dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_pen-client"))
        .current_dir(dir)
        .args(["--json", "trigger", "--addr", server])
        .args(args)
        .output()
        .await
        .unwrap()
}

fn report() -> serde_json::Value {
    serde_json::json!({
        "protocolo": "00394.000777/2025-01",
        "IDT": [7],
        "NRE": "0000025656262025",
        "uploaded": ["abc="],
    })
}

#[tokio::test]
async fn send_posts_the_folder_as_an_absolute_path_and_prints_the_report() {
    let server = MockServer::start().await;
    let here = tempfile::tempdir().unwrap();
    std::fs::create_dir(here.path().join("caso")).unwrap();
    let absolute = std::path::absolute(here.path().join("caso")).unwrap();
    Mock::given(method("POST"))
        .and(path("/send"))
        .and(body_json(serde_json::json!({
            "pasta": absolute,
            "destino": "1/159098",
            "nup": "00394.000777/2025-01",
            "anexo_bytes": 3000,
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(report()))
        .expect(1)
        .mount(&server)
        .await;
    let output = run(
        &server.uri(),
        here.path(),
        &[
            "send",
            "--pasta",
            "caso",
            "--nup",
            "00394.000777/2025-01",
            "--destino",
            "1/159098",
            "--anexo-bytes",
            "3000",
        ],
    )
    .await;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let printed: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(printed, report());
}

#[tokio::test]
async fn a_declined_or_refused_request_exits_1_with_the_agents_words() {
    for (status, erro) in [
        (
            422,
            "Não é possível tramitar um processos com documentos gerados e não assinados",
        ),
        (
            404,
            "processo 00394.000777/2025-01 não está no acervo do agente",
        ),
        (
            400,
            "pasta /x/caso: hash SHA-256 declarado a, o arquivo tem b",
        ),
        (502, "o barramento respondeu 500: 0024 - Recibo não aceito"),
    ] {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/return"))
            .and(body_json(serde_json::json!({
                "nup": "00394.000777/2025-01",
                "destino": "1/152254",
                "despacho": "De acordo.",
            })))
            .respond_with(
                ResponseTemplate::new(status).set_body_json(serde_json::json!({ "erro": erro })),
            )
            .mount(&server)
            .await;
        let output = run(
            &server.uri(),
            std::path::Path::new("."),
            &[
                "return",
                "--nup",
                "00394.000777/2025-01",
                "--destino",
                "1/152254",
                "--despacho",
                "De acordo.",
            ],
        )
        .await;
        assert_eq!(output.status.code(), Some(1), "{status}");
        assert_eq!(String::from_utf8_lossy(&output.stderr).trim(), erro);
        assert!(output.stdout.is_empty());
    }
}

#[tokio::test]
async fn another_answer_or_no_trigger_exits_2() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/send"))
        .respond_with(ResponseTemplate::new(500).set_body_string("pane"))
        .mount(&server)
        .await;
    let args = [
        "send",
        "--fixture",
        "processo-simples",
        "--destino",
        "1/159098",
    ];
    let output = run(&server.uri(), std::path::Path::new("."), &args).await;
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("500") && stderr.contains("pane"),
        "{stderr}"
    );

    // A port nobody listens on any more.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .to_string();
    let output = run(&closed, std::path::Path::new("."), &args).await;
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("inacessível"), "{stderr}");
}
