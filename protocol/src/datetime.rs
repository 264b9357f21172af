//! Dates as the platform reads and writes them.
//!
//! Clients send many ISO-8601 shapes: PHP `DATE_W3C` (`2025-06-01T10:00:00-03:00`), with
//! milliseconds and `Z` (receipts), with an offset without colon (`…000-0300`, Java's `SSSZ`),
//! without any offset (`2017-05-15T03:41:13`, accepted by the platform), the RFC 1123 form and a
//! bare date — the Jackson `StdDateFormat` patterns a SUAP comment lists. [`parse`] accepts them
//! all. A text without offset is read as UTC, which is Jackson's default.
//!
//! The platform renders its own timestamps with milliseconds and an offset
//! ([`format_with_offset`]); the recibo de conclusão date is UTC with `.mmmZ`
//! ([`format_receipt_date`]).

use thiserror::Error;
use time::format_description::well_known::{Iso8601, Rfc2822, Rfc3339};
use time::macros::{format_description, offset};
use time::{Date, OffsetDateTime, PrimitiveDateTime, UtcOffset};

/// Brasília time, the offset of the platform's own timestamps (no daylight saving since 2019).
pub const BRASILIA: UtcOffset = offset!(-3);

/// A date text in none of the accepted shapes.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("data em formato não reconhecido: {0:?}")]
pub struct DateError(pub String);

/// Reads any of the accepted date shapes.
///
/// # Errors
/// [`DateError`] when none applies.
pub fn parse(text: &str) -> Result<OffsetDateTime, DateError> {
    let t = text.trim();
    if let Ok(dt) = OffsetDateTime::parse(t, &Rfc3339) {
        return Ok(dt);
    }
    if let Ok(dt) = OffsetDateTime::parse(t, &Iso8601::DEFAULT) {
        return Ok(dt);
    }
    if let Ok(dt) = PrimitiveDateTime::parse(t, &Iso8601::DEFAULT) {
        return Ok(dt.assume_utc());
    }
    if let Ok(dt) = OffsetDateTime::parse(t, &Rfc2822) {
        return Ok(dt);
    }
    if let Ok(dt) = parse_rfc1123_gmt(t) {
        return Ok(dt);
    }
    if let Ok(d) = Date::parse(t, format_description!("[year]-[month]-[day]")) {
        return Ok(d.midnight().assume_utc());
    }
    Err(DateError(text.to_owned()))
}

/// `EEE, dd MMM yyyy HH:mm:ss zzz` with a zone name (`GMT`, `UTC`), as Java prints it.
fn parse_rfc1123_gmt(t: &str) -> Result<OffsetDateTime, DateError> {
    let err = || DateError(t.to_owned());
    let body = t
        .strip_suffix(" GMT")
        .or_else(|| t.strip_suffix(" UTC"))
        .ok_or_else(err)?;
    let fmt = format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second]"
    );
    PrimitiveDateTime::parse(body, fmt)
        .map(PrimitiveDateTime::assume_utc)
        .map_err(|_| err())
}

/// An instant from epoch milliseconds (the Swagger example's `dataHoraDeRegistroDoTramite`).
///
/// # Errors
/// [`DateError`] when the value is out of range.
pub fn from_epoch_millis(ms: i64) -> Result<OffsetDateTime, DateError> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .map_err(|_| DateError(ms.to_string()))
}

/// Epoch milliseconds of an instant.
#[must_use]
pub fn to_epoch_millis(dt: OffsetDateTime) -> i64 {
    i64::try_from(dt.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// `2025-06-01T13:02:07.000Z`: the form every known client signs in the recibo de conclusão.
#[must_use]
pub fn format_receipt_date(dt: OffsetDateTime) -> String {
    let fmt =
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
    dt.to_offset(UtcOffset::UTC).format(fmt).unwrap_or_default()
}

/// `2025-06-01T10:00:00.000-03:00`: ISO-8601 with milliseconds and the given offset.
#[must_use]
pub fn format_with_offset(dt: OffsetDateTime, offset: UtcOffset) -> String {
    let fmt = format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3][offset_hour sign:mandatory]:[offset_minute]"
    );
    dt.to_offset(offset).format(fmt).unwrap_or_default()
}
