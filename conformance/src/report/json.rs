//! The run as pretty JSON, for scripts: the [`RunReport`] with its [`Totals`] and exit code added
//! at the top level.
//!
//! ```json
//! {"suite_version": "…", "target": "…", "seed": 42, "started_at": "…", "duration_ms": 1234,
//!  "totals": {"passed": 1, "failed": 0, "skipped": 0, "errors": 0}, "exit_code": 0,
//!  "results": [{"id": "…", "verdict": {"verdict": "pass"}, …}]}
//! ```
//!
//! The file deserializes back into a [`RunReport`] (the added members are ignored), so the JSON
//! is also the format to compare or re-render runs from.

use serde::Serialize;

use crate::verdict::{RunReport, ScenarioResult, Totals};

/// The top-level JSON object: the report's members in a reading order, with the derived totals
/// and exit code before the (long) results.
#[derive(Debug, Serialize)]
struct JsonReport<'a> {
    suite_version: &'a str,
    target: &'a str,
    seed: u64,
    started_at: &'a str,
    duration_ms: u64,
    totals: Totals,
    exit_code: i32,
    results: &'a [ScenarioResult],
}

/// The run as a pretty-printed JSON document (ending with a newline).
pub fn render(report: &RunReport) -> serde_json::Result<String> {
    let doc = JsonReport {
        suite_version: &report.suite_version,
        target: &report.target,
        seed: report.seed,
        started_at: &report.started_at,
        duration_ms: report.duration_ms,
        totals: report.totals(),
        exit_code: report.exit_code(),
        results: &report.results,
    };
    let mut text = serde_json::to_string_pretty(&doc)?;
    text.push('\n');
    Ok(text)
}
