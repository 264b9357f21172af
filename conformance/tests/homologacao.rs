//! The homologation rehearsal end to end over mutual TLS: the reference agent meets R1–R3 with
//! the evidence a Gestor de Protocolo shows (IDT, NRE, protocolo, every situação change, both
//! recibos verified); each mutant that a requirement claims fails exactly that requirement.

use pen_client::agent::Defect;
use pen_conformance::homologacao::{self, RehearsalOptions, RehearsalReport, REQUIREMENTS};
use pen_conformance::run::Progress;
use pen_conformance::scenario::{self, Scenario};
use pen_conformance::target::Target;
use pen_conformance::verdict::{ScenarioResult, Verdict};

struct Quiet;

impl Progress for Quiet {
    fn started(&self, _: &Scenario) {}
    fn finished(&self, _: &ScenarioResult) {}
}

async fn rehearse(target: Target, risks: bool) -> RehearsalReport {
    homologacao::run(
        RehearsalOptions {
            target,
            seed: Some(23),
            strict: false,
            risks,
        },
        &Quiet,
    )
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reference_agent_meets_the_three_requirements_with_their_evidence() {
    let report = rehearse(Target::reference(), true).await;
    assert_eq!(report.met(), 3, "{:#?}", report.requirements);
    assert_eq!(report.exit_code(), 0);
    assert_eq!(report.api, "REST v3");
    let ids: Vec<&str> = report.requirements.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["R1", "R2", "R3"]);
    for (r, want) in report.requirements.iter().zip([6u8, 6, 9]) {
        let t = r.tramite.as_ref().unwrap();
        assert_eq!(t.situacao, want, "{}", r.id);
        assert_eq!(r.expected_situacao, want);
        assert_eq!(t.nre.len(), 16, "{}", t.nre);
        // Every change from 0 (opened) to the end, in order, each with who caused it.
        let path: Vec<u8> = t.changes.iter().map(|c| c.to).collect();
        assert_eq!(path.first(), Some(&1), "{}: {path:?}", r.id);
        assert_eq!(path.last(), Some(&want), "{}: {path:?}", r.id);
        assert!(t
            .changes
            .iter()
            .all(|c| !c.by.is_empty() && !c.at.is_empty()));
        assert!(!t.journal.is_empty());
        let envio = t.recibo_de_envio.as_ref().unwrap();
        assert!(envio.signature_valid, "{}: {envio:?}", r.id);
        assert_eq!(envio.signed_by, "plataforma");
    }
    let [r1, r2, r3] = &report.requirements[..] else {
        unreachable!()
    };
    assert_eq!(r1.manual, "O envio de no mínimo um processo com sucesso");
    for r in [r1, r2] {
        let conclusao = r
            .tramite
            .as_ref()
            .unwrap()
            .recibo_de_conclusao
            .as_ref()
            .unwrap();
        assert!(conclusao.signature_valid, "{}: {conclusao:?}", r.id);
        assert!(!conclusao.hashes.is_empty());
    }
    // The SUT signed R2's recibo; the counterpart signed R1's.
    assert!(r2
        .tramite
        .as_ref()
        .unwrap()
        .recibo_de_conclusao
        .as_ref()
        .unwrap()
        .signed_by
        .contains("org-a"));
    assert!(r1
        .tramite
        .as_ref()
        .unwrap()
        .recibo_de_conclusao
        .as_ref()
        .unwrap()
        .signed_by
        .contains("org-b"));
    let recusa = r3.tramite.as_ref().unwrap().recusa.as_ref().unwrap();
    assert_eq!(
        recusa.motivo, "04",
        "the reference declares an unmapped espécie"
    );
    assert!(
        recusa.justificativa.contains("não está mapeado"),
        "{}",
        recusa.justificativa
    );
    // The production risks run and pass against the reference.
    assert_eq!(report.risks.len(), homologacao::RISKS.len());
    assert!(
        report.risks.iter().all(|r| r.verdict == Verdict::Pass),
        "{:#?}",
        report.risks
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_requirement_mutant_fails_exactly_its_requirement() {
    let claimed: Vec<(Defect, &str)> = Defect::ALL
        .into_iter()
        .filter_map(|d| homologacao::claimed_by(d).unwrap().map(|r| (d, r)))
        .collect();
    assert_eq!(
        claimed,
        [
            (Defect::NeverRefuses, "R3"),
            (Defect::NeverPostsRecibo, "R2"),
            (Defect::NeverFetchesRecibo, "R1"),
        ]
    );
    for (defect, requirement) in claimed {
        let report = rehearse(Target::mutant(defect), false).await;
        assert!(report.risks.is_empty());
        assert_eq!(report.exit_code(), 1, "{defect}");
        for r in &report.requirements {
            assert_eq!(
                r.met,
                r.id != requirement,
                "{defect}: {} {:#?}",
                r.id,
                r.result.verdict
            );
        }
        let failed = report
            .requirements
            .iter()
            .find(|r| r.id == requirement)
            .unwrap();
        let Verdict::Fail { observed, .. } = &failed.result.verdict else {
            panic!("{defect}: {:#?}", failed.result.verdict);
        };
        let stuck_at = match defect {
            Defect::NeverFetchesRecibo => "5 (Recibo de conclusão recebido pelo Tramita GOV.BR)",
            Defect::NeverPostsRecibo => "4 (Arquivos digitais recebidos pelo destinatário)",
            _ => "recebeu e assinou o recibo de conclusão",
        };
        assert!(observed.contains(stuck_at), "{defect}: {observed}");
    }
}

#[test]
fn the_requirement_files_are_the_three_the_manual_lists() {
    let files = scenario::load_requirements().unwrap();
    let ids: Vec<&str> = files.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, REQUIREMENTS.map(|r| r.scenario));
    for s in &files {
        assert_eq!(s.family, "homologação");
        assert!(
            s.spec
                .starts_with("pen-docs, Implantação do módulo de conexão"),
            "{}",
            s.spec
        );
    }
    // Every production risk is a scenario of the suite.
    let suite = scenario::load_all().unwrap();
    for id in homologacao::RISKS {
        assert!(suite.iter().any(|s| s.id == id), "{id}");
    }
}
