//! Part ranges of chunked uploads and downloads: `{inicio}-{fim}` in the path, zero-based byte
//! offsets with `fim` exclusive (`0-1` is one byte), so a component of `n` bytes is covered by
//! parts ending at `n`.

use std::fmt;
use std::str::FromStr;

use thiserror::Error;

/// A byte range `[inicio, fim)` of a component.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PartRange {
    pub inicio: u64,
    pub fim: u64,
}

/// Why a range was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RangeError {
    #[error("intervalo de parte inválido: {0:?} (esperado {{inicio}}-{{fim}})")]
    Syntax(String),
    #[error("intervalo de parte inválido: fim {fim} menor que início {inicio}")]
    Reversed { inicio: u64, fim: u64 },
}

impl PartRange {
    /// # Errors
    /// [`RangeError::Reversed`] when `fim < inicio`.
    pub fn new(inicio: u64, fim: u64) -> Result<Self, RangeError> {
        if fim < inicio {
            return Err(RangeError::Reversed { inicio, fim });
        }
        Ok(PartRange { inicio, fim })
    }

    #[must_use]
    pub fn len(&self) -> u64 {
        self.fim - self.inicio
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.fim == self.inicio
    }

    /// Whether the range lies inside a component of `size` bytes.
    #[must_use]
    pub fn fits(&self, size: u64) -> bool {
        self.fim <= size
    }

    /// The parts of `block` bytes that cover a component of `size` bytes, the last one shorter.
    /// A zero-byte component yields the single empty part `0-0`; a zero block is treated as 1.
    pub fn split(size: u64, block: u64) -> impl Iterator<Item = PartRange> {
        let block = block.max(1);
        let count = if size == 0 { 1 } else { size.div_ceil(block) };
        (0..count).map(move |i| {
            let inicio = i * block;
            PartRange {
                inicio,
                fim: (inicio + block).min(size),
            }
        })
    }
}

impl fmt::Display for PartRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.inicio, self.fim)
    }
}

impl FromStr for PartRange {
    type Err = RangeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let syntax = || RangeError::Syntax(s.to_owned());
        let (a, b) = s.split_once('-').ok_or_else(syntax)?;
        let digits = |t: &str| -> Result<u64, RangeError> {
            if t.is_empty() || !t.bytes().all(|c| c.is_ascii_digit()) {
                return Err(syntax());
            }
            t.parse().map_err(|_| syntax())
        };
        PartRange::new(digits(a)?, digits(b)?)
    }
}

// As the path writes it (`0-262144`), so that journals and reports read the same text.
impl serde::Serialize for PartRange {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for PartRange {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod serde_tests {
    use super::PartRange;

    #[test]
    fn a_range_travels_as_its_path_text() {
        let range = PartRange::new(0, 262_144).unwrap();
        let json = serde_json::to_string(&range).unwrap();
        assert_eq!(json, "\"0-262144\"");
        assert_eq!(serde_json::from_str::<PartRange>(&json).unwrap(), range);
        assert!(serde_json::from_str::<PartRange>("\"9-1\"").is_err());
    }
}
