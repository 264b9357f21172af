//! The harness's self-test: the reference agent passes every scenario, and every deliberately
//! broken agent is caught by the scenarios that say they catch it — with the verdict the
//! family promises.

use pen_client::agent::{Defect, Quirk};
use pen_conformance::run::{self, Progress, RunOptions};
use pen_conformance::scenario::{self, Scenario};
use pen_conformance::target::{ReferenceTarget, Target};
use pen_conformance::verdict::{ScenarioResult, Verdict};

struct Quiet;

impl Progress for Quiet {
    fn started(&self, _: &Scenario) {}
    fn finished(&self, _: &ScenarioResult) {}
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reference_agent_passes_every_scenario() {
    let report = run::run(
        RunOptions {
            seed: Some(7),
            ..RunOptions::new(Target::reference())
        },
        &Quiet,
    )
    .await
    .unwrap();
    let not_passed: Vec<_> = report
        .results
        .iter()
        .filter(|r| r.verdict != Verdict::Pass)
        .map(|r| (r.id.clone(), r.verdict.clone()))
        .collect();
    assert!(not_passed.is_empty(), "{not_passed:#?}");
    assert_eq!(report.results.len(), scenario::load_all().unwrap().len());
    assert_eq!(report.exit_code(), 0);
    assert_eq!(report.seed, 7);
    assert_eq!(report.suite_version, scenario::suite_version());
    assert_eq!(report.target, "reference");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_mutant_is_caught_where_the_scenarios_say() {
    let scenarios = scenario::load_all().unwrap();
    let all = run::mutants(Some(11)).await.unwrap();
    assert_eq!(all.len(), run::claimed().unwrap().len());
    for (defect, caught, report) in &all {
        assert_eq!(report.totals().errors, 0, "{defect}: {report:#?}");
        assert!(!caught.is_empty(), "{defect} goes uncaught");
        for s in scenarios
            .iter()
            .filter(|s| s.catches.iter().any(|c| c == defect.name()))
        {
            assert!(
                caught.contains(&s.id),
                "{} should catch {defect}: caught by {caught:?}",
                s.id
            );
        }
        assert_eq!(report.exit_code(), 1, "{defect}");
    }

    // The four named families, each with the verdict it promises.
    let verdict = |defect: Defect, id: &str| -> Verdict {
        let (_, _, report) = all.iter().find(|(d, _, _)| *d == defect).unwrap();
        report
            .results
            .iter()
            .find(|r| r.id == id)
            .unwrap()
            .verdict
            .clone()
    };
    let Verdict::Fail { observed, hint, .. } = verdict(Defect::ForgetNre, "devolve-com-o-nre")
    else {
        panic!("forget-nre not failed by the NRE family");
    };
    // The counterpart, a correct system, refused the return as a protocolo it already holds;
    // the verdict quotes that refusal and explains the NRE rule.
    assert!(observed.contains("motivo 99"), "{observed}");
    assert!(
        observed.contains("já existe no sistema de destino"),
        "{observed}"
    );
    assert!(
        hint.contains("§5.1") && hint.contains("cabecalho.NRE"),
        "{hint}"
    );

    let Verdict::Fail {
        expected, observed, ..
    } = verdict(Defect::AcceptOversize, "componente-acima-do-limite")
    else {
        panic!("accept-oversize not failed by the size family");
    };
    assert!(expected.starts_with("recusar"), "{expected}");
    assert!(observed.contains("situação 5"), "{observed}");
    assert!(matches!(
        verdict(Defect::NoPartsForLarge, "envia-componente-grande-em-partes"),
        Verdict::Fail { .. }
    ));

    let Verdict::Fail {
        observed, evidence, ..
    } = verdict(Defect::SendUnsigned, "nao-envia-documento-sem-assinatura")
    else {
        panic!("send-unsigned not failed by the signature family");
    };
    assert!(observed.contains("POST"), "{observed}");
    assert!(
        evidence.iter().any(|l| l.contains("tramites/processo")),
        "{evidence:?}"
    );

    let Verdict::Fail { evidence, .. } = verdict(
        Defect::SendWithoutInteressado,
        "nao-envia-processo-sem-interessado",
    ) else {
        panic!("send-without-interessado not failed by the interessado family");
    };
    assert!(
        evidence.iter().any(|l| l.contains("tramites/processo")),
        "{evidence:?}"
    );

    let Verdict::Fail { expected, .. } = verdict(Defect::SkipHashCheck, "componente-corrompido")
    else {
        panic!("skip-hash-check not caught");
    };
    assert!(expected.contains("02"), "{expected}");

    // The false passes of the old harness, each now caught with what it did.
    for id in [
        "especie-nao-mapeada",
        "componente-acima-do-limite",
        "recebe-processo-sem-descricao",
        "recebe-processo-sem-interessado",
    ] {
        let Verdict::Fail { step, observed, .. } = verdict(Defect::DownloadBeforeRefusing, id)
        else {
            panic!("download-before-refusing not caught by {id}");
        };
        assert!(step.contains("sem baixar componentes"), "{step}");
        assert!(
            observed.ends_with("pedido(s) de download antes da recusa"),
            "{observed}"
        );
    }
    let Verdict::Fail { observed, hint, .. } =
        verdict(Defect::ReceiptOldDate, "recebe-processo-varios-documentos")
    else {
        panic!("receipt-old-date not caught");
    };
    assert_eq!(observed, "dataDeRecebimento \"2001-01-01T00:00:00.000Z\"");
    assert!(hint.contains("§3.5"), "{hint}");
    let Verdict::Fail { observed, .. } =
        verdict(Defect::PostsReceiptTwice, "pendencia-tratada-uma-vez")
    else {
        panic!("posts-receipt-twice not caught");
    };
    assert_eq!(observed, "2 POST recibo, 0 POST recusa");
    let Verdict::Fail { observed, .. } = verdict(Defect::CancelsItsSends, "envia-processo") else {
        panic!("cancels-its-sends not caught");
    };
    assert!(observed.contains("7 (Trâmite cancelado)"), "{observed}");
}

/// Correct systems that differ from the reference are not blamed: a recibo dated "now" with
/// milliseconds (as SUAP signs), every failed upload retried at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn correct_but_different_agents_pass() {
    for quirk in Quirk::ALL {
        let report = run::run(
            RunOptions {
                seed: Some(13),
                ..RunOptions::new(Target::Reference(ReferenceTarget {
                    quirks: [quirk].into_iter().collect(),
                    ..ReferenceTarget::default()
                }))
            },
            &Quiet,
        )
        .await
        .unwrap();
        let not_passed: Vec<_> = report
            .results
            .iter()
            .filter(|r| r.verdict != Verdict::Pass)
            .map(|r| (r.id.clone(), r.verdict.clone()))
            .collect();
        assert!(not_passed.is_empty(), "{quirk}: {not_passed:#?}");
    }
}

/// A system whose limit leaves no room for a component of two blocks (the SEI module's
/// defaults: 50 MiB blocks, 50 MB documents) has the part scenarios skipped with the reason, and
/// passes the rest of the size family.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_limit_below_two_blocks_skips_the_part_scenarios_with_the_reason() {
    let report = run::run(
        RunOptions {
            only: vec![
                "componente-grande-baixado-em-partes".to_owned(),
                "envia-componente-grande-em-partes".to_owned(),
                "componente-acima-do-limite".to_owned(),
            ],
            seed: Some(17),
            ..RunOptions::new(Target::Reference(ReferenceTarget {
                block_bytes: 50 * 1024 * 1024,
                max_document_mb: 50,
                ..ReferenceTarget::default()
            }))
        },
        &Quiet,
    )
    .await
    .unwrap();
    for r in &report.results {
        match r.id.as_str() {
            "componente-acima-do-limite" => assert_eq!(r.verdict, Verdict::Pass, "{r:#?}"),
            _ => {
                let Verdict::Skipped { reason } = &r.verdict else {
                    panic!("{r:#?}");
                };
                assert!(
                    reason.contains("não comporta um componente de duas partes"),
                    "{reason}"
                );
            }
        }
    }
}
