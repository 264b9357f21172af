//! The platform's rules: everything a REST v3 call does to the platform's state, with no HTTP in
//! sight. Handlers translate requests into these calls and [`PlatformError`]s into error bodies.
//!
//! Every operation reads the time once from the [`Clock`](crate::clock::Clock), first lets the
//! automatic cancellation catch up with it, then checks and changes the state in one short
//! critical section ([`Store::transact`]), which the store commits (to disk, for a durable one)
//! before the operation answers. Work on component bytes (hashing, storing, serving) happens
//! outside the lock, between a check call and a commit call. So does RSA: signing the recibo de
//! envio (the last component accepted, or an open with nothing to upload) and verifying the
//! recibo de conclusão run between a section that reads what to sign or verify and one that
//! applies the result only if the trâmite is still where it was read.
//!
//! A section never tells anyone what it did before its changes are committed: journal entries and
//! the pending feed's wake-ups are collected while it runs and emitted once the store committed
//! (still in the section, so that the journal's order is the order of the commits).
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
//! Beside them: [`state`] (the records), `validate` (schema validation and the opt-in policies of
//! the open calls), and here [`Platform`] itself, the critical section it runs its rules in over
//! the [`Store`] (`crate::store`), and the one place a transition is applied (history, timers,
//! journal, feed).

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

use std::sync::{Arc, PoisonError, RwLock};

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
pub use crate::store::{AnyStore, MemoryStore, Store, StoreError, Transaction};

pub use admin::Inspection;
pub use catalogue::StructureQuery;
pub use open::Schema;
pub use reads::{DownloadPlan, TramiteQuery, UnitFilter};
use state::TramiteRecord;

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

/// A store that could not commit: the platform's "temporarily unavailable" answer (the client
/// retries; nothing of the operation remains).
fn unavailable(e: &StoreError) -> PlatformError {
    tracing::error!(error = %e, "the platform's state could not be kept");
    err(ErrorKind::ServicoIndisponivel, &[])
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

/// What a critical section did that others must hear of once it is committed.
#[derive(Debug, Default)]
struct Effects {
    journal: Vec<(OffsetDateTime, journal::Event)>,
    /// A situação changed: wake the pending feed's long-polls.
    feed: bool,
}

/// One critical section: the store's operations, and what to tell once they are committed.
pub(crate) struct Section<'t> {
    tx: &'t mut dyn Transaction,
    effects: Effects,
}

impl<'t> std::ops::Deref for Section<'t> {
    type Target = dyn Transaction + 't;

    fn deref(&self) -> &Self::Target {
        self.tx
    }
}

impl std::ops::DerefMut for Section<'_> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        self.tx
    }
}

impl Section<'_> {
    /// Journals an event once the section is committed.
    fn record(&mut self, at: OffsetDateTime, event: journal::Event) {
        self.effects.journal.push((at, event));
    }
}

/// The simulated platform.
#[derive(Debug)]
pub struct Platform<S: Store = AnyStore> {
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

impl Platform<AnyStore> {
    /// A platform with an empty in-memory store.
    #[must_use]
    pub fn new(
        config: PlatformConfig,
        registry: Registry,
        clock: SharedClock,
        signer: PlatformSigner,
    ) -> Self {
        Platform::with_store(config, registry, clock, signer, AnyStore::default())
    }
}

impl<S: Store> Platform<S> {
    /// A platform over a store, going on from what the store kept: the SPEs registered through
    /// the control plane are registered again, the journal goes on from its kept entries.
    pub fn with_store(
        config: PlatformConfig,
        mut registry: Registry,
        clock: SharedClock,
        signer: PlatformSigner,
        store: S,
    ) -> Self {
        for spe in store.saved_spes() {
            let id = spe.id.clone();
            if let Err(e) = registry.register(spe) {
                tracing::warn!(spe = %id, error = %e, "an SPE registered earlier no longer fits the registry; left out");
            }
        }
        let journal = store.open_journal(config.journal_capacity);
        Platform {
            config,
            registry: RwLock::new(registry),
            store,
            clock,
            signer,
            journal: Arc::new(journal),
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

    /// The store the platform keeps its records in.
    #[must_use]
    pub fn store(&self) -> &S {
        &self.store
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

    /// Runs `f` as one critical section, after the automatic cancellation has caught up with
    /// `now`; commits it, then tells the journal and the feed what it did.
    ///
    /// # Errors
    /// The store could not commit (nothing of the section remains).
    fn section<R>(
        &self,
        now: OffsetDateTime,
        f: impl FnOnce(&mut Section<'_>) -> R,
    ) -> std::result::Result<R, StoreError> {
        let (out, _) = self.store.transact(
            |tx| {
                let mut section = Section {
                    tx,
                    effects: Effects::default(),
                };
                self.sweep(&mut section, now);
                let out = f(&mut section);
                (out, section.effects)
            },
            |(_, effects)| self.emit(effects),
        )?;
        Ok(out)
    }

    /// A section whose rules answer a `Result`; a failed commit is the platform's "unavailable".
    fn run<T>(
        &self,
        now: OffsetDateTime,
        f: impl FnOnce(&mut Section<'_>) -> Result<T>,
    ) -> Result<T> {
        self.section(now, f).map_err(|e| unavailable(&e))?
    }

    /// A section that only reads (the sweep before it may still change, and commit, something):
    /// when the store cannot commit, the answer is `fallback`.
    fn read<T>(
        &self,
        now: OffsetDateTime,
        fallback: T,
        f: impl FnOnce(&mut Section<'_>) -> T,
    ) -> T {
        self.section(now, f).unwrap_or_else(|e| {
            unavailable(&e);
            fallback
        })
    }

    /// Emits what a committed section did, in its order.
    fn emit(&self, effects: &mut Effects) {
        for (at, event) in effects.journal.drain(..) {
            self.journal.record(at, event);
        }
        if std::mem::take(&mut effects.feed) {
            self.feed.send_modify(|version| *version += 1);
        }
    }

    /// Applies an event through the protocol's transition rule, recording history and timers.
    fn apply(
        &self,
        s: &mut Section<'_>,
        idt: Idt,
        actor: Actor,
        event: Event,
        now: OffsetDateTime,
    ) -> std::result::Result<bool, TransitionError> {
        let Some(record) = s.tramite(idt) else {
            return Ok(false);
        };
        let t = transition(&self.config.rules, record.situacao, actor, event)?;
        if !t.changed() {
            return Ok(false);
        }
        let spe = match actor {
            Actor::Sender => Some(record.sender.clone()),
            Actor::Recipient => Some(record.recipient.clone()),
            Actor::Platform => None,
        };
        // Idle in 1–4 for the configured period: the automatic cancellation's deadline.
        let deadline = matches!(t.to.code(), 1..=4)
            .then(|| crate::clock::saturating_add(now, self.config.auto_cancel_after));
        s.update_tramite(idt, &mut |r| {
            r.situacao = t.to;
            r.history.push((t.to, now));
            r.idle_deadline = deadline;
        });
        s.effects.feed = true;
        s.record(
            now,
            journal::Event::StateChange {
                idt,
                from: t.from,
                to: t.to,
                actor: actor.into(),
                spe,
            },
        );
        Ok(true)
    }
}

/// The trâmite if the SPE may see it, with its role; the platform's authorisation error
/// otherwise (never another SPE's data).
fn visible<'s>(
    tx: &'s (dyn Transaction + 's),
    spe: &Spe,
    idt: Idt,
) -> Result<(&'s TramiteRecord, Actor)> {
    let record = tx
        .tramite(idt)
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
