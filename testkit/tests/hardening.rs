//! Issue 16, the edge: what hostile or careless clients used to do to the platform (panic it,
//! hold its connections, stage bytes without a ticket, reach the control plane from a web page)
//! and what it answers now, each provoked over the real listeners.

use serde_json::{json, Value};

use pen_testkit::sim::spawn_simulator;

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
