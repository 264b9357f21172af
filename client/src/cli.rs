//! The `pen-client` command line: one command per operation, human output by default and
//! `--json` for machines. Identity from the test PKI (`--pki DIR --org ID`) or from files
//! (`--identity PEM [--password P] --ca PEM`).

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context as _};
use clap::{Args, Parser, Subcommand};

use pen_client::agent::trigger::SendBody;
use pen_client::agent::{AgentConfig, Defect, Event, Policy, Quirk, ReturnRequest, RunningAgent};
use pen_client::flows::{self, FileSink, MemorySource, TransferOptions};
use pen_client::follow::{FeedMode, FollowOptions};
use pen_client::samples::{self, Envelope, Sample, SampleSource};
use pen_client::{Client, ClientConfig, EstruturaQuery, Identity, TramiteFilter};
use pen_protocol::api::{EnvioDeDocumento, EnvioDeProcesso, Recusa};
use pen_protocol::ids::{Idt, Nre};
use pen_protocol::model::{CabecalhoDeDocumento, CabecalhoDeProcesso, EstruturaOrganizacional};
use pen_protocol::registry::PkiManifest;
use pen_protocol::tables::MotivoRecusa;
use serde::Serialize;

/// Reference client of Tramita.gov.br REST v3.
#[derive(Debug, Parser)]
#[command(name = "pen-client", version, about)]
pub(crate) struct Cli {
    #[command(flatten)]
    connection: Connection,
    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Args)]
struct Connection {
    /// Base URL of REST v3.
    #[arg(
        long,
        global = true,
        default_value = "https://127.0.0.1:8443/interoperabilidade/rest/v3/"
    )]
    url: String,
    /// Folder of the test PKI (with `--org`).
    #[arg(long, global = true, default_value = "certs")]
    pki: PathBuf,
    /// Organisation of the test PKI to act as.
    #[arg(long, global = true, default_value = "org-a")]
    org: String,
    /// Identity PEM (certificate + key) instead of the PKI's organisation.
    #[arg(long, global = true, requires = "ca")]
    identity: Option<PathBuf>,
    /// Password of an encrypted identity PEM, or of a `.p12` given as `--identity`.
    #[arg(long, global = true)]
    password: Option<String>,
    /// CA certificate (PEM) the server must chain to.
    #[arg(long, global = true)]
    ca: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// `GET healthcheck`.
    Healthcheck,
    /// Structures of a repository: one by `--id`, or a search by `--nome`/`--sigla`.
    Estruturas {
        #[arg(long, default_value_t = 1)]
        repositorio: u64,
        #[arg(long)]
        id: Option<String>,
        #[arg(long)]
        nome: Option<String>,
        #[arg(long)]
        sigla: Option<String>,
    },
    /// Espécies documentais.
    Especies,
    /// Hipóteses legais (`--ativos true|false` to filter).
    Hipoteses {
        #[arg(long)]
        ativos: Option<bool>,
    },
    /// What waits for this organisation (`--aguardar N` long-polls up to N seconds).
    Pendencias {
        #[arg(long, default_value_t = true)]
        todas: bool,
        #[arg(long)]
        aguardar: Option<u64>,
    },
    /// Search trâmites visible to this organisation, newest first.
    Tramites {
        #[arg(long)]
        idt: Option<u64>,
        #[arg(long)]
        nre: Option<String>,
        #[arg(long)]
        protocolo: Option<String>,
    },
    /// Send a process or a documento avulso: a sample by name, or a JSON and the folder of its
    /// files (found by hash). The recibo de envio is verified.
    Send(SendArgs),
    /// Receive a pending trâmite: metadata, components checked by hash into `--out`, signed recibo.
    Receive {
        #[arg(long)]
        idt: u64,
        #[arg(long, default_value = "recebidos")]
        out: PathBuf,
        #[arg(long, default_value_t = flows::DEFAULT_BLOCK)]
        block: u64,
    },
    /// Fetch the recibo de conclusão of a trâmite this organisation sent (moves 5 → 6).
    Recibo {
        #[arg(long)]
        idt: u64,
    },
    /// Refuse a trâmite with a motivo (`01`, `02`, `03`, `04`, `99`) and a justificativa.
    Recusar {
        #[arg(long)]
        idt: u64,
        #[arg(long)]
        motivo: String,
        #[arg(long)]
        justificativa: String,
    },
    /// Acknowledge a refusal (8 → 9).
    Ciencia {
        #[arg(long)]
        idt: u64,
    },
    /// Cancel a trâmite this organisation sent (1–4 → 7).
    Cancelar {
        #[arg(long)]
        idt: u64,
    },
    /// Run the reference integrator: follow the feed, receive and sign, refuse by policy,
    /// acknowledge refusals, and send or return processes when its trigger asks (see
    /// docs/agent.md). Prints the trigger URL, then one line per thing it does; Ctrl-C stops it.
    Agent(AgentArgs),
    /// Ask a running agent, through its trigger, to send or return a process (what a harness's
    /// command trigger runs). Exit status 0 done (the report is printed), 1 the agent declined or
    /// the platform refused (the reason on stderr), 2 the trigger is unreachable or answered
    /// something else.
    Trigger(TriggerArgs),
}

#[derive(Debug, Args)]
struct TriggerArgs {
    /// The agent's trigger: `HOST:PORT` (its `--trigger-addr`) or its URL.
    #[arg(long, default_value = "127.0.0.1:8751")]
    addr: String,
    #[command(subcommand)]
    action: TriggerAction,
}

#[derive(Debug, Subcommand)]
enum TriggerAction {
    /// Send a case folder or a sample (`POST /send`).
    Send {
        /// Folder with `processo.json` or `documento.json` and every component's file.
        #[arg(long, conflicts_with = "fixture", required_unless_present = "fixture")]
        pasta: Option<PathBuf>,
        /// A sample of the fixtures by name.
        #[arg(long)]
        fixture: Option<String>,
        /// Receiving unit, `REPOSITORIO/ESTRUTURA`.
        #[arg(long)]
        destino: String,
        /// Send under this protocolo (NUP).
        #[arg(long)]
        nup: Option<String>,
        /// With `--fixture`, adds a signed PDF of this many bytes; with `--pasta`, the size of
        /// the anexo already in the folder (informative).
        #[arg(long)]
        anexo_bytes: Option<u64>,
    },
    /// Return a process the agent holds (`POST /return`).
    Return {
        #[arg(long)]
        nup: String,
        /// Where to (default: whoever last sent it to the agent).
        #[arg(long)]
        destino: Option<String>,
        /// Adds a signed despacho with this text first.
        #[arg(long)]
        despacho: Option<String>,
    },
}

/// A command's end with a given exit status and its message on stderr.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub(crate) struct Exit {
    pub(crate) code: u8,
    pub(crate) message: String,
}

#[derive(Debug, Args)]
struct SendArgs {
    /// A sample of the fixtures by name (`processo-simples`, `documento-avulso`, …; an unknown
    /// name lists them), with its files.
    #[arg(long, conflicts_with_all = ["processo", "documento"])]
    fixture: Option<String>,
    /// A `processo` member as JSON (with `--files`).
    #[arg(long, requires = "files", conflicts_with = "documento")]
    processo: Option<PathBuf>,
    /// A documento avulso (`documento` member) as JSON (with `--files`).
    #[arg(long, requires = "files")]
    documento: Option<PathBuf>,
    /// Folder holding the component files (matched by their SHA-256).
    #[arg(long)]
    files: Option<PathBuf>,
    /// Sending unit, `REPOSITORIO/ESTRUTURA` (default: the organisation's first structure).
    #[arg(long)]
    remetente: Option<String>,
    /// Receiving unit, `REPOSITORIO/ESTRUTURA`.
    #[arg(long)]
    destinatario: String,
    /// NRE of a process that travelled before (mandatory on every later hop).
    #[arg(long)]
    nre: Option<String>,
    /// Send under this protocolo (NUP) instead of the sample's own.
    #[arg(long)]
    nup: Option<String>,
    /// Add a signed PDF of this many generated bytes (size and part scenarios).
    #[arg(long)]
    anexo_bytes: Option<u64>,
    /// Part size; components smaller than it go whole.
    #[arg(long, default_value_t = flows::DEFAULT_BLOCK)]
    block: u64,
}

#[derive(Debug, Args)]
struct AgentArgs {
    /// The agent's unit, `REPOSITORIO/ESTRUTURA` (default: the organisation's first structure).
    #[arg(long)]
    unidade: Option<String>,
    /// Policy file (TOML, see fixtures/data/agent/politica.toml); default: that reference policy.
    #[arg(long)]
    policy: Option<PathBuf>,
    /// Be wrong on purpose (repeatable); `--defect help` lists the defects.
    #[arg(long = "defect", value_name = "NOME")]
    defects: Vec<String>,
    /// Be right in another way than the reference (repeatable); `--quirk help` lists them.
    #[arg(long = "quirk", value_name = "NOME")]
    quirks: Vec<String>,
    /// Where the agent keeps what it received and sent (default: a temporary folder removed at
    /// exit).
    #[arg(long)]
    state_dir: Option<PathBuf>,
    /// Loopback address of the trigger (port 0 picks one; the URL is the first line printed).
    #[arg(long, default_value = "127.0.0.1:0")]
    trigger_addr: std::net::SocketAddr,
    /// Long-poll the feed holding each call up to this many seconds.
    #[arg(long, default_value_t = 30, conflicts_with = "poll")]
    long_poll: u64,
    /// Poll the feed every this many seconds instead of long-polling.
    #[arg(long)]
    poll: Option<u64>,
    /// Pendências handled at the same time.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Part size of downloads and uploads (the SEI module: 50 MiB).
    #[arg(long, default_value_t = flows::DEFAULT_BLOCK)]
    block: u64,
}

fn unit(text: &str) -> anyhow::Result<EstruturaOrganizacional> {
    let (rep, id) = text
        .split_once('/')
        .context("unidade no formato REPOSITORIO/ESTRUTURA")?;
    Ok(EstruturaOrganizacional::new(
        rep.parse().context("repositório numérico")?,
        id,
    ))
}

impl Connection {
    /// The client, and the structures the organisation answers for when it comes from the PKI
    /// manifest (none with identity files).
    fn client(&self) -> anyhow::Result<(Client, Vec<EstruturaOrganizacional>)> {
        let (identity, ca, units) = match (&self.identity, &self.ca) {
            (Some(path), Some(ca)) => {
                let bytes =
                    std::fs::read(path).with_context(|| format!("lendo {}", path.display()))?;
                let identity = match (&self.password, path.extension().and_then(|e| e.to_str())) {
                    (Some(p), Some("p12" | "pfx")) => Identity::from_pkcs12(&bytes, p)?,
                    (Some(p), _) => Identity::from_encrypted_pem(&bytes, p)?,
                    (None, _) => Identity::from_pem(&bytes)?,
                };
                (
                    identity,
                    std::fs::read(ca).with_context(|| format!("lendo {}", ca.display()))?,
                    Vec::new(),
                )
            }
            _ => {
                let manifest: PkiManifest = serde_json::from_slice(
                    &std::fs::read(self.pki.join("manifest.json"))
                        .with_context(|| format!("lendo {}/manifest.json", self.pki.display()))?,
                )?;
                let org = manifest
                    .organisation(&self.org)
                    .with_context(|| format!("organização {} não está no manifesto", self.org))?;
                let identity =
                    Identity::from_pem(&std::fs::read(self.pki.join(&org.files.identity_pem))?)?;
                let ca = self
                    .ca
                    .clone()
                    .unwrap_or_else(|| self.pki.join(&manifest.ca));
                (
                    identity,
                    std::fs::read(&ca).with_context(|| format!("lendo {}", ca.display()))?,
                    org.estruturas.clone(),
                )
            }
        };
        let client = Client::new(ClientConfig::new(self.url.clone(), ca, identity))?;
        Ok((client, units))
    }
}

fn show<T: Serialize>(json: bool, value: &T) -> anyhow::Result<()> {
    let value = serde_json::to_value(value)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        let mut out = String::new();
        human(&value, 0, &mut out);
        print!("{out}");
    }
    Ok(())
}

/// The same JSON as indented `name: value` lines, for a person reading a terminal.
fn human(value: &serde_json::Value, depth: usize, out: &mut String) {
    use serde_json::Value;
    let pad = "  ".repeat(depth);
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                match v {
                    Value::Object(_) | Value::Array(_) if !is_empty(v) => {
                        out.push_str(&format!("{pad}{k}:\n"));
                        human(v, depth + 1, out);
                    }
                    _ => out.push_str(&format!("{pad}{k}: {}\n", scalar(v))),
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                match item {
                    Value::Object(_) | Value::Array(_) => {
                        out.push_str(&format!("{pad}-\n"));
                        human(item, depth + 1, out);
                    }
                    _ => out.push_str(&format!("{pad}- {}\n", scalar(item))),
                }
            }
        }
        other => out.push_str(&format!("{pad}{}\n", scalar(other))),
    }
}

fn is_empty(v: &serde_json::Value) -> bool {
    match v {
        serde_json::Value::Object(m) => m.is_empty(),
        serde_json::Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

fn scalar(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => "—".to_owned(),
        serde_json::Value::Array(_) => "(nenhum)".to_owned(),
        serde_json::Value::Object(_) => "{}".to_owned(),
        other => other.to_string(),
    }
}

impl Cli {
    pub(crate) async fn run(self) -> anyhow::Result<()> {
        if let Command::Agent(args) = &self.command {
            if args.defects.iter().any(|d| d == "help") {
                print!("{}", Defect::help());
                return Ok(());
            }
            if args.quirks.iter().any(|q| q == "help") {
                print!("{}", Quirk::help());
                return Ok(());
            }
            for name in &args.defects {
                name.parse::<Defect>()?;
            }
            for name in &args.quirks {
                name.parse::<Quirk>()?;
            }
        }
        // The trigger is an agent's, not the platform's: no identity is needed (a harness runs
        // this from its own folder, where no PKI lies).
        if let Command::Trigger(args) = self.command {
            return trigger(self.json, args).await;
        }
        let (client, units) = self.connection.client()?;
        let json = self.json;
        match self.command {
            Command::Healthcheck => {
                client.healthcheck().await?;
                show(json, &serde_json::json!({"status": "ok"}))
            }
            Command::Estruturas {
                repositorio,
                id: Some(id),
                ..
            } => show(json, &client.estrutura(repositorio, &id).await?),
            Command::Estruturas {
                repositorio,
                id: None,
                nome,
                sigla,
            } => {
                let query = EstruturaQuery {
                    nome,
                    sigla,
                    ..EstruturaQuery::default()
                };
                show(json, &client.estruturas(repositorio, &query).await?)
            }
            Command::Especies => show(json, &client.especies().await?),
            Command::Hipoteses { ativos } => show(json, &client.hipoteses(ativos).await?),
            Command::Pendencias {
                aguardar: Some(seconds),
                ..
            } => show(json, &client.wait_pending(seconds).await?),
            Command::Pendencias {
                todas,
                aguardar: None,
            } => show(json, &client.pending(todas).await?),
            Command::Tramites {
                idt,
                nre,
                protocolo,
            } => {
                let filter = TramiteFilter {
                    idt: idt.map(Idt),
                    nre: nre.map(|n| Nre::parse(&n)).transpose()?,
                    protocolo,
                    ..TramiteFilter::default()
                };
                show(json, &client.tramites(&filter).await?)
            }
            Command::Trigger(args) => trigger(json, args).await,
            Command::Send(args) => send(&client, &units, json, args).await,
            Command::Agent(args) => agent(client, &units, json, args).await,
            Command::Receive { idt, out, block } => {
                let mut sink = FileSink::new(&out);
                let options = TransferOptions {
                    block,
                    whole_below: block,
                };
                match flows::receive(&client, Idt(idt), &mut sink, options).await? {
                    Ok(received) => show(
                        json,
                        &serde_json::json!({"IDT": idt, "componentes": received.hashes, "pasta": out}),
                    ),
                    Err(corrupted) => bail!(
                        "componente {} corrompido (hash calculado {}); recuse com motivo 02",
                        corrupted.hash,
                        corrupted.computed
                    ),
                }
            }
            Command::Recibo { idt } => {
                let recibo = client.receipt(Idt(idt)).await?;
                flows::verify_conclusion_receipt(&recibo)?;
                show(json, &recibo)
            }
            Command::Recusar {
                idt,
                motivo,
                justificativa,
            } => {
                let motivo = MotivoRecusa::from_code(&motivo)
                    .with_context(|| format!("motivo de recusa inválido: {motivo}"))?;
                client
                    .refuse(
                        Idt(idt),
                        &Recusa {
                            justificativa,
                            motivo,
                        },
                    )
                    .await?;
                show(json, &serde_json::json!({"IDT": idt, "situacao": 8}))
            }
            Command::Ciencia { idt } => {
                client.acknowledge_refusal(Idt(idt)).await?;
                show(json, &serde_json::json!({"IDT": idt, "situacao": 9}))
            }
            Command::Cancelar { idt } => {
                client.cancel(Idt(idt)).await?;
                show(json, &serde_json::json!({"IDT": idt, "situacao": 7}))
            }
        }
    }
}

/// `--remetente`/`--unidade`, or the organisation's first structure.
fn own_unit(
    given: Option<&str>,
    units: &[EstruturaOrganizacional],
) -> anyhow::Result<EstruturaOrganizacional> {
    match given {
        Some(text) => unit(text),
        None => units.first().cloned().context(
            "informe a unidade (REPOSITORIO/ESTRUTURA): a identidade não vem do manifesto",
        ),
    }
}

fn files_source(dir: &std::path::Path) -> anyhow::Result<MemorySource> {
    let mut source = MemorySource::default();
    for entry in std::fs::read_dir(dir).with_context(|| format!("lendo {}", dir.display()))? {
        let path = entry?.path();
        if path.is_file() {
            let bytes = std::fs::read(&path)?;
            source
                .0
                .insert(pen_protocol::hash::hash_bytes(&bytes).to_base64(), bytes);
        }
    }
    Ok(source)
}

fn read_json<T: serde::de::DeserializeOwned>(path: &std::path::Path) -> anyhow::Result<T> {
    serde_json::from_slice(
        &std::fs::read(path).with_context(|| format!("lendo {}", path.display()))?,
    )
    .with_context(|| format!("{} não é um JSON válido do protocolo", path.display()))
}

async fn send(
    client: &Client,
    units: &[EstruturaOrganizacional],
    json: bool,
    args: SendArgs,
) -> anyhow::Result<()> {
    let mut sample = match (&args.fixture, &args.processo, &args.documento, &args.files) {
        (Some(name), _, _, _) => samples::load(name)?,
        (None, Some(path), None, Some(files)) => Sample {
            name: path.display().to_string(),
            envelope: Envelope::Processo(read_json(path)?),
            source: SampleSource {
                files: files_source(files)?,
                ..SampleSource::default()
            },
        },
        (None, None, Some(path), Some(files)) => Sample {
            name: path.display().to_string(),
            envelope: Envelope::Documento(read_json(path)?),
            source: SampleSource {
                files: files_source(files)?,
                ..SampleSource::default()
            },
        },
        _ => bail!("informe --fixture NOME, ou --processo/--documento JSON com --files PASTA"),
    };
    if let Some(nup) = &args.nup {
        sample = sample.with_protocolo(nup);
    }
    if let Some(size) = args.anexo_bytes {
        sample = sample.with_large_attachment(size, size)?;
    }
    let remetente = own_unit(args.remetente.as_deref(), units)?;
    let destinatario = unit(&args.destinatario)?;
    let options = TransferOptions {
        block: args.block,
        whole_below: args.block,
    };
    match sample.envelope {
        Envelope::Processo(processo) => {
            let envio = EnvioDeProcesso {
                cabecalho: CabecalhoDeProcesso {
                    remetente: Some(remetente),
                    destinatario: Some(destinatario),
                    nre: args.nre.map(|n| Nre::parse(&n)).transpose()?,
                    enviar_apenas_componentes_digitais_pendentes: Some(true),
                    ..CabecalhoDeProcesso::default()
                },
                processo,
            };
            let sent = flows::send_process(client, &envio, &sample.source, options).await?;
            show(
                json,
                &serde_json::json!({"IDT": sent.created.idt, "NRE": sent.created.nre, "enviados": sent.uploaded, "reciboDeEnvio": "assinatura verificada"}),
            )
        }
        Envelope::Documento(documento) => {
            let envio = EnvioDeDocumento {
                cabecalho: CabecalhoDeDocumento {
                    remetente: Some(remetente),
                    destinatarios: vec![destinatario],
                    ..CabecalhoDeDocumento::default()
                },
                documento,
            };
            let sent = flows::send_document(client, &envio, &sample.source, options).await?;
            show(
                json,
                &serde_json::json!({"tramites": sent.created.tramites, "enviados": sent.uploaded, "reciboDeEnvio": "assinatura verificada"}),
            )
        }
    }
}

fn describe(event: &Event) -> String {
    match event {
        Event::Received {
            idt,
            protocolo,
            nre,
            downloaded,
            returned,
        } => format!(
            "recebido   IDT {idt} {protocolo} NRE {nre}: {} componente(s){}",
            downloaded.len(),
            if *returned {
                ", processo que voltou"
            } else {
                ""
            }
        ),
        Event::Refused {
            idt,
            protocolo,
            motivo,
            justificativa,
        } => {
            format!("recusado   IDT {idt} {protocolo} motivo {motivo}: {justificativa}")
        }
        Event::Sent {
            idt,
            nre,
            protocolo,
            destino,
            uploaded,
        } => format!(
            "enviado    IDT {idt} {protocolo} NRE {nre} para {}/{}: {} componente(s)",
            destino.identificacao_do_repositorio_de_estruturas,
            destino.numero_de_identificacao_da_estrutura,
            uploaded.len()
        ),
        Event::NotSent { protocolo, motivo } => format!("não enviado {protocolo}: {motivo}"),
        Event::Concluded { idt } => format!("concluído  IDT {idt}: recibo de conclusão verificado"),
        Event::RefusalAcknowledged {
            idt,
            motivo,
            justificativa,
        } => format!(
            "ciência    IDT {idt} recusado (motivo {}): {}",
            motivo.map_or_else(|| "?".to_owned(), |m| m.to_string()),
            justificativa.as_deref().unwrap_or_default()
        ),
        Event::RefusalIgnored { idt } => {
            format!("ignorada   recusa do IDT {idt} (defeito ignore-refusal)")
        }
        Event::Withheld { idt, step, defect } => {
            format!("omitido    IDT {idt}: {step} (defeito {defect})")
        }
        Event::Failed {
            idt,
            during,
            error,
            retry,
        } => format!(
            "falha      {}{during}: {error}{}",
            idt.map(|i| format!("IDT {i} ")).unwrap_or_default(),
            if *retry {
                " (nova tentativa depois)"
            } else {
                ""
            }
        ),
    }
}

async fn agent(
    client: Client,
    units: &[EstruturaOrganizacional],
    json: bool,
    args: AgentArgs,
) -> anyhow::Result<()> {
    let defects = args
        .defects
        .iter()
        .map(|d| d.parse::<Defect>())
        .collect::<Result<BTreeSet<_>, _>>()?;
    let quirks = args
        .quirks
        .iter()
        .map(|q| q.parse::<Quirk>())
        .collect::<Result<BTreeSet<_>, _>>()?;
    let policy = match &args.policy {
        Some(path) => Policy::from_toml(
            &std::fs::read_to_string(path).with_context(|| format!("lendo {}", path.display()))?,
        )?,
        None => Policy::reference()?,
    };
    let (state_dir, _temporary) = match &args.state_dir {
        Some(dir) => (dir.clone(), None),
        None => {
            let dir = tempfile::tempdir()?;
            (dir.path().to_path_buf(), Some(dir))
        }
    };
    let config = AgentConfig {
        client,
        unit: own_unit(args.unidade.as_deref(), units)?,
        policy,
        defects,
        quirks,
        state_dir,
        follow: FollowOptions {
            mode: match args.poll {
                Some(_) => FeedMode::Poll,
                None => FeedMode::LongPoll {
                    seconds: args.long_poll,
                },
            },
            interval: Duration::from_secs(args.poll.unwrap_or(2).max(1)),
            concurrency: args.concurrency,
            ..FollowOptions::default()
        },
        transfer: TransferOptions {
            block: args.block,
            whole_below: args.block,
        },
    };
    let running = RunningAgent::start(config, Some(args.trigger_addr)).await?;
    if let Some(url) = &running.trigger_url {
        println!("{url}");
    }
    let agent = running.agent.clone();
    let mut changes = agent.changes();
    let mut seen = 0;
    loop {
        for logged in agent.activity(seen) {
            seen = logged.seq;
            if json {
                println!("{}", serde_json::to_string(&logged)?);
            } else {
                println!("{}", describe(&logged.event));
            }
        }
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            changed = changes.changed() => if changed.is_err() { break },
        }
    }
    running.stop().await;
    Ok(())
}

/// `pen-client trigger`: one request to a running agent's trigger, its answer as exit status.
async fn trigger(json: bool, args: TriggerArgs) -> anyhow::Result<()> {
    let base = if args.addr.starts_with("http://") || args.addr.starts_with("https://") {
        args.addr.trim_end_matches('/').to_owned()
    } else {
        format!("http://{}", args.addr)
    };
    let (path, body) = match args.action {
        TriggerAction::Send {
            pasta,
            fixture,
            destino,
            nup,
            anexo_bytes,
        } => {
            // The agent runs elsewhere: a folder relative to here means nothing to it. Whether
            // the folder is usable is the agent's to say (400, naming it).
            let pasta = pasta.map(|p| std::path::absolute(&p).unwrap_or(p));
            let body = SendBody {
                fixture,
                pasta,
                destino,
                nup,
                anexo_bytes,
            };
            ("send", serde_json::to_value(body)?)
        }
        TriggerAction::Return {
            nup,
            destino,
            despacho,
        } => (
            "return",
            serde_json::to_value(ReturnRequest {
                nup,
                destino,
                despacho,
            })?,
        ),
    };
    let url = format!("{base}/{path}");
    let unreachable = |detail: String| Exit {
        code: 2,
        message: format!("gatilho do agente inacessível em {url}: {detail}"),
    };
    let http = reqwest::Client::builder()
        .no_proxy()
        .build()
        .map_err(|e| unreachable(pen_client::error::chain(&e)))?;
    let response = http
        .post(&url)
        .json(&body)
        .send()
        .await
        .map_err(|e| unreachable(pen_client::error::chain(&e)))?;
    let status = response.status();
    let text = response
        .text()
        .await
        .map_err(|e| unreachable(pen_client::error::chain(&e)))?;
    let answer: Option<serde_json::Value> = serde_json::from_str(&text).ok();
    let erro = answer
        .as_ref()
        .and_then(|v| v["erro"].as_str())
        .map(str::to_owned);
    match (status.as_u16(), answer, erro) {
        (200..=299, Some(report), _) => show(json, &report),
        (400..=499 | 502, _, Some(erro)) => Err(Exit {
            code: 1,
            message: erro,
        }
        .into()),
        (code, _, _) => Err(Exit {
            code: 2,
            message: format!("o gatilho {url} respondeu {code}: {}", text.trim()),
        }
        .into()),
    }
}
