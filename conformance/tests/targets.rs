//! Targets: the example `target.toml` integrators copy parses into the harness's type, bad ones
//! are refused with the key named, and a command trigger runs its template with quoted values.

use pen_conformance::target::{
    TargetConfig, Trigger, TriggerConfig, TriggerOutcome, TriggerRequest,
};

fn example() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../ci/examples/target.toml")
}

#[test]
fn the_example_target_parses() {
    let config = TargetConfig::load(&example()).unwrap();
    assert_eq!(config.sut.organisation, "org-a");
    assert_eq!(config.sut.unidade, "1/152254");
    assert_eq!(config.sut.max_document_mb, Some(50));
    assert_eq!(config.sut.unmapped_especie, Some(5));
    assert_eq!(config.simulator.addr.port(), 8443);
    assert!(matches!(
        config.trigger,
        TriggerConfig::Command {
            timeout_secs: 300,
            ..
        }
    ));
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
    let minimal = dir.path().join("m.toml");
    std::fs::write(&minimal, "name = \"mínimo\"\n").unwrap();
    let config = TargetConfig::load(&minimal).unwrap();
    assert_eq!(config.trigger, TriggerConfig::None);
    assert!(!Trigger::from_config(&config.trigger).available());
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
    }
}

#[tokio::test]
async fn a_command_trigger_gets_quoted_values_and_its_exit_status_counts() {
    let trigger = Trigger::from_config(&TriggerConfig::Command {
        send: "test {nup} = '00394.000101/2025-61' && test {pasta} = '/tmp/uma pasta com espaços' && test {acao} = enviar".into(),
        return_: "exit 0".into(),
        timeout_secs: 10,
    });
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
    let declining = Trigger::from_config(&TriggerConfig::Command {
        send: "echo 'sem interessados' >&2; exit 3".into(),
        return_: "exit 0".into(),
        timeout_secs: 10,
    });
    assert_eq!(
        declining.fire(&request("1")).await.unwrap(),
        TriggerOutcome::Declined("sem interessados".into())
    );
}
