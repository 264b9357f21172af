//! `memory`: issue 7's memory targets, measured and printed (never asserted).
//!
//! ```sh
//! cargo build --release -p pen-simulator -p pen-benches      # the transfer needs both binaries
//! cargo run --release -p pen-benches --bin memory -- --smoke  # 2,000 trâmites, 64 MiB component
//! cargo run --release -p pen-benches --bin memory -- --json target/memory.json
//! ```
//!
//! Two measurements, each in a fresh process (this binary runs itself once per measurement, so
//! that memory the allocator kept from one cannot hide the other's growth):
//!
//! 1. **Completed trâmites held in memory** (`--tramites`, default 100,000; `--smoke` 2,000): an
//!    in-process `Platform` built as `pen-simulator serve` builds it
//!    ([`pen_benches::sim::build_platform`]), then that many trâmites taken to situação 6 through
//!    the platform's own operations ([`pen_benches::memory::complete_tramites`]; two RSA-2048
//!    signatures each, the platform's and org-b's). Reported: growth of `VmRSS` and of the peak
//!    (`VmHWM`) over the process before the platform existed. Target: under 1 GiB.
//! 2. **One large component up and down** (`--component-bytes`, default 1 GiB; `--smoke`
//!    64 MiB): `pen-simulator serve --addr 127.0.0.1:0 --data-dir <temporary folder>` as a child
//!    process (the binary next to this one, or `--simulator`), then in this process the
//!    reference client's `send_process` as org-a, with the `processo-simples` sample plus a
//!    generated attachment of that size, to org-b's unit 1/159098, in parts of `--block`
//!    (default 8 MiB, also the whole-upload threshold), and `receive` as org-b into a file;
//!    the sender then fetches the recibo de conclusão (situação 6), and the received file's
//!    SHA-256 is compared with the sent hash. Reported for this process (the client) and for
//!    the simulator: `VmHWM` at the end of each direction minus `VmRSS` right before the
//!    transfer (the peak is reset through `/proc/<pid>/clear_refs` before each direction), and
//!    the highest `VmRSS` seen by sampling both every 50 ms; the largest of the three is held
//!    against the target: under 64 MiB each.
//!
//! Exits non-zero when something fails (a refusal, a hash mismatch), never because a target is
//! missed: the figures are for people to read.

use std::io::BufRead as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context as _};
use clap::{Parser, ValueEnum};
use pen_benches::memory::{self, MemStatus, Sampler};
use pen_benches::sim::{self, unit, ORG_A_UNIT, ORG_B_UNIT};
use pen_benches::tls;
use pen_client::flows::{self, FileSink, TransferOptions};
use pen_client::samples::{self, Envelope};
use pen_client::{Client, ClientConfig, Identity};
use pen_protocol::hash::hash_reader;
use pen_simulator::clock::SystemClock;
use serde::{Deserialize, Serialize};

const MIB: u64 = 1024 * 1024;
const GIB: u64 = 1024 * MIB;
/// Issue 7: 100,000 completed trâmites in under 1 GiB.
const TRAMITES_TARGET: u64 = GIB;
/// Issue 7: a 1 GiB component crosses with under 64 MiB of growth on each side.
const TRANSFER_TARGET: u64 = 64 * MIB;
const SAMPLE_EVERY: Duration = Duration::from_millis(50);
/// The seed of the generated attachment.
const SEED: u64 = 7;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum Part {
    /// Completed trâmites held in an in-process platform.
    Tramites,
    /// A large component up and down through a simulator child process.
    Transfer,
}

#[derive(Debug, Parser)]
#[command(
    name = "memory",
    about = "Memory of the simulator and the reference client: 100,000 completed trâmites held, a 1 GiB component up and down"
)]
struct Args {
    /// 2,000 trâmites and a 64 MiB component: checks that everything runs (~10 s).
    #[arg(long)]
    smoke: bool,
    /// Also write the figures as JSON to this file.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Run only this measurement, in this process.
    #[arg(long, value_enum)]
    only: Option<Part>,
    /// Completed trâmites to hold (default 100,000; 2,000 with --smoke).
    #[arg(long)]
    tramites: Option<usize>,
    /// Threads completing trâmites (default: CPUs).
    #[arg(long)]
    threads: Option<usize>,
    /// Size of the transferred component in bytes (default 1 GiB; 64 MiB with --smoke).
    #[arg(long)]
    component_bytes: Option<u64>,
    /// Part size both ways, and the size from which the upload goes in parts.
    #[arg(long, default_value_t = 8 * MIB)]
    block: u64,
    /// The `pen-simulator` binary (default: next to this one, in `target/release/`).
    #[arg(long, value_name = "PATH")]
    simulator: Option<PathBuf>,
    /// The test PKI (default: the repository's `certs/`).
    #[arg(long, value_name = "DIR")]
    pki: Option<PathBuf>,
    /// Set by the parent run: no table, the JSON only.
    #[arg(long, hide = true)]
    child: bool,
}

#[derive(Debug, Serialize, Deserialize)]
struct Machine {
    cpus: usize,
    cpu_model: Option<String>,
    mem_total_bytes: Option<u64>,
    os: String,
    arch: String,
    /// `/proc/loadavg` before and after (others' work on the same cores shows here).
    loadavg_before: Option<String>,
    loadavg_after: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Settings {
    smoke: bool,
    tramites: usize,
    component_bytes: u64,
    block: u64,
    whole_below: u64,
    sample_interval_ms: u64,
    /// Each measurement ran in a process of its own.
    separate_processes: bool,
}

#[derive(Debug, Serialize, Deserialize)]
struct TramitesReport {
    tramites: usize,
    threads: usize,
    secs: f64,
    rsa_signatures: usize,
    /// `VmRSS` before the platform was built.
    rss_before: u64,
    /// `VmRSS` with the platform built and empty.
    rss_empty_platform: u64,
    /// `VmRSS` with every trâmite completed.
    rss_after: u64,
    /// `VmHWM` at the end (reset before the platform was built when `peak_reset`).
    hwm_after: u64,
    peak_reset: bool,
    /// `rss_after - rss_before`.
    rss_growth: u64,
    /// `hwm_after - rss_before`.
    peak_growth: u64,
    /// `rss_growth / tramites`.
    bytes_per_tramite: u64,
    target: u64,
}

#[derive(Debug, Serialize, Deserialize)]
struct ProcessMemory {
    pid: u32,
    /// `VmRSS` right before the transfer (connections up, sample hashed).
    rss_before: u64,
    /// `VmHWM` at the end of the upload and of the download.
    hwm_upload: u64,
    hwm_download: u64,
    /// Whether `clear_refs` reset the peak before each direction (otherwise `VmHWM` counts from
    /// the start of the process, which only overstates the growth).
    peak_reset: bool,
    /// `hwm_upload - rss_before`, `hwm_download - rss_before`.
    peak_growth_upload: u64,
    peak_growth_download: u64,
    /// The largest of the two and of `sampled_growth`: the figure held against the target.
    peak_growth: u64,
    /// Highest `VmRSS` sampled during the transfer, minus `rss_before`.
    sampled_growth: u64,
    /// `VmRSS` after the transfer.
    rss_after: u64,
}

#[derive(Debug, Serialize, Deserialize)]
struct TransferReport {
    component_bytes: u64,
    block: u64,
    whole_below: u64,
    parts_each_way: u64,
    hash: String,
    received_hash: String,
    hash_matches: bool,
    upload_secs: f64,
    download_secs: f64,
    samples: usize,
    client: ProcessMemory,
    simulator: ProcessMemory,
    target: u64,
}

#[derive(Debug, Serialize, Deserialize)]
struct Output {
    machine: Machine,
    settings: Settings,
    tramites: Option<TramitesReport>,
    transfer: Option<TransferReport>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let loadavg_before = loadavg();
    let cpus = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    let tramites = args
        .tramites
        .unwrap_or(if args.smoke { 2_000 } else { 100_000 });
    let component_bytes = args
        .component_bytes
        .unwrap_or(if args.smoke { 64 * MIB } else { GIB });
    ensure!(args.block > 0, "--block must be greater than 0");
    let pki_dir = args.pki.clone().unwrap_or_else(tls::default_pki_dir);
    let settings = Settings {
        smoke: args.smoke,
        tramites,
        component_bytes,
        block: args.block,
        whole_below: args.block,
        sample_interval_ms: u64::try_from(SAMPLE_EVERY.as_millis()).unwrap_or(u64::MAX),
        separate_processes: args.only.is_none(),
    };

    let (tramites_report, transfer_report) = match args.only {
        Some(Part::Tramites) => (
            Some(measure_tramites(
                &pki_dir,
                tramites,
                args.threads.unwrap_or(cpus),
                !args.child,
            )?),
            None,
        ),
        Some(Part::Transfer) => (
            None,
            Some(measure_transfer(
                &args,
                &pki_dir,
                component_bytes,
                !args.child,
            )?),
        ),
        None => {
            // The transfer first: the smaller footprint, and the one a build in the background
            // slows the least.
            let transfer = run_child(&args, Part::Transfer)?.transfer;
            let tramites = run_child(&args, Part::Tramites)?.tramites;
            (tramites, transfer)
        }
    };

    let output = Output {
        machine: machine(cpus, loadavg_before),
        settings,
        tramites: tramites_report,
        transfer: transfer_report,
    };
    if !args.child {
        print_table(&output);
    }
    if let Some(path) = &args.json {
        let file =
            std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
        serde_json::to_writer_pretty(std::io::BufWriter::new(file), &output)
            .with_context(|| format!("writing {}", path.display()))?;
        if !args.child {
            println!("\nJSON written to {}", path.display());
        }
    }
    if let Some(t) = &output.transfer {
        ensure!(
            t.hash_matches,
            "the received file hashes to {}, not {}",
            t.received_hash,
            t.hash
        );
    }
    Ok(())
}

/// Runs this binary again for one measurement and reads back its JSON.
fn run_child(args: &Args, part: Part) -> anyhow::Result<Output> {
    let exe = std::env::current_exe().context("locating this binary")?;
    let dir = tempfile::tempdir()?;
    let json = dir.path().join("part.json");
    let mut command = Command::new(&exe);
    command.arg("--child").arg("--json").arg(&json);
    command.arg("--only").arg(match part {
        Part::Tramites => "tramites",
        Part::Transfer => "transfer",
    });
    if args.smoke {
        command.arg("--smoke");
    }
    command.arg("--block").arg(args.block.to_string());
    if let Some(n) = args.tramites {
        command.arg("--tramites").arg(n.to_string());
    }
    if let Some(n) = args.threads {
        command.arg("--threads").arg(n.to_string());
    }
    if let Some(n) = args.component_bytes {
        command.arg("--component-bytes").arg(n.to_string());
    }
    if let Some(path) = &args.simulator {
        command.arg("--simulator").arg(path);
    }
    if let Some(path) = &args.pki {
        command.arg("--pki").arg(path);
    }
    let status = command
        .status()
        .with_context(|| format!("running {}", exe.display()))?;
    ensure!(
        status.success(),
        "the {part:?} measurement failed ({status})"
    );
    let bytes = std::fs::read(&json).with_context(|| format!("reading {}", json.display()))?;
    serde_json::from_slice(&bytes).with_context(|| format!("parsing {}", json.display()))
}

// ---------------------------------------------------------------------------------- trâmites

fn measure_tramites(
    pki_dir: &Path,
    n: usize,
    threads: usize,
    verbose: bool,
) -> anyhow::Result<TramitesReport> {
    let pki = tls::load_pki(pki_dir)
        .with_context(|| format!("loading the test PKI from {}", pki_dir.display()))?;
    // Everything the platform does not own is loaded; what grows from here is the platform.
    let peak_reset = memory::reset_peak(None);
    let before = MemStatus::of_self()?;
    let platform = sim::build_platform(&pki, Arc::new(SystemClock::new()))?;
    let empty = MemStatus::of_self()?;
    eprintln!("tramites: completing {n} trâmites (situação 6) on {threads} thread(s)…");
    let progress = |done: usize| {
        if verbose || done.is_multiple_of(50_000) {
            eprintln!("  {done} completed");
        }
    };
    let completed = memory::complete_tramites(&platform, pki_dir, n, threads, &progress)?;
    let after = MemStatus::of_self()?;
    ensure!(
        completed.tramites == n,
        "completed {} of {n}",
        completed.tramites
    );
    drop(platform);
    let rss_growth = after.rss.saturating_sub(before.rss);
    Ok(TramitesReport {
        tramites: n,
        threads: completed.threads,
        secs: completed.secs,
        rsa_signatures: completed.signatures,
        rss_before: before.rss,
        rss_empty_platform: empty.rss,
        rss_after: after.rss,
        hwm_after: after.hwm,
        peak_reset,
        rss_growth,
        peak_growth: after.hwm.saturating_sub(before.rss),
        bytes_per_tramite: rss_growth / u64::try_from(n.max(1)).unwrap_or(1),
        target: TRAMITES_TARGET,
    })
}

// ---------------------------------------------------------------------------------- transfer

/// The simulator child process, killed (and reaped) when dropped.
struct SimulatorProcess {
    child: Child,
    base_url: String,
    /// Its stderr (the tracing log), shown when it fails to start.
    log: PathBuf,
}

impl SimulatorProcess {
    fn start(binary: &Path, pki_dir: &Path, data_dir: &Path, log: PathBuf) -> anyhow::Result<Self> {
        let stderr = std::fs::File::create(&log)?;
        let mut child = Command::new(binary)
            .arg("serve")
            .arg("--addr")
            .arg("127.0.0.1:0")
            .arg("--data-dir")
            .arg(data_dir)
            .arg("--pki")
            .arg(pki_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let mut line = String::new();
        let read = match child.stdout.as_mut() {
            Some(stdout) => std::io::BufReader::new(stdout).read_line(&mut line),
            None => Ok(0),
        };
        let mut process = SimulatorProcess {
            child,
            base_url: line.trim().to_owned(),
            log,
        };
        if read.is_err() || !process.base_url.starts_with("https://") {
            let log = std::fs::read_to_string(&process.log).unwrap_or_default();
            let _ = process.child.kill();
            bail!(
                "the simulator printed no base URL (got {:?}); its log:\n{log}",
                process.base_url
            );
        }
        Ok(process)
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for SimulatorProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn client(pki_dir: &Path, base_url: &str, org: &str) -> anyhow::Result<Client> {
    let identity = pki_dir.join(format!("orgs/{org}/identity.pem"));
    let identity = Identity::from_pem(
        &std::fs::read(&identity).with_context(|| format!("reading {}", identity.display()))?,
    )?;
    let ca = pki_dir.join("ca.pem");
    let ca = std::fs::read(&ca).with_context(|| format!("reading {}", ca.display()))?;
    Ok(Client::new(ClientConfig::new(base_url, ca, identity))?)
}

fn simulator_binary(args: &Args) -> anyhow::Result<PathBuf> {
    let path = match &args.simulator {
        Some(path) => path.clone(),
        None => {
            let exe = std::env::current_exe().context("locating this binary")?;
            exe.parent()
                .context("this binary has no folder")?
                .join(format!("pen-simulator{}", std::env::consts::EXE_SUFFIX))
        }
    };
    ensure!(
        path.is_file(),
        "{} not found: build it first with `cargo build --release -p pen-simulator -p pen-benches` \
         (or give --simulator PATH)",
        path.display()
    );
    Ok(path)
}

fn measure_transfer(
    args: &Args,
    pki_dir: &Path,
    size: u64,
    verbose: bool,
) -> anyhow::Result<TransferReport> {
    let binary = simulator_binary(args)?;
    let work = tempfile::tempdir().context("a temporary folder")?;
    let (data, received_dir) = (work.path().join("data"), work.path().join("received"));
    std::fs::create_dir_all(&data)?;
    let simulator =
        SimulatorProcess::start(&binary, pki_dir, &data, work.path().join("simulator.log"))?;
    let sim_pid = simulator.pid();
    if verbose {
        eprintln!(
            "transfer: simulator pid {sim_pid} at {}",
            simulator.base_url
        );
    }
    let options = TransferOptions {
        block: args.block,
        whole_below: args.block,
    };

    // The sample and its attachment: hashing the generated bytes once streams them, with a small
    // buffer, before anything is measured.
    let sample = samples::load("processo-simples")?.with_large_attachment(size, SEED)?;
    let hash = sample
        .source
        .generated
        .keys()
        .next()
        .cloned()
        .context("the sample has no generated attachment")?;
    let Envelope::Processo(processo) = sample.envelope.clone() else {
        bail!("processo-simples is not a process");
    };
    let envio = sim::envio(processo, unit(ORG_A_UNIT), unit(ORG_B_UNIT));

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let org_a = client(pki_dir, &simulator.base_url, "org-a")?;
    let org_b = client(pki_dir, &simulator.base_url, "org-b")?;
    // Both connections up (TLS, HTTP/2) before the baseline is taken.
    runtime.block_on(async {
        org_a.pending(true).await?;
        org_b.pending(true).await?;
        Ok::<_, pen_client::Error>(())
    })?;

    let client_before = MemStatus::of_self()?;
    let sim_before = MemStatus::of_pid(sim_pid)?;
    let sampler = Sampler::start(vec![None, Some(sim_pid)], SAMPLE_EVERY);

    let reset = |what: &str| {
        let client = memory::reset_peak(None);
        let sim = memory::reset_peak(Some(sim_pid));
        if verbose {
            eprintln!("transfer: {what}");
        }
        (client, sim)
    };
    let (client_reset_up, sim_reset_up) = reset(&format!(
        "sending {size} bytes in parts of {} as org-a…",
        options.block
    ));
    let started = Instant::now();
    let sent = runtime.block_on(flows::send_process(&org_a, &envio, &sample.source, options))?;
    let upload_secs = started.elapsed().as_secs_f64();
    let (client_up, sim_up) = (MemStatus::of_self()?, MemStatus::of_pid(sim_pid)?);
    ensure!(
        sent.uploaded.contains(&hash),
        "the platform did not request the attachment ({:?})",
        sent.uploaded
    );
    let idt = sent.created.idt;

    let (client_reset_down, sim_reset_down) = reset("receiving as org-b into a file…");
    let started = Instant::now();
    let mut sink = FileSink::new(&received_dir);
    let received = runtime.block_on(flows::receive(&org_b, idt, &mut sink, options))?;
    let download_secs = started.elapsed().as_secs_f64();
    let (client_down, sim_down) = (MemStatus::of_self()?, MemStatus::of_pid(sim_pid)?);
    let received = match received {
        Ok(received) => received,
        Err(corrupted) => bail!(
            "the received component hashes to {}, not {}",
            corrupted.computed,
            corrupted.hash
        ),
    };
    ensure!(
        received.hashes.contains(&hash),
        "the attachment was not among the received components"
    );
    runtime.block_on(flows::fetch_conclusion_receipt(&org_a, idt))?;
    let (max_rss, samples) = sampler.finish();
    let client_after = MemStatus::of_self()?;
    let sim_after = MemStatus::of_pid(sim_pid)?;
    drop(runtime);
    drop(simulator);

    // The received file, hashed from disk (after the measurement: 64 KiB buffer).
    let path = sink.path_of(&hash);
    let file = std::fs::File::open(&path).with_context(|| format!("opening {}", path.display()))?;
    let (received_hash, received_len) = hash_reader(file)?;
    let received_hash = received_hash.to_base64();
    ensure!(
        received_len == size,
        "received {received_len} bytes, sent {size}"
    );

    let process = |pid: u32,
                   before: MemStatus,
                   up: MemStatus,
                   down: MemStatus,
                   max_rss: u64,
                   reset: bool,
                   after: MemStatus| {
        let peak_growth_upload = up.hwm.saturating_sub(before.rss);
        let peak_growth_download = down.hwm.saturating_sub(before.rss);
        ProcessMemory {
            pid,
            rss_before: before.rss,
            hwm_upload: up.hwm,
            hwm_download: down.hwm,
            peak_reset: reset,
            peak_growth_upload,
            peak_growth_download,
            peak_growth: peak_growth_upload
                .max(peak_growth_download)
                .max(max_rss.saturating_sub(before.rss)),
            sampled_growth: max_rss.saturating_sub(before.rss),
            rss_after: after.rss,
        }
    };
    let max_of = |i: usize| max_rss.get(i).copied().unwrap_or_default();
    Ok(TransferReport {
        component_bytes: size,
        block: options.block,
        whole_below: options.whole_below,
        parts_each_way: size.div_ceil(options.block),
        hash_matches: received_hash == hash,
        hash,
        received_hash,
        upload_secs,
        download_secs,
        samples,
        client: process(
            std::process::id(),
            client_before,
            client_up,
            client_down,
            max_of(0),
            client_reset_up && client_reset_down,
            client_after,
        ),
        simulator: process(
            sim_pid,
            sim_before,
            sim_up,
            sim_down,
            max_of(1),
            sim_reset_up && sim_reset_down,
            sim_after,
        ),
        target: TRANSFER_TARGET,
    })
}

// ---------------------------------------------------------------------------------- output

fn mib(bytes: u64) -> String {
    let mib = bytes as f64 / MIB as f64;
    format!("{mib:.1} MiB")
}

fn verdict(value: u64, target: u64) -> &'static str {
    if value < target {
        "met"
    } else {
        "MISSED"
    }
}

fn print_table(output: &Output) {
    let m = &output.machine;
    println!(
        "memory: {} CPU(s), {}, load {} → {}",
        m.cpus,
        m.cpu_model.as_deref().unwrap_or("unknown CPU"),
        m.loadavg_before.as_deref().unwrap_or("?"),
        m.loadavg_after.as_deref().unwrap_or("?"),
    );
    if let Some(t) = &output.transfer {
        println!();
        println!(
            "Component of {} up and down (block = whole_below = {}, {} parts each way)",
            mib(t.component_bytes),
            mib(t.block),
            t.parts_each_way
        );
        let rate = |secs: f64| t.component_bytes as f64 / MIB as f64 / secs.max(1e-9);
        println!(
            "  upload {:.1} s ({:.0} MiB/s), download {:.1} s ({:.0} MiB/s); received file's SHA-256 = sent hash: {}",
            t.upload_secs,
            rate(t.upload_secs),
            t.download_secs,
            rate(t.download_secs),
            if t.hash_matches { "yes" } else { "NO" }
        );
        println!(
            "  {:<34} {:>14} {:>14}",
            "",
            format!("client ({})", t.client.pid),
            format!("simulator ({})", t.simulator.pid)
        );
        let row = |name: &str, f: &dyn Fn(&ProcessMemory) -> String| {
            println!("  {name:<34} {:>14} {:>14}", f(&t.client), f(&t.simulator));
        };
        row("VmRSS before", &|p| mib(p.rss_before));
        row(
            "peak growth, upload (VmHWM)",
            &|p| mib(p.peak_growth_upload),
        );
        row("peak growth, download (VmHWM)", &|p| {
            mib(p.peak_growth_download)
        });
        row(&format!("max VmRSS growth ({} samples)", t.samples), &|p| {
            mib(p.sampled_growth)
        });
        row("VmRSS after", &|p| mib(p.rss_after));
        row(
            &format!("peak growth vs target < {}", mib(t.target)),
            &|p| {
                format!(
                    "{} {}",
                    mib(p.peak_growth),
                    verdict(p.peak_growth, t.target)
                )
            },
        );
        if !t.client.peak_reset || !t.simulator.peak_reset {
            println!("  (VmHWM could not be reset: peaks count from process start)");
        }
    }
    if let Some(t) = &output.tramites {
        println!();
        println!(
            "{} completed trâmites (situação 6) held in one Platform: {:.1} s on {} thread(s), {} RSA-2048 signatures",
            t.tramites, t.secs, t.threads, t.rsa_signatures
        );
        println!(
            "  {:<34} {:>14}",
            "VmRSS before the platform",
            mib(t.rss_before)
        );
        println!(
            "  {:<34} {:>14}",
            "VmRSS, empty platform",
            mib(t.rss_empty_platform)
        );
        println!("  {:<34} {:>14}", "VmRSS, all completed", mib(t.rss_after));
        println!(
            "  {:<34} {:>14}  ({} bytes per trâmite)",
            "VmRSS growth",
            mib(t.rss_growth),
            t.bytes_per_tramite
        );
        println!(
            "  {:<34} {:>14}  target < {}: {}",
            "peak growth (VmHWM)",
            mib(t.peak_growth),
            mib(t.target),
            verdict(t.peak_growth, t.target)
        );
        if !t.peak_reset {
            println!("  (VmHWM could not be reset: the peak counts from process start)");
        }
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
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu_model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|rest| rest.split_once(':'))
        .map(|(_, model)| model.trim().to_owned());
    let mem_total_bytes = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|kib| kib.parse::<u64>().ok())
        })
        .map(|kib| kib * 1024);
    Machine {
        cpus,
        cpu_model,
        mem_total_bytes,
        os: std::env::consts::OS.to_owned(),
        arch: std::env::consts::ARCH.to_owned(),
        loadavg_before,
        loadavg_after: loadavg(),
    }
}
