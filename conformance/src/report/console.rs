//! Live progress on the terminal while a run goes on, and its closing summary.
//!
//! One line per scenario as it finishes (`✔ pass`, `✘ fail`, `↷ skipped`, `! error`, id, title,
//! duration); under a failure, indented step, expected, observed and rule lines and the journal
//! lines that show it; under a skip or an error, its reason or message. When stdout is a terminal a progress bar (indicatif) stays
//! below those lines; otherwise (CI logs, pipes) only the plain lines are printed. Output errors
//! (a closed pipe) are ignored: progress must never stop a run.
//!
//! The text of a line is built by [`render_result`] and [`render_summary`], pure functions that
//! tests and other front ends can use without a terminal.

use std::fmt::Write as _;
use std::io::{self, IsTerminal as _, Write as _};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::verdict::{RunReport, ScenarioResult, Verdict};

use super::{exit_code_meaning, format_duration};

const GREEN: &str = "\x1b[32m";
const RED: &str = "\x1b[31m";
const YELLOW: &str = "\x1b[33m";
const MAGENTA: &str = "\x1b[35m";
const BOLD: &str = "\x1b[1m";
const DIM: &str = "\x1b[2m";
const RESET: &str = "\x1b[0m";

/// Progress printer for one run. The runner calls it from one task; its methods take `&self`.
#[derive(Debug)]
pub struct Console {
    total: usize,
    color: bool,
    /// Scenarios finished so far, for the `[n/total]` prefix; atomic so that `&self` suffices.
    done: AtomicUsize,
    /// A bar drawn on stdout, only when stdout is a terminal.
    bar: Option<ProgressBar>,
}

impl Console {
    /// A console for a run of `total` scenarios; `color` turns ANSI colours on (the caller decides,
    /// e.g. from `--color` and `NO_COLOR`).
    #[must_use]
    pub fn new(total: usize, color: bool) -> Self {
        let bar = io::stdout().is_terminal().then(|| {
            let bar = ProgressBar::with_draw_target(
                Some(u64::try_from(total).unwrap_or(u64::MAX)),
                ProgressDrawTarget::stdout(),
            );
            let template = if color {
                "{spinner:.cyan} [{bar:30.cyan/blue}] {pos}/{len} {elapsed} {wide_msg}"
            } else {
                "{spinner} [{bar:30}] {pos}/{len} {elapsed} {wide_msg}"
            };
            let style = ProgressStyle::with_template(template)
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> ");
            bar.set_style(style);
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        Console {
            total,
            color,
            done: AtomicUsize::new(0),
            bar,
        }
    }

    /// A scenario starts: shown on the bar (plain output prints nothing, one line per scenario).
    pub fn started(&self, id: &str, title: &str) {
        if let Some(bar) = &self.bar {
            bar.set_message(format!("{id} — {title}"));
        }
    }

    /// A scenario finished: its line (and, for a failure, skip or error, the lines under it).
    pub fn finished(&self, result: &ScenarioResult) {
        let n = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        let width = self.total.max(n).to_string().len();
        let text = format!(
            "[{n:>width$}/{}] {}",
            self.total,
            render_result(result, self.color)
        );
        match &self.bar {
            Some(bar) => {
                bar.println(text.trim_end());
                bar.inc(1);
            }
            None => print_plain(&text),
        }
    }

    /// A line that is not a scenario's result (e.g. what a person must do for a manual trigger),
    /// printed above the bar so that the bar does not overwrite it.
    pub fn note(&self, text: &str) {
        match &self.bar {
            Some(bar) => bar.println(text.trim_end()),
            None => print_plain(&format!("{}\n", text.trim_end())),
        }
    }

    /// The run is over: the bar goes away and the totals, suite version, seed and exit code's
    /// meaning are printed.
    pub fn summary(&self, report: &RunReport) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        print_plain(&render_summary(report, self.color));
    }
}

/// Prints text (ending with a newline) on stdout, ignoring output errors.
fn print_plain(text: &str) {
    let mut out = io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}

/// A finished scenario as console text: its line and, for a failure, skip or error, indented
/// lines with the details. Ends with a newline.
#[must_use]
pub fn render_result(result: &ScenarioResult, color: bool) -> String {
    let (mark, colour) = match result.verdict {
        Verdict::Pass => ("✔", GREEN),
        Verdict::Fail { .. } => ("✘", RED),
        Verdict::Skipped { .. } => ("↷", YELLOW),
        Verdict::Error { .. } => ("!", MAGENTA),
    };
    let label = format!("{mark} {:<7}", result.verdict.label());
    let duration = format!("({})", format_duration(result.duration_ms));
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}  {}  {}  {}",
        paint(&label, colour, color),
        paint(&result.id, BOLD, color),
        result.title,
        paint(&duration, DIM, color)
    );
    match &result.verdict {
        Verdict::Pass => {}
        Verdict::Fail {
            step,
            expected,
            observed,
            hint,
            evidence,
        } => {
            detail(&mut out, "passo:", step);
            detail(&mut out, "esperado:", expected);
            detail(&mut out, "observado:", observed);
            detail(&mut out, "regra:", hint);
            if !evidence.is_empty() {
                detail(&mut out, "diário:", &evidence.join("\n"));
            }
        }
        Verdict::Skipped { reason } => detail(&mut out, "motivo:", reason),
        Verdict::Error { step, message } => {
            if let Some(step) = step {
                detail(&mut out, "passo:", step);
            }
            detail(&mut out, "erro do harness:", message);
        }
    }
    out
}

/// The closing summary as console text: totals, suite version, target, seed, the ids that
/// failed or errored, and the exit code with its meaning. Ends with a newline.
#[must_use]
pub fn render_summary(report: &RunReport, color: bool) -> String {
    let t = report.totals();
    let code = report.exit_code();
    let mut out = String::new();
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "{}: {} aprovados, {} falhas, {} ignorados, {} erros — {} cenários em {}",
        paint("Resumo", BOLD, color),
        paint(&t.passed.to_string(), GREEN, color && t.passed > 0),
        paint(&t.failed.to_string(), RED, color && t.failed > 0),
        paint(&t.skipped.to_string(), YELLOW, color && t.skipped > 0),
        paint(&t.errors.to_string(), MAGENTA, color && t.errors > 0),
        report.results.len(),
        format_duration(report.duration_ms)
    );
    for (label, verdict) in [("falharam", "fail"), ("erros do harness", "error")] {
        let ids: Vec<&str> = report
            .results
            .iter()
            .filter(|r| r.verdict.label() == verdict)
            .map(|r| r.id.as_str())
            .collect();
        if !ids.is_empty() {
            let _ = writeln!(out, "  {label}: {}", ids.join(", "));
        }
    }
    let _ = writeln!(
        out,
        "Suíte {} · alvo {} · semente {}",
        report.suite_version, report.target, report.seed
    );
    let colour = match code {
        0 => GREEN,
        1 => RED,
        _ => MAGENTA,
    };
    let _ = writeln!(
        out,
        "{}",
        paint(
            &format!("Código de saída {code}: {}", exit_code_meaning(code)),
            colour,
            color
        )
    );
    out
}

/// `label` then `text`, indented under a scenario line; continuation lines of a multi-line text
/// are indented to the text's column.
fn detail(out: &mut String, label: &str, text: &str) {
    let indent = " ".repeat(6 + 17);
    for (i, line) in text.lines().enumerate() {
        if i == 0 {
            let _ = writeln!(out, "      {label:<17}{line}");
        } else {
            let _ = writeln!(out, "{indent}{line}");
        }
    }
    if text.is_empty() {
        let _ = writeln!(out, "      {label}");
    }
}

fn paint(text: &str, colour: &str, on: bool) -> String {
    if on {
        format!("{colour}{text}{RESET}")
    } else {
        text.to_owned()
    }
}
