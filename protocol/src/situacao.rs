//! Situações of a trâmite (`rest-v3.md` §4) and the pure rule of who may move it where.
//!
//! ```text
//!  (0) ──Open──▶ 1 ──ComponentsUploaded──▶ 2 ──MetadataRead──▶ 3 ──ComponentsDownloaded──▶ 4
//!                │                         │                  │                            │
//!                │                         │ Refuse*          │ Refuse                     │ Refuse ──▶ 8 ──AcknowledgeRefusal──▶ 9
//!                │ Cancel / AutoCancel (1–4) ──────────────────────────────▶ 7 / 10        │
//!                                                                                          └─ReceiptPosted──▶ 5 ──ReceiptFetched──▶ 6
//! ```
//! `*` refusal at 2 is allowed by default (the module's own comment says "Situações 2, 3, 4").
//! Terminal situações are 6, 7, 9 and 10. Every transition goes to a higher code, so a trâmite
//! never moves backwards. The simulator decides *when* an event happens; [`transition`] decides
//! *whether* it may.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use thiserror::Error;

/// Situação codes 0–10.
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Situacao {
    /// 0 — before the open call completes (never stored).
    NaoIniciado,
    /// 1 — Aguardando o envio dos arquivos digitais.
    Iniciado,
    /// 2 — Arquivos digitais recebidos pelo Tramita GOV.BR.
    ComponentesEnviadosRemetente,
    /// 3 — Metadados recebidos pelo destinatário.
    MetadadosRecebidoDestinatario,
    /// 4 — Arquivos digitais recebidos pelo destinatário.
    ComponentesRecebidosDestinatario,
    /// 5 — Recibo de conclusão recebido pelo Tramita GOV.BR.
    ReciboEnviadoDestinatario,
    /// 6 — Recibo de conclusão recebido pelo remetente (final, success).
    ReciboRecebidoRemetente,
    /// 7 — Trâmite cancelado (final).
    Cancelado,
    /// 8 — Trâmite recusado. Aguardando ciência do remetente.
    Recusado,
    /// 9 — Ciência da recusa recebido pelo remetente (final).
    CienciaRecusa,
    /// 10 — Trâmite cancelado automaticamente (final).
    CanceladoAutomaticamente,
}

impl Situacao {
    pub const ALL: [Situacao; 11] = [
        Situacao::NaoIniciado,
        Situacao::Iniciado,
        Situacao::ComponentesEnviadosRemetente,
        Situacao::MetadadosRecebidoDestinatario,
        Situacao::ComponentesRecebidosDestinatario,
        Situacao::ReciboEnviadoDestinatario,
        Situacao::ReciboRecebidoRemetente,
        Situacao::Cancelado,
        Situacao::Recusado,
        Situacao::CienciaRecusa,
        Situacao::CanceladoAutomaticamente,
    ];

    #[must_use]
    pub fn code(self) -> u8 {
        match self {
            Situacao::NaoIniciado => 0,
            Situacao::Iniciado => 1,
            Situacao::ComponentesEnviadosRemetente => 2,
            Situacao::MetadadosRecebidoDestinatario => 3,
            Situacao::ComponentesRecebidosDestinatario => 4,
            Situacao::ReciboEnviadoDestinatario => 5,
            Situacao::ReciboRecebidoRemetente => 6,
            Situacao::Cancelado => 7,
            Situacao::Recusado => 8,
            Situacao::CienciaRecusa => 9,
            Situacao::CanceladoAutomaticamente => 10,
        }
    }

    #[must_use]
    pub fn from_code(code: u64) -> Option<Self> {
        Situacao::ALL
            .into_iter()
            .find(|s| u64::from(s.code()) == code)
    }

    /// The portal's description of the situação.
    #[must_use]
    pub fn descricao(self) -> &'static str {
        match self {
            Situacao::NaoIniciado => "Aguardando envio de Metadados pela solução",
            Situacao::Iniciado => "Aguardando o envio dos arquivos digitais",
            Situacao::ComponentesEnviadosRemetente => {
                "Arquivos digitais recebidos pelo Tramita GOV.BR"
            }
            Situacao::MetadadosRecebidoDestinatario => {
                "Metadados recebidos pelo sistema de processo eletrônico destinatário"
            }
            Situacao::ComponentesRecebidosDestinatario => {
                "Arquivos digitais recebidos pelo destinatário"
            }
            Situacao::ReciboEnviadoDestinatario => {
                "Recibo de conclusão recebido pelo Tramita GOV.BR"
            }
            Situacao::ReciboRecebidoRemetente => "Recibo de conclusão recebido pelo remetente",
            Situacao::Cancelado => "Trâmite cancelado",
            Situacao::Recusado => "Trâmite recusado. Aguardando ciência do remetente",
            Situacao::CienciaRecusa => "Ciência da recusa recebido pelo remetente",
            Situacao::CanceladoAutomaticamente => "Trâmite cancelado automaticamente",
        }
    }

    /// No event changes a terminal situação.
    #[must_use]
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            Situacao::ReciboRecebidoRemetente
                | Situacao::Cancelado
                | Situacao::CienciaRecusa
                | Situacao::CanceladoAutomaticamente
        )
    }

    /// Who must act next, i.e. whose pending feed lists the trâmite (`rest-v3.md` §4.3).
    /// Status 1 is listed to the sender only for reproductions, which the caller decides.
    #[must_use]
    pub fn pending_for(self) -> Option<Actor> {
        match self {
            Situacao::ComponentesEnviadosRemetente
            | Situacao::MetadadosRecebidoDestinatario
            | Situacao::ComponentesRecebidosDestinatario => Some(Actor::Recipient),
            Situacao::ReciboEnviadoDestinatario | Situacao::Recusado => Some(Actor::Sender),
            _ => None,
        }
    }
}

impl fmt::Display for Situacao {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code())
    }
}

impl Serialize for Situacao {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u8(self.code())
    }
}

impl<'de> Deserialize<'de> for Situacao {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let code = crate::lenient::u64(d)?;
        Situacao::from_code(code)
            .ok_or_else(|| serde::de::Error::custom(format_args!("situação inválida: {code}")))
    }
}

/// Who causes an event.
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Actor {
    /// The SPE responsible for the remetente structure.
    Sender,
    /// The SPE responsible for the destinatário structure.
    Recipient,
    /// The platform itself (timers, completions it detects).
    Platform,
}

/// Something that happens to a trâmite.
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Event {
    /// `POST tramites/processo|documento` accepted.
    Open,
    /// The last requested component arrived (or none was requested).
    ComponentsUploaded,
    /// `GET tramites/{idt}`.
    MetadataRead,
    /// The last pending component was served to the recipient.
    ComponentsDownloaded,
    /// `POST tramites/{idt}/recibo` with a valid signature.
    ReceiptPosted,
    /// `GET tramites/{idt}/recibo` by the sender.
    ReceiptFetched,
    /// `DELETE tramites/{idt}`.
    Cancel,
    /// `POST tramites/{idt}/recusa`.
    Refuse,
    /// `GET tramites/{idt}/ciencia`.
    AcknowledgeRefusal,
    /// Idle longer than the automatic-cancellation period.
    AutoCancel,
}

impl Event {
    pub const ALL: [Event; 10] = [
        Event::Open,
        Event::ComponentsUploaded,
        Event::MetadataRead,
        Event::ComponentsDownloaded,
        Event::ReceiptPosted,
        Event::ReceiptFetched,
        Event::Cancel,
        Event::Refuse,
        Event::AcknowledgeRefusal,
        Event::AutoCancel,
    ];

    /// Who may cause the event at all.
    #[must_use]
    pub fn allowed_actors(self) -> &'static [Actor] {
        match self {
            Event::Open | Event::ReceiptFetched | Event::Cancel | Event::AcknowledgeRefusal => {
                &[Actor::Sender]
            }
            Event::ComponentsUploaded => &[Actor::Sender, Actor::Platform],
            Event::MetadataRead => &[Actor::Sender, Actor::Recipient],
            Event::ComponentsDownloaded | Event::ReceiptPosted | Event::Refuse => {
                &[Actor::Recipient]
            }
            Event::AutoCancel => &[Actor::Platform],
        }
    }
}

/// Platform behaviours the public sources leave open, as explicit knobs.
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransitionRules {
    /// The real platform also moves 2 → 3 when the *sender* reads the metadata (PRs #1034,
    /// #1155 of the SEI module). `compat` reproduces it; `strict` moves only for the recipient.
    pub sender_metadata_read_advances: bool,
    /// Accept a recusa at 2 (before the metadata read) as well as at 3 and 4.
    pub refuse_at_2: bool,
    /// Last situação in which the sender may cancel: 4 per the current manual, 2 per an older
    /// client's notes.
    pub cancel_until: Situacao,
}

impl TransitionRules {
    /// The behaviour the spec recommends for idealised tests (the default).
    #[must_use]
    pub fn strict() -> Self {
        TransitionRules {
            sender_metadata_read_advances: false,
            refuse_at_2: true,
            cancel_until: Situacao::ComponentesRecebidosDestinatario,
        }
    }

    /// The real platform's known quirks.
    #[must_use]
    pub fn compat() -> Self {
        TransitionRules {
            sender_metadata_read_advances: true,
            ..TransitionRules::strict()
        }
    }
}

impl Default for TransitionRules {
    fn default() -> Self {
        TransitionRules::strict()
    }
}

/// An accepted event: where the trâmite was and where it is now (possibly the same place,
/// for reads and repeated downloads).
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition {
    pub from: Situacao,
    pub to: Situacao,
}

impl Transition {
    #[must_use]
    pub fn changed(self) -> bool {
        self.from != self.to
    }
}

/// Why an event is refused.
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum TransitionError {
    /// This party may never cause the event.
    #[error("{actor:?} may not cause {event:?}")]
    WrongActor { actor: Actor, event: Event },
    /// The event is not allowed in the current situação.
    #[error("{event:?} is not allowed in situação {from}")]
    NotAllowed { from: Situacao, event: Event },
}

/// Decides whether `actor` may cause `event` while the trâmite is in `from`, and where it goes.
///
/// # Errors
/// [`TransitionError::WrongActor`] when the party may never cause the event,
/// [`TransitionError::NotAllowed`] when the situação does not admit it.
pub fn transition(
    rules: &TransitionRules,
    from: Situacao,
    actor: Actor,
    event: Event,
) -> Result<Transition, TransitionError> {
    use Situacao as S;

    if !event.allowed_actors().contains(&actor) {
        return Err(TransitionError::WrongActor { actor, event });
    }
    let in_progress = matches!(
        from,
        S::Iniciado
            | S::ComponentesEnviadosRemetente
            | S::MetadadosRecebidoDestinatario
            | S::ComponentesRecebidosDestinatario
    );
    let to = match (event, from) {
        (Event::Open, S::NaoIniciado) => Some(S::Iniciado),
        (Event::ComponentsUploaded, S::Iniciado) => Some(S::ComponentesEnviadosRemetente),

        (Event::MetadataRead, S::ComponentesEnviadosRemetente)
            if actor == Actor::Recipient || rules.sender_metadata_read_advances =>
        {
            Some(S::MetadadosRecebidoDestinatario)
        }
        // The sender may read its own trâmite in any situação; the recipient from the moment the
        // components are available, and no longer once it refused (only the sender sees it then).
        (Event::MetadataRead, s) if actor == Actor::Sender && s != S::NaoIniciado => Some(s),
        (
            Event::MetadataRead,
            s @ (S::ComponentesEnviadosRemetente
            | S::MetadadosRecebidoDestinatario
            | S::ComponentesRecebidosDestinatario
            | S::ReciboEnviadoDestinatario
            | S::ReciboRecebidoRemetente
            | S::Cancelado
            | S::CanceladoAutomaticamente),
        ) => Some(s),

        (
            Event::ComponentsDownloaded,
            S::ComponentesEnviadosRemetente | S::MetadadosRecebidoDestinatario,
        ) => Some(S::ComponentesRecebidosDestinatario),
        // The recipient may download again while the receipt is still missing.
        (Event::ComponentsDownloaded, S::ComponentesRecebidosDestinatario) => Some(from),

        (Event::ReceiptPosted, S::ComponentesRecebidosDestinatario) => {
            Some(S::ReciboEnviadoDestinatario)
        }
        (Event::ReceiptFetched, S::ReciboEnviadoDestinatario | S::ReciboRecebidoRemetente) => {
            Some(S::ReciboRecebidoRemetente)
        }

        (Event::Cancel, s) if in_progress && s <= rules.cancel_until => Some(S::Cancelado),
        (Event::Refuse, S::MetadadosRecebidoDestinatario | S::ComponentesRecebidosDestinatario) => {
            Some(S::Recusado)
        }
        (Event::Refuse, S::ComponentesEnviadosRemetente) if rules.refuse_at_2 => Some(S::Recusado),
        (Event::AcknowledgeRefusal, S::Recusado) => Some(S::CienciaRecusa),
        (Event::AutoCancel, _) if in_progress => Some(S::CanceladoAutomaticamente),
        _ => None,
    };
    to.map(|to| Transition { from, to })
        .ok_or(TransitionError::NotAllowed { from, event })
}
