//! Receipts: the platform's recibo de envio as the sender fetches it, the recipient's recibo de
//! conclusão (verified against the certificate it authenticated with over the rebuilt canonical
//! text; 4 → 5) and the sender's fetch of it (5 → 6).

use std::sync::Arc;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use pen_protocol::api::{
    ConteudoDoReciboDeEnvio, ConteudoDoReciboDeTramite, EnvioDeReciboDeTramite, ReciboDeEnvio,
    ReciboDeTramite,
};
use pen_protocol::datetime;
use pen_protocol::error::ErrorKind;
use pen_protocol::ids::Idt;
use pen_protocol::receipt::ReciboDeConclusao;
use pen_protocol::situacao::{Actor, Event, Situacao};

use super::state::{StoredRecibo, TramiteRecord};
use super::{err, situacao_error, visible, Platform, Result, Store, Transaction};
use crate::config::ReceiptDate;
use crate::registry::Spe;

impl<S: Store> Platform<S> {
    /// `GET tramites/{idt}/recibo-de-envio` (sender).
    ///
    /// # Errors
    /// Foreign trâmite; "… ainda não recebeu todos os componentes digitais" before situação 2.
    pub fn recibo_de_envio(&self, spe: &Spe, idt: Idt) -> Result<ConteudoDoReciboDeEnvio> {
        self.run(self.clock.now(), |s| {
            let (r, role) = visible(&**s, spe, idt)?;
            if role != Actor::Sender {
                return Err(err(
                    ErrorKind::TramiteNaoAutorizado,
                    &[("idt", &idt.to_string())],
                ));
            }
            self.signed_recibo_de_envio(r).ok_or_else(|| {
                err(
                    ErrorKind::ComponentesNaoRecebidos,
                    &[("idt", &idt.grouped())],
                )
            })
        })
    }

    /// The recibo de envio of a trâmite as the sender receives it.
    pub(super) fn signed_recibo_de_envio(
        &self,
        r: &TramiteRecord,
    ) -> Option<ConteudoDoReciboDeEnvio> {
        let stored = r.recibo_de_envio.as_ref()?;
        Some(ConteudoDoReciboDeEnvio {
            recibo_de_envio: ReciboDeEnvio {
                idt: r.idt,
                nre: r.nre.clone(),
                data_de_recebimento_do_ultimo_componente_digital: Some(stored.data.clone()),
                hashes_dos_componentes_digitais: pen_protocol::receipt::sorted_hashes(
                    &stored.hashes,
                ),
            },
            cadeia_do_certificado: STANDARD.encode(&self.signer.certificate_der),
            hash_da_assinatura: stored.signature.clone(),
        })
    }

    /// The recipient's recibo de conclusão as the sender receives it.
    pub(super) fn signed_recibo(r: &TramiteRecord) -> Option<ConteudoDoReciboDeTramite> {
        let stored = r.recibo.as_ref()?;
        Some(ConteudoDoReciboDeTramite {
            recibo: ReciboDeTramite {
                idt: r.idt,
                nre: r.nre.clone(),
                data_de_recebimento: stored.data_de_recebimento.clone(),
                hashes_dos_componentes_digitais: pen_protocol::receipt::sorted_hashes(
                    &r.pending_for_recipient,
                ),
            },
            cadeia_do_certificado: STANDARD.encode(&stored.certificate_der),
            hash_da_assinatura: stored.signature.clone(),
        })
    }

    /// `POST tramites/{idt}/recibo` (recipient): verifies the signature over the rebuilt text
    /// with the certificate the caller authenticated with; 4 → 5.
    ///
    /// # Errors
    /// Wrong situação; `0024` when the signature does not verify or the date is unreadable.
    pub fn post_recibo(
        &self,
        spe: &Spe,
        certificate_der: &Arc<[u8]>,
        idt: Idt,
        body: &EnvioDeReciboDeTramite,
    ) -> Result<()> {
        let now = self.clock.now();
        loop {
            // The text the signature must cover is read under the lock; the RSA verification
            // runs outside it, and the result is applied only to the trâmite it was checked for.
            let recibo = self.run(now, |s| recibo_to_verify(&**s, spe, idt, body))?;
            self.verify_recibo(&recibo, certificate_der, &body.hash_da_assinatura)?;
            let stored = self.run(now, |s| {
                if recibo_to_verify(&**s, spe, idt, body)? != recibo {
                    return Ok(false);
                }
                let Some(r) = s.tramite(idt) else {
                    return Ok(false);
                };
                if let Some(window) = self.config.receipt_date_window {
                    let date = datetime::parse(&body.data_de_recebimento).map_err(|e| {
                        err(ErrorKind::ReciboNaoAceito, &[("motivo", &e.to_string())])
                    })?;
                    let earliest = r.last_download.unwrap_or(now) - window;
                    if date < earliest || date > now + window {
                        return Err(err(ErrorKind::ReciboNaoAceito, &[("motivo", "dataDeRecebimento fora do intervalo entre o último download e o momento atual")]));
                    }
                }
                let recipient = r.recipient.clone();
                s.update_tramite(idt, &mut |record| {
                    record.recibo = Some(StoredRecibo {
                        data_de_recebimento: body.data_de_recebimento.clone(),
                        signature: body.hash_da_assinatura.clone(),
                        certificate_der: certificate_der.clone(),
                    });
                });
                let _ = self.apply(s, idt, Actor::Recipient, Event::ReceiptPosted, now);
                // The recipient now holds what it received: a later trâmite of this NRE towards
                // it will not request these components again.
                s.update_nre(&recibo.nre, &mut |n| {
                    n.holders
                        .entry(recipient.clone())
                        .or_default()
                        .extend(recibo.hashes.iter().cloned());
                });
                Ok(true)
            })?;
            if stored {
                return Ok(());
            }
        }
    }

    /// Whether the recipient signed the recibo's text, as posted or (knob) with the date as
    /// UTC; `0024` with the text it was checked against otherwise.
    fn verify_recibo(
        &self,
        recibo: &ReciboDeConclusao,
        certificate_der: &[u8],
        signature: &str,
    ) -> Result<()> {
        let mut verified = recibo.verify(certificate_der, signature).is_ok();
        if !verified && self.config.receipt_date == ReceiptDate::AsSentOrUtc {
            verified = recibo
                .with_canonical_date()
                .is_ok_and(|c| c.verify(certificate_der, signature).is_ok());
        }
        if verified {
            return Ok(());
        }
        let motivo = format!(
            "a assinatura não confere com o certificado do sistema destinatário sobre o texto {}",
            recibo.canonical_text()
        );
        Err(err(ErrorKind::ReciboNaoAceito, &[("motivo", &motivo)]))
    }

    /// `GET tramites/{idt}/recibo` (sender): 5 → 6; readable again at 6.
    ///
    /// # Errors
    /// Foreign trâmite, no receipt yet.
    pub fn recibo(&self, spe: &Spe, idt: Idt) -> Result<ConteudoDoReciboDeTramite> {
        let now = self.clock.now();
        self.run(now, |s| {
            let (r, role) = visible(&**s, spe, idt)?;
            if role != Actor::Sender {
                return Err(err(
                    ErrorKind::TramiteNaoAutorizado,
                    &[("idt", &idt.to_string())],
                ));
            }
            let Some(view) = Self::signed_recibo(r) else {
                return Err(situacao_error("download de recibo de conclusão", r));
            };
            let _ = self.apply(s, idt, Actor::Sender, Event::ReceiptFetched, now);
            Ok(view)
        })
    }
}

/// The recibo de conclusão the recipient's signature must cover: the trâmite's NRE and the
/// components it had to download, dated as posted. Only for the recipient, only at 4.
fn recibo_to_verify(
    tx: &dyn Transaction,
    spe: &Spe,
    idt: Idt,
    body: &EnvioDeReciboDeTramite,
) -> Result<ReciboDeConclusao> {
    let (r, role) = visible(tx, spe, idt)?;
    if role != Actor::Recipient {
        return Err(err(
            ErrorKind::TramiteNaoAutorizado,
            &[("idt", &idt.to_string())],
        ));
    }
    if r.situacao != Situacao::ComponentesRecebidosDestinatario {
        return Err(situacao_error("envio de recibo de conclusão", r));
    }
    Ok(ReciboDeConclusao {
        idt,
        nre: r.nre.clone(),
        data_de_recebimento: body.data_de_recebimento.clone(),
        hashes: r.pending_for_recipient.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::testing::over_both_stores;
    use crate::platform::testing::refused;

    over_both_stores! {
        #[test]
        fn the_recibo_de_envio_is_the_senders_once_the_components_are_in() {
            let f = fixture();
            let (_, created) = f.open();
            let early = f.platform.recibo_de_envio(&f.org_a, created.idt);
            assert_eq!(refused(early), ErrorKind::ComponentesNaoRecebidos);
            let idt = f.sent();
            let by_recipient = f.platform.recibo_de_envio(&f.org_b, idt);
            assert_eq!(refused(by_recipient), ErrorKind::TramiteNaoAutorizado);
            f.platform
                .recibo_de_envio(&f.org_a, idt)
                .unwrap()
                .verify()
                .unwrap();
        }

        #[test]
        fn a_recibo_de_conclusao_that_verifies_moves_4_to_5_and_the_senders_fetch_to_6() {
            let f = fixture();
            let idt = f.received();
            let recibo = f.recibo_de_conclusao(idt, "2025-06-02T10:00:00-03:00");
            let certificate = &f.org_b_certificate;
            f.platform
                .post_recibo(&f.org_b, certificate, idt, &recibo)
                .unwrap();
            f.assert_situacao(idt, Situacao::ReciboEnviadoDestinatario);
            let again = f.platform.post_recibo(&f.org_b, certificate, idt, &recibo);
            assert_eq!(refused(again), ErrorKind::SituacaoNaoPermitida);

            let fetched = f.platform.recibo(&f.org_a, idt).unwrap();
            fetched.verify().unwrap();
            assert_eq!(fetched.hash_da_assinatura, recibo.hash_da_assinatura);
            f.assert_situacao(idt, Situacao::ReciboRecebidoRemetente);
            assert!(
                f.platform.recibo(&f.org_a, idt).is_ok(),
                "readable again at 6"
            );
        }

        #[test]
        fn a_recibo_verified_while_another_is_accepted_gets_the_situacao_error() {
            let f = fixture();
            let idt = f.received();
            let recibo = f.recibo_de_conclusao(idt, "2025-06-02T10:00:00-03:00");
            let (platform, org_b) = (Arc::downgrade(&f.platform), f.org_b.clone());
            let (certificate, first) = (f.org_b_certificate.clone(), recibo.clone());
            // The signature is verified with no lock held: a retry of the same post lands between
            // the read and the apply, and wins.
            f.platform.store.between(1, move || {
                let platform = platform.upgrade().unwrap();
                platform
                    .post_recibo(&org_b, &certificate, idt, &first)
                    .unwrap();
            });
            let late = f
                .platform
                .post_recibo(&f.org_b, &f.org_b_certificate, idt, &recibo)
                .unwrap_err();
            assert_eq!(late.kind, ErrorKind::SituacaoNaoPermitida);
            assert!(late.args.contains(&("situacao", "5".to_owned())), "{late}");
            f.assert_situacao(idt, Situacao::ReciboEnviadoDestinatario);
        }

        #[test]
        fn a_signature_over_another_text_is_0024_and_leaves_the_tramite_at_4() {
            let f = fixture();
            let idt = f.received();
            let mut recibo = f.recibo_de_conclusao(idt, "2025-06-02T10:00:00-03:00");
            recibo.data_de_recebimento = "2025-06-02T10:00:01-03:00".to_owned();
            let posted = f
                .platform
                .post_recibo(&f.org_b, &f.org_b_certificate, idt, &recibo)
                .unwrap_err();
            assert_eq!(posted.kind, ErrorKind::ReciboNaoAceito);
            let motivo = &posted.args[0].1;
            assert!(motivo.contains("2025-06-02T10:00:01-03:00"), "{motivo}");
            f.assert_situacao(idt, Situacao::ComponentesRecebidosDestinatario);
        }

        #[test]
        fn the_utc_rendering_of_the_date_is_accepted_by_default() {
            let f = fixture();
            let idt = f.received();
            let recibo = f.recibo_de_conclusao(idt, "2025-06-02T13:00:00.000Z");
            let posted = EnvioDeReciboDeTramite {
                data_de_recebimento: "2025-06-02T10:00:00-03:00".to_owned(),
                ..recibo
            };
            f.platform
                .post_recibo(&f.org_b, &f.org_b_certificate, idt, &posted)
                .unwrap();
            f.assert_situacao(idt, Situacao::ReciboEnviadoDestinatario);
        }
    }
}
