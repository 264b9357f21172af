//! Opening trâmites: `POST tramites/processo`, `POST tramites/documento` (schema validation,
//! sender and destination checks, the NRE rules 0004/0044/0047, what the recipient already holds
//! and so need not be uploaded again) and the recipient's request for a reproduction of the last
//! trâmite of an NRE, which opens a new one.

use std::collections::{BTreeMap, BTreeSet};

use pen_protocol::api::{
    ComponentesSolicitados, EnvioDeDocumento, EnvioDeProcesso, ReproducaoDeTramite,
    TramiteDeDocumentoCriado, TramiteDeProcessoCriado, TramitesDeDocumentoCriados,
};
use pen_protocol::error::{validation_list, ErrorKind};
use pen_protocol::ids::{Idt, Nre};
use pen_protocol::model::{EstruturaOrganizacional, MotivoDaUrgencia, Processo};
use pen_protocol::situacao::{Actor, Event, Situacao};
use time::OffsetDateTime;

use super::state::{DeclaredComponent, Destination, Opening, Payload, State, TramiteRecord};
use super::uploads;
use super::validate::{Findings, Validator};
use super::{err, Platform, Result, Store};
use crate::config::MissingNre;
use crate::registry::Spe;

/// Whether an open call is checked against the schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schema {
    Enforced,
    /// Control-plane injection of what a correct sender would never send.
    Skipped,
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
        let wants_all = cabecalho.wants_all_components();

        let (created, ready) = self.with_state(now, |state| {
            let nre =
                self.resolve_nre(state, spe, cabecalho.nre.as_ref(), &protocolo, &processo)?;
            let held = state
                .nres
                .get(&nre)
                .and_then(|r| r.holders.get(&to.recipient))
                .cloned()
                .unwrap_or_default();
            let requested: Vec<String> = unique_in_order(
                components
                    .iter()
                    .filter(|c| !c.retirado && (wants_all || !held.contains(&c.hash)))
                    .map(|c| c.hash.clone()),
            );
            let idt = state.allocate_idt();
            let ticket = state.allocate_ticket();
            let opening = Opening {
                sender: spe.id.clone(),
                remetente,
                payload: Payload::Processo(processo.clone()),
                protocolo: protocolo.clone(),
                propriedades_adicionais: cabecalho.propriedades_adicionais.clone(),
                urgente: cabecalho.urgente.or(cabecalho.urgencia),
                motivo_da_urgencia: motivo(cabecalho.motivo_da_urgencia),
                components: components.clone(),
                requested: requested.clone(),
                reproducao: false,
            };
            let record = TramiteRecord::new(idt, nre.clone(), ticket, opening, to);
            self.insert_tramite(state, record, now);
            let nre_record = state.nres.entry(nre.clone()).or_default();
            nre_record.protocolo.clone_from(&protocolo);
            nre_record.tramites.push(idt);
            for d in &processo.documentos {
                if let Some(ordem) = d.ordem {
                    let hashes = d
                        .componentes_digitais
                        .iter()
                        .filter_map(|c| c.hash_conteudo().map(str::to_owned))
                        .collect();
                    nre_record.documents.entry(ordem).or_insert(hashes);
                }
            }
            nre_record
                .holders
                .entry(spe.id.clone())
                .or_default()
                .extend(components.iter().map(|c| c.hash.clone()));
            state.tickets.insert(ticket, vec![idt]);
            let created = TramiteDeProcessoCriado {
                idt,
                nre,
                ticket_para_envio_de_componentes_digitais: ticket,
                data_hora_de_registro_do_tramite: Some(self.timestamp(now)),
                processos_com_componentes_digitais_solicitados: solicitados(
                    &protocolo,
                    &components,
                    &requested,
                ),
            };
            Ok((created, uploads::ready(state, &[idt], now)))
        })?;
        self.complete_signed(now, ready);
        Ok(created)
    }

    fn insert_tramite(&self, state: &mut State, record: TramiteRecord, now: OffsetDateTime) {
        let idt = record.idt;
        state
            .by_spe
            .entry(record.sender.clone())
            .or_default()
            .insert(idt);
        state
            .by_spe
            .entry(record.recipient.clone())
            .or_default()
            .insert(idt);
        state.tramites.insert(idt, record);
        // Opening is always allowed from 0.
        let _ = self.apply(state, idt, Actor::Sender, Event::Open, now);
    }

    /// Decides the NRE of a new process trâmite and enforces the NRE rules.
    fn resolve_nre(
        &self,
        state: &mut State,
        spe: &Spe,
        given: Option<&Nre>,
        protocolo: &str,
        processo: &Processo,
    ) -> Result<Nre> {
        let existing = match given {
            Some(nre) => {
                if !state.nres.contains_key(nre) {
                    return Err(err(ErrorKind::NreNaoEncontrado, &[("nre", nre.as_str())]));
                }
                Some(nre.clone())
            }
            None if self.config.missing_nre == MissingNre::RecoverByProtocol => state
                .nres
                .iter()
                .find(|(_, r)| r.protocolo == protocolo && r.holders.contains_key(&spe.id))
                .map(|(n, _)| n.clone()),
            None => None,
        };
        let Some(nre) = existing else {
            let year = u16::try_from(self.clock.now().year()).unwrap_or(2025);
            return Ok(state.allocate_nre(year));
        };
        let record = state.nres.get(&nre).cloned().unwrap_or_default();
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
        let open = record
            .tramites
            .iter()
            .filter_map(|i| state.tramites.get(i))
            .any(|t| !t.situacao.is_terminal());
        if open {
            return Err(err(ErrorKind::TramiteEmAndamento, &[("nre", nre.as_str())]));
        }
        for d in &processo.documentos {
            let Some(ordem) = d.ordem else { continue };
            let Some(known) = record.documents.get(&ordem) else {
                continue;
            };
            let now: Vec<String> = d
                .componentes_digitais
                .iter()
                .filter_map(|c| c.hash_conteudo().map(str::to_owned))
                .collect();
            if &now != known {
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
            payload: Payload::Documento(documento),
            protocolo,
            propriedades_adicionais: cabecalho.propriedades_adicionais,
            urgente: cabecalho.urgente,
            motivo_da_urgencia: motivo(cabecalho.motivo_da_urgencia),
            components,
            requested,
            reproducao: false,
        };
        let (created, ready) = self.with_state(now, |state| {
            let ticket = state.allocate_ticket();
            let year = u16::try_from(now.year()).unwrap_or(2025);
            let mut tramites = Vec::new();
            for to in destinos {
                let idt = state.allocate_idt();
                let nre = state.allocate_nre(year);
                let destinatario = to.destinatario.clone();
                let record = TramiteRecord::new(idt, nre.clone(), ticket, opening.clone(), to);
                self.insert_tramite(state, record, now);
                let nre_record = state.nres.entry(nre.clone()).or_default();
                nre_record.protocolo.clone_from(&opening.protocolo);
                nre_record.tramites.push(idt);
                nre_record
                    .holders
                    .entry(spe.id.clone())
                    .or_default()
                    .extend(opening.requested.iter().cloned());
                tramites.push(TramiteDeDocumentoCriado {
                    idt,
                    nre,
                    destinatario: Some(destinatario),
                });
            }
            let idts: Vec<Idt> = tramites.iter().map(|t| t.idt).collect();
            let ready = uploads::ready(state, &idts, now);
            state.tickets.insert(ticket, idts);
            let created = TramitesDeDocumentoCriados {
                ticket_para_envio_de_componentes_digitais: ticket,
                data_hora_de_registro_do_tramite: Some(self.timestamp(now)),
                tramites,
            };
            Ok((created, ready))
        })?;
        self.complete_signed(now, ready);
        Ok(created)
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
        self.with_state(now, |state| {
            let record = state
                .nres
                .get(nre)
                .ok_or_else(|| err(ErrorKind::NreNaoEncontrado, &[("nre", nre.as_str())]))?;
            let tramites: Vec<&TramiteRecord> = record
                .tramites
                .iter()
                .filter_map(|i| state.tramites.get(i))
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
            let (opening, to) = last.reopening(requested.clone());
            let (components, protocolo) = (opening.components.clone(), opening.protocolo.clone());
            let idt = state.allocate_idt();
            let ticket = state.allocate_ticket();
            let copy = TramiteRecord::new(idt, nre.clone(), ticket, opening, to);
            self.insert_tramite(state, copy, now);
            state.tickets.insert(ticket, vec![idt]);
            state
                .nres
                .entry(nre.clone())
                .or_default()
                .tramites
                .push(idt);
            Ok(ReproducaoDeTramite {
                tramite_de_processo_criado: TramiteDeProcessoCriado {
                    idt,
                    nre: nre.clone(),
                    ticket_para_envio_de_componentes_digitais: ticket,
                    data_hora_de_registro_do_tramite: Some(self.timestamp(now)),
                    processos_com_componentes_digitais_solicitados: solicitados(
                        &protocolo,
                        &components,
                        &requested,
                    ),
                },
            })
        })
    }
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
    use pen_protocol::api::Pendencia;
    use pen_protocol::model::{CabecalhoDeDocumento, DocumentoAvulso};

    use super::*;
    use crate::platform::testing::{
        envio_between, fixture, processo, refused, unit, ORG_A_UNIT, ORG_B_UNIT,
    };

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
