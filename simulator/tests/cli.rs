//! The documented regeneration command, `pen-simulator certs init --dir DIR`, run as a user runs it.

use std::process::Command;

use pen_simulator::pki::Pki;
use pen_simulator::server::Server;

/// Also issue 12 §3: a SEI in a container reaches the simulator as `pen-simulator` and its
/// Guzzle verifies that name, so `certs init --name pen-simulator` certifies it (and
/// `--ip` an address): a client that resolves the name to 127.0.0.1 verifies the server for it.
#[tokio::test]
async fn certs_init_writes_a_loadable_pki_and_reports_it() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_pen-simulator"))
        .args([
            "certs",
            "init",
            "--name",
            "pen-simulator",
            "--ip",
            "10.0.0.5",
            "--dir",
        ])
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
    assert!(
        stdout.contains("localhost, pen-simulator, 127.0.0.1, ::1, 10.0.0.5"),
        "{stdout}"
    );

    let tls = std::sync::Arc::new(pki.server_config().unwrap());
    let server = Server::bind("127.0.0.1:0".parse().unwrap(), tls)
        .await
        .unwrap();
    let addr = server.local_addr();
    let app = axum::Router::new().route("/", axum::routing::get(|| async { "ok" }));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = server.spawn(app, async {
        let _ = stopped.await;
    });
    let ca = std::fs::read(pki.path(&pki.manifest().ca)).unwrap();
    let identity = org_a_identity(&pki);
    let client = |name: &str| {
        reqwest::Client::builder()
            .tls_certs_only([reqwest::Certificate::from_pem(&ca).unwrap()])
            .identity(reqwest::Identity::from_pem(&identity).unwrap())
            .resolve(name, addr)
            .no_proxy()
            .build()
            .unwrap()
    };
    let by_name = client("pen-simulator")
        .get(format!("https://pen-simulator:{}/", addr.port()))
        .send()
        .await
        .unwrap();
    assert_eq!(by_name.text().await.unwrap(), "ok");
    // A name nobody asked for is not certified: the client's verification is real.
    let other = client("other.example")
        .get(format!("https://other.example:{}/", addr.port()))
        .send()
        .await;
    assert!(other.is_err(), "{other:?}");
    let _ = stop.send(());
    running.await.unwrap().unwrap();
}

#[test]
fn certs_init_refuses_a_name_that_cannot_be_certified() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_pen-simulator"))
        .args(["certs", "init", "--name", "pen simulator", "--dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("not a host name"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(std::fs::read_dir(dir.path()).unwrap().next().is_none());
}

/// org-a's `identity.pem` in a PKI.
fn org_a_identity(pki: &Pki) -> Vec<u8> {
    let files = &pki.manifest().organisation("org-a").unwrap().files;
    std::fs::read(pki.path(&files.identity_pem)).unwrap()
}

#[test]
fn unknown_command_is_a_usage_error() {
    let output = Command::new(env!("CARGO_BIN_EXE_pen-simulator"))
        .arg("frobnicate")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
}

/// `serve --addr 127.0.0.1:0` prints the base URL first, so scripts can use a free port.
#[tokio::test]
async fn serve_prints_its_base_url_first_and_answers_there() {
    use std::io::{BufRead, BufReader};

    let certs = concat!(env!("CARGO_MANIFEST_DIR"), "/../certs");
    /// Stops the server even when an assertion fails first.
    struct KillOnDrop(std::process::Child);
    impl Drop for KillOnDrop {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut child = KillOnDrop(
        Command::new(env!("CARGO_BIN_EXE_pen-simulator"))
            .args([
                "serve",
                "--addr",
                "127.0.0.1:0",
                "--control-addr",
                "127.0.0.1:0",
                "--pendencias-addr",
                "127.0.0.1:0",
                "--pki",
                certs,
                "--profile",
                "compat",
            ])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut stdout = BufReader::new(child.0.stdout.take().unwrap());
    let (mut first, mut second, mut third) = (String::new(), String::new(), String::new());
    stdout.read_line(&mut first).unwrap();
    stdout.read_line(&mut second).unwrap();
    stdout.read_line(&mut third).unwrap();
    let pendencias = third.trim().to_owned();
    assert!(
        pendencias.starts_with("https://127.0.0.1:") && pendencias.ends_with('/'),
        "{pendencias}"
    );
    let control = second.trim().to_owned();
    assert!(
        control.starts_with("http://127.0.0.1:") && control.ends_with("/control/"),
        "{control}"
    );
    let url = first.trim().to_owned();
    assert!(
        url.starts_with("https://127.0.0.1:") && url.ends_with("/interoperabilidade/rest/v3/"),
        "{url}"
    );

    let pki = Pki::load(certs).unwrap();
    let identity = org_a_identity(&pki);
    let client = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(
            &std::fs::read(pki.path(&pki.manifest().ca)).unwrap(),
        )
        .unwrap()])
        .identity(reqwest::Identity::from_pem(&identity).unwrap())
        .no_proxy()
        .build()
        .unwrap();
    let answer = client
        .get(format!("{url}tramites/pendentes?todas=true"))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.text().await.unwrap(), "[]");
    let long_poll = client
        .get(format!(
            "{pendencias}?idTramiteDaPendenciaRecebida=0&aguardar=0"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(long_poll.text().await.unwrap(), r#"{"encontrou":false}"#);
    let plain = reqwest::Client::builder().no_proxy().build().unwrap();
    let health = plain.get(format!("{control}health")).send().await.unwrap();
    assert_eq!(health.status(), 200);
}

/// `--time-scale 1e12` (or a period the platform would add to "now" past the calendar) used to
/// start a simulator whose every request panicked; it is a usage error now, before binding.
#[test]
fn serve_refuses_a_clock_that_would_overflow() {
    for (flag, value) in [
        ("--time-scale", "1e12"),
        ("--time-scale", "0"),
        ("--time-scale", "inf"),
        ("--auto-cancel-days", "3000000"),
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_pen-simulator"))
            .args(["serve", "--addr", "127.0.0.1:0", flag, value])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{flag} {value}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(flag), "{flag} {value}: {stderr}");
        assert!(output.stdout.is_empty(), "nothing was served");
    }
}
