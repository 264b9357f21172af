//! The system under test: the reference agent (in process, possibly with a defect) or any
//! integrator described by a `target.toml`, and the trigger through which the harness asks it to
//! act as a sender.
//!
//! An external SUT is configured exactly as for the real platform: `pen-conformance setup`
//! generates (once, in `pki_dir`) the CA and the SUT's certificate, and prints them with the URL
//! to configure. Relative paths in a `target.toml` are relative to the file's own folder, which
//! is also the working directory of a command trigger.
//!
//! # The trigger contract
//! The harness asks the SUT to act with a [`TriggerRequest`]: `acao` is `enviar` (send a
//! process or document to `destino` under the protocolo `nup`, imported from `pasta`) or
//! `devolver` (return the process `nup` it received to `destino`; `fixture` and `pasta` are
//! empty). `pasta` holds `processo.json` — the `processo` member of a `POST tramites/processo`
//! body — or `documento.json` — the `documento` member of `POST tramites/documento` — and every
//! component's file, named after its `componentesDigitais[].nome`; when a scenario asks for a
//! large anexo, that file is already in the folder and `anexo_bytes` gives its size.
//!
//! What the trigger's answer means ([`TriggerOutcome`], [`TriggerFailure`]):
//! - command: exit status 0 = done; any other status = the SUT declined, its standard error (or
//!   the status) is the reason shown in the verdict; 126/127 (not executable, not found) = the
//!   target's configuration is wrong (exit code 2); not finished within `timeout_secs` = the SUT
//!   did not confirm it acted: the step fails, the SUT's fault.
//! - webhook: 2xx done; any other status = the SUT declined or could not, the body is the
//!   reason; unreachable = configuration (exit code 2); no answer within `timeout_secs` = the
//!   step fails.
//! - manual: Enter = done; "não" = declined.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use pen_client::agent::{Agent, Defect, Quirk, ReturnRequest, SendRequest};
use serde::{Deserialize, Serialize};

/// `target.toml`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetConfig {
    /// Shown in reports.
    pub name: String,
    #[serde(default)]
    pub sut: SutConfig,
    #[serde(default)]
    pub simulator: SimulatorConfig,
    #[serde(default)]
    pub trigger: TriggerConfig,
}

/// Who the SUT is and what it declares about itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SutConfig {
    /// The fixture organisation whose structures the SUT answers for (`org-a`).
    pub organisation: String,
    /// The SUT's unit, `REPOSITORIO/ESTRUTURA`, among that organisation's structures.
    pub unidade: String,
    /// Largest component it accepts, in MB; size scenarios are skipped without it.
    pub max_document_mb: Option<u64>,
    /// Its transfer block (the SEI module's `TamanhoBlocoArquivoTransferencia`), in bytes.
    pub block_bytes: u64,
    /// Whether it accepts generated documents without a signature.
    pub accepts_unsigned: bool,
    /// An espécie code it does not map (motivo 04); that scenario is skipped without it.
    pub unmapped_especie: Option<u32>,
    /// Where the harness keeps the PKI it generated for this target (CA, the SUT's identity);
    /// relative to the `target.toml`'s folder.
    pub pki_dir: PathBuf,
    /// Longest wait for the SUT in any step, in seconds (a SEI polls every two minutes).
    pub deadline_secs: u64,
    /// How long the harness waits, before the first scenario, for the SUT's first call to the
    /// platform (the pre-flight); `deadline_secs` when absent.
    pub preflight_secs: Option<u64>,
}

impl Default for SutConfig {
    fn default() -> Self {
        SutConfig {
            organisation: "org-a".to_owned(),
            unidade: "1/152254".to_owned(),
            max_document_mb: None,
            block_bytes: 50 * 1024 * 1024,
            accepts_unsigned: false,
            unmapped_especie: None,
            pki_dir: PathBuf::from("pen-conformance-pki"),
            deadline_secs: 300,
            preflight_secs: None,
        }
    }
}

/// Where the simulator listens for the SUT.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SimulatorConfig {
    /// REST v3 and the long-poll host (`https://ADDR/interoperabilidade/…`).
    pub addr: SocketAddr,
    /// The control plane of a platform kept up by `pen-conformance serve` (loopback, plain
    /// HTTP): `run` uses that platform when it answers here, and starts its own otherwise.
    pub control_addr: SocketAddr,
}

impl Default for SimulatorConfig {
    fn default() -> Self {
        SimulatorConfig {
            addr: SocketAddr::from(([127, 0, 0, 1], 8443)),
            control_addr: SocketAddr::from(([127, 0, 0, 1], 8444)),
        }
    }
}

/// How the harness asks the SUT to send or return a process.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum TriggerConfig {
    /// No trigger: sender-side scenarios are skipped.
    #[default]
    None,
    /// Shell command templates, run with `sh -c`; placeholders `{acao}`, `{cenario}`,
    /// `{fixture}`, `{destino}`, `{nup}`, `{pasta}` (a folder with `processo.json` or
    /// `documento.json` and the files), `{anexo_bytes}`. Exit status 0 means done.
    Command {
        send: String,
        #[serde(rename = "return")]
        return_: String,
        #[serde(default = "default_trigger_timeout")]
        timeout_secs: u64,
    },
    /// `POST url` with a JSON body of the same fields; any 2xx means done, any other answer
    /// declined (the body is the reason).
    Webhook {
        url: String,
        #[serde(default = "default_trigger_timeout")]
        timeout_secs: u64,
    },
    /// A person does it: the console says exactly what, and waits for Enter.
    Manual,
}

fn default_trigger_timeout() -> u64 {
    300
}

/// A target file that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("configuração do alvo {file}: {detail}")]
pub struct TargetError {
    pub file: String,
    pub detail: String,
}

/// A `target.toml` as read: its settings, with paths made absolute against its folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadedTarget {
    pub config: TargetConfig,
    /// The absolute folder of the file: relative paths and the command trigger start there.
    pub dir: PathBuf,
}

impl TargetConfig {
    /// Reads and checks a `target.toml`; `sut.pki_dir` comes back absolute, resolved against
    /// the file's folder when it was relative.
    ///
    /// # Errors
    /// Unreadable file, syntax, unknown keys, an invalid unit.
    pub fn load(path: &Path) -> Result<LoadedTarget, TargetError> {
        let error = |detail: String| TargetError {
            file: path.display().to_string(),
            detail,
        };
        let text = std::fs::read_to_string(path).map_err(|e| error(e.to_string()))?;
        let mut config: TargetConfig = toml::from_str(&text).map_err(|e| error(e.to_string()))?;
        pen_client::agent::parse_unit(&config.sut.unidade).map_err(|e| error(e.to_string()))?;
        let absolute = std::path::absolute(path).map_err(|e| error(e.to_string()))?;
        let dir = absolute
            .parent()
            .map_or_else(|| PathBuf::from("/"), Path::to_path_buf);
        if config.sut.pki_dir.is_relative() {
            config.sut.pki_dir = dir.join(&config.sut.pki_dir);
        }
        config.sut.pki_dir = normalise(&config.sut.pki_dir);
        if config.sut.deadline_secs == 0 {
            return Err(error(
                "sut.deadline_secs deve ser maior que zero".to_owned(),
            ));
        }
        Ok(LoadedTarget { config, dir })
    }
}

/// `a/./b/../c` as `a/c`, without touching the file system (the folder may not exist yet).
fn normalise(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// What the SUT declares, as the scenarios use it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SutProfile {
    pub organisation: String,
    pub unidade: pen_protocol::model::EstruturaOrganizacional,
    pub max_document_mb: Option<u64>,
    pub block_bytes: u64,
    pub accepts_unsigned: bool,
    pub unmapped_especie: Option<u32>,
    /// Longest wait for the SUT in a step.
    pub deadline: Duration,
    /// Longest wait for the SUT's first call, before the first scenario.
    pub preflight: Duration,
}

/// One request to the SUT's trigger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TriggerRequest {
    /// `enviar` or `devolver`; `recusar` only to a person (manual trigger).
    pub acao: &'static str,
    pub cenario: String,
    /// Sample name (send).
    pub fixture: Option<String>,
    /// `REPOSITORIO/ESTRUTURA`.
    pub destino: String,
    /// The protocolo to send under, or of the process to return.
    pub nup: String,
    /// Folder with the sample's metadata and files (external targets).
    pub pasta: Option<PathBuf>,
    pub anexo_bytes: Option<u64>,
    /// The trâmite a `recusar` is about (manual trigger only: a person is asked to refuse it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idt: Option<u64>,
}

/// What the trigger said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TriggerOutcome {
    /// The SUT says it did it.
    Done,
    /// The SUT says it would not (its own rules stopped it) or could not, with its words.
    Declined(String),
}

/// The trigger did not give an answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TriggerFailure {
    /// The trigger cannot be used as configured (no such command, the webhook unreachable):
    /// the target's configuration, not the SUT's behaviour.
    #[error("gatilho mal configurado: {0}")]
    Configuration(String),
    /// The SUT's trigger did not finish in time: the SUT never confirmed it acted.
    #[error("o gatilho {what} não terminou em {secs} s{}", if .output.is_empty() { String::new() } else { format!(" (saída até então: {})", .output) })]
    TimedOut {
        what: String,
        secs: u64,
        output: String,
    },
}

/// How the harness reaches the SUT's trigger.
#[derive(Debug, Clone)]
pub enum Trigger {
    /// The reference agent, in process.
    Builtin(Agent),
    Command {
        send: String,
        return_: String,
        timeout: Duration,
        /// Working directory of the command (the target file's folder).
        dir: PathBuf,
    },
    Webhook {
        url: String,
        timeout: Duration,
    },
    Manual,
    None,
}

impl Trigger {
    /// The trigger of a target; a command runs in `dir`.
    #[must_use]
    pub fn from_config(config: &TriggerConfig, dir: &Path) -> Self {
        match config {
            TriggerConfig::None => Trigger::None,
            TriggerConfig::Command {
                send,
                return_,
                timeout_secs,
            } => Trigger::Command {
                send: send.clone(),
                return_: return_.clone(),
                timeout: Duration::from_secs(*timeout_secs),
                dir: dir.to_path_buf(),
            },
            TriggerConfig::Webhook { url, timeout_secs } => Trigger::Webhook {
                url: url.clone(),
                timeout: Duration::from_secs(*timeout_secs),
            },
            TriggerConfig::Manual => Trigger::Manual,
        }
    }

    #[must_use]
    pub fn available(&self) -> bool {
        !matches!(self, Trigger::None)
    }

    /// Asks the SUT to act and waits until it says it is done.
    ///
    /// # Errors
    /// See [`TriggerFailure`]: a trigger that cannot be used, or one that did not finish.
    pub async fn fire(&self, request: &TriggerRequest) -> Result<TriggerOutcome, TriggerFailure> {
        match self {
            Trigger::None => Err(TriggerFailure::Configuration(
                "o alvo não tem gatilho".to_owned(),
            )),
            Trigger::Builtin(agent) => fire_builtin(agent, request).await,
            Trigger::Command {
                send,
                return_,
                timeout,
                dir,
            } => {
                let template = if request.acao == "enviar" {
                    send
                } else {
                    return_
                };
                fire_command(template, request, *timeout, dir).await
            }
            Trigger::Webhook { url, timeout } => fire_webhook(url, request, *timeout).await,
            Trigger::Manual => fire_manual(request).await,
        }
    }
}

async fn fire_builtin(
    agent: &Agent,
    request: &TriggerRequest,
) -> Result<TriggerOutcome, TriggerFailure> {
    use pen_client::agent::AgentError;
    let result = if request.acao == "enviar" {
        agent
            .send(&SendRequest {
                fixture: request.fixture.clone().unwrap_or_default(),
                destino: request.destino.clone(),
                nup: Some(request.nup.clone()),
                anexo_bytes: request.anexo_bytes,
            })
            .await
    } else {
        agent
            .return_process(&ReturnRequest {
                nup: request.nup.clone(),
                destino: Some(request.destino.clone()),
                despacho: Some(format!(
                    "Devolução pedida pelo cenário {}.",
                    request.cenario
                )),
            })
            .await
    };
    match result {
        Ok(_) => Ok(TriggerOutcome::Done),
        Err(AgentError::NotSendable(e)) => Ok(TriggerOutcome::Declined(e.to_string())),
        // The platform said no, or the network failed: what the wire shows is what counts.
        Err(AgentError::Platform(e)) => Ok(TriggerOutcome::Declined(e.to_string())),
        Err(e) => Err(TriggerFailure::Configuration(e.to_string())),
    }
}

/// The command line of a template: every placeholder replaced by its value, quoted for `sh`
/// (an empty value is `''`).
///
/// # Errors
/// A value the shell cannot quote (a NUL byte).
pub fn render(template: &str, request: &TriggerRequest) -> Result<String, String> {
    let quote = |value: &str| {
        shlex::try_quote(value)
            .map(std::borrow::Cow::into_owned)
            .map_err(|e| format!("valor impróprio para o shell: {e}"))
    };
    let pasta = request
        .pasta
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let anexo = request
        .anexo_bytes
        .map(|n| n.to_string())
        .unwrap_or_default();
    let mut out = template.to_owned();
    for (key, value) in [
        ("{acao}", request.acao),
        ("{cenario}", request.cenario.as_str()),
        ("{fixture}", request.fixture.as_deref().unwrap_or_default()),
        ("{destino}", request.destino.as_str()),
        ("{nup}", request.nup.as_str()),
        ("{pasta}", pasta.as_str()),
        ("{anexo_bytes}", anexo.as_str()),
    ] {
        if out.contains(key) {
            out = out.replace(key, &quote(value)?);
        }
    }
    Ok(out)
}

async fn fire_command(
    template: &str,
    request: &TriggerRequest,
    timeout: Duration,
    dir: &Path,
) -> Result<TriggerOutcome, TriggerFailure> {
    let command = render(template, request).map_err(TriggerFailure::Configuration)?;
    let child = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(&command)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| TriggerFailure::Configuration(format!("`{command}`: {e}")))?;
    let output = match tokio::time::timeout(timeout, child.wait_with_output()).await {
        Ok(done) => done.map_err(|e| TriggerFailure::Configuration(format!("`{command}`: {e}")))?,
        Err(_) => {
            return Err(TriggerFailure::TimedOut {
                what: format!("`{command}`"),
                secs: timeout.as_secs(),
                output: String::new(),
            })
        }
    };
    if output.status.success() {
        return Ok(TriggerOutcome::Done);
    }
    let stderr = String::from_utf8_lossy(&output.stderr).trim().to_owned();
    let stdout = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    let said = if stderr.is_empty() { stdout } else { stderr };
    // `sh` itself says so: the command is not there or not executable.
    if matches!(output.status.code(), Some(126 | 127)) {
        return Err(TriggerFailure::Configuration(format!(
            "`{command}` ({}): {said}",
            output.status
        )));
    }
    Ok(TriggerOutcome::Declined(if said.is_empty() {
        format!("`{command}` terminou com {}", output.status)
    } else {
        said
    }))
}

async fn fire_webhook(
    url: &str,
    request: &TriggerRequest,
    timeout: Duration,
) -> Result<TriggerOutcome, TriggerFailure> {
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .map_err(|e| TriggerFailure::Configuration(e.to_string()))?;
    let sent = tokio::time::timeout(timeout, async {
        let response = client.post(url).json(request).send().await?;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        Ok::<_, reqwest::Error>((status, text))
    })
    .await;
    let (status, text) = match sent {
        Err(_) => {
            return Err(TriggerFailure::TimedOut {
                what: url.to_owned(),
                secs: timeout.as_secs(),
                output: String::new(),
            })
        }
        Ok(Err(e)) => {
            return Err(TriggerFailure::Configuration(format!(
                "{url}: {}",
                pen_client::error::chain(&e)
            )))
        }
        Ok(Ok(answer)) => answer,
    };
    if status.is_success() {
        return Ok(TriggerOutcome::Done);
    }
    // Any answer but a 2xx is the SUT saying it did not (its rules, or a failure of its own):
    // its body is the reason. Only no answer at all is the configuration's fault.
    Ok(TriggerOutcome::Declined(if text.trim().is_empty() {
        format!("{url} respondeu {status}")
    } else {
        format!("{url} respondeu {status}: {}", text.trim())
    }))
}

/// What a person at the manual trigger is asked to do, and what to look for afterwards, as the
/// real homologation's steps are worded.
#[must_use]
pub fn manual_prompt(request: &TriggerRequest) -> String {
    match request.acao {
        "enviar" => format!(
            "Envie o processo {} para a unidade {} pelo Tramita.gov.br.\n>>> Os metadados e os arquivos estão em {} (processo.json ou documento.json e um arquivo por componente).\n>>> Depois, no sistema: o envio externo consta como concluído, com o recibo de conclusão da unidade de destino.",
            request.nup,
            request.destino,
            request
                .pasta
                .as_ref()
                .map_or_else(String::new, |p| p.display().to_string()),
        ),
        "recusar" => format!(
            "Recuse o processo recebido {} (IDT {}), informando o motivo e a justificativa.\n>>> Depois, no sistema: o processo não foi incluído na unidade {}, e a recusa consta no trâmite.",
            request.nup,
            request.idt.map_or_else(String::new, |i| i.to_string()),
            request.destino
        ),
        _ => format!(
            "Devolva o processo {} para a unidade {} pelo Tramita.gov.br (com o mesmo NRE com que ele chegou).\n>>> Depois, no sistema: o envio externo consta como concluído.",
            request.nup, request.destino
        ),
    }
}

async fn fire_manual(request: &TriggerRequest) -> Result<TriggerOutcome, TriggerFailure> {
    let what = manual_prompt(request);
    println!("\n>>> [{}] {what}\n>>> Tecle Enter quando terminar (ou escreva \"não\" se o sistema recusou).", request.cenario);
    let line = tokio::task::spawn_blocking(|| {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line).map(|_| line)
    })
    .await
    .map_err(|e| TriggerFailure::Configuration(e.to_string()))?
    .map_err(|e| TriggerFailure::Configuration(format!("console: {e}")))?;
    if line.trim().eq_ignore_ascii_case("não") || line.trim().eq_ignore_ascii_case("nao") {
        Ok(TriggerOutcome::Declined(
            "a pessoa informou que o sistema recusou".to_owned(),
        ))
    } else {
        Ok(TriggerOutcome::Done)
    }
}

/// The reference agent as the SUT: in process, with at most one defect, declaring a block and
/// a size limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReferenceTarget {
    pub mutant: Option<Defect>,
    /// Correct behaviours that differ from the reference's own (a recibo dated "now", retried
    /// uploads).
    pub quirks: std::collections::BTreeSet<Quirk>,
    /// Its transfer block (parts above it), as a target declares `sut.block_bytes`.
    pub block_bytes: u64,
    /// Its component limit in MB, as a target declares `sut.max_document_mb`.
    pub max_document_mb: u64,
}

impl Default for ReferenceTarget {
    fn default() -> Self {
        ReferenceTarget {
            mutant: None,
            quirks: std::collections::BTreeSet::new(),
            block_bytes: crate::run::REFERENCE_BLOCK,
            max_document_mb: crate::run::REFERENCE_MAX_MB,
        }
    }
}

/// What runs as the SUT.
#[derive(Debug, Clone)]
pub enum Target {
    /// The reference agent in process.
    Reference(ReferenceTarget),
    External(Box<LoadedTarget>),
}

impl Target {
    /// The correct reference agent with its default declarations.
    #[must_use]
    pub fn reference() -> Self {
        Target::Reference(ReferenceTarget::default())
    }

    /// The reference agent with one defect.
    #[must_use]
    pub fn mutant(defect: Defect) -> Self {
        Target::Reference(ReferenceTarget {
            mutant: Some(defect),
            ..ReferenceTarget::default()
        })
    }

    /// For reports.
    #[must_use]
    pub fn label(&self) -> String {
        match self {
            Target::Reference(ReferenceTarget { mutant: None, .. }) => "reference".to_owned(),
            Target::Reference(ReferenceTarget {
                mutant: Some(d), ..
            }) => {
                format!("reference --mutant {d}")
            }
            Target::External(t) => t.config.name.clone(),
        }
    }
}
