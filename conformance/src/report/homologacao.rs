//! The *Relatório de ensaio de homologação* of `pen-conformance homologacao`: a
//! [`RehearsalReport`] on the console and as JSON, HTML and JUnit, written for a person who has
//! never read this project's docs (a Gestor de Protocolo) and for a CI.
//!
//! Every format says the same things in the same order: what the rehearsal is (the three minimum
//! requirements of the real homologation, rehearsed on a local platform, with their source) and
//! the answer in one line (`Requisitos mínimos: N de 3 atendidos`, and whether that would pass the
//! real check); then R1, R2, R3, each with the manual's words, the SUT's role, the situação it
//! must reach, the trâmite (IDT, NRE, protocolo), every situação change, both recibos with their
//! signature verdict, the refusal and — when not met — the verdict's step, expected, observed and
//! rule with the journal lines; then the production risks (suite scenarios the real homologation
//! does not run), *Em produção*, and a footer (suite version, seed, target, API, counterpart,
//! start, duration, exit code and its meaning).
//!
//! - Console ([`render_console`]): plain text in the style of [`super::console`]. The journal
//!   lines of a requirement are printed only when it is not met: a met one is already told by its
//!   situações and recibos, and the console must stay short enough to read.
//! - JSON ([`render_json`]): `requisitos_atendidos` and `codigo_de_saida` first, then the report's
//!   own members; the file reads back into a [`RehearsalReport`] (serde ignores the two added
//!   keys).
//! - HTML ([`render_html`]): one self-contained page (inline CSS, no script, no external asset),
//!   every spliced text escaped by maud.
//! - JUnit ([`render_junit`]): `<testsuite name="homologação">` with one testcase per requirement
//!   — one not met is a `<failure>` (an `<error>` when the harness could not judge it) whose
//!   message quotes the manual and says what was observed — and `<testsuite name="riscos para a
//!   produção">` with each risk as `pen-conformance run` renders that scenario. A risk that failed
//!   is a `<failure>` only with `--estrito`. Without it the risk does not change the outcome, so it
//!   must not fail a CI's test view, yet must not show as passed either: it is a
//!   `<skipped type="risco-falhou">` whose message says it failed and whose text keeps the
//!   failure's step, expected, observed, rule and journal lines. A risk the harness could not run
//!   is an `<error>` either way (exit code 2).

use std::fmt::Write as _;
use std::io;
use std::path::Path;
use std::time::Duration;

use maud::{html, Markup, PreEscaped, DOCTYPE};
use pen_protocol::situacao::Situacao;
use pen_protocol::tables::MotivoRecusa;
use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};
use serde::Serialize;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::homologacao::{
    ReceiptCheck, RefusalSeen, RehearsalReport, RequirementResult, SituacaoChange, TramiteEvidence,
    REQUIREMENTS, SOURCE,
};
use crate::verdict::{RunReport, ScenarioResult, Verdict};

use super::{format_duration, in_file, junit, write_atomically};

/// The report's title, as every format shows it.
pub const TITLE: &str = "Relatório de ensaio de homologação";
/// The heading of the production risks.
pub const RISKS_HEADING: &str = "Riscos para a produção";
/// The heading of what to do next.
pub const PRODUCTION_HEADING: &str = "Em produção";
/// The `<testsuites>` element's name.
pub const REPORT_NAME: &str = "pen-conformance homologacao";
/// The JUnit suite of R1–R3.
pub const REQUIREMENTS_SUITE: &str = "homologação";
/// The JUnit suite of the production risks.
pub const RISKS_SUITE: &str = "riscos para a produção";
/// The `type` of the `<skipped>` a failed risk becomes without `--estrito`.
pub const RISK_FAILED_TYPE: &str = "risco-falhou";

/// Console paragraphs are wrapped at this width (terminals are at least 100 columns wide on a
/// laptop; a paragraph longer than a line is hard to read unwrapped).
const WIDTH: usize = 100;

const GREEN: &str = "\x1b[32m";
const RED: &str = "\x1b[31m";
const YELLOW: &str = "\x1b[33m";
const MAGENTA: &str = "\x1b[35m";
const BOLD: &str = "\x1b[1m";
const DIM: &str = "\x1b[2m";
const RESET: &str = "\x1b[0m";

/// What an exit code of [`RehearsalReport::exit_code`] means, for people reading a report.
#[must_use]
pub fn exit_code_meaning(code: i32) -> &'static str {
    match code {
        0 => "os três requisitos mínimos foram atendidos",
        1 => "algum requisito mínimo não foi atendido (ou, com --estrito, um risco para a produção falhou)",
        _ => "erro do harness ou da configuração: o resultado não é confiável",
    }
}

/// Writes the reports asked for (`None` skips a format), each atomically, as
/// [`super::write_all`] does.
///
/// # Errors
/// Rendering or writing a file (the error names it).
pub fn write(
    report: &RehearsalReport,
    junit: Option<&Path>,
    json: Option<&Path>,
    html: Option<&Path>,
) -> io::Result<()> {
    if let Some(path) = junit {
        let xml = render_junit(report).map_err(|e| in_file(path, &io::Error::other(e)))?;
        write_atomically(path, xml.as_bytes())?;
    }
    if let Some(path) = json {
        let text = render_json(report).map_err(|e| in_file(path, &io::Error::other(e)))?;
        write_atomically(path, text.as_bytes())?;
    }
    if let Some(path) = html {
        write_atomically(path, render_html(report).as_bytes())?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// What every format says, as text.

/// `Requisitos mínimos: N de 3 atendidos`.
#[must_use]
pub fn answer(report: &RehearsalReport) -> String {
    format!(
        "Requisitos mínimos: {} de {} atendidos",
        report.met(),
        REQUIREMENTS.len()
    )
}

/// The ids of the requirements not met, in order; a requirement missing from the report counts
/// as not met (the real check asks for all three).
fn not_met(report: &RehearsalReport) -> Vec<&'static str> {
    REQUIREMENTS
        .iter()
        .filter(|req| !report.requirements.iter().any(|r| r.id == req.id && r.met))
        .map(|req| req.id)
        .collect()
}

/// What the answer means for the real check, in one sentence (two with `--estrito` and failed
/// risks).
#[must_use]
pub fn answer_meaning(report: &RehearsalReport) -> String {
    let errored: Vec<&str> = report
        .requirements
        .iter()
        .filter(|r| matches!(r.result.verdict, Verdict::Error { .. }))
        .map(|r| r.id.as_str())
        .collect();
    let missing = not_met(report);
    let mut text = if !errored.is_empty() {
        format!(
            "o ensaio não conseguiu julgar {} (erro do harness ou da configuração, não do sistema): corrija a causa e repita o ensaio antes de tirar conclusões.",
            enumerate(&errored)
        )
    } else if missing.is_empty() {
        "nestes requisitos, o sistema passaria na verificação da homologação real.".to_owned()
    } else {
        format!(
            "o sistema não passaria na verificação da homologação real: {} não {}.",
            enumerate(&missing),
            if missing.len() == 1 {
                "foi atendido"
            } else {
                "foram atendidos"
            }
        )
    };
    let failed = report.risks_failed();
    if report.strict && failed > 0 {
        let _ = write!(
            text,
            " Com --estrito, {} também {}.",
            plural(
                failed,
                "risco para a produção falhou",
                "riscos para a produção falharam"
            ),
            if failed == 1 { "conta" } else { "contam" }
        );
    }
    text
}

/// `R1`, `R1 e R3`, `R1, R2 e R3`.
fn enumerate(ids: &[&str]) -> String {
    match ids {
        [] => String::new(),
        [one] => (*one).to_owned(),
        [init @ .., last] => format!("{} e {last}", init.join(", ")),
    }
}

/// `1 risco …` / `3 riscos …`.
fn plural(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// Where the requirements come from: the sources the requirements carry (one, in practice).
fn source(report: &RehearsalReport) -> String {
    let mut sources: Vec<&str> = Vec::new();
    for r in &report.requirements {
        if !r.source.is_empty() && !sources.contains(&r.source.as_str()) {
            sources.push(&r.source);
        }
    }
    if sources.is_empty() {
        SOURCE.to_owned()
    } else {
        sources.join("; ")
    }
}

/// The paragraph under the title: what this is, for someone who has never heard of it.
fn intro(report: &RehearsalReport) -> String {
    format!(
        "Este relatório é um ensaio, numa plataforma Tramita.gov.br local, dos três requisitos \
         mínimos que a homologação real verifica antes de liberar o acesso ao ambiente de \
         produção: enviar um processo que chegue à situação 6, receber um processo que chegue à \
         situação 6 e, como destinatário, recusar um processo, que chega à situação 9. Cada \
         requisito é julgado como a equipe do PEN o julga, pela situação a que o trâmite chegou, \
         com o IDT, o NRE e o protocolo do trâmite e o horário de cada mudança de situação como \
         evidência. A contraparte é {}. Fonte dos requisitos: {}.",
        report.counterpart,
        source(report)
    )
}

/// `6 — Recibo de conclusão recebido pelo remetente`.
fn situacao_text(code: u8) -> String {
    let descricao =
        Situacao::from_code(u64::from(code)).map_or("situação desconhecida", Situacao::descricao);
    format!("{code} — {descricao}")
}

/// `IDT 42 · NRE 0000… · protocolo 0000…`.
fn tramite_ids(t: &TramiteEvidence) -> String {
    format!(
        "IDT {} · NRE {} · protocolo {}",
        t.idt,
        or_none(&t.nre),
        or_none(&t.protocolo)
    )
}

fn or_none(text: &str) -> &str {
    if text.is_empty() {
        "(nenhum)"
    } else {
        text
    }
}

/// The platform's time of a change when it is not the wall clock's. The two are read one after
/// the other, so they are microseconds apart even when the platform's clock was never moved: only
/// a real difference (the harness advanced the platform's clock) is worth showing.
fn platform_time(change: &SituacaoChange) -> Option<&str> {
    let parse = |s: &str| OffsetDateTime::parse(s, &Rfc3339).ok();
    let apart = match (parse(&change.at), parse(&change.platform_at)) {
        (Some(wall), Some(platform)) => (platform - wall).abs() > time::Duration::SECOND,
        _ => change.at != change.platform_at,
    };
    apart.then_some(change.platform_at.as_str())
}

/// One line per situação change.
fn changes_text(t: &TramiteEvidence) -> String {
    if t.changes.is_empty() {
        return "nenhuma mudança de situação registrada".to_owned();
    }
    let mut out = String::new();
    for c in &t.changes {
        let _ = write!(
            out,
            "{}  {} → {}  {} — por {}",
            c.at, c.from, c.to, c.descricao, c.by
        );
        if let Some(at) = platform_time(c) {
            let _ = write!(out, " [relógio da plataforma: {at}]");
        }
        out.push('\n');
    }
    out
}

fn signature_text(c: &ReceiptCheck) -> String {
    let mark = if c.signature_valid { "✔" } else { "✘" };
    format!("{mark} {}", c.detail)
}

fn hashes_text(c: &ReceiptCheck) -> String {
    if c.hashes.is_empty() {
        "nenhum".to_owned()
    } else {
        c.hashes.join(", ")
    }
}

/// A recibo in two lines: date, signer, signature verdict; the hashes.
fn receipt_text(c: Option<&ReceiptCheck>) -> String {
    match c {
        None => "não emitido".to_owned(),
        Some(c) => format!(
            "{} · assinado por {} · {}\nhashes: {}",
            or_none(&c.date),
            c.signed_by,
            signature_text(c),
            hashes_text(c)
        ),
    }
}

/// `04 — Espécie documental não mapeada no destinatário` (the code alone when unknown).
fn motivo_text(code: &str) -> String {
    MotivoRecusa::from_code(code).map_or_else(
        || code.to_owned(),
        |m| format!("{} — {}", m.code(), m.descricao()),
    )
}

fn refusal_text(r: &RefusalSeen) -> String {
    format!(
        "motivo {}\njustificativa: “{}”",
        motivo_text(&r.motivo),
        r.justificativa
    )
}

/// The evidence of a requirement, as labelled lines (the console and JUnit's `system-out`).
fn facts(r: &RequirementResult) -> Vec<(&'static str, String)> {
    let mut out = vec![
        ("requisito:", format!("“{}”", r.manual)),
        ("papel do sistema:", r.role.label().to_owned()),
        ("situação exigida:", situacao_text(r.expected_situacao)),
    ];
    match &r.tramite {
        None => out.push(("trâmite:", no_tramite().to_owned())),
        Some(t) => {
            out.push(("trâmite:", tramite_ids(t)));
            out.push((
                "situação final:",
                format!("{} — {}", t.situacao, t.situacao_descricao),
            ));
            out.push(("situações:", changes_text(t)));
            out.push(("recibo de envio:", receipt_text(t.recibo_de_envio.as_ref())));
            out.push((
                "recibo de conclusão:",
                receipt_text(t.recibo_de_conclusao.as_ref()),
            ));
            if let Some(recusa) = &t.recusa {
                out.push(("recusa:", refusal_text(recusa)));
            }
        }
    }
    out
}

fn no_tramite() -> &'static str {
    "nenhum trâmite foi identificado para este requisito"
}

/// What was observed of a requirement not met, in one line (JUnit's failure message).
fn observed(r: &RequirementResult) -> String {
    match &r.result.verdict {
        Verdict::Fail { observed, .. } => observed.clone(),
        Verdict::Skipped { reason } => format!("não verificado: {reason}"),
        Verdict::Error { message, .. } => format!("erro do harness: {message}"),
        // The scenario passed but the trâmite is not where the requirement wants it.
        Verdict::Pass => match &r.tramite {
            Some(t) => format!(
                "o trâmite {} terminou na situação {} — {}",
                t.idt, t.situacao, t.situacao_descricao
            ),
            None => no_tramite().to_owned(),
        },
    }
}

/// A verdict's explanation as labelled lines (empty for a pass).
fn verdict_lines(verdict: &Verdict) -> Vec<(&'static str, String)> {
    match verdict {
        Verdict::Pass => Vec::new(),
        Verdict::Fail {
            step,
            expected,
            observed,
            hint,
            ..
        } => vec![
            ("passo:", step.clone()),
            ("esperado:", expected.clone()),
            ("observado:", observed.clone()),
            ("regra:", hint.clone()),
        ],
        Verdict::Skipped { reason } => vec![("ignorado porque:", reason.clone())],
        Verdict::Error { step, message } => step
            .iter()
            .map(|s| ("passo:", s.clone()))
            .chain([("erro do harness:", message.clone())])
            .collect(),
    }
}

/// Why a requirement is not met, as labelled lines.
fn why_not_met(r: &RequirementResult) -> Vec<(&'static str, String)> {
    match r.result.verdict {
        Verdict::Pass => vec![("observado:", observed(r))],
        _ => verdict_lines(&r.result.verdict),
    }
}

/// The journal lines that show a requirement: every entry about its trâmite, or, when no trâmite
/// was identified, the verdict's own evidence.
fn journal(r: &RequirementResult) -> &[String] {
    match (&r.tramite, &r.result.verdict) {
        (Some(t), _) if !t.journal.is_empty() => &t.journal,
        (_, Verdict::Fail { evidence, .. }) => evidence,
        _ => &[],
    }
}

fn risk_label(verdict: &Verdict) -> &'static str {
    match verdict {
        Verdict::Pass => "aprovado",
        Verdict::Fail { .. } => "falhou",
        Verdict::Skipped { .. } => "ignorado",
        Verdict::Error { .. } => "erro",
    }
}

/// The risks section of a rehearsal that ran none: the runner always runs them all unless told
/// not to.
const NO_RISKS: &str =
    "Os riscos para a produção não foram verificados neste ensaio (executado com --sem-riscos).";

/// What the risks are and whether they count.
fn risks_note(strict: bool) -> &'static str {
    if strict {
        "Verificações que a homologação real não faz, mas que a produção encontra. Este ensaio foi \
         executado com --estrito: um risco que falhe conta como um requisito não atendido (código \
         de saída 1)."
    } else {
        "Verificações que a homologação real não faz, mas que a produção encontra. Elas não mudam \
         o resultado do ensaio; com --estrito, um risco que falhe conta como um requisito não \
         atendido (código de saída 1)."
    }
}

fn risk_counts(report: &RehearsalReport) -> String {
    let count = |label: &str| {
        report
            .risks
            .iter()
            .filter(|r| r.verdict.label() == label)
            .count()
    };
    format!(
        "{} aprovados, {} falharam, {} ignorados, {} erros",
        count("pass"),
        count("fail"),
        count("skipped"),
        count("error")
    )
}

fn exit_line(code: i32) -> String {
    format!("Código de saída {code}: {}", exit_code_meaning(code))
}

fn strict_text(strict: bool) -> &'static str {
    if strict {
        "sim (os riscos contam)"
    } else {
        "não (os riscos não contam)"
    }
}

// ---------------------------------------------------------------------------------------------
// Console.

/// The report as console text (ANSI colours only when `color`). Ends with a newline.
#[must_use]
pub fn render_console(report: &RehearsalReport, color: bool) -> String {
    let code = report.exit_code();
    let mut out = String::new();
    let _ = writeln!(out, "{}", paint(TITLE, BOLD, color));
    out.push_str(&wrap(&intro(report)));
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "{} — {}",
        paint(&answer(report), BOLD, color),
        paint(&answer_meaning(report), exit_colour(code), color)
    );
    let common = source(report);
    for r in &report.requirements {
        let _ = writeln!(out);
        requirement_console(&mut out, r, &common, color);
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "{} ({})",
        paint(RISKS_HEADING, BOLD, color),
        risk_counts(report)
    );
    out.push_str(&wrap(risks_note(report.strict)));
    if report.risks.is_empty() {
        let _ = writeln!(out, "  {NO_RISKS}");
    }
    for risk in &report.risks {
        risk_console(&mut out, risk, color);
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "{}", paint(PRODUCTION_HEADING, BOLD, color));
    out.push_str(&wrap(&report.em_producao));
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "Suíte {} · semente {} · alvo {} · API {}",
        report.suite_version, report.seed, report.target, report.api
    );
    let _ = writeln!(out, "Contraparte: {}", report.counterpart);
    let _ = writeln!(
        out,
        "Início {} · duração {} · estrito: {}",
        report.started_at,
        format_duration(report.duration_ms),
        strict_text(report.strict)
    );
    let _ = writeln!(out, "{}", paint(&exit_line(code), exit_colour(code), color));
    out
}

fn requirement_console(out: &mut String, r: &RequirementResult, common: &str, color: bool) {
    let (mark, status, colour) = if r.met {
        ("✔", "atendido", GREEN)
    } else {
        ("✘", "não atendido", RED)
    };
    let _ = writeln!(
        out,
        "{}  {} — {}  {}",
        paint(&format!("{mark} {}", r.id), colour, color),
        r.title,
        paint(status, colour, color),
        paint(
            &format!("({})", format_duration(r.result.duration_ms)),
            DIM,
            color
        )
    );
    let mut lines = facts(r);
    // The intro cites the source; repeat it only where a requirement has another.
    if r.source != common {
        lines.insert(1, ("fonte:", r.source.clone()));
    }
    if !r.met {
        lines.extend(why_not_met(r));
        let journal = journal(r);
        if !journal.is_empty() {
            lines.push(("diário:", journal.join("\n")));
        }
    }
    for (label, text) in &lines {
        detail(out, label, text, 22);
    }
}

fn risk_console(out: &mut String, r: &ScenarioResult, color: bool) {
    let (mark, colour) = match r.verdict {
        Verdict::Pass => ("✔", GREEN),
        Verdict::Fail { .. } => ("✘", RED),
        Verdict::Skipped { .. } => ("↷", YELLOW),
        Verdict::Error { .. } => ("!", MAGENTA),
    };
    let label = format!("{mark} {:<8}", risk_label(&r.verdict));
    let _ = writeln!(
        out,
        "{}  {}  {}  {}",
        paint(&label, colour, color),
        paint(&r.id, BOLD, color),
        r.title,
        paint(&format!("({})", format_duration(r.duration_ms)), DIM, color)
    );
    for (label, text) in verdict_lines(&r.verdict) {
        detail(out, label, &text, 18);
    }
}

/// `label` then `text`, indented; continuation lines of a multi-line text are indented to the
/// text's column.
fn detail(out: &mut String, label: &str, text: &str, width: usize) {
    let indent = " ".repeat(6 + width);
    for (i, line) in text.lines().enumerate() {
        if i == 0 {
            let _ = writeln!(out, "      {label:<width$}{line}");
        } else {
            let _ = writeln!(out, "{indent}{line}");
        }
    }
    if text.is_empty() {
        let _ = writeln!(out, "      {label}");
    }
}

/// A paragraph wrapped at [`WIDTH`] columns, ending with a newline. A word longer than a line
/// (a path) stays whole.
fn wrap(text: &str) -> String {
    let mut out = String::new();
    let mut column = 0;
    for word in text.split_whitespace() {
        let len = word.chars().count();
        if column > 0 && column + 1 + len > WIDTH {
            out.push('\n');
            column = 0;
        }
        if column > 0 {
            out.push(' ');
            column += 1;
        }
        out.push_str(word);
        column += len;
    }
    out.push('\n');
    out
}

fn exit_colour(code: i32) -> &'static str {
    match code {
        0 => GREEN,
        1 => RED,
        _ => MAGENTA,
    }
}

fn paint(text: &str, colour: &str, on: bool) -> String {
    if on {
        format!("{colour}{text}{RESET}")
    } else {
        text.to_owned()
    }
}

// ---------------------------------------------------------------------------------------------
// JSON.

/// The top-level JSON object: the two figures a script looks at first, then the report.
#[derive(Debug, Serialize)]
struct JsonReport<'a> {
    requisitos_atendidos: usize,
    codigo_de_saida: i32,
    #[serde(flatten)]
    report: &'a RehearsalReport,
}

/// The report as a pretty-printed JSON document (ending with a newline).
///
/// # Errors
/// Serialization (not expected for this model).
pub fn render_json(report: &RehearsalReport) -> Result<String, serde_json::Error> {
    let doc = JsonReport {
        requisitos_atendidos: report.met(),
        codigo_de_saida: report.exit_code(),
        report,
    };
    let mut text = serde_json::to_string_pretty(&doc)?;
    text.push('\n');
    Ok(text)
}

// ---------------------------------------------------------------------------------------------
// JUnit.

/// The report as a JUnit XML document.
///
/// # Errors
/// Serialization (quick-junit's).
pub fn render_junit(report: &RehearsalReport) -> Result<String, quick_junit::SerializeError> {
    to_junit(report).to_string()
}

/// The JUnit model of the report.
#[must_use]
pub fn to_junit(report: &RehearsalReport) -> Report {
    let mut junit = Report::new(REPORT_NAME);
    junit.set_time(Duration::from_millis(report.duration_ms));

    let mut requirements = junit_suite(
        report,
        REQUIREMENTS_SUITE,
        report.requirements.iter().map(|r| r.result.duration_ms),
    );
    requirements.add_test_cases(report.requirements.iter().map(requirement_case));
    junit.add_test_suite(requirements);

    let mut risks = junit_suite(
        report,
        RISKS_SUITE,
        report.risks.iter().map(|r| r.duration_ms),
    );
    risks.add_test_cases(
        report
            .risks
            .iter()
            .flat_map(as_in_run)
            .map(|case| risk_case(case, report.strict)),
    );
    junit.add_test_suite(risks);
    junit
}

fn junit_suite(
    report: &RehearsalReport,
    name: &str,
    durations: impl Iterator<Item = u64>,
) -> TestSuite {
    let mut suite = TestSuite::new(name);
    suite.add_properties([
        Property::new("suite_version", report.suite_version.as_str()),
        Property::new("target", report.target.as_str()),
        Property::new("seed", report.seed.to_string()),
        Property::new("api", report.api.as_str()),
        Property::new("counterpart", report.counterpart.as_str()),
        Property::new("estrito", report.strict.to_string()),
    ]);
    suite.set_time(Duration::from_millis(durations.sum()));
    suite
}

/// A scenario's testcase exactly as `pen-conformance run`'s JUnit has it (failure body, skip
/// reason, harness error, steps), so that a risk or a requirement's verdict reads the same in
/// both reports. The run report around it only carries the one result.
fn as_in_run(result: &ScenarioResult) -> Vec<TestCase> {
    let run = RunReport {
        suite_version: String::new(),
        target: String::new(),
        seed: 0,
        started_at: String::new(),
        duration_ms: result.duration_ms,
        results: vec![result.clone()],
    };
    junit::to_junit(&run)
        .test_suites
        .into_iter()
        .flat_map(|s| s.test_cases)
        .collect()
}

fn risk_case(mut case: TestCase, strict: bool) -> TestCase {
    if !strict {
        if let TestCaseStatus::NonSuccess {
            kind: NonSuccessKind::Failure,
            message,
            description,
            ..
        } = &case.status
        {
            let mut status = TestCaseStatus::skipped();
            status.set_type(RISK_FAILED_TYPE).set_message(format!(
                "falhou como risco para a produção (sem --estrito, não muda o resultado): {}",
                message.as_deref().unwrap_or_default()
            ));
            if let Some(description) = description {
                status.set_description(description.as_str());
            }
            case.status = status;
        }
    }
    case.set_classname(RISKS_SUITE);
    case
}

fn requirement_case(r: &RequirementResult) -> TestCase {
    let from_run = as_in_run(&r.result).into_iter().next();
    let steps = from_run
        .as_ref()
        .and_then(|c| c.system_out.as_ref())
        .map(|s| s.to_string());
    let status = if r.met {
        TestCaseStatus::success()
    } else {
        match (&r.result.verdict, from_run) {
            // The harness's failure stays an error: not the SUT's, and exit code 2.
            (Verdict::Error { .. }, Some(case)) => case.status,
            (verdict, from_run) => {
                let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
                status
                    .set_type("requisito-nao-atendido")
                    .set_message(format!(
                        "“{}” — não atendido; observado: {}",
                        r.manual,
                        observed(r)
                    ));
                // A failed verdict keeps the suite's own body (step, expected, observed, rule,
                // evidence); any other reason is told here.
                let body = match (verdict, from_run.map(|c| c.status)) {
                    (
                        Verdict::Fail { .. },
                        Some(TestCaseStatus::NonSuccess {
                            description: Some(d),
                            ..
                        }),
                    ) => d.to_string(),
                    _ => labelled(&why_not_met(r)),
                };
                status.set_description(body);
                status
            }
        }
    };
    let mut case = TestCase::new(format!("{} — {}", r.id, r.title), status);
    case.set_classname(REQUIREMENTS_SUITE)
        .set_time(Duration::from_millis(r.result.duration_ms));
    let mut lines = facts(r);
    lines.insert(1, ("fonte:", r.source.clone()));
    let mut out = labelled(&lines);
    let journal = journal(r);
    if !journal.is_empty() {
        let _ = writeln!(out, "diário:");
        for line in journal {
            let _ = writeln!(out, "  {line}");
        }
    }
    if let Some(steps) = steps {
        let _ = writeln!(out, "passos:");
        out.push_str(&steps);
    }
    case.set_system_out(out);
    case
}

/// Labelled lines as plain text (`label text`, continuation lines indented).
fn labelled(lines: &[(&str, String)]) -> String {
    let mut out = String::new();
    for (label, text) in lines {
        let mut rows = text.lines();
        let _ = writeln!(out, "{label} {}", rows.next().unwrap_or_default());
        for row in rows {
            let _ = writeln!(out, "  {row}");
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// HTML.

/// The page's stylesheet (a constant: nothing from the report goes through it unescaped). Its
/// colours and shapes are those of the suite's report (`report::html`).
const CSS: &str = r#"
:root { color-scheme: light; --pass: #1a7f37; --fail: #cf222e; --skipped: #9a6700; --error: #8250df;
  --line: #d0d7de; --muted: #57606a; --bg-soft: #f6f8fa; }
* { box-sizing: border-box; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  margin: 0 auto; max-width: 1100px; padding: 1.5rem; color: #1f2328; line-height: 1.5; }
h1 { font-size: 1.6rem; margin: 0 0 .5rem; }
h2 { font-size: 1.2rem; margin: 2.25rem 0 .5rem; padding-bottom: .25rem; border-bottom: 1px solid var(--line); }
h3 { font-size: 1rem; margin: 1.25rem 0 .4rem; }
code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace; font-size: .85rem; }
p.intro { max-width: 60rem; }
.answer { padding: .75rem 1rem; border-radius: 6px; color: #fff; margin: 1rem 0; }
.answer strong { display: block; font-size: 1.25rem; }
.answer.exit-0 { background: var(--pass); } .answer.exit-1 { background: var(--fail); }
.answer.exit-2 { background: var(--error); }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; margin: .5rem 0 1rem; }
dl.meta dt { color: var(--muted); } dl.meta dd { margin: 0; overflow-wrap: anywhere; }
table { width: 100%; border-collapse: collapse; margin: .25rem 0 .75rem; }
caption { text-align: left; color: var(--muted); font-size: .85rem; padding-bottom: .25rem; }
th, td { text-align: left; vertical-align: top; padding: .4rem .5rem; border-bottom: 1px solid var(--line);
  overflow-wrap: anywhere; }
th { background: var(--bg-soft); font-size: .85rem; }
td.num, th.num { text-align: right; white-space: nowrap; }
td.when { white-space: nowrap; }
tr.detail td { background: var(--bg-soft); }
tr.has-detail td { border-bottom: none; }
.badge { display: inline-block; border-radius: 1rem; padding: .05rem .6rem; color: #fff; font-size: .8rem;
  font-weight: 600; vertical-align: middle; }
.badge.pass { background: var(--pass); } .badge.fail { background: var(--fail); }
.badge.skipped { background: var(--skipped); } .badge.error { background: var(--error); }
.ok { color: var(--pass); } .nok { color: var(--fail); }
figure.manual { margin: .5rem 0 1rem; padding: .5rem 1rem; border-left: 4px solid var(--line); background: var(--bg-soft); }
figure.manual blockquote { margin: 0; font-size: 1.05rem; }
figure.manual figcaption { color: var(--muted); font-size: .85rem; overflow-wrap: anywhere; }
.why { border: 1px solid var(--fail); border-left-width: 6px; border-radius: 6px; padding: .5rem 1rem; margin: .75rem 0; }
.why.error { border-color: var(--error); }
dl.why { display: grid; grid-template-columns: max-content 1fr; gap: .25rem 1rem; margin: 0; }
dl.why dt { font-weight: 600; } dl.why dd { margin: 0; white-space: pre-wrap; overflow-wrap: anywhere; }
details { margin-top: .5rem; } summary { cursor: pointer; color: var(--muted); }
pre { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: .5rem; margin: .35rem 0 0;
  max-height: 24rem; overflow: auto; white-space: pre-wrap; overflow-wrap: anywhere; }
ul.hashes { margin: 0; padding-left: 1rem; }
ol.steps { margin: .25rem 0; padding-left: 1.5rem; font-size: .9rem; }
footer { margin-top: 2.5rem; padding-top: .5rem; border-top: 1px solid var(--line); color: var(--muted); font-size: .9rem; }
"#;

/// The report as a complete HTML document.
#[must_use]
pub fn render_html(report: &RehearsalReport) -> String {
    page(report).into_string()
}

fn page(report: &RehearsalReport) -> Markup {
    let code = report.exit_code();
    html! {
        (DOCTYPE)
        html lang="pt-BR" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="generator" content="pen-conformance";
                title { "Ensaio de homologação — " (report.target) " — " (answer(report)) }
                style { (PreEscaped(CSS)) }
            }
            body {
                header {
                    h1 { (TITLE) }
                    p.intro { (intro(report)) }
                    div class=(format!("answer exit-{}", code.clamp(0, 2))) {
                        strong { (answer(report)) }
                        (answer_meaning(report))
                    }
                    (summary_table(report))
                }
                main {
                    @for r in &report.requirements {
                        (requirement_section(r))
                    }
                    (risks_section(report))
                    section aria-labelledby="em-producao" {
                        h2 id="em-producao" { (PRODUCTION_HEADING) }
                        p { (report.em_producao) }
                    }
                }
                footer {
                    dl.meta {
                        dt { "Versão da suíte" } dd { code { (report.suite_version) } }
                        dt { "Semente" } dd { code { (report.seed) } }
                        dt { "Alvo (sistema sob teste)" } dd { (report.target) }
                        dt { "API" } dd { (report.api) }
                        dt { "Contraparte" } dd { (report.counterpart) }
                        dt { "Início" } dd { time datetime=(report.started_at) { (report.started_at) } }
                        dt { "Duração" } dd { (format_duration(report.duration_ms)) }
                        dt { "Estrito (--estrito)" } dd { (strict_text(report.strict)) }
                        dt { "Código de saída" } dd { strong { (code) } " — " (exit_code_meaning(code)) }
                    }
                    p {
                        "Códigos de saída: 0 " (exit_code_meaning(0)) "; 1 " (exit_code_meaning(1))
                        "; 2 " (exit_code_meaning(2)) ". Gerado por pen-conformance homologacao."
                    }
                }
            }
        }
    }
}

/// One row per requirement, linking to its section.
fn summary_table(report: &RehearsalReport) -> Markup {
    html! {
        table {
            caption { "Os três requisitos mínimos" }
            thead {
                tr {
                    th scope="col" { "Requisito" } th scope="col" { "Papel do sistema" }
                    th scope="col" { "Situação exigida" } th scope="col" { "Resultado" }
                }
            }
            tbody {
                @for r in &report.requirements {
                    tr {
                        th scope="row" { a href=(format!("#{}", anchor(&r.id))) { (r.id) } " — " (r.title) }
                        td { (r.role.label()) }
                        td { (situacao_text(r.expected_situacao)) }
                        td { (met_badge(r.met)) }
                    }
                }
            }
        }
    }
}

fn met_badge(met: bool) -> Markup {
    html! {
        @if met {
            span.badge.pass { span aria-hidden="true" { "✔ " } "atendido" }
        } @else {
            span.badge.fail { span aria-hidden="true" { "✘ " } "não atendido" }
        }
    }
}

fn requirement_section(r: &RequirementResult) -> Markup {
    let id = anchor(&r.id);
    let journal = journal(r);
    html! {
        section id=(id) aria-labelledby=(format!("{id}-h")) {
            h2 id=(format!("{id}-h")) {
                (r.id) " — " (r.title) " " (met_badge(r.met))
            }
            figure.manual {
                blockquote { p { "“" (r.manual) "”" } }
                figcaption { "Fonte: " cite { (r.source) } }
            }
            dl.meta {
                dt { "Papel do sistema" } dd { (r.role.label()) }
                dt { "Situação exigida" } dd { (situacao_text(r.expected_situacao)) }
                @if let Some(t) = &r.tramite {
                    dt { "Situação final" } dd { (t.situacao) " — " (t.situacao_descricao) }
                    dt { "IDT" } dd { code { (t.idt) } }
                    dt { "NRE" } dd { code { (or_none(&t.nre)) } }
                    dt { "Protocolo" } dd { code { (or_none(&t.protocolo)) } }
                } @else {
                    dt { "Trâmite" } dd { (no_tramite()) }
                }
                dt { "Duração" } dd { (format_duration(r.result.duration_ms)) }
            }
            @if !r.met {
                (why_block(r))
            }
            @if let Some(t) = &r.tramite {
                (tramite_tables(t))
            }
            @if !journal.is_empty() {
                details open[!r.met] {
                    summary { "Linhas do diário da plataforma (" (journal.len()) ")" }
                    pre { (journal.join("\n")) }
                }
            }
            @if !r.result.steps.is_empty() {
                details {
                    summary { "Passos (" (r.result.steps.len()) ")" }
                    ol.steps {
                        @for s in &r.result.steps {
                            li {
                                @if s.ok { span.ok { "✔" } } @else { span.nok { "✘" } }
                                " " (s.description) " (" (format_duration(s.duration_ms)) ")"
                            }
                        }
                    }
                }
            }
        }
    }
}

fn why_block(r: &RequirementResult) -> Markup {
    let error = matches!(r.result.verdict, Verdict::Error { .. });
    html! {
        div class=(if error { "why error" } else { "why" }) {
            h3 { "Por que não foi atendido" }
            (labelled_dl(&why_not_met(r)))
            @if error {
                p { "O harness não conseguiu concluir a verificação; isto não é uma falha do sistema sob teste." }
            }
        }
    }
}

fn labelled_dl(lines: &[(&str, String)]) -> Markup {
    html! {
        dl.why {
            @for (label, text) in lines {
                dt { (capitalised(label.trim_end_matches(':'))) } dd { (text) }
            }
        }
    }
}

/// `esperado` → `Esperado` (the console's labels, as HTML headings of a list).
fn capitalised(label: &str) -> String {
    let mut chars = label.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect()
    })
}

fn tramite_tables(t: &TramiteEvidence) -> Markup {
    html! {
        h3 { "Mudanças de situação" }
        @if t.changes.is_empty() {
            p { "Nenhuma mudança de situação registrada." }
        } @else {
            table {
                caption { "Trâmite " (t.idt) ": cada mudança de situação, na ordem em que aconteceu" }
                thead {
                    tr {
                        th scope="col" { "Hora (relógio do ensaio)" } th scope="col" { "Hora da plataforma" }
                        th scope="col" { "De → para" } th scope="col" { "Por" }
                    }
                }
                tbody {
                    @for c in &t.changes {
                        tr {
                            td.when { time datetime=(c.at) { (c.at) } }
                            td.when {
                                @if let Some(at) = platform_time(c) { time datetime=(at) { (at) } }
                                @else { "a mesma" }
                            }
                            td { code { (c.from) " → " (c.to) } " " (c.descricao) }
                            td { (c.by) }
                        }
                    }
                }
            }
        }
        h3 { "Recibos" }
        table {
            caption { "O recibo de envio é assinado pela plataforma; o de conclusão, pelo destinatário" }
            thead {
                tr {
                    th scope="col" { "Recibo" } th scope="col" { "Assinado por" } th scope="col" { "Data" }
                    th scope="col" { "Hashes dos componentes" } th scope="col" { "Assinatura" }
                }
            }
            tbody {
                (receipt_row("Recibo de envio", t.recibo_de_envio.as_ref()))
                (receipt_row("Recibo de conclusão", t.recibo_de_conclusao.as_ref()))
            }
        }
        @if let Some(recusa) = &t.recusa {
            h3 { "Recusa" }
            dl.why {
                dt { "Motivo" } dd { (motivo_text(&recusa.motivo)) }
                dt { "Justificativa" } dd { (recusa.justificativa) }
            }
        }
    }
}

fn receipt_row(name: &str, receipt: Option<&ReceiptCheck>) -> Markup {
    html! {
        tr {
            th scope="row" { (name) }
            @match receipt {
                None => { td colspan="4" { "não emitido" } }
                Some(c) => {
                    td { (c.signed_by) }
                    td.when { (or_none(&c.date)) }
                    td {
                        @if c.hashes.is_empty() { "nenhum" } @else {
                            ul.hashes { @for h in &c.hashes { li { code { (h) } } } }
                        }
                    }
                    td class=(if c.signature_valid { "ok" } else { "nok" }) { (signature_text(c)) }
                }
            }
        }
    }
}

fn risks_section(report: &RehearsalReport) -> Markup {
    html! {
        section aria-labelledby="riscos" {
            h2 id="riscos" { (RISKS_HEADING) }
            p { (risks_note(report.strict)) " " (risk_counts(report)) "." }
            @if report.risks.is_empty() {
                p { (NO_RISKS) }
            } @else {
                table {
                    thead {
                        tr {
                            th scope="col" { "Cenário" } th scope="col" { "Título" }
                            th scope="col" { "Papel do sistema" } th scope="col" { "Veredito" }
                            th.num scope="col" { "Duração" }
                        }
                    }
                    tbody {
                        @for r in &report.risks {
                            (risk_rows(r))
                        }
                    }
                }
            }
        }
    }
}

fn risk_rows(r: &ScenarioResult) -> Markup {
    let has_detail = !matches!(r.verdict, Verdict::Pass);
    html! {
        tr class=[has_detail.then_some("has-detail")] {
            th scope="row" { code { (r.id) } }
            td { (r.title) }
            td { (r.side.label()) }
            td { span class=(format!("badge {}", r.verdict.label())) { (risk_label(&r.verdict)) } }
            td.num { (format_duration(r.duration_ms)) }
        }
        @if has_detail {
            tr.detail {
                td colspan="5" {
                    (labelled_dl(&verdict_lines(&r.verdict)))
                    @if let Verdict::Fail { evidence, .. } = &r.verdict {
                        @if !evidence.is_empty() {
                            details {
                                summary { "Linhas do diário da plataforma (" (evidence.len()) ")" }
                                pre { (evidence.join("\n")) }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The element id of a requirement's section: its id, lowercased, whitespace replaced (not
/// allowed in HTML ids).
fn anchor(id: &str) -> String {
    let cleaned: String = id
        .chars()
        .map(|c| {
            if c.is_whitespace() {
                '-'
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect();
    format!("req-{cleaned}")
}
