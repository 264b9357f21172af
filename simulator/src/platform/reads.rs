//! Reads of a trâmite: its metadata (`GET tramites/{idt}`, the recipient's first read moves
//! 2 → 3), the search `GET tramites`, and component downloads (the last pending one moves
//! 3 → 4).

use pen_protocol::api::{ConsultaDeTramites, Metadados, MudancaDeSituacao, Tramite};
use pen_protocol::error::ErrorKind;
use pen_protocol::hash::ComponentHash;
use pen_protocol::ids::{Idt, Nre};
use pen_protocol::model::EstruturaOrganizacional;
use pen_protocol::ranges::PartRange;
use pen_protocol::situacao::{Actor, Event, Situacao};

use super::state::{self, Payload, TramiteRecord};
use super::{err, situacao_error, visible, Platform, Result, Store};
use crate::registry::Spe;

/// What an accepted component download serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DownloadPlan {
    pub hash: ComponentHash,
    pub range: PartRange,
}

/// A filter on a unit where either member may be given alone.
#[derive(Debug, Clone, Default)]
pub struct UnitFilter {
    pub repositorio: Option<u64>,
    pub estrutura: Option<String>,
}

impl UnitFilter {
    fn matches(&self, unit: &EstruturaOrganizacional) -> bool {
        self.repositorio
            .is_none_or(|r| r == unit.identificacao_do_repositorio_de_estruturas)
            && self
                .estrutura
                .as_ref()
                .is_none_or(|e| e == &unit.numero_de_identificacao_da_estrutura)
    }
}

/// `GET tramites` filters (`rest-v3.md` §2.7).
#[derive(Debug, Clone, Default)]
pub struct TramiteQuery {
    pub idt: Option<Idt>,
    pub nre: Option<Nre>,
    pub remetente: UnitFilter,
    pub destinatario: UnitFilter,
    pub protocolo: Option<String>,
    pub situacao_atual: Option<Situacao>,
    pub quantidade_de_registros: Option<u64>,
}

impl<S: Store> Platform<S> {
    /// `GET tramites/{idt}`: the metadata; the recipient's first read moves 2 → 3.
    ///
    /// # Errors
    /// Unknown or foreign trâmite.
    pub fn metadados(&self, spe: &Spe, idt: Idt) -> Result<Metadados> {
        let now = self.clock.now();
        self.run(now, |s| {
            let (_, role) = visible(&**s, spe, idt)?;
            if self.apply(s, idt, role, Event::MetadataRead, now).is_err() {
                let record = s.tramite(idt).ok_or_else(|| {
                    err(ErrorKind::TramiteNaoEncontrado, &[("idt", &idt.grouped())])
                })?;
                return Err(situacao_error("leitura de metadados", record));
            }
            // A process that comes back with nothing the recipient lacks has nothing to download:
            // the condition of 3 → 4 ("every pending component downloaded") already holds.
            let nothing_pending = s
                .tramite(idt)
                .is_some_and(|r| r.pending_for_recipient.is_empty() && r.situacao.code() == 3);
            if role == Actor::Recipient && nothing_pending {
                let _ = self.apply(s, idt, role, Event::ComponentsDownloaded, now);
            }
            let payload = s
                .payload(idt)
                .ok_or_else(|| err(ErrorKind::ServicoIndisponivel, &[]))?;
            let r = s
                .tramite(idt)
                .ok_or_else(|| err(ErrorKind::TramiteNaoEncontrado, &[("idt", &idt.grouped())]))?;
            let (processo, documento) = match payload.as_ref() {
                Payload::Processo(p) => (Some(p.clone()), None),
                Payload::Documento(d) => (None, Some(d.clone())),
            };
            Ok(Metadados {
                nre: Some(r.nre.clone()),
                remetente: Some(r.remetente.clone()),
                destinatario: Some(r.destinatario.clone()),
                unidade_receptora: r.unidade_receptora.clone(),
                urgente: r.urgente,
                motivo_da_urgencia: r.motivo_da_urgencia,
                propriedades_adicionais: r.propriedades_adicionais.clone(),
                reproducao_de_tramite: Some(r.reproducao),
                reproducao_de_processo: Some(false),
                ticket_para_reenvio_de_componentes_digitais: r.reproducao.then_some(r.ticket),
                processo,
                documento,
            })
        })
    }

    pub(super) fn tramite_view(&self, r: &TramiteRecord) -> Tramite {
        Tramite {
            idt: r.idt,
            nre: r.nre.clone(),
            remetente: r.remetente.clone(),
            destinatario: r.destinatario.clone(),
            situacao_atual: r.situacao,
            protocolo: r.protocolo.clone(),
            motivo_da_recusa: r.recusa.as_ref().map(|(m, _)| *m),
            justificativa_da_recusa: r.recusa.as_ref().map(|(_, j)| j.clone()),
            mudancas_de_situacao: r
                .history
                .iter()
                .map(|(s, at)| MudancaDeSituacao {
                    situacao: *s,
                    data_hora: self.timestamp(*at),
                })
                .collect(),
            hash_dos_componentes_pendentes_de_recebimento: r.pending_for_recipient.clone(),
            hash_dos_componentes_pendentes_de_envio: r
                .requested
                .iter()
                .filter(|h| !r.received.contains(*h))
                .cloned()
                .collect(),
            propriedades_adicionais: r.propriedades_adicionais.clone(),
        }
    }

    /// `GET tramites`: the caller's trâmites matching the filters, newest first.
    #[must_use]
    pub fn tramites(&self, spe: &Spe, q: &TramiteQuery) -> ConsultaDeTramites {
        let empty = ConsultaDeTramites {
            tramites: Vec::new(),
            total_de_registros: Some(0),
        };
        self.read(self.clock.now(), empty, |s| {
            let candidates: Vec<Idt> = match (&q.idt, &q.nre) {
                (Some(idt), _) => vec![*idt],
                (None, Some(nre)) => s.tramites_of_nre(nre),
                (None, None) => s.tramites_of(&spe.id),
            };
            let mut found: Vec<Tramite> = candidates
                .into_iter()
                .filter_map(|idt| visible(&**s, spe, idt).ok().map(|(r, _)| r))
                .filter(|r| q.nre.as_ref().is_none_or(|n| &r.nre == n))
                .filter(|r| q.remetente.matches(&r.remetente))
                .filter(|r| q.destinatario.matches(&r.destinatario))
                .filter(|r| q.protocolo.as_ref().is_none_or(|p| &r.protocolo == p))
                .filter(|r| q.situacao_atual.is_none_or(|st| r.situacao == st))
                .map(|r| self.tramite_view(r))
                .collect();
            found.sort_by_key(|t| std::cmp::Reverse(t.idt));
            let total = found.len() as u64;
            if let Some(n) = q.quantidade_de_registros {
                found.truncate(usize::try_from(n).unwrap_or(usize::MAX));
            }
            ConsultaDeTramites {
                tramites: found,
                total_de_registros: Some(total),
            }
        })
    }

    /// Authorises a download by the recipient and records it; the last pending component moves
    /// the trâmite to 4 at once (the SEI module re-reads the situação right after).
    ///
    /// # Errors
    /// Foreign trâmite, wrong situação, unknown hash, range beyond the size.
    pub fn download(
        &self,
        spe: &Spe,
        idt: Idt,
        hash: &str,
        range: Option<PartRange>,
    ) -> Result<DownloadPlan> {
        let now = self.clock.now();
        self.run(now, |s| {
            let (record, role) = visible(&**s, spe, idt)?;
            if role != Actor::Recipient {
                return Err(err(
                    ErrorKind::TramiteNaoAutorizado,
                    &[("idt", &idt.to_string())],
                ));
            }
            if !matches!(record.situacao.code(), 2..=6) {
                return Err(situacao_error("download de componente digital", record));
            }
            let component = record.component(hash).ok_or_else(|| {
                err(
                    ErrorKind::ComponenteNaoSolicitado,
                    &[("hash", hash), ("protocolo", &record.protocolo)],
                )
            })?;
            let parsed = ComponentHash::from_base64(hash).map_err(|_| {
                err(
                    ErrorKind::ComponenteNaoSolicitado,
                    &[("hash", hash), ("protocolo", &record.protocolo)],
                )
            })?;
            let size = component.size;
            let range = range.unwrap_or(PartRange {
                inicio: 0,
                fim: size,
            });
            if !range.fits(size) {
                return Err(err(ErrorKind::ParteUltrapassaTamanho, &[]));
            }
            let finished = range.fim == size;
            let mut all = false;
            s.update_tramite(idt, &mut |r| {
                r.last_download = Some(now);
                if finished {
                    state::insert_once(&mut r.downloaded, hash);
                }
                all = r
                    .pending_for_recipient
                    .iter()
                    .all(|h| r.downloaded.contains(h))
                    && matches!(r.situacao.code(), 2 | 3);
            });
            if all {
                let _ = self.apply(s, idt, Actor::Recipient, Event::ComponentsDownloaded, now);
            }
            Ok(DownloadPlan {
                hash: parsed,
                range,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{PlatformConfig, Profile};
    use crate::platform::testing::over_both_stores;
    use crate::platform::testing::refused;

    over_both_stores! {
        #[test]
        fn only_the_recipients_metadata_read_moves_2_to_3_unless_compat() {
            let f = fixture();
            let idt = f.sent();
            let metadados = f.platform.metadados(&f.org_a, idt).unwrap();
            assert!(metadados.processo.is_some());
            f.assert_situacao(idt, Situacao::ComponentesEnviadosRemetente);
            f.platform.metadados(&f.org_b, idt).unwrap();
            f.assert_situacao(idt, Situacao::MetadadosRecebidoDestinatario);

            let compat = fixture_with(PlatformConfig::for_profile(Profile::Compat));
            let idt = compat.sent();
            compat.platform.metadados(&compat.org_a, idt).unwrap();
            compat.assert_situacao(idt, Situacao::MetadadosRecebidoDestinatario);
        }

        #[test]
        fn the_last_byte_of_the_last_pending_component_moves_to_4() {
            let f = fixture();
            let idt = f.read();
            let inspection = f.platform.inspect(idt).unwrap();
            let pending = &inspection
                .tramite
                .hash_dos_componentes_pendentes_de_recebimento;
            assert_eq!(
                pending.len(),
                1,
                "processo-simples has one 1,815-byte component"
            );
            let hash = &pending[0];
            let part = |inicio, fim| Some(PartRange { inicio, fim });

            let by_sender = f.platform.download(&f.org_a, idt, hash, None);
            assert_eq!(refused(by_sender), ErrorKind::TramiteNaoAutorizado);
            let beyond = f.platform.download(&f.org_b, idt, hash, part(0, 1816));
            assert_eq!(refused(beyond), ErrorKind::ParteUltrapassaTamanho);
            let first = f
                .platform
                .download(&f.org_b, idt, hash, part(0, 1000))
                .unwrap();
            assert_eq!(
                first.range,
                PartRange {
                    inicio: 0,
                    fim: 1000
                }
            );
            f.assert_situacao(idt, Situacao::MetadadosRecebidoDestinatario);
            f.platform
                .download(&f.org_b, idt, hash, part(1000, 1815))
                .unwrap();
            f.assert_situacao(idt, Situacao::ComponentesRecebidosDestinatario);
        }

        #[test]
        fn the_search_shows_each_party_its_own_tramites_newest_first() {
            let f = fixture();
            let (older, newer) = (f.sent(), f.sent());
            f.platform.cancelar(&f.org_a, older).unwrap();
            let idts = |spe, q: &TramiteQuery| -> Vec<Idt> {
                f.platform
                    .tramites(spe, q)
                    .tramites
                    .iter()
                    .map(|t| t.idt)
                    .collect()
            };
            let all = TramiteQuery::default();
            assert_eq!(idts(&f.org_a, &all), [newer, older]);
            assert_eq!(idts(&f.org_b, &all), [newer, older]);
            let org_c = f.platform.registry(|r| r.spe("org-c").cloned()).unwrap();
            assert!(idts(&org_c, &all).is_empty());
            let cancelled = TramiteQuery {
                situacao_atual: Some(Situacao::Cancelado),
                ..TramiteQuery::default()
            };
            assert_eq!(idts(&f.org_a, &cancelled), [older]);
            let one = TramiteQuery {
                quantidade_de_registros: Some(1),
                ..TramiteQuery::default()
            };
            let page = f.platform.tramites(&f.org_a, &one);
            assert_eq!(page.total_de_registros, Some(2));
            assert_eq!(page.tramites.len(), 1);
        }
    }
}
