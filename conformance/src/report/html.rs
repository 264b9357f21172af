//! One self-contained HTML page a person opens from a CI artifact or a folder: inline CSS, no
//! script, no external asset, no link out of the page.
//!
//! It shows the run's header (suite version, target, seed, start, duration, exit code and its
//! meaning), the totals in colour, a list of links to what failed, and a table per scenario family
//! (id, title, side, spec reference, verdict, duration). Under a failure come the step, expected,
//! observed, the rule and the journal evidence; under a skip its reason; under an error the
//! harness's message. Every scenario's steps fold into a `<details>`. Texts are user-facing and in
//! Portuguese; all of them go through `maud`, which escapes every spliced value.

use maud::{html, Markup, PreEscaped, DOCTYPE};

use crate::verdict::{RunReport, ScenarioResult, Verdict};

use super::{by_family, exit_code_meaning, format_duration};

/// The page's stylesheet (a constant: nothing from the report goes through it unescaped).
const CSS: &str = r#"
:root { color-scheme: light; --pass: #1a7f37; --fail: #cf222e; --skipped: #9a6700; --error: #8250df;
  --line: #d0d7de; --muted: #57606a; --bg-soft: #f6f8fa; }
* { box-sizing: border-box; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  margin: 0 auto; max-width: 1200px; padding: 1.5rem; color: #1f2328; line-height: 1.45; }
h1 { font-size: 1.5rem; margin: 0 0 .25rem; }
h2 { font-size: 1.15rem; margin: 2rem 0 .5rem; }
h2 .counts { font-size: .85rem; font-weight: normal; color: var(--muted); margin-left: .5rem; }
code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace; font-size: .85rem; }
.sub { color: var(--muted); margin: 0 0 1rem; }
.status { padding: .6rem .9rem; border-radius: 6px; color: #fff; font-weight: 600; margin: 1rem 0; }
.status.exit-0 { background: var(--pass); } .status.exit-1 { background: var(--fail); }
.status.exit-2 { background: var(--error); }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; margin: 0 0 1rem; }
dl.meta dt { color: var(--muted); } dl.meta dd { margin: 0; overflow-wrap: anywhere; }
.totals { display: flex; flex-wrap: wrap; gap: .5rem; margin: 0 0 1rem; }
.total { border: 1px solid var(--line); border-left-width: 6px; border-radius: 6px; padding: .4rem .8rem; min-width: 8rem; }
.total b { display: block; font-size: 1.4rem; }
.total.pass { border-left-color: var(--pass); } .total.fail { border-left-color: var(--fail); }
.total.skipped { border-left-color: var(--skipped); } .total.error { border-left-color: var(--error); }
nav ul { margin: .25rem 0; padding-left: 1.25rem; }
table { width: 100%; border-collapse: collapse; table-layout: fixed; }
col.c-id { width: 19%; } col.c-title { width: 33%; } col.c-side { width: 10%; }
col.c-spec { width: 17%; } col.c-verdict { width: 11%; } col.c-time { width: 10%; }
th, td { text-align: left; vertical-align: top; padding: .4rem .5rem; border-bottom: 1px solid var(--line);
  overflow-wrap: anywhere; }
th { background: var(--bg-soft); font-size: .85rem; }
th.num, td.num { text-align: right; white-space: nowrap; }
tr.detail td { background: var(--bg-soft); }
tr.has-detail td { border-bottom: none; }
.badge { display: inline-block; border-radius: 1rem; padding: .05rem .6rem; color: #fff; font-size: .8rem; font-weight: 600; text-transform: uppercase; }
.badge.pass { background: var(--pass); } .badge.fail { background: var(--fail); }
.badge.skipped { background: var(--skipped); } .badge.error { background: var(--error); }
dl.why { display: grid; grid-template-columns: max-content 1fr; gap: .25rem 1rem; margin: 0; }
dl.why dt { font-weight: 600; } dl.why dd { margin: 0; white-space: pre-wrap; overflow-wrap: anywhere; }
details { margin-top: .35rem; } summary { cursor: pointer; color: var(--muted); }
pre { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: .5rem; margin: .35rem 0 0;
  max-height: 24rem; overflow: auto; white-space: pre-wrap; overflow-wrap: anywhere; }
ol.steps { margin: .25rem 0; padding-left: 1.5rem; font-size: .9rem; }
ol.steps .ok { color: var(--pass); } ol.steps .nok { color: var(--fail); }
footer { margin-top: 2rem; color: var(--muted); font-size: .85rem; }
"#;

/// The run as a complete HTML document.
#[must_use]
pub fn render(report: &RunReport) -> String {
    page(report).into_string()
}

fn page(report: &RunReport) -> Markup {
    let totals = report.totals();
    let code = report.exit_code();
    let groups = by_family(report);
    let problems: Vec<&ScenarioResult> = report
        .results
        .iter()
        .filter(|r| matches!(r.verdict, Verdict::Fail { .. } | Verdict::Error { .. }))
        .collect();
    html! {
        (DOCTYPE)
        html lang="pt-BR" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="generator" content="pen-conformance";
                title {
                    "pen-conformance — " (report.target) " — "
                    (totals.passed) " aprovados, " (totals.failed) " falhas, "
                    (totals.skipped) " ignorados, " (totals.errors) " erros"
                }
                style { (PreEscaped(CSS)) }
            }
            body {
                header {
                    h1 { "Relatório de conformidade Tramita.gov.br" }
                    p.sub { "pen-conformance · " (report.results.len()) " cenários" }
                    div class=(format!("status exit-{}", code.clamp(0, 2))) {
                        "Código de saída " (code) ": " (exit_code_meaning(code))
                    }
                    dl.meta {
                        dt { "Versão da suíte" } dd { code { (report.suite_version) } }
                        dt { "Alvo (sistema sob teste)" } dd { (report.target) }
                        dt { "Semente" } dd { code { (report.seed) } }
                        dt { "Início" } dd { time datetime=(report.started_at) { (report.started_at) } }
                        dt { "Duração" } dd { (format_duration(report.duration_ms)) }
                    }
                    div.totals {
                        div.total.pass { b { (totals.passed) } "aprovados" }
                        div.total.fail { b { (totals.failed) } "falhas" }
                        div.total.skipped { b { (totals.skipped) } "ignorados" }
                        div.total.error { b { (totals.errors) } "erros do harness" }
                    }
                }
                @if !problems.is_empty() {
                    nav {
                        strong { "Falhas e erros" }
                        ul {
                            @for r in &problems {
                                li {
                                    a href=(format!("#{}", anchor(&r.id))) { code { (r.id) } }
                                    " — " (r.title) " "
                                    span class=(format!("badge {}", r.verdict.label())) { (r.verdict.label()) }
                                }
                            }
                        }
                    }
                }
                main {
                    @if groups.is_empty() {
                        p { "Nenhum cenário foi executado." }
                    }
                    @for (family, results) in &groups {
                        (family_section(family, results))
                    }
                }
                footer {
                    "Gerado por pen-conformance · suíte " (report.suite_version)
                    " · alvo " (report.target) " · semente " (report.seed)
                    ". Códigos de saída: 0 todos passaram, 1 o sistema sob teste falhou, "
                    "2 erro do harness ou da configuração."
                }
            }
        }
    }
}

fn family_section(family: &str, results: &[&ScenarioResult]) -> Markup {
    let count = |label: &str| {
        results
            .iter()
            .filter(|r| r.verdict.label() == label)
            .count()
    };
    html! {
        section {
            h2 {
                (family)
                span.counts {
                    (count("pass")) " aprovados · " (count("fail")) " falhas · "
                    (count("skipped")) " ignorados · " (count("error")) " erros"
                }
            }
            table {
                colgroup {
                    col.c-id; col.c-title; col.c-side; col.c-spec; col.c-verdict; col.c-time;
                }
                thead {
                    tr {
                        th { "ID" } th { "Título" } th { "Lado do SUT" } th { "Referência" }
                        th { "Veredito" } th.num { "Duração" }
                    }
                }
                tbody {
                    @for r in results {
                        (scenario_rows(r))
                    }
                }
            }
        }
    }
}

fn scenario_rows(r: &ScenarioResult) -> Markup {
    let has_detail = !matches!(r.verdict, Verdict::Pass);
    html! {
        tr id=(anchor(&r.id)) class=[has_detail.then_some("has-detail")] {
            td { code { (r.id) } }
            td {
                (r.title)
                @if !r.steps.is_empty() {
                    details {
                        summary { "Passos (" (r.steps.len()) ")" }
                        ol.steps {
                            @for s in &r.steps {
                                li {
                                    @if s.ok { span.ok { "✔" } } @else { span.nok { "✘" } }
                                    " " (s.description) " (" (format_duration(s.duration_ms)) ")"
                                }
                            }
                        }
                    }
                }
            }
            td { (r.side.label()) }
            td { (r.spec) }
            td { span class=(format!("badge {}", r.verdict.label())) { (r.verdict.label()) } }
            td.num { (format_duration(r.duration_ms)) }
        }
        @if has_detail {
            tr.detail {
                td colspan="6" { (verdict_detail(&r.verdict)) }
            }
        }
    }
}

fn verdict_detail(verdict: &Verdict) -> Markup {
    html! {
        @match verdict {
            Verdict::Pass => {}
            Verdict::Fail { step, expected, observed, evidence, hint } => {
                dl.why {
                    dt { "Passo" } dd { (step) }
                    dt { "Esperado" } dd { (expected) }
                    dt { "Observado" } dd { (observed) }
                    dt { "Regra" } dd { (hint) }
                }
                @if evidence.is_empty() {
                    p { "Sem evidência do diário." }
                } @else {
                    details open {
                        summary { "Evidência do diário do simulador (" (evidence.len()) " linhas)" }
                        pre { (evidence.join("\n")) }
                    }
                }
            }
            Verdict::Skipped { reason } => {
                dl.why { dt { "Ignorado porque" } dd { (reason) } }
            }
            Verdict::Error { step, message } => {
                dl.why {
                    @if let Some(step) = step {
                        dt { "Passo" } dd { (step) }
                    }
                    dt { "Erro do harness" } dd { (message) }
                }
                p { "O harness não conseguiu concluir o cenário; isto não é uma falha do sistema sob teste." }
            }
        }
    }
}

/// The element id of a scenario's row: its id with whitespace (not allowed in HTML ids) replaced.
fn anchor(id: &str) -> String {
    let cleaned: String = id
        .chars()
        .map(|c| if c.is_whitespace() { '-' } else { c })
        .collect();
    format!("s-{cleaned}")
}
