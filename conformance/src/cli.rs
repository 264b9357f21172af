//! `pen-conformance list | run | mutants`. Exit codes: 0 all passed, 1 the SUT failed some
//! scenario, 2 the harness or its configuration failed.

use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use pen_client::agent::Defect;
use pen_conformance::report::{self, console::Console};
use pen_conformance::run::{self, Progress, RunOptions};
use pen_conformance::scenario::{self, Scenario};
use pen_conformance::target::{Target, TargetConfig};
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
    /// Prepare an external target: generate its PKI (once, in `sut.pki_dir`) and print what to
    /// configure in the system under test before `run`.
    Setup {
        #[arg(long)]
        target_config: PathBuf,
    },
    /// Run the suite against every mutant of the reference agent and print which scenarios
    /// catch each one (exit 1 if a mutant goes uncaught).
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
    let target = match (&args.target_config, args.target.as_str()) {
        (Some(path), _) => match TargetConfig::load(path) {
            Ok(config) => Target::External(Box::new(config)),
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::from(2);
            }
        },
        (None, "reference") => match args.mutant.as_deref().map(str::parse::<Defect>).transpose() {
            Ok(mutant) => Target::Reference { mutant },
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::from(2);
            }
        },
        (None, other) => {
            eprintln!("alvo desconhecido: {other} (use reference ou --target-config ARQUIVO)");
            return ExitCode::from(2);
        }
    };
    let total = scenario::load_all().map_or(0, |s| s.len());
    let live = Live(Console::new(
        if args.scenarios.is_empty() {
            total
        } else {
            args.scenarios.len()
        },
        std::io::stdout().is_terminal(),
    ));
    let options = RunOptions {
        target,
        only: args.scenarios,
        seed: args.seed,
        pki_dir: None,
    };
    let report = match run::run(options, &live).await {
        Ok(report) => report,
        Err(e) => {
            eprintln!("pen-conformance: {e}");
            return ExitCode::from(2);
        }
    };
    live.0.summary(&report);
    if let Err(e) = report::write_all(
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

async fn mutants(seed: Option<u64>) -> ExitCode {
    let scenarios = scenario::load_all().unwrap_or_default();
    match run::mutants(seed).await {
        Ok(all) => {
            let mut uncaught = false;
            println!("mutante                    cenários que o detectam");
            for (defect, caught, report) in &all {
                let errors = report.totals().errors;
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
            if uncaught {
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

fn setup(path: &std::path::Path) -> ExitCode {
    let config = match TargetConfig::load(path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = run::ensure_pki(&config.sut.pki_dir) {
        eprintln!("pen-conformance: {e}");
        return ExitCode::from(2);
    }
    let base_url = format!(
        "https://{}/interoperabilidade/rest/v3/",
        config.simulator.addr
    );
    run::print_configuration(&config.sut.pki_dir, &base_url, &config);
    ExitCode::SUCCESS
}

impl Cli {
    pub(crate) async fn run(self) -> ExitCode {
        match self.command {
            Command::List => list(),
            Command::Run(args) => run_suite(args).await,
            Command::Mutants { seed } => mutants(seed).await,
            Command::Setup { target_config } => setup(&target_config),
        }
    }
}
