//! Identifiers of the platform, each parsed once at the edge.
//!
//! - [`Idt`]: one trâmite (one hop); new for every hop, retry and reproduction.
//! - [`Nre`]: one process across all its hops; 16 digits, created on the first trâmite.
//! - [`Ticket`]: the upload session of a trâmite.
//! - [`Protocolo`]: what the sender calls the process or document — opaque to the platform.
//! - [`Nup`]: the federal protocol number `NNNNN.NNNNNN/NNNN-NN` with its mod-11 check digits,
//!   offered as a check only: the real platform accepts wrong check digits.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use thiserror::Error;

/// Why an identifier did not parse.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum IdError {
    #[error("NRE deve ter 16 dígitos: {0:?}")]
    Nre(String),
    #[error("NUP deve estar no formato NNNNN.NNNNNN/NNNN-NN: {0:?}")]
    Nup(String),
    #[error("identificador numérico inválido: {0:?}")]
    Number(String),
}

macro_rules! numeric_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(pub u64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}", self.0)
            }
        }

        impl FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                s.trim().parse().map($name).map_err(|_| IdError::Number(s.to_owned()))
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_u64(self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                crate::lenient::u64(d).map($name)
            }
        }
    };
}

numeric_id! {
    /// Identificador do trâmite: one hop of a process or document.
    Idt
}

numeric_id! {
    /// `ticketParaEnvioDeComponentesDigitais`: authorises the uploads of one trâmite.
    Ticket
}

impl Idt {
    /// The IDT as platform messages print it, with dots as thousands separators
    /// (`Trâmite com idt, 1.234.567, …`).
    #[must_use]
    pub fn grouped(self) -> String {
        let digits = self.0.to_string();
        let mut out = String::with_capacity(digits.len() + digits.len() / 3);
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                out.push('.');
            }
            out.push(c);
        }
        out
    }
}

/// Número de Registro Eletrônico: 16 decimal digits, the same on every hop of a process.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Nre(String);

impl Nre {
    /// Parses the 16-digit form.
    ///
    /// # Errors
    /// [`IdError::Nre`] unless the text is exactly 16 ASCII digits.
    pub fn parse(text: &str) -> Result<Self, IdError> {
        if text.len() == 16 && text.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Nre(text.to_owned()))
        } else {
            Err(IdError::Nre(text.to_owned()))
        }
    }

    /// Builds an NRE the way the simulator issues them: 10-digit sequence, 2 check digits,
    /// 4-digit year. The platform's own check-digit rule is unknown (spec: model §5.2); we use
    /// the NUP mod-11 rule over sequence and year so that our NREs are at least self-consistent.
    /// Clients never validate them.
    #[must_use]
    pub fn issue(sequence: u64, year: u16) -> Self {
        let sequence = sequence % 10_000_000_000;
        let base = format!("{sequence:010}{year:04}");
        let dv1 = mod11_check_digit(base.bytes().map(|b| b - b'0'));
        let dv2 = mod11_check_digit(base.bytes().map(|b| b - b'0').chain([dv1]));
        Nre(format!("{sequence:010}{dv1}{dv2}{year:04}"))
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Nre {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Nre {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Nre::parse(s)
    }
}

impl Serialize for Nre {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Nre {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // A PHP client holding the NRE as an integer would send it without leading zeros.
        let text = crate::lenient::string(d)?;
        let padded =
            if text.len() < 16 && !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
                format!("{text:0>16}")
            } else {
                text
            };
        Nre::parse(&padded).map_err(serde::de::Error::custom)
    }
}

/// The protocol number of a process or document as the sender wrote it (`processo.protocolo`).
///
/// Opaque for the platform (1..40 characters): SEI writes NUPs, other systems their own numbers.
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Protocolo(pub String);

impl Protocolo {
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Reads the protocol as a NUP, if it is written as one.
    ///
    /// # Errors
    /// [`IdError::Nup`] when the text is not in the NUP format.
    pub fn as_nup(&self) -> Result<Nup, IdError> {
        self.0.parse()
    }
}

impl fmt::Display for Protocolo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for Protocolo {
    fn from(s: &str) -> Self {
        Protocolo(s.to_owned())
    }
}

/// Número Único de Protocolo: `UUUUU.SSSSSS/AAAA-DD` (protocol unit, sequence, year, check
/// digits), Portaria Interministerial nº 11/2019.
///
/// Parsing checks the format only. [`Nup::has_valid_check_digits`] applies the mod-11 rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Nup {
    pub unidade: u32,
    pub sequencia: u32,
    pub ano: u16,
    pub dv: [u8; 2],
}

impl Nup {
    /// A NUP with correct check digits.
    #[must_use]
    pub fn new(unidade: u32, sequencia: u32, ano: u16) -> Self {
        let mut nup = Nup {
            unidade: unidade % 100_000,
            sequencia: sequencia % 1_000_000,
            ano: ano % 10_000,
            dv: [0, 0],
        };
        nup.dv = nup.expected_check_digits();
        nup
    }

    /// The 15 digits before the check digits.
    fn base_digits(&self) -> impl Iterator<Item = u8> + Clone {
        let base = format!("{:05}{:06}{:04}", self.unidade, self.sequencia, self.ano);
        base.into_bytes().into_iter().map(|b| b - b'0')
    }

    /// The check digits the mod-11 rule gives for this unit, sequence and year.
    #[must_use]
    pub fn expected_check_digits(&self) -> [u8; 2] {
        let dv1 = mod11_check_digit(self.base_digits());
        let dv2 = mod11_check_digit(self.base_digits().chain([dv1]));
        [dv1, dv2]
    }

    #[must_use]
    pub fn has_valid_check_digits(&self) -> bool {
        self.dv == self.expected_check_digits()
    }
}

/// Check digit of the NUP rule: weights 2, 3, 4, … from the right, no wrap-around;
/// `11 - (sum mod 11)`, where 10 and 11 become 0 and 1.
fn mod11_check_digit(digits: impl Iterator<Item = u8> + Clone) -> u8 {
    let digits: Vec<u8> = digits.collect();
    let sum: u64 = digits
        .iter()
        .rev()
        .zip(2u64..)
        .map(|(&d, w)| u64::from(d) * w)
        .sum();
    let mut r = 11 - (sum % 11);
    if r > 9 {
        r -= 10;
    }
    // r is in 0..=9 here.
    u8::try_from(r).unwrap_or(0)
}

impl fmt::Display for Nup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:05}.{:06}/{:04}-{}{}",
            self.unidade, self.sequencia, self.ano, self.dv[0], self.dv[1]
        )
    }
}

impl FromStr for Nup {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || IdError::Nup(s.to_owned());
        let b = s.as_bytes();
        let shape_ok = b.len() == 20
            && b[5] == b'.'
            && b[12] == b'/'
            && b[17] == b'-'
            && b.iter()
                .enumerate()
                .all(|(i, c)| matches!(i, 5 | 12 | 17) || c.is_ascii_digit());
        if !shape_ok {
            return Err(err());
        }
        let num = |r: std::ops::Range<usize>| {
            s.get(r).and_then(|t| t.parse::<u32>().ok()).ok_or_else(err)
        };
        Ok(Nup {
            unidade: num(0..5)?,
            sequencia: num(6..12)?,
            ano: u16::try_from(num(13..17)?).map_err(|_| err())?,
            dv: [b[18] - b'0', b[19] - b'0'],
        })
    }
}

impl Serialize for Nup {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Nup {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}
