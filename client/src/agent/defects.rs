//! The agent's deliberate defects (mutants): each makes it wrong in exactly one way that a
//! conformance harness must notice on the wire. `pen-client agent --defect help` lists them.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

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
}

impl Defect {
    pub const ALL: [Defect; 9] = [
        Defect::ForgetNre,
        Defect::SkipHashCheck,
        Defect::AcceptOversize,
        Defect::BadReceiptSignature,
        Defect::ReceiptWrongHashes,
        Defect::IgnoreRefusal,
        Defect::SendUnsigned,
        Defect::SendWithoutInteressado,
        Defect::NoPartsForLarge,
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
        }
    }

    /// The `--defect help` text.
    #[must_use]
    pub fn help() -> String {
        let mut out = String::from("Defeitos deliberados do agente (--defect NOME, repetível):\n");
        for d in Defect::ALL {
            out.push_str(&format!("  {:<26}{}\n", d.name(), d.description()));
        }
        out
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
        Defect::ALL
            .into_iter()
            .find(|d| d.name() == s)
            .ok_or_else(|| UnknownDefect(s.to_owned()))
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
