//! The `pen-simulator` command line: clap definitions and what each command does.
//!
//! `main.rs` parses [`Cli`] and calls [`Cli::run`]. `serve` runs the platform; `certs …` manages
//! the test PKI. Logs go to stderr so that stdout stays machine-readable (the first line of
//! `serve` is the base URL).

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};
use pen_protocol::registry::PkiManifest;

use pen_simulator::clock::MAX_TIME_SCALE;
use pen_simulator::pki::{self, GenerateOptions};
use pen_simulator::server::EdgeLimits;

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
    /// Serve REST v3 over mutual TLS. Prints the base URL as its first stdout line.
    Serve(ServeArgs),
    /// Manage the test PKI (CA, server, platform and organisation identities).
    #[command(subcommand)]
    Certs(CertsCommand),
}

/// `pen-simulator serve`
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Address to listen on (port 0 picks a free port; the URL printed says which).
    #[arg(long, default_value = "127.0.0.1:8443")]
    pub addr: std::net::SocketAddr,
    /// Folder of the test PKI (server identity, CA, organisation identities).
    #[arg(long, default_value = "certs")]
    pub pki: PathBuf,
    /// `strict` (schema enforced, idealised behaviour) or `compat` (the real platform's quirks).
    #[arg(long, value_enum, default_value = "strict")]
    pub profile: ProfileArg,
    /// Run the platform's clock this many times faster than the wall clock (e.g. 86400: a day
    /// per second, so automatic cancellation after 8 days takes 8 seconds); at most 1000000.
    #[arg(long, value_parser = time_scale)]
    pub time_scale: Option<f64>,
    /// Turn the control plane on at this address (port 0 picks one); its URL is the second stdout
    /// line. Plain HTTP on loopback; mutual TLS with the PKI's administrator identity elsewhere.
    #[arg(long)]
    pub control_addr: Option<std::net::SocketAddr>,
    /// Serve the control plane over mutual TLS (administrator identity only) even on loopback.
    #[arg(long)]
    pub control_mtls: bool,
    /// Also serve the pendências host at this address (mutual TLS, port 0 picks one): its root
    /// is the long-poll service, as `PEN.WebServicePendencias` expects of the real platform's
    /// pendências host. Its URL is printed after the control plane's.
    #[arg(long)]
    pub pendencias_addr: Option<std::net::SocketAddr>,
    /// Keep component bytes in this folder instead of a temporary one.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Connections each listener keeps open at once; one more is closed as soon as it is
    /// accepted. Keep it under the process's file-descriptor limit (`ulimit -n`).
    #[arg(long, default_value_t = EdgeLimits::default().max_connections, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=1_000_000))]
    pub max_connections: usize,
    /// Days without progress after which a trâmite in 1–4 is cancelled automatically (1 to
    /// 36500).
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u64).range(1..=MAX_AUTO_CANCEL_DAYS))]
    pub auto_cancel_days: u64,
    /// Without `cabecalho.NRE`: issue a new NRE (`new`, as the real platform was seen doing) or
    /// reuse the one this organisation last used for the protocol (`recover`).
    #[arg(long, value_enum, default_value = "new")]
    pub missing_nre: MissingNreArg,
    /// Opt-in policy the real platform does not enforce: refuse components above this size.
    #[arg(long)]
    pub max_component_bytes: Option<u64>,
    /// Opt-in policy: accept only these file extensions (comma-separated, e.g. `pdf,html,txt`).
    #[arg(long, value_delimiter = ',')]
    pub allowed_extensions: Option<Vec<String>>,
    /// Opt-in policy: refuse non-cancelled documents whose components carry no signature.
    #[arg(long)]
    pub require_signatures: bool,
    /// Opt-in policy: refuse NUPs with wrong check digits.
    #[arg(long)]
    pub require_valid_nup: bool,
    /// Opt-in policy: refuse MIME types outside the schema's list.
    #[arg(long)]
    pub restrict_mime_types: bool,
}

/// A century: the platform adds this period to "now", which must stay within the calendar.
const MAX_AUTO_CANCEL_DAYS: u64 = 36_500;

/// `--time-scale`: a positive, finite factor up to [`MAX_TIME_SCALE`], refused on the command
/// line rather than silently replaced (a clock a million times faster already runs eleven days
/// a second; beyond, it reaches the end of its calendar within hours).
fn time_scale(text: &str) -> Result<f64, String> {
    let scale: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a number"))?;
    if scale.is_finite() && scale > 0.0 && scale <= MAX_TIME_SCALE {
        Ok(scale)
    } else {
        Err(format!(
            "{text} is out of range: use a factor greater than 0 and at most {MAX_TIME_SCALE}"
        ))
    }
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub(crate) enum MissingNreArg {
    New,
    Recover,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub(crate) enum ProfileArg {
    Strict,
    Compat,
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
    /// A host name the server certificate names besides `localhost` (repeatable): the name a
    /// system in another container or machine reaches the simulator by (`pen-simulator`).
    #[arg(long = "name", value_name = "NAME", value_parser = server_name)]
    pub names: Vec<String>,
    /// An address the server certificate names besides 127.0.0.1 and ::1 (repeatable).
    #[arg(long = "ip", value_name = "IP")]
    pub ips: Vec<std::net::IpAddr>,
}

fn server_name(text: &str) -> Result<String, String> {
    if pki::is_valid_server_name(text) {
        Ok(text.to_owned())
    } else {
        Err(format!(
            "{text:?} is not a host name (letters, digits, '-' and '.'; pass addresses with --ip)"
        ))
    }
}

impl Cli {
    /// Runs the command, writing its report to `out`.
    ///
    /// # Errors
    /// Whatever the command fails with, with context for a person to read.
    pub(crate) fn run(self, out: &mut dyn Write) -> anyhow::Result<()> {
        match self.command {
            Command::Serve(args) => serve(args, out),
            Command::Certs(CertsCommand::Init(args)) => certs_init(args, out),
        }
    }
}

fn serve(args: ServeArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    use pen_simulator::clock::{OffsetClock, ScaledClock, SharedClock, SystemClock};
    use pen_simulator::config::{PlatformConfig, Profile};
    use pen_simulator::runtime::{Simulator, SimulatorOptions};

    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let profile = match args.profile {
        ProfileArg::Strict => Profile::Strict,
        ProfileArg::Compat => Profile::Compat,
    };
    let flowing: SharedClock = match args.time_scale {
        Some(scale) => std::sync::Arc::new(ScaledClock::new(scale)),
        None => std::sync::Arc::new(SystemClock::new()),
    };
    // The control plane may move time forward; time flows otherwise.
    let clock: SharedClock = std::sync::Arc::new(OffsetClock::new(flowing));
    let mut config = PlatformConfig::for_profile(profile);
    config.auto_cancel_after =
        std::time::Duration::from_secs(args.auto_cancel_days.saturating_mul(24 * 3600));
    config.missing_nre = match args.missing_nre {
        MissingNreArg::New => pen_simulator::config::MissingNre::IssueNew,
        MissingNreArg::Recover => pen_simulator::config::MissingNre::RecoverByProtocol,
    };
    config.policies = pen_simulator::config::Policies {
        max_component_bytes: args.max_component_bytes,
        allowed_extensions: args.allowed_extensions.map(|list| {
            list.iter()
                .map(|e| e.trim().trim_start_matches('.').to_lowercase())
                .collect()
        }),
        require_signatures: args.require_signatures,
        require_valid_nup_check_digits: args.require_valid_nup,
        restrict_mime_types: args.restrict_mime_types,
    };
    let options = SimulatorOptions {
        pki_dir: args.pki.clone(),
        addr: args.addr,
        config,
        clock,
        data_dir: args.data_dir,
        control_addr: args.control_addr,
        control_mtls: args.control_mtls,
        pendencias_addr: args.pendencias_addr,
        edge: EdgeLimits {
            max_connections: args.max_connections,
            ..EdgeLimits::default()
        },
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let simulator = Simulator::bind(options).await.with_context(|| {
            format!(
                "cannot start the simulator with the PKI in {} (generate one with `pen-simulator certs init --dir {}`)",
                args.pki.display(),
                args.pki.display()
            )
        })?;
        writeln!(out, "{}", simulator.base_url())?;
        if let Some(control) = simulator.control_url() {
            writeln!(out, "{control}")?;
        }
        if let Some(pendencias) = simulator.pendencias_url() {
            writeln!(out, "{pendencias}")?;
        }
        out.flush()?;
        tracing::info!(url = %simulator.base_url(), profile = ?args.profile, "simulator listening");
        simulator
            .run_until(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await
            .context("the listener failed")
    })
}

fn certs_init(args: InitArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let organisations = pki::fixture_organisations()?;
    let options = GenerateOptions {
        validity_days: args.validity_days,
        password: args.password,
        server_names: args.names,
        server_ips: args.ips,
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
    let server = pki::read_certificates(&dir.join(&manifest.server.cert_pem))?;
    writeln!(
        out,
        "{:<22} {}",
        "server names",
        server
            .first()
            .map(|c| subject_alt_names(c))
            .unwrap_or_default()
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
    if let Some(admin) = &manifest.admin {
        line("admin", admin)?;
    }
    for organisation in &manifest.organisations {
        line(&format!("orgs/{}", organisation.id), &organisation.files)?;
    }
    for negative in &manifest.negative {
        line(&format!("negative/{}", negative.id), &negative.files)?;
    }
    Ok(())
}

/// The DNS names and addresses a certificate is valid for, as a person checks them.
fn subject_alt_names(der: &[u8]) -> String {
    use x509_parser::extensions::GeneralName;
    let Ok((_, cert)) = x509_parser::parse_x509_certificate(der) else {
        return String::new();
    };
    let Ok(Some(sans)) = cert.subject_alternative_name() else {
        return String::new();
    };
    sans.value
        .general_names
        .iter()
        .filter_map(|name| match name {
            GeneralName::DNSName(dns) => Some((*dns).to_owned()),
            GeneralName::IPAddress(bytes) => match bytes.len() {
                4 => <[u8; 4]>::try_from(*bytes)
                    .ok()
                    .map(|b| std::net::IpAddr::from(b).to_string()),
                16 => <[u8; 16]>::try_from(*bytes)
                    .ok()
                    .map(|b| std::net::IpAddr::from(b).to_string()),
                _ => None,
            },
            _ => None,
        })
        .collect::<Vec<_>>()
        .join(", ")
}
