//! The platform's records: trâmites, NREs and chunked uploads in progress. Storage types, not
//! wire types: they convert at the edge. Every record serialises (the durable store keeps them as
//! JSON), so a field added here needs a serde default to read what an older simulator wrote.
//!
//! What a trâmite carries (its metadata, [`Payload`]) is kept apart from its record: it is by far
//! the largest part, is written once and read only by the metadata read, the inspection and a
//! reproduction, so a store need not keep it in memory.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use pen_protocol::ids::{Idt, Nre, Ticket};
use pen_protocol::model::{
    DocumentoAvulso, EstruturaOrganizacional, Processo, PropriedadeAdicional,
};
use pen_protocol::ranges::PartRange;
use pen_protocol::situacao::{Actor, Situacao};
use pen_protocol::tables::MotivoRecusa;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// What a trâmite carries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Payload {
    Processo(Processo),
    Documento(DocumentoAvulso),
}

/// One component as declared in the metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeclaredComponent {
    /// Base64 SHA-256.
    pub hash: String,
    pub size: u64,
    /// Protocol of the process (or apensado, or documento avulso) it belongs to.
    pub protocolo: String,
    /// Inside a `retirado` document: never requested, never pending.
    pub retirado: bool,
}

/// The recipient's recibo de conclusão as accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredRecibo {
    pub data_de_recebimento: String,
    pub signature: String,
    /// The certificate the recipient authenticated with (base64 DER goes out as
    /// `cadeiaDoCertificado`), shared with its connection rather than copied per recibo.
    #[serde(with = "base64_der")]
    pub certificate_der: Arc<[u8]>,
}

/// The platform's recibo de envio.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredReciboDeEnvio {
    pub data: String,
    pub hashes: Vec<String>,
    pub signature: String,
}

/// The identifiers one trâmite is opened with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ids {
    pub idt: Idt,
    pub nre: Nre,
    pub ticket: Ticket,
}

/// One trâmite.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TramiteRecord {
    pub idt: Idt,
    pub nre: Nre,
    pub ticket: Ticket,
    pub remetente: EstruturaOrganizacional,
    pub destinatario: EstruturaOrganizacional,
    pub unidade_receptora: Option<EstruturaOrganizacional>,
    pub sender: String,
    pub recipient: String,
    /// Whether the payload is a process (else a documento avulso).
    pub processo: bool,
    /// Protocol of the main process or of the documento avulso.
    pub protocolo: String,
    pub propriedades_adicionais: Vec<PropriedadeAdicional>,
    pub urgente: Option<bool>,
    pub motivo_da_urgencia: Option<u32>,
    pub situacao: Situacao,
    #[serde(with = "history")]
    pub history: Vec<(Situacao, OffsetDateTime)>,
    /// When the automatic cancellation takes the trâmite (set while it is in 1–4).
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub idle_deadline: Option<OffsetDateTime>,
    /// All declared components, each hash once (the last declaration of a hash shared by
    /// several documents), in declaration order. Small vectors rather than maps: a trâmite has
    /// a handful of components, and 100,000 stored trâmites must fit in memory.
    pub components: Vec<DeclaredComponent>,
    /// Hashes the sender must upload, in declaration order.
    pub requested: Vec<String>,
    pub received: Vec<String>,
    /// Hashes the recipient must download and will sign (frozen when the trâmite reaches 2).
    pub pending_for_recipient: Vec<String>,
    pub downloaded: Vec<String>,
    pub recusa: Option<(MotivoRecusa, String)>,
    pub recibo_de_envio: Option<StoredReciboDeEnvio>,
    pub recibo: Option<StoredRecibo>,
    pub reproducao: bool,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub last_download: Option<OffsetDateTime>,
    /// (SPE, situação) pairs the long-poll feed already delivered: never pushed twice, and left
    /// out of `tramites/pendentes?todas=false`.
    #[serde(default)]
    pub delivered: Vec<(String, Situacao)>,
}

/// What one open call sends, the same for each of its destinations.
#[derive(Debug, Clone)]
pub struct Opening {
    /// The SPE that opens.
    pub sender: String,
    pub remetente: EstruturaOrganizacional,
    pub payload: Arc<Payload>,
    pub protocolo: String,
    pub propriedades_adicionais: Vec<PropriedadeAdicional>,
    pub urgente: Option<bool>,
    pub motivo_da_urgencia: Option<u32>,
    /// As declared, a hash possibly more than once.
    pub components: Vec<DeclaredComponent>,
    pub requested: Vec<String>,
    /// A reproduction of an earlier trâmite (`reproducoes-de-tramite`).
    pub reproducao: bool,
}

/// Where one trâmite of an open call goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    pub destinatario: EstruturaOrganizacional,
    /// The unit that receives for the destination, when the directory names one.
    pub unidade_receptora: Option<EstruturaOrganizacional>,
    /// The SPE that answers for the destination.
    pub recipient: String,
}

impl TramiteRecord {
    /// A trâmite about to open (situação 0, no history, nothing uploaded, downloaded, refused or
    /// signed yet): the one place a record is built, so a field added to it starts right
    /// everywhere. The opening's payload is stored beside the record, not in it.
    #[must_use]
    pub fn new(ids: Ids, opening: &Opening, to: Destination) -> Self {
        TramiteRecord {
            idt: ids.idt,
            nre: ids.nre,
            ticket: ids.ticket,
            remetente: opening.remetente.clone(),
            destinatario: to.destinatario,
            unidade_receptora: to.unidade_receptora,
            sender: opening.sender.clone(),
            recipient: to.recipient,
            processo: matches!(*opening.payload, Payload::Processo(_)),
            protocolo: opening.protocolo.clone(),
            propriedades_adicionais: opening.propriedades_adicionais.clone(),
            urgente: opening.urgente,
            motivo_da_urgencia: opening.motivo_da_urgencia,
            situacao: Situacao::NaoIniciado,
            history: Vec::new(),
            idle_deadline: None,
            components: TramiteRecord::unique_components(&opening.components),
            requested: opening.requested.clone(),
            received: Vec::new(),
            pending_for_recipient: Vec::new(),
            downloaded: Vec::new(),
            recusa: None,
            recibo_de_envio: None,
            recibo: None,
            reproducao: opening.reproducao,
            last_download: None,
            delivered: Vec::new(),
        }
    }

    /// What opening this trâmite again would send, and where, asking for `requested` (a
    /// reproduction: same parties, metadata and components).
    #[must_use]
    pub fn reopening(
        &self,
        payload: Arc<Payload>,
        requested: Vec<String>,
    ) -> (Opening, Destination) {
        let opening = Opening {
            sender: self.sender.clone(),
            remetente: self.remetente.clone(),
            payload,
            protocolo: self.protocolo.clone(),
            propriedades_adicionais: self.propriedades_adicionais.clone(),
            urgente: self.urgente,
            motivo_da_urgencia: self.motivo_da_urgencia,
            components: self.components.clone(),
            requested,
            reproducao: true,
        };
        let to = Destination {
            destinatario: self.destinatario.clone(),
            unidade_receptora: self.unidade_receptora.clone(),
            recipient: self.recipient.clone(),
        };
        (opening, to)
    }

    /// The declared component with this hash.
    #[must_use]
    pub fn component(&self, hash: &str) -> Option<&DeclaredComponent> {
        self.components.iter().find(|c| c.hash == hash)
    }

    /// The declared components, each hash once (the last declaration wins), in order.
    #[must_use]
    pub fn unique_components(declared: &[DeclaredComponent]) -> Vec<DeclaredComponent> {
        let mut out: Vec<DeclaredComponent> = Vec::with_capacity(declared.len());
        for c in declared {
            match out.iter_mut().find(|o| o.hash == c.hash) {
                Some(existing) => *existing = c.clone(),
                None => out.push(c.clone()),
            }
        }
        out
    }

    /// When the trâmite last changed situação (what the automatic cancellation counts from).
    #[must_use]
    pub fn last_change(&self) -> Option<OffsetDateTime> {
        self.history.last().map(|(_, at)| *at)
    }

    /// The role of an SPE in this trâmite.
    #[must_use]
    pub fn role_of(&self, spe: &str) -> Option<Actor> {
        if self.sender == spe {
            Some(Actor::Sender)
        } else if self.recipient == spe {
            Some(Actor::Recipient)
        } else {
            None
        }
    }

    /// Whether the trâmite waits for this SPE (`rest-v3.md` §4.3).
    #[must_use]
    pub fn pending_for(&self, spe: &str) -> bool {
        match self.situacao.pending_for() {
            Some(Actor::Sender) => self.sender == spe,
            Some(Actor::Recipient) => self.recipient == spe,
            // Status 1 is shown to the sender only for reproductions (it must re-upload).
            _ => self.reproducao && self.situacao == Situacao::Iniciado && self.sender == spe,
        }
    }

    /// Whether the long-poll feed already pushed the current situação to this SPE.
    #[must_use]
    pub fn delivered_to(&self, spe: &str) -> bool {
        self.delivered
            .iter()
            .any(|(s, at)| s == spe && *at == self.situacao)
    }
}

/// What the platform knows of one NRE across its hops (its trâmites are found through the
/// store, by NRE).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NreRecord {
    pub protocolo: String,
    /// Component hashes of each document by `ordem`, as first transferred (rule 0047).
    pub documents: BTreeMap<u32, Vec<String>>,
    /// Which organisations hold which hashes.
    pub holders: HashMap<String, BTreeSet<String>>,
}

/// Adds a hash to a small set kept as a vector.
pub fn insert_once(set: &mut Vec<String>, hash: &str) {
    if !set.iter().any(|h| h == hash) {
        set.push(hash.to_owned());
    }
}

/// Chunked uploads in progress: which byte ranges of a component arrived.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartsInProgress {
    pub ranges: Vec<PartRange>,
}

impl PartsInProgress {
    /// Bytes of `[0, size)` not covered by any received part.
    #[must_use]
    pub fn missing(&self, size: u64) -> u64 {
        let mut ranges = self.ranges.clone();
        ranges.sort();
        let mut covered_until = 0u64;
        let mut missing = 0u64;
        for r in ranges {
            if r.inicio > covered_until {
                missing += r.inicio - covered_until;
            }
            covered_until = covered_until.max(r.fim);
        }
        missing + size.saturating_sub(covered_until)
    }
}

/// `Vec<(Situacao, OffsetDateTime)>` as `[{"situacao": 2, "at": "…"}]`, instants in RFC 3339.
mod history {
    use pen_protocol::situacao::Situacao;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use time::OffsetDateTime;

    #[derive(Serialize, Deserialize)]
    struct Change {
        situacao: Situacao,
        #[serde(with = "time::serde::rfc3339")]
        at: OffsetDateTime,
    }

    pub(super) fn serialize<S: Serializer>(
        history: &[(Situacao, OffsetDateTime)],
        s: S,
    ) -> Result<S::Ok, S::Error> {
        let changes: Vec<Change> = history
            .iter()
            .map(|(situacao, at)| Change {
                situacao: *situacao,
                at: *at,
            })
            .collect();
        changes.serialize(s)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Vec<(Situacao, OffsetDateTime)>, D::Error> {
        let changes = Vec::<Change>::deserialize(d)?;
        Ok(changes.into_iter().map(|c| (c.situacao, c.at)).collect())
    }
}

/// DER bytes as standard base64 text.
mod base64_der {
    use std::sync::Arc;

    use base64::engine::general_purpose::STANDARD;
    use base64::Engine as _;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(der: &Arc<[u8]>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(der))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Arc<[u8]>, D::Error> {
        let text = String::deserialize(d)?;
        STANDARD
            .decode(text)
            .map(Arc::from)
            .map_err(serde::de::Error::custom)
    }
}
