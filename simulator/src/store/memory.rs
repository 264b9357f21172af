//! The in-memory store: the default, and the harness's. Commits cannot fail; everything goes
//! when the process ends.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use pen_protocol::ids::{Idt, Nre, Ticket};
use pen_protocol::ranges::PartRange;
use time::OffsetDateTime;

use super::records::Records;
use super::{records_operations, Store, StoreError, Transaction};
use crate::faults::ActiveFault;
use crate::journal::Journal;
use crate::platform::state::{NreRecord, PartsInProgress, Payload, TramiteRecord};
use crate::registry::Spe;

#[derive(Debug, Default)]
struct Inner {
    records: Records,
    payloads: HashMap<Idt, Arc<Payload>>,
}

/// The in-memory store.
#[derive(Debug, Default)]
pub struct MemoryStore {
    /// A std mutex: critical sections are short and never span an `.await`.
    inner: Mutex<Inner>,
}

struct MemoryTx<'a> {
    records: &'a mut Records,
    payloads: &'a mut HashMap<Idt, Arc<Payload>>,
}

impl Transaction for MemoryTx<'_> {
    records_operations!();

    fn insert_tramite(&mut self, record: TramiteRecord, payload: Arc<Payload>) {
        self.payloads.insert(record.idt, payload);
        self.records.insert_tramite(record);
    }

    fn payload(&self, idt: Idt) -> Option<Arc<Payload>> {
        self.payloads.get(&idt).cloned()
    }

    fn clear(&mut self) {
        self.records.clear();
        self.payloads.clear();
        // Let the memory of a large state go back to the allocator now, not at the next growth.
        self.payloads.shrink_to_fit();
    }
}

impl Store for MemoryStore {
    fn transact<R>(
        &self,
        section: impl FnOnce(&mut dyn Transaction) -> R,
        committed: impl FnOnce(&mut R),
    ) -> Result<R, StoreError> {
        // A section that panicked may have left its changes half done; the in-memory store has
        // nothing to go back to, so it goes on with them (as a crashed request would leave it).
        let mut guard = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let inner = &mut *guard;
        let mut tx = MemoryTx {
            records: &mut inner.records,
            payloads: &mut inner.payloads,
        };
        let mut out = section(&mut tx);
        committed(&mut out);
        Ok(out)
    }

    fn saved_spes(&self) -> Vec<Spe> {
        Vec::new()
    }

    fn save_faults(&self, _faults: &[ActiveFault], _next_id: u64) -> Result<(), StoreError> {
        Ok(())
    }

    fn saved_faults(&self) -> Option<(Vec<ActiveFault>, u64)> {
        None
    }

    fn open_journal(&self, capacity: usize) -> Journal {
        Journal::with_capacity(capacity)
    }
}
