//! What every party did: each request (who, what, answer, time taken, error code), each change
//! of situação (which trâmite, from, to, caused by whom), each refused TLS handshake.
//!
//! The journal is bounded: past its capacity the oldest entries are dropped and counted, so a
//! long load test cannot exhaust memory. Entries are numbered; [`Journal::wait_for`] waits for the
//! first entry after a given number that matches a predicate, waking on every append (no lost
//! wake-ups: it subscribes before it looks).

use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use pen_protocol::ids::Idt;
use pen_protocol::situacao::{Actor, Situacao};
use serde::Serialize;
use time::OffsetDateTime;
use tokio::sync::watch;

/// Default number of entries kept.
pub const DEFAULT_CAPACITY: usize = 100_000;

/// One thing that happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Event {
    /// An HTTP request and its answer.
    Request {
        /// The SPE of the client certificate, if registered.
        spe: Option<String>,
        /// The certificate's common name.
        common_name: String,
        method: String,
        path: String,
        status: u16,
        duration_micros: u64,
        /// `codigoErro` of an error answer.
        error_code: Option<String>,
    },
    /// A trâmite changed situação.
    StateChange {
        idt: Idt,
        from: Situacao,
        to: Situacao,
        actor: ActorName,
        /// The SPE that caused it (none for the platform's own timers).
        spe: Option<String>,
    },
    /// A connection that never got past the TLS handshake.
    HandshakeRefused { peer: String, reason: String },
}

/// [`Actor`] as the journal writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ActorName {
    Sender,
    Recipient,
    Platform,
}

impl From<Actor> for ActorName {
    fn from(actor: Actor) -> Self {
        match actor {
            Actor::Sender => ActorName::Sender,
            Actor::Recipient => ActorName::Recipient,
            Actor::Platform => ActorName::Platform,
        }
    }
}

/// A numbered, timestamped event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    pub seq: u64,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    #[serde(flatten)]
    pub event: Event,
}

#[derive(Debug)]
struct Inner {
    entries: VecDeque<Entry>,
    next_seq: u64,
    dropped: u64,
}

/// The bounded journal.
#[derive(Debug)]
pub struct Journal {
    /// A std mutex: appends and scans are short and never span an `.await`.
    inner: Mutex<Inner>,
    capacity: usize,
    /// The number of the last entry appended; waiters watch it.
    appended: watch::Sender<u64>,
}

/// A page of the journal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Page {
    pub entries: Vec<Entry>,
    /// Entries dropped so far because the journal was full.
    pub dropped: u64,
    /// Entries ever appended.
    pub total: u64,
}

impl Default for Journal {
    fn default() -> Self {
        Journal::with_capacity(DEFAULT_CAPACITY)
    }
}

impl Journal {
    #[must_use]
    pub fn with_capacity(capacity: usize) -> Self {
        Journal {
            inner: Mutex::new(Inner {
                entries: VecDeque::new(),
                next_seq: 1,
                dropped: 0,
            }),
            capacity: capacity.max(1),
            appended: watch::channel(0).0,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Appends an event and wakes every waiter; returns its number.
    pub fn record(&self, at: OffsetDateTime, event: Event) -> u64 {
        let seq = {
            let mut inner = self.lock();
            let seq = inner.next_seq;
            inner.next_seq += 1;
            if inner.entries.len() == self.capacity {
                inner.entries.pop_front();
                inner.dropped += 1;
            }
            inner.entries.push_back(Entry { seq, at, event });
            seq
        };
        self.appended.send_replace(seq);
        seq
    }

    /// Entries with a number above `after` that match `filter`, at most `limit`.
    pub fn since(&self, after: u64, limit: usize, filter: impl Fn(&Entry) -> bool) -> Page {
        let inner = self.lock();
        Page {
            entries: inner
                .entries
                .iter()
                .filter(|e| e.seq > after && filter(e))
                .take(limit)
                .cloned()
                .collect(),
            dropped: inner.dropped,
            total: inner.next_seq - 1,
        }
    }

    /// The number of the last entry (0 when empty).
    #[must_use]
    pub fn last_seq(&self) -> u64 {
        *self.appended.borrow()
    }

    /// Empties the journal (control-plane reset); numbering goes on.
    pub fn clear(&self) {
        let mut inner = self.lock();
        inner.entries.clear();
        inner.dropped = 0;
    }

    /// The first entry after `after` that matches, as soon as it is appended; `None` when
    /// `timeout` (real time) passes first.
    pub async fn wait_for(
        &self,
        after: u64,
        timeout: Duration,
        filter: impl Fn(&Entry) -> bool,
    ) -> Option<Entry> {
        let mut appended = self.appended.subscribe();
        let deadline = tokio::time::Instant::now() + timeout;
        let mut cursor = after;
        loop {
            appended.mark_unchanged();
            let page = self.since(cursor, usize::MAX, &filter);
            if let Some(found) = page.entries.into_iter().next() {
                return Some(found);
            }
            cursor = cursor.max(page.total);
            match tokio::time::timeout_at(deadline, appended.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) | Err(_) => return None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn change(idt: u64) -> Event {
        Event::StateChange {
            idt: Idt(idt),
            from: Situacao::Iniciado,
            to: Situacao::ComponentesEnviadosRemetente,
            actor: ActorName::Platform,
            spe: None,
        }
    }

    #[test]
    fn bounded_with_dropped_count() {
        let journal = Journal::with_capacity(3);
        for i in 0..5 {
            journal.record(datetime!(2025-06-01 13:00 UTC), change(i));
        }
        let page = journal.since(0, 10, |_| true);
        assert_eq!(
            page.entries.iter().map(|e| e.seq).collect::<Vec<_>>(),
            [3, 4, 5]
        );
        assert_eq!((page.dropped, page.total), (2, 5));
        let json = serde_json::to_value(&page.entries[0]).unwrap();
        assert_eq!(json["kind"], "state_change");
        assert_eq!(json["to"], 2);
    }

    #[tokio::test]
    async fn wait_for_sees_entries_appended_later_and_times_out_otherwise() {
        let journal = std::sync::Arc::new(Journal::default());
        let waiter = {
            let journal = journal.clone();
            tokio::spawn(async move {
                journal
                    .wait_for(0, Duration::from_secs(10), |e| {
                        matches!(e.event, Event::StateChange { idt: Idt(7), .. })
                    })
                    .await
            })
        };
        journal.record(datetime!(2025-06-01 13:00 UTC), change(6));
        journal.record(datetime!(2025-06-01 13:00 UTC), change(7));
        let found = waiter.await.unwrap().expect("the entry arrives");
        assert_eq!(found.seq, 2);
        let none = journal
            .wait_for(2, Duration::from_millis(20), |_| true)
            .await;
        assert!(none.is_none());
    }
}
