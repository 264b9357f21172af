//! The trâmite's life after opening, other than uploads, reads and receipts: the sender's
//! cancellation (1–4 → 7), the recipient's refusal (2–4 → 8), the sender's ciência of a refusal
//! (8 → 9), and the automatic cancellation of idle trâmites (1–4 → 10) with the timer that drives
//! it.

use pen_protocol::api::Recusa;
use pen_protocol::error::{validation_list, ErrorKind};
use pen_protocol::ids::Idt;
use pen_protocol::situacao::{Actor, Event};
use pen_protocol::tables::JUSTIFICATIVA_MAX_CHARS;
use time::OffsetDateTime;

use super::state::TramiteRecord;
use super::{err, situacao_error, visible, Platform, Result, Section, Store};
use crate::registry::Spe;

impl<S: Store> Platform<S> {
    /// Cancels (situação 10) every trâmite in 1–4 idle for longer than the configured period.
    pub(super) fn sweep(&self, s: &mut Section<'_>, now: OffsetDateTime) {
        while let Some((deadline, idt)) = s.next_deadline() {
            if deadline > now {
                break;
            }
            // The deadline was set when the trâmite entered its situação; it expires then.
            if self
                .apply(s, idt, Actor::Platform, Event::AutoCancel, deadline)
                .ok()
                != Some(true)
            {
                // Not cancellable after all (never set outside 1–4): it must not come back.
                s.update_tramite(idt, &mut |r| r.idle_deadline = None);
            }
        }
    }

    /// A party's event on a trâmite, and `then` on the record it changed, in one critical
    /// section: nobody sees the new situação without what comes with it.
    fn event(
        &self,
        spe: &Spe,
        idt: Idt,
        expected: Actor,
        event: Event,
        operacao: &str,
        mut then: impl FnMut(&mut TramiteRecord),
    ) -> Result<()> {
        let now = self.clock.now();
        self.run(now, |s| {
            let (r, role) = visible(&**s, spe, idt)?;
            if role != expected {
                return Err(err(
                    ErrorKind::TramiteNaoAutorizado,
                    &[("idt", &idt.to_string())],
                ));
            }
            let snapshot = situacao_error(operacao, r);
            self.apply(s, idt, role, event, now).map_err(|_| snapshot)?;
            s.update_tramite(idt, &mut then);
            Ok(())
        })
    }

    /// `DELETE tramites/{idt}` (sender): 1–4 → 7.
    ///
    /// # Errors
    /// Foreign trâmite or a situação that cannot be cancelled.
    pub fn cancelar(&self, spe: &Spe, idt: Idt) -> Result<()> {
        self.event(
            spe,
            idt,
            Actor::Sender,
            Event::Cancel,
            "cancelamento de trâmite",
            |_| {},
        )
    }

    /// `POST tramites/{idt}/recusa` (recipient): 2–4 → 8.
    ///
    /// # Errors
    /// Foreign trâmite, wrong situação, empty or too long justificativa.
    pub fn recusar(&self, spe: &Spe, idt: Idt, recusa: &Recusa) -> Result<()> {
        let chars = recusa.justificativa.chars().count();
        if recusa.justificativa.trim().is_empty() || chars > JUSTIFICATIVA_MAX_CHARS {
            let erro = format!("justificativa deve ter entre 1 e {JUSTIFICATIVA_MAX_CHARS} caracteres (recebidos {chars})");
            return Err(err(
                ErrorKind::ValidacaoDeCampos,
                &[("erros", &validation_list(&[erro]))],
            ));
        }
        self.event(
            spe,
            idt,
            Actor::Recipient,
            Event::Refuse,
            "recusa de trâmite",
            |r| r.recusa = Some((recusa.motivo, recusa.justificativa.clone())),
        )
    }

    /// `GET tramites/{idt}/ciencia` (sender): 8 → 9.
    ///
    /// # Errors
    /// Foreign trâmite or not refused.
    pub fn ciencia(&self, spe: &Spe, idt: Idt) -> Result<()> {
        self.event(
            spe,
            idt,
            Actor::Sender,
            Event::AcknowledgeRefusal,
            "ciência de recusa",
            |_| {},
        )
    }

    /// Lets the automatic cancellation catch up with the clock (called by the timer task).
    pub fn tick(&self) {
        self.read(self.clock.now(), (), |_| ());
    }

    /// The next instant the automatic cancellation has something to do.
    #[must_use]
    pub fn next_deadline(&self) -> Option<OffsetDateTime> {
        self.store
            .transact(|tx| tx.next_deadline().map(|(at, _)| at), |_| {})
            .ok()
            .flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::testing::over_both_stores;
    use crate::platform::testing::refused;
    use pen_protocol::situacao::Situacao;
    use pen_protocol::tables::MotivoRecusa;

    over_both_stores! {
        #[test]
        fn a_tramite_idle_for_the_configured_period_is_cancelled_when_it_expires() {
            let f = fixture();
            let idt = f.sent();
            let period = f.platform.config().auto_cancel_after;
            let deadline = f.platform.clock().now() + period;
            assert_eq!(f.platform.next_deadline(), Some(deadline));

            f.clock.advance(period - std::time::Duration::from_secs(1));
            f.platform.tick();
            f.assert_situacao(idt, Situacao::ComponentesEnviadosRemetente);
            f.clock.advance(std::time::Duration::from_secs(3600));
            f.assert_situacao(idt, Situacao::CanceladoAutomaticamente);
            let history = f
                .platform
                .inspect(idt)
                .unwrap()
                .tramite
                .mudancas_de_situacao;
            let last = history.last().unwrap();
            assert_eq!(last.situacao, Situacao::CanceladoAutomaticamente);
            assert_eq!(
                last.data_hora,
                f.platform.timestamp(deadline),
                "dated when it expired, not when someone looked"
            );
            assert_eq!(f.platform.next_deadline(), None);
        }

        #[test]
        fn a_change_of_situacao_restarts_the_idle_period() {
            let f = fixture();
            let idt = f.sent();
            let period = f.platform.config().auto_cancel_after;
            f.clock.advance(period / 2);
            f.platform.metadados(&f.org_b, idt).unwrap();
            f.clock
                .advance(period / 2 + std::time::Duration::from_secs(1));
            f.assert_situacao(idt, Situacao::MetadadosRecebidoDestinatario);
        }

        #[test]
        fn a_refusal_and_its_motivo_land_in_one_critical_section() {
            // The fixture's store checks after every section that a trâmite at 8 has its motivo: a
            // refusal applied in two sections would fail here, whoever else reads in between.
            let f = fixture();
            let idt = f.read();
            let recusa = Recusa {
                justificativa: "Espécie documental não mapeada".to_owned(),
                motivo: MotivoRecusa::EspecieNaoMapeada,
            };
            f.platform.recusar(&f.org_b, idt, &recusa).unwrap();
            let tramite = f.platform.inspect(idt).unwrap().tramite;
            assert_eq!(tramite.situacao_atual, Situacao::Recusado);
            assert_eq!(
                tramite.motivo_da_recusa,
                Some(MotivoRecusa::EspecieNaoMapeada)
            );
            assert_eq!(
                tramite.justificativa_da_recusa.as_deref(),
                Some("Espécie documental não mapeada")
            );
            f.platform.ciencia(&f.org_a, idt).unwrap();
            f.assert_situacao(idt, Situacao::CienciaRecusa);
        }

        #[test]
        fn a_refusal_needs_a_justificativa_and_the_recipient() {
            let f = fixture();
            let idt = f.read();
            let empty = Recusa {
                justificativa: "  ".to_owned(),
                motivo: MotivoRecusa::Outro,
            };
            let refused_empty = f.platform.recusar(&f.org_b, idt, &empty);
            assert_eq!(refused(refused_empty), ErrorKind::ValidacaoDeCampos);
            let by_sender = Recusa {
                justificativa: "Não é minha".to_owned(),
                ..empty
            };
            let refused_sender = f.platform.recusar(&f.org_a, idt, &by_sender);
            assert_eq!(refused(refused_sender), ErrorKind::TramiteNaoAutorizado);
            f.assert_situacao(idt, Situacao::MetadadosRecebidoDestinatario);
        }

        #[test]
        fn only_the_sender_cancels_and_only_until_the_recibo() {
            let f = fixture();
            let idt = f.sent();
            assert_eq!(
                refused(f.platform.cancelar(&f.org_b, idt)),
                ErrorKind::TramiteNaoAutorizado
            );
            f.platform.cancelar(&f.org_a, idt).unwrap();
            f.assert_situacao(idt, Situacao::Cancelado);

            let concluded = f.concluded();
            assert_eq!(
                refused(f.platform.cancelar(&f.org_a, concluded)),
                ErrorKind::SituacaoNaoPermitida
            );
        }
    }
}
