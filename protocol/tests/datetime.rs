use pen_protocol::datetime::{self, BRASILIA};
use time::macros::datetime;

#[test]
fn every_shape_clients_send() {
    let utc_13h = datetime!(2025-06-01 13:00:00 UTC);
    for text in [
        "2025-06-01T10:00:00-03:00", // PHP DATE_W3C (SEI)
        "2025-06-01T13:00:00.000Z",  // receipts
        "2025-06-01T13:00:00Z",
        "2025-06-01T10:00:00.000-0300",  // Java SSSZ
        "2025-06-01T13:00:00",           // no offset: read as UTC (Jackson's default)
        "Sun, 01 Jun 2025 13:00:00 GMT", // RFC 1123
        "Sun, 01 Jun 2025 13:00:00 +0000",
    ] {
        assert_eq!(datetime::parse(text).unwrap(), utc_13h, "{text}");
    }
    assert_eq!(
        datetime::parse("2025-06-01").unwrap(),
        datetime!(2025-06-01 0:00 UTC)
    );
    assert!(datetime::parse("01/06/2025").is_err());
    assert!(datetime::parse("").is_err());
}

#[test]
fn rendered_forms() {
    let t = datetime!(2025-06-01 13:02:07.123 UTC);
    assert_eq!(datetime::format_receipt_date(t), "2025-06-01T13:02:07.123Z");
    assert_eq!(
        datetime::format_with_offset(t, BRASILIA),
        "2025-06-01T10:02:07.123-03:00"
    );
    assert_eq!(
        datetime::to_epoch_millis(datetime!(2015-01-11 20:40:44.640 UTC)),
        1_421_008_844_640
    );
    assert_eq!(
        datetime::from_epoch_millis(1_421_008_844_640).unwrap(),
        datetime!(2015-01-11 20:40:44.640 UTC)
    );
}
