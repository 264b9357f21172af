//! The agent's deliberate defects (mutants): each makes it wrong in exactly one way that a
//! conformance harness must notice on the wire. `pen-client agent --defect help` lists them.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::names::{self, Named};

/// One deliberate defect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Defect {
    /// Returns a process without its NRE: the platform issues a new one and the original
    /// sender finds a protocolo that already exists.
    ForgetNre,
    /// Does not compare downloaded bytes with the declared hash: concludes a corrupted
    /// component instead of refusing it with motivo 02.
    SkipHashCheck,
    /// Ignores its size limits: downloads and concludes what its policy should refuse.
    AcceptOversize,
    /// Signs the recibo de conclusão with a damaged signature: the platform answers `0024`.
    BadReceiptSignature,
    /// Leaves the last downloaded component out of the recibo de conclusão it signs.
    ReceiptWrongHashes,
    /// Never acknowledges a refusal of what it sent (the trâmite stays at 8, never 9).
    IgnoreRefusal,
    /// Sends processes whose documents carry no signature instead of stopping them.
    SendUnsigned,
    /// Sends processes without interessados instead of stopping them.
    SendWithoutInteressado,
    /// Uploads every component whole, however large (no parts).
    NoPartsForLarge,
    /// Downloads every pending component of a trâmite it refuses on its metadata (policy or the
    /// NUP/NRE rule), and only then refuses it, with the same motivo and text.
    DownloadBeforeRefusing,
    /// Signs and posts its recibo de conclusão dated `2001-01-01T00:00:00.000Z` (the signature
    /// covers that date, so the platform accepts it).
    ReceiptOldDate,
    /// Posts its recibo de conclusão a second time right after the platform accepted it.
    PostsReceiptTwice,
    /// Cancels what it sends once the components are uploaded (situação 2 → 7), and reports
    /// the send as done.
    CancelsItsSends,
    /// Never refuses: what its policy or the NRE rule refuses, it receives and concludes.
    NeverRefuses,
    /// Receives (every component downloaded and checked, the process kept) but never posts the
    /// recibo de conclusão: the trâmite stays at 4.
    NeverPostsRecibo,
    /// As a sender, never fetches the recibo de conclusão of what it sent: the trâmite stays
    /// at 5, never 6.
    NeverFetchesRecibo,
}

impl Defect {
    pub const ALL: [Defect; 16] = [
        Defect::ForgetNre,
        Defect::SkipHashCheck,
        Defect::AcceptOversize,
        Defect::BadReceiptSignature,
        Defect::ReceiptWrongHashes,
        Defect::IgnoreRefusal,
        Defect::SendUnsigned,
        Defect::SendWithoutInteressado,
        Defect::NoPartsForLarge,
        Defect::DownloadBeforeRefusing,
        Defect::ReceiptOldDate,
        Defect::PostsReceiptTwice,
        Defect::CancelsItsSends,
        Defect::NeverRefuses,
        Defect::NeverPostsRecibo,
        Defect::NeverFetchesRecibo,
    ];

    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Defect::ForgetNre => "forget-nre",
            Defect::SkipHashCheck => "skip-hash-check",
            Defect::AcceptOversize => "accept-oversize",
            Defect::BadReceiptSignature => "bad-receipt-signature",
            Defect::ReceiptWrongHashes => "receipt-wrong-hashes",
            Defect::IgnoreRefusal => "ignore-refusal",
            Defect::SendUnsigned => "send-unsigned",
            Defect::SendWithoutInteressado => "send-without-interessado",
            Defect::NoPartsForLarge => "no-parts-for-large",
            Defect::DownloadBeforeRefusing => "download-before-refusing",
            Defect::ReceiptOldDate => "receipt-old-date",
            Defect::PostsReceiptTwice => "posts-receipt-twice",
            Defect::CancelsItsSends => "cancels-its-sends",
            Defect::NeverRefuses => "never-refuses",
            Defect::NeverPostsRecibo => "never-posts-recibo",
            Defect::NeverFetchesRecibo => "never-fetches-recibo",
        }
    }

    /// What the defect does, in one line.
    #[must_use]
    pub fn description(self) -> &'static str {
        match self {
            Defect::ForgetNre => {
                "devolve processos sem o NRE (o remetente original recusa: protocolo já existe)"
            }
            Defect::SkipHashCheck => {
                "não confere o hash dos componentes baixados (conclui componente corrompido)"
            }
            Defect::AcceptOversize => {
                "ignora os limites de tamanho da política (não recusa o que excede)"
            }
            Defect::BadReceiptSignature => {
                "assina o recibo de conclusão com assinatura inválida (0024)"
            }
            Defect::ReceiptWrongHashes => {
                "omite o último componente baixado da lista de hashes do recibo"
            }
            Defect::IgnoreRefusal => "não dá ciência das recusas do que enviou (fica em 8)",
            Defect::SendUnsigned => "envia documentos sem assinatura em vez de impedir o envio",
            Defect::SendWithoutInteressado => {
                "envia processos sem interessados em vez de impedir o envio"
            }
            Defect::NoPartsForLarge => "envia componentes grandes inteiros, nunca em partes",
            Defect::DownloadBeforeRefusing => {
                "baixa todos os componentes do que recusa pelos metadados e só então recusa"
            }
            Defect::ReceiptOldDate => {
                "assina e envia o recibo de conclusão com dataDeRecebimento de 2001-01-01"
            }
            Defect::PostsReceiptTwice => {
                "envia o recibo de conclusão duas vezes seguidas (o segundo após o aceite)"
            }
            Defect::CancelsItsSends => {
                "cancela o trâmite que enviou logo após o envio dos componentes (vai a 7)"
            }
            Defect::NeverRefuses => {
                "nunca recusa: recebe e conclui o que a política ou a regra do NRE recusariam"
            }
            Defect::NeverPostsRecibo => {
                "recebe tudo mas nunca envia o recibo de conclusão (o trâmite fica em 4)"
            }
            Defect::NeverFetchesRecibo => {
                "nunca busca o recibo de conclusão do que enviou (o trâmite fica em 5)"
            }
        }
    }

    /// The `--defect help` text.
    #[must_use]
    pub fn help() -> String {
        names::help::<Defect>("Defeitos deliberados do agente (--defect NOME, repetível):")
    }
}

impl Named for Defect {
    const LIST: &'static [Self] = &Defect::ALL;

    fn name(self) -> &'static str {
        Defect::name(self)
    }

    fn description(self) -> &'static str {
        Defect::description(self)
    }
}

impl fmt::Display for Defect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A defect name that does not exist.
#[derive(Debug, thiserror::Error)]
#[error("defeito desconhecido: {0} (veja --defect help)")]
pub struct UnknownDefect(pub String);

impl FromStr for Defect {
    type Err = UnknownDefect;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        names::parse(s).ok_or_else(|| UnknownDefect(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_help_lists_all() {
        let help = Defect::help();
        for d in Defect::ALL {
            assert_eq!(d.name().parse::<Defect>().unwrap(), d);
            assert_eq!(serde_json::to_value(d).unwrap(), d.name());
            assert!(help.contains(d.name()));
        }
        assert!("forget-nothing".parse::<Defect>().is_err());
    }
}
