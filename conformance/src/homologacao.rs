//! `pen-conformance homologacao`: the *ensaio de homologação* — the platform's three minimum
//! requirements, checked as the PEN team checks them, before an organisation spends days in the
//! real homologation environment.
//!
//! The real homologation asks an organisation in implantation to show (pen-docs, *Implantação
//! do módulo de conexão*, lines 10–16; the FAQ *Ambientes de Homologação e de Produção*, lines
//! 71–75): **R1** one process sent that reaches situação 6, **R2** one process received that
//! reaches situação 6, **R3** one process refused as recipient that reaches situação 9. Each is a
//! requirement file (`fixtures/data/homologacao/*.toml`, the scenario format) run against the
//! SUT with the counterpart playing a test environment of the platform; each is judged only on
//! the wire and the journal — the situação reached, by whom, when — and reported with the
//! trâmite's IDT, NRE and protocolo, every situação change, both recibos with their signature
//! verdict, and the journal lines. Then, reported apart, the checks the real homologation does
//! not make but production will hit ([`RISKS`]).
//!
//! Exit code: 0 when R1–R3 are met (production risks listed; with `--estrito` they count), 1
//! when one is not, 2 for a harness or configuration error.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use pen_protocol::situacao::Situacao;
use pen_simulator::journal::Event;
use serde::{Deserialize, Serialize};

use crate::run::evidence;
use crate::run::harness::{Harness, Named};
use crate::run::{
    self, HarnessError, Progress, RunOptions, Setup, COUNTERPART_ORG, COUNTERPART_UNIT,
};
use crate::scenario::Scenario;
use crate::target::Target;
use crate::verdict::{ScenarioResult, Side, Verdict};

/// Where the requirements come from, as the platform publishes them.
pub const SOURCE: &str = "pengovbr/pen-docs, docs/source/TRAMITA.GOV.BR/MANUAL_TECNICO_OPERACIONAL/IMPLANTACAO_DO_MODULO_DE_CONEXAO.rst, linhas 10–16 (revisão dabc695); pengovbr/wiki-processoeletronico, Perguntas frequentes, Ambientes de Homologação e de Produção, linhas 71–75 (revisão fbb697c5)";

/// The production guidance the report ends with (pen-docs, *Acesso ao ambiente de produção*,
/// lines 15–21).
pub const EM_PRODUCAO: &str = "Validados os três requisitos pela equipe do PEN, o acesso ao ambiente de produção é liberado; em produção, todos os requisitos mínimos devem ser feitos de novo (pen-docs, Acesso ao ambiente de produção, linha 15): envie para a unidade indicada no FAQ um processo cuja descrição diga que é um teste (por exemplo \"TESTE – órgão X\", linha 21), e avise a equipe do PEN por e-mail que os testes começaram; ela os acompanha.";

/// The checks the real homologation does not make but production will hit: scenario ids of
/// the suite, in the order they are reported.
pub const RISKS: [&str; 10] = [
    "devolve-com-o-nre",
    "recebe-de-volta-o-que-enviou",
    "componente-acima-do-limite",
    "recebe-documento-sem-assinatura",
    "nao-envia-documento-sem-assinatura",
    "recebe-processo-sem-interessado",
    "nao-envia-processo-sem-interessado",
    "especie-nao-mapeada",
    "recusa-e-ciencia",
    "cancelamento-automatico",
];

/// One of the three requirements, as the platform words it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Requirement {
    /// `R1`, `R2`, `R3`.
    pub id: &'static str,
    /// The requirement file that checks it (`fixtures/data/homologacao/`).
    pub scenario: &'static str,
    /// The manual's words.
    pub manual: &'static str,
    /// The situação the trâmite must reach.
    pub end: Situacao,
}

pub const REQUIREMENTS: [Requirement; 3] = [
    Requirement {
        id: "R1",
        scenario: "r1-envio",
        manual: "O envio de no mínimo um processo com sucesso",
        end: Situacao::ReciboRecebidoRemetente,
    },
    Requirement {
        id: "R2",
        scenario: "r2-recebimento",
        manual: "O recebimento de no mínimo um processo com sucesso",
        end: Situacao::ReciboRecebidoRemetente,
    },
    Requirement {
        id: "R3",
        scenario: "r3-recusa",
        manual: "Recusa de Recebimento de Processo (Status 9)",
        end: Situacao::CienciaRecusa,
    },
];

/// What to run.
#[derive(Debug, Clone)]
pub struct RehearsalOptions {
    pub target: Target,
    pub seed: Option<u64>,
    /// Production risks count for the exit code.
    pub strict: bool,
    /// Run the production risks after R1–R3 (`--sem-riscos` turns them off: only what the
    /// real homologation checks).
    pub risks: bool,
}

/// A situação change of the requirement's trâmite.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SituacaoChange {
    /// Wall clock, RFC 3339.
    pub at: String,
    /// The platform's clock, RFC 3339.
    pub platform_at: String,
    pub from: u8,
    pub to: u8,
    /// The platform's description of `to`.
    pub descricao: String,
    /// Who caused it (`remetente (org-a)`, `destinatário (org-b)`, `plataforma`).
    pub by: String,
}

/// A recibo as the platform holds it, and whether its signature verifies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptCheck {
    /// Who signed it (`plataforma`, or the recipient's organisation).
    pub signed_by: String,
    pub date: String,
    pub hashes: Vec<String>,
    pub signature_valid: bool,
    /// `assinatura válida`, or why not.
    pub detail: String,
}

/// The refusal a trâmite carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefusalSeen {
    pub motivo: String,
    pub justificativa: String,
}

/// The trâmite that satisfied (or failed) a requirement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TramiteEvidence {
    pub idt: u64,
    pub nre: String,
    pub protocolo: String,
    pub situacao: u8,
    pub situacao_descricao: String,
    pub changes: Vec<SituacaoChange>,
    pub recibo_de_envio: Option<ReceiptCheck>,
    pub recibo_de_conclusao: Option<ReceiptCheck>,
    pub recusa: Option<RefusalSeen>,
    /// Every journal entry about the trâmite, as evidence lines.
    pub journal: Vec<String>,
}

/// One requirement's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequirementResult {
    /// `R1`…
    pub id: String,
    pub title: String,
    /// The manual's words.
    pub manual: String,
    pub source: String,
    /// The SUT's role.
    pub role: Side,
    /// The situação the trâmite must reach.
    pub expected_situacao: u8,
    pub met: bool,
    /// The run of its requirement file (verdict with evidence, steps).
    pub result: ScenarioResult,
    pub tramite: Option<TramiteEvidence>,
}

/// The *Relatório de ensaio de homologação*.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RehearsalReport {
    pub suite_version: String,
    pub target: String,
    /// The API the target speaks (`REST v3`).
    pub api: String,
    pub seed: u64,
    pub started_at: String,
    pub duration_ms: u64,
    /// Who played the platform's test environment.
    pub counterpart: String,
    pub strict: bool,
    pub requirements: Vec<RequirementResult>,
    /// The production risks (suite scenarios), each with its verdict.
    pub risks: Vec<ScenarioResult>,
    pub em_producao: String,
}

impl RehearsalReport {
    /// Requirements met, of three.
    #[must_use]
    pub fn met(&self) -> usize {
        self.requirements.iter().filter(|r| r.met).count()
    }

    /// Production risks the SUT failed.
    #[must_use]
    pub fn risks_failed(&self) -> usize {
        self.risks
            .iter()
            .filter(|r| matches!(r.verdict, Verdict::Fail { .. }))
            .count()
    }

    /// 0 R1–R3 met (and, `strict`, no risk failed); 1 one is not; 2 the harness could not
    /// judge (an error in a requirement or a risk, or a requirement the target's configuration
    /// leaves unjudgeable: no trigger for R1, nothing to provoke R3 with).
    #[must_use]
    pub fn exit_code(&self) -> i32 {
        let errors = self
            .requirements
            .iter()
            .map(|r| &r.result)
            .chain(&self.risks)
            .any(|r| matches!(r.verdict, Verdict::Error { .. }))
            || self
                .requirements
                .iter()
                .any(|r| matches!(r.result.verdict, Verdict::Skipped { .. }));
        if errors {
            2
        } else if self.met() < self.requirements.len() || (self.strict && self.risks_failed() > 0) {
            1
        } else {
            0
        }
    }
}

fn rfc3339(at: time::OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

fn actor(a: pen_simulator::journal::ActorName, spe: Option<&String>) -> String {
    let who = match a {
        pen_simulator::journal::ActorName::Sender => "remetente",
        pen_simulator::journal::ActorName::Recipient => "destinatário",
        pen_simulator::journal::ActorName::Platform => "plataforma",
    };
    spe.map_or_else(|| who.to_owned(), |s| format!("{who} ({s})"))
}

/// What the journal and the platform hold of a requirement's trâmite.
async fn evidence_of(h: &Harness, t: &Named) -> Option<TramiteEvidence> {
    let inspected = h.inspect(t.idt).await.ok()?;
    let changes = h.changes(t.idt, 0).await.unwrap_or_default();
    let mut all = changes.clone();
    all.extend(h.sut_requests(Some(t.idt), 0).await.unwrap_or_default());
    let changes = changes
        .into_iter()
        .filter_map(|e| match e.event {
            Event::StateChange {
                from,
                to,
                actor: who,
                spe,
                ..
            } => Some(SituacaoChange {
                at: rfc3339(e.wall_at),
                platform_at: rfc3339(e.at),
                from: from.code(),
                to: to.code(),
                descricao: to.descricao().to_owned(),
                by: actor(who, spe.as_ref()),
            }),
            _ => None,
        })
        .collect();
    let verdict = |result: Result<(), pen_protocol::receipt::ReceiptError>| match result {
        Ok(()) => (true, "assinatura válida".to_owned()),
        Err(e) => (false, e.to_string()),
    };
    let recibo_de_envio = inspected.recibo_de_envio_assinado.as_ref().map(|r| {
        let (signature_valid, detail) = verdict(r.verify());
        ReceiptCheck {
            signed_by: "plataforma".to_owned(),
            date: r
                .recibo_de_envio
                .data_de_recebimento_do_ultimo_componente_digital
                .clone()
                .unwrap_or_default(),
            hashes: r.recibo_de_envio.hashes_dos_componentes_digitais.clone(),
            signature_valid,
            detail,
        }
    });
    let recibo_de_conclusao = inspected.recibo_de_conclusao_assinado.as_ref().map(|r| {
        let (signature_valid, detail) = verdict(r.verify());
        ReceiptCheck {
            signed_by: format!("destinatário ({})", inspected.recipient),
            date: r.recibo.data_de_recebimento.clone(),
            hashes: r.recibo.hashes_dos_componentes_digitais.clone(),
            signature_valid,
            detail,
        }
    });
    let view = &inspected.tramite;
    Some(TramiteEvidence {
        idt: t.idt.0,
        nre: t.nre.to_string(),
        protocolo: t.protocolo.clone(),
        situacao: view.situacao_atual.code(),
        situacao_descricao: view.situacao_atual.descricao().to_owned(),
        changes,
        recibo_de_envio,
        recibo_de_conclusao,
        recusa: view.motivo_da_recusa.map(|m| RefusalSeen {
            motivo: m.code().to_owned(),
            justificativa: view.justificativa_da_recusa.clone().unwrap_or_default(),
        }),
        journal: evidence::lines(all),
    })
}

/// Runs the rehearsal: the pre-flight, R1–R3 in that order, then the production risks.
///
/// # Errors
/// As [`run::run`]: the harness could not set up, or the SUT never reached the platform.
pub async fn run(
    options: RehearsalOptions,
    progress: &dyn Progress,
) -> Result<RehearsalReport, HarnessError> {
    let started = Instant::now();
    let started_at = rfc3339(time::OffsetDateTime::now_utc());
    let seed = options.seed.unwrap_or_else(run::clock_seed);
    let requirements = crate::scenario::load_requirements()
        .map_err(|e| HarnessError(format!("requisitos: {e}")))?;
    let risks = if options.risks {
        run::selected(&RISKS.map(str::to_owned))?
    } else {
        Vec::new()
    };
    let run_options = RunOptions {
        seed: Some(seed),
        ..RunOptions::new(options.target.clone())
    };
    let (setup, harness) = Setup::start(&run_options, seed, None).await?;
    if let Err(e) = run::setup::preflight(&harness).await {
        setup.shutdown().await;
        return Err(e);
    }
    let harness = Arc::new(harness);
    let mut results = Vec::new();
    for requirement in REQUIREMENTS {
        let Some(scenario) = requirements
            .iter()
            .find(|s| s.id == requirement.scenario)
            .cloned()
        else {
            setup.shutdown().await;
            return Err(HarnessError(format!(
                "requisito {} sem arquivo {}",
                requirement.id, requirement.scenario
            )));
        };
        progress.started(&scenario);
        let (result, named): (ScenarioResult, HashMap<String, Named>) =
            run::run_scenario_named(harness.clone(), scenario.clone()).await;
        progress.finished(&result);
        let tramite = match named.get("ida") {
            Some(t) => evidence_of(&harness, t).await,
            None => None,
        };
        let met = result.verdict == Verdict::Pass
            && tramite
                .as_ref()
                .is_some_and(|t| t.situacao == requirement.end.code());
        results.push(RequirementResult {
            id: requirement.id.to_owned(),
            title: scenario.title.clone(),
            manual: requirement.manual.to_owned(),
            source: SOURCE.to_owned(),
            role: scenario.side,
            expected_situacao: requirement.end.code(),
            met,
            result,
            tramite,
        });
    }
    let mut risk_results = Vec::new();
    for scenario in risks {
        progress.started(&scenario);
        let result = run::run_scenario_named(harness.clone(), scenario).await.0;
        progress.finished(&result);
        risk_results.push(result);
    }
    setup.shutdown().await;
    Ok(RehearsalReport {
        suite_version: crate::scenario::suite_version(),
        target: options.target.label(),
        api: "REST v3".to_owned(),
        seed,
        started_at,
        duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        counterpart: format!(
            "{COUNTERPART_ORG}, unidade {}/{} — no papel de um ambiente de teste da plataforma (uma instância SEI com o módulo de conexão)",
            COUNTERPART_UNIT.0, COUNTERPART_UNIT.1
        ),
        strict: options.strict,
        requirements: results,
        risks: risk_results,
        em_producao: EM_PRODUCAO.to_owned(),
    })
}

/// The requirement that claims a mutant, if any (`catches` of the requirement files).
///
/// # Errors
/// A requirement file that does not load.
pub fn claimed_by(defect: pen_client::agent::Defect) -> Result<Option<&'static str>, HarnessError> {
    let files: Vec<Scenario> = crate::scenario::load_requirements()
        .map_err(|e| HarnessError(format!("requisitos: {e}")))?;
    Ok(REQUIREMENTS.into_iter().find_map(|r| {
        files
            .iter()
            .find(|s| s.id == r.scenario)
            .filter(|s| s.catches.iter().any(|c| c == defect.name()))
            .map(|_| r.id)
    }))
}
