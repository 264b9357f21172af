//! The platform's rules: everything a REST v3 call does to the platform's state, with no HTTP in
//! sight. Handlers translate requests into these calls and [`PlatformError`]s into error bodies.
//!
//! Every operation reads the time once from the [`Clock`](crate::clock::Clock), first lets the
//! automatic cancellation catch up with it, then checks and changes the state in one short
//! critical section. Work on component bytes (hashing, storing, serving) happens outside the lock,
//! between a check call and a commit call. So does RSA: signing the recibo de envio (the last
//! component accepted, or an open with nothing to upload) and verifying the recibo de conclusão
//! run between a section that reads what to sign or verify and one that applies the result only
//! if the trâmite is still where it was read.
//!
//! # Layout
//! One file per group of operations, each with its rule tests on a manual clock:
//! - `catalogue` — repositórios and structures (registry reads).
//! - `open` — opening process and documento avulso trâmites, the NRE rules, reproductions.
//! - `uploads` — what a ticket may upload, parts, accepting a component, 1 → 2.
//! - `feed` — the pending feed and its long-polls.
//! - `reads` — metadata (2 → 3), the trâmite search, downloads (3 → 4).
//! - `receipts` — the recibo de envio, the recibo de conclusão posted (4 → 5) and fetched (5 → 6).
//! - `lifecycle` — cancellation, refusal, ciência, automatic cancellation and its timer.
//! - `admin` — the control plane's reset, registration and inspection.
//!
//! Beside them: [`state`] (records and indexes), `validate` (schema validation and the opt-in
//! policies of the open calls), and here [`Platform`] itself, the [`Store`] it keeps its state in,
//! and the one place a transition is applied (history, feed, timers, journal).

pub mod state;
mod validate;

mod admin;
mod catalogue;
mod feed;
mod lifecycle;
mod open;
mod reads;
mod receipts;
mod uploads;

#[cfg(test)]
mod testing;

use std::sync::{Arc, Mutex, PoisonError, RwLock};

use pen_protocol::api::Timestamp;
use pen_protocol::datetime;
use pen_protocol::error::{ErrorBody, ErrorKind};
use pen_protocol::ids::Idt;
use pen_protocol::receipt::ReceiptSigner;
use pen_protocol::situacao::{transition, Actor, Event, Situacao, TransitionError};
use time::OffsetDateTime;

use crate::clock::SharedClock;
use crate::config::{PlatformConfig, TimestampFormat};
use crate::journal::{self, Journal};
use crate::registry::{Registry, Spe};

pub use admin::Inspection;
pub use catalogue::StructureQuery;
pub use open::Schema;
pub use reads::{DownloadPlan, TramiteQuery, UnitFilter};
use state::{State, TramiteRecord};

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
