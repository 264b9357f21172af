//! The agent's quirks: behaviour that is correct but differs from the reference integrator's,
//! as real integrators differ from one another. A harness must pass an agent with any of them;
//! they exist so that its self-test can show it does not mistake a difference for a defect.
//! `pen-client agent --quirk help` lists them.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::names::{self, Named};

/// One correct-but-different behaviour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Quirk {
    /// Dates the recibo de conclusão with its own clock's "now" in UTC with real milliseconds
    /// (as SUAP signs), instead of the instant of situação 4 from the trâmite's history.
    ReceiptDatedNow,
    /// Tries every failed upload request (whole, part, end-of-parts) once more at once, before
    /// giving the send up; the reference retries only failed parts, after the others.
    RetryUploads,
}

impl Quirk {
    pub const ALL: [Quirk; 2] = [Quirk::ReceiptDatedNow, Quirk::RetryUploads];

    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Quirk::ReceiptDatedNow => "receipt-dated-now",
            Quirk::RetryUploads => "retry-uploads",
        }
    }

    /// What the quirk does, in one line.
    #[must_use]
    pub fn description(self) -> &'static str {
        match self {
            Quirk::ReceiptDatedNow => {
                "data o recibo de conclusão com a hora atual do agente (UTC, com milissegundos)"
            }
            Quirk::RetryUploads => {
                "repete uma vez, na hora, todo envio de componente que falhou antes de desistir"
            }
        }
    }

    /// The `--quirk help` text.
    #[must_use]
    pub fn help() -> String {
        names::help::<Quirk>("Particularidades corretas do agente (--quirk NOME, repetível):")
    }
}

impl Named for Quirk {
    const LIST: &'static [Self] = &Quirk::ALL;

    fn name(self) -> &'static str {
        Quirk::name(self)
    }

    fn description(self) -> &'static str {
        Quirk::description(self)
    }
}

impl fmt::Display for Quirk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A quirk name that does not exist.
#[derive(Debug, thiserror::Error)]
#[error("particularidade desconhecida: {0} (veja --quirk help)")]
pub struct UnknownQuirk(pub String);

impl FromStr for Quirk {
    type Err = UnknownQuirk;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        names::parse(s).ok_or_else(|| UnknownQuirk(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_help_lists_all() {
        let help = Quirk::help();
        for q in Quirk::ALL {
            assert_eq!(q.name().parse::<Quirk>().unwrap(), q);
            assert_eq!(q.to_string(), q.name());
            assert_eq!(serde_json::to_value(q).unwrap(), q.name());
            assert!(help.contains(q.name()));
            assert!(help.contains(q.description()));
        }
        assert!("retry-everything".parse::<Quirk>().is_err());
    }
}
