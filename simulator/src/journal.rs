//! What every party did: each request (who, which [`Operation`], answer, time taken, error code,
//! the component it named, the fault that answered it), each change of situação (which trâmite,
//! from, to, caused by whom), each refused TLS handshake.
//!
//! Entries carry the platform's clock (`at`, which a test or the harness may hold still) and the
//! wall clock (`wall_at`), so that evidence read by a person shows real order and pace. Every
//! type here serialises and deserialises: the control plane serves them and its typed client
//! ([`crate::control_client`]) reads them back.
//!
//! The journal is bounded: past its capacity the oldest entries are dropped and counted, so a
//! long load test cannot exhaust memory. Entries are numbered; [`Journal::wait_for`] waits for the
//! first entry after a given number that matches a predicate, waking on every append (no lost
//! wake-ups: it subscribes before it looks).

use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use pen_protocol::ids::{Idt, Ticket};
use pen_protocol::ranges::PartRange;
use pen_protocol::situacao::{Actor, Situacao};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use tokio::sync::watch;

/// Default number of entries kept.
pub const DEFAULT_CAPACITY: usize = 100_000;

/// One thing that happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
        /// What the request asked for, read from its method and path.
        operation: Operation,
        status: u16,
        duration_micros: u64,
        /// `codigoErro` of an error answer.
        error_code: Option<String>,
        /// The component a download named in its body (hash and protocolo).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        component: Option<ComponentRef>,
        /// The control-plane fault that answered the request instead of the platform
        /// (`error`, `feed_outage`, `drop_connection`), or that changed its answer.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        fault: Option<String>,
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
    /// An SPE opened a long-poll of its pending feed and waits (up to `seconds`); the request
    /// itself is journalled when it answers.
    Waiting {
        spe: String,
        operation: Operation,
        seconds: u64,
    },
}

/// A component named by a request: `IdentificacaoDeComponente`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComponentRef {
    pub hash: String,
    pub protocolo: String,
}

/// What a REST request asked the platform to do: the route it matched, with the identifiers in
/// its path. Read from the method and the path alone, so that the journal can say it of any
/// request, answered or refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Operation {
    Healthcheck,
    /// Structures, repositories, espécies, hipóteses, motivos de urgência.
    Catalogue,
    /// `POST tramites/processo`.
    OpenProcesso,
    /// `POST tramites/documento`.
    OpenDocumento,
    /// `PUT tickets-de-envio-de-componente/{ticket}/protocolos/componentes-a-enviar`.
    UploadWhole {
        ticket: Ticket,
    },
    /// `PUT …/componentes-a-enviar/partes/{range}`.
    UploadPart {
        ticket: Ticket,
        range: PartRange,
    },
    /// `POST …/partes/sinalizacao-termino-envio`.
    FinishParts {
        ticket: Ticket,
    },
    /// `GET tramites/pendentes`.
    Pendentes,
    /// The long-poll host (`/interoperabilidade/pendencias`).
    LongPoll,
    /// `GET tramites` (search).
    Search,
    /// `GET tramites/{idt}`.
    Metadados {
        idt: Idt,
    },
    /// `DELETE tramites/{idt}`.
    Cancel {
        idt: Idt,
    },
    /// `POST tramites/{idt}/protocolos/componentes-digitais`.
    DownloadWhole {
        idt: Idt,
    },
    /// `POST …/componentes-digitais/partes/{range}`.
    DownloadPart {
        idt: Idt,
        range: PartRange,
    },
    /// `GET tramites/{idt}/recibo-de-envio`.
    ReciboDeEnvio {
        idt: Idt,
    },
    /// `GET tramites/{idt}/recibo`.
    GetRecibo {
        idt: Idt,
    },
    /// `POST tramites/{idt}/recibo`.
    PostRecibo {
        idt: Idt,
    },
    /// `POST tramites/{idt}/recusa`.
    Recusa {
        idt: Idt,
    },
    /// `GET tramites/{idt}/ciencia`.
    Ciencia {
        idt: Idt,
    },
    /// `POST NREs/{nre}/destinatarios/…/reproducoes-de-tramite`.
    Reproducao {
        nre: String,
    },
    /// Anything else (an unknown route, a malformed identifier).
    Other,
}

impl Operation {
    /// The operation of a request, from its method and (slash-collapsed) path.
    #[must_use]
    pub fn classify(method: &str, path: &str) -> Operation {
        let long_poll = crate::http::LONG_POLL_PATH;
        if path == long_poll || path.strip_prefix(long_poll) == Some("/") {
            return Operation::LongPoll;
        }
        let Some(rest) = path.strip_prefix(pen_protocol::BASE_PATH) else {
            return Operation::Other;
        };
        let segments: Vec<&str> = rest.trim_end_matches('/').split('/').collect();
        let idt = |s: &str| s.parse::<Idt>().ok();
        let ticket = |s: &str| s.parse::<Ticket>().ok();
        let range = |s: &str| s.parse::<PartRange>().ok();
        let found = match (method, segments.as_slice()) {
            ("GET", ["healthcheck"]) => Some(Operation::Healthcheck),
            (
                "GET",
                ["repositorios-de-estruturas", ..] | ["motivosUrgencia" | "especies" | "hipoteses"],
            ) => Some(Operation::Catalogue),
            ("POST", ["tramites", "processo"]) => Some(Operation::OpenProcesso),
            ("POST", ["tramites", "documento"]) => Some(Operation::OpenDocumento),
            ("GET", ["tramites", "pendentes"]) => Some(Operation::Pendentes),
            ("GET", ["tramites"]) => Some(Operation::Search),
            (
                "PUT",
                ["tickets-de-envio-de-componente", t, "protocolos", "componentes-a-enviar"],
            ) => ticket(t).map(|ticket| Operation::UploadWhole { ticket }),
            (
                "POST",
                ["tickets-de-envio-de-componente", t, "protocolos", "componentes-a-enviar", "partes", "sinalizacao-termino-envio"],
            ) => ticket(t).map(|ticket| Operation::FinishParts { ticket }),
            (
                "PUT",
                ["tickets-de-envio-de-componente", t, "protocolos", "componentes-a-enviar", "partes", r],
            ) => ticket(t)
                .zip(range(r))
                .map(|(ticket, range)| Operation::UploadPart { ticket, range }),
            ("GET", ["tramites", i]) => idt(i).map(|idt| Operation::Metadados { idt }),
            ("DELETE", ["tramites", i]) => idt(i).map(|idt| Operation::Cancel { idt }),
            ("POST", ["tramites", i, "protocolos", "componentes-digitais"]) => {
                idt(i).map(|idt| Operation::DownloadWhole { idt })
            }
            ("POST", ["tramites", i, "protocolos", "componentes-digitais", "partes", r]) => idt(i)
                .zip(range(r))
                .map(|(idt, range)| Operation::DownloadPart { idt, range }),
            ("GET", ["tramites", i, "recibo-de-envio"]) => {
                idt(i).map(|idt| Operation::ReciboDeEnvio { idt })
            }
            ("GET", ["tramites", i, "recibo"]) => idt(i).map(|idt| Operation::GetRecibo { idt }),
            ("POST", ["tramites", i, "recibo"]) => idt(i).map(|idt| Operation::PostRecibo { idt }),
            ("POST", ["tramites", i, "recusa"]) => idt(i).map(|idt| Operation::Recusa { idt }),
            ("GET", ["tramites", i, "ciencia"]) => idt(i).map(|idt| Operation::Ciencia { idt }),
            ("POST", ["NREs", nre, "destinatarios", _, _, "reproducoes-de-tramite"]) => {
                Some(Operation::Reproducao {
                    nre: (*nre).to_owned(),
                })
            }
            _ => None,
        };
        found.unwrap_or(Operation::Other)
    }

    /// The trâmite named in the path.
    #[must_use]
    pub fn idt(&self) -> Option<Idt> {
        match self {
            Operation::Metadados { idt }
            | Operation::Cancel { idt }
            | Operation::DownloadWhole { idt }
            | Operation::DownloadPart { idt, .. }
            | Operation::ReciboDeEnvio { idt }
            | Operation::GetRecibo { idt }
            | Operation::PostRecibo { idt }
            | Operation::Recusa { idt }
            | Operation::Ciencia { idt } => Some(*idt),
            _ => None,
        }
    }

    /// The upload ticket named in the path.
    #[must_use]
    pub fn ticket(&self) -> Option<Ticket> {
        match self {
            Operation::UploadWhole { ticket }
            | Operation::UploadPart { ticket, .. }
            | Operation::FinishParts { ticket } => Some(*ticket),
            _ => None,
        }
    }

    /// The part of a part upload or download.
    #[must_use]
    pub fn range(&self) -> Option<PartRange> {
        match self {
            Operation::UploadPart { range, .. } | Operation::DownloadPart { range, .. } => {
                Some(*range)
            }
            _ => None,
        }
    }

    /// A component download, whole or in part.
    #[must_use]
    pub fn is_download(&self) -> bool {
        matches!(
            self,
            Operation::DownloadWhole { .. } | Operation::DownloadPart { .. }
        )
    }

    /// Opening a trâmite (process or document).
    #[must_use]
    pub fn is_open(&self) -> bool {
        matches!(self, Operation::OpenProcesso | Operation::OpenDocumento)
    }
}

/// [`Actor`] as the journal writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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

/// Which entries a journal query or wait asks for (the control plane's query parameters).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalQuery {
    /// `request`, `state_change`, `handshake_refused` or `waiting`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spe: Option<String>,
    /// The trâmite of a state change, or the one a request's path names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idt: Option<u64>,
    /// Situação reached (state changes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<u8>,
    /// `codigoErro` (requests).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// Only entries numbered above this.
    #[serde(default)]
    pub after: u64,
    /// At most this many entries (journal; default 1000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<usize>,
    /// How long a wait may take, in milliseconds (wait; default 30 000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
}

impl JournalQuery {
    /// Whether an entry is one the query asks for (`after`, `limit` and `timeout_ms` aside).
    #[must_use]
    pub fn matches(&self, entry: &Entry) -> bool {
        let (kind, spe, idt, to, code) = match &entry.event {
            Event::Request {
                spe,
                error_code,
                operation,
                ..
            } => (
                "request",
                spe.as_deref(),
                operation.idt().map(|i| i.0),
                None,
                error_code.as_deref(),
            ),
            Event::StateChange { idt, to, spe, .. } => (
                "state_change",
                spe.as_deref(),
                Some(idt.0),
                Some(to.code()),
                None,
            ),
            Event::HandshakeRefused { .. } => ("handshake_refused", None, None, None, None),
            Event::Waiting { spe, .. } => ("waiting", Some(spe.as_str()), None, None, None),
        };
        self.kind.as_deref().is_none_or(|k| k == kind)
            && self.spe.as_deref().is_none_or(|s| Some(s) == spe)
            && self.idt.is_none_or(|i| Some(i) == idt)
            && self.to.is_none_or(|t| Some(t) == to)
            && self.error_code.as_deref().is_none_or(|c| Some(c) == code)
    }
}

/// A numbered, timestamped event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub seq: u64,
    /// The platform's clock (manual in the harness and in tests).
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// The wall clock when the entry was recorded.
    #[serde(with = "time::serde::rfc3339")]
    pub wall_at: OffsetDateTime,
    #[serde(flatten)]
    pub event: Event,
}

#[derive(Debug)]
struct Inner {
    entries: VecDeque<Entry>,
    next_seq: u64,
    dropped: u64,
}

/// Where a durable journal's entries go as they are recorded (`serve --data-dir`): told of
/// every entry, in order, under the journal's lock, so it must only hand them on (a channel to a
/// writer), never wait for a disk.
pub trait JournalBacking: Send + Sync + std::fmt::Debug {
    /// An entry was appended.
    fn appended(&self, entry: &Entry);
    /// The journal was emptied (its numbering goes on).
    fn cleared(&self);
}

/// The bounded journal.
#[derive(Debug)]
pub struct Journal {
    /// A std mutex: appends and scans are short and never span an `.await`.
    inner: Mutex<Inner>,
    capacity: usize,
    /// The number of the last entry appended; waiters watch it.
    appended: watch::Sender<u64>,
    /// Where a durable journal keeps its entries.
    backing: Option<Box<dyn JournalBacking>>,
}

/// A page of the journal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
            backing: None,
        }
    }

    /// A journal that goes on from what a durable one kept: its newest `entries` (at most
    /// `capacity` are kept), numbering from `next_seq`, `dropped` as counted so far, and every
    /// later entry handed to `backing`.
    #[must_use]
    pub fn restored(
        capacity: usize,
        entries: Vec<Entry>,
        next_seq: u64,
        dropped: u64,
        backing: Box<dyn JournalBacking>,
    ) -> Self {
        let capacity = capacity.max(1);
        let next_seq = entries
            .iter()
            .map(|e| e.seq + 1)
            .max()
            .unwrap_or(1)
            .max(next_seq)
            .max(1);
        let mut entries = VecDeque::from(entries);
        let mut dropped = dropped;
        while entries.len() > capacity {
            entries.pop_front();
            dropped += 1;
        }
        Journal {
            inner: Mutex::new(Inner {
                entries,
                next_seq,
                dropped,
            }),
            capacity,
            appended: watch::channel(next_seq - 1).0,
            backing: Some(backing),
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
            let entry = Entry {
                seq,
                at,
                wall_at: OffsetDateTime::now_utc(),
                event,
            };
            if let Some(backing) = &self.backing {
                backing.appended(&entry);
            }
            inner.entries.push_back(entry);
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
        if let Some(backing) = &self.backing {
            backing.cleared();
        }
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

    /// The method and path of an operation, as a client would send it.
    fn request_of(op: &Operation) -> (&'static str, String) {
        let b = pen_protocol::BASE_PATH;
        match op {
            Operation::Healthcheck => ("GET", format!("{b}healthcheck")),
            Operation::Catalogue => ("GET", format!("{b}especies")),
            Operation::OpenProcesso => ("POST", format!("{b}tramites/processo")),
            Operation::OpenDocumento => ("POST", format!("{b}tramites/documento")),
            Operation::UploadWhole { ticket } => (
                "PUT",
                format!("{b}tickets-de-envio-de-componente/{ticket}/protocolos/componentes-a-enviar"),
            ),
            Operation::UploadPart { ticket, range } => (
                "PUT",
                format!("{b}tickets-de-envio-de-componente/{ticket}/protocolos/componentes-a-enviar/partes/{range}"),
            ),
            Operation::FinishParts { ticket } => (
                "POST",
                format!("{b}tickets-de-envio-de-componente/{ticket}/protocolos/componentes-a-enviar/partes/sinalizacao-termino-envio"),
            ),
            Operation::Pendentes => ("GET", format!("{b}tramites/pendentes")),
            Operation::LongPoll => ("GET", "/interoperabilidade/pendencias/".to_owned()),
            Operation::Search => ("GET", format!("{b}tramites")),
            Operation::Metadados { idt } => ("GET", format!("{b}tramites/{idt}")),
            Operation::Cancel { idt } => ("DELETE", format!("{b}tramites/{idt}")),
            Operation::DownloadWhole { idt } => (
                "POST",
                format!("{b}tramites/{idt}/protocolos/componentes-digitais"),
            ),
            Operation::DownloadPart { idt, range } => (
                "POST",
                format!("{b}tramites/{idt}/protocolos/componentes-digitais/partes/{range}"),
            ),
            Operation::ReciboDeEnvio { idt } => ("GET", format!("{b}tramites/{idt}/recibo-de-envio")),
            Operation::GetRecibo { idt } => ("GET", format!("{b}tramites/{idt}/recibo")),
            Operation::PostRecibo { idt } => ("POST", format!("{b}tramites/{idt}/recibo")),
            Operation::Recusa { idt } => ("POST", format!("{b}tramites/{idt}/recusa")),
            Operation::Ciencia { idt } => ("GET", format!("{b}tramites/{idt}/ciencia")),
            Operation::Reproducao { nre } => (
                "POST",
                format!("{b}NREs/{nre}/destinatarios/1/159098/reproducoes-de-tramite"),
            ),
            Operation::Other => ("GET", "/outra/coisa".to_owned()),
        }
    }

    fn operation() -> impl proptest::strategy::Strategy<Value = Operation> {
        use proptest::prelude::*;
        let idt = (1u64..u64::MAX).prop_map(Idt);
        let ticket = (1u64..u64::MAX).prop_map(Ticket);
        let range = (0u64..1 << 40, 0u64..1 << 40)
            .prop_map(|(a, n)| PartRange::new(a, a + n).expect("fim ≥ início"));
        prop_oneof![
            Just(Operation::Healthcheck),
            Just(Operation::Catalogue),
            Just(Operation::OpenProcesso),
            Just(Operation::OpenDocumento),
            ticket
                .clone()
                .prop_map(|ticket| Operation::UploadWhole { ticket }),
            (ticket.clone(), range.clone())
                .prop_map(|(ticket, range)| Operation::UploadPart { ticket, range }),
            ticket.prop_map(|ticket| Operation::FinishParts { ticket }),
            Just(Operation::Pendentes),
            Just(Operation::LongPoll),
            Just(Operation::Search),
            idt.clone().prop_map(|idt| Operation::Metadados { idt }),
            idt.clone().prop_map(|idt| Operation::Cancel { idt }),
            idt.clone().prop_map(|idt| Operation::DownloadWhole { idt }),
            (idt.clone(), range).prop_map(|(idt, range)| Operation::DownloadPart { idt, range }),
            idt.clone().prop_map(|idt| Operation::ReciboDeEnvio { idt }),
            idt.clone().prop_map(|idt| Operation::GetRecibo { idt }),
            idt.clone().prop_map(|idt| Operation::PostRecibo { idt }),
            idt.clone().prop_map(|idt| Operation::Recusa { idt }),
            idt.prop_map(|idt| Operation::Ciencia { idt }),
            "[0-9]{16}".prop_map(|nre| Operation::Reproducao { nre }),
        ]
    }

    proptest::proptest! {
        /// Every operation is read back from the request a client makes for it, and travels
        /// through JSON unchanged.
        #[test]
        fn operations_are_read_back_from_their_requests(op in operation()) {
            let (method, path) = request_of(&op);
            proptest::prop_assert_eq!(&Operation::classify(method, &path), &op);
            let json = serde_json::to_string(&op).unwrap();
            proptest::prop_assert_eq!(serde_json::from_str::<Operation>(&json).unwrap(), op);
        }

        /// Any method and path is classified, never a panic.
        #[test]
        fn any_request_is_classified(method in "[A-Z]{1,7}", path in "(/[a-zA-Z0-9%.-]{0,12}){0,8}") {
            let _ = Operation::classify(&method, &path);
        }
    }

    #[test]
    fn requests_outside_the_routes_are_other() {
        let b = pen_protocol::BASE_PATH;
        for (method, path) in [
            ("GET", format!("{b}tramites/abc")),
            ("PUT", format!("{b}tramites/1")),
            (
                "POST",
                format!("{b}tramites/1/protocolos/componentes-digitais/partes/9-1"),
            ),
            ("GET", "/interoperabilidade/rest/v2/tramites".to_owned()),
        ] {
            assert_eq!(
                Operation::classify(method, &path),
                Operation::Other,
                "{method} {path}"
            );
        }
        let json = serde_json::to_value(Operation::DownloadPart {
            idt: Idt(7),
            range: PartRange::new(0, 10).unwrap(),
        })
        .unwrap();
        assert_eq!(
            json,
            serde_json::json!({"op": "download_part", "idt": 7, "range": "0-10"})
        );
    }
}
