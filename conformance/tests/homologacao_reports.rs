//! The *Relatório de ensaio de homologação* in every format, over hand-made rehearsals: all three
//! requirements met; R3 not met (a failed verdict); a production risk failed, with and without
//! `--estrito`; a harness error. The console gives the answer line and each requirement's
//! evidence, the JSON round-trips with its two leading keys, the JUnit parses with the right
//! counts (a failed risk is a failure only when strict), the HTML page is escaped and
//! self-contained, and `write` writes the three files.

use pen_conformance::homologacao::{
    ReceiptCheck, RefusalSeen, RehearsalReport, RequirementResult, SituacaoChange, TramiteEvidence,
    EM_PRODUCAO, SOURCE,
};
use pen_conformance::report::homologacao::{
    self as report, render_console, render_html, render_json, render_junit,
};
use pen_conformance::verdict::{ScenarioResult, Side, StepLog, Verdict};
use serde::Deserialize;

const JUSTIFICATIVA: &str = "Espécie <Ofício> não mapeada & sem equivalente";

fn change(
    at: &str,
    platform_at: &str,
    from: u8,
    to: u8,
    descricao: &str,
    by: &str,
) -> SituacaoChange {
    SituacaoChange {
        at: at.to_owned(),
        platform_at: platform_at.to_owned(),
        from,
        to,
        descricao: descricao.to_owned(),
        by: by.to_owned(),
    }
}

fn receipt(signed_by: &str, valid: bool) -> ReceiptCheck {
    ReceiptCheck {
        signed_by: signed_by.to_owned(),
        date: "2025-01-01T12:00:03-03:00".to_owned(),
        hashes: vec!["hash-a1B2==".to_owned(), "hash-c3D4==".to_owned()],
        signature_valid: valid,
        detail: if valid {
            "assinatura válida".to_owned()
        } else {
            "assinatura não confere com o certificado".to_owned()
        },
    }
}

/// The trâmite of requirement `n` (1–3): distinct IDT, NRE and protocolo per requirement.
fn tramite(n: u64, refused: bool) -> TramiteEvidence {
    let sender = if n == 1 {
        "remetente (org-a)"
    } else {
        "remetente (org-b)"
    };
    let recipient = if n == 1 {
        "destinatário (org-b)"
    } else {
        "destinatário (org-a)"
    };
    let mut changes = vec![
        change(
            "2025-01-01T12:00:01.100Z",
            "2025-01-01T12:00:01.100Z",
            1,
            2,
            "Arquivos digitais recebidos pelo Tramita GOV.BR",
            sender,
        ),
        change(
            "2025-01-01T12:00:02.200Z",
            "2025-01-01T12:00:02.200Z",
            2,
            3,
            "Metadados recebidos pelo sistema de processo eletrônico destinatário",
            recipient,
        ),
    ];
    if refused {
        changes.push(change(
            "2025-01-01T12:00:03.300Z",
            "2025-01-01T12:00:03.300Z",
            3,
            8,
            "Trâmite recusado. Aguardando ciência do remetente",
            recipient,
        ));
        // The platform's clock moved by the harness: shown beside the wall clock.
        changes.push(change(
            "2025-01-01T12:00:04.400Z",
            "2025-01-09T12:00:04.400Z",
            8,
            9,
            "Ciência da recusa recebido pelo remetente",
            sender,
        ));
    } else {
        changes.push(change(
            "2025-01-01T12:00:04.400Z",
            "2025-01-01T12:00:04.400Z",
            5,
            6,
            "Recibo de conclusão recebido pelo remetente",
            sender,
        ));
    }
    TramiteEvidence {
        idt: 4_200 + n,
        nre: format!("000002565626202{n}"),
        protocolo: format!("99990.00000{n}/2025-0{n}"),
        situacao: if refused { 9 } else { 6 },
        situacao_descricao: if refused {
            "Ciência da recusa recebido pelo remetente".to_owned()
        } else {
            "Recibo de conclusão recebido pelo remetente".to_owned()
        },
        changes,
        recibo_de_envio: Some(receipt("plataforma", true)),
        recibo_de_conclusao: (!refused).then(|| receipt(recipient, true)),
        recusa: refused.then(|| RefusalSeen {
            motivo: "04".to_owned(),
            justificativa: JUSTIFICATIVA.to_owned(),
        }),
        journal: vec![
            format!(
                "12:00:01.100 org-a POST tramites/processo → 200 (IDT {})",
                4_200 + n
            ),
            format!("12:00:04.400 estado IDT {}: → fim", 4_200 + n),
        ],
    }
}

fn scenario(id: &str, title: &str, side: Side, verdict: Verdict) -> ScenarioResult {
    ScenarioResult {
        id: id.to_owned(),
        title: title.to_owned(),
        family: "homologação".to_owned(),
        side,
        spec: "docs/protocol/rest-v3.md §6.1".to_owned(),
        verdict,
        duration_ms: 1_250,
        steps: vec![StepLog {
            description: "o SUT envia o processo".to_owned(),
            ok: true,
            duration_ms: 1_250,
        }],
    }
}

const MANUAL: [&str; 3] = [
    "O envio de no mínimo um processo com sucesso",
    "O recebimento de no mínimo um processo com sucesso",
    "Recusa de Recebimento de Processo (Status 9)",
];

fn requirement(n: usize) -> RequirementResult {
    let (id, scenario_id, title, role, end) = [
        (
            "R1",
            "r1-envio",
            "Envio de processo com sucesso (situação 6)",
            Side::Sender,
            6,
        ),
        (
            "R2",
            "r2-recebimento",
            "Recebimento de processo com sucesso (situação 6)",
            Side::Recipient,
            6,
        ),
        (
            "R3",
            "r3-recusa",
            "Recusa de recebimento de processo (situação 9)",
            Side::Recipient,
            9,
        ),
    ][n];
    RequirementResult {
        id: id.to_owned(),
        title: title.to_owned(),
        manual: MANUAL[n].to_owned(),
        source: SOURCE.to_owned(),
        role,
        expected_situacao: end,
        met: true,
        result: scenario(scenario_id, title, role, Verdict::Pass),
        tramite: Some(tramite(n as u64 + 1, n == 2)),
    }
}

fn risk(id: &str, title: &str, verdict: Verdict) -> ScenarioResult {
    let mut r = scenario(id, title, Side::Both, verdict);
    r.family = "nre".to_owned();
    r
}

fn nre_failure() -> Verdict {
    Verdict::Fail {
        step: "espera a devolução com o NRE recebido".to_owned(),
        expected: "NRE 0000025656262021 na devolução".to_owned(),
        observed: "a devolução foi aberta sem NRE".to_owned(),
        evidence: vec!["12:00:09.000 org-a POST tramites/processo → 200 {\"NRE\":null}".to_owned()],
        hint: "Reenvio de processo usa o NRE recebido (docs/protocol/model-receipts-soap.md P6)"
            .to_owned(),
    }
}

/// R1–R3 met; risks: one passed, one skipped.
fn all_met() -> RehearsalReport {
    RehearsalReport {
        suite_version: "0.1.0+cenários-a1b2c3".to_owned(),
        target: "SEI 4.1 + mod-sei-pen (homologação interna)".to_owned(),
        api: "REST v3".to_owned(),
        seed: 20_250_101,
        started_at: "2025-01-01T12:00:00Z".to_owned(),
        duration_ms: 65_000,
        counterpart: "org-b, unidade 1/159098 — no papel de um ambiente de teste da plataforma"
            .to_owned(),
        strict: false,
        requirements: (0..3).map(requirement).collect(),
        risks: vec![
            risk(
                "devolve-com-o-nre",
                "Devolve um processo recebido com o NRE original",
                Verdict::Pass,
            ),
            risk(
                "componente-acima-do-limite",
                "Recusa um componente acima do limite declarado",
                Verdict::Skipped {
                    reason: "o alvo não declara sut.max_document_mb".to_owned(),
                },
            ),
        ],
        em_producao: EM_PRODUCAO.to_owned(),
    }
}

/// R3 not met: the SUT never refused.
fn r3_not_met() -> RehearsalReport {
    let mut report = all_met();
    let r3 = &mut report.requirements[2];
    r3.met = false;
    r3.result.verdict = Verdict::Fail {
        step: "espera a recusa do trâmite \"ida\"".to_owned(),
        expected: "o sistema recusa o trâmite (situação 8) com motivo e justificativa".to_owned(),
        observed: "nada em 300 s: o trâmite ficou na situação 4".to_owned(),
        evidence: vec!["12:05:00.000 nenhuma recusa".to_owned()],
        hint: "O destinatário recusa o que não pode receber (docs/protocol/rest-v3.md §2.11)"
            .to_owned(),
    };
    let t = r3.tramite.as_mut().unwrap();
    t.situacao = 4;
    t.situacao_descricao = "Arquivos digitais recebidos pelo destinatário".to_owned();
    t.changes.truncate(2);
    t.recusa = None;
    t.journal
        .push("12:00:03.000 org-a baixa componente inteiro do trâmite 4203 → 200".to_owned());
    report
}

/// All met, but a risk failed.
fn risk_failed(strict: bool) -> RehearsalReport {
    let mut report = all_met();
    report.strict = strict;
    report.risks[0].verdict = nre_failure();
    report
}

/// R1 could not be judged: the harness failed.
fn harness_error() -> RehearsalReport {
    let mut report = all_met();
    let r1 = &mut report.requirements[0];
    r1.met = false;
    r1.tramite = None;
    r1.result.verdict = Verdict::Error {
        step: Some("o SUT envia o processo".to_owned()),
        message: "o gatilho não pôde ser executado: sh: pen-enviar: not found".to_owned(),
    };
    report
}

// ---------------------------------------------------------------------------------------------
// JUnit, read back with quick-xml's serde support (independent of quick-junit).

#[derive(Debug, Deserialize)]
struct Suites {
    #[serde(rename = "@name")]
    name: String,
    #[serde(rename = "@tests")]
    tests: usize,
    #[serde(rename = "@failures")]
    failures: usize,
    #[serde(rename = "@errors")]
    errors: usize,
    #[serde(rename = "testsuite", default)]
    suites: Vec<Suite>,
}

#[derive(Debug, Deserialize)]
struct Suite {
    #[serde(rename = "@name")]
    name: String,
    #[serde(rename = "@tests")]
    tests: usize,
    #[serde(rename = "@failures")]
    failures: usize,
    #[serde(rename = "@errors")]
    errors: usize,
    #[serde(rename = "@skipped")]
    skipped: usize,
    properties: Properties,
    #[serde(rename = "testcase", default)]
    cases: Vec<Case>,
}

#[derive(Debug, Deserialize)]
struct Properties {
    property: Vec<PropertyElement>,
}

#[derive(Debug, Deserialize)]
struct PropertyElement {
    #[serde(rename = "@name")]
    name: String,
    #[serde(rename = "@value")]
    value: String,
}

#[derive(Debug, Deserialize)]
struct Case {
    #[serde(rename = "@name")]
    name: String,
    #[serde(rename = "@classname")]
    classname: String,
    failure: Option<Status>,
    error: Option<Status>,
    skipped: Option<Status>,
    #[serde(rename = "system-out")]
    system_out: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Status {
    #[serde(rename = "@message")]
    message: Option<String>,
    #[serde(rename = "@type")]
    ty: Option<String>,
    #[serde(rename = "$text", default)]
    text: String,
}

fn junit(report: &RehearsalReport) -> Suites {
    let xml = render_junit(report).unwrap();
    quick_xml::de::from_str(&xml).unwrap_or_else(|e| panic!("JUnit does not parse: {e}\n{xml}"))
}

/// Console paragraphs are wrapped: their words, one space apart.
fn flat(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn suite<'a>(suites: &'a Suites, name: &str) -> &'a Suite {
    suites.suites.iter().find(|s| s.name == name).unwrap()
}

// ---------------------------------------------------------------------------------------------
// Console.

#[test]
fn console_all_met_gives_the_answer_and_each_requirement_with_its_evidence() {
    let report = all_met();
    assert_eq!(report.exit_code(), 0);
    let text = render_console(&report, false);

    assert!(
        text.starts_with("Relatório de ensaio de homologação\n"),
        "{text}"
    );
    assert!(text.contains("Requisitos mínimos: 3 de 3 atendidos — nestes requisitos, o sistema passaria na verificação da homologação real."));
    for heading in ["Riscos para a produção", "Em produção"] {
        assert!(text.lines().any(|l| l.starts_with(heading)), "{heading}");
    }
    for (n, id) in ["R1", "R2", "R3"].iter().enumerate() {
        let line = text
            .lines()
            .find(|l| l.starts_with(&format!("✔ {id} ")))
            .unwrap_or_else(|| panic!("no ✔ line for {id}:\n{text}"));
        assert!(line.contains("atendido"), "{line}");
        let t = report.requirements[n].tramite.as_ref().unwrap();
        assert!(text.contains(&format!(
            "IDT {} · NRE {} · protocolo {}",
            t.idt, t.nre, t.protocolo
        )));
        assert!(text.contains(&format!("“{}”", MANUAL[n])));
    }
    // Role, situação exigida with the platform's description, recibos, refusal.
    assert!(text.contains("papel do sistema:     remetente"));
    assert!(text.contains("situação exigida:     6 — Recibo de conclusão recebido pelo remetente"));
    assert!(text.contains("situação exigida:     9 — Ciência da recusa recebido pelo remetente"));
    assert!(text.contains("assinado por plataforma · ✔ assinatura válida"));
    assert!(text.contains("motivo 04 — Espécie documental não mapeada no destinatário"));
    assert!(text.contains(JUSTIFICATIVA));
    // The platform's time only where it differs from the wall clock.
    assert_eq!(text.matches("[relógio da plataforma:").count(), 1);
    assert!(text.contains("[relógio da plataforma: 2025-01-09T12:00:04.400Z]"));
    // The source once (in the intro), the risks with Portuguese verdicts, the next steps.
    assert!(text.contains("IMPLANTACAO_DO_MODULO_DE_CONEXAO.rst"));
    assert!(text.contains("✔ aprovado  devolve-com-o-nre"));
    assert!(text.contains("↷ ignorado  componente-acima-do-limite"));
    assert!(flat(&text).contains("Elas não mudam o resultado do ensaio;"));
    assert!(flat(&text).contains("avise a equipe do PEN por e-mail"));
    // Journal lines are left out when met.
    assert!(!text.contains("POST tramites/processo"));
    // Footer.
    assert!(text.contains("Suíte 0.1.0+cenários-a1b2c3 · semente 20250101"));
    assert!(text.contains("API REST v3"));
    assert!(text.contains("Contraparte: org-b, unidade 1/159098"));
    assert!(text.contains("duração 1 min 05 s"));
    assert!(text.contains("Código de saída 0: os três requisitos mínimos foram atendidos"));
    assert!(!text.contains('\x1b'));
    assert!(render_console(&report, true).contains('\x1b'));
}

#[test]
fn console_r3_not_met_says_why_with_the_journal() {
    let report = r3_not_met();
    assert_eq!(report.exit_code(), 1);
    let text = render_console(&report, false);

    assert!(text.contains("Requisitos mínimos: 2 de 3 atendidos — o sistema não passaria na verificação da homologação real: R3 não foi atendido."));
    assert!(text.lines().any(|l| l.starts_with("✔ R1 ")));
    assert!(text.lines().any(|l| l.starts_with("✔ R2 ")));
    let r3 = text.lines().find(|l| l.starts_with("✘ R3 ")).unwrap();
    assert!(r3.contains("não atendido"), "{r3}");
    assert!(text.contains("“Recusa de Recebimento de Processo (Status 9)”"));
    assert!(text.contains("IDT 4203 · NRE 0000025656262023 · protocolo 99990.000003/2025-03"));
    assert!(
        text.contains("situação final:       4 — Arquivos digitais recebidos pelo destinatário")
    );
    assert!(text.contains("esperado:             o sistema recusa o trâmite (situação 8)"));
    assert!(text.contains("observado:            nada em 300 s"));
    assert!(text.contains("regra:                O destinatário recusa o que não pode receber"));
    // The trâmite's journal, for the requirement not met only.
    assert!(text.contains(
        "diário:               12:00:01.100 org-a POST tramites/processo → 200 (IDT 4203)"
    ));
    assert!(text.contains("baixa componente inteiro do trâmite 4203"));
    assert!(!text.contains("(IDT 4201)"));
    assert!(text.contains("Código de saída 1: algum requisito mínimo não foi atendido"));
}

#[test]
fn console_risk_failure_counts_only_when_strict() {
    let lenient = risk_failed(false);
    assert_eq!(lenient.exit_code(), 0);
    let text = render_console(&lenient, false);
    assert!(text.contains("Requisitos mínimos: 3 de 3 atendidos"));
    assert!(text.contains("✘ falhou    devolve-com-o-nre"));
    assert!(text.contains("observado:        a devolução foi aberta sem NRE"));
    assert!(text.contains("regra:            Reenvio de processo usa o NRE recebido"));
    assert!(flat(&text).contains("Elas não mudam o resultado do ensaio; com --estrito"));
    assert!(text.contains("Código de saída 0"));

    let strict = risk_failed(true);
    assert_eq!(strict.exit_code(), 1);
    let text = render_console(&strict, false);
    assert!(text.contains("Requisitos mínimos: 3 de 3 atendidos"));
    assert!(text.contains("Com --estrito, 1 risco para a produção falhou também conta."));
    assert!(flat(&text).contains("Este ensaio foi executado com --estrito"));
    assert!(text.contains("Código de saída 1"));

    // Without the risks (`--sem-riscos`), the section says so.
    let mut without = all_met();
    without.risks.clear();
    let text = render_console(&without, false);
    assert!(text.contains("não foram verificados neste ensaio (executado com --sem-riscos)"));
    assert!(render_html(&without).contains("executado com --sem-riscos"));
    assert_eq!(suite(&junit(&without), "riscos para a produção").tests, 0);
}

#[test]
fn console_harness_error_is_exit_code_2() {
    let report = harness_error();
    assert_eq!(report.exit_code(), 2);
    let text = render_console(&report, false);
    assert!(
        text.contains("Requisitos mínimos: 2 de 3 atendidos — o ensaio não conseguiu julgar R1")
    );
    assert!(text.lines().any(|l| l.starts_with("✘ R1 ")));
    assert!(text.contains("nenhum trâmite foi identificado para este requisito"));
    assert!(text.contains("erro do harness:      o gatilho não pôde ser executado"));
    assert!(text.contains("Código de saída 2: erro do harness ou da configuração"));
}

// ---------------------------------------------------------------------------------------------
// JSON.

#[test]
fn json_round_trips_with_the_answer_and_exit_code_first() {
    for (report, met, code) in [
        (all_met(), 3, 0),
        (r3_not_met(), 2, 1),
        (risk_failed(true), 3, 1),
        (harness_error(), 2, 2),
    ] {
        let text = render_json(&report).unwrap();
        let back: RehearsalReport = serde_json::from_str(&text).unwrap();
        assert_eq!(back, report);

        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value["requisitos_atendidos"], met);
        assert_eq!(value["codigo_de_saida"], code);
        assert_eq!(value["requirements"][2]["id"], "R3");
        let keys: Vec<&str> = value
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert!(keys.contains(&"suite_version") && keys.contains(&"risks"));
        let pos = |k: &str| text.find(&format!("\"{k}\":")).unwrap();
        assert!(pos("requisitos_atendidos") < pos("codigo_de_saida"));
        assert!(pos("codigo_de_saida") < pos("suite_version"));
        assert!(text.starts_with("{\n  \"requisitos_atendidos\""));
        assert!(text.ends_with("}\n"));
    }
}

// ---------------------------------------------------------------------------------------------
// JUnit.

#[test]
fn junit_all_met_has_two_suites_with_the_run_properties() {
    let parsed = junit(&all_met());
    assert_eq!(parsed.name, "pen-conformance homologacao");
    assert_eq!((parsed.tests, parsed.failures, parsed.errors), (5, 0, 0));
    let names: Vec<&str> = parsed.suites.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["homologação", "riscos para a produção"]);

    let req = suite(&parsed, "homologação");
    assert_eq!(
        (req.tests, req.failures, req.errors, req.skipped),
        (3, 0, 0, 0)
    );
    let case_names: Vec<&str> = req.cases.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        case_names,
        [
            "R1 — Envio de processo com sucesso (situação 6)",
            "R2 — Recebimento de processo com sucesso (situação 6)",
            "R3 — Recusa de recebimento de processo (situação 9)",
        ]
    );
    assert!(req.cases.iter().all(|c| c.classname == "homologação"));
    let out = req.cases[0].system_out.as_deref().unwrap();
    assert!(out.contains("IDT 4201 · NRE 0000025656262021 · protocolo 99990.000001/2025-01"));
    assert!(out.contains("“O envio de no mínimo um processo com sucesso”"));
    assert!(out.contains("fonte: pengovbr/pen-docs"));
    assert!(out.contains("POST tramites/processo"));

    for s in &parsed.suites {
        let props: Vec<(&str, &str)> = s
            .properties
            .property
            .iter()
            .map(|p| (p.name.as_str(), p.value.as_str()))
            .collect();
        assert!(props.contains(&("suite_version", "0.1.0+cenários-a1b2c3")));
        assert!(props.contains(&("seed", "20250101")));
        assert!(props.contains(&("estrito", "false")));
    }
    let risks = suite(&parsed, "riscos para a produção");
    assert_eq!((risks.tests, risks.failures, risks.skipped), (2, 0, 1));
    assert!(risks
        .cases
        .iter()
        .all(|c| c.classname == "riscos para a produção"));
    // A genuine skip keeps its reason and is not a failed risk.
    let skipped = risks.cases[1].skipped.as_ref().unwrap();
    assert_eq!(
        skipped.message.as_deref(),
        Some("o alvo não declara sut.max_document_mb")
    );
    assert_ne!(skipped.ty.as_deref(), Some(report::RISK_FAILED_TYPE));
}

#[test]
fn junit_requirement_not_met_is_a_failure_quoting_the_manual() {
    let parsed = junit(&r3_not_met());
    let req = suite(&parsed, "homologação");
    assert_eq!((req.tests, req.failures, req.errors), (3, 1, 0));
    let r3 = &req.cases[2];
    assert!(r3.name.starts_with("R3 — "));
    let failure = r3.failure.as_ref().unwrap();
    assert_eq!(
        failure.message.as_deref(),
        Some("“Recusa de Recebimento de Processo (Status 9)” — não atendido; observado: nada em 300 s: o trâmite ficou na situação 4")
    );
    assert!(failure
        .text
        .contains("esperado: o sistema recusa o trâmite (situação 8)"));
    assert!(failure
        .text
        .contains("regra: O destinatário recusa o que não pode receber"));
    assert!(req.cases[0].failure.is_none() && req.cases[1].failure.is_none());
}

#[test]
fn junit_failed_risk_is_a_failure_only_when_strict() {
    let lenient = junit(&risk_failed(false));
    assert_eq!((lenient.failures, lenient.errors), (0, 0));
    let risks = suite(&lenient, "riscos para a produção");
    assert_eq!((risks.tests, risks.failures, risks.skipped), (2, 0, 2));
    let case = &risks.cases[0];
    assert_eq!(
        case.name,
        "devolve-com-o-nre — Devolve um processo recebido com o NRE original"
    );
    assert!(case.failure.is_none());
    let skipped = case.skipped.as_ref().unwrap();
    assert_eq!(skipped.ty.as_deref(), Some(report::RISK_FAILED_TYPE));
    let message = skipped.message.as_deref().unwrap();
    assert!(
        message.starts_with("falhou como risco para a produção (sem --estrito"),
        "{message}"
    );
    assert!(message.contains("observado: a devolução foi aberta sem NRE"));
    assert!(skipped
        .text
        .contains("regra: Reenvio de processo usa o NRE recebido"));
    assert!(skipped.text.contains("{\"NRE\":null}"));

    let strict = junit(&risk_failed(true));
    assert_eq!((strict.failures, strict.errors), (1, 0));
    let risks = suite(&strict, "riscos para a produção");
    assert_eq!((risks.tests, risks.failures, risks.skipped), (2, 1, 1));
    let failure = risks.cases[0].failure.as_ref().unwrap();
    assert!(failure
        .message
        .as_deref()
        .unwrap()
        .contains("observado: a devolução foi aberta sem NRE"));
    assert_eq!(suite(&strict, "homologação").failures, 0);
}

#[test]
fn junit_harness_error_is_an_error() {
    let parsed = junit(&harness_error());
    let req = suite(&parsed, "homologação");
    assert_eq!((req.tests, req.failures, req.errors), (3, 0, 1));
    let error = req.cases[0].error.as_ref().unwrap();
    assert!(error
        .message
        .as_deref()
        .unwrap()
        .contains("sh: pen-enviar: not found"));
    assert!(req.cases[0]
        .system_out
        .as_deref()
        .unwrap()
        .contains("nenhum trâmite foi identificado"));
}

// ---------------------------------------------------------------------------------------------
// HTML.

#[test]
fn html_is_self_contained_escaped_and_complete() {
    let report = r3_not_met();
    let mut with_refusal = all_met();
    with_refusal.risks[0].verdict = nre_failure();
    for report in [&report, &with_refusal] {
        let page = render_html(report);
        assert!(page.starts_with("<!DOCTYPE html>"));
        assert!(page.contains("<html lang=\"pt-BR\">"));
        for heading in [
            "<h1>Relatório de ensaio de homologação</h1>",
            ">Riscos para a produção</h2>",
            ">Em produção</h2>",
        ] {
            assert!(page.contains(heading), "{heading}");
        }
        for r in &report.requirements {
            assert!(page.contains(&format!(">{}</a>", r.id)), "{}", r.id);
            assert!(page.contains(&format!("{} — {}", r.id, r.title)));
            assert!(page.contains(&format!("“{}”", r.manual)));
        }
        // Self-contained: no script, no external asset, no link out of the page.
        assert!(!page.contains("<script") && !page.contains("<link") && !page.contains("src="));
        assert!(!page.contains("http://") && !page.contains("https://"));
        // Tables have headers.
        assert!(page.contains("<th scope=\"col\">"));
        assert!(page.contains("Requisitos mínimos: "));
        assert!(page.contains("Código de saída"));
    }

    // The justificativa's `<` is escaped, never passed through.
    let page = render_html(&with_refusal);
    assert!(page.contains("Espécie &lt;Ofício&gt; não mapeada &amp; sem equivalente"));
    assert!(!page.contains("<Ofício>"));
    assert!(page.contains("Requisitos mínimos: 3 de 3 atendidos"));
    assert!(
        page.contains("IDT")
            && page.contains("0000025656262023")
            && page.contains("99990.000003/2025-03")
    );
    assert!(page.contains("Recibo de conclusão") && page.contains("assinatura válida"));
    assert!(page.contains("2025-01-09T12:00:04.400Z"));
    assert!(page.contains("falhou") && page.contains("a devolução foi aberta sem NRE"));
    assert!(page.contains("{&quot;NRE&quot;:null}") || page.contains("{\"NRE\":null}"));

    // Not met: why, and the journal open.
    let page = render_html(&report);
    assert!(page.contains("Requisitos mínimos: 2 de 3 atendidos"));
    assert!(page.contains("Por que não foi atendido"));
    assert!(page.contains("nada em 300 s: o trâmite ficou na situação 4"));
    assert!(page.contains("<details open>"));
    assert!(page.contains("baixa componente inteiro do trâmite 4203"));
}

// ---------------------------------------------------------------------------------------------
// Files.

#[test]
fn write_writes_the_three_files_and_only_those_asked() {
    let dir = tempfile::tempdir().unwrap();
    let junit_path = dir.path().join("a/junit.xml");
    let json_path = dir.path().join("b/homologacao.json");
    let html_path = dir.path().join("homologacao.html");
    let r = r3_not_met();

    report::write(&r, Some(&junit_path), Some(&json_path), Some(&html_path)).unwrap();
    assert_eq!(
        std::fs::read_to_string(&junit_path).unwrap(),
        render_junit(&r).unwrap()
    );
    assert_eq!(
        std::fs::read_to_string(&json_path).unwrap(),
        render_json(&r).unwrap()
    );
    assert_eq!(
        std::fs::read_to_string(&html_path).unwrap(),
        render_html(&r)
    );

    let other = tempfile::tempdir().unwrap();
    report::write(&r, None, None, Some(&other.path().join("only.html"))).unwrap();
    assert_eq!(std::fs::read_dir(other.path()).unwrap().count(), 1);

    // A file where a folder is needed: the error names it.
    let blocker = dir.path().join("blocker");
    std::fs::write(&blocker, b"x").unwrap();
    let err = report::write(&r, None, Some(&blocker.join("x.json")), None).unwrap_err();
    assert!(err.to_string().contains("blocker"), "{err}");
}

#[test]
fn a_requirement_the_target_cannot_be_judged_on_is_exit_code_2() {
    let mut report = all_met();
    report.requirements[2].met = false;
    report.requirements[2].result.verdict = Verdict::Skipped {
        reason: "não há como provocar uma recusa".to_owned(),
    };
    assert_eq!(report.exit_code(), 2);
}
