//! Targets: the example `target.toml` integrators copy parses into the harness's type, bad ones
//! are refused with the key named, relative paths are the file's, and a command or webhook
//! trigger's answer means what the contract says (done, declined with the reason, a
//! configuration error, a timeout).

use std::time::{Duration, Instant};

use pen_conformance::target::{
    TargetConfig, Trigger, TriggerConfig, TriggerFailure, TriggerOutcome, TriggerRequest,
};

fn example() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../ci/examples/target.toml")
}

#[test]
fn the_example_target_parses() {
    let loaded = TargetConfig::load(&example()).unwrap();
    let config = &loaded.config;
    assert_eq!(config.sut.organisation, "org-a");
    assert_eq!(config.sut.unidade, "1/152254");
    assert_eq!(config.sut.max_document_mb, Some(50));
    assert_eq!(config.sut.unmapped_especie, Some(5));
    assert_eq!(config.simulator.addr.port(), 8443);
    assert_eq!(config.simulator.control_addr.port(), 8444);
    assert!(matches!(
        config.trigger,
        TriggerConfig::Command {
            timeout_secs: 300,
            ..
        }
    ));
    // Relative to the file, not to wherever the command runs.
    let examples = std::path::absolute(example().parent().unwrap()).unwrap();
    assert_eq!(
        loaded.dir.canonicalize().unwrap(),
        examples.canonicalize().unwrap()
    );
    assert!(config.sut.pki_dir.is_absolute());
    assert!(
        config
            .sut
            .pki_dir
            .ends_with("ci/examples/pen-conformance-pki"),
        "{:?}",
        config.sut.pki_dir
    );
}

#[test]
fn a_bad_target_names_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.toml");
    std::fs::write(&path, "name = \"x\"\n[sut]\nunidad = \"1/152254\"\n").unwrap();
    let err = TargetConfig::load(&path).unwrap_err().to_string();
    assert!(err.contains("unidad"), "{err}");
    std::fs::write(&path, "name = \"x\"\n[sut]\nunidade = \"152254\"\n").unwrap();
    let err = TargetConfig::load(&path).unwrap_err().to_string();
    assert!(err.contains("REPOSITORIO/ESTRUTURA"), "{err}");
    std::fs::write(&path, "name = \"x\"\n[sut]\ndeadline_secs = 0\n").unwrap();
    let err = TargetConfig::load(&path).unwrap_err().to_string();
    assert!(err.contains("deadline_secs"), "{err}");
    let minimal = dir.path().join("m.toml");
    std::fs::write(
        &minimal,
        "name = \"mínimo\"\n[sut]\npki_dir = \"../pki/./a\"\n",
    )
    .unwrap();
    let loaded = TargetConfig::load(&minimal).unwrap();
    assert_eq!(loaded.config.trigger, TriggerConfig::None);
    assert!(!Trigger::from_config(&loaded.config.trigger, &loaded.dir).available());
    assert_eq!(
        loaded.config.sut.pki_dir,
        std::path::absolute(dir.path().parent().unwrap().join("pki/a")).unwrap()
    );
}

fn request(nup: &str) -> TriggerRequest {
    TriggerRequest {
        acao: "enviar",
        cenario: "envia-processo".into(),
        fixture: Some("processo-simples".into()),
        destino: "1/159098".into(),
        nup: nup.into(),
        pasta: Some("/tmp/uma pasta com espaços".into()),
        anexo_bytes: None,
        idt: None,
    }
}

fn command(send: &str, timeout_secs: u64, dir: &std::path::Path) -> Trigger {
    Trigger::from_config(
        &TriggerConfig::Command {
            send: send.into(),
            return_: "exit 0".into(),
            timeout_secs,
        },
        dir,
    )
}

#[tokio::test]
async fn a_command_trigger_gets_quoted_values_and_its_exit_status_counts() {
    let here = tempfile::tempdir().unwrap();
    std::fs::write(here.path().join("marca"), "").unwrap();
    let trigger = command(
        "test {nup} = '00394.000101/2025-61' && test {pasta} = '/tmp/uma pasta com espaços' && test {acao} = enviar && test -z {anexo_bytes} && test -e marca",
        10,
        here.path(),
    );
    assert_eq!(
        trigger
            .fire(&request("00394.000101/2025-61"))
            .await
            .unwrap(),
        TriggerOutcome::Done
    );
    // A value that would break out of the quotes stays one argument.
    assert!(matches!(
        trigger.fire(&request("x'; exit 0; '")).await.unwrap(),
        TriggerOutcome::Declined(_)
    ));
    let declining = command("echo 'sem interessados' >&2; exit 3", 10, here.path());
    assert_eq!(
        declining.fire(&request("1")).await.unwrap(),
        TriggerOutcome::Declined("sem interessados".into())
    );
}

#[tokio::test]
async fn a_trigger_that_cannot_run_or_never_ends_says_so_at_once() {
    let here = tempfile::tempdir().unwrap();
    let missing = command("/nao/existe/pen-enviar {nup}", 10, here.path());
    let Err(TriggerFailure::Configuration(why)) = missing.fire(&request("1")).await else {
        panic!("a missing command is a configuration error");
    };
    assert!(why.contains("/nao/existe/pen-enviar"), "{why}");

    let started = Instant::now();
    let slow = command("sleep 30", 1, here.path());
    let Err(failure @ TriggerFailure::TimedOut { secs: 1, .. }) = slow.fire(&request("1")).await
    else {
        panic!("a trigger past its timeout is a timeout");
    };
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(
        failure.to_string().contains("não terminou em 1 s"),
        "{failure}"
    );
}

#[tokio::test]
async fn a_webhook_declines_with_its_body_and_fails_unreachable() {
    use axum::routing::post;
    let app = axum::Router::new().route(
        "/gatilho",
        post(
            |axum::Json(body): axum::Json<serde_json::Value>| async move {
                if body["acao"] == "enviar" && body["nup"] == "recusa" {
                    (
                        axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                        "Interessados do processo recusa não informados.".to_owned(),
                    )
                } else {
                    (axum::http::StatusCode::OK, String::new())
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/gatilho", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let webhook = Trigger::from_config(
        &TriggerConfig::Webhook {
            url: url.clone(),
            timeout_secs: 10,
        },
        std::path::Path::new("."),
    );
    assert_eq!(
        webhook.fire(&request("ok")).await.unwrap(),
        TriggerOutcome::Done
    );
    assert_eq!(
        webhook.fire(&request("recusa")).await.unwrap(),
        TriggerOutcome::Declined(format!(
            "{url} respondeu 422 Unprocessable Entity: Interessados do processo recusa não informados."
        ))
    );
    let nobody = Trigger::from_config(
        &TriggerConfig::Webhook {
            url: "http://127.0.0.1:9/gatilho".into(),
            timeout_secs: 10,
        },
        std::path::Path::new("."),
    );
    assert!(matches!(
        nobody.fire(&request("ok")).await,
        Err(TriggerFailure::Configuration(_))
    ));
}

#[test]
fn a_person_is_asked_as_the_homologation_asks() {
    use pen_conformance::target::manual_prompt;
    let send = manual_prompt(&request("00394.000101/2025-61"));
    assert!(
        send.starts_with(
            "Envie o processo 00394.000101/2025-61 para a unidade 1/159098 pelo Tramita.gov.br."
        ),
        "{send}"
    );
    assert!(send.contains("/tmp/uma pasta com espaços"), "{send}");
    let refuse = manual_prompt(&TriggerRequest {
        acao: "recusar",
        destino: "1/152254".into(),
        idt: Some(42),
        pasta: None,
        ..request("00394.000102/2025-14")
    });
    assert!(
        refuse.starts_with("Recuse o processo recebido 00394.000102/2025-14 (IDT 42)"),
        "{refuse}"
    );
    assert!(refuse.contains("Depois, no sistema:"), "{refuse}");
}
