//! The control plane: faults change exactly what a client observes and reset clears them; the
//! clock jumps days; the journal answers queries and wait-for-event; SPEs can be registered.

use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use pen_protocol::api::{ConteudoDoReciboDeEnvio, Pendencia, TramiteDeProcessoCriado};
use pen_protocol::situacao::Situacao;
use pen_testkit::sim::{spawn_simulator, TestSimulator};
use pen_testkit::TestIdentity;
use serde_json::{json, Value};

use crate::common::{envio, open, processo, situacao, upload, ORG_A, ORG_B};

async fn fault(sim: &TestSimulator, spec: Value) -> u64 {
    let reply = sim.control().post_json("faults", &spec).await;
    assert_eq!(reply.status, 201, "{}", reply.text());
    reply.json::<Value>()["id"].as_u64().unwrap()
}

async fn sent(sim: &TestSimulator) -> TramiteDeProcessoCriado {
    let a = sim.org("org-a");
    let created = open(&a, "processo-simples").await;
    upload(&a, &created, None).await;
    created
}

#[tokio::test]
async fn each_fault_kind_changes_what_a_client_sees_and_reset_clears_them() {
    let sim = spawn_simulator().await;
    let (a, b) = (sim.org("org-a"), sim.org("org-b"));
    let created = sent(&sim).await;

    // 5xx with the platform's body, only for org-b, twice.
    fault(
        &sim,
        json!({"type": "error", "status": 500, "spe": "org-b", "times": 2}),
    )
    .await;
    for _ in 0..2 {
        let reply = b.get("tramites/pendentes").await;
        assert_eq!(reply.status, 500);
        assert_eq!(reply.error().codigo_erro, "9111");
    }
    assert_eq!(
        b.get("tramites/pendentes")
            .await
            .json::<Vec<Pendencia>>()
            .len(),
        1,
        "gone after two"
    );
    a.get("tramites/pendentes").await.ok();

    // Feed outage: the feed is down, everything else works.
    let outage = fault(&sim, json!({"type": "feed_outage"})).await;
    assert_eq!(b.get("tramites/pendentes").await.status, 503);
    b.get(&format!("tramites?IDT={}", created.idt)).await.ok();
    sim.control().delete(&format!("faults/{outage}")).await.ok();
    b.get("tramites/pendentes").await.ok();

    // Latency.
    fault(&sim, json!({"type": "latency", "millis": 300, "path_contains": "tramites/pendentes", "times": 1})).await;
    let started = Instant::now();
    b.get("tramites/pendentes").await.ok();
    assert!(started.elapsed() >= Duration::from_millis(300));

    // A dropped connection: the head arrives, the body never completes.
    fault(&sim, json!({"type": "drop_connection", "method": "GET", "path_contains": "tramites/pendentes", "times": 1})).await;
    let response = b
        .http
        .get(format!("{}tramites/pendentes", sim.base_url))
        .send()
        .await;
    let broken = match response {
        Ok(r) => r.bytes().await.is_err(),
        Err(_) => true,
    };
    assert!(broken, "the connection should have been cut");

    // A recibo de envio whose signature does not verify.
    fault(
        &sim,
        json!({"type": "corrupt_recibo_de_envio", "spe": "org-a"}),
    )
    .await;
    let recibo: ConteudoDoReciboDeEnvio = a
        .get(&format!("tramites/{}/recibo-de-envio", created.idt))
        .await
        .json();
    assert!(
        recibo.verify().is_err(),
        "the corrupted signature must not verify"
    );

    // Reset: no faults, no trâmites, an empty journal.
    assert_eq!(
        sim.control().get("faults").await.json::<Vec<Value>>().len(),
        1
    );
    sim.control().post_json("reset", &json!({})).await.ok();
    assert!(sim
        .control()
        .get("faults")
        .await
        .json::<Vec<Value>>()
        .is_empty());
    let recibo: ConteudoDoReciboDeEnvio = {
        let again = sent(&sim).await;
        a.get(&format!("tramites/{}/recibo-de-envio", again.idt))
            .await
            .json()
    };
    assert!(
        recibo.recibo_de_envio.idt > created.idt,
        "identifiers are never issued twice, a reset notwithstanding (issue 12 §2)"
    );
    assert_ne!(recibo.recibo_de_envio.nre, created.nre);
    recibo.verify().unwrap();
}

#[tokio::test]
async fn clock_advance_cancels_idle_trâmites_for_both_parties() {
    let sim = spawn_simulator().await;
    let created = sent(&sim).await;
    let now: Value = sim
        .control()
        .post_json("clock/advance", &json!({"days": 9}))
        .await
        .json();
    assert_eq!(now["now"], "2025-06-10T13:00:00.000Z");
    for org in ["org-a", "org-b"] {
        assert_eq!(
            situacao(&sim.org(org), created.idt).await,
            Situacao::CanceladoAutomaticamente,
            "{org}"
        );
    }
    let change = sim
        .control()
        .get(&format!(
            "journal?kind=state_change&idt={}&to=10",
            created.idt
        ))
        .await
        .json::<Value>();
    assert_eq!(change["entries"][0]["actor"], "platform");
    let inspected: Value = sim
        .control()
        .get(&format!("tramites/{}", created.idt))
        .await
        .json();
    assert_eq!(inspected["tramite"]["situacaoAtual"], 10);
    assert_eq!(
        (
            inspected["sender"].as_str(),
            inspected["recipient"].as_str()
        ),
        (Some("org-a"), Some("org-b"))
    );
}

#[tokio::test]
async fn journal_wait_for_event_returns_when_it_happens_or_times_out() {
    let sim = spawn_simulator().await;
    let control = sim.control();
    let after = control.get("journal?limit=0").await.json::<Value>()["total"]
        .as_u64()
        .unwrap();
    let waiter = {
        let control = control.clone();
        tokio::spawn(async move {
            control
                .get(&format!(
                    "journal/wait?after={after}&kind=state_change&to=2&timeout_ms=20000"
                ))
                .await
        })
    };
    let created = sent(&sim).await;
    let entry: Value = waiter.await.unwrap().json();
    assert_eq!(
        (entry["idt"].as_u64(), entry["spe"].as_str()),
        (Some(created.idt.0), None)
    );
    let timeout = control
        .get("journal/wait?kind=state_change&to=9&timeout_ms=50")
        .await;
    assert_eq!(timeout.status, 408);
    let requests: Value = control.get("journal?kind=request&spe=org-a").await.json();
    assert!(requests["entries"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["spe"] == "org-a"));
}

#[tokio::test]
async fn journal_stays_within_its_bound_under_load_and_counts_what_it_dropped() {
    let config = pen_simulator::config::PlatformConfig {
        journal_capacity: 64,
        ..pen_simulator::config::PlatformConfig::default()
    };
    let sim = pen_testkit::sim::spawn_simulator_with(config).await;
    let b = sim.org("org-b");
    let calls: Vec<_> = (0..200)
        .map(|_| {
            let b = b.clone();
            tokio::spawn(async move { b.get("tramites/pendentes").await.ok() })
        })
        .collect();
    for call in calls {
        call.await.unwrap();
    }
    let page: Value = sim.control().get("journal?limit=1000").await.json();
    let entries = page["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 64);
    assert_eq!(page["total"], 200);
    assert_eq!(page["dropped"], 136);
    assert!(entries
        .iter()
        .all(|e| e["spe"] == "org-b" && e["kind"] == "request"));
}

#[tokio::test]
async fn an_spe_registered_through_the_control_plane_can_call() {
    let sim = spawn_simulator().await;
    let unregistered = sim.api(&TestIdentity::Unregistered);
    assert_eq!(
        unregistered
            .get("tramites/pendentes")
            .await
            .error()
            .codigo_erro,
        "9001"
    );
    let manifest = pen_testkit::test_pki().manifest().clone();
    let negative = manifest
        .negative
        .iter()
        .find(|n| n.id == "unregistered")
        .unwrap();
    let body = json!({
        "id": "org-x", "nome": "Ministério Sem Integração", "common_name": negative.files.common_name,
        "sha1_fingerprint": negative.files.sha1_fingerprint,
        "estruturas": [{"identificacaoDoRepositorioDeEstruturas": 1, "numeroDeIdentificacaoDaEstrutura": "160000"}],
    });
    assert_eq!(sim.control().post_json("spes", &body).await.status, 201);
    assert!(unregistered
        .get("tramites/pendentes")
        .await
        .json::<Vec<Pendencia>>()
        .is_empty());
    let taken = json!({"id": "org-y", "nome": "x", "common_name": "x", "sha1_fingerprint": "00",
        "estruturas": [{"identificacaoDoRepositorioDeEstruturas": 1, "numeroDeIdentificacaoDaEstrutura": "152254"}]});
    assert_eq!(
        sim.control().post_json("spes", &taken).await.status,
        409,
        "a structure answers to one SPE"
    );
}

/// The harness sends a system under test what no correct sender would: a process without
/// interessados, injected past validation, components included.
#[tokio::test]
async fn injection_past_validation_reaches_the_recipient() {
    let sim = spawn_simulator().await;
    let mut body = envio(processo("processo-simples"), ORG_A, ORG_B, None);
    body.processo.interessados.clear();
    let refused = sim
        .org("org-a")
        .post_json("tramites/processo", &body)
        .await
        .error();
    assert_eq!(refused.codigo_erro, "9010", "the REST call validates");

    let hash = body.processo.documentos[0].componentes_digitais[0]
        .hash_conteudo()
        .unwrap()
        .to_owned();
    let bytes = crate::common::bytes_of(&hash);
    let injection =
        json!({"as": "org-a", "processo": body, "componentes": {hash: STANDARD.encode(&bytes)}});
    let reply = sim.control().post_json("inject", &injection).await;
    assert_eq!(reply.status, 201, "{}", reply.text());
    let created: TramiteDeProcessoCriado = serde_json::from_slice(&reply.body).unwrap();
    let b = sim.org("org-b");
    assert_eq!(
        b.get("tramites/pendentes").await.json::<Vec<Pendencia>>(),
        [Pendencia {
            idt: created.idt,
            status: Situacao::ComponentesEnviadosRemetente
        }]
    );
    let metadados: Value = b.get(&format!("tramites/{}", created.idt)).await.json();
    assert!(metadados["processo"]
        .get("interessados")
        .is_none_or(|i| i.as_array().is_some_and(Vec::is_empty)));

    let validated = json!({"as": "org-a", "validate": true, "processo": body});
    assert_eq!(
        sim.control().post_json("inject", &validated).await.status,
        422
    );
    assert_eq!(
        sim.control()
            .post_json("inject", &json!({"as": "org-z", "processo": body}))
            .await
            .status,
        404
    );
}

/// Over mutual TLS (forced here on loopback; always the case off loopback) the control plane
/// serves the administrator's certificate and nobody else.
#[tokio::test]
async fn mutual_tls_control_plane_serves_only_the_administrator() {
    use pen_simulator::runtime::{Simulator, SimulatorOptions};

    let mut options = SimulatorOptions::new(pen_testkit::certs_dir());
    options.control_addr = Some(std::net::SocketAddr::from(([127, 0, 0, 1], 0)));
    options.control_mtls = true;
    let simulator = Simulator::bind(options).await.unwrap();
    let control = simulator.control_url().unwrap();
    assert!(control.starts_with("https://"), "{control}");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(simulator.run_until(async {
        let _ = stopped.await;
    }));

    let admin = pen_testkit::https_client(&TestIdentity::Admin);
    let health = admin.get(format!("{control}health")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let org = pen_testkit::https_client(&TestIdentity::org("org-a"));
    assert_eq!(
        org.get(format!("{control}health"))
            .send()
            .await
            .unwrap()
            .status(),
        403
    );
    let nobody = pen_testkit::https_client(&TestIdentity::NoClientCert);
    assert!(nobody.get(format!("{control}health")).send().await.is_err());

    let _ = stop.send(());
    running.await.unwrap().unwrap();
}
