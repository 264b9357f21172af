//! One function per step kind, grouped by who acts: the counterpart ([`counterpart`]), the SUT
//! as recipient ([`recipient`]) and as sender ([`sender`]), and the platform itself
//! ([`platform`]: faults, clock, certificates, situações).
//!
//! A step passes, fails (the SUT did not do what the protocol asks: what was expected, what was
//! observed, the journal lines that show it, the rule with its section of `docs/protocol/`),
//! skips (the target cannot be judged on it, and why) or errs (the harness could not do its
//! part).

mod counterpart;
mod platform;
mod recipient;
mod sender;

use std::collections::HashMap;
use std::time::Instant;

use pen_protocol::ids::Idt;
use pen_protocol::situacao::Situacao;

use super::evidence;
use super::harness::{Harness, Named, StepError, StepResult};
use crate::scenario::{Scenario, Step};

pub(crate) use platform::restore_fingerprint;

pub(crate) const HINT_NRE: &str = "docs/protocol/rest-v3.md §5.1: o NRE é emitido no primeiro trâmite de um processo e deve voltar em cabecalho.NRE em todos os trâmites seguintes; sem ele a plataforma emite outro NRE e o destinatário, que já tem o NUP, recusa: \"Um processo com o número de protocolo … já existe no sistema de destino\" (o caso do artigo de suporte \"Número do Processo NUP já se encontra cadastrado\").";

pub(crate) const HINT_0044: &str = "docs/protocol/rest-v3.md §3.2 (0044), §6.1 passo 4: um NRE só tem um trâmite em andamento; antes de reenviar, o sistema consulta tramites?NRE= e cancela o trâmite parado em 1, e o trâmite anterior precisa estar concluído (recibo obtido, 6).";

pub(crate) const HINT_0047: &str = "docs/protocol/rest-v3.md §3.2 (0047); docs/protocol/modelo-e-recibos.md §2.7: um documento já enviado com este NRE deve ser reenviado com os mesmos bytes (o mesmo hash).";

/// Everything a step knows.
pub(crate) struct StepCtx<'a> {
    pub(crate) h: &'a Harness,
    pub(crate) scenario: &'a Scenario,
    /// The journal's last entry when the scenario started.
    pub(crate) begun: u64,
    /// The journal's last entry when the step started.
    pub(crate) mark: u64,
    pub(crate) deadline: Instant,
}

pub(crate) fn get<'n>(
    named: &'n HashMap<String, Named>,
    name: &str,
) -> Result<&'n Named, StepError> {
    named
        .get(name)
        .ok_or_else(|| StepError::Harness(format!("trâmite \"{name}\" não foi criado")))
}

/// Why a scenario cannot run against this target, before it starts.
pub(crate) fn skip_reason(harness: &Harness, scenario: &Scenario) -> Option<String> {
    let needs = scenario.needs();
    if needs.contains("gatilho") && !harness.trigger.available() {
        return Some("o alvo não tem gatilho ([trigger] em target.toml): cenários em que o SUT envia precisam de um".to_owned());
    }
    if needs.contains("limite de tamanho declarado") && harness.sut.max_document_mb.is_none() {
        return Some("o alvo não declara um limite de tamanho (sut.max_document_mb)".to_owned());
    }
    if needs.contains("espécie não mapeada declarada") && harness.sut.unmapped_especie.is_none() {
        return Some(
            "o alvo não declara uma espécie não mapeada (sut.unmapped_especie)".to_owned(),
        );
    }
    if needs.contains("uma recusa provocável")
        && harness.sut.unmapped_especie.is_none()
        && harness.sut.max_document_mb.is_none()
        && !matches!(harness.trigger, crate::target::Trigger::Manual)
    {
        return Some(counterpart::REFUSAL_NEEDS.to_owned());
    }
    None
}

impl StepCtx<'_> {
    /// A failure with the journal evidence of the scenario so far (about the trâmite, when one
    /// is named).
    pub(crate) async fn fail(
        &self,
        idt: Option<Idt>,
        expected: impl Into<String>,
        observed: impl Into<String>,
        hint: impl Into<String>,
    ) -> StepError {
        let after = if idt.is_some() { self.begun } else { self.mark };
        StepError::Fail {
            expected: expected.into(),
            observed: observed.into(),
            evidence: self.h.evidence(idt, after).await,
            hint: hint.into(),
        }
    }

    /// The scenario's rule and expectation, the default hint.
    pub(crate) fn rule(&self) -> String {
        format!("{}: {}", self.scenario.spec, self.scenario.expectation)
    }

    /// `nada em N s: … ficou em X; <what the SUT did on the wire>`.
    pub(crate) async fn nothing_happened(&self, idt: Idt) -> String {
        let now = self
            .h
            .situacao(idt)
            .await
            .map_or_else(|| "?".to_owned(), evidence::situacao);
        format!(
            "nada em {} s: o trâmite ficou em {now}; {}",
            self.h.deadline(self.scenario).as_secs(),
            self.h.activity_note(self.mark).await
        )
    }

    /// Waits for the trâmite to reach `code`, failing if it stops at one of `stops` or at the
    /// deadline.
    pub(crate) async fn wait_for(
        &self,
        named: &HashMap<String, Named>,
        tramite: &str,
        want: Situacao,
        stops: &[Situacao],
        expected: &str,
        hint: &str,
    ) -> StepResult {
        let t = get(named, tramite)?.clone();
        match self
            .h
            .wait_situacao(t.idt, &[want], stops, self.mark, self.deadline)
            .await?
        {
            Some(s) if s == want => Ok(()),
            Some(other) => Err(self
                .fail(
                    Some(t.idt),
                    expected,
                    format!("o trâmite foi para {}", evidence::situacao(other)),
                    hint,
                )
                .await),
            None => {
                let observed = self.nothing_happened(t.idt).await;
                Err(self.fail(Some(t.idt), expected, observed, hint).await)
            }
        }
    }

    pub(crate) async fn run(&self, step: &Step, named: &mut HashMap<String, Named>) -> StepResult {
        match step {
            Step::CounterpartSends {
                fixture,
                name,
                anexo,
                alter,
                urgente,
            } => {
                self.counterpart_sends(named, fixture, name, *anexo, alter, *urgente)
                    .await
            }
            Step::CounterpartInjects {
                fixture,
                name,
                alter,
            } => self.counterpart_injects(named, fixture, name, alter).await,
            Step::CounterpartReceives { tramite } => {
                self.counterpart_receives(named, tramite).await
            }
            Step::CounterpartRefuses { tramite, motivo } => {
                self.counterpart_refuses(named, tramite, motivo).await
            }
            Step::CounterpartReturns { tramite, name } => {
                self.counterpart_returns(named, tramite, name).await
            }
            Step::CounterpartCancels { tramite } => self.counterpart_cancels(named, tramite).await,
            Step::CounterpartSendsRefusable { fixture, name } => {
                self.counterpart_sends_refusable(named, fixture, name).await
            }
            Step::CounterpartFetchesReceipt { tramite } => {
                self.counterpart_fetches_receipt(named, tramite).await
            }
            Step::CounterpartAcknowledges { tramite } => {
                self.counterpart_acknowledges(named, tramite).await
            }
            Step::SutReacts {
                tramite,
                reaction,
                motivo,
            } => {
                self.sut_reacts(named, tramite, *reaction, motivo.as_deref())
                    .await
            }
            Step::ReceiptIsValid { tramite } => self.receipt_is_valid(named, tramite).await,
            Step::DownloadedInParts { tramite } => self.downloaded_in_parts(named, tramite).await,
            Step::DownloadedOnlyPending { tramite } => {
                self.downloaded_only_pending(named, tramite).await
            }
            Step::HandledOnce { tramite } => self.handled_once(named, tramite).await,
            Step::NothingDownloaded { tramite } => self.nothing_downloaded(named, tramite).await,
            Step::SutSends {
                fixture,
                name,
                anexo,
                again,
            } => {
                self.sut_sends(named, fixture, name, *anexo, again.as_deref())
                    .await
            }
            Step::SutSendFails { fixture, name } => self.sut_send_fails(named, fixture, name).await,
            Step::SutRefusesToSend { fixture } => self.sut_refuses_to_send(fixture).await,
            Step::SutReturns { tramite, name } => self.sut_returns(named, tramite, name).await,
            Step::SameNre { tramite, as_in } => self.same_nre(named, tramite, as_in).await,
            Step::UploadedInParts { tramite } => self.uploaded_in_parts(named, tramite).await,
            Step::FetchedSendingReceipt { tramite } => {
                self.fetched_sending_receipt(named, tramite).await
            }
            Step::SutFetchesReceipt { tramite } => {
                self.wait_for(
                    named,
                    tramite,
                    Situacao::ReciboRecebidoRemetente,
                    &[
                        Situacao::Cancelado,
                        Situacao::Recusado,
                        Situacao::CienciaRecusa,
                        Situacao::CanceladoAutomaticamente,
                    ],
                    "obter o recibo de conclusão (GET tramites/{IDT}/recibo, situação 6)",
                    "docs/protocol/rest-v3.md §6.1 passo 9",
                )
                .await
            }
            Step::SutAcknowledges { tramite } => {
                self.wait_for(
                    named,
                    tramite,
                    Situacao::CienciaRecusa,
                    &[
                        Situacao::ReciboEnviadoDestinatario,
                        Situacao::ReciboRecebidoRemetente,
                        Situacao::Cancelado,
                        Situacao::CanceladoAutomaticamente,
                    ],
                    "dar ciência da recusa (GET tramites/{IDT}/ciencia, situação 9)",
                    "docs/protocol/rest-v3.md §6.1 passo 10",
                )
                .await
            }
            Step::SutLeavesAlone { tramite } => self.sut_leaves_alone(named, tramite).await,
            Step::Situacao { tramite, is } => self.situacao_is(named, tramite, *is).await,
            Step::SutCertificateRegistered { registered } => {
                self.sut_certificate_registered(*registered).await
            }
            Step::SutRejected => self.sut_rejected().await,
            Step::Fault { fault } => self.fault(fault).await,
            Step::ClearFaults => Ok(self.h.control.clear_faults().await?),
            Step::AdvanceClock { days } => self.advance_clock(*days).await,
        }
    }
}
