//! Opening trâmites: `POST tramites/processo`, `POST tramites/documento` (schema validation,
//! sender and destination checks, the NRE rules 0004/0044/0047, what the recipient already holds
//! and so need not be uploaded again) and the recipient's request for a reproduction of the last
//! trâmite of an NRE, which opens a new one. An open with nothing to upload completes (1 → 2,
//! recibo de envio signed outside the lock) in the same section that opens it.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use pen_protocol::api::{
    ComponentesSolicitados, EnvioDeDocumento, EnvioDeProcesso, ReproducaoDeTramite,
    TramiteDeDocumentoCriado, TramiteDeProcessoCriado, TramitesDeDocumentoCriados,
};
use pen_protocol::error::{validation_list, ErrorKind};
use pen_protocol::ids::Nre;
use pen_protocol::model::{EstruturaOrganizacional, MotivoDaUrgencia, Processo};
use pen_protocol::situacao::{Actor, Event, Situacao};
use time::OffsetDateTime;

use super::state::{DeclaredComponent, Destination, Ids, Opening, Payload, TramiteRecord};
use super::uploads::Signed;
use super::validate::{Findings, Validator};
use super::{err, Platform, Result, Section, Store};
use crate::config::MissingNre;
use crate::registry::Spe;

/// Whether an open call is checked against the schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schema {
    Enforced,
    /// Control-plane injection of what a correct sender would never send.
    Skipped,
}

/// What one pass of an open's critical section came to.
enum Pass<T> {
    Opened(T),
    /// Nothing to upload: these identifiers were issued (and only they were kept), the recibos
    /// de envio must be signed before the trâmites open, complete, in the next pass.
    Sign(Vec<(Ids, pen_protocol::receipt::ReciboDeEnvioTexto)>),
}

/// Identifiers issued by a first pass, with the recibos de envio signed for them.
type Reserved = Vec<(Ids, Signed)>;

/// The recibo de envio of a trâmite that has nothing to upload: it completes the moment it opens.
fn nothing_to_upload(ids: &Ids, now: OffsetDateTime) -> pen_protocol::receipt::ReciboDeEnvioTexto {
    pen_protocol::receipt::ReciboDeEnvioTexto {
        idt: ids.idt,
        nre: ids.nre.clone(),
        data_do_ultimo_componente: Some(pen_protocol::datetime::format_with_offset(
            now,
            pen_protocol::datetime::BRASILIA,
        )),
        hashes: Vec::new(),
    }
}

impl<S: Store> Platform<S> {
    /// The SPE that receives for a destination.
    fn check_destinatario(&self, destinatario: &EstruturaOrganizacional) -> Result<Destination> {
        self.registry(|r| {
            let repositorio = destinatario
                .identificacao_do_repositorio_de_estruturas
                .to_string();
            let estrutura = destinatario.numero_de_identificacao_da_estrutura.as_str();
            let entry = r.structure(destinatario).ok_or_else(|| {
                err(
                    ErrorKind::EstruturaNaoEncontrada,
                    &[("estrutura", estrutura), ("repositorio", &repositorio)],
                )
            })?;
            let owner = r
                .owner_of(destinatario)
                .filter(|_| entry.ativo && entry.apto_para_receber_tramites);
            let owner = owner.ok_or_else(|| {
                err(
                    ErrorKind::EstruturaNaoApta,
                    &[("estrutura", estrutura), ("repositorio", &repositorio)],
                )
            })?;
            let receptora = (!entry.codigo_unidade_receptora.is_empty()).then(|| {
                EstruturaOrganizacional::new(
                    destinatario.identificacao_do_repositorio_de_estruturas,
                    entry.codigo_unidade_receptora.clone(),
                )
            });
            Ok(Destination {
                destinatario: destinatario.clone(),
                unidade_receptora: receptora,
                recipient: owner.id.clone(),
            })
        })
    }

    /// Runs the schema validation unless it is skipped.
    fn validate(
        &self,
        schema: Schema,
        check: impl FnOnce(&Validator<'_>, &mut Findings),
    ) -> Result<()> {
        if schema == Schema::Skipped {
            return Ok(());
        }
        let mut findings = Findings::default();
        self.registry(|registry| {
            check(
                &Validator {
                    registry,
                    config: &self.config,
                },
                &mut findings,
            );
        });
        validation(&findings)
    }

    /// Runs an open's critical section until it opens: a pass that finds nothing to upload
    /// keeps only the identifiers it issued, the recibos de envio are signed with no lock held,
    /// and the next pass opens the trâmites and completes them at once, in one section (no
    /// reader, and no restart, ever finds them at 1 with nothing left to upload).
    fn open_signed<T>(
        &self,
        now: OffsetDateTime,
        mut pass: impl FnMut(&mut Section<'_>, &Reserved) -> Result<Pass<T>>,
    ) -> Result<T> {
        let mut reserved: Reserved = Vec::new();
        loop {
            match self.run(now, |s| pass(s, &reserved))? {
                Pass::Opened(done) => return Ok(done),
                Pass::Sign(texts) => {
                    let ids: Vec<Ids> = texts.iter().map(|(ids, _)| ids.clone()).collect();
                    let signed =
                        self.sign_recibos_de_envio(texts.into_iter().map(|(_, t)| t).collect());
                    reserved = ids.into_iter().zip(signed).collect();
                }
            }
        }
    }

    /// `POST tramites/processo`.
    ///
    /// # Errors
    /// Validation, authorisation, `0004`, `0044`, `0047`, `0055` and the NRE consistency errors.
    pub fn open_processo(
        &self,
        spe: &Spe,
        body: EnvioDeProcesso,
    ) -> Result<TramiteDeProcessoCriado> {
        self.open_processo_with(spe, body, Schema::Enforced)
    }

    /// `POST tramites/processo`, optionally past the schema validation (the control plane's
    /// injection of a malformed process: missing interessados, missing descrição, …).
    ///
    /// # Errors
    /// As [`Platform::open_processo`], minus validation when skipped.
    pub fn open_processo_with(
        &self,
        spe: &Spe,
        body: EnvioDeProcesso,
        schema: Schema,
    ) -> Result<TramiteDeProcessoCriado> {
        let now = self.clock.now();
        let EnvioDeProcesso {
            cabecalho,
            processo,
        } = body;
        self.validate(schema, |v, findings| {
            v.cabecalho_de_processo(&cabecalho, findings);
            v.processo(&processo, "processo", findings);
        })?;
        let (Some(remetente), Some(destinatario)) =
            (cabecalho.remetente.clone(), cabecalho.destinatario.clone())
        else {
            return Err(err(
                ErrorKind::RequisicaoInvalida,
                &[("detalhe", "cabecalho incompleto")],
            ));
        };
        check_remetente(spe, &remetente)?;
        let to = self.check_destinatario(&destinatario)?;
        let protocolo = processo
            .protocolo
            .as_ref()
            .map(|p| p.0.clone())
            .unwrap_or_default();
        let components = declared_components(&processo);
        let documents = document_hashes(&processo);
        let wants_all = cabecalho.wants_all_components();
        let opening = Opening {
            sender: spe.id.clone(),
            remetente,
            payload: Arc::new(Payload::Processo(processo)),
            protocolo: protocolo.clone(),
            propriedades_adicionais: cabecalho.propriedades_adicionais.clone(),
            urgente: cabecalho.urgente.or(cabecalho.urgencia),
            motivo_da_urgencia: motivo(cabecalho.motivo_da_urgencia),
            components: components.clone(),
            requested: Vec::new(),
            reproducao: false,
        };
        self.open_signed(now, |s, reserved| {
            let reserved_nre = reserved.first().map(|(ids, _)| &ids.nre);
            let nre = self.resolve_nre(
                s,
                spe,
                cabecalho.nre.as_ref(),
                &protocolo,
                &documents,
                reserved_nre,
                now,
            )?;
            let held = s
                .nre(&nre)
                .and_then(|r| r.holders.get(&to.recipient))
                .cloned()
                .unwrap_or_default();
            let requested: Vec<String> = unique_in_order(
                components
                    .iter()
                    .filter(|c| !c.retirado && (wants_all || !held.contains(&c.hash)))
                    .map(|c| c.hash.clone()),
            );
            let signed = reserved.first().filter(|(ids, _)| ids.nre == nre);
            let ids = match signed {
                Some((ids, _)) => ids.clone(),
                None => Ids {
                    idt: s.allocate_idt(),
                    nre: nre.clone(),
                    ticket: s.allocate_ticket(),
                },
            };
            if requested.is_empty() && signed.is_none() {
                let texto = nothing_to_upload(&ids, now);
                return Ok(Pass::Sign(vec![(ids, texto)]));
            }
            let opening = Opening {
                requested: requested.clone(),
                ..opening.clone()
            };
            let record = TramiteRecord::new(ids.clone(), &opening, to.clone());
            self.insert_tramite(s, record, opening.payload.clone(), now);
            s.update_nre(&nre, &mut |r| {
                r.protocolo.clone_from(&protocolo);
                for (ordem, hashes) in &documents {
                    r.documents.entry(*ordem).or_insert_with(|| hashes.clone());
                }
                r.holders
                    .entry(spe.id.clone())
                    .or_default()
                    .extend(components.iter().map(|c| c.hash.clone()));
            });
            if let Some((_, recibo)) = signed {
                self.components_complete(s, recibo, now);
            }
            Ok(Pass::Opened(TramiteDeProcessoCriado {
                idt: ids.idt,
                nre: ids.nre,
                ticket_para_envio_de_componentes_digitais: ids.ticket,
                data_hora_de_registro_do_tramite: Some(self.timestamp(now)),
                processos_com_componentes_digitais_solicitados: solicitados(
                    &protocolo,
                    &components,
                    &requested,
                ),
            }))
        })
    }

    /// Adds a trâmite and opens it (0 → 1).
    fn insert_tramite(
        &self,
        s: &mut Section<'_>,
        record: TramiteRecord,
        payload: Arc<Payload>,
        now: OffsetDateTime,
    ) {
        let idt = record.idt;
        s.insert_tramite(record, payload);
        // Opening is always allowed from 0.
        let _ = self.apply(s, idt, Actor::Sender, Event::Open, now);
    }

    /// Decides the NRE of a new process trâmite and enforces the NRE rules. A new NRE is issued
    /// only once per open call: a later pass gets back the one `reserved` by the first.
    #[allow(clippy::too_many_arguments)]
    fn resolve_nre(
        &self,
        s: &mut Section<'_>,
        spe: &Spe,
        given: Option<&Nre>,
        protocolo: &str,
        documents: &[(u32, Vec<String>)],
        reserved: Option<&Nre>,
        now: OffsetDateTime,
    ) -> Result<Nre> {
        let existing = match given {
            Some(nre) => {
                if s.nre(nre).is_none() {
                    return Err(err(ErrorKind::NreNaoEncontrado, &[("nre", nre.as_str())]));
                }
                Some(nre.clone())
            }
            None if self.config.missing_nre == MissingNre::RecoverByProtocol => s
                .nres_with_protocolo(protocolo)
                .into_iter()
                .filter(|n| s.nre(n).is_some_and(|r| r.holders.contains_key(&spe.id)))
                // The one this organisation used last: the NRE of its latest trâmite.
                .max_by_key(|n| s.tramites_of_nre(n).last().copied()),
            None => None,
        };
        let Some(nre) = existing else {
            if let Some(issued) = reserved.filter(|n| s.nre(n).is_none()) {
                return Ok(issued.clone());
            }
            let year = u16::try_from(now.year()).unwrap_or(2025);
            return Ok(s.allocate_nre(year));
        };
        let record = s.nre(&nre).cloned().unwrap_or_default();
        if record.protocolo != protocolo {
            return Err(err(
                ErrorKind::ProtocoloInconsistente,
                &[
                    ("nre", nre.as_str()),
                    ("anterior", &record.protocolo),
                    ("atual", protocolo),
                ],
            ));
        }
        let open = s
            .tramites_of_nre(&nre)
            .into_iter()
            .filter_map(|i| s.tramite(i))
            .any(|t| !t.situacao.is_terminal());
        if open {
            return Err(err(ErrorKind::TramiteEmAndamento, &[("nre", nre.as_str())]));
        }
        for (ordem, hashes) in documents {
            let Some(known) = record.documents.get(ordem) else {
                continue;
            };
            if hashes != known {
                return Err(err(
                    ErrorKind::HashDeDocumentoInconsistente,
                    &[
                        ("ordem", &ordem.to_string()),
                        ("nre", nre.as_str()),
                        ("protocolo", protocolo),
                    ],
                ));
            }
        }
        Ok(nre)
    }

    /// `POST tramites/documento`: one trâmite (and NRE) per destinatário, one ticket for all.
    ///
    /// # Errors
    /// Validation, authorisation, `0004`, `0055`.
    pub fn open_documento(
        &self,
        spe: &Spe,
        body: EnvioDeDocumento,
    ) -> Result<TramitesDeDocumentoCriados> {
        self.open_documento_with(spe, body, Schema::Enforced)
    }

    /// `POST tramites/documento`, optionally past the schema validation (control plane).
    ///
    /// # Errors
    /// As [`Platform::open_documento`], minus validation when skipped.
    pub fn open_documento_with(
        &self,
        spe: &Spe,
        body: EnvioDeDocumento,
        schema: Schema,
    ) -> Result<TramitesDeDocumentoCriados> {
        let now = self.clock.now();
        let EnvioDeDocumento {
            cabecalho,
            documento,
        } = body;
        self.validate(schema, |v, findings| {
            v.cabecalho_de_documento(&cabecalho, findings);
            v.documento_avulso(&documento, findings);
        })?;
        let Some(remetente) = cabecalho.remetente.clone() else {
            return Err(err(
                ErrorKind::RequisicaoInvalida,
                &[("detalhe", "cabecalho incompleto")],
            ));
        };
        check_remetente(spe, &remetente)?;
        let destinos = cabecalho
            .destinatarios
            .iter()
            .map(|d| self.check_destinatario(d))
            .collect::<Result<Vec<_>>>()?;
        let protocolo = documento
            .protocolo
            .as_ref()
            .map(|p| p.0.clone())
            .unwrap_or_default();
        let components: Vec<DeclaredComponent> = documento
            .componentes_digitais
            .iter()
            .filter_map(|c| declared(c, &protocolo, false))
            .collect();
        let requested = unique_in_order(components.iter().map(|c| c.hash.clone()));
        let opening = Opening {
            sender: spe.id.clone(),
            remetente,
            payload: Arc::new(Payload::Documento(documento)),
            protocolo,
            propriedades_adicionais: cabecalho.propriedades_adicionais,
            urgente: cabecalho.urgente,
            motivo_da_urgencia: motivo(cabecalho.motivo_da_urgencia),
            components,
            requested,
            reproducao: false,
        };
        self.open_signed(now, |s, reserved| {
            let year = u16::try_from(now.year()).unwrap_or(2025);
            let issued: Vec<Ids> = if reserved.len() == destinos.len() {
                reserved.iter().map(|(ids, _)| ids.clone()).collect()
            } else {
                let ticket = s.allocate_ticket();
                destinos
                    .iter()
                    .map(|_| Ids {
                        idt: s.allocate_idt(),
                        nre: s.allocate_nre(year),
                        ticket,
                    })
                    .collect()
            };
            if opening.requested.is_empty() && reserved.is_empty() {
                let texts = issued
                    .into_iter()
                    .map(|ids| {
                        let texto = nothing_to_upload(&ids, now);
                        (ids, texto)
                    })
                    .collect();
                return Ok(Pass::Sign(texts));
            }
            let mut tramites = Vec::new();
            for (ids, to) in issued.iter().zip(&destinos) {
                let record = TramiteRecord::new(ids.clone(), &opening, to.clone());
                self.insert_tramite(s, record, opening.payload.clone(), now);
                s.update_nre(&ids.nre, &mut |r| {
                    r.protocolo.clone_from(&opening.protocolo);
                    r.holders
                        .entry(spe.id.clone())
                        .or_default()
                        .extend(opening.requested.iter().cloned());
                });
                tramites.push(TramiteDeDocumentoCriado {
                    idt: ids.idt,
                    nre: ids.nre.clone(),
                    destinatario: Some(to.destinatario.clone()),
                });
            }
            for (_, recibo) in reserved {
                self.components_complete(s, recibo, now);
            }
            let ticket = issued.first().map(|ids| ids.ticket);
            Ok(Pass::Opened(TramitesDeDocumentoCriados {
                ticket_para_envio_de_componentes_digitais: ticket
                    .unwrap_or(pen_protocol::ids::Ticket(0)),
                data_hora_de_registro_do_tramite: Some(self.timestamp(now)),
                tramites,
            }))
        })
    }

    /// `POST NREs/{nre}/destinatarios/{rep}/{estrutura}/reproducoes-de-tramite`: the recipient
    /// of the last completed trâmite of an NRE asks for it again; the platform opens a new
    /// trâmite in situação 1 from the original sender, who sees it as pendência 1 and re-uploads
    /// every component with the ticket its metadata carry (`rest-v3.md` §2.13).
    ///
    /// # Errors
    /// Unknown NRE; not the recipient of that destination; `0044` while a trâmite of the NRE is
    /// open; nothing completed or nothing valid to reproduce.
    pub fn reproduzir(
        &self,
        spe: &Spe,
        nre: &Nre,
        destinatario: &EstruturaOrganizacional,
    ) -> Result<ReproducaoDeTramite> {
        let now = self.clock.now();
        self.run(now, |s| {
            let record = s
                .nre(nre)
                .cloned()
                .ok_or_else(|| err(ErrorKind::NreNaoEncontrado, &[("nre", nre.as_str())]))?;
            let tramites: Vec<&TramiteRecord> = s
                .tramites_of_nre(nre)
                .into_iter()
                .filter_map(|i| s.tramite(i))
                .collect();
            if tramites.iter().any(|t| !t.situacao.is_terminal()) {
                return Err(err(
                    ErrorKind::TramiteEmAndamentoParaDestinatario,
                    &[("nre", nre.as_str())],
                ));
            }
            let last = tramites
                .iter()
                .rev()
                .find(|t| {
                    &t.destinatario == destinatario
                        && t.situacao == Situacao::ReciboRecebidoRemetente
                })
                .ok_or_else(|| {
                    err(
                        ErrorKind::ReproducaoSemComponentes,
                        &[("protocolo", &record.protocolo)],
                    )
                })?;
            if last.recipient != spe.id {
                return Err(err(
                    ErrorKind::TramiteNaoAutorizado,
                    &[("idt", &last.idt.to_string())],
                ));
            }
            let requested = unique_in_order(
                last.components
                    .iter()
                    .filter(|c| !c.retirado)
                    .map(|c| c.hash.clone()),
            );
            if requested.is_empty() {
                return Err(err(
                    ErrorKind::ReproducaoSemComponentes,
                    &[("protocolo", &record.protocolo)],
                ));
            }
            let Some(payload) = s.payload(last.idt) else {
                return Err(err(ErrorKind::ServicoIndisponivel, &[]));
            };
            let (opening, to) = last.reopening(payload, requested.clone());
            let ids = Ids {
                idt: s.allocate_idt(),
                nre: nre.clone(),
                ticket: s.allocate_ticket(),
            };
            let copy = TramiteRecord::new(ids.clone(), &opening, to);
            self.insert_tramite(s, copy, opening.payload.clone(), now);
            Ok(ReproducaoDeTramite {
                tramite_de_processo_criado: TramiteDeProcessoCriado {
                    idt: ids.idt,
                    nre: ids.nre,
                    ticket_para_envio_de_componentes_digitais: ids.ticket,
                    data_hora_de_registro_do_tramite: Some(self.timestamp(now)),
                    processos_com_componentes_digitais_solicitados: solicitados(
                        &opening.protocolo,
                        &opening.components,
                        &requested,
                    ),
                },
            })
        })
    }
}

/// The component hashes of each document of a process by `ordem` (rule 0047).
fn document_hashes(processo: &Processo) -> Vec<(u32, Vec<String>)> {
    processo
        .documentos
        .iter()
        .filter_map(|d| {
            let ordem = d.ordem?;
            let hashes = d
                .componentes_digitais
                .iter()
                .filter_map(|c| c.hash_conteudo().map(str::to_owned))
                .collect();
            Some((ordem, hashes))
        })
        .collect()
}

fn check_remetente(spe: &Spe, remetente: &EstruturaOrganizacional) -> Result<()> {
    if spe.estruturas.contains(remetente) {
        Ok(())
    } else {
        Err(err(ErrorKind::RemetenteNaoAutorizado, &[]))
    }
}

fn validation(f: &Findings) -> Result<()> {
    if f.sigiloso {
        return Err(err(ErrorKind::NivelDeSigiloNaoPermitido, &[]));
    }
    if f.errors.is_empty() {
        Ok(())
    } else {
        Err(err(
            ErrorKind::ValidacaoDeCampos,
            &[("erros", &validation_list(&f.errors))],
        ))
    }
}

fn motivo(motivo: Option<MotivoDaUrgencia>) -> Option<u32> {
    match motivo {
        Some(MotivoDaUrgencia::Codigo(c)) => Some(c),
        _ => None,
    }
}

fn declared(
    c: &pen_protocol::model::ComponenteDigital,
    protocolo: &str,
    retirado: bool,
) -> Option<DeclaredComponent> {
    Some(DeclaredComponent {
        hash: c.hash_conteudo()?.to_owned(),
        size: c.tamanho_em_bytes?,
        protocolo: protocolo.to_owned(),
        retirado,
    })
}

/// Every component of a process and its apensados, in document order.
fn declared_components(processo: &Processo) -> Vec<DeclaredComponent> {
    processo
        .components()
        .into_iter()
        .filter_map(|(protocolo, documento, c)| declared(c, &protocolo.0, documento.retirado))
        .collect()
}

fn unique_in_order(hashes: impl Iterator<Item = String>) -> Vec<String> {
    let mut seen = BTreeSet::new();
    hashes.filter(|h| seen.insert(h.clone())).collect()
}

/// `processosComComponentesDigitaisSolicitados`: the main protocol first with **every** requested
/// hash (the SEI module checks every component against the first item's list), then one entry per
/// apensado protocol with its own hashes.
fn solicitados(
    main: &str,
    components: &[DeclaredComponent],
    requested: &[String],
) -> Vec<ComponentesSolicitados> {
    if requested.is_empty() {
        return Vec::new();
    }
    let mut out = vec![ComponentesSolicitados {
        protocolo: main.to_owned(),
        hashes: requested.to_vec(),
    }];
    let mut by_protocol: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for c in components
        .iter()
        .filter(|c| c.protocolo != main && requested.contains(&c.hash))
    {
        let list = by_protocol.entry(c.protocolo.as_str()).or_default();
        if !list.contains(&c.hash) {
            list.push(c.hash.clone());
        }
    }
    out.extend(
        by_protocol
            .into_iter()
            .map(|(p, hashes)| ComponentesSolicitados {
                protocolo: p.to_owned(),
                hashes,
            }),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::testing::over_both_stores;
    use crate::platform::testing::{
        envio_between, processo, refused, unit, ORG_A_UNIT, ORG_B_UNIT,
    };
    use pen_protocol::api::Pendencia;
    use pen_protocol::model::{CabecalhoDeDocumento, DocumentoAvulso};

    over_both_stores! {
        #[test]
        fn a_process_opens_at_1_asking_for_each_component_once() {
            let f = fixture();
            let (processo, created) = f.open();
            f.assert_situacao(created.idt, Situacao::Iniciado);
            let hashes: Vec<String> = declared_components(&processo)
                .into_iter()
                .map(|c| c.hash)
                .collect();
            let asked = &created.processos_com_componentes_digitais_solicitados;
            assert_eq!(asked.len(), 1);
            assert_eq!(asked[0].protocolo, "00394.000101/2025-61");
            assert_eq!(asked[0].hashes, hashes);
            assert!(
                f.platform.pendencias(&f.org_b, false).is_empty(),
                "nothing for the recipient before the components are in"
            );
        }

        #[test]
        fn a_return_waits_for_the_previous_hop_and_asks_only_for_what_the_sender_lacks() {
            let f = fixture();
            let idt = f.sent();
            let nre = f.platform.inspect(idt).unwrap().tramite.nre;
            let mut back = envio_between(processo("processo-simples"), ORG_B_UNIT, ORG_A_UNIT);
            back.cabecalho.nre = Some(nre.clone());

            let open = f.platform.open_processo(&f.org_b, back.clone());
            assert_eq!(refused(open), ErrorKind::TramiteEmAndamento);

            f.platform.cancelar(&f.org_a, idt).unwrap();
            let created = f.platform.open_processo(&f.org_b, back).unwrap();
            assert_eq!(created.nre, nre);
            assert!(created
                .processos_com_componentes_digitais_solicitados
                .is_empty());
            // Nothing to upload: the components are complete at once, recibo de envio included.
            f.assert_situacao(created.idt, Situacao::ComponentesEnviadosRemetente);
            assert!(f.platform.recibo_de_envio(&f.org_b, created.idt).is_ok());
        }

        #[test]
        fn an_open_with_nothing_to_upload_is_never_seen_before_it_completes() {
            let f = fixture();
            let idt = f.sent();
            let nre = f.platform.inspect(idt).unwrap().tramite.nre;
            f.platform.cancelar(&f.org_a, idt).unwrap();
            let mut back = envio_between(processo("processo-simples"), ORG_B_UNIT, ORG_A_UNIT);
            back.cabecalho.nre = Some(nre);
            let (platform, org_b) = (Arc::downgrade(&f.platform), f.org_b.clone());
            // The recibo de envio is signed between the pass that issues the identifiers and
            // the one that opens: a reader in between sees nothing new, at 1 or otherwise.
            f.platform.store.between(1, move || {
                let platform = platform.upgrade().unwrap();
                let seen = platform.tramites(&org_b, &crate::platform::TramiteQuery::default());
                assert_eq!(seen.tramites.len(), 1, "only the cancelled trâmite");
            });
            let created = f.platform.open_processo(&f.org_b, back).unwrap();
            let history = f.platform.inspect(created.idt).unwrap().tramite.mudancas_de_situacao;
            let codes: Vec<u8> = history.iter().map(|m| m.situacao.code()).collect();
            assert_eq!(codes, [1, 2], "opened and completed in the same instant");
            assert!(f.platform.recibo_de_envio(&f.org_b, created.idt).is_ok());
        }

        #[test]
        fn a_documento_avulso_opens_one_tramite_and_nre_per_destination_under_one_ticket() {
            let f = fixture();
            let bytes = pen_fixtures::file("documentos/documento-avulso.json").unwrap();
            let documento: DocumentoAvulso = serde_json::from_slice(bytes).unwrap();
            let body = EnvioDeDocumento {
                cabecalho: CabecalhoDeDocumento {
                    remetente: Some(unit(ORG_A_UNIT)),
                    destinatarios: vec![unit(ORG_B_UNIT), unit((5, "30682"))],
                    ..CabecalhoDeDocumento::default()
                },
                documento,
            };
            let created = f.platform.open_documento(&f.org_a, body).unwrap();
            assert_eq!(created.tramites.len(), 2);
            assert_ne!(created.tramites[0].nre, created.tramites[1].nre);
            for t in &created.tramites {
                let inspection = f.platform.inspect(t.idt).unwrap();
                assert_eq!(
                    inspection.ticket,
                    created.ticket_para_envio_de_componentes_digitais
                );
            }
        }

        #[test]
        fn a_reproduction_reopens_the_last_completed_hop_from_its_sender_at_1() {
            let f = fixture();
            let idt = f.concluded();
            f.platform.recibo(&f.org_a, idt).unwrap();
            let nre = f.platform.inspect(idt).unwrap().tramite.nre;

            let again = f
                .platform
                .reproduzir(&f.org_b, &nre, &unit(ORG_B_UNIT))
                .unwrap()
                .tramite_de_processo_criado;
            assert_ne!(again.idt, idt);
            f.assert_situacao(again.idt, Situacao::Iniciado);
            let inspection = f.platform.inspect(again.idt).unwrap();
            assert!(inspection.reproducao);
            assert_eq!(
                inspection.requested,
                f.platform.inspect(idt).unwrap().requested
            );
            assert_eq!(inspection.tramite.mudancas_de_situacao.len(), 1);
            assert_eq!(
                f.platform.pendencias(&f.org_a, false),
                [Pendencia {
                    idt: again.idt,
                    status: Situacao::Iniciado,
                }],
                "the sender must upload again"
            );
            let twice = f.platform.reproduzir(&f.org_b, &nre, &unit(ORG_B_UNIT));
            assert_eq!(
                refused(twice),
                ErrorKind::TramiteEmAndamentoParaDestinatario
            );
        }
    }
}
