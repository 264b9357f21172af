//! `pen-conformance list | setup | serve | run | mutants | load`. Exit codes: 0 all passed, 1
//! the SUT failed some scenario, 2 the harness or its configuration failed.

use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use pen_client::agent::{Defect, Quirk};
use pen_conformance::report::{self, console::Console};
use pen_conformance::run::{self, Progress, RunOptions};
use pen_conformance::scenario::{self, Scenario};
use pen_conformance::target::{ReferenceTarget, Target, TargetConfig};
use pen_conformance::verdict::ScenarioResult;

/// Conformance harness for Tramita.gov.br integrators: scripted scenarios against a system under
/// test, on an embedded local platform, with verdicts a CI can trust.
#[derive(Debug, Parser)]
#[command(name = "pen-conformance", version, about)]
pub(crate) struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// The scenarios, grouped by family, with the side the SUT plays and what each needs.
    List,
    /// Run the suite (embedded simulator; the reference agent unless --target-config).
    Run(RunArgs),
    /// Measure how many trâmites per second the SUT takes in: inject N towards it, read from
    /// the journal when it read, downloaded and concluded each, report throughput, latencies
    /// and where time went.
    Load(LoadArgs),
    /// Prepare an external target: generate its PKI (once, in `sut.pki_dir`) and print what to
    /// configure in the system under test before `run`.
    Setup {
        #[arg(long)]
        target_config: PathBuf,
    },
    /// Keep the target's platform up (its PKI, its address) until Ctrl-C, so that the system
    /// under test can be started first and stay configured across runs; `run` with the same
    /// target uses it.
    Serve {
        #[arg(long)]
        target_config: PathBuf,
    },
    /// The homologation rehearsal: the platform's three minimum requirements (R1 send, R2
    /// receive, R3 refuse), checked as the PEN team checks them, then the production risks;
    /// the "Relatório de ensaio de homologação" on the console and in the files asked for.
    Homologacao(HomologacaoArgs),
    /// Run the suite against every mutant of the reference agent that a scenario claims and
    /// print which scenarios catch each one (exit 1 if a claim does not hold, 2 on a harness
    /// error).
    Mutants {
        #[arg(long)]
        seed: Option<u64>,
    },
}

#[derive(Debug, Args)]
struct RunArgs {
    /// `reference`: the reference agent, in process.
    #[arg(long, default_value = "reference", conflicts_with = "target_config")]
    target: String,
    /// An external integrator described by a TOML file (see ci/examples/target.toml).
    #[arg(long)]
    target_config: Option<PathBuf>,
    /// Start the reference agent with this defect (`pen-client agent --defect help`).
    #[arg(long, conflicts_with = "target_config")]
    mutant: Option<String>,
    /// Start the reference agent with this quirk, a correct behaviour of another kind
    /// (repeatable; `pen-client agent --quirk help`).
    #[arg(long = "quirk", value_name = "NAME", conflicts_with = "target_config")]
    quirks: Vec<String>,
    /// The transfer block the reference agent declares and uses (bytes).
    #[arg(long, conflicts_with = "target_config")]
    block_bytes: Option<u64>,
    /// The component limit the reference agent declares and applies (MB).
    #[arg(long, conflicts_with = "target_config")]
    max_document_mb: Option<u64>,
    /// Run the suite this many times in a row (a fresh platform each time); the exit code is
    /// the worst of them and the reports are the last run's, or the first one that did not
    /// pass.
    #[arg(long, default_value_t = 1)]
    repeat: u32,
    /// Only these scenarios (repeatable).
    #[arg(long = "scenario", value_name = "ID")]
    scenarios: Vec<String>,
    /// Seed of the run's NUPs (printed in every report); drawn from the clock when absent.
    #[arg(long)]
    seed: Option<u64>,
    /// JUnit XML report.
    #[arg(long)]
    junit: Option<PathBuf>,
    /// JSON report.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Self-contained HTML report.
    #[arg(long)]
    html: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct HomologacaoArgs {
    /// `reference`: the reference agent, in process.
    #[arg(long, default_value = "reference", conflicts_with = "target_config")]
    target: String,
    /// Your system, described by a TOML file (see ci/examples/target.toml).
    #[arg(long)]
    target_config: Option<PathBuf>,
    /// Start the reference agent with this defect (`pen-client agent --defect help`).
    #[arg(long, conflicts_with = "target_config")]
    mutant: Option<String>,
    /// Production risks count for the exit code.
    #[arg(long)]
    estrito: bool,
    /// Only R1–R3, what the real homologation checks (no production risks).
    #[arg(long, conflicts_with = "estrito")]
    sem_riscos: bool,
    #[arg(long)]
    seed: Option<u64>,
    /// JUnit XML report.
    #[arg(long)]
    junit: Option<PathBuf>,
    /// JSON report.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Self-contained HTML report.
    #[arg(long)]
    html: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct LoadArgs {
    /// `reference`: the reference agent, in process.
    #[arg(long, default_value = "reference", conflicts_with = "target_config")]
    target: String,
    /// An external integrator described by a TOML file.
    #[arg(long)]
    target_config: Option<PathBuf>,
    /// Trâmites to inject.
    #[arg(long, default_value_t = 1000)]
    count: usize,
    /// Closed loop: at most this many unfinished at a time.
    #[arg(long, default_value_t = 32, conflicts_with = "rate")]
    concurrency: usize,
    /// Open loop: this many trâmites per second, whatever the SUT does.
    #[arg(long)]
    rate: Option<f64>,
    /// Documents per process (one component each).
    #[arg(long, default_value_t = 1)]
    documents: usize,
    /// Size of each component, in bytes.
    #[arg(long, default_value_t = 100_000)]
    component_bytes: u64,
    /// Share of documentos avulsos (0–1).
    #[arg(long, default_value_t = 0.0)]
    avulso_share: f64,
    /// Share the SUT's policy should refuse (unmapped espécie), 0–1.
    #[arg(long, default_value_t = 0.0)]
    refuse_share: f64,
    /// Counterpart organisations sending (1: org-b; 2: org-b and org-c).
    #[arg(long, default_value_t = 1)]
    senders: usize,
    /// Stop after this many seconds, finished or not.
    #[arg(long, default_value_t = 120)]
    time_limit: u64,
    #[arg(long)]
    seed: Option<u64>,
    /// A few seconds: 40 trâmites, 8 at a time (CI checks that it completes).
    #[arg(long)]
    smoke: bool,
    /// JSON results.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Self-contained HTML page with the charts.
    #[arg(long)]
    html: Option<PathBuf>,
}

struct Bar(Option<indicatif::ProgressBar>);

impl pen_conformance::load::LoadProgress for Bar {
    fn injected(&self, n: usize) {
        if let Some(bar) = &self.0 {
            bar.set_message(format!("{n} injetados"));
        }
    }

    fn finished(&self, n: usize) {
        if let Some(bar) = &self.0 {
            bar.set_position(n as u64);
        }
    }
}

fn target_of(
    target: &str,
    config: Option<&PathBuf>,
    mutant: Option<&str>,
) -> Result<Target, String> {
    match (config, target) {
        (Some(path), _) => TargetConfig::load(path)
            .map(|c| Target::External(Box::new(c)))
            .map_err(|e| e.to_string()),
        (None, "reference") => mutant
            .map(str::parse::<Defect>)
            .transpose()
            .map(|mutant| {
                Target::Reference(ReferenceTarget {
                    mutant,
                    ..ReferenceTarget::default()
                })
            })
            .map_err(|e| e.to_string()),
        (None, other) => Err(format!(
            "alvo desconhecido: {other} (use reference ou --target-config ARQUIVO)"
        )),
    }
}

async fn load(args: LoadArgs) -> ExitCode {
    use pen_conformance::load::{self, LoadOptions, Pace};
    let target = match target_of(&args.target, args.target_config.as_ref(), None) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let mut options = LoadOptions {
        count: args.count,
        pace: match args.rate {
            Some(per_second) => Pace::Rate { per_second },
            None => Pace::Closed {
                concurrency: args.concurrency,
            },
        },
        documents: args.documents,
        component_bytes: args.component_bytes,
        avulso_share: args.avulso_share,
        refuse_share: args.refuse_share,
        senders: args.senders,
        time_limit_secs: args.time_limit,
    };
    if args.smoke {
        options.count = 40;
        options.pace = Pace::Closed { concurrency: 8 };
        options.time_limit_secs = 60;
    }
    let bar = Bar(std::io::stdout().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new(options.count as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:40} {pos}/{len} terminados · {msg} · {elapsed}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    }));
    let report = match load::run(target, options, args.seed, &bar).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("pen-conformance: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(b) = &bar.0 {
        b.finish_and_clear();
    }
    println!(
        "{} trâmites injetados em {:.1} s: {} concluídos, {} recusados, {} não terminados — {:.1} trâmites/s",
        report.injected,
        report.duration_ms as f64 / 1000.0,
        report.concluded,
        report.refused,
        report.unfinished,
        report.throughput_per_s
    );
    let c = &report.latencies.concluded_ms;
    println!(
        "até o recibo de conclusão: p50 {:.1} ms · p95 {:.1} ms · p99 {:.1} ms",
        c.p50, c.p95, c.p99
    );
    println!(
        "onde o tempo foi (medianas): {:.1} ms no total, {:.1} ms no simulador, {:.1} ms no SUT (simulador: {:.1} % do tempo)",
        report.breakdown.end_to_end_ms,
        report.breakdown.simulator_ms,
        report.breakdown.sut_ms,
        report.breakdown.simulator_share * 100.0
    );
    println!(
        "erros: {} chamadas do SUT, {} injeções · suíte {} · semente {}",
        report.sut_errors, report.injection_errors, report.suite_version, report.seed
    );
    if let Err(e) = report::load::write(&report, args.json.as_deref(), args.html.as_deref()) {
        eprintln!("pen-conformance: relatórios: {e}");
        return ExitCode::from(2);
    }
    ExitCode::SUCCESS
}

struct Live(Console);

impl Progress for Live {
    fn started(&self, scenario: &Scenario) {
        self.0.started(&scenario.id, &scenario.title);
    }

    fn finished(&self, result: &ScenarioResult) {
        self.0.finished(result);
    }
}

fn list() -> ExitCode {
    let scenarios = match scenario::load_all() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    println!(
        "pen-conformance {} — {} cenários",
        scenario::suite_version(),
        scenarios.len()
    );
    let mut family = "";
    for s in &scenarios {
        if s.family != family {
            family = &s.family;
            println!("\n{family}");
        }
        let needs = s.needs();
        println!(
            "  {:<40} {:<13} {}{}",
            s.id,
            s.side.label(),
            s.title,
            if needs.is_empty() {
                String::new()
            } else {
                format!(
                    " [precisa: {}]",
                    needs.into_iter().collect::<Vec<_>>().join(", ")
                )
            }
        );
    }
    ExitCode::SUCCESS
}

async fn run_suite(args: RunArgs) -> ExitCode {
    let mut target = match target_of(
        &args.target,
        args.target_config.as_ref(),
        args.mutant.as_deref(),
    ) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    if let Target::Reference(reference) = &mut target {
        for name in &args.quirks {
            match name.parse::<Quirk>() {
                Ok(q) => {
                    reference.quirks.insert(q);
                }
                Err(e) => {
                    eprintln!("{e}");
                    return ExitCode::from(2);
                }
            }
        }
        if let Some(block) = args.block_bytes {
            reference.block_bytes = block.max(1);
        }
        if let Some(mb) = args.max_document_mb {
            reference.max_document_mb = mb;
        }
    }
    let total = scenario::load_all().map_or(0, |s| s.len());
    let count = if args.scenarios.is_empty() {
        total
    } else {
        args.scenarios.len()
    };
    let repeat = args.repeat.max(1);
    let mut worst = 0;
    let mut kept = None;
    for round in 1..=repeat {
        if repeat > 1 {
            println!("\n== execução {round} de {repeat} ==");
        }
        let live = Live(Console::new(count, std::io::stdout().is_terminal()));
        let options = RunOptions {
            only: args.scenarios.clone(),
            seed: args.seed,
            ..RunOptions::new(target.clone())
        };
        let report = match run::run(options, &live).await {
            Ok(report) => report,
            Err(e) => {
                eprintln!("pen-conformance: {e}");
                return ExitCode::from(2);
            }
        };
        live.0.summary(&report);
        let code = report.exit_code();
        // The first run that did not pass is the one worth reading; otherwise the last.
        if worst == 0 {
            kept = Some(report);
        }
        worst = worst.max(code);
    }
    if repeat > 1 {
        println!("\n{repeat} execuções: código de saída {worst}");
    }
    if let Some(report) = &kept {
        if let Err(e) = report::write_all(
            report,
            args.junit.as_deref(),
            args.json.as_deref(),
            args.html.as_deref(),
        ) {
            eprintln!("pen-conformance: relatórios: {e}");
            return ExitCode::from(2);
        }
    }
    ExitCode::from(u8::try_from(worst).unwrap_or(2))
}

async fn mutants(seed: Option<u64>) -> ExitCode {
    let scenarios = scenario::load_all().unwrap_or_default();
    match run::mutants(seed).await {
        Ok(all) => {
            let mut uncaught = false;
            let mut errors_seen = 0;
            println!("mutante                    cenários que o detectam");
            for (defect, caught, report) in &all {
                let errors = report.totals().errors;
                errors_seen += errors;
                uncaught |= caught.is_empty();
                println!(
                    "{:<26} {}{}",
                    defect.name(),
                    if caught.is_empty() {
                        "NENHUM".to_owned()
                    } else {
                        caught.join(", ")
                    },
                    if errors > 0 {
                        format!(" ({errors} erro(s) do harness)")
                    } else {
                        String::new()
                    }
                );
                for r in report
                    .results
                    .iter()
                    .filter(|r| r.verdict.label() == "error")
                {
                    if let pen_conformance::verdict::Verdict::Error { message, .. } = &r.verdict {
                        println!("{:<26}   ! {}: {message}", "", r.id);
                    }
                }
                let declared: Vec<&str> = scenarios
                    .iter()
                    .filter(|s| s.catches.iter().any(|c| c == defect.name()))
                    .map(|s| s.id.as_str())
                    .collect();
                for id in declared {
                    if !caught.iter().any(|c| c == id) {
                        println!("{:<26}   ! {id} deveria detectá-lo e não detectou", "");
                        uncaught = true;
                    }
                }
            }
            if errors_seen > 0 {
                // A sweep with harness errors says nothing about the mutants it touched.
                ExitCode::from(2)
            } else if uncaught {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(e) => {
            eprintln!("pen-conformance: {e}");
            ExitCode::from(2)
        }
    }
}

async fn homologacao(args: HomologacaoArgs) -> ExitCode {
    use pen_conformance::homologacao::{self, RehearsalOptions};
    let target = match target_of(
        &args.target,
        args.target_config.as_ref(),
        args.mutant.as_deref(),
    ) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let count = homologacao::REQUIREMENTS.len()
        + if args.sem_riscos {
            0
        } else {
            homologacao::RISKS.len()
        };
    let live = Live(Console::new(count, std::io::stdout().is_terminal()));
    let options = RehearsalOptions {
        target,
        seed: args.seed,
        strict: args.estrito,
        risks: !args.sem_riscos,
    };
    let report = match homologacao::run(options, &live).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("pen-conformance: {e}");
            return ExitCode::from(2);
        }
    };
    live.0.note("");
    print!(
        "{}",
        report::homologacao::render_console(&report, std::io::stdout().is_terminal())
    );
    if let Err(e) = report::homologacao::write(
        &report,
        args.junit.as_deref(),
        args.json.as_deref(),
        args.html.as_deref(),
    ) {
        eprintln!("pen-conformance: relatórios: {e}");
        return ExitCode::from(2);
    }
    ExitCode::from(u8::try_from(report.exit_code()).unwrap_or(2))
}

fn setup(path: &std::path::Path) -> ExitCode {
    let target = match TargetConfig::load(path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = run::ensure_pki(&target.config.sut.pki_dir) {
        eprintln!("pen-conformance: {e}");
        return ExitCode::from(2);
    }
    let base_url = run::setup::base_url_of(target.config.simulator.addr);
    run::print_configuration(&target, &base_url);
    ExitCode::SUCCESS
}

async fn serve(path: &std::path::Path) -> ExitCode {
    let target = match TargetConfig::load(path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let stop = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    match run::serve(&target, stop).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pen-conformance: {e}");
            ExitCode::from(2)
        }
    }
}

impl Cli {
    pub(crate) async fn run(self) -> ExitCode {
        match self.command {
            Command::List => list(),
            Command::Run(args) => run_suite(args).await,
            Command::Mutants { seed } => mutants(seed).await,
            Command::Homologacao(args) => homologacao(args).await,
            Command::Load(args) => load(args).await,
            Command::Setup { target_config } => setup(&target_config),
            Command::Serve { target_config } => serve(&target_config).await,
        }
    }
}
