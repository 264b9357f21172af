//! The suite against every mutant of the reference agent: which scenarios catch each one.

use pen_client::agent::Defect;

use super::{run, HarnessError, Progress, RunOptions};
use crate::scenario::Scenario;
use crate::target::Target;
use crate::verdict::{RunReport, ScenarioResult, Verdict};

struct Quiet;

impl Progress for Quiet {
    fn started(&self, _: &Scenario) {}
    fn finished(&self, _: &ScenarioResult) {}
}

/// The mutants some scenario claims to catch (the rest are judged by the homologation
/// rehearsal's requirements).
///
/// # Errors
/// A scenario file that does not load.
pub fn claimed() -> Result<Vec<Defect>, HarnessError> {
    let scenarios =
        crate::scenario::load_all().map_err(|e| HarnessError(format!("cenários: {e}")))?;
    Ok(Defect::ALL
        .into_iter()
        .filter(|d| {
            scenarios
                .iter()
                .any(|s| s.catches.iter().any(|c| c == d.name()))
        })
        .collect())
}

/// Runs the suite against every mutant a scenario claims (see [`claimed`]): per mutant, the
/// scenarios that failed (caught it) and the whole report.
///
/// # Errors
/// As [`run`].
pub async fn mutants(
    seed: Option<u64>,
) -> Result<Vec<(Defect, Vec<String>, RunReport)>, HarnessError> {
    // One PKI for all the runs: key generation is the slowest part of a run's setup.
    let pki = tempfile::tempdir().map_err(|e| HarnessError(format!("pasta temporária: {e}")))?;
    super::ensure_pki(pki.path())?;
    let mut out = Vec::new();
    for defect in claimed()? {
        let report = run(
            RunOptions {
                pki_dir: Some(pki.path().to_path_buf()),
                seed,
                ..RunOptions::new(Target::mutant(defect))
            },
            &Quiet,
        )
        .await?;
        let caught = report
            .results
            .iter()
            .filter(|r| matches!(r.verdict, Verdict::Fail { .. }))
            .map(|r| r.id.clone())
            .collect();
        out.push((defect, caught, report));
    }
    Ok(out)
}
