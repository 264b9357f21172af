//! The pending feed: `GET tramites/pendentes` (what waits for each SPE), its long-poll variant,
//! and the legacy long-poll host that hands out one pendency at a time. Waits never hold the
//! state lock: they subscribe to the change counter first, then look, then wait.

use pen_protocol::api::{Pendencia, PendenciaLongPoll};

use super::{Platform, Store, Transaction};
use crate::registry::Spe;

impl<S: Store> Platform<S> {
    /// `GET tramites/pendentes`: what waits for the caller. With `only_undelivered`
    /// (`todas=false`), leaves out what the long-poll feed already delivered.
    #[must_use]
    pub fn pendencias(&self, spe: &Spe, only_undelivered: bool) -> Vec<Pendencia> {
        self.read(self.clock.now(), Vec::new(), |s| {
            pending_of(&**s, &spe.id, only_undelivered)
        })
    }

    /// The pending feed as a long-poll: answers at once when something waits for the caller,
    /// otherwise as soon as something does, or with `[]` after `timeout` (real time).
    pub async fn wait_pendencias(
        &self,
        spe: &Spe,
        only_undelivered: bool,
        timeout: std::time::Duration,
    ) -> Vec<Pendencia> {
        let deadline = tokio::time::Instant::now() + timeout;
        // Subscribed before looking, so a change between the look and the wait is not lost.
        let mut changes = self.feed.subscribe();
        loop {
            changes.mark_unchanged();
            let found = self.pendencias(spe, only_undelivered);
            if !found.is_empty() {
                return found;
            }
            match tokio::time::timeout_at(deadline, changes.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) | Err(_) => return found,
            }
        }
    }

    /// How many long-polls are waiting right now (for tests and the control plane).
    #[must_use]
    pub fn long_poll_waiters(&self) -> usize {
        self.feed.receiver_count()
    }

    /// The legacy long-poll host (`?idTramiteDaPendenciaRecebida=`): one pendency at a time,
    /// never the same (IDT, situação) twice; `{"encontrou": false}` after `timeout`.
    pub async fn next_pendencia(
        &self,
        spe: &Spe,
        timeout: std::time::Duration,
    ) -> PendenciaLongPoll {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut changes = self.feed.subscribe();
        loop {
            changes.mark_unchanged();
            let next = self.read(self.clock.now(), None, |s| {
                let first = pending_of(&**s, &spe.id, true).into_iter().next()?;
                s.update_tramite(first.idt, &mut |r| {
                    r.delivered.push((spe.id.clone(), first.status));
                });
                Some(first)
            });
            if let Some(p) = next {
                return PendenciaLongPoll {
                    encontrou: true,
                    idt: Some(p.idt),
                    status: Some(p.status),
                };
            }
            match tokio::time::timeout_at(deadline, changes.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) | Err(_) => {
                    return PendenciaLongPoll {
                        encontrou: false,
                        idt: None,
                        status: None,
                    }
                }
            }
        }
    }
}

fn pending_of(tx: &dyn Transaction, spe: &str, only_undelivered: bool) -> Vec<Pendencia> {
    tx.pending_for(spe)
        .into_iter()
        .filter_map(|i| tx.tramite(i))
        .filter(|r| !only_undelivered || !r.delivered_to(spe))
        .map(|r| Pendencia {
            idt: r.idt,
            status: r.situacao,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::testing::over_both_stores;
    use pen_protocol::situacao::Situacao;
    use std::time::Duration;

    over_both_stores! {
        #[test]
        fn a_tramite_waits_for_whoever_must_act_next() {
            let f = fixture();
            let idt = f.sent();
            let pending = |spe| f.platform.pendencias(spe, false);
            let status = Situacao::ComponentesEnviadosRemetente;
            assert_eq!(pending(&f.org_b), [Pendencia { idt, status }]);
            assert!(pending(&f.org_a).is_empty());

            let idt = f.concluded();
            let status = Situacao::ReciboEnviadoDestinatario;
            assert_eq!(pending(&f.org_a), [Pendencia { idt, status }]);
        }

        #[tokio::test(flavor = "current_thread")]
        async fn the_legacy_long_poll_hands_out_each_pendency_once() {
            let f = fixture();
            let idt = f.sent();
            let now = Duration::ZERO;
            let first = f.platform.next_pendencia(&f.org_b, now).await;
            assert!(first.encontrou);
            assert_eq!(first.idt, Some(idt));
            assert!(!f.platform.next_pendencia(&f.org_b, now).await.encontrou);
            assert!(
                f.platform.pendencias(&f.org_b, true).is_empty(),
                "todas=false leaves out what the long-poll delivered"
            );
            assert_eq!(f.platform.pendencias(&f.org_b, false).len(), 1);

            f.platform.metadados(&f.org_b, idt).unwrap();
            let moved = f.platform.next_pendencia(&f.org_b, now).await;
            assert_eq!(moved.status, Some(Situacao::MetadadosRecebidoDestinatario));
        }

        #[tokio::test(flavor = "current_thread")]
        async fn a_long_poll_wakes_when_something_starts_waiting() {
            let f = std::sync::Arc::new(fixture());
            let waiting = {
                let f = f.clone();
                tokio::spawn(async move {
                    f.platform
                        .wait_pendencias(&f.org_b, false, Duration::from_secs(60))
                        .await
                })
            };
            while f.platform.long_poll_waiters() == 0 {
                tokio::task::yield_now().await;
            }
            let idt = f.sent();
            let woke = waiting.await.unwrap();
            assert_eq!(woke.len(), 1);
            assert_eq!(woke[0].idt, idt);
        }
    }
}
