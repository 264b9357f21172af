//! What a run produces: one [`ScenarioResult`] per scenario with its [`Verdict`], gathered in a
//! [`RunReport`] that every report format renders. Verdicts are data, never panics: a failing
//! system under test is a `fail`, a harness that could not do its job is an `error`.

use serde::{Deserialize, Serialize};

/// Which side of a trâmite the system under test plays in a scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    /// The SUT receives (the harness's counterpart sends).
    Recipient,
    /// The SUT sends (through its trigger).
    Sender,
    /// Both, in turn.
    Both,
}

impl Side {
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Side::Recipient => "destinatário",
            Side::Sender => "remetente",
            Side::Both => "ambos",
        }
    }
}

/// The outcome of one scenario.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Verdict {
    Pass,
    /// The SUT did not do what the protocol asks.
    Fail {
        /// The step that failed (its description).
        step: String,
        /// What the SUT should have done.
        expected: String,
        /// What it did, as seen on the wire.
        observed: String,
        /// Journal lines that show it.
        evidence: Vec<String>,
        /// The rule, with the spec section it comes from.
        hint: String,
    },
    /// Not run, and why (e.g. the target has no trigger for sender-side steps).
    Skipped {
        reason: String,
    },
    /// The harness itself failed (not the SUT's fault).
    Error {
        step: Option<String>,
        message: String,
    },
}

impl Verdict {
    #[must_use]
    pub fn label(&self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail { .. } => "fail",
            Verdict::Skipped { .. } => "skipped",
            Verdict::Error { .. } => "error",
        }
    }
}

/// One step as it ran.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepLog {
    pub description: String,
    pub ok: bool,
    pub duration_ms: u64,
}

/// One scenario as it ran.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScenarioResult {
    pub id: String,
    pub title: String,
    pub family: String,
    pub side: Side,
    /// Spec reference (`rest-v3.md §5.1`).
    pub spec: String,
    pub verdict: Verdict,
    pub duration_ms: u64,
    pub steps: Vec<StepLog>,
}

/// A whole run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunReport {
    /// The harness version and a digest of the scenario files.
    pub suite_version: String,
    /// What ran as the SUT (`reference`, `reference --mutant forget-nre`, a target file's name).
    pub target: String,
    /// The seed the run's NUPs and choices derive from.
    pub seed: u64,
    /// RFC 3339, UTC.
    pub started_at: String,
    pub duration_ms: u64,
    pub results: Vec<ScenarioResult>,
}

/// Counts of a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
    pub errors: usize,
}

impl RunReport {
    #[must_use]
    pub fn totals(&self) -> Totals {
        let mut t = Totals::default();
        for r in &self.results {
            match r.verdict {
                Verdict::Pass => t.passed += 1,
                Verdict::Fail { .. } => t.failed += 1,
                Verdict::Skipped { .. } => t.skipped += 1,
                Verdict::Error { .. } => t.errors += 1,
            }
        }
        t
    }

    /// 0 all passed (or skipped), 1 the SUT failed some, 2 the harness or its configuration
    /// failed (this wins over failures: the run cannot be trusted).
    #[must_use]
    pub fn exit_code(&self) -> i32 {
        let t = self.totals();
        if t.errors > 0 {
            2
        } else if t.failed > 0 {
            1
        } else {
            0
        }
    }
}
