//! The durable store: `DIR/state.sqlite` (SQLite in WAL mode, one process at a time) beside the
//! component files, and `DIR/journal.sqlite` for the journal.
//!
//! Records stay in memory, indexed as in the in-memory store, so that reads cost what they cost
//! there; what a trâmite carries (its metadata) is read from disk when asked for. A section's
//! changes are written in one SQLite transaction, committed before the section ends and before
//! anyone is told: an operation the platform acknowledged is on disk, and one it did not
//! acknowledge left nothing half done. When a write fails, the records go back to what is on
//! disk.
//!
//! Tables hold JSON text keyed by identifier (a record read back is the record written, and an
//! added field only needs a serde default); the schema is versioned (`PRAGMA user_version`)
//! and migrated forward on open, and a folder written by a newer simulator is refused.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use pen_protocol::ids::{Idt, Nre, Ticket};
use pen_protocol::ranges::PartRange;
use rusqlite::{params, Connection, OptionalExtension as _};
use time::OffsetDateTime;

use super::journal::JournalFile;
use super::records::{Changes, Counters, Records};
use super::{records_operations, Durability, Store, StoreError, Transaction};
use crate::faults::ActiveFault;
use crate::journal::Journal;
use crate::platform::state::{NreRecord, PartsInProgress, Payload, TramiteRecord};
use crate::registry::Spe;

/// The schema this simulator writes and the newest it reads.
pub const SCHEMA_VERSION: i64 = 1;

/// Migration `i` takes a database from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    // 0 → 1: the first schema.
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
     CREATE TABLE tramites (idt INTEGER PRIMARY KEY, record TEXT NOT NULL);
     CREATE TABLE payloads (idt INTEGER PRIMARY KEY, payload TEXT NOT NULL);
     CREATE TABLE nres (nre TEXT PRIMARY KEY, record TEXT NOT NULL) WITHOUT ROWID;
     CREATE TABLE parts (ticket INTEGER NOT NULL, hash TEXT NOT NULL, ranges TEXT NOT NULL,
                         PRIMARY KEY (ticket, hash)) WITHOUT ROWID;
     CREATE TABLE spes (id TEXT PRIMARY KEY, spe TEXT NOT NULL) WITHOUT ROWID;
     CREATE TABLE faults (id INTEGER PRIMARY KEY, fault TEXT NOT NULL);",
];

/// The file of the state database inside a data folder.
pub(super) const STATE_FILE: &str = "state.sqlite";

fn sqlite_error(path: &Path) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
    move |source| {
        let busy = matches!(
            source.sqlite_error_code(),
            Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
        );
        if busy {
            StoreError::InUse {
                path: path.parent().unwrap_or(path).to_path_buf(),
            }
        } else {
            StoreError::Sqlite {
                path: path.to_path_buf(),
                source,
            }
        }
    }
}

fn corrupt(path: &Path, what: impl Into<String>, detail: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt {
        path: path.to_path_buf(),
        what: what.into(),
        detail: detail.to_string(),
    }
}

fn key(path: &Path, value: u64) -> Result<i64, StoreError> {
    i64::try_from(value).map_err(|e| corrupt(path, format!("identifier {value}"), e))
}

fn unkey(path: &Path, value: i64) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|e| corrupt(path, format!("identifier {value}"), e))
}

fn to_json<T: serde::Serialize>(path: &Path, what: &str, value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| corrupt(path, what, e))
}

fn from_json<T: serde::de::DeserializeOwned>(
    path: &Path,
    what: impl FnOnce() -> String,
    text: &str,
) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| corrupt(path, what(), e))
}

/// Opens a SQLite file for one process only, in WAL mode, migrated to [`SCHEMA_VERSION`]
/// (`migrations` for this file).
pub(super) fn open_database(
    path: &Path,
    durability: Durability,
    migrations: &[&str],
) -> Result<Connection, StoreError> {
    let fail = sqlite_error(path);
    let mut conn = Connection::open(path).map_err(&fail)?;
    // Exclusive: a second simulator on the same folder would keep its own copy of the records
    // in memory and overwrite this one's; it is refused at its first read instead.
    conn.query_row("PRAGMA locking_mode = EXCLUSIVE", [], |_| Ok(()))
        .map_err(&fail)?;
    let mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
        .map_err(&fail)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(corrupt(
            path,
            "journal_mode",
            format!("WAL refused ({mode})"),
        ));
    }
    let synchronous = match durability {
        Durability::Process => "NORMAL",
        Durability::Machine => "FULL",
    };
    conn.pragma_update(None, "synchronous", synchronous)
        .map_err(&fail)?;
    let supported = i64::try_from(migrations.len()).unwrap_or(i64::MAX);
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(&fail)?;
    let found: i64 = tx
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .map_err(&fail)?;
    if found > supported {
        return Err(StoreError::NewerSchema {
            path: path.parent().unwrap_or(path).to_path_buf(),
            found,
            supported,
        });
    }
    let from = usize::try_from(found).unwrap_or(0);
    for migration in &migrations[from..] {
        tx.execute_batch(migration).map_err(&fail)?;
    }
    tx.pragma_update(None, "user_version", supported)
        .map_err(&fail)?;
    tx.commit().map_err(&fail)?;
    Ok(conn)
}

/// What the state database holds besides the records.
#[derive(Debug, Default)]
struct Extras {
    spes: Vec<Spe>,
    faults: Option<(Vec<ActiveFault>, u64)>,
}

#[derive(Debug)]
struct Inner {
    conn: Connection,
    records: Records,
    /// Set when the records could not be brought back in line with the disk: every later
    /// section is refused rather than answered from a state that is not the one on disk.
    broken: Option<String>,
}

impl Inner {
    /// Reloads the records from disk (after a failed write or a panicked section).
    fn restore(&mut self, path: &Path) {
        match load(&self.conn, path) {
            Ok((records, _)) => self.records = records,
            Err(e) => {
                tracing::error!(error = %e, "the durable store cannot reload its state");
                self.broken = Some(e.to_string());
            }
        }
    }
}

#[derive(Debug)]
struct Shared {
    /// `DIR/state.sqlite`.
    path: PathBuf,
    inner: Mutex<Inner>,
    extras: Mutex<Extras>,
    /// The journal's file until [`Store::open_journal`] takes it.
    journal: Mutex<Option<JournalFile>>,
}

/// The durable store. Clones share it (the faults' persistence holds one).
#[derive(Debug, Clone)]
pub struct SqliteStore {
    shared: Arc<Shared>,
}

impl SqliteStore {
    /// Opens (creating if needed) the state in a data folder.
    ///
    /// # Errors
    /// The folder cannot be created, another process uses it, it was written by a newer
    /// simulator, or what it holds does not read back.
    pub fn open(dir: &Path, durability: Durability) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let path = dir.join(STATE_FILE);
        let conn = open_database(&path, durability, MIGRATIONS)?;
        let (records, extras) = load(&conn, &path)?;
        let journal = JournalFile::open(dir)?;
        Ok(SqliteStore {
            shared: Arc::new(Shared {
                path,
                inner: Mutex::new(Inner {
                    conn,
                    records,
                    broken: None,
                }),
                extras: Mutex::new(extras),
                journal: Mutex::new(Some(journal)),
            }),
        })
    }

    /// Compares the records in memory with a fresh read of the disk (tests: after every
    /// section, what a restart would find is what the platform holds).
    #[cfg(test)]
    pub(crate) fn check_against_disk(&self) -> Result<(), String> {
        let inner = self.shared.inner.lock().map_err(|e| e.to_string())?;
        let (disk, _) = load(&inner.conn, &self.shared.path).map_err(|e| e.to_string())?;
        let (memory, disk) = (inner.records.snapshot(), disk.snapshot());
        if memory == disk {
            Ok(())
        } else {
            Err(format!(
                "memory and disk differ:\nmemory {memory:#?}\ndisk {disk:#?}"
            ))
        }
    }
}

struct SqliteTx<'a> {
    records: &'a mut Records,
    conn: &'a Connection,
    path: &'a Path,
    /// Payloads inserted by this section, not on disk yet.
    new_payloads: Vec<(Idt, Arc<Payload>)>,
    /// The section forgot everything: what is on disk is gone for it.
    cleared: bool,
}

impl Transaction for SqliteTx<'_> {
    records_operations!();

    fn insert_tramite(&mut self, record: TramiteRecord, payload: Arc<Payload>) {
        self.new_payloads.retain(|(idt, _)| *idt != record.idt);
        self.new_payloads.push((record.idt, payload));
        self.records.insert_tramite(record);
    }

    fn payload(&self, idt: Idt) -> Option<Arc<Payload>> {
        if let Some((_, p)) = self.new_payloads.iter().find(|(i, _)| *i == idt) {
            return Some(p.clone());
        }
        if self.cleared || self.records.tramite(idt).is_none() {
            return None;
        }
        match read_payload(self.conn, self.path, idt) {
            Ok(found) => found,
            Err(e) => {
                tracing::error!(error = %e, %idt, "cannot read a trâmite's metadata");
                None
            }
        }
    }

    fn clear(&mut self) {
        self.records.clear();
        self.new_payloads.clear();
        self.cleared = true;
    }
}

fn read_payload(
    conn: &Connection,
    path: &Path,
    idt: Idt,
) -> Result<Option<Arc<Payload>>, StoreError> {
    let fail = sqlite_error(path);
    let mut select = conn
        .prepare_cached("SELECT payload FROM payloads WHERE idt = ?1")
        .map_err(&fail)?;
    let text: Option<String> = select
        .query_row([key(path, idt.0)?], |row| row.get(0))
        .optional()
        .map_err(&fail)?;
    text.map(|t| from_json(path, || format!("the metadata of trâmite {idt}"), &t).map(Arc::new))
        .transpose()
}

impl Store for SqliteStore {
    fn transact<R>(
        &self,
        section: impl FnOnce(&mut dyn Transaction) -> R,
        committed: impl FnOnce(&mut R),
    ) -> Result<R, StoreError> {
        let path = self.shared.path.as_path();
        let mut guard = match self.shared.inner.lock() {
            Ok(guard) => guard,
            Err(poisoned) => {
                // A section panicked: its changes are in memory only. Back to the disk.
                let mut guard = poisoned.into_inner();
                guard.restore(path);
                self.shared.inner.clear_poison();
                guard
            }
        };
        if let Some(why) = &guard.broken {
            return Err(StoreError::Unavailable(why.clone()));
        }
        let inner = &mut *guard;
        let mut tx = SqliteTx {
            records: &mut inner.records,
            conn: &inner.conn,
            path,
            new_payloads: Vec::new(),
            cleared: false,
        };
        let mut out = section(&mut tx);
        let new_payloads = std::mem::take(&mut tx.new_payloads);
        if inner.records.has_changes() || !new_payloads.is_empty() {
            let changes = inner.records.take_changes();
            if let Err(e) = write(
                &mut inner.conn,
                path,
                &inner.records,
                &changes,
                &new_payloads,
            ) {
                tracing::error!(error = %e, "the durable store could not commit; back to the disk");
                inner.restore(path);
                return Err(e);
            }
        }
        committed(&mut out);
        Ok(out)
    }

    fn saved_spes(&self) -> Vec<Spe> {
        self.shared
            .extras
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .spes
            .clone()
    }

    fn save_faults(&self, faults: &[ActiveFault], next_id: u64) -> Result<(), StoreError> {
        let path = self.shared.path.as_path();
        let fail = sqlite_error(path);
        let mut inner = self
            .shared
            .inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(why) = &inner.broken {
            return Err(StoreError::Unavailable(why.clone()));
        }
        let tx = inner.conn.transaction().map_err(&fail)?;
        tx.execute("DELETE FROM faults", []).map_err(&fail)?;
        {
            let mut insert = tx
                .prepare_cached("INSERT INTO faults (id, fault) VALUES (?1, ?2)")
                .map_err(&fail)?;
            for fault in faults {
                insert
                    .execute(params![
                        key(path, fault.id)?,
                        to_json(path, "a fault", fault)?
                    ])
                    .map_err(&fail)?;
            }
        }
        put_meta(&tx, path, "next_fault_id", next_id)?;
        tx.commit().map_err(&fail)?;
        self.shared
            .extras
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .faults = Some((faults.to_vec(), next_id));
        Ok(())
    }

    fn saved_faults(&self) -> Option<(Vec<ActiveFault>, u64)> {
        self.shared
            .extras
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .faults
            .clone()
    }

    fn open_journal(&self, capacity: usize) -> Journal {
        let file = self
            .shared
            .journal
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        match file {
            Some(file) => file.into_journal(capacity),
            // Asked twice: only the first journal is the durable one.
            None => Journal::with_capacity(capacity),
        }
    }
}

fn put_meta(conn: &Connection, path: &Path, name: &str, value: u64) -> Result<(), StoreError> {
    let value = key(path, value)?;
    conn.prepare_cached("INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)")
        .and_then(|mut s| s.execute(params![name, value]))
        .map(|_| ())
        .map_err(sqlite_error(path))
}

fn get_meta(conn: &Connection, path: &Path, name: &str) -> Result<Option<u64>, StoreError> {
    let value: Option<i64> = conn
        .query_row("SELECT value FROM meta WHERE key = ?1", [name], |row| {
            row.get(0)
        })
        .optional()
        .map_err(sqlite_error(path))?;
    value.map(|v| unkey(path, v)).transpose()
}

/// Writes one section's changes in one transaction.
fn write(
    conn: &mut Connection,
    path: &Path,
    records: &Records,
    changes: &Changes,
    payloads: &[(Idt, Arc<Payload>)],
) -> Result<(), StoreError> {
    let fail = sqlite_error(path);
    let tx = conn.transaction().map_err(&fail)?;
    if changes.cleared {
        tx.execute_batch(
            "DELETE FROM tramites; DELETE FROM payloads; DELETE FROM nres; DELETE FROM parts;",
        )
        .map_err(&fail)?;
    }
    {
        let mut put = tx
            .prepare_cached("INSERT OR REPLACE INTO tramites (idt, record) VALUES (?1, ?2)")
            .map_err(&fail)?;
        let mut delete = tx
            .prepare_cached("DELETE FROM tramites WHERE idt = ?1")
            .map_err(&fail)?;
        let mut delete_payload = tx
            .prepare_cached("DELETE FROM payloads WHERE idt = ?1")
            .map_err(&fail)?;
        for idt in &changes.tramites {
            let id = key(path, idt.0)?;
            match records.tramite(*idt) {
                Some(r) => {
                    put.execute(params![id, to_json(path, "a trâmite", r)?])
                        .map_err(&fail)?;
                }
                None => {
                    delete.execute([id]).map_err(&fail)?;
                    delete_payload.execute([id]).map_err(&fail)?;
                }
            }
        }
        let mut put_payload = tx
            .prepare_cached("INSERT OR REPLACE INTO payloads (idt, payload) VALUES (?1, ?2)")
            .map_err(&fail)?;
        for (idt, payload) in payloads {
            if records.tramite(*idt).is_some() {
                put_payload
                    .execute(params![
                        key(path, idt.0)?,
                        to_json(path, "a trâmite's metadata", payload.as_ref())?
                    ])
                    .map_err(&fail)?;
            }
        }
        let mut put_nre = tx
            .prepare_cached("INSERT OR REPLACE INTO nres (nre, record) VALUES (?1, ?2)")
            .map_err(&fail)?;
        let mut delete_nre = tx
            .prepare_cached("DELETE FROM nres WHERE nre = ?1")
            .map_err(&fail)?;
        for nre in &changes.nres {
            match records.nre(nre) {
                Some(r) => {
                    put_nre
                        .execute(params![nre.as_str(), to_json(path, "an NRE", r)?])
                        .map_err(&fail)?;
                }
                None => {
                    delete_nre.execute([nre.as_str()]).map_err(&fail)?;
                }
            }
        }
        let mut put_parts = tx
            .prepare_cached(
                "INSERT OR REPLACE INTO parts (ticket, hash, ranges) VALUES (?1, ?2, ?3)",
            )
            .map_err(&fail)?;
        let mut delete_parts = tx
            .prepare_cached("DELETE FROM parts WHERE ticket = ?1 AND hash = ?2")
            .map_err(&fail)?;
        for (ticket, hash) in &changes.parts {
            let t = key(path, ticket.0)?;
            match records.parts(*ticket, hash) {
                Some(p) => {
                    put_parts
                        .execute(params![t, hash, to_json(path, "parts", &p.ranges)?])
                        .map_err(&fail)?;
                }
                None => {
                    delete_parts.execute(params![t, hash]).map_err(&fail)?;
                }
            }
        }
        let mut put_spe = tx
            .prepare_cached("INSERT OR REPLACE INTO spes (id, spe) VALUES (?1, ?2)")
            .map_err(&fail)?;
        for spe in &changes.spes {
            put_spe
                .execute(params![spe.id, to_json(path, "an SPE", spe)?])
                .map_err(&fail)?;
        }
    }
    if changes.counters {
        let c = records.counters;
        put_meta(&tx, path, "next_idt", c.next_idt)?;
        put_meta(&tx, path, "next_ticket", c.next_ticket)?;
        put_meta(&tx, path, "next_nre", c.next_nre)?;
    }
    tx.commit().map_err(&fail)
}

/// Reads every record (indexes rebuilt as they are inserted) and the extras.
fn load(conn: &Connection, path: &Path) -> Result<(Records, Extras), StoreError> {
    let fail = sqlite_error(path);
    let mut records = Records::logged();
    let defaults = Counters::default();
    records.counters = Counters {
        next_idt: get_meta(conn, path, "next_idt")?.unwrap_or(defaults.next_idt),
        next_ticket: get_meta(conn, path, "next_ticket")?.unwrap_or(defaults.next_ticket),
        next_nre: get_meta(conn, path, "next_nre")?.unwrap_or(defaults.next_nre),
    };
    // The same certificate signs every recibo of a recipient: one copy in memory for all.
    let mut certificates: HashMap<Arc<[u8]>, Arc<[u8]>> = HashMap::new();
    {
        let mut select = conn
            .prepare("SELECT idt, record FROM tramites ORDER BY idt")
            .map_err(&fail)?;
        let mut rows = select.query([]).map_err(&fail)?;
        while let Some(row) = rows.next().map_err(&fail)? {
            let idt: i64 = row.get(0).map_err(&fail)?;
            let text: String = row.get(1).map_err(&fail)?;
            let mut record: TramiteRecord = from_json(path, || format!("trâmite {idt}"), &text)?;
            if let Some(recibo) = record.recibo.as_mut() {
                let shared = certificates
                    .entry(recibo.certificate_der.clone())
                    .or_insert_with(|| recibo.certificate_der.clone());
                recibo.certificate_der = shared.clone();
            }
            records.insert_tramite(record);
        }
    }
    {
        let mut select = conn
            .prepare("SELECT nre, record FROM nres")
            .map_err(&fail)?;
        let mut rows = select.query([]).map_err(&fail)?;
        while let Some(row) = rows.next().map_err(&fail)? {
            let nre: String = row.get(0).map_err(&fail)?;
            let text: String = row.get(1).map_err(&fail)?;
            let parsed = Nre::parse(&nre).map_err(|e| corrupt(path, format!("NRE {nre}"), e))?;
            let record: NreRecord = from_json(path, || format!("NRE {nre}"), &text)?;
            records.insert_nre(parsed, record);
        }
    }
    {
        let mut select = conn
            .prepare("SELECT ticket, hash, ranges FROM parts")
            .map_err(&fail)?;
        let mut rows = select.query([]).map_err(&fail)?;
        while let Some(row) = rows.next().map_err(&fail)? {
            let ticket: i64 = row.get(0).map_err(&fail)?;
            let hash: String = row.get(1).map_err(&fail)?;
            let text: String = row.get(2).map_err(&fail)?;
            let ranges: Vec<PartRange> =
                from_json(path, || format!("the parts of ticket {ticket}"), &text)?;
            records.insert_parts(
                Ticket(unkey(path, ticket)?),
                &hash,
                PartsInProgress { ranges },
            );
        }
    }
    // What was just read is on disk already.
    records.take_changes();
    let mut extras = Extras::default();
    {
        let mut select = conn.prepare("SELECT id, spe FROM spes").map_err(&fail)?;
        let mut rows = select.query([]).map_err(&fail)?;
        while let Some(row) = rows.next().map_err(&fail)? {
            let id: String = row.get(0).map_err(&fail)?;
            let text: String = row.get(1).map_err(&fail)?;
            extras
                .spes
                .push(from_json(path, || format!("SPE {id}"), &text)?);
        }
    }
    if let Some(next_id) = get_meta(conn, path, "next_fault_id")? {
        let mut faults = Vec::new();
        let mut select = conn
            .prepare("SELECT id, fault FROM faults ORDER BY id")
            .map_err(&fail)?;
        let mut rows = select.query([]).map_err(&fail)?;
        while let Some(row) = rows.next().map_err(&fail)? {
            let id: i64 = row.get(0).map_err(&fail)?;
            let text: String = row.get(1).map_err(&fail)?;
            faults.push(from_json(path, || format!("fault {id}"), &text)?);
        }
        extras.faults = Some((faults, next_id));
    }
    Ok((records, extras))
}
