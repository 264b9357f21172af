//! The control plane's operations: reset, registering an SPE, and inspecting a trâmite (with no
//! authorisation: what only the platform knows, and both recibos as the parties fetch them).

use std::sync::PoisonError;

use pen_protocol::api::{ConteudoDoReciboDeEnvio, ConteudoDoReciboDeTramite, Tramite};
use pen_protocol::ids::{Idt, Ticket};
use pen_protocol::situacao::Situacao;

use super::state::Payload;
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
    /// Forgets every trâmite, NRE, upload in progress and journal entry (control-plane reset).
    /// The registry, the configuration, the clock and the identifier counters stay: an IDT, NRE
    /// or ticket issued before a reset is never issued again.
    pub fn reset(&self) {
        let now = self.clock.now();
        self.read(now, (), |s| {
            s.clear();
            s.effects.feed = true;
        });
        self.journal.clear();
    }

    /// Adds or replaces an SPE (control plane); a durable store keeps it across restarts.
    ///
    /// # Errors
    /// When one of its structures is unknown or answered for by another SPE.
    pub fn register(&self, spe: Spe) -> Result<(), RegistryError> {
        let kept = spe.clone();
        self.registry
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .register(spe)?;
        // Not under the registry's lock: no lock is ever taken inside another's section.
        if let Err(e) = self.store.transact(|tx| tx.save_spe(&kept), |()| {}) {
            tracing::error!(error = %e, spe = %kept.id, "a registered SPE could not be kept");
        }
        Ok(())
    }

    /// Everything the platform knows of one trâmite (control plane; no authorisation).
    #[must_use]
    pub fn inspect(&self, idt: Idt) -> Option<Inspection> {
        self.read(self.clock.now(), None, |s| {
            let r = s.tramite(idt)?;
            let payload = s.payload(idt)?;
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
                metadata: match payload.as_ref() {
                    Payload::Processo(p) => serde_json::to_value(p).unwrap_or_default(),
                    Payload::Documento(d) => serde_json::to_value(d).unwrap_or_default(),
                },
            })
        })
    }

    /// The situação of a trâmite, for tests and the control plane.
    #[must_use]
    pub fn situacao(&self, idt: Idt) -> Option<Situacao> {
        self.read(self.clock.now(), None, |s| {
            s.tramite(idt).map(|r| r.situacao)
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::platform::testing::over_both_stores;
    use pen_protocol::ids::Idt;

    over_both_stores! {
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
            let nre_before = f.platform.inspect(idt).unwrap().tramite.nre;
            assert!(f.platform.journal().last_seq() > 0);
            f.platform.reset();
            assert_eq!(f.platform.situacao(idt), None);
            assert!(f.platform.pendencias(&f.org_b, false).is_empty());
            assert_eq!(f.platform.journal().since(0, 10, |_| true).entries.len(), 0);
            assert!(f.platform.registry(|r| r.spe("org-a").is_some()));
            let again = f.sent();
            assert!(again > idt, "an IDT is never issued twice, a reset notwithstanding");
            assert!(f.platform.inspect(idt).is_none());
            assert_ne!(
                f.platform.inspect(again).unwrap().tramite.nre,
                nre_before,
                "nor an NRE"
            );
        }
    }

    /// What only the durable store promises: a restart resumes exactly where it stopped.
    mod durable {
        use pen_protocol::ids::Idt;

        use crate::config::PlatformConfig;
        use crate::platform::testing::{fixture_on, StoreKind};

        #[test]
        fn a_restart_resumes_every_tramite_with_its_recibos_and_the_counters() {
            let f = fixture_on(StoreKind::Sqlite, PlatformConfig::default());
            let concluded = f.concluded();
            f.platform.recibo(&f.org_a, concluded).unwrap();
            let waiting = f.sent();
            let (_, started) = f.open();
            let inspect = |f: &crate::platform::testing::Fixture| -> Vec<String> {
                [concluded, waiting, started.idt]
                    .iter()
                    .map(|i| serde_json::to_string(&f.platform.inspect(*i).unwrap()).unwrap())
                    .collect()
            };
            let before = inspect(&f);
            let last_seq = f.platform.journal().last_seq();
            let pending = f.platform.pendencias(&f.org_b, false);

            let f = f.restarted();
            assert_eq!(inspect(&f), before);
            assert_eq!(f.platform.pendencias(&f.org_b, false), pending);
            assert_eq!(
                f.platform.journal().last_seq(),
                last_seq,
                "the journal went on"
            );
            assert_eq!(
                f.platform.recibo_de_envio(&f.org_a, waiting).unwrap(),
                f.platform
                    .inspect(waiting)
                    .unwrap()
                    .recibo_de_envio_assinado
                    .unwrap()
            );
            let next = f.sent();
            assert!(next > started.idt, "counters go on after a restart");
            assert!(f.platform.inspect(Idt(next.0 + 1)).is_none());
        }

        #[test]
        fn an_spe_registered_through_the_control_plane_survives_a_restart() {
            let f = fixture_on(StoreKind::Sqlite, PlatformConfig::default());
            let org_c = f.platform.registry(|r| r.spe("org-c").cloned()).unwrap();
            let renamed = crate::registry::Spe {
                nome: "Órgão C, renomeado".to_owned(),
                ..org_c
            };
            f.platform.register(renamed.clone()).unwrap();
            let f = f.restarted();
            assert_eq!(
                f.platform.registry(|r| r.spe("org-c").cloned()),
                Some(renamed)
            );
        }
    }
}
