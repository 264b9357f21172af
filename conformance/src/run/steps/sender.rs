//! Steps that judge the SUT as a sender, through its trigger: it sends (and completes the
//! send), refuses to send what its own rules forbid, returns a process with its NRE, uploads in
//! parts, fetches its recibos, leaves a cancelled trâmite alone.

use std::collections::HashMap;

use pen_protocol::ids::Idt;
use pen_protocol::situacao::Situacao;
use pen_simulator::journal::{Entry, Event, Operation};

use super::{get, StepCtx, HINT_0044, HINT_0047, HINT_NRE};
use crate::run::evidence;
use crate::run::harness::{Named, StepError, StepResult, SutTramite};
use crate::run::COUNTERPART_UNIT;
use crate::scenario::Size;
use crate::target::{Trigger, TriggerFailure, TriggerOutcome, TriggerRequest};

fn counterpart_destino() -> String {
    format!("{}/{}", COUNTERPART_UNIT.0, COUNTERPART_UNIT.1)
}

fn opening(entry: &Entry) -> bool {
    matches!(&entry.event, Event::Request { operation, .. } if operation.is_open())
}

fn error_code(entry: &Entry) -> Option<&str> {
    match &entry.event {
        Event::Request { error_code, .. } => error_code.as_deref(),
        _ => None,
    }
}

impl StepCtx<'_> {
    /// Fires the trigger; a trigger that cannot be used is the harness's configuration error,
    /// one that does not finish is the SUT's failure to confirm it acted.
    async fn fire(
        &self,
        request: &TriggerRequest,
        expected: &str,
    ) -> Result<TriggerOutcome, StepError> {
        match self.h.trigger.fire(request).await {
            Ok(outcome) => Ok(outcome),
            Err(e @ TriggerFailure::Configuration(_)) => Err(StepError::Harness(e.to_string())),
            Err(e @ TriggerFailure::TimedOut { .. }) => {
                let observed = format!("{e}; {}", self.h.activity_note(self.mark).await);
                Err(self
                    .fail(
                        None,
                        expected,
                        observed,
                        "o gatilho (target.toml, [trigger]) deve terminar quando o sistema tiver agido: 0 feito, outro código recusado com o motivo",
                    )
                    .await)
            }
        }
    }

    /// Asks the SUT to send a sample under a fresh protocolo (or `protocolo`): the protocolo
    /// and what the trigger answered.
    async fn ask_to_send(
        &self,
        fixture: &str,
        anexo: Option<Size>,
        protocolo: Option<&str>,
        expected: &(dyn Fn(&str) -> String + Sync),
    ) -> Result<(String, TriggerOutcome), StepError> {
        let h = self.h;
        let mut sample = h.sample(fixture, anexo, &[])?;
        if let Some(p) = protocolo {
            sample = sample.with_protocolo(p);
        }
        let protocolo = sample.envelope.protocolo().unwrap_or_default().to_owned();
        let pasta = if matches!(h.trigger, Trigger::Builtin(_)) {
            None
        } else {
            Some(h.materialise(&sample)?)
        };
        let request = TriggerRequest {
            acao: "enviar",
            cenario: self.scenario.id.clone(),
            fixture: Some(fixture.to_owned()),
            destino: counterpart_destino(),
            nup: protocolo.clone(),
            pasta,
            anexo_bytes: anexo.map(|s| h.resolve_size(s)).transpose()?,
            idt: None,
        };
        let said = self.fire(&request, &expected(&protocolo)).await?;
        Ok((protocolo, said))
    }

    /// The verdict on a send the SUT did not complete.
    async fn not_sent(
        &self,
        expected: String,
        said: &TriggerOutcome,
        found: SutTramite,
        hint: &str,
    ) -> StepError {
        let opened = self
            .h
            .sut_requests(None, self.mark)
            .await
            .unwrap_or_default();
        let refused_open: Vec<&Entry> = opened
            .iter()
            .filter(|e| opening(e) && error_code(e).is_some())
            .collect();
        let hint = if refused_open.iter().any(|e| error_code(e) == Some("0044")) {
            HINT_0044.to_owned()
        } else if refused_open.iter().any(|e| error_code(e) == Some("0047")) {
            HINT_0047.to_owned()
        } else {
            hint.to_owned()
        };
        let (idt, observed) = match (&found, said) {
            (_, TriggerOutcome::Declined(reason)) if !matches!(found, SutTramite::Sent(_)) => {
                (None, format!("o SUT não enviou: {reason}"))
            }
            (SutTramite::Cancelled { idt, situacao }, _) => (
                Some(*idt),
                format!(
                    "o SUT abriu o trâmite {idt} e ele foi para {} sem chegar ao destinatário",
                    evidence::situacao(*situacao)
                ),
            ),
            (SutTramite::Stuck { idt, situacao }, _) => (
                Some(*idt),
                format!(
                    "o trâmite {idt} ficou em {} por {} s: nem todos os componentes foram enviados; {}",
                    evidence::situacao(*situacao),
                    self.h.deadline(self.scenario).as_secs(),
                    self.h.activity_note(self.mark).await
                ),
            ),
            _ if !refused_open.is_empty() => (
                None,
                format!(
                    "a plataforma recusou a abertura do trâmite: {}",
                    refused_open
                        .iter()
                        .map(|e| evidence::line(e))
                        .collect::<Vec<_>>()
                        .join(" | ")
                ),
            ),
            _ => (
                None,
                format!(
                    "nenhum trâmite do SUT com esse protocolo em {} s; {}",
                    self.h.deadline(self.scenario).as_secs(),
                    self.h.activity_note(self.mark).await
                ),
            ),
        };
        self.fail(idt, expected, observed, hint).await
    }

    pub(super) async fn sut_sends(
        &self,
        named: &mut HashMap<String, Named>,
        fixture: &str,
        name: &str,
        anexo: Option<Size>,
        again: Option<&str>,
    ) -> StepResult {
        let earlier = again.map(|n| get(named, n).cloned()).transpose()?;
        let expected = |p: &str| {
            format!("o processo {p} enviado à contraparte (componentes enviados, situação 2)")
        };
        let (protocolo, said) = self
            .ask_to_send(
                fixture,
                anexo,
                earlier.as_ref().map(|e| e.protocolo.as_str()),
                &expected,
            )
            .await?;
        let until = match said {
            // Declined: nothing more comes; only what it already did is looked at.
            TriggerOutcome::Declined(_) => std::time::Instant::now(),
            TriggerOutcome::Done => self.deadline,
        };
        let except = earlier.as_ref().map(|e| e.idt);
        match self
            .h
            .sut_tramite(&protocolo, except, self.mark, until)
            .await?
        {
            SutTramite::Sent(t) if said == TriggerOutcome::Done => {
                named.insert(name.to_owned(), t);
                Ok(())
            }
            other => Err(self
                .not_sent(
                    expected(&protocolo),
                    &said,
                    other,
                    "docs/protocol/rest-v3.md §6.1",
                )
                .await),
        }
    }

    /// The SUT tries to send while the platform fails its uploads: the trâmite it opened is
    /// named, whatever became of it.
    pub(super) async fn sut_send_fails(
        &self,
        named: &mut HashMap<String, Named>,
        fixture: &str,
        name: &str,
    ) -> StepResult {
        let h = self.h;
        let expected = "o SUT abre o trâmite e tenta enviar os componentes";
        let (protocolo, _said) = self
            .ask_to_send(fixture, None, None, &|_| expected.to_owned())
            .await?;
        let opened = h
            .control
            .wait(
                &pen_simulator::journal::JournalQuery {
                    kind: Some("state_change".to_owned()),
                    spe: Some(h.sut_org().to_owned()),
                    to: Some(Situacao::Iniciado.code()),
                    after: self.mark,
                    ..Default::default()
                },
                self.deadline
                    .saturating_duration_since(std::time::Instant::now()),
            )
            .await?;
        let Some(Event::StateChange { idt, .. }) = opened.map(|e| e.event) else {
            let observed = format!(
                "nenhum trâmite aberto para {protocolo}; {}",
                h.activity_note(self.mark).await
            );
            return Err(self
                .fail(None, expected, observed, "docs/protocol/rest-v3.md §6.1")
                .await);
        };
        let inspected = h.inspect(idt).await?;
        named.insert(
            name.to_owned(),
            Named {
                idt,
                nre: inspected.tramite.nre,
                protocolo,
            },
        );
        Ok(())
    }

    pub(super) async fn sut_refuses_to_send(&self, fixture: &str) -> StepResult {
        let expected = format!(
            "o SUT não envia {fixture}: suas próprias regras barram o envio antes da plataforma"
        );
        self.ask_to_send(fixture, None, None, &|_| expected.clone())
            .await?;
        let opened: Vec<Entry> = self
            .h
            .sut_requests(None, self.mark)
            .await?
            .into_iter()
            .filter(opening)
            .collect();
        if opened.is_empty() {
            return Ok(());
        }
        Err(StepError::Fail {
            expected,
            observed: format!(
                "{} POST de abertura de trâmite chegaram à plataforma",
                opened.len()
            ),
            evidence: evidence::lines(opened),
            hint: self.rule(),
        })
    }

    pub(super) async fn sut_returns(
        &self,
        named: &mut HashMap<String, Named>,
        tramite: &str,
        name: &str,
    ) -> StepResult {
        let h = self.h;
        let t = get(named, tramite)?.clone();
        let expected = format!("o processo {} devolvido à contraparte", t.protocolo);
        let request = TriggerRequest {
            acao: "devolver",
            cenario: self.scenario.id.clone(),
            fixture: None,
            destino: counterpart_destino(),
            nup: t.protocolo.clone(),
            pasta: None,
            anexo_bytes: None,
            idt: None,
        };
        let said = self.fire(&request, &expected).await?;
        let until = match said {
            // Declined: nothing more comes; only what it already did is looked at.
            TriggerOutcome::Declined(_) => std::time::Instant::now(),
            TriggerOutcome::Done => self.deadline,
        };
        match h
            .sut_tramite(&t.protocolo, Some(t.idt), self.mark, until)
            .await?
        {
            SutTramite::Sent(back) if said == TriggerOutcome::Done => {
                named.insert(name.to_owned(), back);
                Ok(())
            }
            other => Err(self.not_sent(expected, &said, other, HINT_NRE).await),
        }
    }

    pub(super) async fn same_nre(
        &self,
        named: &HashMap<String, Named>,
        tramite: &str,
        as_in: &str,
    ) -> StepResult {
        let (a, b) = (get(named, tramite)?, get(named, as_in)?);
        if a.nre == b.nre {
            return Ok(());
        }
        Err(self
            .fail(
                Some(a.idt),
                format!("o trâmite {} com o NRE {} do processo", a.idt, b.nre),
                format!(
                    "NRE {}: o SUT não enviou cabecalho.NRE e a plataforma emitiu outro",
                    a.nre
                ),
                HINT_NRE,
            )
            .await)
    }

    pub(super) async fn uploaded_in_parts(
        &self,
        named: &HashMap<String, Named>,
        tramite: &str,
    ) -> StepResult {
        let h = self.h;
        let t = get(named, tramite)?.clone();
        let ticket = h.inspect(t.idt).await?.ticket;
        let of_ticket = |entry: &Entry| match &entry.event {
            Event::Request { operation, .. } => operation.ticket() == Some(ticket),
            _ => false,
        };
        // The end-of-parts signal is journalled once answered, after the situação 2 it caused.
        let _ = h
            .wait_request(None, self.begun, self.deadline, |e| {
                of_ticket(e)
                    && matches!(
                        &e.event,
                        Event::Request {
                            operation: Operation::FinishParts { .. }
                                | Operation::UploadWhole { .. },
                            ..
                        }
                    )
            })
            .await?;
        let uploads = h.sut_requests(None, self.begun).await?;
        let mut parts = 0usize;
        let mut largest = 0u64;
        let mut signalled = false;
        for entry in uploads.iter().filter(|e| of_ticket(e)) {
            let Event::Request { operation, .. } = &entry.event else {
                continue;
            };
            match operation {
                Operation::UploadPart { range, .. } => {
                    parts += 1;
                    largest = largest.max(range.len());
                }
                Operation::FinishParts { .. } => signalled = true,
                _ => {}
            }
        }
        if parts < 2 || !signalled {
            return Err(self
                .fail(
                    Some(t.idt),
                    "o componente grande enviado em partes (PUT …/partes/{inicio}-{fim}) e o sinal de término",
                    format!(
                        "{parts} parte(s), sinal de término {}",
                        if signalled { "enviado" } else { "ausente" }
                    ),
                    "docs/protocol/modelo-e-recibos.md §2.5: acima do bloco, o envio é em partes seguidas de sinalizacao-termino-envio",
                )
                .await);
        }
        self.within_block(t.idt, largest).await
    }

    pub(super) async fn fetched_sending_receipt(
        &self,
        named: &HashMap<String, Named>,
        tramite: &str,
    ) -> StepResult {
        let t = get(named, tramite)?.clone();
        let fetched = self
            .h
            .wait_request(Some(t.idt), self.begun, self.deadline, |e| {
                matches!(
                    &e.event,
                    Event::Request {
                        operation: Operation::ReciboDeEnvio { .. },
                        status: 200,
                        ..
                    }
                )
            })
            .await?;
        if fetched.is_some() {
            return Ok(());
        }
        Err(self
            .fail(
                Some(t.idt),
                "GET tramites/{IDT}/recibo-de-envio depois do envio, para verificar a assinatura da plataforma",
                format!(
                    "o SUT não obteve o recibo de envio em {} s",
                    self.h.deadline(self.scenario).as_secs()
                ),
                "docs/protocol/rest-v3.md §6.1 passo 7; §7.2",
            )
            .await)
    }

    pub(super) async fn sut_leaves_alone(
        &self,
        named: &HashMap<String, Named>,
        tramite: &str,
    ) -> StepResult {
        let t: Idt = get(named, tramite)?.idt;
        let acted: Vec<Entry> = self
            .h
            .sut_requests(Some(t), self.begun)
            .await?
            .into_iter()
            .filter(|e| {
                matches!(
                    &e.event,
                    Event::Request {
                        operation: Operation::PostRecibo { .. } | Operation::Recusa { .. },
                        status,
                        ..
                    } if *status < 300
                )
            })
            .collect();
        if acted.is_empty() {
            return Ok(());
        }
        Err(StepError::Fail {
            expected: "nenhuma ação do SUT sobre um trâmite cancelado".to_owned(),
            observed: format!("{} recibo(s) ou recusa(s) aceitos", acted.len()),
            evidence: evidence::lines(acted),
            hint: self.rule(),
        })
    }
}
