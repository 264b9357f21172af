//! The system under test: the reference agent (in process, possibly with a defect) or any
//! integrator described by a `target.toml`, and the trigger through which the harness asks it to
//! act as a sender.
//!
//! An external SUT is configured exactly as for the real platform: the harness generates (once,
//! in `pki_dir`) the CA and the SUT's certificate, and prints them with the URL to configure.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use pen_client::agent::{Agent, Defect, ReturnRequest, SendRequest};
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
    /// Where the harness keeps the PKI it generated for this target (CA, the SUT's identity).
    pub pki_dir: PathBuf,
    /// Longest wait for the SUT in any step, in seconds (a SEI polls every two minutes).
    pub deadline_secs: u64,
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
        }
    }
}

/// Where the simulator listens for the SUT.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SimulatorConfig {
    /// REST v3 and the long-poll host (`https://ADDR/interoperabilidade/…`).
    pub addr: SocketAddr,
}

impl Default for SimulatorConfig {
    fn default() -> Self {
        SimulatorConfig {
            addr: SocketAddr::from(([127, 0, 0, 1], 8443)),
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
    /// `POST url` with a JSON body of the same fields; any 2xx means done.
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

impl TargetConfig {
    /// Reads and checks a `target.toml`.
    ///
    /// # Errors
    /// Unreadable file, syntax, unknown keys, an invalid unit.
    pub fn load(path: &Path) -> Result<Self, TargetError> {
        let error = |detail: String| TargetError {
            file: path.display().to_string(),
            detail,
        };
        let text = std::fs::read_to_string(path).map_err(|e| error(e.to_string()))?;
        let config: TargetConfig = toml::from_str(&text).map_err(|e| error(e.to_string()))?;
        pen_client::agent::parse_unit(&config.sut.unidade).map_err(|e| error(e.to_string()))?;
        Ok(config)
    }
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
    pub deadline: Duration,
}

/// One request to the SUT's trigger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TriggerRequest {
    /// `enviar` or `devolver`.
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
}

/// What the trigger said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TriggerOutcome {
    /// The SUT says it did it.
    Done,
    /// The SUT says it would not (its own rules stopped it), with its words.
    Declined(String),
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
    },
    Webhook {
        url: String,
        timeout: Duration,
    },
    Manual,
    None,
}

impl Trigger {
    #[must_use]
    pub fn from_config(config: &TriggerConfig) -> Self {
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
    /// The trigger itself failed (command not found, timeout, webhook unreachable): a harness
    /// or configuration error, not a verdict on the SUT.
    pub async fn fire(&self, request: &TriggerRequest) -> Result<TriggerOutcome, String> {
        match self {
            Trigger::None => Err("o alvo não tem gatilho".to_owned()),
            Trigger::Builtin(agent) => fire_builtin(agent, request).await,
            Trigger::Command {
                send,
                return_,
                timeout,
            } => {
                let template = if request.acao == "enviar" {
                    send
                } else {
                    return_
                };
                fire_command(template, request, *timeout).await
            }
            Trigger::Webhook { url, timeout } => fire_webhook(url, request, *timeout).await,
            Trigger::Manual => fire_manual(request).await,
        }
    }
}

async fn fire_builtin(agent: &Agent, request: &TriggerRequest) -> Result<TriggerOutcome, String> {
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
        Err(e) => Err(e.to_string()),
    }
}

fn render(template: &str, request: &TriggerRequest) -> Result<String, String> {
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
) -> Result<TriggerOutcome, String> {
    let command = render(template, request)?;
    let child = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(&command)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("gatilho `{command}`: {e}"))?;
    let output = tokio::time::timeout(timeout, child.wait_with_output())
        .await
        .map_err(|_| {
            format!(
                "gatilho `{command}` não terminou em {} s",
                timeout.as_secs()
            )
        })?
        .map_err(|e| format!("gatilho `{command}`: {e}"))?;
    if output.status.success() {
        Ok(TriggerOutcome::Done)
    } else {
        let text = String::from_utf8_lossy(&output.stderr).trim().to_owned();
        Ok(TriggerOutcome::Declined(if text.is_empty() {
            format!("saída {}", output.status)
        } else {
            text
        }))
    }
}

async fn fire_webhook(
    url: &str,
    request: &TriggerRequest,
    timeout: Duration,
) -> Result<TriggerOutcome, String> {
    let client = reqwest::Client::builder()
        .timeout(timeout)
        .build()
        .map_err(|e| e.to_string())?;
    let response = client
        .post(url)
        .json(request)
        .send()
        .await
        .map_err(|e| format!("gatilho {url}: {}", pen_client::error::chain(&e)))?;
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    if status.is_success() {
        Ok(TriggerOutcome::Done)
    } else if status.is_client_error() {
        Ok(TriggerOutcome::Declined(text))
    } else {
        Err(format!("gatilho {url} respondeu {status}: {text}"))
    }
}

async fn fire_manual(request: &TriggerRequest) -> Result<TriggerOutcome, String> {
    let what = if request.acao == "enviar" {
        format!(
            "No sistema sob teste, envie o processo {} (amostra {}, arquivos em {}) para a unidade {}.",
            request.nup,
            request.fixture.as_deref().unwrap_or_default(),
            request
                .pasta
                .as_ref()
                .map_or_else(String::new, |p| p.display().to_string()),
            request.destino
        )
    } else {
        format!(
            "No sistema sob teste, devolva o processo {} para a unidade {}.",
            request.nup, request.destino
        )
    };
    println!("\n>>> [{}] {what}\n>>> Tecle Enter quando terminar (ou escreva \"não\" se o sistema recusou).", request.cenario);
    let line = tokio::task::spawn_blocking(|| {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line).map(|_| line)
    })
    .await
    .map_err(|e| e.to_string())?
    .map_err(|e| e.to_string())?;
    if line.trim().eq_ignore_ascii_case("não") || line.trim().eq_ignore_ascii_case("nao") {
        Ok(TriggerOutcome::Declined(
            "a pessoa informou que o sistema recusou".to_owned(),
        ))
    } else {
        Ok(TriggerOutcome::Done)
    }
}

/// What runs as the SUT.
#[derive(Debug, Clone)]
pub enum Target {
    /// The reference agent in process, optionally with one defect.
    Reference {
        mutant: Option<Defect>,
    },
    External(Box<TargetConfig>),
}

impl Target {
    /// For reports.
    #[must_use]
    pub fn label(&self) -> String {
        match self {
            Target::Reference { mutant: None } => "reference".to_owned(),
            Target::Reference { mutant: Some(d) } => format!("reference --mutant {d}"),
            Target::External(c) => c.name.clone(),
        }
    }
}
