//! The platform's rules: everything a REST v3 call does to the platform's state, with no HTTP in
//! sight. Handlers translate requests into these calls and [`PlatformError`]s into error bodies.
//!
//! Every operation reads the time once from the [`Clock`](crate::clock::Clock), first lets the
//! automatic cancellation catch up with it, then checks and changes the state in one short
//! critical section. Work on component bytes (hashing, storing, serving) happens outside the lock,
//! between a check call and a commit call.
//!
//! # Layout
//! - [`state`] — records and indexes.
//! - `validate` — schema validation and opt-in policies of the open calls.
//! - this module — [`Platform`] and its operations, grouped as the endpoint catalogue is.

pub mod state;
mod validate;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Mutex, PoisonError, RwLock};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use pen_protocol::api::{
    ComponentesSolicitados, ConsultaDeTramites, ConteudoDoReciboDeEnvio, ConteudoDoReciboDeTramite,
    EnvioDeDocumento, EnvioDeProcesso, EnvioDeReciboDeTramite, Estrutura, EstruturasEncontradas,
    Metadados, MudancaDeSituacao, Pendencia, PendenciaLongPoll, ReciboDeEnvio, ReciboDeTramite,
    Recusa, RepositorioDeEstruturas, ReproducaoDeTramite, Timestamp, Tramite,
    TramiteDeDocumentoCriado, TramiteDeProcessoCriado, TramitesDeDocumentoCriados,
};
use pen_protocol::datetime;
use pen_protocol::error::{validation_list, ErrorBody, ErrorKind};
use pen_protocol::hash::ComponentHash;
use pen_protocol::ids::{Idt, Nre, Ticket};
use pen_protocol::model::{EstruturaOrganizacional, MotivoDaUrgencia, Processo};
use pen_protocol::ranges::PartRange;
use pen_protocol::receipt::{ReceiptSigner, ReciboDeConclusao, ReciboDeEnvioTexto};
use pen_protocol::situacao::{transition, Actor, Event, Situacao, TransitionError};
use pen_protocol::tables::JUSTIFICATIVA_MAX_CHARS;
use time::OffsetDateTime;

use std::sync::Arc;

use crate::clock::SharedClock;
use crate::config::{MissingNre, PlatformConfig, ReceiptDate, TimestampFormat};
use crate::journal::{self, Journal};
use crate::registry::{Registry, Spe};

use state::{DeclaredComponent, Payload, State, StoredRecibo, StoredReciboDeEnvio, TramiteRecord};
use validate::{Findings, Validator};

/// A platform error: a catalogue entry and the values of its message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformError {
    pub kind: ErrorKind,
    pub args: Vec<(&'static str, String)>,
}

impl PlatformError {
    #[must_use]
    pub fn new(kind: ErrorKind, args: &[(&'static str, &str)]) -> Self {
        PlatformError {
            kind,
            args: args.iter().map(|(k, v)| (*k, (*v).to_owned())).collect(),
        }
    }

    /// The body the platform answers with.
    #[must_use]
    pub fn body(&self) -> ErrorBody {
        let args: Vec<(&str, &str)> = self.args.iter().map(|(k, v)| (*k, v.as_str())).collect();
        self.kind.body(&args)
    }
}

impl std::fmt::Display for PlatformError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.body().fmt(f)
    }
}

impl std::error::Error for PlatformError {}

type Result<T> = std::result::Result<T, PlatformError>;

fn err(kind: ErrorKind, args: &[(&'static str, &str)]) -> PlatformError {
    PlatformError::new(kind, args)
}

/// The platform's signing identity (recibo de envio).
pub struct PlatformSigner {
    pub signer: ReceiptSigner,
    pub certificate_der: Vec<u8>,
}

impl std::fmt::Debug for PlatformSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlatformSigner").finish_non_exhaustive()
    }
}

/// Where the platform keeps its records. In memory today; a durable implementation keeps the same
/// contract: `with` gives exclusive access for one short, non-async critical section.
pub trait Store: Send + Sync + std::fmt::Debug {
    fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R;
}

/// The in-memory store.
#[derive(Debug)]
pub struct MemoryStore {
    /// A std mutex: critical sections are short and never span an `.await`.
    state: Mutex<State>,
}

impl Default for MemoryStore {
    fn default() -> Self {
        MemoryStore {
            state: Mutex::new(State::new()),
        }
    }
}

impl Store for MemoryStore {
    fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        let mut guard = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut guard)
    }
}

/// What an accepted component download serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DownloadPlan {
    pub hash: ComponentHash,
    pub range: PartRange,
}

/// Structure search parameters (`rest-v3.md` §2.1.3).
#[derive(Debug, Clone, Default)]
pub struct StructureQuery {
    pub apenas_ativas: bool,
    pub raiz: Option<String>,
    pub sigla: Option<String>,
    pub nome: Option<String>,
    pub registro_inicial: Option<u64>,
    pub quantidade_de_registros: Option<u64>,
    pub permite_recebimento: bool,
    /// Only units some registered system can send from.
    pub permite_envio: bool,
}

/// The control plane's view of a trâmite: the wire view plus what only the platform knows.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Inspection {
    pub tramite: Tramite,
    pub sender: String,
    pub recipient: String,
    pub ticket: Ticket,
    pub requested: Vec<String>,
    pub received: Vec<String>,
    pub downloaded: Vec<String>,
    pub reproducao: bool,
    pub recibo_de_conclusao: Option<String>,
    /// The recibo de envio as the sender fetches it (signed by the platform), once there is one.
    #[serde(default)]
    pub recibo_de_envio_assinado: Option<ConteudoDoReciboDeEnvio>,
    /// The recipient's recibo de conclusão as the sender fetches it, once accepted.
    #[serde(default)]
    pub recibo_de_conclusao_assinado: Option<ConteudoDoReciboDeTramite>,
    pub metadata: serde_json::Value,
}

/// Whether an open call is checked against the schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schema {
    Enforced,
    /// Control-plane injection of what a correct sender would never send.
    Skipped,
}

/// A filter on a unit where either member may be given alone.
#[derive(Debug, Clone, Default)]
pub struct UnitFilter {
    pub repositorio: Option<u64>,
    pub estrutura: Option<String>,
}

impl UnitFilter {
    fn matches(&self, unit: &EstruturaOrganizacional) -> bool {
        self.repositorio
            .is_none_or(|r| r == unit.identificacao_do_repositorio_de_estruturas)
            && self
                .estrutura
                .as_ref()
                .is_none_or(|e| e == &unit.numero_de_identificacao_da_estrutura)
    }
}

/// `GET tramites` filters (`rest-v3.md` §2.7).
#[derive(Debug, Clone, Default)]
pub struct TramiteQuery {
    pub idt: Option<Idt>,
    pub nre: Option<Nre>,
    pub remetente: UnitFilter,
    pub destinatario: UnitFilter,
    pub protocolo: Option<String>,
    pub situacao_atual: Option<Situacao>,
    pub quantidade_de_registros: Option<u64>,
}

/// The simulated platform.
#[derive(Debug)]
pub struct Platform<S: Store = MemoryStore> {
    config: PlatformConfig,
    registry: RwLock<Registry>,
    store: S,
    clock: SharedClock,
    signer: PlatformSigner,
    journal: Arc<Journal>,
    /// Bumped on every change of situação; long-polls of the pending feed wait on it.
    feed: tokio::sync::watch::Sender<u64>,
}

fn lower_accents(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            'á' | 'à' | 'â' | 'ã' | 'ä' | 'Á' | 'À' | 'Â' | 'Ã' | 'Ä' => 'a',
            'é' | 'è' | 'ê' | 'ë' | 'É' | 'È' | 'Ê' | 'Ë' => 'e',
            'í' | 'ì' | 'î' | 'ï' | 'Í' | 'Ì' | 'Î' | 'Ï' => 'i',
            'ó' | 'ò' | 'ô' | 'õ' | 'ö' | 'Ó' | 'Ò' | 'Ô' | 'Õ' | 'Ö' => 'o',
            'ú' | 'ù' | 'û' | 'ü' | 'Ú' | 'Ù' | 'Û' | 'Ü' => 'u',
            'ç' | 'Ç' => 'c',
            other => other.to_ascii_lowercase(),
        })
        .collect()
}

fn situacao_error(kind: &str, record: &TramiteRecord) -> PlatformError {
    err(
        ErrorKind::SituacaoNaoPermitida,
        &[
            ("operacao", kind),
            ("idt", &record.idt.to_string()),
            ("situacao", &record.situacao.to_string()),
            ("descricao", record.situacao.descricao()),
        ],
    )
}

impl Platform<MemoryStore> {
    /// A platform with an empty in-memory store.
    #[must_use]
    pub fn new(
        config: PlatformConfig,
        registry: Registry,
        clock: SharedClock,
        signer: PlatformSigner,
    ) -> Self {
        Platform::with_store(config, registry, clock, signer, MemoryStore::default())
    }
}

impl<S: Store> Platform<S> {
    pub fn with_store(
        config: PlatformConfig,
        registry: Registry,
        clock: SharedClock,
        signer: PlatformSigner,
        store: S,
    ) -> Self {
        let journal_capacity = config.journal_capacity;
        Platform {
            config,
            registry: RwLock::new(registry),
            store,
            clock,
            signer,
            journal: Arc::new(Journal::with_capacity(journal_capacity)),
            feed: tokio::sync::watch::channel(0).0,
        }
    }

    #[must_use]
    pub fn config(&self) -> &PlatformConfig {
        &self.config
    }

    #[must_use]
    pub fn clock(&self) -> &SharedClock {
        &self.clock
    }

    /// What every party did.
    #[must_use]
    pub fn journal(&self) -> &Arc<Journal> {
        &self.journal
    }

    /// Read access to the registry.
    pub fn registry<R>(&self, f: impl FnOnce(&Registry) -> R) -> R {
        f(&self.registry.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// The SPE a verified certificate belongs to.
    ///
    /// # Errors
    /// The platform's "Transação não autorizada…" when the certificate is registered for no SPE.
    pub fn identify(&self, sha1_fingerprint: &str, common_name: &str) -> Result<Spe> {
        self.registry(|r| r.spe_by_fingerprint(sha1_fingerprint).cloned())
            .ok_or_else(|| {
                err(
                    ErrorKind::CertificadoNaoAutorizado,
                    &[("commonName", common_name)],
                )
            })
    }

    fn timestamp(&self, at: OffsetDateTime) -> Timestamp {
        match self.config.timestamp_format {
            TimestampFormat::Iso8601 => {
                Timestamp::Text(datetime::format_with_offset(at, datetime::BRASILIA))
            }
            TimestampFormat::EpochMillis => Timestamp::EpochMillis(datetime::to_epoch_millis(at)),
        }
    }

    /// Runs `f` on the state after the automatic cancellation has caught up with `now`.
    fn with_state<R>(&self, now: OffsetDateTime, f: impl FnOnce(&mut State) -> R) -> R {
        self.store.with(|state| {
            self.sweep(state, now);
            f(state)
        })
    }

    /// Cancels (situação 10) every trâmite in 1–4 idle for longer than the configured period.
    fn sweep(&self, state: &mut State, now: OffsetDateTime) {
        while let Some(&(deadline, idt)) = state.deadlines.first() {
            if deadline > now {
                break;
            }
            state.deadlines.pop_first();
            if state.tramites.contains_key(&idt) {
                // The deadline was set when the trâmite entered its situação; it expires then.
                let _ = self.apply(state, idt, Actor::Platform, Event::AutoCancel, deadline);
            }
        }
    }

    /// Applies an event through the protocol's transition rule, recording history and timers.
    fn apply(
        &self,
        state: &mut State,
        idt: Idt,
        actor: Actor,
        event: Event,
        now: OffsetDateTime,
    ) -> std::result::Result<bool, TransitionError> {
        let Some(record) = state.tramites.get_mut(&idt) else {
            return Ok(false);
        };
        let t = transition(&self.config.rules, record.situacao, actor, event)?;
        if !t.changed() {
            return Ok(false);
        }
        if let Some(since) = record.last_change() {
            if matches!(t.from.code(), 1..=4) {
                let deadline = since + self.config.auto_cancel_after;
                state.deadlines.remove(&(deadline, idt));
            }
        }
        record.situacao = t.to;
        record.history.push((t.to, now));
        let spe = match actor {
            Actor::Sender => Some(record.sender.clone()),
            Actor::Recipient => Some(record.recipient.clone()),
            Actor::Platform => None,
        };
        for party in [record.sender.clone(), record.recipient.clone()] {
            let waits = record.pending_for(&party);
            let set = state.pending.entry(party).or_default();
            if waits {
                set.insert(idt);
            } else {
                set.remove(&idt);
            }
        }
        self.feed.send_modify(|version| *version += 1);
        self.journal.record(
            now,
            journal::Event::StateChange {
                idt,
                from: t.from,
                to: t.to,
                actor: actor.into(),
                spe,
            },
        );
        if matches!(t.to.code(), 1..=4) {
            state
                .deadlines
                .insert((now + self.config.auto_cancel_after, idt));
        }
        Ok(true)
    }

    // ------------------------------------------------------------------ catalogue

    #[must_use]
    pub fn repositorios(&self, only_active: bool) -> Vec<RepositorioDeEstruturas> {
        self.registry(|r| {
            r.repositorios()
                .iter()
                .filter(|x| !only_active || x.ativo)
                .cloned()
                .collect()
        })
    }

    /// # Errors
    /// `0055` when the unit is not in that repository.
    pub fn estrutura(&self, repositorio: u64, id: &str) -> Result<Estrutura> {
        self.registry(|r| {
            let reference = EstruturaOrganizacional::new(repositorio, id);
            r.structure(&reference)
                .map(|e| r.directory.wire_view(e))
                .ok_or_else(|| {
                    err(
                        ErrorKind::EstruturaNaoEncontrada,
                        &[("estrutura", id), ("repositorio", &repositorio.to_string())],
                    )
                })
        })
    }

    #[must_use]
    pub fn estruturas(&self, repositorio: u64, q: &StructureQuery) -> EstruturasEncontradas {
        self.registry(|r| {
            let matches: Vec<_> = r
                .directory
                .estruturas
                .iter()
                .filter(|e| e.identificacao_do_repositorio_de_estruturas == repositorio)
                .filter(|e| !q.apenas_ativas || e.ativo)
                .filter(|e| !q.permite_recebimento || e.apto_para_receber_tramites)
                .filter(|e| !q.permite_envio || r.owner_of(&e.reference()).is_some())
                .filter(|e| {
                    q.sigla
                        .as_ref()
                        .is_none_or(|s| lower_accents(&e.sigla).contains(&lower_accents(s)))
                })
                .filter(|e| {
                    q.nome
                        .as_ref()
                        .is_none_or(|n| lower_accents(&e.nome).contains(&lower_accents(n)))
                })
                .filter(|e| {
                    q.raiz.as_ref().is_none_or(|raiz| {
                        r.directory
                            .ancestors(e)
                            .iter()
                            .any(|a| &a.numero_de_identificacao_da_estrutura == raiz)
                    })
                })
                .collect();
            let page = q
                .quantidade_de_registros
                .unwrap_or(self.config.limits.default_page)
                .min(self.config.limits.max_page);
            let skip = usize::try_from(q.registro_inicial.unwrap_or(0)).unwrap_or(usize::MAX);
            EstruturasEncontradas {
                total_de_registros: matches.len() as u64,
                estruturas: matches
                    .iter()
                    .skip(skip)
                    .take(usize::try_from(page).unwrap_or(usize::MAX))
                    .map(|e| r.directory.wire_view(e))
                    .collect(),
            }
        })
    }

    // ------------------------------------------------------------------ opening trâmites

    /// The SPE that receives for a destination.
    fn check_destinatario(
        &self,
        destinatario: &EstruturaOrganizacional,
    ) -> Result<(String, Option<EstruturaOrganizacional>)> {
        self.registry(|r| {
            let repositorio = destinatario
                .identificacao_do_repositorio_de_estruturas
                .to_string();
            let estrutura = destinatario.numero_de_identificacao_da_estrutura.as_str();
            let entry = r.structure(destinatario).ok_or_else(|| {
                err(
                    ErrorKind::EstruturaNaoEncontrada,
                    &[("estrutura", estrutura), ("repositorio", &repositorio)],
                )
            })?;
            let owner = r
                .owner_of(destinatario)
                .filter(|_| entry.ativo && entry.apto_para_receber_tramites);
            let owner = owner.ok_or_else(|| {
                err(
                    ErrorKind::EstruturaNaoApta,
                    &[("estrutura", estrutura), ("repositorio", &repositorio)],
                )
            })?;
            let receptora = (!entry.codigo_unidade_receptora.is_empty()).then(|| {
                EstruturaOrganizacional::new(
                    destinatario.identificacao_do_repositorio_de_estruturas,
                    entry.codigo_unidade_receptora.clone(),
                )
            });
            Ok((owner.id.clone(), receptora))
        })
    }

    /// Runs the schema validation unless it is skipped.
    fn validate(
        &self,
        schema: Schema,
        check: impl FnOnce(&Validator<'_>, &mut Findings),
    ) -> Result<()> {
        if schema == Schema::Skipped {
            return Ok(());
        }
        let mut findings = Findings::default();
        self.registry(|registry| {
            check(
                &Validator {
                    registry,
                    config: &self.config,
                },
                &mut findings,
            );
        });
        validation(&findings)
    }

    /// `POST tramites/processo`.
    ///
    /// # Errors
    /// Validation, authorisation, `0004`, `0044`, `0047`, `0055` and the NRE consistency errors.
    pub fn open_processo(
        &self,
        spe: &Spe,
        body: EnvioDeProcesso,
    ) -> Result<TramiteDeProcessoCriado> {
        self.open_processo_with(spe, body, Schema::Enforced)
    }

    /// `POST tramites/processo`, optionally past the schema validation (the control plane's
    /// injection of a malformed process: missing interessados, missing descrição, …).
    ///
    /// # Errors
    /// As [`Platform::open_processo`], minus validation when skipped.
    pub fn open_processo_with(
        &self,
        spe: &Spe,
        body: EnvioDeProcesso,
        schema: Schema,
    ) -> Result<TramiteDeProcessoCriado> {
        let now = self.clock.now();
        let EnvioDeProcesso {
            cabecalho,
            processo,
        } = body;
        self.validate(schema, |v, findings| {
            v.cabecalho_de_processo(&cabecalho, findings);
            v.processo(&processo, "processo", findings);
        })?;
        let (Some(remetente), Some(destinatario)) =
            (cabecalho.remetente.clone(), cabecalho.destinatario.clone())
        else {
            return Err(err(
                ErrorKind::RequisicaoInvalida,
                &[("detalhe", "cabecalho incompleto")],
            ));
        };
        check_remetente(spe, &remetente)?;
        let (recipient, unidade_receptora) = self.check_destinatario(&destinatario)?;
        let protocolo = processo
            .protocolo
            .as_ref()
            .map(|p| p.0.clone())
            .unwrap_or_default();
        let components = declared_components(&processo);
        let wants_all = cabecalho.wants_all_components();

        self.with_state(now, |state| {
            let nre =
                self.resolve_nre(state, spe, cabecalho.nre.as_ref(), &protocolo, &processo)?;
            let held = state
                .nres
                .get(&nre)
                .and_then(|r| r.holders.get(&recipient))
                .cloned()
                .unwrap_or_default();
            let requested: Vec<String> = unique_in_order(
                components
                    .iter()
                    .filter(|c| !c.retirado && (wants_all || !held.contains(&c.hash)))
                    .map(|c| c.hash.clone()),
            );
            let idt = state.allocate_idt();
            let ticket = state.allocate_ticket();
            let record = TramiteRecord {
                idt,
                nre: nre.clone(),
                ticket,
                remetente,
                destinatario,
                unidade_receptora,
                sender: spe.id.clone(),
                recipient: recipient.clone(),
                payload: Payload::Processo(processo.clone()),
                protocolo: protocolo.clone(),
                propriedades_adicionais: cabecalho.propriedades_adicionais.clone(),
                urgente: cabecalho.urgente.or(cabecalho.urgencia),
                motivo_da_urgencia: motivo(cabecalho.motivo_da_urgencia),
                situacao: Situacao::NaoIniciado,
                history: Vec::new(),
                components: TramiteRecord::unique_components(&components),
                requested: requested.clone(),
                received: Vec::new(),
                pending_for_recipient: Vec::new(),
                downloaded: Vec::new(),
                recusa: None,
                recibo_de_envio: None,
                recibo: None,
                reproducao: false,
                last_download: None,
            };
            self.insert_tramite(state, record, now);
            let nre_record = state.nres.entry(nre.clone()).or_default();
            nre_record.protocolo.clone_from(&protocolo);
            nre_record.tramites.push(idt);
            for d in &processo.documentos {
                if let Some(ordem) = d.ordem {
                    let hashes = d
                        .componentes_digitais
                        .iter()
                        .filter_map(|c| c.hash_conteudo().map(str::to_owned))
                        .collect();
                    nre_record.documents.entry(ordem).or_insert(hashes);
                }
            }
            nre_record
                .holders
                .entry(spe.id.clone())
                .or_default()
                .extend(components.iter().map(|c| c.hash.clone()));
            state.tickets.insert(ticket, vec![idt]);
            if requested.is_empty() {
                self.components_complete(state, idt, now);
            }
            Ok(TramiteDeProcessoCriado {
                idt,
                nre,
                ticket_para_envio_de_componentes_digitais: ticket,
                data_hora_de_registro_do_tramite: Some(self.timestamp(now)),
                processos_com_componentes_digitais_solicitados: solicitados(
                    &protocolo,
                    &components,
                    &requested,
                ),
            })
        })
    }

    fn insert_tramite(&self, state: &mut State, record: TramiteRecord, now: OffsetDateTime) {
        let idt = record.idt;
        state
            .by_spe
            .entry(record.sender.clone())
            .or_default()
            .insert(idt);
        state
            .by_spe
            .entry(record.recipient.clone())
            .or_default()
            .insert(idt);
        state.tramites.insert(idt, record);
        // Opening is always allowed from 0.
        let _ = self.apply(state, idt, Actor::Sender, Event::Open, now);
    }

    /// Decides the NRE of a new process trâmite and enforces the NRE rules.
    fn resolve_nre(
        &self,
        state: &mut State,
        spe: &Spe,
        given: Option<&Nre>,
        protocolo: &str,
        processo: &Processo,
    ) -> Result<Nre> {
        let existing = match given {
            Some(nre) => {
                if !state.nres.contains_key(nre) {
                    return Err(err(ErrorKind::NreNaoEncontrado, &[("nre", nre.as_str())]));
                }
                Some(nre.clone())
            }
            None if self.config.missing_nre == MissingNre::RecoverByProtocol => state
                .nres
                .iter()
                .find(|(_, r)| r.protocolo == protocolo && r.holders.contains_key(&spe.id))
                .map(|(n, _)| n.clone()),
            None => None,
        };
        let Some(nre) = existing else {
            let year = u16::try_from(self.clock.now().year()).unwrap_or(2025);
            return Ok(state.allocate_nre(year));
        };
        let record = state.nres.get(&nre).cloned().unwrap_or_default();
        if record.protocolo != protocolo {
            return Err(err(
                ErrorKind::ProtocoloInconsistente,
                &[
                    ("nre", nre.as_str()),
                    ("anterior", &record.protocolo),
                    ("atual", protocolo),
                ],
            ));
        }
        let open = record
            .tramites
            .iter()
            .filter_map(|i| state.tramites.get(i))
            .any(|t| !t.situacao.is_terminal());
        if open {
            return Err(err(ErrorKind::TramiteEmAndamento, &[("nre", nre.as_str())]));
        }
        for d in &processo.documentos {
            let Some(ordem) = d.ordem else { continue };
            let Some(known) = record.documents.get(&ordem) else {
                continue;
            };
            let now: Vec<String> = d
                .componentes_digitais
                .iter()
                .filter_map(|c| c.hash_conteudo().map(str::to_owned))
                .collect();
            if &now != known {
                return Err(err(
                    ErrorKind::HashDeDocumentoInconsistente,
                    &[
                        ("ordem", &ordem.to_string()),
                        ("nre", nre.as_str()),
                        ("protocolo", protocolo),
                    ],
                ));
            }
        }
        Ok(nre)
    }

    /// `POST tramites/documento`: one trâmite (and NRE) per destinatário, one ticket for all.
    ///
    /// # Errors
    /// Validation, authorisation, `0004`, `0055`.
    pub fn open_documento(
        &self,
        spe: &Spe,
        body: EnvioDeDocumento,
    ) -> Result<TramitesDeDocumentoCriados> {
        self.open_documento_with(spe, body, Schema::Enforced)
    }

    /// `POST tramites/documento`, optionally past the schema validation (control plane).
    ///
    /// # Errors
    /// As [`Platform::open_documento`], minus validation when skipped.
    pub fn open_documento_with(
        &self,
        spe: &Spe,
        body: EnvioDeDocumento,
        schema: Schema,
    ) -> Result<TramitesDeDocumentoCriados> {
        let now = self.clock.now();
        let EnvioDeDocumento {
            cabecalho,
            documento,
        } = body;
        self.validate(schema, |v, findings| {
            v.cabecalho_de_documento(&cabecalho, findings);
            v.documento_avulso(&documento, findings);
        })?;
        let Some(remetente) = cabecalho.remetente.clone() else {
            return Err(err(
                ErrorKind::RequisicaoInvalida,
                &[("detalhe", "cabecalho incompleto")],
            ));
        };
        check_remetente(spe, &remetente)?;
        let destinos = cabecalho
            .destinatarios
            .iter()
            .map(|d| {
                self.check_destinatario(d)
                    .map(|(owner, receptora)| (d.clone(), owner, receptora))
            })
            .collect::<Result<Vec<_>>>()?;
        let protocolo = documento
            .protocolo
            .as_ref()
            .map(|p| p.0.clone())
            .unwrap_or_default();
        let components: Vec<DeclaredComponent> = documento
            .componentes_digitais
            .iter()
            .filter_map(|c| declared(c, &protocolo, false))
            .collect();
        let requested = unique_in_order(components.iter().map(|c| c.hash.clone()));
        self.with_state(now, |state| {
            let ticket = state.allocate_ticket();
            let year = u16::try_from(now.year()).unwrap_or(2025);
            let mut tramites = Vec::new();
            for (destinatario, recipient, unidade_receptora) in destinos {
                let idt = state.allocate_idt();
                let nre = state.allocate_nre(year);
                let record = TramiteRecord {
                    idt,
                    nre: nre.clone(),
                    ticket,
                    remetente: remetente.clone(),
                    destinatario: destinatario.clone(),
                    unidade_receptora,
                    sender: spe.id.clone(),
                    recipient,
                    payload: Payload::Documento(documento.clone()),
                    protocolo: protocolo.clone(),
                    propriedades_adicionais: cabecalho.propriedades_adicionais.clone(),
                    urgente: cabecalho.urgente,
                    motivo_da_urgencia: motivo(cabecalho.motivo_da_urgencia),
                    situacao: Situacao::NaoIniciado,
                    history: Vec::new(),
                    components: TramiteRecord::unique_components(&components),
                    requested: requested.clone(),
                    received: Vec::new(),
                    pending_for_recipient: Vec::new(),
                    downloaded: Vec::new(),
                    recusa: None,
                    recibo_de_envio: None,
                    recibo: None,
                    reproducao: false,
                    last_download: None,
                };
                self.insert_tramite(state, record, now);
                let nre_record = state.nres.entry(nre.clone()).or_default();
                nre_record.protocolo.clone_from(&protocolo);
                nre_record.tramites.push(idt);
                nre_record
                    .holders
                    .entry(spe.id.clone())
                    .or_default()
                    .extend(requested.iter().cloned());
                tramites.push(TramiteDeDocumentoCriado {
                    idt,
                    nre,
                    destinatario: Some(destinatario),
                });
            }
            let idts: Vec<Idt> = tramites.iter().map(|t| t.idt).collect();
            state.tickets.insert(ticket, idts.clone());
            if requested.is_empty() {
                for idt in idts {
                    self.components_complete(state, idt, now);
                }
            }
            Ok(TramitesDeDocumentoCriados {
                ticket_para_envio_de_componentes_digitais: ticket,
                data_hora_de_registro_do_tramite: Some(self.timestamp(now)),
                tramites,
            })
        })
    }

    // ------------------------------------------------------------------ uploads

    /// The declared size of a component the caller may upload with this ticket.
    ///
    /// # Errors
    /// Unknown ticket, not the caller's, trâmite not waiting for components, hash not requested.
    pub fn upload_target(
        &self,
        spe: &Spe,
        ticket: Ticket,
        hash: &str,
        protocolo: &str,
    ) -> Result<u64> {
        let now = self.clock.now();
        self.with_state(now, |state| {
            let invalid = || {
                err(
                    ErrorKind::TicketInvalido,
                    &[("ticket", &ticket.to_string())],
                )
            };
            let idts = state.tickets.get(&ticket).ok_or_else(invalid)?;
            let records: Vec<&TramiteRecord> =
                idts.iter().filter_map(|i| state.tramites.get(i)).collect();
            if records.is_empty() || records.iter().any(|r| r.sender != spe.id) {
                return Err(invalid());
            }
            let waiting: Vec<&&TramiteRecord> = records
                .iter()
                .filter(|r| r.situacao == Situacao::Iniciado)
                .collect();
            let Some(first) = waiting.first() else {
                return Err(invalid());
            };
            let requested = waiting
                .iter()
                .any(|r| r.requested.iter().any(|h| h == hash));
            let component = first.component(hash).filter(|_| requested);
            component.map(|c| c.size).ok_or_else(|| {
                err(
                    ErrorKind::ComponenteNaoSolicitado,
                    &[("hash", hash), ("protocolo", protocolo)],
                )
            })
        })
    }

    /// Checks one part of a chunked upload against the declared size.
    ///
    /// # Errors
    /// As [`Platform::upload_target`], and "A parte informada ultrapassa…" beyond the size.
    pub fn check_part(
        &self,
        spe: &Spe,
        ticket: Ticket,
        hash: &str,
        protocolo: &str,
        range: PartRange,
    ) -> Result<u64> {
        let size = self.upload_target(spe, ticket, hash, protocolo)?;
        if !range.fits(size) {
            return Err(err(ErrorKind::ParteUltrapassaTamanho, &[]));
        }
        if range.len() > self.config.limits.max_part_bytes {
            return Err(err(
                ErrorKind::CorpoMuitoGrande,
                &[("limite", &self.config.limits.max_part_bytes.to_string())],
            ));
        }
        Ok(size)
    }

    /// Records a stored part.
    pub fn record_part(&self, ticket: Ticket, hash: &str, range: PartRange) {
        let now = self.clock.now();
        self.with_state(now, |state| {
            state
                .parts
                .entry((ticket, hash.to_owned()))
                .or_default()
                .ranges
                .push(range);
        });
    }

    /// Bytes still missing from a chunked upload (for `sinalizacao-termino-envio`).
    ///
    /// # Errors
    /// As [`Platform::upload_target`], and when parts leave gaps.
    pub fn check_parts_complete(
        &self,
        spe: &Spe,
        ticket: Ticket,
        hash: &str,
        protocolo: &str,
    ) -> Result<u64> {
        let size = self.upload_target(spe, ticket, hash, protocolo)?;
        let missing = self.with_state(self.clock.now(), |state| {
            state
                .parts
                .get(&(ticket, hash.to_owned()))
                .map_or(size, |p| p.missing(size))
        });
        if missing > 0 {
            return Err(err(
                ErrorKind::PartesIncompletas,
                &[("hash", hash), ("faltam", &missing.to_string())],
            ));
        }
        Ok(size)
    }

    /// Whether [`Platform::accept_component`] would take these bytes now: the answer it would
    /// give, without changing anything. Asked before the bytes are committed, so that a refused
    /// upload never reaches the component store.
    ///
    /// # Errors
    /// Size or hash mismatch, and the errors of [`Platform::upload_target`].
    pub fn check_component(
        &self,
        spe: &Spe,
        ticket: Ticket,
        hash: &str,
        protocolo: &str,
        computed: ComponentHash,
        len: u64,
    ) -> Result<()> {
        let size = self.upload_target(spe, ticket, hash, protocolo)?;
        if len != size {
            return Err(err(
                ErrorKind::TamanhoNaoConfere,
                &[
                    ("recebido", &len.to_string()),
                    ("informado", &size.to_string()),
                ],
            ));
        }
        if computed.to_base64() != hash {
            return Err(err(
                ErrorKind::HashNaoConfere,
                &[("calculado", &computed.to_base64()), ("hash", hash)],
            ));
        }
        Ok(())
    }

    /// Accepts a component whose bytes were hashed while they streamed and are already readable
    /// in the component store: moving a trâmite to situação 2 puts it in the recipient's feed,
    /// and a recipient may download the instant it sees it. Moves every trâmite of the ticket
    /// that now has all its components to situação 2.
    ///
    /// # Errors
    /// As [`Platform::check_component`] (checked again: the trâmite may have moved since).
    pub fn accept_component(
        &self,
        spe: &Spe,
        ticket: Ticket,
        hash: &str,
        protocolo: &str,
        computed: ComponentHash,
        len: u64,
    ) -> Result<()> {
        self.check_component(spe, ticket, hash, protocolo, computed, len)?;
        let now = self.clock.now();
        self.with_state(now, |state| {
            state.parts.remove(&(ticket, hash.to_owned()));
            let idts = state.tickets.get(&ticket).cloned().unwrap_or_default();
            for idt in idts {
                let complete = match state.tramites.get_mut(&idt) {
                    Some(r)
                        if r.situacao == Situacao::Iniciado
                            && r.requested.iter().any(|h| h == hash) =>
                    {
                        state::insert_once(&mut r.received, hash);
                        r.requested.iter().all(|h| r.received.contains(h))
                    }
                    _ => false,
                };
                if complete {
                    self.components_complete(state, idt, now);
                }
            }
        });
        Ok(())
    }

    /// Whether some trâmite received a component with this hash (its bytes must stay).
    #[must_use]
    pub fn holds_component(&self, hash: &ComponentHash) -> bool {
        let hash = hash.to_base64();
        self.store
            .with(|state| state.tramites.values().any(|r| r.received.contains(&hash)))
    }

    /// 1 → 2: freeze what the recipient must download and sign the recibo de envio.
    fn components_complete(&self, state: &mut State, idt: Idt, now: OffsetDateTime) {
        if self.apply(state, idt, Actor::Platform, Event::ComponentsUploaded, now) != Ok(true) {
            return;
        }
        let Some(record) = state.tramites.get_mut(&idt) else {
            return;
        };
        record.pending_for_recipient.clone_from(&record.requested);
        let data = datetime::format_with_offset(now, datetime::BRASILIA);
        let texto = ReciboDeEnvioTexto {
            idt,
            nre: record.nre.clone(),
            data_do_ultimo_componente: Some(data.clone()),
            hashes: record.requested.clone(),
        };
        // Signing with a loaded RSA key does not fail in practice; an empty signature would only
        // make a verifying client reject the receipt, which is the honest outcome.
        let signature = self
            .signer
            .signer
            .sign(&texto.canonical_text())
            .unwrap_or_default();
        record.recibo_de_envio = Some(StoredReciboDeEnvio {
            data,
            hashes: texto.hashes,
            signature,
        });
    }

    // ------------------------------------------------------------------ feed and reads

    /// `GET tramites/pendentes`: what waits for the caller. With `only_undelivered`
    /// (`todas=false`), leaves out what the long-poll feed already delivered.
    #[must_use]
    pub fn pendencias(&self, spe: &Spe, only_undelivered: bool) -> Vec<Pendencia> {
        self.with_state(self.clock.now(), |state| {
            pending_of(state, &spe.id, only_undelivered)
        })
    }

    /// The pending feed as a long-poll: answers at once when something waits for the caller,
    /// otherwise as soon as something does, or with `[]` after `timeout` (real time).
    pub async fn wait_pendencias(
        &self,
        spe: &Spe,
        only_undelivered: bool,
        timeout: std::time::Duration,
    ) -> Vec<Pendencia> {
        let deadline = tokio::time::Instant::now() + timeout;
        // Subscribed before looking, so a change between the look and the wait is not lost.
        let mut changes = self.feed.subscribe();
        loop {
            changes.mark_unchanged();
            let found = self.pendencias(spe, only_undelivered);
            if !found.is_empty() {
                return found;
            }
            match tokio::time::timeout_at(deadline, changes.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) | Err(_) => return found,
            }
        }
    }

    /// How many long-polls are waiting right now (for tests and the control plane).
    #[must_use]
    pub fn long_poll_waiters(&self) -> usize {
        self.feed.receiver_count()
    }

    /// The legacy long-poll host (`?idTramiteDaPendenciaRecebida=`): one pendency at a time,
    /// never the same (IDT, situação) twice; `{"encontrou": false}` after `timeout`.
    pub async fn next_pendencia(
        &self,
        spe: &Spe,
        timeout: std::time::Duration,
    ) -> PendenciaLongPoll {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut changes = self.feed.subscribe();
        loop {
            changes.mark_unchanged();
            let next = self.with_state(self.clock.now(), |state| {
                let first = pending_of(state, &spe.id, true).into_iter().next()?;
                state
                    .delivered
                    .insert((spe.id.clone(), first.idt, first.status));
                Some(first)
            });
            if let Some(p) = next {
                return PendenciaLongPoll {
                    encontrou: true,
                    idt: Some(p.idt),
                    status: Some(p.status),
                };
            }
            match tokio::time::timeout_at(deadline, changes.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) | Err(_) => {
                    return PendenciaLongPoll {
                        encontrou: false,
                        idt: None,
                        status: None,
                    }
                }
            }
        }
    }

    /// `GET tramites/{idt}`: the metadata; the recipient's first read moves 2 → 3.
    ///
    /// # Errors
    /// Unknown or foreign trâmite.
    pub fn metadados(&self, spe: &Spe, idt: Idt) -> Result<Metadados> {
        let now = self.clock.now();
        self.with_state(now, |state| {
            let (_, role) = visible(state, spe, idt)?;
            if self
                .apply(state, idt, role, Event::MetadataRead, now)
                .is_err()
            {
                let record = &state.tramites[&idt];
                return Err(situacao_error("leitura de metadados", record));
            }
            // A process that comes back with nothing the recipient lacks has nothing to download:
            // the condition of 3 → 4 ("every pending component downloaded") already holds.
            let nothing_pending = state.tramites[&idt].pending_for_recipient.is_empty();
            if role == Actor::Recipient
                && nothing_pending
                && state.tramites[&idt].situacao.code() == 3
            {
                let _ = self.apply(state, idt, role, Event::ComponentsDownloaded, now);
            }
            let r = &state.tramites[&idt];
            let (processo, documento) = match &r.payload {
                Payload::Processo(p) => (Some(p.clone()), None),
                Payload::Documento(d) => (None, Some(d.clone())),
            };
            Ok(Metadados {
                nre: Some(r.nre.clone()),
                remetente: Some(r.remetente.clone()),
                destinatario: Some(r.destinatario.clone()),
                unidade_receptora: r.unidade_receptora.clone(),
                urgente: r.urgente,
                motivo_da_urgencia: r.motivo_da_urgencia,
                propriedades_adicionais: r.propriedades_adicionais.clone(),
                reproducao_de_tramite: Some(r.reproducao),
                reproducao_de_processo: Some(false),
                ticket_para_reenvio_de_componentes_digitais: r.reproducao.then_some(r.ticket),
                processo,
                documento,
            })
        })
    }

    fn tramite_view(&self, r: &TramiteRecord) -> Tramite {
        Tramite {
            idt: r.idt,
            nre: r.nre.clone(),
            remetente: r.remetente.clone(),
            destinatario: r.destinatario.clone(),
            situacao_atual: r.situacao,
            protocolo: r.protocolo.clone(),
            motivo_da_recusa: r.recusa.as_ref().map(|(m, _)| *m),
            justificativa_da_recusa: r.recusa.as_ref().map(|(_, j)| j.clone()),
            mudancas_de_situacao: r
                .history
                .iter()
                .map(|(s, at)| MudancaDeSituacao {
                    situacao: *s,
                    data_hora: self.timestamp(*at),
                })
                .collect(),
            hash_dos_componentes_pendentes_de_recebimento: r.pending_for_recipient.clone(),
            hash_dos_componentes_pendentes_de_envio: r
                .requested
                .iter()
                .filter(|h| !r.received.contains(*h))
                .cloned()
                .collect(),
            propriedades_adicionais: r.propriedades_adicionais.clone(),
        }
    }

    /// `GET tramites`: the caller's trâmites matching the filters, newest first.
    #[must_use]
    pub fn tramites(&self, spe: &Spe, q: &TramiteQuery) -> ConsultaDeTramites {
        self.with_state(self.clock.now(), |state| {
            let candidates: Vec<Idt> = match (&q.idt, &q.nre) {
                (Some(idt), _) => vec![*idt],
                (None, Some(nre)) => state
                    .nres
                    .get(nre)
                    .map(|r| r.tramites.clone())
                    .unwrap_or_default(),
                (None, None) => state
                    .by_spe
                    .get(&spe.id)
                    .map(|s| s.iter().copied().collect())
                    .unwrap_or_default(),
            };
            let mut found: Vec<Tramite> = candidates
                .into_iter()
                .filter_map(|idt| visible(state, spe, idt).ok().map(|(r, _)| r))
                .filter(|r| q.nre.as_ref().is_none_or(|n| &r.nre == n))
                .filter(|r| q.remetente.matches(&r.remetente))
                .filter(|r| q.destinatario.matches(&r.destinatario))
                .filter(|r| q.protocolo.as_ref().is_none_or(|p| &r.protocolo == p))
                .filter(|r| q.situacao_atual.is_none_or(|s| r.situacao == s))
                .map(|r| self.tramite_view(r))
                .collect();
            found.sort_by_key(|t| std::cmp::Reverse(t.idt));
            let total = found.len() as u64;
            if let Some(n) = q.quantidade_de_registros {
                found.truncate(usize::try_from(n).unwrap_or(usize::MAX));
            }
            ConsultaDeTramites {
                tramites: found,
                total_de_registros: Some(total),
            }
        })
    }

    // ------------------------------------------------------------------ downloads

    /// Authorises a download by the recipient and records it; the last pending component moves
    /// the trâmite to 4 at once (the SEI module re-reads the situação right after).
    ///
    /// # Errors
    /// Foreign trâmite, wrong situação, unknown hash, range beyond the size.
    pub fn download(
        &self,
        spe: &Spe,
        idt: Idt,
        hash: &str,
        range: Option<PartRange>,
    ) -> Result<DownloadPlan> {
        let now = self.clock.now();
        self.with_state(now, |state| {
            let (record, role) = visible(state, spe, idt)?;
            if role != Actor::Recipient {
                return Err(err(
                    ErrorKind::TramiteNaoAutorizado,
                    &[("idt", &idt.to_string())],
                ));
            }
            if !matches!(record.situacao.code(), 2..=6) {
                return Err(situacao_error("download de componente digital", record));
            }
            let component = record.component(hash).ok_or_else(|| {
                err(
                    ErrorKind::ComponenteNaoSolicitado,
                    &[("hash", hash), ("protocolo", &record.protocolo)],
                )
            })?;
            let parsed = ComponentHash::from_base64(hash).map_err(|_| {
                err(
                    ErrorKind::ComponenteNaoSolicitado,
                    &[("hash", hash), ("protocolo", &record.protocolo)],
                )
            })?;
            let size = component.size;
            let range = range.unwrap_or(PartRange {
                inicio: 0,
                fim: size,
            });
            if !range.fits(size) {
                return Err(err(ErrorKind::ParteUltrapassaTamanho, &[]));
            }
            let finished = range.fim == size;
            let record = state
                .tramites
                .get_mut(&idt)
                .ok_or_else(|| err(ErrorKind::TramiteNaoEncontrado, &[("idt", &idt.grouped())]))?;
            record.last_download = Some(now);
            if finished {
                state::insert_once(&mut record.downloaded, hash);
            }
            let all = record
                .pending_for_recipient
                .iter()
                .all(|h| record.downloaded.contains(h));
            if all && matches!(record.situacao.code(), 2 | 3) {
                let _ = self.apply(
                    state,
                    idt,
                    Actor::Recipient,
                    Event::ComponentsDownloaded,
                    now,
                );
            }
            Ok(DownloadPlan {
                hash: parsed,
                range,
            })
        })
    }

    // ------------------------------------------------------------------ receipts

    /// `GET tramites/{idt}/recibo-de-envio` (sender).
    ///
    /// # Errors
    /// Foreign trâmite; "… ainda não recebeu todos os componentes digitais" before situação 2.
    pub fn recibo_de_envio(&self, spe: &Spe, idt: Idt) -> Result<ConteudoDoReciboDeEnvio> {
        self.with_state(self.clock.now(), |state| {
            let (r, role) = visible(state, spe, idt)?;
            if role != Actor::Sender {
                return Err(err(
                    ErrorKind::TramiteNaoAutorizado,
                    &[("idt", &idt.to_string())],
                ));
            }
            self.signed_recibo_de_envio(r).ok_or_else(|| {
                err(
                    ErrorKind::ComponentesNaoRecebidos,
                    &[("idt", &idt.grouped())],
                )
            })
        })
    }

    /// The recibo de envio of a trâmite as the sender receives it.
    fn signed_recibo_de_envio(&self, r: &TramiteRecord) -> Option<ConteudoDoReciboDeEnvio> {
        let stored = r.recibo_de_envio.as_ref()?;
        Some(ConteudoDoReciboDeEnvio {
            recibo_de_envio: ReciboDeEnvio {
                idt: r.idt,
                nre: r.nre.clone(),
                data_de_recebimento_do_ultimo_componente_digital: Some(stored.data.clone()),
                hashes_dos_componentes_digitais: pen_protocol::receipt::sorted_hashes(
                    &stored.hashes,
                ),
            },
            cadeia_do_certificado: STANDARD.encode(&self.signer.certificate_der),
            hash_da_assinatura: stored.signature.clone(),
        })
    }

    /// The recipient's recibo de conclusão as the sender receives it.
    fn signed_recibo(r: &TramiteRecord) -> Option<ConteudoDoReciboDeTramite> {
        let stored = r.recibo.as_ref()?;
        Some(ConteudoDoReciboDeTramite {
            recibo: ReciboDeTramite {
                idt: r.idt,
                nre: r.nre.clone(),
                data_de_recebimento: stored.data_de_recebimento.clone(),
                hashes_dos_componentes_digitais: pen_protocol::receipt::sorted_hashes(
                    &r.pending_for_recipient,
                ),
            },
            cadeia_do_certificado: STANDARD.encode(&stored.certificate_der),
            hash_da_assinatura: stored.signature.clone(),
        })
    }

    /// `POST tramites/{idt}/recibo` (recipient): verifies the signature over the rebuilt text
    /// with the certificate the caller authenticated with; 4 → 5.
    ///
    /// # Errors
    /// Wrong situação; `0024` when the signature does not verify or the date is unreadable.
    pub fn post_recibo(
        &self,
        spe: &Spe,
        certificate_der: &Arc<[u8]>,
        idt: Idt,
        body: &EnvioDeReciboDeTramite,
    ) -> Result<()> {
        let now = self.clock.now();
        self.with_state(now, |state| {
            let (r, role) = visible(state, spe, idt)?;
            if role != Actor::Recipient {
                return Err(err(ErrorKind::TramiteNaoAutorizado, &[("idt", &idt.to_string())]));
            }
            if r.situacao != Situacao::ComponentesRecebidosDestinatario {
                return Err(situacao_error("envio de recibo de conclusão", r));
            }
            let recibo = ReciboDeConclusao {
                idt,
                nre: r.nre.clone(),
                data_de_recebimento: body.data_de_recebimento.clone(),
                hashes: r.pending_for_recipient.clone(),
            };
            let mut verified = recibo.verify(certificate_der, &body.hash_da_assinatura).is_ok();
            if !verified && self.config.receipt_date == ReceiptDate::AsSentOrUtc {
                verified = recibo.with_canonical_date().is_ok_and(|c| c.verify(certificate_der, &body.hash_da_assinatura).is_ok());
            }
            if !verified {
                let motivo = format!("a assinatura não confere com o certificado do sistema destinatário sobre o texto {}", recibo.canonical_text());
                return Err(err(ErrorKind::ReciboNaoAceito, &[("motivo", &motivo)]));
            }
            if let Some(window) = self.config.receipt_date_window {
                let date = datetime::parse(&body.data_de_recebimento)
                    .map_err(|e| err(ErrorKind::ReciboNaoAceito, &[("motivo", &e.to_string())]))?;
                let earliest = r.last_download.unwrap_or(now) - window;
                if date < earliest || date > now + window {
                    return Err(err(ErrorKind::ReciboNaoAceito, &[("motivo", "dataDeRecebimento fora do intervalo entre o último download e o momento atual")]));
                }
            }
            let hashes = r.pending_for_recipient.clone();
            let (nre, recipient) = (r.nre.clone(), r.recipient.clone());
            if let Some(record) = state.tramites.get_mut(&idt) {
                record.recibo = Some(StoredRecibo {
                    data_de_recebimento: body.data_de_recebimento.clone(),
                    signature: body.hash_da_assinatura.clone(),
                    certificate_der: certificate_der.clone(),
                });
            }
            let _ = self.apply(state, idt, Actor::Recipient, Event::ReceiptPosted, now);
            // The recipient now holds what it received: a later trâmite of this NRE towards it
            // will not request these components again.
            state.nres.entry(nre).or_default().holders.entry(recipient).or_default().extend(hashes);
            Ok(())
        })
    }

    /// `GET tramites/{idt}/recibo` (sender): 5 → 6; readable again at 6.
    ///
    /// # Errors
    /// Foreign trâmite, no receipt yet.
    pub fn recibo(&self, spe: &Spe, idt: Idt) -> Result<ConteudoDoReciboDeTramite> {
        let now = self.clock.now();
        self.with_state(now, |state| {
            let (r, role) = visible(state, spe, idt)?;
            if role != Actor::Sender {
                return Err(err(
                    ErrorKind::TramiteNaoAutorizado,
                    &[("idt", &idt.to_string())],
                ));
            }
            let Some(view) = Self::signed_recibo(r) else {
                return Err(situacao_error("download de recibo de conclusão", r));
            };
            let _ = self.apply(state, idt, Actor::Sender, Event::ReceiptFetched, now);
            Ok(view)
        })
    }

    // ------------------------------------------------------------------ cancel, refuse, acknowledge

    fn event(
        &self,
        spe: &Spe,
        idt: Idt,
        expected: Actor,
        event: Event,
        operacao: &str,
    ) -> Result<()> {
        let now = self.clock.now();
        self.with_state(now, |state| {
            let (r, role) = visible(state, spe, idt)?;
            if role != expected {
                return Err(err(
                    ErrorKind::TramiteNaoAutorizado,
                    &[("idt", &idt.to_string())],
                ));
            }
            let snapshot = situacao_error(operacao, r);
            self.apply(state, idt, role, event, now)
                .map_err(|_| snapshot)
                .map(|_| ())
        })
    }

    /// `DELETE tramites/{idt}` (sender): 1–4 → 7.
    ///
    /// # Errors
    /// Foreign trâmite or a situação that cannot be cancelled.
    pub fn cancelar(&self, spe: &Spe, idt: Idt) -> Result<()> {
        self.event(
            spe,
            idt,
            Actor::Sender,
            Event::Cancel,
            "cancelamento de trâmite",
        )
    }

    /// `POST tramites/{idt}/recusa` (recipient): 2–4 → 8.
    ///
    /// # Errors
    /// Foreign trâmite, wrong situação, empty or too long justificativa.
    pub fn recusar(&self, spe: &Spe, idt: Idt, recusa: &Recusa) -> Result<()> {
        let chars = recusa.justificativa.chars().count();
        if recusa.justificativa.trim().is_empty() || chars > JUSTIFICATIVA_MAX_CHARS {
            let erro = format!("justificativa deve ter entre 1 e {JUSTIFICATIVA_MAX_CHARS} caracteres (recebidos {chars})");
            return Err(err(
                ErrorKind::ValidacaoDeCampos,
                &[("erros", &validation_list(&[erro]))],
            ));
        }
        self.event(
            spe,
            idt,
            Actor::Recipient,
            Event::Refuse,
            "recusa de trâmite",
        )?;
        let now = self.clock.now();
        self.with_state(now, |state| {
            if let Some(r) = state.tramites.get_mut(&idt) {
                r.recusa = Some((recusa.motivo, recusa.justificativa.clone()));
            }
        });
        Ok(())
    }

    /// `GET tramites/{idt}/ciencia` (sender): 8 → 9.
    ///
    /// # Errors
    /// Foreign trâmite or not refused.
    pub fn ciencia(&self, spe: &Spe, idt: Idt) -> Result<()> {
        self.event(
            spe,
            idt,
            Actor::Sender,
            Event::AcknowledgeRefusal,
            "ciência de recusa",
        )
    }

    /// `POST NREs/{nre}/destinatarios/{rep}/{estrutura}/reproducoes-de-tramite`: the recipient
    /// of the last completed trâmite of an NRE asks for it again; the platform opens a new
    /// trâmite in situação 1 from the original sender, who sees it as pendência 1 and re-uploads
    /// every component with the ticket its metadata carry (`rest-v3.md` §2.13).
    ///
    /// # Errors
    /// Unknown NRE; not the recipient of that destination; `0044` while a trâmite of the NRE is
    /// open; nothing completed or nothing valid to reproduce.
    pub fn reproduzir(
        &self,
        spe: &Spe,
        nre: &Nre,
        destinatario: &EstruturaOrganizacional,
    ) -> Result<ReproducaoDeTramite> {
        let now = self.clock.now();
        self.with_state(now, |state| {
            let record = state
                .nres
                .get(nre)
                .ok_or_else(|| err(ErrorKind::NreNaoEncontrado, &[("nre", nre.as_str())]))?;
            let tramites: Vec<&TramiteRecord> = record
                .tramites
                .iter()
                .filter_map(|i| state.tramites.get(i))
                .collect();
            if tramites.iter().any(|t| !t.situacao.is_terminal()) {
                return Err(err(
                    ErrorKind::TramiteEmAndamentoParaDestinatario,
                    &[("nre", nre.as_str())],
                ));
            }
            let last = tramites
                .iter()
                .rev()
                .find(|t| {
                    &t.destinatario == destinatario
                        && t.situacao == Situacao::ReciboRecebidoRemetente
                })
                .ok_or_else(|| {
                    err(
                        ErrorKind::ReproducaoSemComponentes,
                        &[("protocolo", &record.protocolo)],
                    )
                })?;
            if last.recipient != spe.id {
                return Err(err(
                    ErrorKind::TramiteNaoAutorizado,
                    &[("idt", &last.idt.to_string())],
                ));
            }
            let requested = unique_in_order(
                last.components
                    .iter()
                    .filter(|c| !c.retirado)
                    .map(|c| c.hash.clone()),
            );
            if requested.is_empty() {
                return Err(err(
                    ErrorKind::ReproducaoSemComponentes,
                    &[("protocolo", &record.protocolo)],
                ));
            }
            let mut copy = (*last).clone();
            let components: Vec<DeclaredComponent> = copy.components.clone();
            let idt = state.allocate_idt();
            let ticket = state.allocate_ticket();
            copy.idt = idt;
            copy.ticket = ticket;
            copy.situacao = Situacao::NaoIniciado;
            copy.history.clear();
            copy.requested.clone_from(&requested);
            copy.received.clear();
            copy.pending_for_recipient.clear();
            copy.downloaded.clear();
            copy.recusa = None;
            copy.recibo_de_envio = None;
            copy.recibo = None;
            copy.reproducao = true;
            copy.last_download = None;
            let protocolo = copy.protocolo.clone();
            self.insert_tramite(state, copy, now);
            state.tickets.insert(ticket, vec![idt]);
            state
                .nres
                .entry(nre.clone())
                .or_default()
                .tramites
                .push(idt);
            Ok(ReproducaoDeTramite {
                tramite_de_processo_criado: TramiteDeProcessoCriado {
                    idt,
                    nre: nre.clone(),
                    ticket_para_envio_de_componentes_digitais: ticket,
                    data_hora_de_registro_do_tramite: Some(self.timestamp(now)),
                    processos_com_componentes_digitais_solicitados: solicitados(
                        &protocolo,
                        &components,
                        &requested,
                    ),
                },
            })
        })
    }

    /// Forgets every trâmite, NRE, ticket and journal entry (control-plane reset). The registry,
    /// the configuration and the clock stay.
    pub fn reset(&self) {
        self.store.with(|state| *state = State::new());
        self.journal.clear();
        self.feed.send_modify(|version| *version += 1);
    }

    /// Adds or replaces an SPE (control plane).
    ///
    /// # Errors
    /// When one of its structures is unknown or answered for by another SPE.
    pub fn register(&self, spe: Spe) -> std::result::Result<(), crate::registry::RegistryError> {
        self.registry
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .register(spe)
    }

    /// Everything the platform knows of one trâmite (control plane; no authorisation).
    #[must_use]
    pub fn inspect(&self, idt: Idt) -> Option<Inspection> {
        self.with_state(self.clock.now(), |state| {
            let r = state.tramites.get(&idt)?;
            Some(Inspection {
                tramite: self.tramite_view(r),
                sender: r.sender.clone(),
                recipient: r.recipient.clone(),
                ticket: r.ticket,
                requested: r.requested.clone(),
                received: r.received.clone(),
                downloaded: r.downloaded.clone(),
                reproducao: r.reproducao,
                recibo_de_conclusao: r.recibo.as_ref().map(|x| x.data_de_recebimento.clone()),
                recibo_de_envio_assinado: self.signed_recibo_de_envio(r),
                recibo_de_conclusao_assinado: Self::signed_recibo(r),
                metadata: match &r.payload {
                    Payload::Processo(p) => serde_json::to_value(p).unwrap_or_default(),
                    Payload::Documento(d) => serde_json::to_value(d).unwrap_or_default(),
                },
            })
        })
    }

    /// The situação of a trâmite, for tests and the control plane.
    #[must_use]
    pub fn situacao(&self, idt: Idt) -> Option<Situacao> {
        self.with_state(self.clock.now(), |state| {
            state.tramites.get(&idt).map(|r| r.situacao)
        })
    }

    /// Lets the automatic cancellation catch up with the clock (called by the timer task).
    pub fn tick(&self) {
        self.with_state(self.clock.now(), |_| ());
    }

    /// The next instant the automatic cancellation has something to do.
    #[must_use]
    pub fn next_deadline(&self) -> Option<OffsetDateTime> {
        self.store
            .with(|state| state.deadlines.first().map(|(at, _)| *at))
    }
}

fn pending_of(state: &State, spe: &str, only_undelivered: bool) -> Vec<Pendencia> {
    let Some(idts) = state.pending.get(spe) else {
        return Vec::new();
    };
    idts.iter()
        .filter_map(|i| state.tramites.get(i))
        .map(|r| Pendencia {
            idt: r.idt,
            status: r.situacao,
        })
        .filter(|p| {
            !only_undelivered || !state.delivered.contains(&(spe.to_owned(), p.idt, p.status))
        })
        .collect()
}

fn check_remetente(spe: &Spe, remetente: &EstruturaOrganizacional) -> Result<()> {
    if spe.estruturas.contains(remetente) {
        Ok(())
    } else {
        Err(err(ErrorKind::RemetenteNaoAutorizado, &[]))
    }
}

fn validation(f: &Findings) -> Result<()> {
    if f.sigiloso {
        return Err(err(ErrorKind::NivelDeSigiloNaoPermitido, &[]));
    }
    if f.errors.is_empty() {
        Ok(())
    } else {
        Err(err(
            ErrorKind::ValidacaoDeCampos,
            &[("erros", &validation_list(&f.errors))],
        ))
    }
}

fn motivo(motivo: Option<MotivoDaUrgencia>) -> Option<u32> {
    match motivo {
        Some(MotivoDaUrgencia::Codigo(c)) => Some(c),
        _ => None,
    }
}

/// The trâmite if the SPE may see it, with its role; the platform's authorisation error
/// otherwise (never another SPE's data).
fn visible<'s>(state: &'s State, spe: &Spe, idt: Idt) -> Result<(&'s TramiteRecord, Actor)> {
    let record = state
        .tramites
        .get(&idt)
        .ok_or_else(|| err(ErrorKind::TramiteNaoEncontrado, &[("idt", &idt.grouped())]))?;
    match record.role_of(&spe.id) {
        // After a recusa only the sender sees the trâmite (MANUAL L277).
        Some(Actor::Recipient)
            if matches!(
                record.situacao,
                Situacao::Recusado | Situacao::CienciaRecusa
            ) => {}
        Some(role) => return Ok((record, role)),
        None => {}
    }
    Err(err(
        ErrorKind::TramiteNaoAutorizado,
        &[("idt", &idt.to_string())],
    ))
}

fn declared(
    c: &pen_protocol::model::ComponenteDigital,
    protocolo: &str,
    retirado: bool,
) -> Option<DeclaredComponent> {
    Some(DeclaredComponent {
        hash: c.hash_conteudo()?.to_owned(),
        size: c.tamanho_em_bytes?,
        protocolo: protocolo.to_owned(),
        retirado,
    })
}

/// Every component of a process and its apensados, in document order.
fn declared_components(processo: &Processo) -> Vec<DeclaredComponent> {
    processo
        .components()
        .into_iter()
        .filter_map(|(protocolo, documento, c)| declared(c, &protocolo.0, documento.retirado))
        .collect()
}

fn unique_in_order(hashes: impl Iterator<Item = String>) -> Vec<String> {
    let mut seen = BTreeSet::new();
    hashes.filter(|h| seen.insert(h.clone())).collect()
}

/// `processosComComponentesDigitaisSolicitados`: the main protocol first with **every** requested
/// hash (the SEI module checks every component against the first item's list), then one entry per
/// apensado protocol with its own hashes.
fn solicitados(
    main: &str,
    components: &[DeclaredComponent],
    requested: &[String],
) -> Vec<ComponentesSolicitados> {
    if requested.is_empty() {
        return Vec::new();
    }
    let mut out = vec![ComponentesSolicitados {
        protocolo: main.to_owned(),
        hashes: requested.to_vec(),
    }];
    let mut by_protocol: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for c in components
        .iter()
        .filter(|c| c.protocolo != main && requested.contains(&c.hash))
    {
        let list = by_protocol.entry(c.protocolo.as_str()).or_default();
        if !list.contains(&c.hash) {
            list.push(c.hash.clone());
        }
    }
    out.extend(
        by_protocol
            .into_iter()
            .map(|(p, hashes)| ComponentesSolicitados {
                protocolo: p.to_owned(),
                hashes,
            }),
    );
    out
}
