//! What crossed the wire, read back from the simulator's journal through the typed control
//! client: every request an SPE made, with its typed operation and its place in the journal,
//! and where a trâmite reached a situação.

use pen_protocol::ids::Idt;
use pen_protocol::situacao::Situacao;
use pen_simulator::control_client::ControlClient;
use pen_simulator::journal::{self, JournalQuery, Operation};
use pen_testkit::sim::TestSimulator;

/// One request as the simulator journaled it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Call {
    /// Its place in the journal (state changes are numbered in the same sequence).
    pub(crate) seq: u64,
    pub(crate) operation: Operation,
    pub(crate) status: u16,
    pub(crate) error_code: Option<String>,
}

pub(crate) fn control(sim: &TestSimulator) -> ControlClient {
    sim.control_client()
}

/// Every request `spe` made so far, in order.
pub(crate) async fn calls(sim: &TestSimulator, spe: &str) -> Vec<Call> {
    let query = JournalQuery {
        kind: Some("request".to_owned()),
        spe: Some(spe.to_owned()),
        ..JournalQuery::default()
    };
    control(sim)
        .entries(&query)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|e| match e.event {
            journal::Event::Request {
                operation,
                status,
                error_code,
                ..
            } => Some(Call {
                seq: e.seq,
                operation,
                status,
                error_code,
            }),
            _ => None,
        })
        .collect()
}

/// Where trâmite `idt` reached situação `to` in the journal.
pub(crate) async fn reached(sim: &TestSimulator, idt: Idt, to: Situacao) -> Option<u64> {
    let query = JournalQuery {
        kind: Some("state_change".to_owned()),
        idt: Some(idt.0),
        to: Some(to.code()),
        ..JournalQuery::default()
    };
    let entries = control(sim).entries(&query).await.unwrap();
    entries.first().map(|e| e.seq)
}

/// The calls whose operation passes `which`.
pub(crate) fn only(calls: &[Call], which: impl Fn(&Operation) -> bool) -> Vec<Call> {
    calls
        .iter()
        .filter(|c| which(&c.operation))
        .cloned()
        .collect()
}

pub(crate) fn opens(calls: &[Call]) -> Vec<Call> {
    only(calls, |o| matches!(o, Operation::OpenProcesso))
}

pub(crate) fn uploads(calls: &[Call]) -> Vec<Call> {
    only(calls, |o| {
        matches!(
            o,
            Operation::UploadWhole { .. } | Operation::UploadPart { .. }
        )
    })
}

pub(crate) fn downloads(calls: &[Call]) -> Vec<Call> {
    only(calls, |o| {
        matches!(
            o,
            Operation::DownloadWhole { .. } | Operation::DownloadPart { .. }
        )
    })
}

pub(crate) fn recibos_posted(calls: &[Call], idt: Idt) -> Vec<Call> {
    only(calls, |o| *o == Operation::PostRecibo { idt })
}

pub(crate) fn recusas(calls: &[Call], idt: Idt) -> Vec<Call> {
    only(calls, |o| *o == Operation::Recusa { idt })
}
