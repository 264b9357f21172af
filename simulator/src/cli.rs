//! The `pen-simulator` command line: clap definitions and what each command does.
//!
//! `main.rs` parses [`Cli`] and calls [`Cli::run`]. Commands are grouped by subject
//! (`certs …`; `serve` joins later as a sibling variant of [`Command`]).

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};
use pen_protocol::registry::PkiManifest;

use pen_simulator::pki::{self, GenerateOptions};

/// A local Tramita.gov.br for integrators' tests.
#[derive(Debug, Parser)]
#[command(name = "pen-simulator", version, about)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// Top-level commands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Manage the test PKI (CA, server, platform and organisation identities).
    #[command(subcommand)]
    Certs(CertsCommand),
}

/// `pen-simulator certs …`
#[derive(Debug, Subcommand)]
pub(crate) enum CertsCommand {
    /// Generate the test PKI for the fixture organisations (replaces existing files).
    Init(InitArgs),
}

/// `pen-simulator certs init`
#[derive(Debug, Args)]
pub(crate) struct InitArgs {
    /// Folder to write the PKI into (created if missing).
    #[arg(long)]
    pub dir: PathBuf,
    /// Password of every identity.p12 and identity-encrypted.pem.
    #[arg(long, default_value = pki::DEFAULT_PASSWORD)]
    pub password: String,
    /// Validity of every certificate, in days from now.
    #[arg(long, default_value_t = pki::DEFAULT_VALIDITY_DAYS)]
    pub validity_days: u32,
}

impl Cli {
    /// Runs the command, writing its report to `out`.
    ///
    /// # Errors
    /// Whatever the command fails with, with context for a person to read.
    pub(crate) fn run(self, out: &mut dyn Write) -> anyhow::Result<()> {
        match self.command {
            Command::Certs(CertsCommand::Init(args)) => certs_init(args, out),
        }
    }
}

fn certs_init(args: InitArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let organisations = pki::fixture_organisations()?;
    let options = GenerateOptions {
        validity_days: args.validity_days,
        password: args.password,
        ..GenerateOptions::default()
    };
    let manifest = pki::generate(&args.dir, &organisations, &options)
        .with_context(|| format!("cannot generate the test PKI in {}", args.dir.display()))?;
    print_summary(&args.dir, &manifest, out).context("cannot write the summary")
}

fn print_summary(dir: &Path, manifest: &PkiManifest, out: &mut dyn Write) -> anyhow::Result<()> {
    let ca = pki::read_certificates(&dir.join(&manifest.ca))?;
    let ca_sha1 = ca
        .first()
        .map(|c| pki::sha1_fingerprint(c))
        .unwrap_or_default();
    writeln!(
        out,
        "test PKI written to {} (password {:?}, valid until {})",
        dir.display(),
        manifest.password,
        manifest.server.not_after
    )?;
    writeln!(
        out,
        "{:<22} {ca_sha1}  {}",
        manifest.ca,
        pki::CA_COMMON_NAME
    )?;
    let mut line = |label: &str, files: &pen_protocol::registry::IdentityFiles| {
        writeln!(
            out,
            "{label:<22} {}  {}",
            files.sha1_fingerprint, files.common_name
        )
    };
    line("server", &manifest.server)?;
    line("platform", &manifest.platform)?;
    for organisation in &manifest.organisations {
        line(&format!("orgs/{}", organisation.id), &organisation.files)?;
    }
    for negative in &manifest.negative {
        line(&format!("negative/{}", negative.id), &negative.files)?;
    }
    Ok(())
}
