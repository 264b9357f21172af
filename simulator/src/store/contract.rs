//! The store contract, as one suite both stores pass (`memory_…` and `sqlite_…` run each
//! check), plus what only a durable store promises: a restart reads back exactly what was
//! committed, a section that did not commit leaves nothing, a newer schema or a second process
//! is refused.

use std::path::Path;
use std::sync::Arc;

use pen_protocol::ids::{Idt, Nre, Ticket};
use pen_protocol::model::{EstruturaOrganizacional, Processo};
use pen_protocol::ranges::PartRange;
use pen_protocol::situacao::Situacao;
use time::macros::datetime;

use super::{AnyStore, Durability, SqliteStore, Store, StoreError, Transaction};
use crate::faults::{ActiveFault, FaultKind, FaultSpec};
use crate::platform::state::{
    DeclaredComponent, Destination, Ids, Opening, Payload, TramiteRecord,
};
use crate::registry::Spe;

fn opening(sender: &str) -> Opening {
    let processo = Processo {
        descricao: Some("Processo de teste".to_owned()),
        ..Processo::default()
    };
    Opening {
        sender: sender.to_owned(),
        remetente: EstruturaOrganizacional::new(1, "152254"),
        payload: Arc::new(Payload::Processo(processo)),
        protocolo: "00394.000101/2025-61".to_owned(),
        propriedades_adicionais: Vec::new(),
        urgente: None,
        motivo_da_urgencia: None,
        components: vec![DeclaredComponent {
            hash: "h1".to_owned(),
            size: 10,
            protocolo: "00394.000101/2025-61".to_owned(),
            retirado: false,
        }],
        requested: vec!["h1".to_owned()],
        reproducao: false,
    }
}

fn destination(recipient: &str) -> Destination {
    Destination {
        destinatario: EstruturaOrganizacional::new(1, "159098"),
        unidade_receptora: None,
        recipient: recipient.to_owned(),
    }
}

/// Opens a trâmite from org-a to org-b at situação 2 (waiting for org-b), with a deadline.
fn open(tx: &mut dyn Transaction, ticket: Option<Ticket>) -> Idt {
    let nre = tx.allocate_nre(2025);
    let ids = Ids {
        idt: tx.allocate_idt(),
        ticket: ticket.unwrap_or_else(|| tx.allocate_ticket()),
        nre: nre.clone(),
    };
    let idt = ids.idt;
    let opening = opening("org-a");
    let mut record = TramiteRecord::new(ids, &opening, destination("org-b"));
    record.situacao = Situacao::ComponentesEnviadosRemetente;
    record.history = vec![
        (Situacao::Iniciado, datetime!(2025-06-02 10:00 -3)),
        (
            Situacao::ComponentesEnviadosRemetente,
            datetime!(2025-06-02 10:01 -3),
        ),
    ];
    record.idle_deadline = Some(datetime!(2025-06-10 10:01 -3));
    record.received = vec!["h1".to_owned()];
    tx.insert_tramite(record, opening.payload.clone());
    tx.update_nre(&nre, &mut |r| {
        r.protocolo.clone_from(&opening.protocolo);
        r.holders
            .entry("org-a".to_owned())
            .or_default()
            .insert("h1".to_owned());
    });
    idt
}

fn write<R>(store: &impl Store, f: impl FnOnce(&mut dyn Transaction) -> R) -> R {
    store.transact(f, |_| {}).expect("committed")
}

fn memory() -> (AnyStore, Option<tempfile::TempDir>) {
    (AnyStore::Memory(Box::default()), None)
}

fn sqlite() -> (AnyStore, Option<tempfile::TempDir>) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path(), Durability::Process).unwrap();
    (AnyStore::Sqlite(store), Some(dir))
}

/// Each check, run over both stores.
macro_rules! both {
    ($($name:ident => $check:expr;)*) => {
        mod memory_store {
            use super::*;
            $(#[test] fn $name() { let (store, _dir) = memory(); ($check)(&store); })*
        }
        mod sqlite_store {
            use super::*;
            $(#[test] fn $name() { let (store, _dir) = sqlite(); ($check)(&store); })*
        }
    };
}

fn identifiers_are_issued_once_even_across_a_clear(store: &AnyStore) {
    let first = write(store, |tx| {
        (
            tx.allocate_idt(),
            tx.allocate_ticket(),
            tx.allocate_nre(2025),
        )
    });
    write(store, |tx| {
        open(tx, None);
        tx.clear();
    });
    let after = write(store, |tx| {
        (
            tx.allocate_idt(),
            tx.allocate_ticket(),
            tx.allocate_nre(2025),
        )
    });
    assert!(
        after.0 > first.0 && after.1 > first.1,
        "{first:?} {after:?}"
    );
    assert_ne!(after.2, first.2);
    write(store, |tx| {
        assert!(tx.tramite_ids().is_empty(), "clear forgets trâmites");
    });
}

fn indexes_follow_every_change(store: &AnyStore) {
    let (idt, ticket) = write(store, |tx| {
        let idt = open(tx, None);
        (idt, tx.tramite(idt).unwrap().ticket)
    });
    let other = write(store, |tx| open(tx, Some(ticket)));
    write(store, |tx| {
        let nre = tx.tramite(idt).unwrap().nre.clone();
        assert_eq!(tx.tramites_of("org-a"), [idt, other]);
        assert_eq!(tx.tramites_of("org-b"), [idt, other]);
        assert!(tx.tramites_of("org-c").is_empty());
        assert_eq!(
            tx.pending_for("org-b"),
            [idt, other],
            "2 waits for the recipient"
        );
        assert!(tx.pending_for("org-a").is_empty());
        assert_eq!(tx.tramites_of_ticket(ticket), [idt, other]);
        assert_eq!(tx.tramites_of_nre(&nre), [idt]);
        assert_eq!(tx.nres_with_protocolo("00394.000101/2025-61").len(), 2);
        assert_eq!(
            tx.next_deadline(),
            Some((datetime!(2025-06-10 10:01 -3), idt))
        );
        assert!(tx.holds_component("h1"));
        assert!(tx.payload(idt).is_some());
    });
    write(store, |tx| {
        assert!(tx.update_tramite(idt, &mut |r| {
            r.situacao = Situacao::ReciboEnviadoDestinatario;
            r.idle_deadline = None;
            r.received.clear();
        }));
        assert!(!tx.update_tramite(Idt(999_999), &mut |_| panic!("no such trâmite")));
        // Read back inside the same section.
        assert_eq!(tx.pending_for("org-a"), [idt], "5 waits for the sender");
        assert_eq!(tx.pending_for("org-b"), [other]);
        assert_eq!(
            tx.next_deadline(),
            Some((datetime!(2025-06-10 10:01 -3), other))
        );
    });
    write(store, |tx| {
        tx.update_tramite(other, &mut |r| r.received.clear());
        assert!(!tx.holds_component("h1"), "no trâmite holds it any more");
    });
}

fn parts_are_kept_by_ticket_and_hash(store: &AnyStore) {
    let part = |inicio, fim| PartRange::new(inicio, fim).unwrap();
    write(store, |tx| {
        tx.add_part(Ticket(7), "h1", part(0, 5));
        tx.add_part(Ticket(7), "h1", part(5, 10));
        tx.add_part(Ticket(7), "h2", part(0, 1));
        tx.add_part(Ticket(8), "h1", part(0, 1));
    });
    write(store, |tx| {
        assert_eq!(tx.parts(Ticket(7), "h1").unwrap().missing(10), 0);
        assert_eq!(tx.parts_of_ticket(Ticket(7)), ["h1", "h2"]);
        assert!(tx.remove_parts(Ticket(7), "h1"));
        assert!(!tx.remove_parts(Ticket(7), "h1"));
        assert_eq!(
            tx.all_parts(),
            [(Ticket(7), "h2".to_owned()), (Ticket(8), "h1".to_owned())]
        );
    });
}

fn committed_runs_after_the_section_with_its_result(store: &AnyStore) {
    let mut seen = None;
    let out = store
        .transact(
            |tx| tx.allocate_idt(),
            |idt| {
                seen = Some(*idt);
            },
        )
        .unwrap();
    assert_eq!(seen, Some(out));
}

both! {
    identifiers_are_issued_once => identifiers_are_issued_once_even_across_a_clear;
    indexes_follow_changes => indexes_follow_every_change;
    parts => parts_are_kept_by_ticket_and_hash;
    committed_hook => committed_runs_after_the_section_with_its_result;
}

// ---------------------------------------------------------------------- durable only

fn reopen(dir: &Path) -> SqliteStore {
    SqliteStore::open(dir, Durability::Process).unwrap()
}

#[test]
fn a_restart_reads_back_exactly_what_was_committed() {
    let dir = tempfile::tempdir().unwrap();
    let store = reopen(dir.path());
    let idt = write(&store, |tx| open(tx, None));
    write(&store, |tx| {
        tx.add_part(Ticket(3), "h9", PartRange::new(0, 4).unwrap());
        tx.update_tramite(idt, &mut |r| {
            r.delivered
                .push(("org-b".to_owned(), Situacao::ComponentesEnviadosRemetente));
        });
    });
    let spe = Spe {
        id: "org-x".to_owned(),
        nome: "Órgão X".to_owned(),
        common_name: "org-x".to_owned(),
        sha1_fingerprint: "AA:BB".to_owned(),
        estruturas: std::collections::BTreeSet::new(),
    };
    write(&store, |tx| tx.save_spe(&spe));
    let fault = ActiveFault {
        id: 4,
        spec: FaultSpec {
            spe: Some("org-b".to_owned()),
            method: None,
            path_contains: None,
            kind: FaultKind::FeedOutage,
            times: Some(2),
        },
    };
    store.save_faults(std::slice::from_ref(&fault), 4).unwrap();
    let before = write(&store, |tx| {
        (tx.tramite(idt).cloned(), tx.payload(idt), tx.allocate_idt())
    });
    drop(store);

    let store = reopen(dir.path());
    store.check_against_disk().unwrap();
    write(&store, |tx| {
        assert_eq!(tx.tramite(idt).cloned(), before.0);
        assert_eq!(tx.payload(idt), before.1);
        assert_eq!(tx.pending_for("org-b"), [idt], "indexes rebuilt on load");
        assert_eq!(tx.parts_of_ticket(Ticket(3)), ["h9"]);
        assert!(tx.allocate_idt() > before.2, "the counters went on");
    });
    assert_eq!(store.saved_spes(), [spe]);
    assert_eq!(store.saved_faults(), Some((vec![fault], 4)));
}

#[test]
fn a_section_that_panics_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let store = reopen(dir.path());
    let idt = write(&store, |tx| open(tx, None));
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _ = store.transact(
            |tx| {
                tx.update_tramite(idt, &mut |r| r.situacao = Situacao::Cancelado);
                tx.allocate_idt();
                panic!("a rule failed half way");
            },
            |()| {},
        );
    }));
    assert!(panicked.is_err());
    write(&store, |tx| {
        assert_eq!(
            tx.tramite(idt).unwrap().situacao,
            Situacao::ComponentesEnviadosRemetente,
            "back to what the disk holds"
        );
    });
    store.check_against_disk().unwrap();
}

#[test]
fn a_newer_schema_is_refused_with_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    drop(reopen(dir.path()));
    let conn = rusqlite::Connection::open(dir.path().join("state.sqlite")).unwrap();
    conn.pragma_update(None, "user_version", 99).unwrap();
    drop(conn);
    let refused = SqliteStore::open(dir.path(), Durability::Process).unwrap_err();
    assert!(
        matches!(
            refused,
            StoreError::NewerSchema {
                found: 99,
                supported: 1,
                ..
            }
        ),
        "{refused}"
    );
    let text = refused.to_string();
    assert!(
        text.contains("newer pen-simulator") && text.contains("--data-dir"),
        "{text}"
    );
}

#[test]
fn one_process_per_data_folder() {
    let dir = tempfile::tempdir().unwrap();
    let first = reopen(dir.path());
    let second = SqliteStore::open(dir.path(), Durability::Machine).unwrap_err();
    assert!(matches!(second, StoreError::InUse { .. }), "{second}");
    drop(first);
    // Once the first is gone, the folder opens again.
    drop(reopen(dir.path()));
}

#[test]
fn the_journal_goes_on_after_a_restart() {
    use crate::journal::{ActorName, Event};
    let dir = tempfile::tempdir().unwrap();
    let change = |idt| Event::StateChange {
        idt: Idt(idt),
        from: Situacao::Iniciado,
        to: Situacao::ComponentesEnviadosRemetente,
        actor: ActorName::Platform,
        spe: None,
    };
    let at = datetime!(2025-06-02 13:00 UTC);
    {
        let store = reopen(dir.path());
        let journal = store.open_journal(3);
        for i in 0..5 {
            journal.record(at, change(i));
        }
        let page = journal.since(0, 10, |_| true);
        assert_eq!((page.dropped, page.total), (2, 5));
    }
    let store = reopen(dir.path());
    let journal = store.open_journal(3);
    let page = journal.since(0, 10, |_| true);
    let seqs: Vec<u64> = page.entries.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, [3, 4, 5], "the newest three, as kept");
    assert_eq!((page.dropped, page.total), (2, 5));
    assert_eq!(journal.record(at, change(9)), 6, "numbering goes on");
    journal.clear();
    drop((journal, store));
    let store = reopen(dir.path());
    let journal = store.open_journal(3);
    let page = journal.since(0, 10, |_| true);
    assert!(page.entries.is_empty(), "a clear is kept too");
    assert_eq!(journal.record(at, change(10)), 7);
}

#[test]
fn nres_read_back_with_their_holders() {
    let dir = tempfile::tempdir().unwrap();
    let store = reopen(dir.path());
    let nre: Nre = write(&store, |tx| {
        let idt = open(tx, None);
        tx.tramite(idt).unwrap().nre.clone()
    });
    let before = write(&store, |tx| tx.nre(&nre).cloned());
    drop(store);
    let store = reopen(dir.path());
    assert_eq!(write(&store, |tx| tx.nre(&nre).cloned()), before);
}
