//! The documented regeneration command, `pen-simulator certs init --dir DIR`, run as a user runs it.

use std::process::Command;

use pen_simulator::pki::Pki;

#[test]
fn certs_init_writes_a_loadable_pki_and_reports_it() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_pen-simulator"))
        .args(["certs", "init", "--dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let pki = Pki::load(dir.path()).unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    for org in &pki.manifest().organisations {
        assert!(stdout.contains(&org.files.sha1_fingerprint), "{stdout}");
    }
    assert_eq!(pki.manifest().organisations.len(), 3);
    pki.server_config().unwrap();
}

#[test]
fn unknown_command_is_a_usage_error() {
    let output = Command::new(env!("CARGO_BIN_EXE_pen-simulator"))
        .arg("frobnicate")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
}
