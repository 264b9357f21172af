//! The `pen-client` command line: one command per operation, human output by default and
//! `--json` for machines. Identity from the test PKI (`--pki DIR --org ID`) or from files
//! (`--identity PEM [--password P] --ca PEM`).

use std::path::PathBuf;

use anyhow::{bail, Context as _};
use clap::{Args, Parser, Subcommand};
use pen_client::flows::{self, FileSink, MemorySource, TransferOptions};
use pen_client::{Client, ClientConfig, EstruturaQuery, Identity, TramiteFilter};
use pen_protocol::api::{EnvioDeProcesso, Recusa};
use pen_protocol::ids::{Idt, Nre};
use pen_protocol::model::{CabecalhoDeProcesso, EstruturaOrganizacional, Processo};
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
    /// Send a process: a `processo` JSON and the folder of its files (found by hash).
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
}

#[derive(Debug, Args)]
struct SendArgs {
    /// The `processo` member as JSON.
    #[arg(long)]
    processo: PathBuf,
    /// Folder holding the component files (matched by their SHA-256).
    #[arg(long)]
    files: PathBuf,
    /// Sending unit, `REPOSITORIO/ESTRUTURA`.
    #[arg(long)]
    remetente: String,
    /// Receiving unit, `REPOSITORIO/ESTRUTURA`.
    #[arg(long)]
    destinatario: String,
    /// NRE of a process that travelled before (mandatory on every later hop).
    #[arg(long)]
    nre: Option<String>,
    /// Part size; components smaller than it go whole.
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
    fn client(&self) -> anyhow::Result<Client> {
        let (identity, ca) = match (&self.identity, &self.ca) {
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
                )
            }
        };
        Ok(Client::new(ClientConfig::new(
            self.url.clone(),
            ca,
            identity,
        ))?)
    }
}

fn show<T: Serialize + std::fmt::Debug>(json: bool, value: &T) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(value)?);
    } else {
        println!("{value:#?}");
    }
    Ok(())
}

impl Cli {
    pub(crate) async fn run(self) -> anyhow::Result<()> {
        let client = self.connection.client()?;
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
            Command::Send(args) => send(&client, json, args).await,
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

async fn send(client: &Client, json: bool, args: SendArgs) -> anyhow::Result<()> {
    let processo: Processo = serde_json::from_slice(
        &std::fs::read(&args.processo)
            .with_context(|| format!("lendo {}", args.processo.display()))?,
    )?;
    let mut source = MemorySource::default();
    for entry in
        std::fs::read_dir(&args.files).with_context(|| format!("lendo {}", args.files.display()))?
    {
        let path = entry?.path();
        if path.is_file() {
            let bytes = std::fs::read(&path)?;
            source
                .0
                .insert(pen_protocol::hash::hash_bytes(&bytes).to_base64(), bytes);
        }
    }
    let envio = EnvioDeProcesso {
        cabecalho: CabecalhoDeProcesso {
            remetente: Some(unit(&args.remetente)?),
            destinatario: Some(unit(&args.destinatario)?),
            nre: args.nre.map(|n| Nre::parse(&n)).transpose()?,
            enviar_apenas_componentes_digitais_pendentes: Some(true),
            ..CabecalhoDeProcesso::default()
        },
        processo,
    };
    let options = TransferOptions {
        block: args.block,
        whole_below: args.block,
    };
    let sent = flows::send_process(client, &envio, &source, options).await?;
    show(
        json,
        &serde_json::json!({"IDT": sent.created.idt, "NRE": sent.created.nre, "enviados": sent.uploaded, "reciboDeEnvio": "assinatura verificada"}),
    )
}
