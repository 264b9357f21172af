//! The runner: sets up the platform, the counterpart organisation and the SUT, checks that the
//! SUT reaches the platform, runs each scenario's steps, and turns what the journal shows into
//! verdicts.
//!
//! Every wait is a journal wait with a deadline; every scenario runs in its own task with an
//! overall limit, so a panic or a hang becomes an `error` verdict, never the harness's end.
//! Judgements read typed journal entries (the operation of a request, its status and
//! `codigoErro`, the situação a trâmite reached), never paths or message texts.
//!
//! # Layout
//! - [`setup`] — PKI, platform (embedded, or the one `serve` keeps up), counterpart, SUT,
//!   pre-flight; `serve` itself.
//! - `harness` — what scenarios act through, and the questions steps ask of the journal.
//! - `steps` — one function per step kind, grouped by who acts.
//! - `evidence` — journal entries as a person reads them.
//! - [`mutants`](mod@mutants) — the suite against each deliberately broken reference agent.

pub(crate) mod evidence;
pub(crate) mod harness;
pub mod mutants;
pub mod setup;
mod steps;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

pub use mutants::{claimed, mutants};
pub use setup::{ensure_pki, print_configuration, serve, REFERENCE_BLOCK, REFERENCE_MAX_MB};

use crate::scenario::Scenario;
use crate::target::Target;
use crate::verdict::{RunReport, ScenarioResult, StepLog, Verdict};
use harness::{lock_saved, Harness, StepError};

pub(crate) use setup::Setup;

/// The counterpart organisation and its unit.
pub const COUNTERPART_ORG: &str = "org-b";
pub const COUNTERPART_UNIT: (u64, &str) = (1, "159098");

/// The harness could not run (configuration, PKI, ports, a SUT that never reached the
/// platform): exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct HarnessError(pub String);

/// Told as the run goes.
pub trait Progress: Send + Sync {
    fn started(&self, scenario: &Scenario);
    fn finished(&self, result: &ScenarioResult);
}

/// What to run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub target: Target,
    /// Scenario ids; empty: all.
    pub only: Vec<String>,
    /// Seed of the run's NUPs; drawn from the clock and printed when absent.
    pub seed: Option<u64>,
    /// Where to keep the PKI of the reference target (a temporary folder when absent).
    pub pki_dir: Option<PathBuf>,
}

impl RunOptions {
    /// Every scenario against `target`, seed from the clock.
    #[must_use]
    pub fn new(target: Target) -> Self {
        RunOptions {
            target,
            only: Vec::new(),
            seed: None,
            pki_dir: None,
        }
    }
}

pub(crate) fn clock_seed() -> u64 {
    u64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(7, |d| d.as_micros() % 1_000_000_007),
    )
    .unwrap_or(7)
}

/// The scenarios a run asks for, in the suite's order.
pub(crate) fn selected(only: &[String]) -> Result<Vec<Scenario>, HarnessError> {
    let mut scenarios =
        crate::scenario::load_all().map_err(|e| HarnessError(format!("cenários: {e}")))?;
    if !only.is_empty() {
        for id in only {
            if !scenarios.iter().any(|s| &s.id == id) {
                return Err(HarnessError(format!("cenário desconhecido: {id}")));
            }
        }
        scenarios.retain(|s| only.contains(&s.id));
    }
    Ok(scenarios)
}

/// Runs the suite.
///
/// # Errors
/// The harness could not set up (PKI, ports, a broken scenario file), or the SUT never
/// reached the platform (the pre-flight).
pub async fn run(options: RunOptions, progress: &dyn Progress) -> Result<RunReport, HarnessError> {
    let started = Instant::now();
    let started_at = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let seed = options.seed.unwrap_or_else(clock_seed);
    let scenarios = selected(&options.only)?;

    let (setup, harness) = Setup::start(&options, seed, None).await?;
    if let Err(e) = setup::preflight(&harness).await {
        setup.shutdown().await;
        return Err(e);
    }
    let harness = Arc::new(harness);
    let mut results = Vec::new();
    for scenario in scenarios {
        progress.started(&scenario);
        let result = run_scenario(harness.clone(), scenario).await;
        progress.finished(&result);
        results.push(result);
    }
    setup.shutdown().await;
    Ok(RunReport {
        suite_version: crate::scenario::suite_version(),
        target: options.target.label(),
        seed,
        started_at,
        duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        results,
    })
}

async fn run_scenario(harness: Arc<Harness>, scenario: Scenario) -> ScenarioResult {
    run_scenario_named(harness, scenario).await.0
}

/// A scenario's result and the trâmites its steps named.
pub(crate) async fn run_scenario_named(
    harness: Arc<Harness>,
    scenario: Scenario,
) -> (ScenarioResult, HashMap<String, harness::Named>) {
    let started = Instant::now();
    let base = ScenarioResult {
        id: scenario.id.clone(),
        title: scenario.title.clone(),
        family: scenario.family.clone(),
        side: scenario.side,
        spec: scenario.spec.clone(),
        verdict: Verdict::Pass,
        duration_ms: 0,
        steps: Vec::new(),
    };
    let (verdict, steps, named) = if let Some(reason) = steps::skip_reason(&harness, &scenario) {
        (Verdict::Skipped { reason }, Vec::new(), HashMap::new())
    } else {
        // Own task (a panic is an error verdict) and an overall limit (a hang is one too).
        let limit = harness.deadline(&scenario)
            * u32::try_from(scenario.steps.len() + 2).unwrap_or(u32::MAX);
        let task = tokio::spawn(execute(harness.clone(), scenario.clone()));
        match tokio::time::timeout(limit, task).await {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(join)) => (
                Verdict::Error {
                    step: None,
                    message: format!("o harness falhou: {join}"),
                },
                Vec::new(),
                HashMap::new(),
            ),
            Err(_) => (
                Verdict::Error {
                    step: None,
                    message: format!("o cenário não terminou em {} s", limit.as_secs()),
                },
                Vec::new(),
                HashMap::new(),
            ),
        }
    };
    let _ = harness.control.clear_faults().await;
    // A scenario that unregistered the SUT's certificate and stopped early gives it back.
    let saved = lock_saved(&harness.saved_fingerprint).take();
    if let Some(fingerprint) = saved {
        steps::restore_fingerprint(&harness, fingerprint).await;
    }
    let result = ScenarioResult {
        verdict,
        steps,
        duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        ..base
    };
    (result, named)
}

type Outcome = (Verdict, Vec<StepLog>, HashMap<String, harness::Named>);

async fn execute(harness: Arc<Harness>, scenario: Scenario) -> Outcome {
    let mut named = HashMap::new();
    let mut logs = Vec::new();
    if let Err(e) = harness.control.clear_faults().await {
        return (
            Verdict::Error {
                step: None,
                message: e.to_string(),
            },
            logs,
            named,
        );
    }
    let begun = harness.control.last_seq().await.unwrap_or(0);
    for step in &scenario.steps {
        let started = Instant::now();
        let mark = match harness.control.last_seq().await {
            Ok(seq) => seq,
            Err(e) => {
                return (
                    Verdict::Error {
                        step: Some(step.describe()),
                        message: e.to_string(),
                    },
                    logs,
                    named,
                )
            }
        };
        let ctx = steps::StepCtx {
            h: &harness,
            scenario: &scenario,
            begun,
            mark,
            deadline: Instant::now() + harness.deadline(&scenario),
        };
        let outcome = ctx.run(step, &mut named).await;
        logs.push(StepLog {
            description: step.describe(),
            ok: outcome.is_ok(),
            duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        });
        match outcome {
            Ok(()) => {}
            Err(StepError::Fail {
                expected,
                observed,
                evidence,
                hint,
            }) => {
                return (
                    Verdict::Fail {
                        step: step.describe(),
                        expected,
                        observed,
                        evidence,
                        hint,
                    },
                    logs,
                    named,
                )
            }
            Err(StepError::Skip(reason)) => return (Verdict::Skipped { reason }, logs, named),
            Err(StepError::Harness(message)) => {
                return (
                    Verdict::Error {
                        step: Some(step.describe()),
                        message,
                    },
                    logs,
                    named,
                )
            }
        }
    }
    (Verdict::Pass, logs, named)
}
