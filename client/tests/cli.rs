//! The `pen-client` command line as a user runs it.

use std::process::Command;

use pen_client::agent::{Defect, Quirk};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_pen-client"))
}

#[test]
fn help_documents_every_command() {
    let output = bin().arg("--help").output().unwrap();
    assert!(output.status.success());
    let help = String::from_utf8(output.stdout).unwrap();
    for command in [
        "healthcheck",
        "estruturas",
        "especies",
        "hipoteses",
        "pendencias",
        "tramites",
        "send",
        "receive",
        "recibo",
        "recusar",
        "ciencia",
        "cancelar",
        "agent",
        "trigger",
    ] {
        assert!(
            help.contains(command),
            "{command} missing from --help:\n{help}"
        );
        let sub = bin().args([command, "--help"]).output().unwrap();
        assert!(sub.status.success(), "{command} --help");
    }
}

#[tokio::test]
async fn pendencias_as_json_with_identity_files() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/interoperabilidade/rest/v3/tramites/pendentes"))
        .and(query_param("todas", "true"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(r#"[{"IDT":7,"status":2}]"#, "application/json"),
        )
        .expect(1)
        .mount(&server)
        .await;
    let certs = concat!(env!("CARGO_MANIFEST_DIR"), "/../certs");
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_pen-client"))
        .args([
            "--url",
            &format!("{}/interoperabilidade/rest/v3/", server.uri()),
        ])
        .args([
            "--identity",
            &format!("{certs}/orgs/org-a/identity-encrypted.pem"),
            "--password",
            "pen-local",
        ])
        .args(["--ca", &format!("{certs}/ca.pem"), "--json", "pendencias"])
        .output()
        .await
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let value: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(value, serde_json::json!([{"IDT": 7, "status": 2}]));
}

#[tokio::test]
async fn a_platform_error_is_printed_and_fails() {
    let server = MockServer::start().await;
    Mock::given(method("DELETE"))
        .and(path("/interoperabilidade/rest/v3/tramites/9"))
        .respond_with(ResponseTemplate::new(409).set_body_raw(
            r#"{"codigoErro":"9102","mensagem":"Operação não permitida"}"#,
            "application/json",
        ))
        .mount(&server)
        .await;
    let certs = concat!(env!("CARGO_MANIFEST_DIR"), "/../certs");
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_pen-client"))
        .args([
            "--url",
            &format!("{}/interoperabilidade/rest/v3/", server.uri()),
            "--pki",
            certs,
            "--org",
            "org-b",
        ])
        .args(["cancelar", "--idt", "9"])
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("9102") && stderr.contains("Operação não permitida"),
        "{stderr}"
    );
}

/// The names a harness uses: a contract, pinned here as text.
const DEFECTS: [&str; 16] = [
    "forget-nre",
    "skip-hash-check",
    "accept-oversize",
    "bad-receipt-signature",
    "receipt-wrong-hashes",
    "ignore-refusal",
    "send-unsigned",
    "send-without-interessado",
    "no-parts-for-large",
    "download-before-refusing",
    "receipt-old-date",
    "posts-receipt-twice",
    "cancels-its-sends",
    "never-refuses",
    "never-posts-recibo",
    "never-fetches-recibo",
];

const QUIRKS: [&str; 2] = ["receipt-dated-now", "retry-uploads"];

#[test]
fn defect_names_are_the_contract_and_round_trip() {
    let all: Vec<&str> = Defect::ALL.iter().map(|d| d.name()).collect();
    assert_eq!(all, DEFECTS);
    for name in DEFECTS {
        let defect: Defect = name.parse().unwrap();
        assert_eq!(defect.to_string(), name);
        assert_eq!(serde_json::to_value(defect).unwrap(), name);
        assert_eq!(
            serde_json::from_value::<Defect>(serde_json::json!(name)).unwrap(),
            defect
        );
    }
}

#[test]
fn quirk_names_are_the_contract_and_round_trip() {
    let all: Vec<&str> = Quirk::ALL.iter().map(|q| q.name()).collect();
    assert_eq!(all, QUIRKS);
    for name in QUIRKS {
        let quirk: Quirk = name.parse().unwrap();
        assert_eq!(quirk.to_string(), name);
        assert_eq!(serde_json::to_value(quirk).unwrap(), name);
        assert_eq!(
            serde_json::from_value::<Quirk>(serde_json::json!(name)).unwrap(),
            quirk
        );
    }
    assert!("quirk-that-is-not".parse::<Quirk>().is_err());
}

#[test]
fn defect_help_lists_every_mutant() {
    let output = bin().args(["agent", "--defect", "help"]).output().unwrap();
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    for defect in Defect::ALL {
        assert!(text.contains(defect.name()), "{defect} missing:\n{text}");
        assert!(text.contains(defect.description()), "{defect}:\n{text}");
    }
}

#[test]
fn quirk_help_lists_every_quirk() {
    let output = bin().args(["agent", "--quirk", "help"]).output().unwrap();
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(text.contains("--quirk NOME"), "{text}");
    for quirk in Quirk::ALL {
        assert!(text.contains(quirk.name()), "{quirk} missing:\n{text}");
        assert!(text.contains(quirk.description()), "{quirk}:\n{text}");
    }
}

#[test]
fn an_unknown_quirk_is_refused_before_connecting() {
    let output = bin()
        .args(["--url", "https://127.0.0.1:1/interoperabilidade/rest/v3/"])
        .args(["agent", "--quirk", "retry-forever"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let text = String::from_utf8(output.stderr).unwrap();
    assert!(
        text.contains("particularidade desconhecida: retry-forever"),
        "{text}"
    );
}

#[test]
fn an_unknown_sample_lists_the_samples() {
    let certs = concat!(env!("CARGO_MANIFEST_DIR"), "/../certs");
    let output = bin()
        .args([
            "--pki",
            certs,
            "--org",
            "org-a",
            "send",
            "--fixture",
            "nao-existe",
        ])
        .args(["--destinatario", "1/159098"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let text = String::from_utf8(output.stderr).unwrap();
    assert!(text.contains("amostra nao-existe não existe"), "{text}");
    for name in [
        "processo-simples",
        "documento-avulso",
        "processo-sem-assinatura",
    ] {
        assert!(text.contains(name), "{name} missing:\n{text}");
    }
}

#[test]
fn an_unknown_defect_is_refused_before_connecting() {
    let output = bin()
        .args(["--url", "https://127.0.0.1:1/interoperabilidade/rest/v3/"])
        .args(["agent", "--defect", "forget-everything"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let text = String::from_utf8(output.stderr).unwrap();
    assert!(
        text.contains("defeito desconhecido: forget-everything"),
        "{text}"
    );
}
