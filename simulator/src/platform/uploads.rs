//! Uploads under a ticket: what a sender may upload (`upload_target`), the checks of a part and
//! of the end of a chunked upload, the check and the acceptance of a whole component (the two
//! calls `crate::intake` makes around committing the bytes), and the move to situação 2 with
//! the platform's recibo de envio once every requested component is in: signed between the
//! section that finds the trâmite complete and the one that moves it, never under the lock (an
//! open with nothing to upload does the same around its own section, see `open`).

use pen_protocol::datetime;
use pen_protocol::error::ErrorKind;
use pen_protocol::hash::ComponentHash;
use pen_protocol::ids::{Idt, Ticket};
use pen_protocol::ranges::PartRange;
use pen_protocol::receipt::ReciboDeEnvioTexto;
use pen_protocol::situacao::{Actor, Event, Situacao};
use time::OffsetDateTime;

use super::state::{self, StoredReciboDeEnvio, TramiteRecord};
use super::{err, Platform, Result, Section, Store, Transaction};
use crate::registry::Spe;

impl<S: Store> Platform<S> {
    /// The declared size of a component the caller may upload with this ticket.
    ///
    /// # Errors
    /// Unknown ticket, not the caller's, trâmite not waiting for components, hash not requested.
    pub fn upload_target(
        &self,
        spe: &Spe,
        ticket: Ticket,
        hash: &str,
        protocolo: &str,
    ) -> Result<u64> {
        let upload = Upload {
            spe,
            ticket,
            hash,
            protocolo,
        };
        self.run(self.clock.now(), |s| upload.target(&**s))
    }

    /// Checks one part of a chunked upload against the declared size.
    ///
    /// # Errors
    /// As [`Platform::upload_target`], and "A parte informada ultrapassa…" beyond the size.
    pub fn check_part(
        &self,
        spe: &Spe,
        ticket: Ticket,
        hash: &str,
        protocolo: &str,
        range: PartRange,
    ) -> Result<u64> {
        let size = self.upload_target(spe, ticket, hash, protocolo)?;
        if !range.fits(size) {
            return Err(err(ErrorKind::ParteUltrapassaTamanho, &[]));
        }
        if range.len() > self.config.limits.max_part_bytes {
            return Err(err(
                ErrorKind::CorpoMuitoGrande,
                &[("limite", &self.config.limits.max_part_bytes.to_string())],
            ));
        }
        Ok(size)
    }

    /// Records a stored part.
    pub fn record_part(&self, ticket: Ticket, hash: &str, range: PartRange) {
        let now = self.clock.now();
        self.read(now, (), |s| s.add_part(ticket, hash, range));
    }

    /// Bytes still missing from a chunked upload (for `sinalizacao-termino-envio`).
    ///
    /// # Errors
    /// As [`Platform::upload_target`], and when parts leave gaps.
    pub fn check_parts_complete(
        &self,
        spe: &Spe,
        ticket: Ticket,
        hash: &str,
        protocolo: &str,
    ) -> Result<u64> {
        let size = self.upload_target(spe, ticket, hash, protocolo)?;
        let missing = self.run(self.clock.now(), |s| {
            Ok(s.parts(ticket, hash).map_or(size, |p| p.missing(size)))
        })?;
        if missing > 0 {
            return Err(err(
                ErrorKind::PartesIncompletas,
                &[("hash", hash), ("faltam", &missing.to_string())],
            ));
        }
        Ok(size)
    }

    /// Whether [`Platform::accept_component`] would take these bytes now: the answer it would
    /// give, without changing anything. Asked before the bytes are committed, so that a refused
    /// upload never reaches the component store.
    ///
    /// # Errors
    /// Size or hash mismatch, and the errors of [`Platform::upload_target`].
    pub fn check_component(
        &self,
        spe: &Spe,
        ticket: Ticket,
        hash: &str,
        protocolo: &str,
        computed: ComponentHash,
        len: u64,
    ) -> Result<()> {
        let upload = Upload {
            spe,
            ticket,
            hash,
            protocolo,
        };
        self.run(self.clock.now(), |s| upload.check(&**s, computed, len))
    }

    /// Accepts a component whose bytes were hashed while they streamed and are already readable
    /// in the component store: moving a trâmite to situação 2 puts it in the recipient's feed,
    /// and a recipient may download the instant it sees it. Moves every trâmite of the ticket
    /// that now has all its components to situação 2.
    ///
    /// # Errors
    /// As [`Platform::check_component`] (checked again: the trâmite may have moved since).
    pub fn accept_component(
        &self,
        spe: &Spe,
        ticket: Ticket,
        hash: &str,
        protocolo: &str,
        computed: ComponentHash,
        len: u64,
    ) -> Result<()> {
        let upload = Upload {
            spe,
            ticket,
            hash,
            protocolo,
        };
        let now = self.clock.now();
        let mut signed: Vec<Signed> = Vec::new();
        loop {
            // Checked on the first pass only, as a check followed by the acceptance would be: a
            // later pass only signs what the first could not foresee.
            let first_pass = signed.is_empty();
            let unsigned = self.run(now, |s| {
                if first_pass {
                    upload.check(&**s, computed, len)?;
                }
                let idts = s.tramites_of_ticket(ticket);
                let completing: Vec<Idt> = idts
                    .iter()
                    .filter(|i| {
                        s.tramite(**i).is_some_and(|r| {
                            r.requested.iter().any(|h| h == hash) && complete_with(r, Some(hash))
                        })
                    })
                    .copied()
                    .collect();
                let unsigned = unsigned_among(&**s, &completing, &signed, now);
                if !unsigned.is_empty() {
                    return Ok(unsigned);
                }
                s.remove_parts(ticket, hash);
                for idt in &idts {
                    let waiting = s.tramite(*idt).is_some_and(|r| {
                        r.situacao == Situacao::Iniciado && r.requested.iter().any(|h| h == hash)
                    });
                    if waiting {
                        s.update_tramite(*idt, &mut |r| state::insert_once(&mut r.received, hash));
                    }
                }
                for done in signed.iter().filter(|x| completing.contains(&x.idt)) {
                    self.components_complete(s, done, now);
                }
                Ok(Vec::new())
            })?;
            if unsigned.is_empty() {
                return Ok(());
            }
            signed.extend(self.sign_recibos_de_envio(unsigned));
        }
    }

    /// Whether some trâmite received a component with this hash (its bytes must stay).
    #[must_use]
    pub fn holds_component(&self, hash: &ComponentHash) -> bool {
        let hash = hash.to_base64();
        self.store
            .transact(|tx| tx.holds_component(&hash), |_| {})
            // Unknown is "held": the bytes stay, which is harmless.
            .unwrap_or(true)
    }

    /// Signs recibos de envio, outside the state lock: RSA is the expensive part of 1 → 2.
    pub(super) fn sign_recibos_de_envio(&self, texts: Vec<ReciboDeEnvioTexto>) -> Vec<Signed> {
        texts
            .into_iter()
            .map(|texto| {
                // Signing with a loaded RSA key does not fail in practice; an empty signature
                // would only make a verifying client reject the receipt, the honest outcome.
                let signature = self
                    .signer
                    .signer
                    .sign(&texto.canonical_text())
                    .unwrap_or_default();
                Signed {
                    idt: texto.idt,
                    recibo: StoredReciboDeEnvio {
                        data: texto.data_do_ultimo_componente.unwrap_or_default(),
                        hashes: texto.hashes,
                        signature,
                    },
                }
            })
            .collect()
    }

    /// 1 → 2 with the recibo de envio signed for it: freezes what the recipient must download.
    /// Nothing happens to a trâmite that moved on, or lacks a component, since it was signed for.
    pub(super) fn components_complete(
        &self,
        s: &mut Section<'_>,
        signed: &Signed,
        now: OffsetDateTime,
    ) {
        let idt = signed.idt;
        let still = s
            .tramite(idt)
            .is_some_and(|r| complete_with(r, None) && r.requested == signed.recibo.hashes);
        if !still || self.apply(s, idt, Actor::Platform, Event::ComponentsUploaded, now) != Ok(true)
        {
            return;
        }
        s.update_tramite(idt, &mut |r| {
            r.pending_for_recipient.clone_from(&r.requested);
            r.recibo_de_envio = Some(signed.recibo.clone());
        });
    }
}

/// A recibo de envio signed before the critical section that moves its trâmite to 2.
#[derive(Debug, Clone)]
pub(super) struct Signed {
    pub idt: Idt,
    pub recibo: StoredReciboDeEnvio,
}

/// Whether a trâmite at 1 has every requested component, counting `arriving` as in.
pub(super) fn complete_with(r: &TramiteRecord, arriving: Option<&str>) -> bool {
    r.situacao == Situacao::Iniciado
        && r.requested
            .iter()
            .all(|h| Some(h.as_str()) == arriving || r.received.contains(h))
}

/// The recibo de envio a trâmite gets when its last component arrives at `now`.
pub(super) fn recibo_de_envio_texto(r: &TramiteRecord, now: OffsetDateTime) -> ReciboDeEnvioTexto {
    ReciboDeEnvioTexto {
        idt: r.idt,
        nre: r.nre.clone(),
        data_do_ultimo_componente: Some(datetime::format_with_offset(now, datetime::BRASILIA)),
        hashes: r.requested.clone(),
    }
}

/// The recibos still to sign for the trâmites among `idts` about to complete.
fn unsigned_among(
    tx: &dyn Transaction,
    idts: &[Idt],
    signed: &[Signed],
    now: OffsetDateTime,
) -> Vec<ReciboDeEnvioTexto> {
    idts.iter()
        .filter(|i| !signed.iter().any(|s| s.idt == **i))
        .filter_map(|i| tx.tramite(*i))
        .map(|r| recibo_de_envio_texto(r, now))
        .collect()
}

/// One component arriving under a ticket, as declared by its sender.
#[derive(Debug, Clone, Copy)]
struct Upload<'a> {
    spe: &'a Spe,
    ticket: Ticket,
    hash: &'a str,
    protocolo: &'a str,
}

impl Upload<'_> {
    /// The declared size of the component, if its sender may upload it under the ticket now.
    fn target(&self, tx: &dyn Transaction) -> Result<u64> {
        let Upload {
            spe,
            ticket,
            hash,
            protocolo,
        } = *self;
        let invalid = || {
            err(
                ErrorKind::TicketInvalido,
                &[("ticket", &ticket.to_string())],
            )
        };
        let records: Vec<&TramiteRecord> = tx
            .tramites_of_ticket(ticket)
            .into_iter()
            .filter_map(|i| tx.tramite(i))
            .collect();
        if records.is_empty() || records.iter().any(|r| r.sender != spe.id) {
            return Err(invalid());
        }
        let waiting: Vec<&&TramiteRecord> = records
            .iter()
            .filter(|r| r.situacao == Situacao::Iniciado)
            .collect();
        let Some(first) = waiting.first() else {
            return Err(invalid());
        };
        let requested = waiting
            .iter()
            .any(|r| r.requested.iter().any(|h| h == hash));
        let component = first.component(hash).filter(|_| requested);
        component.map(|c| c.size).ok_or_else(|| {
            err(
                ErrorKind::ComponenteNaoSolicitado,
                &[("hash", hash), ("protocolo", protocolo)],
            )
        })
    }

    /// Whether these bytes are the component declared, and may be uploaded now.
    fn check(&self, tx: &dyn Transaction, computed: ComponentHash, len: u64) -> Result<()> {
        let hash = self.hash;
        let size = self.target(tx)?;
        if len != size {
            return Err(err(
                ErrorKind::TamanhoNaoConfere,
                &[
                    ("recebido", &len.to_string()),
                    ("informado", &size.to_string()),
                ],
            ));
        }
        if computed.to_base64() != hash {
            return Err(err(
                ErrorKind::HashNaoConfere,
                &[("calculado", &computed.to_base64()), ("hash", hash)],
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::testing::over_both_stores;
    use crate::platform::testing::{refused, size_of};
    use std::sync::Arc;

    over_both_stores! {
        #[test]
        fn a_component_is_refused_before_anything_changes_when_size_or_hash_differ() {
            let f = fixture();
            let (processo, created) = f.open();
            let ticket = created.ticket_para_envio_de_componentes_digitais;
            let asked = &created.processos_com_componentes_digitais_solicitados[0];
            let hash = &asked.hashes[0];
            let size = size_of(&processo, hash);
            let right = ComponentHash::from_base64(hash).unwrap();
            let wrong = pen_protocol::hash::hash_bytes(b"outro conteudo");
            let check = |computed, len| {
                f.platform
                    .check_component(&f.org_a, ticket, hash, &asked.protocolo, computed, len)
            };

            assert_eq!(
                refused(check(right, size + 1)),
                ErrorKind::TamanhoNaoConfere
            );
            assert_eq!(refused(check(wrong, size)), ErrorKind::HashNaoConfere);
            check(right, size).unwrap();
            f.assert_situacao(created.idt, Situacao::Iniciado);
            let by_recipient = f
                .platform
                .upload_target(&f.org_b, ticket, hash, &asked.protocolo);
            assert_eq!(refused(by_recipient), ErrorKind::TicketInvalido);
        }

        #[test]
        fn the_last_component_moves_to_2_with_a_recibo_de_envio_that_verifies() {
            let f = fixture();
            let (processo, created) = f.open_sample("processo-varios-documentos");
            let hashes = created.processos_com_componentes_digitais_solicitados[0]
                .hashes
                .clone();
            assert!(hashes.len() > 1, "the sample has several components");
            for (i, hash) in hashes.iter().enumerate() {
                f.assert_situacao(created.idt, Situacao::Iniciado);
                f.upload(&processo, &created, hash).unwrap();
                let pending = f.platform.inspect(created.idt).unwrap();
                assert_eq!(pending.received.len(), i + 1);
            }
            f.assert_situacao(created.idt, Situacao::ComponentesEnviadosRemetente);
            let recibo = f.platform.recibo_de_envio(&f.org_a, created.idt).unwrap();
            recibo.verify().unwrap();
            assert_eq!(
                recibo.recibo_de_envio.hashes_dos_componentes_digitais,
                pen_protocol::receipt::sorted_hashes(&hashes)
            );
            assert_eq!(
                recibo
                    .recibo_de_envio
                    .data_de_recebimento_do_ultimo_componente_digital
                    .as_deref(),
                Some("2025-06-02T10:00:00.000-03:00")
            );
        }

        #[test]
        fn the_recibo_de_envio_is_signed_between_two_sections_and_applied_only_if_still_due() {
            let f = fixture();
            let (processo, created) = f.open();
            let idt = created.idt;
            let hash = created.processos_com_componentes_digitais_solicitados[0].hashes[0].clone();
            let (platform, org_a) = (Arc::downgrade(&f.platform), f.org_a.clone());
            // The acceptance of the last component reads what to sign, signs with no lock held, then
            // applies: the sender cancels in between, as a concurrent request could.
            f.platform.store.between(1, move || {
                let platform = platform.upgrade().unwrap();
                platform.cancelar(&org_a, idt).unwrap();
            });
            f.upload(&processo, &created, &hash).unwrap();
            f.assert_situacao(idt, Situacao::Cancelado);
            let inspection = f.platform.inspect(idt).unwrap();
            assert!(inspection.recibo_de_envio_assinado.is_none());
            assert!(
                inspection.received.is_empty(),
                "a cancelled trâmite takes nothing"
            );
        }

        #[test]
        fn a_component_that_is_not_the_last_is_taken_in_one_section() {
            let f = fixture();
            let (processo, created) = f.open_sample("processo-varios-documentos");
            let hashes = &created.processos_com_componentes_digitais_solicitados[0].hashes;
            let (platform, org_a, idt) = (Arc::downgrade(&f.platform), f.org_a.clone(), created.idt);
            // Were the first upload to stop between sections, this cancellation would land first.
            f.platform.store.between(1, move || {
                platform.upgrade().unwrap().cancelar(&org_a, idt).unwrap();
            });
            f.upload(&processo, &created, &hashes[0]).unwrap();
            assert_eq!(f.platform.inspect(idt).unwrap().received.len(), 1);
            f.assert_situacao(idt, Situacao::Cancelado);
        }

        #[test]
        fn the_end_of_a_chunked_upload_counts_the_bytes_still_missing() {
            let f = fixture();
            let (processo, created) = f.open();
            let ticket = created.ticket_para_envio_de_componentes_digitais;
            let asked = &created.processos_com_componentes_digitais_solicitados[0];
            let hash = &asked.hashes[0];
            let size = size_of(&processo, hash);
            let part = |inicio, fim| PartRange { inicio, fim };
            let finish = || {
                f.platform
                    .check_parts_complete(&f.org_a, ticket, hash, &asked.protocolo)
            };

            let beyond =
                f.platform
                    .check_part(&f.org_a, ticket, hash, &asked.protocolo, part(0, size + 1));
            assert_eq!(refused(beyond), ErrorKind::ParteUltrapassaTamanho);
            f.platform.record_part(ticket, hash, part(0, 1000));
            let missing = finish().unwrap_err();
            assert_eq!(missing.kind, ErrorKind::PartesIncompletas);
            assert!(missing
                .args
                .contains(&("faltam", (size - 1000).to_string())));
            f.platform.record_part(ticket, hash, part(1000, size));
            assert_eq!(finish().unwrap(), size);
        }
    }
}
