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

/// Every section a verdict or a scenario cites (`docs/protocol/rest-v3.md §6.1`, and the
/// `§7.2` after it) exists in the protocol reference shipped in the repository.
#[test]
fn every_cited_section_of_the_protocol_reference_exists() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut texts: Vec<(String, String)> = Vec::new();
    for (path, bytes) in pen_fixtures::files("scenarios")
        .into_iter()
        .chain(pen_fixtures::files("homologacao"))
    {
        texts.push((path.to_owned(), String::from_utf8_lossy(bytes).into_owned()));
    }
    let mut sources = vec![root.join("conformance/src")];
    while let Some(dir) = sources.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                sources.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                texts.push((
                    path.display().to_string(),
                    std::fs::read_to_string(&path).unwrap(),
                ));
            }
        }
    }
    let headings = |file: &str| -> Vec<String> {
        std::fs::read_to_string(root.join("docs/protocol").join(file))
            .unwrap_or_else(|e| panic!("docs/protocol/{file}: {e}"))
            .lines()
            .filter(|l| l.starts_with('#'))
            .map(|l| l.trim_start_matches('#').trim().to_owned())
            .collect()
    };
    let mut cited = 0;
    for (origin, text) in &texts {
        for (i, _) in text.match_indices("docs/protocol/") {
            let rest = &text[i + "docs/protocol/".len()..];
            let Some(file) = rest.split_whitespace().next() else {
                continue;
            };
            let file = file.trim_end_matches(|c: char| !c.is_alphanumeric());
            if !file.ends_with(".md") {
                continue;
            }
            let known = headings(file);
            // Up to the next file named, or the end of the sentence.
            let segment = rest[file.len()..]
                .split("docs/protocol/")
                .next()
                .unwrap_or_default()
                .split(['"', ':'])
                .next()
                .unwrap_or_default();
            for (j, _) in segment.match_indices('§') {
                let number: String = segment[j + '§'.len_utf8()..]
                    .chars()
                    .take_while(|c| c.is_ascii_digit() || *c == '.')
                    .collect();
                let number = number.trim_end_matches('.');
                assert!(
                    known.iter().any(|h| h.starts_with(&format!("{number} "))
                        || h.starts_with(&format!("{number}. "))),
                    "{origin}: docs/protocol/{file} §{number} does not exist"
                );
                cited += 1;
            }
        }
    }
    assert!(cited > 40, "{cited} citations found");
}
