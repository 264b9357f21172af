//! `loopback`: the simulator against a bare axum + rustls baseline, same certificates, same
//! loader, one process, one run; prints each rate and the ratios simulator / baseline.
//!
//! ```sh
//! cargo run --release -p pen-benches --bin loopback                 # 8 scenarios × 3 rounds, ~1 min
//! cargo run --release -p pen-benches --bin loopback -- --smoke --json target/loopback.json
//! ```
//!
//! Three servers start in process, on `127.0.0.1:0`, with the committed PKI's server
//! certificate and CA (client certificate required): the baseline ([`pen_benches::hello`]), the
//! simulator's own mTLS listener serving the baseline's routes ("edge"), and the simulator. One
//! trâmite from org-a to org-b with a `--component-bytes` component is prepared first; the loader
//! authenticates as org-b. Scenarios (HTTP/1.1): `GET /hello`, `GET tramites/pendentes`,
//! `GET tramites/{idt}`, `POST /blob` against `POST tramites/{idt}/protocolos/componentes-digitais`
//! (the same body bytes), and a new connection per request with full mTLS handshakes (TLS
//! resumption off) for `GET /hello` and `GET tramites/pendentes`.
//!
//! Every scenario runs `--rounds` times in alternating order; ratios are the median of the
//! per-round ratios of scenarios that ran back to back, so that another process's load on the
//! same cores weighs on both sides. Servers and loader run on two separate tokio runtimes of
//! `--threads` workers each (default: one per CPU), unpinned: on a small machine they share the
//! cores, as they do in CI.
//!
//! Exits non-zero when a scenario completed no request or saw errors (after printing and writing
//! the JSON): on loopback both mean something is broken.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context as _};
use base64::Engine as _;
use bytes::Bytes;
use clap::Parser;
use pen_benches::hello::{self, HelloServer, BLOB_PATH, HELLO_PATH};
use pen_benches::load::{self, Measurement, Mode, Plan, Report, RequestSpec, Target};
use pen_benches::sim::{self, unit, ORG_B_UNIT};
use pen_benches::tls::{self, Resumption};
use pen_protocol::api::IdentificacaoDeComponente;
use pen_simulator::runtime::{Simulator, SimulatorOptions};
use serde::Serialize;
use tokio::sync::watch;

/// The organisation the loader authenticates as (the recipient of the prepared trâmite).
const LOADER_ORG: &str = "org-b";

#[derive(Debug, Parser)]
#[command(
    name = "loopback",
    about = "Loopback load bench: the simulator against a bare axum + rustls baseline (mTLS, same certificates)"
)]
struct Args {
    /// Measured window of each scenario, in seconds (all rounds together).
    #[arg(long, default_value_t = 6.0)]
    duration: f64,
    /// Warm-up before each round of each scenario, in seconds (not counted).
    #[arg(long, default_value_t = 0.5)]
    warmup: f64,
    /// Rounds: every scenario is measured this many times, in alternating order, and the rounds
    /// are added up, so that a background load that changes during the run weighs on the
    /// simulator and on the baseline alike.
    #[arg(long, default_value_t = 3)]
    rounds: u32,
    /// Concurrent keep-alive connections.
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Concurrent workers of the new-connection (handshake) scenarios, at most --connections.
    #[arg(long, default_value_t = 16)]
    handshake_connections: usize,
    /// About 2–3 s in all: tiny windows and few connections; only checks that everything runs.
    #[arg(long)]
    smoke: bool,
    /// Also write the results as JSON to this file.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// The test PKI (default: the repository's `certs/`).
    #[arg(long, value_name = "DIR")]
    pki: Option<PathBuf>,
    /// Size of the component served by the download scenario, in bytes.
    #[arg(long, default_value_t = 100 * 1024)]
    component_bytes: u64,
    /// Worker threads of the server runtime and of the loader runtime, each (default: CPUs).
    #[arg(long)]
    threads: Option<usize>,
    /// Run only the scenarios whose name contains one of these texts (repeatable):
    /// `--only hello --only pendentes`.
    #[arg(long, value_name = "TEXT")]
    only: Vec<String>,
}

/// Which server a scenario loads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
enum Server {
    /// axum + rustls, nothing else.
    Baseline,
    /// The simulator's mTLS listener (`pen_simulator::server`) serving the baseline's routes:
    /// what the edge alone costs (peer identity per connection, slash collapsing).
    SimulatorEdge,
    /// The whole simulator (REST v3 router, journal, faults layer, platform).
    Simulator,
}

#[derive(Debug, Serialize)]
struct Row {
    name: &'static str,
    server: Server,
    request: String,
    #[serde(flatten)]
    report: Report,
    /// Requests per second of each round, in the order they ran.
    round_rates: Vec<f64>,
}

#[derive(Debug, Serialize)]
struct Ratio {
    name: &'static str,
    numerator: &'static str,
    denominator: &'static str,
    /// The median of the per-round ratios (each taken between scenarios that ran back to back).
    median: f64,
    /// Per-round ratios, in round order.
    rounds: Vec<f64>,
    /// Ratio of the totals over all rounds.
    overall: f64,
}

#[derive(Debug, Serialize)]
struct Machine {
    cpus: usize,
    cpu_model: Option<String>,
    os: &'static str,
    arch: &'static str,
    /// `/proc/loadavg` before and after the run (others' work on the same cores shows here).
    loadavg_before: Option<String>,
    loadavg_after: Option<String>,
}

#[derive(Debug, Serialize)]
struct Settings {
    smoke: bool,
    rounds: u32,
    warmup_secs_per_round: f64,
    window_secs_per_round: f64,
    connections: usize,
    handshake_connections: usize,
    component_bytes: u64,
    download_body_bytes: usize,
    threads_per_runtime: usize,
    loader_org: &'static str,
    tls_resumption_in_new_connection_mode: bool,
}

#[derive(Debug, Serialize)]
struct Output {
    machine: Machine,
    settings: Settings,
    results: Vec<Row>,
    ratios: Vec<Ratio>,
}

struct Scenario {
    name: &'static str,
    server: Server,
    addr: SocketAddr,
    request: RequestSpec,
    mode: Mode,
}

/// (ratio name, numerator scenario, denominator scenario)
const RATIOS: [(&str, &str, &str); 5] = [
    (
        "pendentes / hello (keep-alive)",
        "sim pendentes",
        "baseline hello",
    ),
    (
        "metadados / hello (keep-alive)",
        "sim metadados",
        "baseline hello",
    ),
    (
        "download / blob (keep-alive)",
        "sim download",
        "baseline blob",
    ),
    (
        "edge hello / hello (keep-alive)",
        "edge hello",
        "baseline hello",
    ),
    (
        "mTLS handshakes/s (new connection)",
        "sim pendentes new-conn",
        "baseline hello new-conn",
    ),
];

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let cpus = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    let threads = args.threads.unwrap_or(cpus).max(1);
    let (warmup, window, rounds, connections, handshake_connections) = if args.smoke {
        (0.1, 0.15, 1, args.connections.clamp(1, 4), 2)
    } else {
        (
            args.warmup,
            args.duration,
            args.rounds.max(1),
            args.connections.max(1),
            args.handshake_connections.clamp(1, args.connections.max(1)),
        )
    };
    let warmup = seconds("--warmup", warmup)?;
    let window = seconds("--duration", window)? / rounds;
    if window.is_zero() {
        bail!("--duration must be greater than 0");
    }

    let loadavg_before = loadavg();
    let pki_dir = args.pki.clone().unwrap_or_else(tls::default_pki_dir);
    let pki = tls::load_pki(&pki_dir)
        .with_context(|| format!("loading the test PKI from {}", pki_dir.display()))?;
    let server_tls = tls::server_config(&pki)?;
    let keep_alive_tls = tls::client_config(&pki, LOADER_ORG, Resumption::Allowed)?;
    let full_handshake_tls = tls::client_config(&pki, LOADER_ORG, Resumption::Disabled)?;

    let server_rt = runtime("server", threads)?;
    let loader_rt = runtime("loader", threads)?;
    let (stop, stopped) = watch::channel(false);
    let shutdown = move || {
        let mut stopped = stopped.clone();
        async move {
            let _ = stopped.wait_for(|stop| *stop).await;
        }
    };

    // The simulator first: the baseline's blob is the very body a download of the prepared
    // component answers.
    let mut options = SimulatorOptions::new(&pki_dir);
    options.addr = SocketAddr::from(([127, 0, 0, 1], 0));
    let simulator = server_rt
        .block_on(Simulator::bind(options))
        .context("starting the simulator")?;
    let sim_addr = simulator.local_addr();
    let state = simulator.state();
    let prepared = server_rt
        .block_on(sim::prepare_download(
            &state,
            unit(ORG_B_UNIT),
            args.component_bytes,
        ))
        .context("preparing the download trâmite")?;
    server_rt.spawn(simulator.run_until(shutdown()));
    let blob = Bytes::from(base64::engine::general_purpose::STANDARD.encode(&prepared.bytes));

    let baseline = server_rt.block_on(HelloServer::bind(Arc::clone(&server_tls)))?;
    let baseline_addr = baseline.local_addr();
    server_rt.spawn(baseline.serve(hello::router(blob.clone()), shutdown()));

    let edge = server_rt
        .block_on(pen_simulator::server::Server::bind(
            SocketAddr::from(([127, 0, 0, 1], 0)),
            Arc::clone(&server_tls),
        ))
        .context("binding the simulator's listener for the edge scenario")?;
    let edge_addr = edge.local_addr();
    server_rt.spawn(edge.serve(hello::router(blob.clone()), shutdown()));

    let base = pen_protocol::BASE_PATH;
    let idt = prepared.idt;
    let download_body = serde_json::to_vec(&IdentificacaoDeComponente {
        hash_do_componente_digital: prepared.hash.clone(),
        protocolo: prepared.protocolo.clone(),
    })?;
    let pendentes = RequestSpec::get(format!("{base}tramites/pendentes"));
    let scenario = |name, server, addr, request: &RequestSpec, mode| Scenario {
        name,
        server,
        addr,
        request: request.clone(),
        mode,
    };
    let hello_get = RequestSpec::get(HELLO_PATH);
    let all = [
        scenario(
            "baseline hello",
            Server::Baseline,
            baseline_addr,
            &hello_get,
            Mode::KeepAlive,
        ),
        scenario(
            "edge hello",
            Server::SimulatorEdge,
            edge_addr,
            &hello_get,
            Mode::KeepAlive,
        ),
        scenario(
            "sim pendentes",
            Server::Simulator,
            sim_addr,
            &pendentes,
            Mode::KeepAlive,
        ),
        scenario(
            "sim metadados",
            Server::Simulator,
            sim_addr,
            &RequestSpec::get(format!("{base}tramites/{idt}")),
            Mode::KeepAlive,
        ),
        scenario(
            "baseline blob",
            Server::Baseline,
            baseline_addr,
            &RequestSpec::post_json(BLOB_PATH, download_body.clone()),
            Mode::KeepAlive,
        ),
        scenario(
            "sim download",
            Server::Simulator,
            sim_addr,
            &RequestSpec::post_json(
                format!("{base}tramites/{idt}/protocolos/componentes-digitais"),
                download_body,
            ),
            Mode::KeepAlive,
        ),
        scenario(
            "baseline hello new-conn",
            Server::Baseline,
            baseline_addr,
            &hello_get,
            Mode::NewConnection,
        ),
        scenario(
            "sim pendentes new-conn",
            Server::Simulator,
            sim_addr,
            &pendentes,
            Mode::NewConnection,
        ),
    ];
    let scenarios: Vec<Scenario> = all
        .into_iter()
        .filter(|s| args.only.is_empty() || args.only.iter().any(|o| s.name.contains(o.as_str())))
        .collect();
    if scenarios.is_empty() {
        bail!("--only matches no scenario");
    }

    println!(
        "loopback: {cpus} CPUs, {threads} threads per runtime, {rounds} round(s) of warm-up {:.2} s + \
         window {:.2} s per scenario, {connections} keep-alive connections, \
         {handshake_connections} new-connection workers, loader = {LOADER_ORG}",
        warmup.as_secs_f64(),
        window.as_secs_f64(),
    );
    let mut measured: Vec<(Option<Measurement>, Vec<f64>)> =
        scenarios.iter().map(|_| (None, Vec::new())).collect();
    for round in 0..rounds {
        if rounds > 1 {
            eprintln!("round {}/{rounds}", round + 1);
        }
        // Alternate the order so that drift in the background load averages out.
        let order: Vec<usize> = if round % 2 == 0 {
            (0..scenarios.len()).collect()
        } else {
            (0..scenarios.len()).rev().collect()
        };
        for i in order {
            let s = &scenarios[i];
            let (tls, workers) = match s.mode {
                Mode::KeepAlive => (Arc::clone(&keep_alive_tls), connections),
                Mode::NewConnection => (Arc::clone(&full_handshake_tls), handshake_connections),
            };
            let target = Target {
                addr: s.addr,
                server_name: tls::loopback_server_name(),
                tls,
            };
            let plan = Plan {
                mode: s.mode,
                connections: workers,
                warmup,
                window,
                request_timeout: load::DEFAULT_REQUEST_TIMEOUT,
            };
            let measurement = loader_rt.block_on(load::run(&target, &s.request, &plan));
            let (total, rates) = &mut measured[i];
            rates.push(measurement.requests_per_sec());
            match total {
                Some(total) => total.merge(measurement),
                None => *total = Some(measurement),
            }
        }
    }

    println!(
        "{:<24} {:<12} {:<10} {:>5} {:>9} {:>7} {:>8} {:>8} {:>6} {:>8}",
        "scenario",
        "server",
        "mode",
        "conns",
        "req/s",
        "spread",
        "p50 ms",
        "p99 ms",
        "errors",
        "MB/s"
    );
    let mut rows = Vec::new();
    for (s, (total, round_rates)) in scenarios.iter().zip(measured) {
        let Some(total) = total else { continue };
        let report = total.report();
        println!(
            "{:<24} {:<12} {:<10} {:>5} {:>9.0} {:>6.0}% {:>8.3} {:>8.3} {:>6} {:>8.1}",
            s.name,
            server_label(s.server),
            s.mode.to_string(),
            report.connections,
            report.requests_per_sec,
            spread_percent(&round_rates),
            report.p50_ms,
            report.p99_ms,
            report.errors,
            report.body_bytes_per_sec / 1e6,
        );
        if let Some(error) = &report.first_error {
            println!("  first error: {error}");
        }
        rows.push(Row {
            name: s.name,
            server: s.server,
            request: format!("{} {}", s.request.method, s.request.path),
            report,
            round_rates,
        });
    }
    if rounds > 1 {
        println!("(spread: (max - min) / mean of the per-round rates)");
    }

    let ratios: Vec<Ratio> = RATIOS
        .iter()
        .filter_map(|&(name, numerator, denominator)| {
            let row = |n: &str| rows.iter().find(|r| r.name == n);
            let (top, bottom) = (row(numerator)?, row(denominator)?);
            let rounds: Vec<f64> = top
                .round_rates
                .iter()
                .zip(&bottom.round_rates)
                .map(|(t, b)| ratio(*t, *b))
                .collect();
            Some(Ratio {
                name,
                numerator,
                denominator,
                median: median(&rounds),
                overall: ratio(top.report.requests_per_sec, bottom.report.requests_per_sec),
                rounds,
            })
        })
        .collect();
    if !ratios.is_empty() {
        println!("ratios simulator / baseline (median of the per-round ratios; rounds):");
    }
    for r in &ratios {
        let rounds: Vec<String> = r.rounds.iter().map(|x| format!("{x:.2}")).collect();
        println!(
            "  {:<38} {:>5.2}   ({})",
            r.name,
            r.median,
            rounds.join(", ")
        );
    }

    println!(
        "load average (1/5/15 min) before: {}, after: {}",
        loadavg_before.as_deref().unwrap_or("?"),
        loadavg().as_deref().unwrap_or("?")
    );

    let _ = stop.send(true);
    server_rt.shutdown_timeout(Duration::from_secs(1));
    loader_rt.shutdown_timeout(Duration::from_secs(1));

    let broken: Vec<&str> = rows
        .iter()
        .filter(|r| r.report.completed == 0 || r.report.errors > 0)
        .map(|r| r.name)
        .collect();
    if let Some(path) = &args.json {
        let output = Output {
            machine: machine(cpus, loadavg_before),
            settings: Settings {
                smoke: args.smoke,
                rounds,
                warmup_secs_per_round: warmup.as_secs_f64(),
                window_secs_per_round: window.as_secs_f64(),
                connections,
                handshake_connections,
                component_bytes: args.component_bytes,
                download_body_bytes: blob.len(),
                threads_per_runtime: threads,
                loader_org: LOADER_ORG,
                tls_resumption_in_new_connection_mode: false,
            },
            results: rows,
            ratios,
        };
        let text = serde_json::to_string_pretty(&output)?;
        std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
        println!("results written to {}", path.display());
    }
    if !broken.is_empty() {
        bail!(
            "scenarios with errors or no completed request: {}",
            broken.join(", ")
        );
    }
    Ok(())
}

fn ratio(top: f64, bottom: f64) -> f64 {
    if bottom > 0.0 {
        top / bottom
    } else {
        0.0
    }
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    match sorted.len() {
        0 => 0.0,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

fn seconds(flag: &str, value: f64) -> anyhow::Result<Duration> {
    Duration::try_from_secs_f64(value)
        .with_context(|| format!("{flag} must be a non-negative number of seconds"))
}

/// (max - min) / mean of the per-round rates, in percent (0 for a single round).
fn spread_percent(rates: &[f64]) -> f64 {
    let (min, max) = rates.iter().fold((f64::INFINITY, 0.0_f64), |(lo, hi), &r| {
        (lo.min(r), hi.max(r))
    });
    let mean = rates.iter().sum::<f64>() / rates.len().max(1) as f64;
    if rates.len() < 2 || mean <= 0.0 {
        0.0
    } else {
        (max - min) / mean * 100.0
    }
}

fn runtime(name: &str, threads: usize) -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .thread_name(name)
        .enable_all()
        .build()
        .with_context(|| format!("building the {name} runtime"))
}

fn server_label(server: Server) -> &'static str {
    match server {
        Server::Baseline => "axum+rustls",
        Server::SimulatorEdge => "sim edge",
        Server::Simulator => "simulator",
    }
}

fn loadavg() -> Option<String> {
    std::fs::read_to_string("/proc/loadavg").ok().map(|text| {
        text.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    })
}

fn machine(cpus: usize, loadavg_before: Option<String>) -> Machine {
    let cpu_model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|line| line.starts_with("model name"))
                .and_then(|line| line.split_once(':'))
                .map(|(_, model)| model.trim().to_owned())
        });
    Machine {
        cpus,
        cpu_model,
        os: std::env::consts::OS,
        arch: std::env::consts::ARCH,
        loadavg_before,
        loadavg_after: loadavg(),
    }
}
