//! Scenarios as data: `fixtures/data/scenarios/*.toml`, one scenario per file, deserialised into
//! [`Scenario`] with its [`Step`]s. A scenario that needs new behaviour adds a step kind here and
//! one function in the runner, never a special case.
//!
//! Names in the files: a trâmite is named by the step that created it (`as = "ida"`), and later
//! steps refer to it by that name (`tramite = "ida"`).

use std::collections::BTreeSet;

use pen_protocol::hash::hash_bytes;
use serde::{Deserialize, Serialize};

use crate::verdict::Side;

/// One scenario file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub id: String,
    pub title: String,
    /// Groups scenarios in listings and reports (`NRE`, `tamanho`, `assinatura`, …).
    pub family: String,
    pub side: Side,
    /// Where the rule comes from (`rest-v3.md §5.1`).
    pub spec: String,
    /// What a correct system does, in one or two sentences (shown by `list` and in reports).
    pub expectation: String,
    /// Longest wait of any step, in seconds, when the scenario needs more than the target's
    /// `sut.deadline_secs` (large components); the larger of the two applies.
    #[serde(default)]
    pub deadline_secs: Option<u64>,
    /// Mutants of the reference agent this scenario is meant to catch (checked by the
    /// self-test).
    #[serde(default)]
    pub catches: Vec<String>,
    pub steps: Vec<Step>,
}

/// A size, in bytes, relative to what the SUT declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Size {
    /// This many bytes.
    Bytes(u64),
    /// The SUT's declared component limit plus this many bytes (scenario skipped when the SUT
    /// declares none).
    AboveLimit(u64),
    /// This many times the SUT's declared transfer block, made smaller to fit the SUT's
    /// declared component limit but never below two blocks (the scenario is skipped, with the
    /// reason, when the limit leaves no room for two).
    Blocks(u64),
}

/// A change made to a sample before it is sent (what a scenario probes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Alteration {
    /// Every interessado listed twice.
    DuplicateInteressados,
    /// Descrição, especificações and names at their maximum lengths, with accents.
    LongTexts,
    /// No interessados (only through injection: the platform refuses it otherwise).
    NoInteressados,
    /// No descrição (injection only).
    NoDescricao,
    /// Every espécie replaced by the one the SUT declares it does not map.
    UnmappedEspecie,
}

/// What the harness expects the SUT to do with a trâmite sent to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reaction {
    /// Receives it and signs the recibo de conclusão (situação 5).
    Conclude,
    /// Refuses it (situação 8), with any motivo unless one is given.
    Refuse,
    /// Whatever the SUT's declared policy says about unsigned documents.
    PerUnsignedPolicy,
}

impl Reaction {
    /// What the SUT is expected to do, as a verb phrase.
    #[must_use]
    pub fn verb(self) -> &'static str {
        match self {
            Reaction::Conclude => "recebe e conclui",
            Reaction::Refuse => "recusa",
            Reaction::PerUnsignedPolicy => "trata conforme a política de não assinados",
        }
    }
}

/// One step of a scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "do", rename_all = "snake_case", deny_unknown_fields)]
pub enum Step {
    /// The counterpart sends a sample to the SUT's unit under a fresh NUP, with an anexo of a
    /// declared size, alterations, or as urgent.
    CounterpartSends {
        fixture: String,
        #[serde(rename = "as")]
        name: String,
        #[serde(default)]
        anexo: Option<Size>,
        #[serde(default)]
        alter: Vec<Alteration>,
        #[serde(default)]
        urgente: bool,
    },
    /// The control plane opens a trâmite as the counterpart past the platform's validation
    /// (what the platform would refuse from a real sender, so that the SUT's own checks are what
    /// is tested).
    CounterpartInjects {
        fixture: String,
        #[serde(rename = "as")]
        name: String,
        #[serde(default)]
        alter: Vec<Alteration>,
    },
    /// The SUT must react to a trâmite sent to it within the deadline.
    SutReacts {
        tramite: String,
        reaction: Reaction,
        /// Required motivo of a refusal (`"02"`).
        #[serde(default)]
        motivo: Option<String>,
    },
    /// The recibo de conclusão the SUT signed: fetched by the counterpart, signature verified
    /// with the SUT's certificate, hashes exactly the components the SUT downloaded, date the
    /// moment of situação 4.
    ReceiptIsValid { tramite: String },
    /// Every download request of the SUT for the trâmite stayed within `max_part` bytes of the
    /// SUT's declared block and used parts.
    DownloadedInParts { tramite: String },
    /// The SUT downloaded only what it lacked: exactly the components the platform listed as
    /// pending (on a process coming back, only the new ones).
    DownloadedOnlyPending { tramite: String },
    /// Each pendência handled once: one recibo or one refusal posted, no second attempt (a
    /// request the platform never served — an injected fault answered it — is not an attempt).
    HandledOnce { tramite: String },
    /// The SUT refused without downloading any component: metadata tell it everything it
    /// needs to refuse (size, espécie, interessados, descrição).
    NothingDownloaded { tramite: String },
    /// The SUT (through its trigger) sends a sample to the counterpart's unit; with `again`,
    /// the same process (protocolo) as an earlier trâmite.
    SutSends {
        fixture: String,
        #[serde(rename = "as")]
        name: String,
        #[serde(default)]
        anexo: Option<Size>,
        #[serde(default)]
        again: Option<String>,
    },
    /// The SUT (through its trigger) tries to send while the platform fails its uploads: the
    /// trâmite it opened is named, whatever its situação.
    SutSendFails {
        fixture: String,
        #[serde(rename = "as")]
        name: String,
    },
    /// The SUT's certificate stops (`false`) or starts again (`true`) being registered: its
    /// calls get the platform's "Transação não autorizada" (9001) meanwhile.
    SutCertificateRegistered { registered: bool },
    /// The SUT met the platform's refusal of its certificate (9001) within the deadline.
    SutRejected,
    /// The SUT (through its trigger) must NOT send the sample: its own rules stop it.
    SutRefusesToSend { fixture: String },
    /// The SUT (through its trigger) returns a process it received in `tramite` to the sender.
    SutReturns {
        tramite: String,
        #[serde(rename = "as")]
        name: String,
    },
    /// A trâmite the SUT opened carries the NRE of an earlier one.
    SameNre { tramite: String, as_in: String },
    /// The SUT's uploads for a trâmite: in parts never larger than its declared block, closed by
    /// the end-of-parts signal.
    UploadedInParts { tramite: String },
    /// The SUT fetched (and so could verify) the platform's recibo de envio.
    FetchedSendingReceipt { tramite: String },
    /// The counterpart receives the SUT's trâmite as a correct system does (refusing a
    /// protocolo it holds under another NRE).
    CounterpartReceives { tramite: String },
    /// The counterpart refuses the SUT's trâmite.
    CounterpartRefuses { tramite: String, motivo: String },
    /// The counterpart returns a process it received, with a new despacho.
    CounterpartReturns {
        tramite: String,
        #[serde(rename = "as")]
        name: String,
    },
    /// The counterpart cancels what it sent.
    CounterpartCancels { tramite: String },
    /// The counterpart sends a sample the SUT must refuse by what it declares: every espécie
    /// replaced by the one it does not map, else a component over its limit; with neither
    /// declared and a person at the trigger, the sample as it is, and the person is asked to
    /// refuse it.
    CounterpartSendsRefusable {
        fixture: String,
        #[serde(rename = "as")]
        name: String,
    },
    /// The counterpart, as sender, fetches the SUT's recibo de conclusão (5 → 6).
    CounterpartFetchesReceipt { tramite: String },
    /// The counterpart, as sender, acknowledges the SUT's refusal (8 → 9).
    CounterpartAcknowledges { tramite: String },
    /// The SUT must conclude its side as a sender: fetch the recibo de conclusão (6).
    SutFetchesReceipt { tramite: String },
    /// The SUT must acknowledge the refusal (9).
    SutAcknowledges { tramite: String },
    /// Nothing more happens to the trâmite by the SUT's hand (no recibo, no refusal) — used
    /// after a cancellation. Checked at once, without waiting.
    SutLeavesAlone { tramite: String },
    /// A control-plane fault (the JSON of `POST /control/faults`; `spe` defaults to the SUT).
    Fault { fault: toml::Table },
    /// Removes every fault.
    ClearFaults,
    /// Moves the platform's clock.
    AdvanceClock { days: u64 },
    /// The trâmite reached this situação (by anyone's hand), within the deadline.
    Situacao { tramite: String, is: u8 },
}

impl Step {
    /// One line for logs and reports.
    #[must_use]
    pub fn describe(&self) -> String {
        match self {
            Step::CounterpartSends { fixture, name, .. } => {
                format!("contraparte envia {fixture} ({name})")
            }
            Step::CounterpartInjects { fixture, name, .. } => {
                format!("contraparte injeta {fixture} sem validação ({name})")
            }
            Step::SutReacts {
                tramite, reaction, ..
            } => format!("SUT {} {tramite}", reaction.verb()),
            Step::ReceiptIsValid { tramite } => {
                format!("recibo de conclusão de {tramite} é válido")
            }
            Step::DownloadedInParts { tramite } => format!("SUT baixa {tramite} em partes"),
            Step::DownloadedOnlyPending { tramite } => {
                format!("SUT baixa de {tramite} só o que lhe falta")
            }
            Step::HandledOnce { tramite } => format!("SUT trata {tramite} uma única vez"),
            Step::NothingDownloaded { tramite } => {
                format!("SUT recusa {tramite} sem baixar componentes")
            }
            Step::SutSends { fixture, name, .. } => format!("SUT envia {fixture} ({name})"),
            Step::SutSendFails { fixture, name } => {
                format!("SUT tenta enviar {fixture} com a plataforma falhando ({name})")
            }
            Step::SutCertificateRegistered { registered: true } => {
                "certificado do SUT registrado de novo".to_owned()
            }
            Step::SutCertificateRegistered { registered: false } => {
                "certificado do SUT deixa de ser registrado".to_owned()
            }
            Step::SutRejected => "SUT recebe 9001 (certificado não autorizado)".to_owned(),
            Step::SutRefusesToSend { fixture } => format!("SUT não envia {fixture}"),
            Step::SutReturns { tramite, name } => format!("SUT devolve {tramite} ({name})"),
            Step::SameNre { tramite, as_in } => format!("{tramite} leva o NRE de {as_in}"),
            Step::UploadedInParts { tramite } => format!("SUT envia {tramite} em partes"),
            Step::FetchedSendingReceipt { tramite } => {
                format!("SUT obtém o recibo de envio de {tramite}")
            }
            Step::CounterpartReceives { tramite } => format!("contraparte recebe {tramite}"),
            Step::CounterpartRefuses { tramite, motivo } => {
                format!("contraparte recusa {tramite} (motivo {motivo})")
            }
            Step::CounterpartReturns { tramite, name } => {
                format!("contraparte devolve {tramite} ({name})")
            }
            Step::CounterpartCancels { tramite } => format!("contraparte cancela {tramite}"),
            Step::CounterpartSendsRefusable { fixture, name } => {
                format!("contraparte envia {fixture} para ser recusado ({name})")
            }
            Step::CounterpartFetchesReceipt { tramite } => {
                format!("contraparte obtém o recibo de conclusão de {tramite}")
            }
            Step::CounterpartAcknowledges { tramite } => {
                format!("contraparte dá ciência da recusa de {tramite}")
            }
            Step::SutFetchesReceipt { tramite } => {
                format!("SUT obtém o recibo de conclusão de {tramite}")
            }
            Step::SutAcknowledges { tramite } => format!("SUT dá ciência da recusa de {tramite}"),
            Step::SutLeavesAlone { tramite } => format!("SUT não age sobre {tramite}"),
            Step::Fault { fault } => format!(
                "falha injetada: {}",
                fault
                    .get("type")
                    .and_then(toml::Value::as_str)
                    .unwrap_or_default()
            ),
            Step::ClearFaults => "falhas removidas".to_owned(),
            Step::AdvanceClock { days } => format!("relógio avança {days} dia(s)"),
            Step::Situacao { tramite, is } => format!("{tramite} chega à situação {is}"),
        }
    }

    /// Whether the step needs the SUT to act on request (a trigger).
    #[must_use]
    pub fn needs_trigger(&self) -> bool {
        matches!(
            self,
            Step::SutSends { .. }
                | Step::SutSendFails { .. }
                | Step::SutRefusesToSend { .. }
                | Step::SutReturns { .. }
        )
    }
}

impl Scenario {
    /// What the scenario needs from the target, for `list`.
    #[must_use]
    pub fn needs(&self) -> BTreeSet<&'static str> {
        let mut out = BTreeSet::new();
        for step in &self.steps {
            if step.needs_trigger() {
                out.insert("gatilho");
            }
            match step {
                Step::CounterpartSends {
                    anexo: Some(Size::AboveLimit(_)),
                    ..
                } => {
                    out.insert("limite de tamanho declarado");
                }
                Step::CounterpartSends { alter, .. } | Step::CounterpartInjects { alter, .. }
                    if alter.contains(&Alteration::UnmappedEspecie) =>
                {
                    out.insert("espécie não mapeada declarada");
                }
                Step::CounterpartSendsRefusable { .. } => {
                    out.insert("uma recusa provocável");
                }
                _ => {}
            }
        }
        out
    }
}

/// A scenario file that does not parse or breaks a rule of the format.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("cenário {file}: {detail}")]
    Invalid { file: String, detail: String },
}

/// The scenarios shipped in `pen-fixtures` (`scenarios/*.toml`), sorted by family then id.
///
/// # Errors
/// A file that does not parse, a duplicate id, a step naming a trâmite no earlier step created.
pub fn load_all() -> Result<Vec<Scenario>, ScenarioError> {
    load_dir("scenarios")
}

/// The homologation rehearsal's requirements (`homologacao/*.toml`, in the same format), in
/// their order (R1, R2, R3).
///
/// # Errors
/// As [`load_all`].
pub fn load_requirements() -> Result<Vec<Scenario>, ScenarioError> {
    let mut all = load_dir("homologacao")?;
    all.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(all)
}

fn load_dir(dir: &str) -> Result<Vec<Scenario>, ScenarioError> {
    let mut out = Vec::new();
    for (path, bytes) in pen_fixtures::files(dir) {
        out.push(parse(path, &String::from_utf8_lossy(bytes))?);
    }
    let mut ids = BTreeSet::new();
    for s in &out {
        if !ids.insert(s.id.clone()) {
            return Err(ScenarioError::Invalid {
                file: s.id.clone(),
                detail: "id repetido".to_owned(),
            });
        }
    }
    out.sort_by(|a, b| (&a.family, &a.id).cmp(&(&b.family, &b.id)));
    Ok(out)
}

/// Parses and checks one scenario file.
///
/// # Errors
/// Syntax, unknown keys, names used before they are created.
pub fn parse(file: &str, text: &str) -> Result<Scenario, ScenarioError> {
    let invalid = |detail: String| ScenarioError::Invalid {
        file: file.to_owned(),
        detail,
    };
    let scenario: Scenario = toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
    let mut named: BTreeSet<&str> = BTreeSet::new();
    for step in &scenario.steps {
        let (uses, creates): (Vec<&str>, Option<&str>) = match step {
            Step::SutSends {
                name,
                again: Some(earlier),
                ..
            } => (vec![earlier], Some(name)),
            Step::CounterpartSends { name, .. }
            | Step::CounterpartSendsRefusable { name, .. }
            | Step::CounterpartInjects { name, .. }
            | Step::SutSendFails { name, .. }
            | Step::SutSends { name, .. } => (vec![], Some(name)),
            Step::SutReturns { tramite, name } | Step::CounterpartReturns { tramite, name } => {
                (vec![tramite], Some(name))
            }
            Step::SameNre { tramite, as_in } => (vec![tramite, as_in], None),
            Step::SutReacts { tramite, .. }
            | Step::ReceiptIsValid { tramite }
            | Step::DownloadedInParts { tramite }
            | Step::DownloadedOnlyPending { tramite }
            | Step::HandledOnce { tramite }
            | Step::NothingDownloaded { tramite }
            | Step::UploadedInParts { tramite }
            | Step::FetchedSendingReceipt { tramite }
            | Step::CounterpartReceives { tramite }
            | Step::CounterpartRefuses { tramite, .. }
            | Step::CounterpartCancels { tramite }
            | Step::CounterpartFetchesReceipt { tramite }
            | Step::CounterpartAcknowledges { tramite }
            | Step::SutFetchesReceipt { tramite }
            | Step::SutAcknowledges { tramite }
            | Step::SutLeavesAlone { tramite }
            | Step::Situacao { tramite, .. } => (vec![tramite], None),
            Step::SutRefusesToSend { .. }
            | Step::SutCertificateRegistered { .. }
            | Step::SutRejected
            | Step::Fault { .. }
            | Step::ClearFaults
            | Step::AdvanceClock { .. } => (vec![], None),
        };
        for name in uses {
            if !named.contains(name) {
                return Err(invalid(format!(
                    "o passo \"{}\" usa o trâmite \"{name}\" antes de algum passo criá-lo",
                    step.describe()
                )));
            }
        }
        if let Some(name) = creates {
            named.insert(name);
        }
    }
    if scenario.steps.is_empty() {
        return Err(invalid("nenhum passo".to_owned()));
    }
    Ok(scenario)
}

/// The suite's version: the harness version and a digest of the scenario and requirement
/// files, so that two reports with the same version ran the same scenarios.
#[must_use]
pub fn suite_version() -> String {
    let mut all = Vec::new();
    for (path, bytes) in pen_fixtures::files("scenarios")
        .into_iter()
        .chain(pen_fixtures::files("homologacao"))
    {
        all.extend_from_slice(path.as_bytes());
        all.extend_from_slice(bytes);
    }
    let digest = hash_bytes(&all);
    let short: String = digest.as_bytes()[..4]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("{}+cenarios.{short}", env!("CARGO_PKG_VERSION"))
}
