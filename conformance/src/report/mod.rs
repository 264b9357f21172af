//! Renders a [`RunReport`]: live console progress and the JUnit, JSON
//! and HTML files, all written even when scenarios fail.
//!
//! Each format owns its module and renders from the same [`RunReport`]; none of them changes it.
//! Files are written by [`write_all`], each atomically (a temporary file in the destination folder,
//! then a rename), so a crash or a kill never leaves half a report where a CI expects one.
//!
//! # Layout
//! - [`console`] — one line per scenario as it finishes (a progress bar on a terminal) and the
//!   closing summary.
//! - [`junit`] — JUnit XML for CI test-report views: one suite per scenario family.
//! - [`json`] — the run as pretty JSON, with totals and the exit code at the top level.
//! - [`html`] — one self-contained page (inline CSS, no script, no external asset).
//! - [`homologacao`] — the *Relatório de ensaio de homologação* of `pen-conformance homologacao`
//!   (R1–R3 and the production risks) on the console and as JSON, HTML and JUnit.
//! - [`load`] — the load run's JSON and HTML.

pub mod console;
pub mod homologacao;
pub mod html;
pub mod json;
pub mod junit;
pub mod load;

use std::fs;
use std::io::{self, Write as _};
use std::path::Path;

use crate::verdict::{RunReport, ScenarioResult};

/// Writes the reports that were asked for (`None` skips a format), creating missing parent
/// folders. Each file is complete or absent: it is written to a temporary file beside its
/// destination and renamed over it. Errors name the file they concern.
pub fn write_all(
    report: &RunReport,
    junit: Option<&Path>,
    json: Option<&Path>,
    html: Option<&Path>,
) -> io::Result<()> {
    if let Some(path) = junit {
        let xml = junit::render(report).map_err(|e| in_file(path, &io::Error::other(e)))?;
        write_atomically(path, xml.as_bytes())?;
    }
    if let Some(path) = json {
        let text = json::render(report).map_err(|e| in_file(path, &io::Error::other(e)))?;
        write_atomically(path, text.as_bytes())?;
    }
    if let Some(path) = html {
        write_atomically(path, html::render(report).as_bytes())?;
    }
    Ok(())
}

/// Writes `bytes` to `path` through a temporary file in the same folder (so the rename stays on
/// one file system), flushed to disk before the rename.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    fs::create_dir_all(parent).map_err(|e| in_file(parent, &e))?;
    let mut builder = tempfile::Builder::new();
    builder.prefix(".pen-report-").suffix(".tmp");
    // A report is an ordinary file for whoever reads it (a CI uploader, a web server): the
    // default mode of new files (0666 less the umask), not the temporary file's 0600.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        builder.permissions(fs::Permissions::from_mode(0o666));
    }
    let mut tmp = builder
        .tempfile_in(parent)
        .map_err(|e| in_file(parent, &e))?;
    tmp.write_all(bytes).map_err(|e| in_file(path, &e))?;
    tmp.as_file().sync_all().map_err(|e| in_file(path, &e))?;
    tmp.persist(path).map_err(|e| in_file(path, &e.error))?;
    Ok(())
}

/// The same error, with the file it concerns in its message.
fn in_file(path: &Path, e: &io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

/// What an exit code of [`RunReport::exit_code`] means, for people reading a report.
#[must_use]
pub fn exit_code_meaning(code: i32) -> &'static str {
    match code {
        0 => "todos os cenários passaram (ou foram ignorados)",
        1 => "o sistema sob teste falhou em pelo menos um cenário",
        _ => "erro do harness ou da configuração: o resultado não é confiável",
    }
}

/// A duration for people: `850 ms`, `12.3 s`, `2 min 05 s`.
#[must_use]
pub fn format_duration(ms: u64) -> String {
    if ms < 1_000 {
        format!("{ms} ms")
    } else if ms < 60_000 {
        format!("{}.{} s", ms / 1_000, (ms % 1_000) / 100)
    } else {
        let s = ms / 1_000;
        format!("{} min {:02} s", s / 60, s % 60)
    }
}

/// Scenario results grouped by family, families in the order they first appear in the run (the
/// runner's order), results in run order within each family.
fn by_family(report: &RunReport) -> Vec<(&str, Vec<&ScenarioResult>)> {
    let mut groups: Vec<(&str, Vec<&ScenarioResult>)> = Vec::new();
    for r in &report.results {
        match groups.iter_mut().find(|(family, _)| *family == r.family) {
            Some((_, members)) => members.push(r),
            None => groups.push((&r.family, vec![r])),
        }
    }
    groups
}
