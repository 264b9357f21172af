//! The load run's reports: its JSON (the [`LoadReport`] as is) and one self-contained HTML page
//! with a throughput-over-time chart and a latency-distribution chart drawn in inline SVG (no
//! script, no external asset).

use std::fmt::Write as _;
use std::io;
use std::path::Path;

use maud::{html, Markup, PreEscaped, DOCTYPE};

use crate::load::{LoadReport, Percentiles};

use super::write_atomically;

/// Writes whichever of the JSON and HTML reports were asked for.
///
/// # Errors
/// Writing a file (the error names it).
pub fn write(report: &LoadReport, json: Option<&Path>, html: Option<&Path>) -> io::Result<()> {
    if let Some(path) = json {
        let text = serde_json::to_string_pretty(report).map_err(io::Error::other)?;
        write_atomically(path, text.as_bytes())?;
    }
    if let Some(path) = html {
        write_atomically(path, render(report).as_bytes())?;
    }
    Ok(())
}

const CSS: &str = r"
body { font-family: system-ui, sans-serif; margin: 0 auto; max-width: 1000px; padding: 1.5rem; color: #1f2328; }
h1 { font-size: 1.5rem; margin: 0 0 .25rem; } h2 { font-size: 1.15rem; margin: 1.75rem 0 .5rem; }
.sub { color: #57606a; } table { border-collapse: collapse; margin: .5rem 0; }
th, td { text-align: right; padding: .3rem .7rem; border-bottom: 1px solid #d0d7de; }
th:first-child, td:first-child { text-align: left; } th { background: #f6f8fa; }
.big { display: flex; gap: .75rem; flex-wrap: wrap; } .big div { border: 1px solid #d0d7de; border-radius: 6px; padding: .5rem .9rem; }
.big b { display: block; font-size: 1.4rem; } svg { background: #fff; border: 1px solid #d0d7de; border-radius: 6px; }
";

/// The page.
#[must_use]
pub fn render(report: &LoadReport) -> String {
    page(report).into_string()
}

fn row(name: &str, p: &Percentiles) -> Markup {
    html! {
        tr { td { (name) } td { (p.count) } td { (format!("{:.1}", p.p50)) } td { (format!("{:.1}", p.p95)) }
             td { (format!("{:.1}", p.p99)) } td { (format!("{:.1}", p.max)) } }
    }
}

fn page(r: &LoadReport) -> Markup {
    html! {
        (DOCTYPE)
        html lang="pt-BR" {
            head { meta charset="utf-8"; title { "Carga de recebimento — " (r.target) } style { (PreEscaped(CSS)) } }
            body {
                h1 { "Carga de recebimento: " (r.target) }
                p.sub { "Suíte " (r.suite_version) " · semente " (r.seed) " · início " (r.started_at)
                    " · duração " (format!("{:.1}", r.duration_ms as f64 / 1000.0)) " s" }
                div.big {
                    div { b { (format!("{:.1}", r.throughput_per_s)) } "trâmites/s" }
                    div { b { (r.concluded) } "concluídos (5)" }
                    div { b { (r.refused) } "recusados (8)" }
                    div { b { (r.unfinished) } "não terminados" }
                    div { b { (r.sut_errors) } "chamadas do SUT com erro" }
                    div { b { (r.injection_errors) } "injeções recusadas" }
                }
                h2 { "Vazão ao longo do tempo (trâmites terminados por segundo)" }
                (PreEscaped(throughput_svg(&r.timeline)))
                h2 { "Latências desde a injeção (ms)" }
                table {
                    tr { th { "até" } th { "n" } th { "p50" } th { "p95" } th { "p99" } th { "máx" } }
                    (row("leitura dos metadados (3)", &r.latencies.metadata_ms))
                    (row("componentes baixados (4)", &r.latencies.downloaded_ms))
                    (row("recibo de conclusão (5)", &r.latencies.concluded_ms))
                    (row("recusa (8)", &r.latencies.refused_ms))
                }
                (PreEscaped(latency_svg(&r.latencies.concluded_ms, &r.latencies.downloaded_ms, &r.latencies.metadata_ms)))
                h2 { "Onde o tempo foi (medianas por trâmite)" }
                table {
                    tr { th { "" } th { "ms" } }
                    tr { td { "injeção → fim" } td { (format!("{:.1}", r.breakdown.end_to_end_ms)) } }
                    tr { td { "no simulador (respostas às chamadas do SUT)" } td { (format!("{:.1}", r.breakdown.simulator_ms)) } }
                    tr { td { "no SUT (trabalho, fila, rede)" } td { (format!("{:.1}", r.breakdown.sut_ms)) } }
                }
                p.sub { "Parcela do simulador no tempo total: " (format!("{:.1}", r.breakdown.simulator_share * 100.0)) " %." }
                h2 { "Carga" }
                pre { (serde_json::to_string_pretty(&r.options).unwrap_or_default()) }
            }
        }
    }
}

/// Bars, one per second.
fn throughput_svg(timeline: &[usize]) -> String {
    let (w, h, pad) = (900.0, 260.0, 36.0);
    let max = timeline.iter().copied().max().unwrap_or(0).max(1) as f64;
    let n = timeline.len().max(1) as f64;
    let bar = (w - 2.0 * pad) / n;
    let mut svg = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" role="img" aria-label="vazão por segundo">"#
    );
    let _ = write!(
        svg,
        r##"<line x1="{pad}" y1="{y}" x2="{x2}" y2="{y}" stroke="#57606a"/>"##,
        y = h - pad,
        x2 = w - pad
    );
    for (i, v) in timeline.iter().enumerate() {
        let bh = (*v as f64 / max) * (h - 2.0 * pad);
        let _ = write!(
            svg,
            r##"<rect x="{x:.1}" y="{y:.1}" width="{bw:.1}" height="{bh:.1}" fill="#2f81f7"><title>{i} s: {v}</title></rect>"##,
            x = pad + i as f64 * bar,
            y = h - pad - bh,
            bw = (bar - 1.0).max(0.5),
        );
    }
    let _ = write!(
        svg,
        r##"<text x="{pad}" y="{t}" font-size="12" fill="#57606a">{max:.0}/s</text><text x="{x}" y="{b}" font-size="12" fill="#57606a" text-anchor="end">{n:.0} s</text></svg>"##,
        t = pad - 8.0,
        x = w - pad,
        b = h - pad + 16.0
    );
    svg
}

/// The percentiles of the three latencies as horizontal bars.
fn latency_svg(
    concluded: &Percentiles,
    downloaded: &Percentiles,
    metadata: &Percentiles,
) -> String {
    let (w, pad) = (900.0, 150.0);
    let rows = [
        ("metadados", metadata),
        ("baixados", downloaded),
        ("concluídos", concluded),
    ];
    let max = rows.iter().map(|(_, p)| p.max).fold(1.0, f64::max);
    let h = 40.0 + rows.len() as f64 * 60.0;
    let mut svg = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" role="img" aria-label="distribuição das latências">"#
    );
    for (k, (name, p)) in rows.iter().enumerate() {
        let y = 20.0 + k as f64 * 60.0;
        let x = |v: f64| pad + v / max * (w - pad - 20.0);
        let _ = write!(
            svg,
            r##"<text x="8" y="{ty}" font-size="13" fill="#1f2328">{name}</text>"##,
            ty = y + 18.0
        );
        let _ = write!(
            svg,
            r##"<rect x="{a:.1}" y="{y}" width="{bw:.1}" height="24" fill="#2f81f7" opacity="0.35"/>"##,
            a = x(0.0),
            bw = x(p.p95) - x(0.0)
        );
        let _ = write!(
            svg,
            r##"<rect x="{a:.1}" y="{y}" width="{bw:.1}" height="24" fill="#2f81f7"/>"##,
            a = x(0.0),
            bw = x(p.p50) - x(0.0)
        );
        let _ = write!(
            svg,
            r##"<line x1="{c:.1}" y1="{y}" x2="{c:.1}" y2="{y2}" stroke="#cf222e" stroke-width="2"/>"##,
            c = x(p.p99),
            y2 = y + 24.0
        );
        let _ = write!(
            svg,
            r##"<text x="{tx:.1}" y="{ty}" font-size="11" fill="#57606a">p50 {:.1} · p95 {:.1} · p99 {:.1} ms</text>"##,
            p.p50,
            p.p95,
            p.p99,
            tx = x(0.0),
            ty = y + 38.0
        );
    }
    svg.push_str("</svg>");
    svg
}
