//! JUnit XML for CI test-report views (GitLab's `artifacts:reports:junit`, GitHub test-report
//! actions, Jenkins), written with `quick-junit`.
//!
//! Shape: `<testsuites name="pen-conformance">`, one `<testsuite>` per scenario family (in run
//! order), one `<testcase>` per scenario with `classname` = family and `name` = `id — title`.
//! A fail is a `<failure>` whose message is expected / observed and whose body holds the step,
//! the rule (hint) and the journal evidence; a skip is `<skipped>` with its reason; a harness
//! error is an `<error>`. Every suite carries the properties `suite_version`, `target` and `seed`
//! (JUnit has no properties on `<testsuites>`); a run without scenarios still has one empty suite
//! named `pen-conformance` so that those properties are never lost.

use std::fmt::Write as _;
use std::time::Duration;

use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};

use crate::verdict::{RunReport, ScenarioResult, Verdict};

/// The name of the `<testsuites>` element.
pub const REPORT_NAME: &str = "pen-conformance";

/// The JUnit model of a run (for callers that want to add to it before serializing).
#[must_use]
pub fn to_junit(report: &RunReport) -> Report {
    let mut junit = Report::new(REPORT_NAME);
    junit.set_time(Duration::from_millis(report.duration_ms));

    let groups = super::by_family(report);
    if groups.is_empty() {
        junit.add_test_suite(suite(report, REPORT_NAME, &[]));
    }
    for (family, results) in groups {
        junit.add_test_suite(suite(report, family, &results));
    }
    junit
}

/// The run as a JUnit XML document.
pub fn render(report: &RunReport) -> Result<String, quick_junit::SerializeError> {
    to_junit(report).to_string()
}

fn suite(report: &RunReport, name: &str, results: &[&ScenarioResult]) -> TestSuite {
    let mut suite = TestSuite::new(name);
    suite.add_properties([
        Property::new("suite_version", report.suite_version.as_str()),
        Property::new("target", report.target.as_str()),
        Property::new("seed", report.seed.to_string()),
    ]);
    let total_ms: u64 = results.iter().map(|r| r.duration_ms).sum();
    suite.set_time(Duration::from_millis(total_ms));
    suite.add_test_cases(results.iter().map(|r| test_case(r)));
    suite
}

fn test_case(result: &ScenarioResult) -> TestCase {
    let status = match &result.verdict {
        Verdict::Pass => TestCaseStatus::success(),
        Verdict::Fail {
            step,
            expected,
            observed,
            evidence,
            hint,
        } => {
            let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
            status
                .set_message(format!("esperado: {expected} / observado: {observed}"))
                .set_type("fail")
                .set_description(failure_body(step, expected, observed, hint, evidence));
            status
        }
        Verdict::Skipped { reason } => {
            let mut status = TestCaseStatus::skipped();
            status.set_message(reason.as_str());
            status
        }
        Verdict::Error { step, message } => {
            let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
            status.set_message(message.as_str()).set_type("error");
            let mut body = String::new();
            if let Some(step) = step {
                let _ = writeln!(body, "passo: {step}");
            }
            let _ = writeln!(
                body,
                "erro do harness (não do sistema sob teste): {message}"
            );
            status.set_description(body);
            status
        }
    };
    let mut case = TestCase::new(format!("{} — {}", result.id, result.title), status);
    case.set_classname(result.family.as_str())
        .set_time(Duration::from_millis(result.duration_ms));
    if !result.steps.is_empty() {
        case.set_system_out(steps_text(result));
    }
    case
}

fn failure_body(
    step: &str,
    expected: &str,
    observed: &str,
    hint: &str,
    evidence: &[String],
) -> String {
    let mut body = String::new();
    let _ = writeln!(body, "passo: {step}");
    let _ = writeln!(body, "esperado: {expected}");
    let _ = writeln!(body, "observado: {observed}");
    let _ = writeln!(body, "regra: {hint}");
    if !evidence.is_empty() {
        let _ = writeln!(body, "evidência (diário do simulador):");
        for line in evidence {
            let _ = writeln!(body, "  {line}");
        }
    }
    body
}

/// The steps as they ran, one per line, for `<system-out>`.
fn steps_text(result: &ScenarioResult) -> String {
    let mut out = String::new();
    for s in &result.steps {
        let mark = if s.ok { "✔" } else { "✘" };
        let _ = writeln!(
            out,
            "{mark} {} ({})",
            s.description,
            super::format_duration(s.duration_ms)
        );
    }
    out
}
