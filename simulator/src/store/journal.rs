//! The durable journal: `DIR/journal.sqlite`, written behind by a thread of its own.
//!
//! Every request is journalled, so a disk write per entry inside the request would cost every
//! client; entries are handed to a writer thread instead, which writes them in batches (one
//! transaction for whatever arrived meanwhile) and keeps the newest `capacity`. A clean stop
//! writes everything; a `kill -9` can lose the entries of the last moments before it — never a
//! trâmite's history, which the state database keeps with the trâmite.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Mutex, PoisonError};
use std::thread::JoinHandle;

use rusqlite::{params, Connection, OptionalExtension as _};

use super::sqlite::open_database;
use super::{Durability, StoreError};
use crate::journal::{Entry, Journal, JournalBacking};

/// Migration `i` takes the journal's database from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    // 0 → 1: the first schema.
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
     CREATE TABLE entries (seq INTEGER PRIMARY KEY, entry TEXT NOT NULL);",
];

/// The largest batch one transaction writes.
const BATCH: usize = 4096;

/// The journal's database as opened, before the journal takes it over.
#[derive(Debug)]
pub(super) struct JournalFile {
    conn: Connection,
    path: PathBuf,
    entries: Vec<Entry>,
    next_seq: u64,
    dropped: u64,
}

fn fail(path: &Path) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
    move |source| StoreError::Sqlite {
        path: path.to_path_buf(),
        source,
    }
}

fn meta(conn: &Connection, name: &str) -> rusqlite::Result<Option<u64>> {
    let value: Option<i64> = conn
        .query_row("SELECT value FROM meta WHERE key = ?1", [name], |row| {
            row.get(0)
        })
        .optional()?;
    Ok(value.and_then(|v| u64::try_from(v).ok()))
}

impl JournalFile {
    /// Opens the journal's database and reads what it kept.
    ///
    /// # Errors
    /// As the state database ([`super::SqliteStore::open`]).
    pub(super) fn open(dir: &Path) -> Result<Self, StoreError> {
        let path = dir.join("journal.sqlite");
        // Written behind whatever the state's durability: the journal is evidence, the state
        // is the platform.
        let conn = open_database(&path, Durability::Process, MIGRATIONS)?;
        let fail = fail(&path);
        let next_seq = meta(&conn, "next_seq").map_err(&fail)?.unwrap_or(1);
        let dropped = meta(&conn, "dropped").map_err(&fail)?.unwrap_or(0);
        let mut entries = Vec::new();
        {
            let mut select = conn
                .prepare("SELECT seq, entry FROM entries ORDER BY seq")
                .map_err(&fail)?;
            let mut rows = select.query([]).map_err(&fail)?;
            while let Some(row) = rows.next().map_err(&fail)? {
                let seq: i64 = row.get(0).map_err(&fail)?;
                let text: String = row.get(1).map_err(&fail)?;
                let entry: Entry =
                    serde_json::from_str(&text).map_err(|e| StoreError::Corrupt {
                        path: path.clone(),
                        what: format!("journal entry {seq}"),
                        detail: e.to_string(),
                    })?;
                entries.push(entry);
            }
        }
        drop(fail);
        Ok(JournalFile {
            conn,
            path,
            entries,
            next_seq,
            dropped,
        })
    }

    /// The journal, going on from what the file kept, with a writer thread behind it.
    pub(super) fn into_journal(self, capacity: usize) -> Journal {
        let JournalFile {
            conn,
            path,
            entries,
            next_seq,
            dropped,
        } = self;
        let (sender, receiver) = mpsc::channel();
        let capacity = capacity.max(1);
        let writer = std::thread::Builder::new()
            .name("pen-journal".to_owned())
            .spawn(move || write_behind(conn, &path, capacity, dropped, &receiver));
        let thread = match writer {
            Ok(thread) => Some(thread),
            Err(e) => {
                tracing::error!(error = %e, "cannot start the journal's writer; the journal will not be kept");
                None
            }
        };
        Journal::restored(
            capacity,
            entries,
            next_seq,
            dropped,
            Box::new(Writer {
                sender,
                thread: Mutex::new(thread),
            }),
        )
    }
}

enum Message {
    Append(Box<Entry>),
    Clear,
}

/// Hands entries to the writer thread; dropped, lets it write what it has and waits for it.
struct Writer {
    sender: mpsc::Sender<Message>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer").finish_non_exhaustive()
    }
}

impl JournalBacking for Writer {
    fn appended(&self, entry: &Entry) {
        // The writer only goes away with this sender; a send fails only if it died, and then
        // the journal goes on in memory.
        let _ = self.sender.send(Message::Append(Box::new(entry.clone())));
    }

    fn cleared(&self) {
        let _ = self.sender.send(Message::Clear);
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        // Closing the channel ends the writer's loop once it has written what is queued.
        let (closed, _) = mpsc::channel();
        drop(std::mem::replace(&mut self.sender, closed));
        let thread = self
            .thread
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(thread) = thread {
            let _ = thread.join();
        }
    }
}

fn write_behind(
    mut conn: Connection,
    path: &Path,
    capacity: usize,
    mut dropped: u64,
    receiver: &mpsc::Receiver<Message>,
) {
    while let Ok(first) = receiver.recv() {
        let mut batch = vec![first];
        while batch.len() < BATCH {
            match receiver.try_recv() {
                Ok(message) => batch.push(message),
                Err(_) => break,
            }
        }
        if let Err(e) = write_batch(&mut conn, &batch, capacity, &mut dropped) {
            tracing::error!(error = %e, path = %path.display(), "cannot write journal entries");
        }
    }
}

fn write_batch(
    conn: &mut Connection,
    batch: &[Message],
    capacity: usize,
    dropped: &mut u64,
) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    let mut last_seq = None;
    {
        let mut insert =
            tx.prepare_cached("INSERT OR REPLACE INTO entries (seq, entry) VALUES (?1, ?2)")?;
        for message in batch {
            match message {
                Message::Append(entry) => {
                    let Ok(text) = serde_json::to_string(entry) else {
                        continue;
                    };
                    let seq = i64::try_from(entry.seq).unwrap_or(i64::MAX);
                    insert.execute(params![seq, text])?;
                    last_seq = Some(entry.seq);
                }
                Message::Clear => {
                    tx.execute("DELETE FROM entries", [])?;
                    *dropped = 0;
                }
            }
        }
    }
    if let Some(last) = last_seq {
        let keep_from = last.saturating_sub(u64::try_from(capacity).unwrap_or(u64::MAX));
        if keep_from > 0 {
            let trimmed = tx.execute(
                "DELETE FROM entries WHERE seq <= ?1",
                [i64::try_from(keep_from).unwrap_or(i64::MAX)],
            )?;
            *dropped += u64::try_from(trimmed).unwrap_or(0);
        }
        let mut put =
            tx.prepare_cached("INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)")?;
        put.execute(params![
            "next_seq",
            i64::try_from(last + 1).unwrap_or(i64::MAX)
        ])?;
        put.execute(params![
            "dropped",
            i64::try_from(*dropped).unwrap_or(i64::MAX)
        ])?;
    } else {
        tx.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('dropped', ?1)",
            [i64::try_from(*dropped).unwrap_or(i64::MAX)],
        )?;
    }
    tx.commit()
}
