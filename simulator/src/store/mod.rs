//! Where the platform keeps what it knows: the [`Store`] contract and its two implementations,
//! [`MemoryStore`] (the default, and the harness's: everything goes when the process ends) and
//! [`SqliteStore`] (`pen-simulator serve --data-dir DIR`: SQLite beside the component files,
//! restart resumes where it stopped).
//!
//! # The contract
//! The platform reads and changes its records only through the operations of a
//! [`Transaction`], inside [`Store::transact`]: one short critical section, never across an
//! `.await`. Whatever the section changed is committed before `transact` returns — written to
//! disk by a durable store — and all of it or none of it: a durable store whose write fails
//! goes back to what it last committed and answers [`StoreError`]. Only then does the platform
//! tell anyone (the journal, the pending feed's long-polls), from `transact`'s `committed` hook,
//! still inside the section so that the journal's order is the commit order.
//!
//! Identifiers come from counters the store keeps and never resets: an IDT, NRE or ticket is
//! issued once per installation (per process in memory; per data folder on disk), across
//! control-plane resets and restarts.
//!
//! Both stores pass the same suite (`contract` below, and the platform's rule tests run over
//! each, see `platform::testing`).

mod installation;
mod journal;
mod memory;
mod records;
mod sqlite;

#[cfg(test)]
mod contract;

use std::sync::Arc;

use pen_protocol::ids::{Idt, Nre, Ticket};
use pen_protocol::ranges::PartRange;
use thiserror::Error;
use time::OffsetDateTime;

use crate::faults::ActiveFault;
use crate::journal::Journal;
use crate::platform::state::{NreRecord, PartsInProgress, Payload, TramiteRecord};
use crate::registry::Spe;

pub use installation::Installation;
pub use memory::MemoryStore;
pub use sqlite::{SqliteStore, SCHEMA_VERSION};

/// What can go wrong keeping the platform's state.
#[derive(Debug, Error)]
pub enum StoreError {
    #[error("data folder {path}: {source}")]
    Io {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("state database {path}: {source}")]
    Sqlite {
        path: std::path::PathBuf,
        source: rusqlite::Error,
    },
    #[error("the data folder {path} was written by a newer pen-simulator (schema version {found}; this one reads versions up to {supported}): run that version or a later one, or use another --data-dir")]
    NewerSchema {
        path: std::path::PathBuf,
        found: i64,
        supported: i64,
    },
    #[error(
        "the data folder {path} is in use by another pen-simulator (one process per data folder)"
    )]
    InUse { path: std::path::PathBuf },
    #[error("state database {path}: {what} does not read back: {detail}")]
    Corrupt {
        path: std::path::PathBuf,
        what: String,
        detail: String,
    },
    #[error("the durable store could not write and cannot go on: {0}")]
    Unavailable(String),
}

/// How much a durable store's acknowledgement promises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// What the platform acknowledged survives the simulator's process being killed at any
    /// moment (`kill -9`, a crash, the OOM killer): SQLite commits in WAL mode with
    /// `synchronous=NORMAL`, component files are complete before they are renamed into place.
    /// An operating-system crash or a power cut may lose the last acknowledged operations, never
    /// leave a half-written state.
    #[default]
    Process,
    /// Also survives an operating-system crash or power cut: every commit is flushed to the disk
    /// (`synchronous=FULL`), and every component file and its folder before the platform is told
    /// of it. Each acknowledged change then waits for at least one disk flush.
    Machine,
}

/// The operations a critical section may perform. Lists come back in ascending IDT order;
/// `update_*` calls keep every index consistent before they return, so a section reads its own
/// changes.
pub trait Transaction {
    /// The next IDT, never issued before by this installation.
    fn allocate_idt(&mut self) -> Idt;
    /// The next upload ticket, never issued before by this installation.
    fn allocate_ticket(&mut self) -> Ticket;
    /// The next NRE (in `year`), never issued before by this installation.
    fn allocate_nre(&mut self, year: u16) -> Nre;

    fn tramite(&self, idt: Idt) -> Option<&TramiteRecord>;
    /// Every trâmite's IDT.
    fn tramite_ids(&self) -> Vec<Idt>;
    /// Adds a trâmite with what it carries (or replaces one with the same IDT).
    fn insert_tramite(&mut self, record: TramiteRecord, payload: Arc<Payload>);
    /// Changes a trâmite in place; `false` (and nothing called) when there is none.
    fn update_tramite(&mut self, idt: Idt, change: &mut dyn FnMut(&mut TramiteRecord)) -> bool;
    /// What a trâmite carries (its metadata as sent).
    fn payload(&self, idt: Idt) -> Option<Arc<Payload>>;
    /// The trâmites an SPE is sender or recipient of.
    fn tramites_of(&self, spe: &str) -> Vec<Idt>;
    /// The trâmites that wait for an SPE ([`TramiteRecord::pending_for`]).
    fn pending_for(&self, spe: &str) -> Vec<Idt>;
    fn tramites_of_ticket(&self, ticket: Ticket) -> Vec<Idt>;
    fn tramites_of_nre(&self, nre: &Nre) -> Vec<Idt>;
    /// The earliest [`TramiteRecord::idle_deadline`].
    fn next_deadline(&self) -> Option<(OffsetDateTime, Idt)>;
    /// Whether some trâmite received a component with this (base64) hash.
    fn holds_component(&self, hash: &str) -> bool;
    /// The latest change of situação of any trâmite.
    fn latest_change(&self) -> Option<OffsetDateTime>;

    fn nre(&self, nre: &Nre) -> Option<&NreRecord>;
    /// Changes an NRE's record, creating it empty first when there is none.
    fn update_nre(&mut self, nre: &Nre, change: &mut dyn FnMut(&mut NreRecord));
    /// The NREs issued for a protocol.
    fn nres_with_protocolo(&self, protocolo: &str) -> Vec<Nre>;

    fn parts(&self, ticket: Ticket, hash: &str) -> Option<&PartsInProgress>;
    fn add_part(&mut self, ticket: Ticket, hash: &str, range: PartRange);
    /// `false` when there were none.
    fn remove_parts(&mut self, ticket: Ticket, hash: &str) -> bool;
    /// The hashes with parts under a ticket.
    fn parts_of_ticket(&self, ticket: Ticket) -> Vec<String>;
    fn all_parts(&self) -> Vec<(Ticket, String)>;

    /// Keeps an SPE registered through the control plane (the registry itself lives beside the
    /// store; only a durable store has anything to do).
    fn save_spe(&mut self, spe: &Spe);
    /// Forgets every trâmite, NRE and upload in progress (control-plane reset). The counters
    /// and the registered SPEs stay.
    fn clear(&mut self);
}

/// Where the platform keeps its records.
pub trait Store: Send + Sync + std::fmt::Debug {
    /// Runs one critical section and commits what it changed; then runs `committed` on its
    /// result, still inside the section. When the commit fails nothing of the section remains
    /// and `committed` is not called.
    ///
    /// # Errors
    /// The durable store's write failed (the state is what was last committed).
    fn transact<R>(
        &self,
        section: impl FnOnce(&mut dyn Transaction) -> R,
        committed: impl FnOnce(&mut R),
    ) -> Result<R, StoreError>;

    /// The SPEs [`Transaction::save_spe`] kept, to register again at start-up.
    fn saved_spes(&self) -> Vec<Spe>;

    /// Keeps the control plane's active faults and the next fault id.
    ///
    /// # Errors
    /// The durable store's write failed.
    fn save_faults(&self, faults: &[ActiveFault], next_id: u64) -> Result<(), StoreError>;

    /// The faults last kept, with the next fault id.
    fn saved_faults(&self) -> Option<(Vec<ActiveFault>, u64)>;

    /// The journal, with what a durable store kept of it.
    fn open_journal(&self, capacity: usize) -> Journal;
}

/// Either store, chosen at start-up (`--data-dir` or not): what [`crate::platform::Platform`]
/// holds by default.
#[derive(Debug)]
pub enum AnyStore {
    /// Boxed: its records sit inline, the durable store is a pointer.
    Memory(Box<MemoryStore>),
    Sqlite(SqliteStore),
}

impl Default for AnyStore {
    fn default() -> Self {
        AnyStore::Memory(Box::default())
    }
}

impl Store for AnyStore {
    fn transact<R>(
        &self,
        section: impl FnOnce(&mut dyn Transaction) -> R,
        committed: impl FnOnce(&mut R),
    ) -> Result<R, StoreError> {
        match self {
            AnyStore::Memory(s) => s.transact(section, committed),
            AnyStore::Sqlite(s) => s.transact(section, committed),
        }
    }

    fn saved_spes(&self) -> Vec<Spe> {
        match self {
            AnyStore::Memory(s) => s.saved_spes(),
            AnyStore::Sqlite(s) => s.saved_spes(),
        }
    }

    fn save_faults(&self, faults: &[ActiveFault], next_id: u64) -> Result<(), StoreError> {
        match self {
            AnyStore::Memory(s) => s.save_faults(faults, next_id),
            AnyStore::Sqlite(s) => s.save_faults(faults, next_id),
        }
    }

    fn saved_faults(&self) -> Option<(Vec<ActiveFault>, u64)> {
        match self {
            AnyStore::Memory(s) => s.saved_faults(),
            AnyStore::Sqlite(s) => s.saved_faults(),
        }
    }

    fn open_journal(&self, capacity: usize) -> Journal {
        match self {
            AnyStore::Memory(s) => s.open_journal(capacity),
            AnyStore::Sqlite(s) => s.open_journal(capacity),
        }
    }
}

/// The [`Transaction`] operations a store answers from its [`records::Records`] (field
/// `records` of the implementing type): everything but the payloads, the insertion that stores
/// one, and `clear`, which forgets them too.
macro_rules! records_operations {
    () => {
        fn allocate_idt(&mut self) -> Idt {
            self.records.allocate_idt()
        }
        fn allocate_ticket(&mut self) -> Ticket {
            self.records.allocate_ticket()
        }
        fn allocate_nre(&mut self, year: u16) -> Nre {
            self.records.allocate_nre(year)
        }
        fn tramite(&self, idt: Idt) -> Option<&TramiteRecord> {
            self.records.tramite(idt)
        }
        fn tramite_ids(&self) -> Vec<Idt> {
            self.records.tramite_ids()
        }
        fn update_tramite(&mut self, idt: Idt, change: &mut dyn FnMut(&mut TramiteRecord)) -> bool {
            self.records.update_tramite(idt, change)
        }
        fn tramites_of(&self, spe: &str) -> Vec<Idt> {
            self.records.tramites_of(spe)
        }
        fn pending_for(&self, spe: &str) -> Vec<Idt> {
            self.records.pending_for(spe)
        }
        fn tramites_of_ticket(&self, ticket: Ticket) -> Vec<Idt> {
            self.records.tramites_of_ticket(ticket)
        }
        fn tramites_of_nre(&self, nre: &Nre) -> Vec<Idt> {
            self.records.tramites_of_nre(nre)
        }
        fn next_deadline(&self) -> Option<(OffsetDateTime, Idt)> {
            self.records.next_deadline()
        }
        fn holds_component(&self, hash: &str) -> bool {
            self.records.holds_component(hash)
        }
        fn latest_change(&self) -> Option<OffsetDateTime> {
            self.records.latest_change()
        }
        fn nre(&self, nre: &Nre) -> Option<&NreRecord> {
            self.records.nre(nre)
        }
        fn update_nre(&mut self, nre: &Nre, change: &mut dyn FnMut(&mut NreRecord)) {
            self.records.update_nre(nre, change);
        }
        fn nres_with_protocolo(&self, protocolo: &str) -> Vec<Nre> {
            self.records.nres_with_protocolo(protocolo)
        }
        fn parts(&self, ticket: Ticket, hash: &str) -> Option<&PartsInProgress> {
            self.records.parts(ticket, hash)
        }
        fn add_part(&mut self, ticket: Ticket, hash: &str, range: PartRange) {
            self.records.add_part(ticket, hash, range);
        }
        fn remove_parts(&mut self, ticket: Ticket, hash: &str) -> bool {
            self.records.remove_parts(ticket, hash)
        }
        fn parts_of_ticket(&self, ticket: Ticket) -> Vec<String> {
            self.records.parts_of_ticket(ticket)
        }
        fn all_parts(&self) -> Vec<(Ticket, String)> {
            self.records.all_parts()
        }
        fn save_spe(&mut self, spe: &Spe) {
            self.records.save_spe(spe);
        }
    };
}
use records_operations;
