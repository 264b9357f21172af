//! The reference integrator: `pen-client agent` follows the pending feed and behaves like a
//! correct SPE, the way the SEI module does (`rest-v3.md` §6).
//!
//! - As a **recipient** it reads the metadata, applies its local [`Policy`] and the NUP/NRE rule
//!   (a known protocolo under another NRE is a different process: refused), downloads every
//!   pending component in parts with its hash checked, signs the recibo de conclusão, and keeps
//!   the process in its [`Archive`]. What it must not take it refuses with the motivo and the
//!   reference integrator's text; a failure of its own is refused with motivo 99 and the error,
//!   as the module does; a platform or network failure is retried on a later pass of the feed.
//! - As a **sender** it sends samples and returns processes on request (through its trigger,
//!   see [`trigger`]), with the NRE a process travelled under, after the module's sender-side
//!   rules; it fetches and verifies the recibo de conclusão of what it sent, and acknowledges
//!   refusals.
//! - With [`Defect`]s it is wrong on purpose, one way each, for the harness's self-test; with
//!   [`Quirk`]s it is right in another way than the reference, as real integrators differ.
//!
//! # Layout
//! - [`policy`] — what it accepts and the refusal each breach produces.
//! - [`archive`] — processes by protocolo with their NRE and hops; component bytes on disk.
//! - [`defects`] — the mutants; [`quirks`] — the correct differences.
//! - [`folder`] — a case folder (metadata JSON and files) imported to be sent.
//! - [`trigger`] — the local HTTP endpoint through which a harness (or a person) asks it to act.

pub mod archive;
pub mod defects;
pub mod folder;
mod names;
pub mod policy;
pub mod quirks;
pub mod trigger;

use std::collections::{BTreeSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use pen_protocol::api::{
    EnvioDeDocumento, EnvioDeProcesso, EnvioDeReciboDeTramite, Pendencia, Recusa,
};
use pen_protocol::datetime;
use pen_protocol::hash::hash_bytes;
use pen_protocol::ids::{Idt, Nre};
use pen_protocol::model::{
    CabecalhoDeDocumento, CabecalhoDeProcesso, ComponenteDigital, Documento, Especie,
    EstruturaOrganizacional, Hash,
};
use pen_protocol::refusals::Refusal;
use pen_protocol::situacao::Situacao;
use pen_protocol::tables::MotivoRecusa;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

pub use archive::Archive;
pub use defects::Defect;
pub use policy::Policy;
pub use quirks::Quirk;

use crate::api::Client;
use crate::error::Error;
use crate::flows::{self, FileSink, MemorySource, SenderRules, TransferOptions, UploadRetry};
use crate::follow::{self, Dispatch, FollowOptions, Outcome, Pending};
use crate::samples::{self, Envelope};

/// Events kept in memory for [`Agent::activity`]; older ones are dropped.
const ACTIVITY_CAPACITY: usize = 10_000;

/// The date `receipt-old-date` signs: long before any trâmite of the platform.
pub const OLD_RECEIPT_DATE: &str = "2001-01-01T00:00:00.000Z";

/// How the agent is set up.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    pub client: Client,
    /// The agent's own unit: where it sends from and what it expects to receive at.
    pub unit: EstruturaOrganizacional,
    pub policy: Policy,
    pub defects: BTreeSet<Defect>,
    pub quirks: BTreeSet<Quirk>,
    /// Where the [`Archive`] lives.
    pub state_dir: PathBuf,
    pub follow: FollowOptions,
    pub transfer: TransferOptions,
}

/// Something the agent did, in order: what a harness or a person watches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// Received and concluded (recibo de conclusão posted). `returned`: a process the agent
    /// already held came back under its NRE.
    Received {
        #[serde(rename = "IDT")]
        idt: Idt,
        protocolo: String,
        #[serde(rename = "NRE")]
        nre: Nre,
        downloaded: Vec<String>,
        returned: bool,
    },
    /// Refused by the agent.
    Refused {
        #[serde(rename = "IDT")]
        idt: Idt,
        protocolo: String,
        motivo: MotivoRecusa,
        justificativa: String,
    },
    /// Sent (opened, uploaded, recibo de envio verified).
    Sent {
        #[serde(rename = "IDT")]
        idt: Idt,
        #[serde(rename = "NRE")]
        nre: Nre,
        protocolo: String,
        destino: EstruturaOrganizacional,
        uploaded: Vec<String>,
    },
    /// Stopped before sending by a sender-side rule.
    NotSent { protocolo: String, motivo: String },
    /// The recipient's recibo de conclusão of something the agent sent, verified.
    Concluded {
        #[serde(rename = "IDT")]
        idt: Idt,
    },
    /// A refusal of something the agent sent, acknowledged (ciência).
    RefusalAcknowledged {
        #[serde(rename = "IDT")]
        idt: Idt,
        motivo: Option<MotivoRecusa>,
        justificativa: Option<String>,
    },
    /// A refusal deliberately left without ciência (`ignore-refusal`).
    RefusalIgnored {
        #[serde(rename = "IDT")]
        idt: Idt,
    },
    /// A step deliberately left undone by a defect: `step` is what was not sent or fetched
    /// (`recibo de conclusão`, `recusa`, …).
    Withheld {
        #[serde(rename = "IDT")]
        idt: Idt,
        step: String,
        defect: Defect,
    },
    /// Something failed; `retry` when the pendência will be handled again (while the platform
    /// lists it).
    Failed {
        #[serde(rename = "IDT")]
        idt: Option<Idt>,
        during: String,
        error: String,
        retry: bool,
    },
}

/// An event and its position in the agent's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Logged {
    pub seq: u64,
    #[serde(flatten)]
    pub event: Event,
}

/// Why a request to the agent failed.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error(transparent)]
    Sample(#[from] samples::SampleError),
    /// A sender-side rule stopped the send (the SEI module's text).
    #[error("{0}")]
    NotSendable(#[from] flows::NotSendable),
    #[error("processo {0} não está no acervo do agente")]
    UnknownProcess(String),
    #[error("pedido inválido: {0}")]
    BadRequest(String),
    #[error(transparent)]
    Platform(#[from] Error),
    #[error("acervo do agente: {0}")]
    Archive(#[from] std::io::Error),
    /// A case folder that cannot be imported.
    #[error(transparent)]
    Folder(#[from] folder::FolderError),
}

/// Ask the agent to send a sample.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendRequest {
    /// Sample name (`processo-simples`, `documento-avulso`, …).
    pub fixture: String,
    /// Destination unit, `REPOSITORIO/ESTRUTURA`.
    pub destino: String,
    /// Protocolo to send it under instead of the sample's own (a fresh NUP per scenario).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nup: Option<String>,
    /// Adds a signed PDF of this many generated bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anexo_bytes: Option<u64>,
}

/// Ask the agent to return a process it holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReturnRequest {
    /// Protocolo (NUP) of the process.
    pub nup: String,
    /// Where to; by default whoever last sent it to the agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destino: Option<String>,
    /// Adds a signed despacho (HTML) with this text before returning.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub despacho: Option<String>,
}

/// What a send or return produced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendReport {
    pub protocolo: String,
    #[serde(rename = "IDT")]
    pub idts: Vec<Idt>,
    #[serde(rename = "NRE")]
    pub nre: Nre,
    /// Hashes uploaded (what the platform asked for).
    pub uploaded: Vec<String>,
}

/// Parses `REPOSITORIO/ESTRUTURA`.
///
/// # Errors
/// Not in that form.
pub fn parse_unit(text: &str) -> Result<EstruturaOrganizacional, AgentError> {
    let bad = || {
        AgentError::BadRequest(format!(
            "unidade {text:?} não está no formato REPOSITORIO/ESTRUTURA"
        ))
    };
    let (rep, id) = text.split_once('/').ok_or_else(bad)?;
    let rep: u64 = rep.trim().parse().map_err(|_| bad())?;
    if id.trim().is_empty() {
        return Err(bad());
    }
    Ok(EstruturaOrganizacional::new(rep, id.trim()))
}

/// The reference agent. Cheap to clone; all clones share one state.
#[derive(Debug, Clone)]
pub struct Agent {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    client: Client,
    unit: EstruturaOrganizacional,
    policy: Policy,
    defects: BTreeSet<Defect>,
    quirks: BTreeSet<Quirk>,
    follow: FollowOptions,
    transfer: TransferOptions,
    archive: Mutex<Archive>,
    activity: Mutex<(u64, VecDeque<Logged>)>,
    changed: watch::Sender<u64>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Failures worth another try later: the network, the platform being unavailable, an answer
/// that did not parse. Everything else is an answer (the platform refused the step).
fn retryable(error: &Error) -> bool {
    match error {
        Error::Transport { .. } | Error::Tls { .. } | Error::Decode { .. } => true,
        Error::Platform { status, .. } | Error::UnexpectedStatus { status, .. } => {
            *status == 429 || *status >= 502
        }
        _ => false,
    }
}

impl Agent {
    /// Opens the archive and sets the agent up (it does nothing until [`Agent::run`]).
    ///
    /// # Errors
    /// The archive cannot be opened.
    pub fn new(config: AgentConfig) -> Result<Self, AgentError> {
        let archive = Archive::open(&config.state_dir)?;
        let (changed, _) = watch::channel(0);
        Ok(Agent {
            inner: Arc::new(Inner {
                client: config.client,
                unit: config.unit,
                policy: config.policy,
                defects: config.defects,
                quirks: config.quirks,
                follow: config.follow,
                transfer: config.transfer,
                archive: Mutex::new(archive),
                activity: Mutex::new((0, VecDeque::new())),
                changed,
            }),
        })
    }

    /// Follows the pending feed until `stop` turns true.
    pub async fn run(&self, stop: watch::Receiver<bool>) {
        follow::follow(
            self.inner.client.clone(),
            self.inner.clone(),
            self.inner.follow,
            stop,
        )
        .await;
    }

    #[must_use]
    pub fn unit(&self) -> &EstruturaOrganizacional {
        &self.inner.unit
    }

    #[must_use]
    pub fn defects(&self) -> &BTreeSet<Defect> {
        &self.inner.defects
    }

    #[must_use]
    pub fn quirks(&self) -> &BTreeSet<Quirk> {
        &self.inner.quirks
    }

    /// Everything held in the archive.
    #[must_use]
    pub fn processes(&self) -> Vec<archive::Record> {
        lock(&self.inner.archive).records()
    }

    /// Ticks (with the last event's `seq`) whenever an event is logged.
    #[must_use]
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.inner.changed.subscribe()
    }

    /// Events after `since` (0: all kept).
    #[must_use]
    pub fn activity(&self, since: u64) -> Vec<Logged> {
        lock(&self.inner.activity)
            .1
            .iter()
            .filter(|l| l.seq > since)
            .cloned()
            .collect()
    }

    /// Waits until an event matching `want` has been logged (earlier ones count), or `timeout`.
    pub async fn wait_for(
        &self,
        timeout: Duration,
        want: impl Fn(&Event) -> bool,
    ) -> Option<Event> {
        let mut changes = self.inner.changed.subscribe();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            changes.mark_unchanged();
            if let Some(found) = self.activity(0).into_iter().find(|l| want(&l.event)) {
                return Some(found.event);
            }
            match tokio::time::timeout_at(deadline, changes.changed()).await {
                Ok(Ok(())) => {}
                _ => return None,
            }
        }
    }

    /// Sends a sample to a unit, after the sender-side rules.
    ///
    /// # Errors
    /// Unknown sample, a sender-side rule, the platform.
    pub async fn send(&self, request: &SendRequest) -> Result<SendReport, AgentError> {
        let to = parse_unit(&request.destino)?;
        let mut sample = samples::load(&request.fixture)?;
        if let Some(nup) = &request.nup {
            sample = sample.with_protocolo(nup);
        }
        if let Some(size) = request.anexo_bytes {
            let seed = hash_bytes(sample.envelope.protocolo().unwrap_or_default().as_bytes())
                .as_bytes()
                .iter()
                .fold(0u64, |acc, b| acc.rotate_left(8) ^ u64::from(*b));
            sample = sample.with_large_attachment(size, seed)?;
        }
        self.send_sample(sample, to).await
    }

    /// Sends a sample (possibly altered by the caller) to a unit, after the sender-side rules;
    /// a process the agent already holds travels with its NRE.
    ///
    /// # Errors
    /// A sender-side rule, the archive, the platform.
    pub async fn send_sample(
        &self,
        sample: samples::Sample,
        to: EstruturaOrganizacional,
    ) -> Result<SendReport, AgentError> {
        self.send_from(sample.envelope, &sample.source, to).await
    }

    /// Imports a case folder (see [`folder`]) as a real system imports a process from its
    /// files, and sends it to `destino` (under `nup` instead of the folder's protocolo) after
    /// the sender-side rules; a process already held travels with its NRE.
    ///
    /// # Errors
    /// A folder that cannot be imported, a sender-side rule, the archive, the platform.
    pub async fn send_folder(
        &self,
        pasta: &Path,
        destino: &str,
        nup: Option<&str>,
    ) -> Result<SendReport, AgentError> {
        let to = parse_unit(destino)?;
        let imported = folder::import(pasta)?;
        let mut envelope = imported.envelope;
        if let Some(nup) = nup {
            envelope = samples::Sample {
                name: pasta.display().to_string(),
                envelope,
                source: samples::SampleSource::default(),
            }
            .with_protocolo(nup)
            .envelope;
        }
        self.send_from(envelope, &imported.source, to).await
    }

    /// Keeps the components in the archive (what a return later sends again), then sends.
    async fn send_from(
        &self,
        envelope: Envelope,
        source: &dyn flows::ComponentSource,
        to: EstruturaOrganizacional,
    ) -> Result<SendReport, AgentError> {
        let components_dir = lock(&self.inner.archive).components_dir();
        for c in envelope.components() {
            if let (Some(hash), Some(size)) = (c.hash_conteudo(), c.tamanho_em_bytes) {
                archive::keep_component(&components_dir, hash, size, source)?;
            }
        }
        let known_nre = envelope
            .protocolo()
            .and_then(|p| lock(&self.inner.archive).get(p).and_then(|r| r.nre.clone()));
        self.inner
            .send_envelope(envelope, known_nre, to, source)
            .await
    }

    /// Handles one pendência now, as the feed loop would (for a caller that drives the agent
    /// step by step instead of running it).
    pub async fn handle(&self, pendencia: Pendencia) -> Outcome {
        self.inner.dispatch(pendencia).await
    }

    /// Returns a process the agent holds to whoever sent it (or to `destino`), with its NRE.
    ///
    /// # Errors
    /// Unknown process, a documento avulso (it cannot be returned), the platform.
    pub async fn return_process(&self, request: &ReturnRequest) -> Result<SendReport, AgentError> {
        let record = lock(&self.inner.archive)
            .get(&request.nup)
            .cloned()
            .ok_or_else(|| AgentError::UnknownProcess(request.nup.clone()))?;
        let Envelope::Processo(mut processo) = record.envelope else {
            return Err(AgentError::BadRequest(format!(
                "{} é um documento avulso: não se devolve",
                request.nup
            )));
        };
        let to = match (&request.destino, &record.origin) {
            (Some(d), _) => parse_unit(d)?,
            (None, Some(origin)) => origin.clone(),
            (None, None) => {
                return Err(AgentError::BadRequest(format!(
                    "{} não veio de outra unidade: informe o destino",
                    request.nup
                )))
            }
        };
        let (mut source, components_dir) = {
            let archive = lock(&self.inner.archive);
            (archive.source(), archive.components_dir())
        };
        if let Some(text) = &request.despacho {
            let (documento, bytes) = despacho(&processo.documentos, text);
            let hash = hash_bytes(&bytes).to_base64();
            let size = bytes.len() as u64;
            let memory = MemorySource(std::iter::once((hash.clone(), bytes)).collect());
            archive::keep_component(&components_dir, &hash, size, &memory)?;
            source.0.insert(
                hash.clone(),
                components_dir.join(flows::file_name_of(&hash)),
            );
            processo.documentos.push(documento);
        }
        self.inner
            .send_envelope(Envelope::Processo(processo), record.nre, to, &source)
            .await
    }
}

/// A signed despacho (HTML) as the next document of a process.
fn despacho(documentos: &[Documento], text: &str) -> (Documento, Vec<u8>) {
    let ordem = u32::try_from(documentos.len()).unwrap_or(u32::MAX - 1) + 1;
    let numero = format!("{:07}", 8_000_000 + ordem);
    let html = format!(
        "<!DOCTYPE html><html lang=\"pt-BR\"><head><meta charset=\"utf-8\"><title>Despacho {numero}</title></head>\
         <body><p>{}</p></body></html>\n",
        text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
    );
    let bytes = html.into_bytes();
    let signature = documentos
        .iter()
        .flat_map(|d| d.componentes_digitais.iter())
        .find_map(|c| c.assinaturas_digitais.first().cloned())
        .map(|mut a| {
            a.hash = Some(Hash {
                algoritmo: "SHA256withRSA".to_owned(),
                conteudo: hash_bytes(&bytes).to_base64(),
            });
            a
        });
    let template = documentos.last().cloned().unwrap_or_default();
    let documento = Documento {
        ordem: Some(ordem),
        protocolo: Some(numero.as_str().into()),
        descricao: Some("Despacho de devolução".to_owned()),
        retirado: false,
        especie: Some(Especie {
            codigo: Some(42),
            nome_no_produtor: Some("Despacho".to_owned()),
        }),
        componentes_digitais: vec![ComponenteDigital {
            ordem: Some(1),
            nome: Some(format!("despacho-{numero}.html")),
            hash: Some(Hash::sha256(hash_bytes(&bytes).to_base64())),
            tamanho_em_bytes: Some(bytes.len() as u64),
            mime_type: Some("text/html".to_owned()),
            tipo_de_conteudo: Some("txt".to_owned()),
            assinaturas_digitais: signature.into_iter().collect(),
            ..ComponenteDigital::default()
        }],
        ..template
    };
    (documento, bytes)
}

impl Inner {
    fn log(&self, event: Event) {
        let seq = {
            let mut activity = lock(&self.activity);
            activity.0 += 1;
            let seq = activity.0;
            if activity.1.len() >= ACTIVITY_CAPACITY {
                activity.1.pop_front();
            }
            activity.1.push_back(Logged { seq, event });
            seq
        };
        self.changed.send_replace(seq);
    }

    fn has(&self, defect: Defect) -> bool {
        self.defects.contains(&defect)
    }

    fn quirk(&self, quirk: Quirk) -> bool {
        self.quirks.contains(&quirk)
    }

    fn withheld(&self, idt: Idt, step: &str, defect: Defect) -> Outcome {
        self.log(Event::Withheld {
            idt,
            step: step.to_owned(),
            defect,
        });
        Outcome::Done
    }

    async fn send_envelope(
        &self,
        envelope: Envelope,
        nre: Option<Nre>,
        to: EstruturaOrganizacional,
        source: &dyn flows::ComponentSource,
    ) -> Result<SendReport, AgentError> {
        let rules = SenderRules {
            require_interessados: !self.has(Defect::SendWithoutInteressado),
            require_signatures: !self.has(Defect::SendUnsigned),
        };
        let protocolo = envelope.protocolo().unwrap_or_default().to_owned();
        let checked = match &envelope {
            Envelope::Processo(p) => rules.check_process(p),
            Envelope::Documento(d) => rules.check_document(d),
        };
        if let Err(e) = checked {
            self.log(Event::NotSent {
                protocolo,
                motivo: e.to_string(),
            });
            return Err(e.into());
        }
        let mut options = self.transfer;
        if self.has(Defect::NoPartsForLarge) {
            options.whole_below = u64::MAX;
        }
        let nre = if self.has(Defect::ForgetNre) {
            None
        } else {
            nre
        };
        let retry = if self.quirk(Quirk::RetryUploads) {
            UploadRetry::EachRequestAtOnce
        } else {
            UploadRetry::FailedPartsAfterwards
        };
        let from = self.unit.clone();
        let report = match &envelope {
            Envelope::Processo(processo) => {
                let envio = EnvioDeProcesso {
                    cabecalho: CabecalhoDeProcesso {
                        remetente: Some(from.clone()),
                        destinatario: Some(to.clone()),
                        nre,
                        enviar_apenas_componentes_digitais_pendentes: Some(true),
                        ..CabecalhoDeProcesso::default()
                    },
                    processo: processo.clone(),
                };
                let sent =
                    flows::send_process_with(&self.client, &envio, source, options, retry).await?;
                SendReport {
                    protocolo: protocolo.clone(),
                    idts: vec![sent.created.idt],
                    nre: sent.created.nre,
                    uploaded: sent.uploaded,
                }
            }
            Envelope::Documento(documento) => {
                let envio = EnvioDeDocumento {
                    cabecalho: CabecalhoDeDocumento {
                        remetente: Some(from.clone()),
                        destinatarios: vec![to.clone()],
                        ..CabecalhoDeDocumento::default()
                    },
                    documento: documento.clone(),
                };
                let sent =
                    flows::send_document_with(&self.client, &envio, source, options, retry).await?;
                let nre = sent
                    .created
                    .tramites
                    .first()
                    .map(|t| t.nre.clone())
                    .ok_or_else(|| {
                        AgentError::Platform(Error::Decode {
                            what: "tramites/documento".to_owned(),
                            detail: "nenhum trâmite criado".to_owned(),
                        })
                    })?;
                SendReport {
                    protocolo: protocolo.clone(),
                    idts: sent.created.tramites.iter().map(|t| t.idt).collect(),
                    nre,
                    uploaded: sent.uploaded,
                }
            }
        };
        if self.has(Defect::CancelsItsSends) {
            for idt in &report.idts {
                // What the platform answers makes no difference to this mutant: it reports
                // the send as done either way.
                let _ = self.client.cancel(*idt).await;
            }
        }
        {
            let mut archive = lock(&self.archive);
            for idt in &report.idts {
                archive.record_sent(
                    envelope.clone(),
                    *idt,
                    report.nre.clone(),
                    from.clone(),
                    to.clone(),
                )?;
            }
        }
        for idt in &report.idts {
            self.log(Event::Sent {
                idt: *idt,
                nre: report.nre.clone(),
                protocolo: protocolo.clone(),
                destino: to.clone(),
                uploaded: report.uploaded.clone(),
            });
        }
        Ok(report)
    }

    /// Logs a failure and leaves the pendência for a later pass, as the SEI module's scheduler
    /// does: whatever failed (the network, the platform, a certificate not yet registered), the
    /// feed presents the trâmite again while its situação has not changed, and stops presenting
    /// it once it has.
    fn failed(&self, idt: Option<Idt>, during: &str, error: &Error) -> Outcome {
        self.log(Event::Failed {
            idt,
            during: during.to_owned(),
            error: error.to_string(),
            retry: true,
        });
        Outcome::RetryLater
    }

    async fn refuse(&self, idt: Idt, protocolo: &str, refusal: &Refusal) -> Outcome {
        lock(&self.archive).discard_staged(idt);
        if self.has(Defect::NeverRefuses) {
            return self.withheld(idt, "recusa", Defect::NeverRefuses);
        }
        let recusa = Recusa {
            justificativa: refusal.justificativa(),
            motivo: refusal.motivo(),
        };
        match self.client.refuse(idt, &recusa).await {
            Ok(()) => {
                self.log(Event::Refused {
                    idt,
                    protocolo: protocolo.to_owned(),
                    motivo: recusa.motivo,
                    justificativa: recusa.justificativa,
                });
                Outcome::Done
            }
            Err(e) => self.failed(Some(idt), "recusa", &e),
        }
    }

    /// What the agent refuses before downloading: a protocolo it holds under another NRE, then
    /// its policy.
    fn judge(&self, incoming: &flows::Incoming) -> Option<Refusal> {
        let protocolo = &incoming.tramite.protocolo;
        let held = lock(&self.archive).get(protocolo).map(|r| r.nre.clone());
        if let Some(nre) = held {
            if nre.as_ref() != Some(&incoming.tramite.nre) {
                return Some(Refusal::ProtocoloJaExiste {
                    protocolo: protocolo.clone(),
                });
            }
        }
        let skips = policy::Skips {
            size: self.has(Defect::AcceptOversize),
        };
        match (&incoming.metadados.processo, &incoming.metadados.documento) {
            (Some(p), _) => self.policy.check_process(p, skips),
            (None, Some(d)) => self.policy.check_avulso(d, skips),
            (None, None) => Some(Refusal::Falha {
                mensagem: "Metadados sem processo nem documento.".to_owned(),
            }),
        }
    }

    async fn receive(&self, idt: Idt) -> Outcome {
        let incoming = match flows::open_incoming(&self.client, idt).await {
            Ok(incoming) => incoming,
            Err(e) => return self.failed(Some(idt), "metadados", &e),
        };
        let situacao = incoming.tramite.situacao_atual;
        if !matches!(
            situacao,
            Situacao::ComponentesEnviadosRemetente
                | Situacao::MetadadosRecebidoDestinatario
                | Situacao::ComponentesRecebidosDestinatario
        ) {
            return Outcome::Done;
        }
        let protocolo = incoming.tramite.protocolo.clone();
        // A receiver that never refuses has no use for a mismatch: it takes every component.
        let check = !self.has(Defect::SkipHashCheck) && !self.has(Defect::NeverRefuses);
        match self.judge(&incoming) {
            Some(_) if self.has(Defect::NeverRefuses) => {}
            Some(refusal) if self.has(Defect::DownloadBeforeRefusing) => {
                if let Err(e) = self.download(&incoming, check).await {
                    if !matches!(e, Error::Io(_)) {
                        return self.failed(Some(idt), "download", &e);
                    }
                }
                return self.refuse(idt, &protocolo, &refusal).await;
            }
            Some(refusal) => return self.refuse(idt, &protocolo, &refusal).await,
            None => {}
        }
        let returned = lock(&self.archive).get(&protocolo).is_some();
        match self.download(&incoming, check).await {
            Ok(None) => {}
            Ok(Some(corrupted)) => {
                let refusal = Refusal::HashNaoConfere {
                    ordem: corrupted.ordem,
                };
                return self.refuse(idt, &protocolo, &refusal).await;
            }
            Err(e @ Error::Io(_)) => {
                let refusal = Refusal::Falha {
                    mensagem: e.to_string(),
                };
                return self.refuse(idt, &protocolo, &refusal).await;
            }
            Err(e) => return self.failed(Some(idt), "download", &e),
        }
        let tramite = match flows::tramite(&self.client, idt).await {
            Ok(t) => t,
            Err(e) => return self.failed(Some(idt), "consulta", &e),
        };
        // Kept before the recibo goes out, as the SEI module imports the process before it
        // signs: whoever sees situação 5 finds the process here. Undone if the recibo fails.
        let envelope = match (incoming.metadados.processo, incoming.metadados.documento) {
            (Some(p), _) => Envelope::Processo(p),
            (None, Some(d)) => Envelope::Documento(d),
            (None, None) => return Outcome::Done,
        };
        let kept = {
            let mut archive = lock(&self.archive);
            let previous = archive.get(&protocolo).cloned();
            archive
                .adopt_staged(idt)
                .and_then(|()| archive.record_received(&tramite, envelope))
                .map(|()| previous)
        };
        let previous = match kept {
            Ok(previous) => previous,
            Err(e) => return self.failed(Some(idt), "acervo", &Error::Io(e)),
        };
        if self.has(Defect::NeverPostsRecibo) {
            return self.withheld(idt, "recibo de conclusão", Defect::NeverPostsRecibo);
        }
        if let Err(e) = self.post_receipt(&tramite).await {
            if let Err(io) = lock(&self.archive).restore(&protocolo, previous) {
                self.log(Event::Failed {
                    idt: Some(idt),
                    during: "acervo".to_owned(),
                    error: io.to_string(),
                    retry: false,
                });
            }
            if retryable(&e) {
                return self.failed(Some(idt), "recibo", &e);
            }
            // As the SEI module does with any failure of the reception: refuse with its text
            // (the platform's own message when it was the platform that said no).
            let mensagem = e
                .rejection()
                .map_or_else(|| e.to_string(), |body| body.mensagem.clone());
            let refusal = Refusal::Falha { mensagem };
            return self.refuse(idt, &protocolo, &refusal).await;
        }
        self.log(Event::Received {
            idt,
            protocolo,
            nre: tramite.nre.clone(),
            downloaded: tramite.hash_dos_componentes_pendentes_de_recebimento,
            returned,
        });
        Outcome::Done
    }

    /// Downloads every pending component of a trâmite into its staging folder.
    async fn download(
        &self,
        incoming: &flows::Incoming,
        check: bool,
    ) -> Result<Option<flows::Corrupted>, Error> {
        let staging = lock(&self.archive).staging_dir(incoming.tramite.idt);
        let _ = std::fs::remove_dir_all(&staging);
        let mut sink = FileSink::new(&staging);
        flows::download_pending(&self.client, incoming, &mut sink, self.transfer, check).await
    }

    /// Signs and posts the recibo de conclusão, or a deliberately wrong one.
    async fn post_receipt(&self, tramite: &pen_protocol::api::Tramite) -> Result<(), Error> {
        let mut recibo = flows::conclusion_receipt(tramite)?;
        if self.quirk(Quirk::ReceiptDatedNow) {
            recibo.data_de_recebimento = now_receipt_date();
        }
        if self.has(Defect::ReceiptOldDate) {
            recibo.data_de_recebimento = OLD_RECEIPT_DATE.to_owned();
        }
        if self.has(Defect::ReceiptWrongHashes) {
            recibo.hashes.pop();
        }
        let mut signature = recibo.sign(self.client.receipt_signer()?)?;
        if self.has(Defect::BadReceiptSignature) {
            let mut raw = STANDARD.decode(&signature).unwrap_or_default();
            if let Some(first) = raw.first_mut() {
                *first ^= 0xFF;
            }
            signature = STANDARD.encode(raw);
        }
        let envio = EnvioDeReciboDeTramite {
            data_de_recebimento: recibo.data_de_recebimento,
            hash_da_assinatura: signature,
        };
        self.client.post_receipt(tramite.idt, &envio).await?;
        if self.has(Defect::PostsReceiptTwice) {
            // The reception is done as far as this mutant knows, whatever the second answer.
            let _ = self.client.post_receipt(tramite.idt, &envio).await;
        }
        Ok(())
    }

    async fn conclude(&self, idt: Idt) -> Outcome {
        if self.has(Defect::NeverFetchesRecibo) {
            return self.withheld(idt, "recibo de conclusão", Defect::NeverFetchesRecibo);
        }
        match flows::fetch_conclusion_receipt(&self.client, idt).await {
            Ok(_) => {
                if let Err(e) = lock(&self.archive).set_outcome(idt, &archive::Outcome::Concluded) {
                    return self.failed(Some(idt), "acervo", &Error::Io(e));
                }
                self.log(Event::Concluded { idt });
                Outcome::Done
            }
            Err(e) => self.failed(Some(idt), "recibo de conclusão", &e),
        }
    }

    async fn refused(&self, idt: Idt) -> Outcome {
        if self.has(Defect::IgnoreRefusal) {
            self.log(Event::RefusalIgnored { idt });
            return Outcome::Done;
        }
        match flows::acknowledge_refusal(&self.client, idt).await {
            Ok(tramite) => {
                if let (Some(motivo), Some(justificativa)) = (
                    tramite.motivo_da_recusa,
                    tramite.justificativa_da_recusa.clone(),
                ) {
                    let outcome = archive::Outcome::Refused {
                        motivo,
                        justificativa,
                    };
                    if let Err(e) = lock(&self.archive).set_outcome(idt, &outcome) {
                        return self.failed(Some(idt), "acervo", &Error::Io(e));
                    }
                }
                self.log(Event::RefusalAcknowledged {
                    idt,
                    motivo: tramite.motivo_da_recusa,
                    justificativa: tramite.justificativa_da_recusa,
                });
                Outcome::Done
            }
            Err(e) => self.failed(Some(idt), "ciência", &e),
        }
    }
}

impl Dispatch for Inner {
    async fn dispatch(&self, pendencia: Pendencia) -> Outcome {
        match Pending::from(pendencia) {
            Pending::Receive(idt) => self.receive(idt).await,
            Pending::ConclusionReceipt(idt) => self.conclude(idt).await,
            Pending::Refused(idt) => self.refused(idt).await,
            Pending::Upload(_) | Pending::Other(_) => Outcome::Done,
        }
    }

    fn feed_error(&self, error: &Error) {
        self.log(Event::Failed {
            idt: None,
            during: "pendências".to_owned(),
            error: error.to_string(),
            retry: true,
        });
    }
}

/// The agent's clock now, as SUAP dates its recibo: UTC with real milliseconds.
fn now_receipt_date() -> String {
    let millis = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    datetime::from_epoch_millis(millis)
        .map(datetime::format_receipt_date)
        .unwrap_or_default()
}

/// An agent running on the current tokio runtime: its feed loop and, when asked for, its
/// trigger. Dropping it stops both (without waiting); [`RunningAgent::stop`] waits.
#[derive(Debug)]
pub struct RunningAgent {
    pub agent: Agent,
    /// `http://127.0.0.1:PORT/` when a trigger was asked for.
    pub trigger_url: Option<String>,
    stop: watch::Sender<bool>,
    tasks: tokio::task::JoinSet<()>,
}

impl RunningAgent {
    /// Starts following the feed and, with `trigger`, serving the trigger on that loopback
    /// address (port 0 picks one).
    ///
    /// # Errors
    /// The archive cannot be opened; the trigger cannot bind (or is not on loopback).
    pub async fn start(
        config: AgentConfig,
        trigger: Option<std::net::SocketAddr>,
    ) -> Result<Self, trigger::TriggerError> {
        let agent = Agent::new(config).map_err(|e| match e {
            AgentError::Archive(io) => trigger::TriggerError::Io(io),
            other => trigger::TriggerError::Io(std::io::Error::other(other.to_string())),
        })?;
        let (stop, stopped) = watch::channel(false);
        let mut tasks = tokio::task::JoinSet::new();
        let trigger_url = match trigger {
            Some(addr) => {
                let (url, server) = trigger::bind(agent.clone(), addr, stopped.clone()).await?;
                tasks.spawn(async move {
                    if let Err(e) = server.await {
                        tracing::warn!("gatilho do agente parou: {e}");
                    }
                });
                Some(url)
            }
            None => None,
        };
        let runner = agent.clone();
        tasks.spawn(async move { runner.run(stopped).await });
        Ok(RunningAgent {
            agent,
            trigger_url,
            stop,
            tasks,
        })
    }

    /// Stops the feed loop (after the pendências in hand) and the trigger.
    pub async fn stop(mut self) {
        self.stop.send_replace(true);
        while self.tasks.join_next().await.is_some() {}
    }
}

impl Drop for RunningAgent {
    fn drop(&mut self) {
        self.stop.send_replace(true);
    }
}
