//! The test identities against a real `pen_simulator::server::Server` on loopback.

use std::error::Error as _;
use std::sync::Arc;

use axum::extract::Extension;
use axum::routing::get;
use axum::Router;
use pen_simulator::server::{PeerIdentity, Server};
use pen_testkit::{https_client, https_client_http1, test_pki, TestIdentity};
use tokio::sync::oneshot;

async fn common_name(Extension(peer): Extension<PeerIdentity>) -> String {
    peer.common_name
}

/// Every `source()` of `error`, outermost first, one per line.
fn chain(error: &reqwest::Error) -> String {
    let mut lines = vec![error.to_string()];
    let mut source = error.source();
    while let Some(cause) = source {
        lines.push(cause.to_string());
        source = cause.source();
    }
    lines.join("\n")
}

#[tokio::test]
async fn org_a_reaches_the_server_and_no_certificate_is_refused() {
    let tls = Arc::new(test_pki().server_config().unwrap());
    let server = Server::bind("127.0.0.1:0".parse().unwrap(), tls)
        .await
        .unwrap();
    let url = format!("https://127.0.0.1:{}/cn", server.local_addr().port());
    let (stop, stopped) = oneshot::channel::<()>();
    let task = server.spawn(Router::new().route("/cn", get(common_name)), async {
        let _ = stopped.await;
    });

    let expected = test_pki()
        .manifest()
        .organisation("org-a")
        .unwrap()
        .files
        .common_name
        .clone();
    for client in [
        https_client(&TestIdentity::org("org-a")),
        https_client_http1(&TestIdentity::org("org-a")),
    ] {
        let body = client.get(&url).send().await.unwrap().text().await.unwrap();
        assert_eq!(body, expected);
    }

    let error = https_client(&TestIdentity::NoClientCert)
        .get(&url)
        .send()
        .await
        .unwrap_err();
    let chain = chain(&error);
    assert!(
        chain.contains("alert") && chain.contains("CertificateRequired"),
        "the TLS alert is in the chain:\n{chain}"
    );

    let _ = stop.send(());
    task.await.unwrap().unwrap();
}
