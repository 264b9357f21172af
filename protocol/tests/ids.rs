use proptest::prelude::*;

use pen_protocol::ids::{Idt, Nre, Nup, Protocolo};
use pen_protocol::ranges::PartRange;

/// NUPs with correct check digits, from the calculator's worked example and the sources
/// (`model-receipts-soap.md` §5.1).
const VALID_NUPS: [&str; 6] = [
    "02019.003483/2018-68",
    "14022.174193/2022-12",
    "00768.000003/2021-12",
    "00768.000021/2022-77",
    "02047.000449/2015-51",
    "12345.123456/1234-54",
];

/// Well-formed NUPs with wrong check digits that the real platform accepted, with the digits
/// they should have had.
const WRONG_CHECK_DIGITS: [(&str, [u8; 2]); 2] = [
    ("13990.000185/2024-00", [7, 4]),
    ("13990.811212/2020-00", [1, 1]),
];

const MALFORMED: [&str; 7] = [
    "13990811212202000",
    "1399.811212/2020-00",
    "13990.811212/2020-0X",
    "13990.811212-2020/00",
    "13990.811212/2020-001",
    "",
    "ab990.811212/2020-00",
];

#[test]
fn nup_check_digit_table() {
    for text in VALID_NUPS {
        let nup: Nup = text.parse().unwrap();
        assert!(nup.has_valid_check_digits(), "{text}");
        assert_eq!(nup.to_string(), text);
    }
    for (text, expected) in WRONG_CHECK_DIGITS {
        let nup: Nup = text
            .parse()
            .expect("wrong check digits still parse: the platform accepts them");
        assert!(!nup.has_valid_check_digits(), "{text}");
        assert_eq!(nup.expected_check_digits(), expected, "{text}");
    }
    for text in MALFORMED {
        assert!(text.parse::<Nup>().is_err(), "{text:?} parsed");
    }
    // The calculator's worked example: 02019.003483/2018 → DV 6, then 8.
    assert_eq!(
        Nup::new(2019, 3483, 2018).to_string(),
        "02019.003483/2018-68"
    );
}

#[test]
fn protocolo_is_opaque_but_can_be_read_as_nup() {
    let unformatted = Protocolo::from("15900032649");
    assert!(unformatted.as_nup().is_err());
    assert_eq!(
        serde_json::to_string(&unformatted).unwrap(),
        r#""15900032649""#
    );
    assert!(Protocolo::from("02019.003483/2018-68")
        .as_nup()
        .unwrap()
        .has_valid_check_digits());
}

#[test]
fn nre_is_sixteen_digits() {
    assert_eq!(
        Nre::parse("0000025656262025").unwrap().as_str(),
        "0000025656262025"
    );
    for bad in [
        "000002565626202",
        "00000256562620251",
        "000002565626202a",
        "",
    ] {
        assert!(Nre::parse(bad).is_err(), "{bad:?}");
    }
    // A client that keeps the NRE as a number loses the leading zeros; read it back padded.
    let nre: Nre = serde_json::from_str("25656262025").unwrap();
    assert_eq!(nre.as_str(), "0000025656262025");
    let issued = Nre::issue(72, 2025);
    assert_eq!(issued.as_str().len(), 16);
    assert!(
        issued.as_str().starts_with("0000000072") && issued.as_str().ends_with("2025"),
        "{issued}"
    );
    assert_eq!(Nre::issue(72, 2025), issued, "deterministic");
}

#[test]
fn idt_with_thousands_separators() {
    assert_eq!(Idt(1_234_567).grouped(), "1.234.567");
    assert_eq!(Idt(999).grouped(), "999");
    assert_eq!(Idt(1000).grouped(), "1.000");
    assert_eq!(Idt(0).grouped(), "0");
    let idt: Idt = serde_json::from_str(r#""142""#).unwrap();
    assert_eq!(serde_json::to_string(&idt).unwrap(), "142");
}

#[test]
fn part_ranges() {
    assert_eq!(
        "0-10".parse::<PartRange>().unwrap(),
        PartRange { inicio: 0, fim: 10 }
    );
    assert!(
        "5-5".parse::<PartRange>().unwrap().is_empty(),
        "0-0 serves a zero-byte component"
    );
    for bad in ["10-5", "-5", "5-", "a-b", "1-2-3", "+1-2", " 1-2", ""] {
        assert!(bad.parse::<PartRange>().is_err(), "{bad:?}");
    }
    let parts: Vec<String> = PartRange::split(25, 10).map(|r| r.to_string()).collect();
    assert_eq!(parts, ["0-10", "10-20", "20-25"]);
    assert_eq!(
        PartRange::split(0, 10).collect::<Vec<_>>(),
        [PartRange { inicio: 0, fim: 0 }]
    );
    assert!(!PartRange {
        inicio: 20,
        fim: 26
    }
    .fits(25));
}

proptest! {
    #[test]
    fn nup_display_parse_round_trip(unidade in 0u32..100_000, sequencia in 0u32..1_000_000, ano in 0u16..10_000) {
        let nup = Nup::new(unidade, sequencia, ano);
        prop_assert!(nup.has_valid_check_digits());
        let parsed: Nup = nup.to_string().parse().unwrap();
        prop_assert_eq!(parsed, nup);
    }

    #[test]
    fn any_changed_check_digit_is_detected(unidade in 0u32..100_000, sequencia in 0u32..1_000_000, ano in 0u16..10_000, which in 0usize..2, delta in 1u8..10) {
        let mut nup = Nup::new(unidade, sequencia, ano);
        nup.dv[which] = (nup.dv[which] + delta) % 10;
        prop_assert!(!nup.has_valid_check_digits());
    }

    #[test]
    fn nup_parser_never_panics(text in "\\PC{0,30}") {
        let _ = text.parse::<Nup>();
    }

    #[test]
    fn part_range_parser_never_panics_and_round_trips(text in "[0-9-]{0,25}") {
        if let Ok(range) = text.parse::<PartRange>() {
            prop_assert!(range.inicio <= range.fim);
            prop_assert_eq!(range.to_string().parse::<PartRange>().unwrap(), range);
        }
    }

    /// The parts of a split are contiguous, start at 0, end at the size, and none exceeds the block.
    #[test]
    fn split_covers_the_component(size in 0u64..10_000_000, block in 1u64..3_000_000) {
        let parts: Vec<PartRange> = PartRange::split(size, block).collect();
        prop_assert_eq!(parts[0].inicio, 0);
        prop_assert_eq!(parts.last().unwrap().fim, size);
        for pair in parts.windows(2) {
            prop_assert_eq!(pair[0].fim, pair[1].inicio);
        }
        prop_assert!(parts.iter().all(|p| p.len() <= block && p.fits(size)));
    }
}
