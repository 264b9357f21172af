//! Steps the counterpart organisation (`org-b`, a correct system) takes: send to the SUT,
//! inject past the platform's validation, receive, refuse, return, cancel.

use std::collections::HashMap;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use pen_client::agent::{self, Event};
use pen_client::flows::{self, TransferOptions};
use pen_client::samples::Envelope;
use pen_protocol::api::{EnvioDeProcesso, Pendencia, Recusa};
use pen_protocol::model::{CabecalhoDeProcesso, MotivoDaUrgencia};
use pen_protocol::refusals::{Refusal, RefusalKind};
use pen_protocol::situacao::Situacao;
use pen_protocol::tables::MotivoRecusa;
use pen_simulator::control::Injection;

use super::{get, StepCtx, HINT_NRE};
use crate::run::evidence;
use crate::run::harness::{harness_err, Named, StepError, StepResult};
use crate::run::{COUNTERPART_ORG, REFERENCE_BLOCK};
use crate::scenario::{Alteration, Size};
use crate::target::{Trigger, TriggerRequest};

/// Why a refusal cannot be provoked on a target.
pub(crate) const REFUSAL_NEEDS: &str = "o alvo não declara uma espécie não mapeada (sut.unmapped_especie) nem um limite de tamanho (sut.max_document_mb), e o gatilho não é manual: não há como provocar uma recusa";

/// What the counterpart did with one pendência.
enum Handled {
    Received,
    Refused(MotivoRecusa, String),
    Failed(String),
}

impl StepCtx<'_> {
    pub(super) async fn counterpart_sends(
        &self,
        named: &mut HashMap<String, Named>,
        fixture: &str,
        name: &str,
        anexo: Option<Size>,
        alter: &[Alteration],
        urgente: bool,
    ) -> StepResult {
        let h = self.h;
        let sample = h.sample(fixture, anexo, alter)?;
        let protocolo = sample.envelope.protocolo().unwrap_or_default().to_owned();
        let (idt, nre) = if urgente {
            let Envelope::Processo(processo) = sample.envelope.clone() else {
                return Err(StepError::Harness("urgência só em processos".to_owned()));
            };
            let envio = EnvioDeProcesso {
                cabecalho: CabecalhoDeProcesso {
                    remetente: Some(h.counterpart_unit.clone()),
                    destinatario: Some(h.sut.unidade.clone()),
                    urgente: Some(true),
                    motivo_da_urgencia: Some(MotivoDaUrgencia::Codigo(1)),
                    enviar_apenas_componentes_digitais_pendentes: Some(true),
                    ..CabecalhoDeProcesso::default()
                },
                processo,
            };
            let options = TransferOptions {
                block: REFERENCE_BLOCK,
                whole_below: REFERENCE_BLOCK,
            };
            let sent = flows::send_process(&h.counterpart_client, &envio, &sample.source, options)
                .await
                .map_err(harness_err("envio da contraparte"))?;
            (sent.created.idt, sent.created.nre)
        } else {
            let report = h
                .counterpart
                .send_sample(sample, h.sut.unidade.clone())
                .await
                .map_err(harness_err("envio da contraparte"))?;
            let idt = *report
                .idts
                .first()
                .ok_or_else(|| StepError::Harness("nenhum trâmite criado".to_owned()))?;
            (idt, report.nre)
        };
        named.insert(
            name.to_owned(),
            Named {
                idt,
                nre,
                protocolo,
            },
        );
        Ok(())
    }

    pub(super) async fn counterpart_injects(
        &self,
        named: &mut HashMap<String, Named>,
        fixture: &str,
        name: &str,
        alter: &[Alteration],
    ) -> StepResult {
        let h = self.h;
        let sample = h.sample(fixture, None, alter)?;
        let protocolo = sample.envelope.protocolo().unwrap_or_default().to_owned();
        let Envelope::Processo(processo) = sample.envelope else {
            return Err(StepError::Harness("injeção só de processos".to_owned()));
        };
        let injection = Injection {
            as_spe: COUNTERPART_ORG.to_owned(),
            validate: false,
            processo: Some(EnvioDeProcesso {
                cabecalho: CabecalhoDeProcesso {
                    remetente: Some(h.counterpart_unit.clone()),
                    destinatario: Some(h.sut.unidade.clone()),
                    ..CabecalhoDeProcesso::default()
                },
                processo,
            }),
            documento: None,
            componentes: sample
                .source
                .files
                .0
                .iter()
                .map(|(hash, bytes)| (hash.clone(), STANDARD.encode(bytes)))
                .collect(),
        };
        let created = h.control.inject_processo(&injection).await?;
        named.insert(
            name.to_owned(),
            Named {
                idt: created.idt,
                nre: created.nre,
                protocolo,
            },
        );
        Ok(())
    }

    /// The counterpart handles the SUT's trâmite once, as its feed would: reads the metadata,
    /// applies the NUP/NRE rule, downloads, checks hashes and signs, or refuses.
    pub(super) async fn counterpart_receives(
        &self,
        named: &HashMap<String, Named>,
        tramite: &str,
    ) -> StepResult {
        let h = self.h;
        let t = get(named, tramite)?.clone();
        let status = h
            .situacao(t.idt)
            .await
            .unwrap_or(Situacao::ComponentesEnviadosRemetente);
        if matches!(
            status,
            Situacao::Cancelado | Situacao::CanceladoAutomaticamente
        ) {
            return Err(self
                .fail(
                    Some(t.idt),
                    "um trâmite que a contraparte possa receber",
                    format!(
                        "o trâmite foi para {} antes de a contraparte recebê-lo",
                        evidence::situacao(status)
                    ),
                    self.rule(),
                )
                .await);
        }
        let since = h
            .counterpart
            .activity(0)
            .last()
            .map_or(0, |logged| logged.seq);
        let _ = h.counterpart.handle(Pendencia { idt: t.idt, status }).await;
        let outcome = h
            .counterpart
            .activity(since)
            .into_iter()
            .find_map(|l| match l.event {
                Event::Received { idt, .. } if idt == t.idt => Some(Handled::Received),
                Event::Refused {
                    idt,
                    justificativa,
                    motivo,
                    ..
                } if idt == t.idt => Some(Handled::Refused(motivo, justificativa)),
                Event::Failed {
                    idt: Some(idt),
                    during,
                    error,
                    ..
                } if idt == t.idt => Some(Handled::Failed(format!("{during}: {error}"))),
                _ => None,
            });
        match outcome {
            Some(Handled::Received) => Ok(()),
            Some(Handled::Refused(motivo, justificativa)) => {
                let hint = match Refusal::recognise(&justificativa) {
                    Some(RefusalKind::ProtocoloJaExiste) => HINT_NRE.to_owned(),
                    Some(RefusalKind::HashNaoConfere) => "docs/protocol/modelo-e-recibos.md §2.7: o hash declarado é o SHA-256 dos bytes enviados; reenvios devem ser idênticos".to_owned(),
                    _ => self.rule(),
                };
                Err(self
                    .fail(
                        Some(t.idt),
                        "um trâmite que a contraparte, um sistema correto, aceita",
                        format!(
                            "a contraparte recusou com motivo {}: \"{justificativa}\"",
                            motivo.code()
                        ),
                        hint,
                    )
                    .await)
            }
            Some(Handled::Failed(failure)) => Err(StepError::Harness(format!(
                "a contraparte não conseguiu receber o trâmite {}: {failure}",
                t.idt
            ))),
            None => {
                let now = h
                    .situacao(t.idt)
                    .await
                    .map_or_else(|| "?".to_owned(), evidence::situacao);
                Err(StepError::Harness(format!(
                    "a contraparte não tratou o trâmite {}: ele está em {now}",
                    t.idt
                )))
            }
        }
    }

    pub(super) async fn counterpart_refuses(
        &self,
        named: &HashMap<String, Named>,
        tramite: &str,
        motivo: &str,
    ) -> StepResult {
        let h = self.h;
        let t = get(named, tramite)?.clone();
        let motivo = MotivoRecusa::from_code(motivo)
            .ok_or_else(|| StepError::Harness(format!("motivo inválido {motivo}")))?;
        let _ = h.counterpart_client.metadata(t.idt).await;
        let refused = h
            .counterpart_client
            .refuse(
                t.idt,
                &Recusa {
                    justificativa: format!(
                        "Recusa do cenário {} (conformidade).",
                        self.scenario.id
                    ),
                    motivo,
                },
            )
            .await;
        match refused {
            Ok(()) => Ok(()),
            Err(e) => match h.situacao(t.idt).await {
                // The SUT took the trâmite back before the counterpart could refuse it.
                Some(s @ (Situacao::Cancelado | Situacao::CanceladoAutomaticamente)) => Err(self
                    .fail(
                        Some(t.idt),
                        "um trâmite que a contraparte possa recusar",
                        format!(
                            "o trâmite foi para {} antes da recusa",
                            evidence::situacao(s)
                        ),
                        self.rule(),
                    )
                    .await),
                _ => Err(StepError::Harness(format!("recusa da contraparte: {e}"))),
            },
        }
    }

    pub(super) async fn counterpart_returns(
        &self,
        named: &mut HashMap<String, Named>,
        tramite: &str,
        name: &str,
    ) -> StepResult {
        let h = self.h;
        let t = get(named, tramite)?.clone();
        let report = h
            .counterpart
            .return_process(&agent::ReturnRequest {
                nup: t.protocolo.clone(),
                destino: Some(format!(
                    "{}/{}",
                    h.sut.unidade.identificacao_do_repositorio_de_estruturas,
                    h.sut.unidade.numero_de_identificacao_da_estrutura
                )),
                despacho: Some(format!("Devolvido no cenário {}.", self.scenario.id)),
            })
            .await
            .map_err(harness_err("devolução da contraparte"))?;
        let idt = *report
            .idts
            .first()
            .ok_or_else(|| StepError::Harness("nenhum trâmite criado".to_owned()))?;
        named.insert(
            name.to_owned(),
            Named {
                idt,
                nre: report.nre,
                protocolo: t.protocolo,
            },
        );
        Ok(())
    }

    /// Sends what the SUT's declared policy must refuse — an espécie it does not map, else a
    /// component over its limit — or, with a person at the trigger and neither declared, the
    /// sample as it is, asking the person to refuse it.
    pub(super) async fn counterpart_sends_refusable(
        &self,
        named: &mut HashMap<String, Named>,
        fixture: &str,
        name: &str,
    ) -> StepResult {
        let h = self.h;
        if h.sut.unmapped_especie.is_some() {
            return self
                .counterpart_sends(
                    named,
                    fixture,
                    name,
                    None,
                    &[Alteration::UnmappedEspecie],
                    false,
                )
                .await;
        }
        if h.sut.max_document_mb.is_some() {
            return self
                .counterpart_sends(
                    named,
                    fixture,
                    name,
                    Some(Size::AboveLimit(agent::policy::MB)),
                    &[],
                    false,
                )
                .await;
        }
        if !matches!(h.trigger, Trigger::Manual) {
            return Err(StepError::Skip(REFUSAL_NEEDS.to_owned()));
        }
        self.counterpart_sends(named, fixture, name, None, &[], false)
            .await?;
        let t = get(named, name)?.clone();
        let request = TriggerRequest {
            acao: "recusar",
            cenario: self.scenario.id.clone(),
            fixture: None,
            destino: format!(
                "{}/{}",
                h.sut.unidade.identificacao_do_repositorio_de_estruturas,
                h.sut.unidade.numero_de_identificacao_da_estrutura
            ),
            nup: t.protocolo.clone(),
            pasta: None,
            anexo_bytes: None,
            idt: Some(t.idt.0),
        };
        h.trigger
            .fire(&request)
            .await
            .map(drop)
            .map_err(|e| StepError::Harness(e.to_string()))
    }

    pub(super) async fn counterpart_fetches_receipt(
        &self,
        named: &HashMap<String, Named>,
        tramite: &str,
    ) -> StepResult {
        let h = self.h;
        let t = get(named, tramite)?.clone();
        match flows::fetch_conclusion_receipt(&h.counterpart_client, t.idt).await {
            Ok(_) => {
                self.wait_for(
                    named,
                    tramite,
                    Situacao::ReciboRecebidoRemetente,
                    &[],
                    "o recibo de conclusão obtido pela contraparte (situação 6)",
                    "docs/protocol/rest-v3.md §7.2",
                )
                .await
            }
            Err(e) => Err(self
                .fail(
                    Some(t.idt),
                    "um recibo de conclusão que a contraparte obtém e verifica",
                    format!("a contraparte não o obteve: {e}"),
                    "docs/protocol/rest-v3.md §7.1, §7.2",
                )
                .await),
        }
    }

    pub(super) async fn counterpart_acknowledges(
        &self,
        named: &HashMap<String, Named>,
        tramite: &str,
    ) -> StepResult {
        let h = self.h;
        let t = get(named, tramite)?.clone();
        match flows::acknowledge_refusal(&h.counterpart_client, t.idt).await {
            Ok(_) => {
                self.wait_for(
                    named,
                    tramite,
                    Situacao::CienciaRecusa,
                    &[],
                    "a ciência da recusa pela contraparte (situação 9)",
                    "docs/protocol/rest-v3.md §2.12",
                )
                .await
            }
            Err(e) => Err(StepError::Harness(format!("ciência da contraparte: {e}"))),
        }
    }

    pub(super) async fn counterpart_cancels(
        &self,
        named: &HashMap<String, Named>,
        tramite: &str,
    ) -> StepResult {
        let t = get(named, tramite)?.clone();
        self.h
            .counterpart_client
            .cancel(t.idt)
            .await
            .map_err(harness_err("cancelamento da contraparte"))
    }
}
