//! The receive-throughput load: a small mixed load against the reference agent completes, every
//! trâmite is accounted for from the journal, and the JSON and HTML reports are written. No
//! timing is asserted: figures are measured by `pen-conformance load`, not by tests.

use pen_conformance::load::{self, LoadOptions, LoadProgress, LoadReport, Pace};
use pen_conformance::report;
use pen_conformance::target::Target;

struct Quiet;

impl LoadProgress for Quiet {
    fn injected(&self, _: usize) {}
    fn finished(&self, _: usize) {}
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mixed_load_against_the_reference_completes_and_is_reported() {
    let options = LoadOptions {
        count: 30,
        pace: Pace::Closed { concurrency: 6 },
        documents: 2,
        component_bytes: 20_000,
        avulso_share: 0.2,
        refuse_share: 0.2,
        senders: 2,
        time_limit_secs: 120,
    };
    let report = load::run(Target::reference(), options, Some(5), &Quiet)
        .await
        .unwrap();
    assert_eq!(report.injected, 30, "{report:#?}");
    assert_eq!(report.injection_errors, 0);
    assert_eq!(report.unfinished, 0, "{report:#?}");
    assert_eq!(report.concluded + report.refused, 30);
    assert!(report.concluded > 0 && report.refused > 0, "{report:#?}");
    assert_eq!(report.latencies.concluded_ms.count, report.concluded);
    assert_eq!(report.latencies.refused_ms.count, report.refused);
    let c = report.latencies.concluded_ms;
    assert!(c.p50 <= c.p95 && c.p95 <= c.p99 && c.p99 <= c.max);
    assert_eq!(report.timeline.iter().sum::<usize>(), 30);
    assert!((0.0..=1.0).contains(&report.breakdown.simulator_share));

    let dir = tempfile::tempdir().unwrap();
    let (json, html) = (dir.path().join("carga.json"), dir.path().join("carga.html"));
    report::load::write(&report, Some(&json), Some(&html)).unwrap();
    let back: LoadReport = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    // Floats go through text: the same figures, to the last few bits.
    assert_eq!(
        (back.injected, back.concluded, back.refused),
        (30, report.concluded, report.refused)
    );
    assert_eq!(back.timeline, report.timeline);
    assert!((back.latencies.concluded_ms.p99 - c.p99).abs() < 1e-6);
    let page = std::fs::read_to_string(&html).unwrap();
    assert_eq!(page.matches("<svg").count(), 2, "two charts");
    for asset in ["<script", "<link", "src="] {
        assert!(!page.contains(asset), "{asset}");
    }
}

#[tokio::test]
async fn out_of_bounds_counts_are_refused() {
    let options = LoadOptions {
        count: load::MAX_COUNT + 1,
        ..LoadOptions::default()
    };
    let err = load::run(Target::reference(), options, None, &Quiet)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("--count"), "{err}");
}
