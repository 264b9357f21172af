//! What the agent keeps, like a real system's database: every process (or avulso) it received
//! or sent, by protocolo (NUP), with the NRE it travels under, where it came from, and each hop;
//! and the bytes of every component, by hash, on disk.
//!
//! Layout of the state folder: `processos/<protocolo>.json` (one [`Record`] each, rewritten on
//! change), `componentes/<hex of sha-256>` (bytes), `recebendo/<IDT>/` (a reception in progress;
//! its files join `componentes/` only once every hash checked).

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use pen_protocol::api::Tramite;
use pen_protocol::ids::{Idt, Nre};
use pen_protocol::model::EstruturaOrganizacional;
use pen_protocol::ranges::PartRange;
use pen_protocol::tables::MotivoRecusa;
use serde::{Deserialize, Serialize};

use crate::flows::{file_name_of, ComponentSource, FileSource};
use crate::samples::Envelope;

/// Bytes moved per write when a component is copied into the archive.
const COPY_BLOCK: u64 = 8 * 1024 * 1024;

/// One process or avulso the agent holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub protocolo: String,
    /// The NRE it travels under; `None` until the platform issued one.
    pub nre: Option<Nre>,
    pub envelope: Envelope,
    /// The agent's unit that holds it.
    pub unit: EstruturaOrganizacional,
    /// Who last sent it to the agent (where a return goes by default).
    pub origin: Option<EstruturaOrganizacional>,
    pub hops: Vec<Hop>,
}

/// One trâmite of a record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hop {
    #[serde(rename = "IDT")]
    pub idt: Idt,
    pub direction: Direction,
    pub counterpart: EstruturaOrganizacional,
    pub outcome: Outcome,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Received,
    Sent,
}

/// Where a hop stands, as the agent knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum Outcome {
    /// Sent and waiting for the recipient.
    Sent,
    /// Received and recibo de conclusão posted.
    Received,
    /// The recipient's recibo de conclusão fetched and verified.
    Concluded,
    /// Refused (by the agent or by the recipient), with the motivo and justificativa.
    Refused {
        motivo: MotivoRecusa,
        justificativa: String,
    },
}

/// The agent's store.
#[derive(Debug)]
pub struct Archive {
    dir: PathBuf,
    records: BTreeMap<String, Record>,
}

impl Archive {
    /// Opens (or creates) the state folder and loads what it holds.
    ///
    /// # Errors
    /// I/O; a record file that does not parse.
    pub fn open(dir: impl Into<PathBuf>) -> std::io::Result<Self> {
        let dir = dir.into();
        std::fs::create_dir_all(dir.join("processos"))?;
        std::fs::create_dir_all(dir.join("componentes"))?;
        let mut records = BTreeMap::new();
        for entry in std::fs::read_dir(dir.join("processos"))? {
            let path = entry?.path();
            if path.extension().is_some_and(|e| e == "json") {
                let record: Record = serde_json::from_slice(&std::fs::read(&path)?)
                    .map_err(|e| std::io::Error::other(format!("{}: {e}", path.display())))?;
                records.insert(record.protocolo.clone(), record);
            }
        }
        Ok(Archive { dir, records })
    }

    #[must_use]
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    #[must_use]
    pub fn components_dir(&self) -> PathBuf {
        self.dir.join("componentes")
    }

    /// Where a reception in progress writes its components.
    #[must_use]
    pub fn staging_dir(&self, idt: Idt) -> PathBuf {
        self.dir.join("recebendo").join(idt.to_string())
    }

    #[must_use]
    pub fn get(&self, protocolo: &str) -> Option<&Record> {
        self.records.get(protocolo)
    }

    #[must_use]
    pub fn records(&self) -> Vec<Record> {
        self.records.values().cloned().collect()
    }

    /// The record and hop of a trâmite.
    #[must_use]
    pub fn hop(&self, idt: Idt) -> Option<(&Record, &Hop)> {
        self.records
            .values()
            .find_map(|r| r.hops.iter().find(|h| h.idt == idt).map(|h| (r, h)))
    }

    /// Bytes of every component held, for sending again.
    #[must_use]
    pub fn source(&self) -> FileSource {
        let mut source = FileSource::default();
        for record in self.records.values() {
            for c in record.envelope.components() {
                if let Some(hash) = c.hash_conteudo() {
                    let path = self.components_dir().join(file_name_of(hash));
                    if path.exists() {
                        source.0.insert(hash.to_owned(), path);
                    }
                }
            }
        }
        source
    }

    /// Moves the components of a finished reception into the archive.
    ///
    /// # Errors
    /// I/O.
    pub fn adopt_staged(&self, idt: Idt) -> std::io::Result<()> {
        let staging = self.staging_dir(idt);
        if !staging.exists() {
            return Ok(());
        }
        for entry in std::fs::read_dir(&staging)? {
            let entry = entry?;
            std::fs::rename(entry.path(), self.components_dir().join(entry.file_name()))?;
        }
        std::fs::remove_dir_all(staging)
    }

    /// Drops what a refused or failed reception wrote.
    pub fn discard_staged(&self, idt: Idt) {
        let _ = std::fs::remove_dir_all(self.staging_dir(idt));
    }

    /// Records a trâmite received and concluded: a new record, or a known process that came back
    /// (same NRE) with its metadata brought up to date.
    ///
    /// # Errors
    /// Writing the record.
    pub fn record_received(
        &mut self,
        tramite: &Tramite,
        envelope: Envelope,
    ) -> std::io::Result<()> {
        let hop = Hop {
            idt: tramite.idt,
            direction: Direction::Received,
            counterpart: tramite.remetente.clone(),
            outcome: Outcome::Received,
        };
        let record = self
            .records
            .entry(tramite.protocolo.clone())
            .or_insert_with(|| Record {
                protocolo: tramite.protocolo.clone(),
                nre: None,
                envelope: envelope.clone(),
                unit: tramite.destinatario.clone(),
                origin: None,
                hops: Vec::new(),
            });
        record.nre = Some(tramite.nre.clone());
        record.envelope = envelope;
        record.unit = tramite.destinatario.clone();
        record.origin = Some(tramite.remetente.clone());
        record.hops.retain(|h| h.idt != tramite.idt);
        record.hops.push(hop);
        let record = record.clone();
        self.persist(&record)
    }

    /// Records a trâmite the agent sent.
    ///
    /// # Errors
    /// Writing the record.
    pub fn record_sent(
        &mut self,
        envelope: Envelope,
        idt: Idt,
        nre: Nre,
        from: EstruturaOrganizacional,
        to: EstruturaOrganizacional,
    ) -> std::io::Result<()> {
        let protocolo = envelope.protocolo().unwrap_or_default().to_owned();
        let record = self
            .records
            .entry(protocolo.clone())
            .or_insert_with(|| Record {
                protocolo,
                nre: None,
                envelope: envelope.clone(),
                unit: from.clone(),
                origin: None,
                hops: Vec::new(),
            });
        record.nre = Some(nre);
        record.envelope = envelope;
        record.unit = from;
        record.hops.push(Hop {
            idt,
            direction: Direction::Sent,
            counterpart: to,
            outcome: Outcome::Sent,
        });
        let record = record.clone();
        self.persist(&record)
    }

    /// Sets the outcome of a known hop (unknown IDTs are ignored: the agent may follow trâmites
    /// it did not start).
    ///
    /// # Errors
    /// Writing the record.
    pub fn set_outcome(&mut self, idt: Idt, outcome: &Outcome) -> std::io::Result<()> {
        let Some(record) = self
            .records
            .values_mut()
            .find(|r| r.hops.iter().any(|h| h.idt == idt))
        else {
            return Ok(());
        };
        for hop in record.hops.iter_mut().filter(|h| h.idt == idt) {
            hop.outcome = outcome.clone();
        }
        let record = record.clone();
        self.persist(&record)
    }

    /// Puts a record back as it was before a reception that did not complete (`None`: the
    /// process was not held before).
    ///
    /// # Errors
    /// Writing or removing the record file.
    pub fn restore(&mut self, protocolo: &str, previous: Option<Record>) -> std::io::Result<()> {
        match previous {
            Some(record) => {
                self.records.insert(protocolo.to_owned(), record.clone());
                self.persist(&record)
            }
            None => {
                self.records.remove(protocolo);
                match std::fs::remove_file(self.record_path(protocolo)) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
                    _ => Ok(()),
                }
            }
        }
    }

    fn record_path(&self, protocolo: &str) -> PathBuf {
        let name: String = protocolo
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        self.dir.join("processos").join(format!("{name}.json"))
    }

    fn persist(&self, record: &Record) -> std::io::Result<()> {
        let name: String = record
            .protocolo
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let path = self.dir.join("processos").join(format!("{name}.json"));
        let partial = path.with_extension("parcial");
        std::fs::write(&partial, serde_json::to_vec_pretty(record)?)?;
        std::fs::rename(partial, path)
    }
}

/// Copies a component into an archive's `componentes/` folder (a block at a time, outside any
/// lock) unless it is already there.
///
/// # Errors
/// I/O of the source or of the archive.
pub fn keep_component(
    components_dir: &Path,
    hash: &str,
    size: u64,
    source: &dyn ComponentSource,
) -> std::io::Result<()> {
    let path = components_dir.join(file_name_of(hash));
    if path.exists() {
        return Ok(());
    }
    let partial = path.with_extension("parcial");
    let mut file = std::fs::File::create(&partial)?;
    for part in PartRange::split(size, COPY_BLOCK) {
        file.write_all(&source.read(hash, part)?)?;
    }
    file.sync_all()?;
    std::fs::rename(partial, path)
}
