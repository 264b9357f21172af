//! The records in memory with the indexes every operation reads (by party, by ticket, by NRE, the
//! pending feed, the automatic-cancellation timer, who holds which component), and the log of
//! what a critical section changed, which a durable store writes out before the section ends.
//!
//! Indexes are derived from the records and rebuilt from them on load; only the records are ever
//! written to disk. Both stores keep their records here: what differs is where a commit goes.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use pen_protocol::ids::{Idt, Nre, Ticket};
use pen_protocol::ranges::PartRange;
use time::OffsetDateTime;

use crate::platform::state::{NreRecord, PartsInProgress, TramiteRecord};
use crate::registry::Spe;

/// The identifier counters. Never reset: an identifier is issued once per installation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Counters {
    pub next_idt: u64,
    pub next_ticket: u64,
    pub next_nre: u64,
}

impl Default for Counters {
    fn default() -> Self {
        Counters {
            next_idt: 1,
            next_ticket: 1,
            next_nre: 1,
        }
    }
}

/// What a critical section changed, by key: the durable store writes the current value of each
/// key (or deletes it when the record is gone).
#[derive(Debug, Default)]
pub(crate) struct Changes {
    pub counters: bool,
    /// Everything but the counters was forgotten first (a control-plane reset).
    pub cleared: bool,
    pub tramites: BTreeSet<Idt>,
    pub nres: BTreeSet<Nre>,
    pub parts: BTreeSet<(Ticket, String)>,
    pub spes: Vec<Spe>,
}

impl Changes {
    pub fn is_empty(&self) -> bool {
        !self.counters
            && !self.cleared
            && self.tramites.is_empty()
            && self.nres.is_empty()
            && self.parts.is_empty()
            && self.spes.is_empty()
    }
}

/// Records and indexes.
#[derive(Debug, Default)]
pub(crate) struct Records {
    pub counters: Counters,
    tramites: BTreeMap<Idt, TramiteRecord>,
    nres: HashMap<Nre, NreRecord>,
    parts: BTreeMap<(Ticket, String), PartsInProgress>,
    by_spe: HashMap<String, BTreeSet<Idt>>,
    by_ticket: HashMap<Ticket, BTreeSet<Idt>>,
    by_nre: HashMap<Nre, BTreeSet<Idt>>,
    by_protocolo: HashMap<String, BTreeSet<Nre>>,
    pending: HashMap<String, BTreeSet<Idt>>,
    deadlines: BTreeSet<(OffsetDateTime, Idt)>,
    /// Hash → how many trâmites received it (their bytes must stay).
    received: HashMap<String, usize>,
    /// Kept only by a store that writes changes out.
    changes: Option<Changes>,
}

fn remove_from<K: std::hash::Hash + Eq, V: Ord>(
    map: &mut HashMap<K, BTreeSet<V>>,
    key: &K,
    value: &V,
) {
    if let Some(set) = map.get_mut(key) {
        set.remove(value);
        if set.is_empty() {
            map.remove(key);
        }
    }
}

impl Records {
    /// Records that log their changes (a durable store's).
    pub fn logged() -> Self {
        Records {
            changes: Some(Changes::default()),
            ..Records::default()
        }
    }

    /// What changed since the last call, leaving the log empty.
    pub fn take_changes(&mut self) -> Changes {
        self.changes
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    }

    pub fn has_changes(&self) -> bool {
        self.changes.as_ref().is_some_and(|c| !c.is_empty())
    }

    fn log(&mut self, note: impl FnOnce(&mut Changes)) {
        if let Some(changes) = self.changes.as_mut() {
            note(changes);
        }
    }

    // ------------------------------------------------------------------ counters

    pub fn allocate_idt(&mut self) -> Idt {
        let idt = Idt(self.counters.next_idt);
        self.counters.next_idt += 1;
        self.log(|c| c.counters = true);
        idt
    }

    pub fn allocate_ticket(&mut self) -> Ticket {
        let ticket = Ticket(self.counters.next_ticket);
        self.counters.next_ticket += 1;
        self.log(|c| c.counters = true);
        ticket
    }

    pub fn allocate_nre(&mut self, year: u16) -> Nre {
        let nre = Nre::issue(self.counters.next_nre, year);
        self.counters.next_nre += 1;
        self.log(|c| c.counters = true);
        nre
    }

    // ------------------------------------------------------------------ trâmites

    fn index(&mut self, r: &TramiteRecord) {
        let idt = r.idt;
        for party in [&r.sender, &r.recipient] {
            self.by_spe.entry(party.clone()).or_default().insert(idt);
            if r.pending_for(party) {
                self.pending.entry(party.clone()).or_default().insert(idt);
            }
        }
        self.by_ticket.entry(r.ticket).or_default().insert(idt);
        self.by_nre.entry(r.nre.clone()).or_default().insert(idt);
        if let Some(at) = r.idle_deadline {
            self.deadlines.insert((at, idt));
        }
        for hash in &r.received {
            *self.received.entry(hash.clone()).or_default() += 1;
        }
    }

    fn unindex(&mut self, r: &TramiteRecord) {
        let idt = r.idt;
        for party in [&r.sender, &r.recipient] {
            remove_from(&mut self.by_spe, party, &idt);
            remove_from(&mut self.pending, party, &idt);
        }
        remove_from(&mut self.by_ticket, &r.ticket, &idt);
        remove_from(&mut self.by_nre, &r.nre, &idt);
        if let Some(at) = r.idle_deadline {
            self.deadlines.remove(&(at, idt));
        }
        for hash in &r.received {
            if let Some(count) = self.received.get_mut(hash) {
                *count -= 1;
                if *count == 0 {
                    self.received.remove(hash);
                }
            }
        }
    }

    pub fn tramite(&self, idt: Idt) -> Option<&TramiteRecord> {
        self.tramites.get(&idt)
    }

    pub fn tramite_ids(&self) -> Vec<Idt> {
        self.tramites.keys().copied().collect()
    }

    /// Adds (or replaces) a trâmite.
    pub fn insert_tramite(&mut self, record: TramiteRecord) {
        let idt = record.idt;
        if let Some(old) = self.tramites.remove(&idt) {
            self.unindex(&old);
        }
        self.index(&record);
        self.tramites.insert(idt, record);
        self.log(|c| {
            c.tramites.insert(idt);
        });
    }

    /// Changes a trâmite and its index entries; `false` when there is none.
    pub fn update_tramite(&mut self, idt: Idt, change: &mut dyn FnMut(&mut TramiteRecord)) -> bool {
        let Some(mut record) = self.tramites.remove(&idt) else {
            return false;
        };
        self.unindex(&record);
        change(&mut record);
        // The key is the identity: a change may not move a record to another IDT.
        record.idt = idt;
        self.index(&record);
        self.tramites.insert(idt, record);
        self.log(|c| {
            c.tramites.insert(idt);
        });
        true
    }

    pub fn tramites_of(&self, spe: &str) -> Vec<Idt> {
        self.by_spe
            .get(spe)
            .map(|s| s.iter().copied().collect())
            .unwrap_or_default()
    }

    pub fn pending_for(&self, spe: &str) -> Vec<Idt> {
        self.pending
            .get(spe)
            .map(|s| s.iter().copied().collect())
            .unwrap_or_default()
    }

    pub fn tramites_of_ticket(&self, ticket: Ticket) -> Vec<Idt> {
        self.by_ticket
            .get(&ticket)
            .map(|s| s.iter().copied().collect())
            .unwrap_or_default()
    }

    pub fn tramites_of_nre(&self, nre: &Nre) -> Vec<Idt> {
        self.by_nre
            .get(nre)
            .map(|s| s.iter().copied().collect())
            .unwrap_or_default()
    }

    pub fn next_deadline(&self) -> Option<(OffsetDateTime, Idt)> {
        self.deadlines.first().copied()
    }

    pub fn holds_component(&self, hash: &str) -> bool {
        self.received.contains_key(hash)
    }

    /// The latest instant any trâmite changed situação (what a restarted clock must not go back
    /// behind).
    pub fn latest_change(&self) -> Option<OffsetDateTime> {
        self.tramites
            .values()
            .filter_map(TramiteRecord::last_change)
            .max()
    }

    // ------------------------------------------------------------------ NREs

    pub fn nre(&self, nre: &Nre) -> Option<&NreRecord> {
        self.nres.get(nre)
    }

    pub fn insert_nre(&mut self, nre: Nre, record: NreRecord) {
        if let Some(old) = self.nres.get(&nre) {
            let old = old.protocolo.clone();
            remove_from(&mut self.by_protocolo, &old, &nre);
        }
        self.by_protocolo
            .entry(record.protocolo.clone())
            .or_default()
            .insert(nre.clone());
        self.log(|c| {
            c.nres.insert(nre.clone());
        });
        self.nres.insert(nre, record);
    }

    /// Changes an NRE's record, creating it empty first when there is none.
    pub fn update_nre(&mut self, nre: &Nre, change: &mut dyn FnMut(&mut NreRecord)) {
        let mut record = self.nres.get(nre).cloned().unwrap_or_default();
        change(&mut record);
        self.insert_nre(nre.clone(), record);
    }

    pub fn nres_with_protocolo(&self, protocolo: &str) -> Vec<Nre> {
        self.by_protocolo
            .get(protocolo)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default()
    }

    // ------------------------------------------------------------------ parts

    pub fn parts(&self, ticket: Ticket, hash: &str) -> Option<&PartsInProgress> {
        self.parts.get(&(ticket, hash.to_owned()))
    }

    pub fn insert_parts(&mut self, ticket: Ticket, hash: &str, parts: PartsInProgress) {
        let key = (ticket, hash.to_owned());
        self.log(|c| {
            c.parts.insert(key.clone());
        });
        self.parts.insert(key, parts);
    }

    pub fn add_part(&mut self, ticket: Ticket, hash: &str, range: PartRange) {
        let mut parts = self.parts(ticket, hash).cloned().unwrap_or_default();
        parts.ranges.push(range);
        self.insert_parts(ticket, hash, parts);
    }

    pub fn remove_parts(&mut self, ticket: Ticket, hash: &str) -> bool {
        let key = (ticket, hash.to_owned());
        let removed = self.parts.remove(&key).is_some();
        if removed {
            self.log(|c| {
                c.parts.insert(key);
            });
        }
        removed
    }

    pub fn parts_of_ticket(&self, ticket: Ticket) -> Vec<String> {
        self.parts
            .range((ticket, String::new())..)
            .take_while(|((t, _), _)| *t == ticket)
            .map(|((_, hash), _)| hash.clone())
            .collect()
    }

    pub fn all_parts(&self) -> Vec<(Ticket, String)> {
        self.parts.keys().cloned().collect()
    }

    // ------------------------------------------------------------------ the rest

    pub fn save_spe(&mut self, spe: &Spe) {
        self.log(|c| c.spes.push(spe.clone()));
    }

    /// Forgets every trâmite, NRE and upload in progress; the counters stay, so that no
    /// identifier is ever issued twice.
    pub fn clear(&mut self) {
        let counters = self.counters;
        // A registration logged earlier in the section is not forgotten: reset keeps the registry.
        let changes = self.changes.take().map(|before| Changes {
            cleared: true,
            counters: true,
            spes: before.spes,
            ..Changes::default()
        });
        *self = Records {
            counters,
            changes,
            ..Records::default()
        };
    }

    /// Every record, for a comparison in tests.
    #[cfg(test)]
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            counters: self.counters,
            tramites: self.tramites.clone(),
            nres: self.nres.clone().into_iter().collect(),
            parts: self.parts.clone(),
        }
    }
}

/// Every record of a store, comparable (tests).
#[cfg(test)]
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Snapshot {
    pub counters: Counters,
    pub tramites: BTreeMap<Idt, TramiteRecord>,
    pub nres: BTreeMap<Nre, NreRecord>,
    pub parts: BTreeMap<(Ticket, String), PartsInProgress>,
}
