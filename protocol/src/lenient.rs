//! Deserialisers that accept what real clients send rather than what the schema says.
//!
//! The platform runs on Java/Jackson, which coerces between JSON numbers and strings for scalar
//! members; real clients rely on it (`nivelDeSigilo` is `"1"` from SEI and `1` from the functional
//! tests, `numeroDeIdentificacaoDaEstrutura` is a string in the model but a number in some
//! clients, `especie.codigo` arrives both ways). These helpers give our types the same tolerance
//! on input while they always serialise in one canonical form.

use serde::de::{self, Deserializer};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(untagged)]
enum Scalar {
    Text(String),
    Unsigned(u64),
    Signed(i64),
    Float(f64),
    Flag(bool),
}

impl Scalar {
    fn into_text(self) -> String {
        match self {
            Scalar::Text(s) => s,
            Scalar::Unsigned(n) => n.to_string(),
            Scalar::Signed(n) => n.to_string(),
            Scalar::Float(n) => n.to_string(),
            Scalar::Flag(b) => b.to_string(),
        }
    }

    fn into_u64<E: de::Error>(self) -> Result<u64, E> {
        match self {
            Scalar::Unsigned(n) => Ok(n),
            Scalar::Text(s) => s.trim().parse().map_err(|_| {
                E::custom(format_args!("expected a non-negative integer, found {s:?}"))
            }),
            Scalar::Signed(n) => Err(E::custom(format_args!(
                "expected a non-negative integer, found {n}"
            ))),
            Scalar::Float(n) => Err(E::custom(format_args!("expected an integer, found {n}"))),
            Scalar::Flag(b) => Err(E::custom(format_args!("expected an integer, found {b}"))),
        }
    }
}

/// A string member that may arrive as a JSON number.
pub(crate) fn string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Scalar::deserialize(d).map(Scalar::into_text)
}

/// An optional string member that may arrive as a JSON number.
pub(crate) fn opt_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(Option::<Scalar>::deserialize(d)?.map(Scalar::into_text))
}

/// An integer member that may arrive as a numeric string.
pub(crate) fn u64<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    Scalar::deserialize(d)?.into_u64()
}

/// An optional integer member that may arrive as a numeric string.
pub(crate) fn opt_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    Option::<Scalar>::deserialize(d)?
        .map(Scalar::into_u64)
        .transpose()
}

/// An optional `u32` member that may arrive as a numeric string.
pub(crate) fn opt_u32<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    opt_u64(d)?
        .map(|n| {
            u32::try_from(n).map_err(|_| de::Error::custom(format_args!("{n} is out of range")))
        })
        .transpose()
}

/// An integer member that may arrive as a numeric string, narrowed to `u32`.
pub(crate) fn u32<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    let n = u64(d)?;
    u32::try_from(n).map_err(|_| de::Error::custom(format_args!("{n} is out of range")))
}

/// A boolean that may arrive as `true`/`false`, `1`/`0` or their string forms (PHP clients).
pub(crate) fn opt_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    Option::<Scalar>::deserialize(d)?
        .map(|s| match s {
            Scalar::Flag(b) => Ok(b),
            Scalar::Unsigned(0) => Ok(false),
            Scalar::Unsigned(1) => Ok(true),
            Scalar::Text(t) => parse_bool(&t)
                .ok_or_else(|| de::Error::custom(format_args!("expected a boolean, found {t:?}"))),
            other => Err(de::Error::custom(format_args!(
                "expected a boolean, found {}",
                other.into_text()
            ))),
        })
        .transpose()
}

/// A boolean with a default of `false` when absent.
pub(crate) fn bool_or_false<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    Ok(opt_bool(d)?.unwrap_or(false))
}

/// Reads a query-string or JSON boolean as PHP and Java clients write it.
#[must_use]
pub fn parse_bool(text: &str) -> Option<bool> {
    match text.trim() {
        "1" | "true" | "TRUE" | "True" => Some(true),
        "0" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}
