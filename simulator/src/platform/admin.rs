//! The control plane's operations: reset, registering an SPE, and inspecting a trâmite (with no
//! authorisation: what only the platform knows, and both recibos as the parties fetch them).

use std::sync::PoisonError;

use pen_protocol::api::{ConteudoDoReciboDeEnvio, ConteudoDoReciboDeTramite, Tramite};
use pen_protocol::ids::{Idt, Ticket};
use pen_protocol::situacao::Situacao;

use super::state::{Payload, State};
use super::{Platform, Store};
use crate::registry::{RegistryError, Spe};

/// The control plane's view of a trâmite: the wire view plus what only the platform knows.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Inspection {
    pub tramite: Tramite,
    pub sender: String,
    pub recipient: String,
    pub ticket: Ticket,
    pub requested: Vec<String>,
    pub received: Vec<String>,
    pub downloaded: Vec<String>,
    pub reproducao: bool,
    pub recibo_de_conclusao: Option<String>,
    /// The recibo de envio as the sender fetches it (signed by the platform), once there is one.
    #[serde(default)]
    pub recibo_de_envio_assinado: Option<ConteudoDoReciboDeEnvio>,
    /// The recipient's recibo de conclusão as the sender fetches it, once accepted.
    #[serde(default)]
    pub recibo_de_conclusao_assinado: Option<ConteudoDoReciboDeTramite>,
    pub metadata: serde_json::Value,
}

impl<S: Store> Platform<S> {
    /// Forgets every trâmite, NRE, ticket and journal entry (control-plane reset). The registry,
    /// the configuration and the clock stay.
    pub fn reset(&self) {
        self.store.with(|state| *state = State::new());
        self.journal.clear();
        self.feed.send_modify(|version| *version += 1);
    }

    /// Adds or replaces an SPE (control plane).
    ///
    /// # Errors
    /// When one of its structures is unknown or answered for by another SPE.
    pub fn register(&self, spe: Spe) -> Result<(), RegistryError> {
        self.registry
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .register(spe)
    }

    /// Everything the platform knows of one trâmite (control plane; no authorisation).
    #[must_use]
    pub fn inspect(&self, idt: Idt) -> Option<Inspection> {
        self.with_state(self.clock.now(), |state| {
            let r = state.tramites.get(&idt)?;
            Some(Inspection {
                tramite: self.tramite_view(r),
                sender: r.sender.clone(),
                recipient: r.recipient.clone(),
                ticket: r.ticket,
                requested: r.requested.clone(),
                received: r.received.clone(),
                downloaded: r.downloaded.clone(),
                reproducao: r.reproducao,
                recibo_de_conclusao: r.recibo.as_ref().map(|x| x.data_de_recebimento.clone()),
                recibo_de_envio_assinado: self.signed_recibo_de_envio(r),
                recibo_de_conclusao_assinado: Self::signed_recibo(r),
                metadata: match &r.payload {
                    Payload::Processo(p) => serde_json::to_value(p).unwrap_or_default(),
                    Payload::Documento(d) => serde_json::to_value(d).unwrap_or_default(),
                },
            })
        })
    }

    /// The situação of a trâmite, for tests and the control plane.
    #[must_use]
    pub fn situacao(&self, idt: Idt) -> Option<Situacao> {
        self.with_state(self.clock.now(), |state| {
            state.tramites.get(&idt).map(|r| r.situacao)
        })
    }
}

#[cfg(test)]
mod tests {
    use pen_protocol::ids::Idt;

    use crate::platform::testing::fixture;

    #[test]
    fn an_inspection_carries_both_recibos_as_the_parties_fetch_them() {
        let f = fixture();
        let idt = f.concluded();
        let inspection = f.platform.inspect(idt).unwrap();
        assert_eq!(
            (inspection.sender.as_str(), inspection.recipient.as_str()),
            ("org-a", "org-b")
        );
        assert_eq!(inspection.received, inspection.downloaded);
        let envio = inspection.recibo_de_envio_assinado.unwrap();
        envio.verify().unwrap();
        assert_eq!(envio, f.platform.recibo_de_envio(&f.org_a, idt).unwrap());
        let conclusao = inspection.recibo_de_conclusao_assinado.unwrap();
        conclusao.verify().unwrap();
        assert_eq!(
            inspection.recibo_de_conclusao.as_deref(),
            Some("2025-06-02T10:00:00-03:00")
        );
        assert_eq!(inspection.metadata["protocolo"], "00394.000101/2025-61");
        assert!(f.platform.inspect(Idt(999)).is_none());
    }

    #[test]
    fn a_reset_forgets_the_tramites_and_the_journal_but_keeps_the_registry() {
        let f = fixture();
        let idt = f.sent();
        assert!(f.platform.journal().last_seq() > 0);
        f.platform.reset();
        assert_eq!(f.platform.situacao(idt), None);
        assert!(f.platform.pendencias(&f.org_b, false).is_empty());
        assert_eq!(f.platform.journal().since(0, 10, |_| true).entries.len(), 0);
        assert!(f.platform.registry(|r| r.spe("org-a").is_some()));
        f.sent();
    }
}
