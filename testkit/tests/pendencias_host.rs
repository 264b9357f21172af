//! Issue 12 §4: the pendências host as in production. mod-sei-pen is configured with the
//! pendências service at the root of its own host (`PEN.WebServicePendencias =
//! https://pendencias…/`); `serve --pendencias-addr` gives it a listener of its own, over the
//! same mutual TLS, whose `/` is the long-poll service.

use pen_protocol::api::PendenciaLongPoll;
use pen_protocol::error::ErrorBody;
use pen_protocol::situacao::Situacao;
use pen_simulator::journal::{Event, JournalQuery, Operation};
use pen_simulator::runtime::{Simulator, SimulatorOptions};
use pen_testkit::sim::{Api, START};
use pen_testkit::TestIdentity;
use serde_json::json;

use crate::common::{open, upload};

#[tokio::test]
async fn a_sei_configured_as_for_production_long_polls_the_root_of_the_pendencias_host() {
    let mut options = SimulatorOptions::new(pen_testkit::certs_dir());
    options.clock = std::sync::Arc::new(pen_simulator::clock::ManualClock::new(START));
    options.control_addr = Some(std::net::SocketAddr::from(([127, 0, 0, 1], 0)));
    options.pendencias_addr = Some(std::net::SocketAddr::from(([127, 0, 0, 1], 0)));
    let simulator = Simulator::bind(options).await.unwrap();
    let (base_url, control_url) = (simulator.base_url(), simulator.control_url().unwrap());
    let pendencias = simulator.pendencias_url().unwrap();
    assert!(
        pendencias.starts_with("https://127.0.0.1:") && pendencias.ends_with('/'),
        "{pendencias}"
    );
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(simulator.run_until(async {
        let _ = stopped.await;
    }));

    let org = |id: &str| Api {
        http: pen_testkit::https_client(&TestIdentity::org(id)),
        base: base_url.clone(),
    };
    let created = open(&org("org-a"), "processo-simples").await;
    upload(&org("org-a"), &created, None).await;

    // The module's own call: the root, the acknowledged IDT, over h2 and over HTTP/1.1.
    let poll = |client: reqwest::Client, ack: u64| {
        let url = format!("{pendencias}?idTramiteDaPendenciaRecebida={ack}&aguardar=0");
        async move {
            let reply = client.get(url).send().await.unwrap();
            assert_eq!(reply.status(), 200);
            reply.json::<PendenciaLongPoll>().await.unwrap()
        }
    };
    let b = TestIdentity::org("org-b");
    let found = poll(pen_testkit::https_client(&b), 0).await;
    assert!(found.encontrou);
    assert_eq!(
        (found.idt, found.status),
        (
            Some(created.idt),
            Some(Situacao::ComponentesEnviadosRemetente)
        )
    );
    let nothing = poll(pen_testkit::https_client_http1(&b), created.idt.0).await;
    assert!(!nothing.encontrou, "pushed once, whichever host");

    // Journalled as the long-poll host, with who called.
    let control = pen_simulator::control_client::ControlClient::plain(control_url).unwrap();
    let query = JournalQuery {
        kind: Some("request".to_owned()),
        spe: Some("org-b".to_owned()),
        ..JournalQuery::default()
    };
    let long_polls = control
        .entries(&query)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| {
            matches!(
                &e.event,
                Event::Request {
                    operation: Operation::LongPoll,
                    status: 200,
                    ..
                }
            )
        })
        .count();
    assert_eq!(long_polls, 2);

    // Faults of the feed reach it; nothing but the long-poll lives there; and it is mutual TLS.
    let outage = serde_json::from_value(json!({"type": "feed_outage", "times": 1})).unwrap();
    control.add_fault(&outage).await.unwrap();
    let down = pen_testkit::https_client(&b)
        .get(&pendencias)
        .send()
        .await
        .unwrap();
    assert_eq!(down.status(), 503);
    let rest = pen_testkit::https_client(&b)
        .get(format!(
            "{pendencias}interoperabilidade/rest/v3/healthcheck"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(rest.status(), 404);
    assert_eq!(rest.json::<ErrorBody>().await.unwrap().codigo_erro, "9110");
    let anonymous = pen_testkit::https_client(&TestIdentity::NoClientCert)
        .get(&pendencias)
        .send()
        .await;
    assert!(anonymous.is_err(), "{anonymous:?}");

    let _ = stop.send(());
    running.await.unwrap().unwrap();
}
