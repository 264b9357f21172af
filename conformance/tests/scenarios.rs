//! The scenario files: they all parse, the format rejects what it must, and every mutant of the
//! reference agent is claimed by some scenario.

use pen_client::agent::Defect;
use pen_conformance::scenario::{self, Step};
use pen_conformance::verdict::Side;

#[test]
fn every_shipped_scenario_parses_with_a_unique_id() {
    let all = scenario::load_all().unwrap();
    assert!(all.len() >= 30, "{}", all.len());
    for s in &all {
        assert!(
            !s.title.is_empty() && !s.spec.is_empty() && !s.expectation.is_empty(),
            "{}",
            s.id
        );
        for c in &s.catches {
            assert!(c.parse::<Defect>().is_ok(), "{}: unknown mutant {c}", s.id);
        }
        let sends = s.steps.iter().any(Step::needs_trigger);
        if s.side == Side::Recipient {
            assert!(
                !sends,
                "{}: a recipient-side scenario needs no trigger",
                s.id
            );
        }
    }
    // The rest are the homologation rehearsal's: a requirement (R1–R3) claims each.
    let unclaimed: Vec<&str> = Defect::ALL
        .into_iter()
        .filter(|d| !all.iter().any(|s| s.catches.iter().any(|c| c == d.name())))
        .map(Defect::name)
        .collect();
    assert_eq!(
        unclaimed,
        [
            "never-refuses",
            "never-posts-recibo",
            "never-fetches-recibo"
        ]
    );
    for family in ["NRE", "tamanho", "assinatura", "interessado"] {
        assert!(all.iter().any(|s| s.family == family), "family {family}");
    }
}

#[test]
fn the_format_rejects_unknown_keys_and_names_used_too_early() {
    let head = "id = \"x\"\ntitle = \"t\"\nfamily = \"f\"\nside = \"recipient\"\nspec = \"s\"\nexpectation = \"e\"\n";
    let unknown = format!("{head}[[steps]]\ndo = \"counterpart_sends\"\nfixture = \"processo-simples\"\nas = \"ida\"\ncolor = 1\n");
    let err = scenario::parse("x.toml", &unknown).unwrap_err().to_string();
    assert!(err.contains("color"), "{err}");
    let early = format!(
        "{head}[[steps]]\ndo = \"sut_reacts\"\ntramite = \"ida\"\nreaction = \"conclude\"\n"
    );
    let err = scenario::parse("x.toml", &early).unwrap_err().to_string();
    assert!(err.contains("antes de algum passo criá-lo"), "{err}");
    let unknown_step = format!("{head}[[steps]]\ndo = \"dance\"\n");
    assert!(scenario::parse("x.toml", &unknown_step).is_err());
    let none = head.to_owned() + "steps = []\n";
    assert!(scenario::parse("x.toml", &none).is_err());
}

#[test]
fn the_suite_version_names_the_harness_and_the_scenarios() {
    let v = scenario::suite_version();
    assert!(v.starts_with(env!("CARGO_PKG_VERSION")), "{v}");
    assert!(v.contains("+cenarios."), "{v}");
}
