//! Journal entries as a person reads them in a verdict: in journal order, with the wall-clock
//! time (the platform's own clock is shown beside it when the harness has moved it), who did
//! what, and the answer. No Rust names: situações are shown with the platform's description.

use pen_protocol::situacao::Situacao;
use pen_simulator::journal::{ActorName, Entry, Event, Operation};
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::OffsetDateTime;

/// Lines kept in one verdict (the newest).
pub(crate) const MAX_LINES: usize = 40;

/// `5 (Recibo de conclusão recebido pelo Tramita GOV.BR)`.
pub(crate) fn situacao(s: Situacao) -> String {
    format!("{} ({})", s.code(), s.descricao())
}

fn actor(a: ActorName) -> &'static str {
    match a {
        ActorName::Sender => "remetente",
        ActorName::Recipient => "destinatário",
        ActorName::Platform => "plataforma",
    }
}

fn clock(at: OffsetDateTime) -> String {
    at.format(format_description!(
        "[hour]:[minute]:[second].[subsecond digits:3]"
    ))
    .unwrap_or_default()
}

/// The platform's time of a situação change, when the harness has moved the platform's clock
/// away from the wall clock's (an automatic cancellation shows when it happened for the
/// platform).
fn platform_time(entry: &Entry) -> String {
    let apart = (entry.at - entry.wall_at).abs();
    if matches!(entry.event, Event::StateChange { .. }) && apart > time::Duration::hours(1) {
        format!(
            " [relógio da plataforma: {}]",
            entry.at.format(&Rfc3339).unwrap_or_default()
        )
    } else {
        String::new()
    }
}

/// What a request asked for, in a few words.
pub(crate) fn operation(op: &Operation) -> String {
    match op {
        Operation::Healthcheck => "healthcheck".to_owned(),
        Operation::Catalogue => "consulta ao catálogo".to_owned(),
        Operation::OpenProcesso => "abre trâmite de processo".to_owned(),
        Operation::OpenDocumento => "abre trâmite de documento avulso".to_owned(),
        Operation::UploadWhole { ticket } => format!("envia componente inteiro (ticket {ticket})"),
        Operation::UploadPart { ticket, range } => {
            format!("envia parte {range} (ticket {ticket})")
        }
        Operation::FinishParts { ticket } => format!("sinaliza fim das partes (ticket {ticket})"),
        Operation::Pendentes => "consulta pendências".to_owned(),
        Operation::LongPoll => "aguarda pendências (long poll)".to_owned(),
        Operation::Search => "consulta trâmites".to_owned(),
        Operation::Metadados { idt } => format!("lê metadados do trâmite {idt}"),
        Operation::Cancel { idt } => format!("cancela o trâmite {idt}"),
        Operation::DownloadWhole { idt } => format!("baixa componente inteiro do trâmite {idt}"),
        Operation::DownloadPart { idt, range } => {
            format!("baixa parte {range} do trâmite {idt}")
        }
        Operation::ReciboDeEnvio { idt } => format!("obtém o recibo de envio do trâmite {idt}"),
        Operation::GetRecibo { idt } => format!("obtém o recibo de conclusão do trâmite {idt}"),
        Operation::PostRecibo { idt } => format!("envia o recibo de conclusão do trâmite {idt}"),
        Operation::Recusa { idt } => format!("recusa o trâmite {idt}"),
        Operation::Ciencia { idt } => format!("dá ciência da recusa do trâmite {idt}"),
        Operation::Reproducao { nre } => format!("pede reprodução do NRE {nre}"),
        Operation::Other => "outra chamada".to_owned(),
    }
}

/// One journal entry as a line of evidence.
pub(crate) fn line(entry: &Entry) -> String {
    let when = clock(entry.wall_at);
    let body = match &entry.event {
        Event::Request {
            spe,
            common_name,
            method,
            path,
            operation: op,
            status,
            error_code,
            component,
            fault,
            ..
        } => {
            let who = spe
                .clone()
                .unwrap_or_else(|| format!("certificado não registrado (CN={common_name})"));
            let short = path
                .strip_prefix(pen_protocol::BASE_PATH)
                .map_or_else(|| path.clone(), |rest| format!("…/{rest}"));
            let mut text = format!("{who} {method} {short} — {} → {status}", operation(op));
            if let Some(code) = error_code {
                text.push_str(&format!(" (codigoErro {code})"));
            }
            if let Some(c) = component {
                text.push_str(&format!(" [componente {} de {}]", c.hash, c.protocolo));
            }
            if let Some(f) = fault {
                text.push_str(&format!(" [respondido por falha injetada: {f}]"));
            }
            text
        }
        Event::StateChange {
            idt,
            from,
            to,
            actor: who,
            spe,
        } => format!(
            "trâmite {idt}: {} → {} por {}{}",
            from.code(),
            situacao(*to),
            actor(*who),
            spe.as_ref().map(|s| format!(" ({s})")).unwrap_or_default()
        ),
        Event::HandshakeRefused { peer, reason } => {
            format!("conexão de {peer} recusada no handshake TLS: {reason}")
        }
        Event::Waiting {
            spe,
            operation: op,
            seconds,
        } => format!("{spe} {} (até {seconds} s)", operation(op)),
    };
    format!("#{} {when} {body}{}", entry.seq, platform_time(entry))
}

/// Entries as lines, in journal order, without repeats, the newest [`MAX_LINES`].
pub(crate) fn lines(mut entries: Vec<Entry>) -> Vec<String> {
    entries.sort_by_key(|e| e.seq);
    entries.dedup_by_key(|e| e.seq);
    let mut out: Vec<String> = entries.iter().map(line).collect();
    if out.len() > MAX_LINES {
        let cut = out.len() - MAX_LINES;
        out.drain(..cut);
        out.insert(0, format!("… ({cut} linhas anteriores omitidas)"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use pen_protocol::ids::Idt;
    use time::macros::datetime;

    fn entry(seq: u64, event: Event) -> Entry {
        Entry {
            seq,
            at: datetime!(2026-12-04 10:00:00 UTC),
            wall_at: datetime!(2026-12-04 10:00:01.250 UTC),
            event,
        }
    }

    #[test]
    fn lines_read_as_sentences_in_journal_order() {
        let request = entry(
            9,
            Event::Request {
                spe: Some("org-a".to_owned()),
                common_name: "org-a".to_owned(),
                method: "POST".to_owned(),
                path: format!("{}tramites/3/recibo", pen_protocol::BASE_PATH),
                operation: Operation::PostRecibo { idt: Idt(3) },
                status: 409,
                duration_micros: 10,
                error_code: Some("9102".to_owned()),
                component: None,
                fault: None,
            },
        );
        let change = entry(
            4,
            Event::StateChange {
                idt: Idt(3),
                from: Situacao::ComponentesRecebidosDestinatario,
                to: Situacao::ReciboEnviadoDestinatario,
                actor: ActorName::Recipient,
                spe: Some("org-a".to_owned()),
            },
        );
        let out = lines(vec![request, change]);
        assert_eq!(
            out,
            [
                "#4 10:00:01.250 trâmite 3: 4 → 5 (Recibo de conclusão recebido pelo Tramita GOV.BR) por destinatário (org-a)",
                "#9 10:00:01.250 org-a POST …/tramites/3/recibo — envia o recibo de conclusão do trâmite 3 → 409 (codigoErro 9102)",
            ]
        );
    }

    #[test]
    fn a_moved_platform_clock_is_shown_and_old_lines_are_cut() {
        let mut moved = entry(
            1,
            Event::StateChange {
                idt: Idt(3),
                from: Situacao::Iniciado,
                to: Situacao::CanceladoAutomaticamente,
                actor: ActorName::Platform,
                spe: None,
            },
        );
        moved.at = datetime!(2026-12-13 10:00:00 UTC);
        assert!(line(&moved).ends_with("[relógio da plataforma: 2026-12-13T10:00:00Z]"));
        let many: Vec<Entry> = (0..50).map(|i| entry(i, moved.event.clone())).collect();
        let out = lines(many);
        assert_eq!(out.len(), MAX_LINES + 1);
        assert!(out[0].contains("10 linhas anteriores omitidas"));
    }
}
