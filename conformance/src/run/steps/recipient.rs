//! Steps that judge the SUT as a recipient: its reaction to a trâmite (conclude or refuse), its
//! recibo de conclusão, how it downloaded, and that it handled the pendência once.

use std::collections::{BTreeSet, HashMap};

use pen_client::flows;
use pen_protocol::situacao::Situacao;
use pen_simulator::journal::{Entry, Event, Operation};
use time::OffsetDateTime;

use super::{get, StepCtx};
use crate::run::evidence;
use crate::run::harness::{Named, StepError, StepResult};
use crate::scenario::Reaction;

/// How far a recibo's `dataDeRecebimento` may lie after the moment it can stand for (the
/// platform's clock or the SUT's own), to allow for clocks that are not in step.
pub const RECEIPT_DATE_TOLERANCE: time::Duration = time::Duration::minutes(2);

/// The operation of a request entry that the platform itself answered (not an injected fault).
fn served(entry: &Entry) -> Option<(&Operation, u16)> {
    match &entry.event {
        Event::Request {
            operation,
            status,
            fault: None,
            ..
        } => Some((operation, *status)),
        _ => None,
    }
}

/// Hashes as a person reads them: comma-separated, `nenhum` for none.
fn hashes<'a>(all: impl IntoIterator<Item = &'a &'a String>) -> String {
    let list: Vec<&str> = all.into_iter().map(|h| h.as_str()).collect();
    if list.is_empty() {
        "nenhum".to_owned()
    } else {
        list.join(", ")
    }
}

fn operation(entry: &Entry) -> Option<&Operation> {
    match &entry.event {
        Event::Request { operation, .. } => Some(operation),
        _ => None,
    }
}

/// Whether `date` can be the recibo's date of a trâmite that reached situação 4 at `t4` (on
/// the platform's clock, `t4_wall` on the wall clock): from the moment of situação 4 (to the
/// second, as the SEI module truncates it) to now, on either clock, within
/// [`RECEIPT_DATE_TOLERANCE`].
pub(crate) fn plausible_receipt_date(
    date: OffsetDateTime,
    t4: OffsetDateTime,
    t4_wall: OffsetDateTime,
    platform_now: OffsetDateTime,
    wall_now: OffsetDateTime,
) -> bool {
    let second = time::Duration::seconds(1);
    let on_platform = date >= t4 - second && date <= platform_now + RECEIPT_DATE_TOLERANCE;
    let on_wall = date >= t4_wall - RECEIPT_DATE_TOLERANCE - second
        && date <= wall_now + RECEIPT_DATE_TOLERANCE;
    on_platform || on_wall
}

impl StepCtx<'_> {
    pub(super) async fn sut_reacts(
        &self,
        named: &HashMap<String, Named>,
        tramite: &str,
        reaction: Reaction,
        motivo: Option<&str>,
    ) -> StepResult {
        let h = self.h;
        let t = get(named, tramite)?.clone();
        let conclude = match reaction {
            Reaction::Conclude => true,
            Reaction::Refuse => false,
            Reaction::PerUnsignedPolicy => h.sut.accepts_unsigned,
        };
        let reached = h
            .wait_situacao(
                t.idt,
                &[
                    Situacao::ReciboEnviadoDestinatario,
                    Situacao::ReciboRecebidoRemetente,
                ],
                &[
                    Situacao::Cancelado,
                    Situacao::Recusado,
                    Situacao::CienciaRecusa,
                    Situacao::CanceladoAutomaticamente,
                ],
                self.mark,
                self.deadline,
            )
            .await?;
        let (m, j) = h.refusal_of(t.idt).await;
        let refusal_text = format!(
            "recusou com motivo {} e justificativa \"{}\"",
            m.clone().unwrap_or_else(|| "?".to_owned()),
            j.clone().unwrap_or_default()
        );
        let concluded = matches!(
            reached,
            Some(Situacao::ReciboEnviadoDestinatario | Situacao::ReciboRecebidoRemetente)
        );
        let refused = matches!(reached, Some(Situacao::Recusado | Situacao::CienciaRecusa));
        let wanted = if conclude {
            "receber e assinar o recibo de conclusão (situação 5)".to_owned()
        } else {
            format!(
                "recusar{}",
                motivo
                    .map(|m| format!(" com motivo {m}"))
                    .unwrap_or_default()
            )
        };
        match (conclude, concluded, refused) {
            (true, true, _) => Ok(()),
            (false, _, true) => match motivo {
                Some(want) if m.as_deref() != Some(want) => Err(self
                    .fail(
                        Some(t.idt),
                        wanted,
                        refusal_text,
                        self.scenario.spec.clone(),
                    )
                    .await),
                _ => Ok(()),
            },
            (true, _, true) => Err(self
                .fail(Some(t.idt), wanted, refusal_text, self.rule())
                .await),
            (false, true, _) => Err(self
                .fail(
                    Some(t.idt),
                    wanted,
                    "recebeu e assinou o recibo de conclusão (situação 5)",
                    self.rule(),
                )
                .await),
            _ => {
                let observed = match reached {
                    Some(s) => format!("o trâmite terminou em {}", evidence::situacao(s)),
                    None => format!(
                        "{} (sem descarte silencioso nem repetição sem fim)",
                        self.nothing_happened(t.idt).await
                    ),
                };
                Err(self.fail(Some(t.idt), wanted, observed, self.rule()).await)
            }
        }
    }

    pub(super) async fn receipt_is_valid(
        &self,
        named: &HashMap<String, Named>,
        tramite: &str,
    ) -> StepResult {
        let h = self.h;
        let t = get(named, tramite)?.clone();
        let inspected = h.inspect(t.idt).await?;
        let recibo = match h.counterpart_client.receipt(t.idt).await {
            Ok(r) => r,
            Err(e) => {
                return Err(self
                    .fail(
                        Some(t.idt),
                        "um recibo de conclusão legível",
                        format!("a plataforma não o entrega: {e}"),
                        "docs/protocol/rest-v3.md §7.1",
                    )
                    .await)
            }
        };
        if let Err(e) = flows::verify_conclusion_receipt(&recibo) {
            return Err(self
                .fail(
                    Some(t.idt),
                    "assinatura do recibo verificável com o certificado do SUT",
                    e.to_string(),
                    "docs/protocol/rest-v3.md §7.1; docs/protocol/modelo-e-recibos.md §3.6 (RSA PKCS#1 v1.5 SHA-256 sobre o texto canônico)",
                )
                .await);
        }
        let listed: BTreeSet<&String> = recibo
            .recibo
            .hashes_dos_componentes_digitais
            .iter()
            .collect();
        let downloaded: BTreeSet<&String> = inspected.downloaded.iter().collect();
        if listed != downloaded {
            return Err(self
                .fail(
                    Some(t.idt),
                    format!(
                        "o recibo lista exatamente os componentes baixados: {}",
                        hashes(&downloaded)
                    ),
                    format!("lista {}", hashes(&listed)),
                    "docs/protocol/modelo-e-recibos.md §3.4: os hashes do recibo são os componentes recebidos neste trâmite",
                )
                .await);
        }
        let date_text = &recibo.recibo.data_de_recebimento;
        let hint = format!("docs/protocol/modelo-e-recibos.md §3.5: dataDeRecebimento é o instante da situação 4 (o módulo do SEI o lê do histórico do trâmite) ou o \"agora\" de quem assina, em UTC; aceita-se até {} min de diferença entre relógios", RECEIPT_DATE_TOLERANCE.whole_minutes());
        let Ok(date) = pen_protocol::datetime::parse(date_text) else {
            return Err(self
                .fail(
                    Some(t.idt),
                    "dataDeRecebimento em UTC (aaaa-mm-ddThh:mm:ss.mmmZ)",
                    format!("dataDeRecebimento \"{date_text}\" não é uma data"),
                    hint,
                )
                .await);
        };
        let Some(four) = h
            .reached(
                t.idt,
                Situacao::ComponentesRecebidosDestinatario,
                self.begun,
            )
            .await?
        else {
            return Err(StepError::Harness(format!(
                "o trâmite {} não passou pela situação 4 no diário",
                t.idt
            )));
        };
        let platform_now = h.control.now().await?;
        if plausible_receipt_date(
            date,
            four.at,
            four.wall_at,
            platform_now,
            OffsetDateTime::now_utc(),
        ) {
            Ok(())
        } else {
            let iso = |at: OffsetDateTime| pen_protocol::datetime::format_receipt_date(at);
            Err(self
                .fail(
                    Some(t.idt),
                    format!(
                        "dataDeRecebimento entre a situação 4 ({} na plataforma) e agora",
                        iso(four.at)
                    ),
                    format!("dataDeRecebimento \"{date_text}\""),
                    hint,
                )
                .await)
        }
    }

    pub(super) async fn downloaded_in_parts(
        &self,
        named: &HashMap<String, Named>,
        tramite: &str,
    ) -> StepResult {
        let t = get(named, tramite)?.clone();
        let requests = self.h.sut_requests(Some(t.idt), self.begun).await?;
        let mut whole = 0usize;
        let mut parts = 0usize;
        let mut largest = 0u64;
        for op in requests.iter().filter_map(operation) {
            match op {
                Operation::DownloadWhole { .. } => whole += 1,
                Operation::DownloadPart { range, .. } => {
                    parts += 1;
                    largest = largest.max(range.len());
                }
                _ => {}
            }
        }
        if parts < 2 || whole > 0 {
            return Err(self
                .fail(
                    Some(t.idt),
                    "o componente grande baixado em partes (POST …/componentes-digitais/partes/{inicio}-{fim})",
                    format!("{parts} parte(s), {whole} download(s) inteiro(s)"),
                    "docs/protocol/modelo-e-recibos.md §2.5: o módulo baixa em blocos de TamanhoBlocoArquivoTransferencia",
                )
                .await);
        }
        self.within_block(t.idt, largest).await
    }

    /// Parts never larger than the block the SUT declared.
    pub(super) async fn within_block(
        &self,
        idt: pen_protocol::ids::Idt,
        largest: u64,
    ) -> StepResult {
        let block = self.h.sut.block_bytes;
        if largest <= block {
            return Ok(());
        }
        Err(self
            .fail(
                Some(idt),
                format!("partes de no máximo {block} bytes (o bloco declarado)"),
                format!("uma parte de {largest} bytes"),
                "docs/protocol/modelo-e-recibos.md §2.5",
            )
            .await)
    }

    pub(super) async fn downloaded_only_pending(
        &self,
        named: &HashMap<String, Named>,
        tramite: &str,
    ) -> StepResult {
        let h = self.h;
        let t = get(named, tramite)?.clone();
        let inspected = h.inspect(t.idt).await?;
        let pending: BTreeSet<String> = inspected
            .tramite
            .hash_dos_componentes_pendentes_de_recebimento
            .iter()
            .cloned()
            .collect();
        let mut asked = BTreeSet::new();
        for entry in h.sut_requests(Some(t.idt), self.begun).await? {
            if let Event::Request {
                operation,
                status,
                component: Some(c),
                ..
            } = &entry.event
            {
                if operation.is_download() && *status < 300 {
                    asked.insert(c.hash.clone());
                }
            }
        }
        let extra: Vec<&String> = asked.difference(&pending).collect();
        if extra.is_empty() {
            return Ok(());
        }
        Err(self
            .fail(
                Some(t.idt),
                format!(
                    "baixar só os {} componente(s) que lhe faltam",
                    pending.len()
                ),
                format!(
                    "baixou também {} componente(s) que já tinha: {}",
                    extra.len(),
                    hashes(&extra)
                ),
                "docs/protocol/rest-v3.md §5.1, §6.2: num processo que volta, a plataforma lista como pendentes só os componentes que o destinatário não tem",
            )
            .await)
    }

    /// One recibo or one refusal posted. A SUT is done with a pendência when it moves on —
    /// its next call to the platform about anything else, or its next wait on the feed — so
    /// the count waits for that (up to the deadline) before it is taken.
    pub(super) async fn handled_once(
        &self,
        named: &HashMap<String, Named>,
        tramite: &str,
    ) -> StepResult {
        let h = self.h;
        let t = get(named, tramite)?.clone();
        let concluding = |entry: &Entry| {
            matches!(
                served(entry),
                Some((Operation::PostRecibo { .. } | Operation::Recusa { .. }, _))
            )
        };
        let first = h
            .wait_request(Some(t.idt), self.begun, self.deadline, concluding)
            .await?;
        if let Some(first) = &first {
            h.moved_on(t.idt, first.seq, self.deadline).await?;
        }
        let requests = h.sut_requests(Some(t.idt), self.begun).await?;
        let mut recibos = 0usize;
        let mut recusas = 0usize;
        for (op, _) in requests.iter().filter_map(served) {
            match op {
                Operation::PostRecibo { .. } => recibos += 1,
                Operation::Recusa { .. } => recusas += 1,
                _ => {}
            }
        }
        if recibos + recusas == 1 {
            return Ok(());
        }
        Err(self
            .fail(
                Some(t.idt),
                "uma única conclusão (um POST recibo ou um POST recusa)",
                format!("{recibos} POST recibo, {recusas} POST recusa"),
                "docs/protocol/rest-v3.md §2.5: a mesma pendência aparece até o trâmite mudar de situação; tratá-la de novo não pode criar outro processo nem repetir o recibo",
            )
            .await)
    }

    pub(super) async fn nothing_downloaded(
        &self,
        named: &HashMap<String, Named>,
        tramite: &str,
    ) -> StepResult {
        let t = get(named, tramite)?.clone();
        let downloads = self
            .h
            .sut_requests(Some(t.idt), self.begun)
            .await?
            .iter()
            .filter_map(operation)
            .filter(|op| op.is_download())
            .count();
        if downloads == 0 {
            return Ok(());
        }
        Err(self
            .fail(
                Some(t.idt),
                "recusar pelos metadados, sem baixar componentes",
                format!("{downloads} pedido(s) de download antes da recusa"),
                "docs/protocol/modelo-e-recibos.md §2.4: a validação dos metadados (tamanhos, espécies, extensões, interessados) vem logo após GET tramites/{IDT} e antes de baixar",
            )
            .await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn a_receipt_date_is_judged_on_either_clock() {
        let t4 = datetime!(2026-12-04 10:00:00.700 UTC);
        let t4_wall = datetime!(2026-12-04 10:00:00.700 UTC);
        let now = datetime!(2026-12-04 10:00:05 UTC);
        let ok = |d| plausible_receipt_date(d, t4, t4_wall, now, now);
        // The SEI module: situação 4 from the history, milliseconds dropped.
        assert!(ok(datetime!(2026-12-04 10:00:00 UTC)));
        // SUAP: its own "now", with milliseconds.
        assert!(ok(datetime!(2026-12-04 10:00:04.321 UTC)));
        // A clock a minute ahead.
        assert!(ok(datetime!(2026-12-04 10:01:05 UTC)));
        assert!(!ok(datetime!(2001-01-01 00:00:00 UTC)));
        assert!(!ok(datetime!(2026-12-04 09:00:00 UTC)));
        assert!(!ok(datetime!(2026-12-04 11:00:00 UTC)));
        // The harness moved the platform's clock nine days on: the history's date and the
        // wall clock's "now" both pass.
        let moved = t4 + time::Duration::days(9);
        let later = now + time::Duration::days(9);
        assert!(plausible_receipt_date(moved, moved, t4_wall, later, now));
        assert!(plausible_receipt_date(now, moved, t4_wall, later, now));
    }
}
