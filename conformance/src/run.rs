//! The runner: sets up the platform (an embedded simulator with a manual clock and its control
//! plane), the counterpart organisation (a reference agent driven step by step, and its client)
//! and the SUT; runs each scenario's steps; turns what the journal shows into verdicts.
//!
//! Every wait is a journal wait with a deadline; every scenario runs in its own task with an
//! overall limit, so a panic or a hang becomes an `error` verdict, never the harness's end.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use pen_client::agent::{self, Agent, AgentConfig, Defect, Event, Policy, RunningAgent};
use pen_client::flows::{self, TransferOptions};
use pen_client::follow::{FeedMode, FollowOptions};
use pen_client::samples::{self, Envelope, Sample};
use pen_client::{Client, ClientConfig, Identity, TramiteFilter};
use pen_protocol::api::{EnvioDeProcesso, Pendencia, Recusa, TramiteDeProcessoCriado};
use pen_protocol::ids::{Idt, Nre, Nup};
use pen_protocol::model::{
    CabecalhoDeProcesso, EstruturaOrganizacional, Interessado, MotivoDaUrgencia,
};
use pen_protocol::refusals::{Refusal, RefusalKind};
use pen_protocol::situacao::Situacao;
use pen_protocol::tables::MotivoRecusa;
use pen_simulator::clock::ManualClock;
use pen_simulator::runtime::{Simulator, SimulatorOptions};
use serde_json::{json, Value};
use tokio::sync::oneshot;

use crate::scenario::{Alteration, Reaction, Scenario, Size, Step};
use crate::target::{SutProfile, Target, Trigger, TriggerOutcome, TriggerRequest};
use crate::verdict::{RunReport, ScenarioResult, StepLog, Verdict};

/// The counterpart organisation and its unit.
pub const COUNTERPART_ORG: &str = "org-b";
pub const COUNTERPART_UNIT: (u64, &str) = (1, "159098");

/// What the reference agent declares when it is the SUT: a small size limit and block so that
/// the size scenarios move a few MiB, not hundreds.
const REFERENCE_BLOCK: u64 = 256 * 1024;
const REFERENCE_MAX_MB: u64 = 2;

/// The harness could not run (configuration, PKI, ports): exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct HarnessError(pub String);

fn harness<E: std::fmt::Display>(what: &str) -> impl FnOnce(E) -> HarnessError + '_ {
    move |e| HarnessError(format!("{what}: {e}"))
}

/// Told as the run goes.
pub trait Progress: Send + Sync {
    fn started(&self, scenario: &Scenario);
    fn finished(&self, result: &ScenarioResult);
}

/// What to run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub target: Target,
    /// Scenario ids; empty: all.
    pub only: Vec<String>,
    /// Seed of the run's NUPs; drawn from the clock and printed when absent.
    pub seed: Option<u64>,
    /// Where to keep the PKI of the reference target (a temporary folder when absent).
    pub pki_dir: Option<PathBuf>,
}

/// A trâmite a scenario named.
#[derive(Debug, Clone)]
struct Named {
    idt: Idt,
    nre: Nre,
    protocolo: String,
}

/// Why a step did not pass.
#[derive(Debug)]
enum StepError {
    Fail {
        expected: String,
        observed: String,
        evidence: Vec<String>,
        hint: String,
    },
    Skip(String),
    Harness(String),
}

type StepResult = Result<(), StepError>;

fn harness_err<E: std::fmt::Display>(what: &str) -> impl FnOnce(E) -> StepError + '_ {
    move |e| StepError::Harness(format!("{what}: {e}"))
}

/// The control plane of the embedded simulator.
#[derive(Debug, Clone)]
pub(crate) struct Control {
    http: reqwest::Client,
    base: String,
}

impl Control {
    pub(crate) async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, String> {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request
            .send()
            .await
            .map_err(|e| pen_client::error::chain(&e))?;
        let status = response.status();
        let text = response.text().await.map_err(|e| e.to_string())?;
        if !status.is_success() && status.as_u16() != 408 {
            return Err(format!("controle {path}: {status} {text}"));
        }
        if text.is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_str(&text).map_err(|e| format!("controle {path}: {e}"))
    }

    pub(crate) async fn get(&self, path: &str) -> Result<Value, String> {
        self.call(reqwest::Method::GET, path, None).await
    }

    pub(crate) async fn last_seq(&self) -> Result<u64, String> {
        Ok(self.get("journal?limit=1").await?["total"]
            .as_u64()
            .unwrap_or(0))
    }

    pub(crate) async fn entries(&self, query: &str) -> Result<Vec<Value>, String> {
        let page = self.get(&format!("journal?limit=100000&{query}")).await?;
        Ok(page["entries"].as_array().cloned().unwrap_or_default())
    }

    /// The first entry after `after` matching `query`, or `None` at the deadline.
    pub(crate) async fn wait(
        &self,
        query: &str,
        after: u64,
        deadline: Instant,
    ) -> Result<Option<Value>, String> {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            let found = self.entries(&format!("{query}&after={after}")).await?;
            return Ok(found.into_iter().next());
        }
        let entry = self
            .get(&format!(
                "journal/wait?{query}&after={after}&timeout_ms={}",
                left.as_millis().max(1)
            ))
            .await?;
        Ok(entry.get("seq").is_some().then_some(entry))
    }
}

/// Everything a scenario acts through.
pub(crate) struct Harness {
    pub(crate) control: Control,
    counterpart: Agent,
    counterpart_client: Client,
    counterpart_unit: EstruturaOrganizacional,
    pub(crate) sut: SutProfile,
    trigger: Trigger,
    seed: u64,
    nups: AtomicU32,
    work: tempfile::TempDir,
    /// The SUT's registered fingerprint while a scenario has it unregistered.
    saved_fingerprint: std::sync::Mutex<Option<String>>,
}

fn lock_saved(m: &std::sync::Mutex<Option<String>>) -> std::sync::MutexGuard<'_, Option<String>> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn evidence_line(e: &Value) -> String {
    match e["kind"].as_str() {
        Some("request") => format!(
            "#{} {} {} {} {} → {}{}",
            e["seq"],
            e["at"].as_str().unwrap_or_default(),
            e["spe"].as_str().unwrap_or("?"),
            e["method"].as_str().unwrap_or_default(),
            e["path"].as_str().unwrap_or_default(),
            e["status"],
            e["error_code"]
                .as_str()
                .map(|c| format!(" (codigoErro {c})"))
                .unwrap_or_default()
        ),
        Some("state_change") => format!(
            "#{} {} trâmite {}: {} → {} por {} ({})",
            e["seq"],
            e["at"].as_str().unwrap_or_default(),
            e["idt"],
            e["from"],
            e["to"],
            e["actor"].as_str().unwrap_or_default(),
            e["spe"].as_str().unwrap_or("plataforma")
        ),
        _ => e.to_string(),
    }
}

impl Harness {
    fn fresh_nup(&self) -> String {
        let n = self.nups.fetch_add(1, Ordering::Relaxed);
        // Unit code from the seed, sequence from the run: fresh per scenario, reproducible.
        let unidade = 10_000 + u32::try_from(self.seed % 80_000).unwrap_or(0);
        Nup::new(unidade, n, 2025).to_string()
    }

    fn deadline(&self, scenario: &Scenario) -> Duration {
        Duration::from_secs(scenario.deadline_secs).max(self.sut.deadline)
    }

    /// The SUT's requests and every state change of a trâmite since `after`.
    async fn evidence(&self, idt: Option<Idt>, after: u64) -> Vec<String> {
        let mut out = Vec::new();
        let sut = &self.sut.organisation;
        if let Ok(entries) = self
            .control
            .entries(&format!("kind=request&spe={sut}&after={after}"))
            .await
        {
            out.extend(
                entries
                    .iter()
                    .filter(|e| {
                        idt.is_none_or(|i| {
                            e["path"]
                                .as_str()
                                .is_some_and(|p| p.contains(&format!("tramites/{i}")))
                        })
                    })
                    .map(evidence_line),
            );
        }
        if let Some(idt) = idt {
            if let Ok(entries) = self
                .control
                .entries(&format!("kind=state_change&idt={idt}&after={after}"))
                .await
            {
                out.extend(entries.iter().map(evidence_line));
            }
        }
        if out.len() > 40 {
            let cut = out.len() - 40;
            out.drain(..cut);
            out.insert(0, format!("… ({cut} linhas anteriores omitidas)"));
        }
        out
    }

    /// Everything the control plane knows of a trâmite (`GET /control/tramites/{idt}`).
    async fn inspect(&self, idt: Idt) -> Result<Value, StepError> {
        self.control
            .get(&format!("tramites/{idt}"))
            .await
            .map_err(StepError::Harness)
    }

    async fn situacao(&self, idt: Idt) -> Option<u8> {
        self.control
            .get(&format!("tramites/{idt}"))
            .await
            .ok()
            .and_then(|v| v["tramite"]["situacaoAtual"].as_u64())
            .and_then(|n| u8::try_from(n).ok())
    }

    /// Waits until the trâmite reaches one of `targets` (returns it) or another situação in
    /// `stops` (returns it), or the deadline (`None`).
    async fn wait_situacao(
        &self,
        idt: Idt,
        targets: &[u8],
        stops: &[u8],
        after: u64,
        deadline: Instant,
    ) -> Result<Option<u8>, StepError> {
        if let Some(now) = self.situacao(idt).await {
            if targets.contains(&now) || stops.contains(&now) {
                return Ok(Some(now));
            }
        }
        let mut after = after;
        loop {
            let entry = self
                .control
                .wait(&format!("kind=state_change&idt={idt}"), after, deadline)
                .await
                .map_err(StepError::Harness)?;
            let Some(entry) = entry else { return Ok(None) };
            after = entry["seq"].as_u64().unwrap_or(after + 1);
            let to = entry["to"]
                .as_u64()
                .and_then(|n| u8::try_from(n).ok())
                .unwrap_or(0);
            if targets.contains(&to) || stops.contains(&to) {
                return Ok(Some(to));
            }
        }
    }

    async fn refusal_of(&self, idt: Idt) -> (Option<MotivoRecusa>, Option<String>) {
        let found = self
            .counterpart_client
            .tramites(&TramiteFilter {
                idt: Some(idt),
                ..TramiteFilter::default()
            })
            .await
            .ok()
            .and_then(|c| c.tramites.into_iter().next());
        match found {
            Some(t) => (t.motivo_da_recusa, t.justificativa_da_recusa),
            None => (None, None),
        }
    }

    fn resolve_size(&self, size: Size) -> Result<u64, StepError> {
        match size {
            Size::Bytes(n) => Ok(n),
            Size::Blocks(n) => Ok(n * self.sut.block_bytes),
            Size::AboveLimit(extra) => self
                .sut
                .max_document_mb
                .map(|mb| mb * agent::policy::MB + extra)
                .ok_or_else(|| {
                    StepError::Skip(
                        "o alvo não declara um limite de tamanho (sut.max_document_mb)".to_owned(),
                    )
                }),
        }
    }

    fn alter(&self, sample: &mut Sample, alterations: &[Alteration]) -> StepResult {
        let Envelope::Processo(p) = &mut sample.envelope else {
            return Ok(());
        };
        for alteration in alterations {
            match alteration {
                Alteration::DuplicateInteressados => {
                    let twice = p.interessados.clone();
                    p.interessados.extend(twice);
                }
                Alteration::LongTexts => {
                    let long = |n: usize| {
                        "Ação de conformação, ênfase e exceção: órgão público à vista; "
                            .chars()
                            .cycle()
                            .take(n)
                            .collect::<String>()
                    };
                    p.descricao = Some(long(100));
                    p.processo_de_negocio = Some(long(100));
                    p.interessados.push(Interessado::named(long(150)));
                    for d in &mut p.documentos {
                        d.descricao = Some(long(100));
                    }
                }
                Alteration::NoInteressados => p.interessados.clear(),
                Alteration::NoDescricao => p.descricao = None,
                Alteration::UnmappedEspecie => {
                    let code = self.sut.unmapped_especie.ok_or_else(|| {
                        StepError::Skip(
                            "o alvo não declara uma espécie não mapeada (sut.unmapped_especie)"
                                .to_owned(),
                        )
                    })?;
                    for d in &mut p.documentos {
                        if let Some(e) = &mut d.especie {
                            e.codigo = Some(code);
                        }
                    }
                }
            }
        }
        Ok(())
    }

    fn sample(
        &self,
        fixture: &str,
        anexo: Option<Size>,
        alterations: &[Alteration],
    ) -> Result<Sample, StepError> {
        let mut sample = samples::load(fixture)
            .map_err(harness_err("amostra"))?
            .with_protocolo(&self.fresh_nup());
        if let Some(size) = anexo {
            let bytes = self.resolve_size(size)?;
            sample = sample
                .with_large_attachment(bytes, self.seed ^ bytes)
                .map_err(harness_err("anexo"))?;
        }
        self.alter(&mut sample, alterations)?;
        Ok(sample)
    }

    /// Writes a sample where an external SUT can import it: `processo.json` or
    /// `documento.json` and its files by name.
    fn materialise(&self, sample: &Sample) -> Result<PathBuf, StepError> {
        let dir = self.work.path().join(
            sample
                .envelope
                .protocolo()
                .unwrap_or("amostra")
                .replace(['/', '.'], "-"),
        );
        std::fs::create_dir_all(&dir).map_err(harness_err("pasta da amostra"))?;
        let (name, json) = match &sample.envelope {
            Envelope::Processo(p) => ("processo.json", serde_json::to_vec_pretty(p)),
            Envelope::Documento(d) => ("documento.json", serde_json::to_vec_pretty(d)),
        };
        std::fs::write(dir.join(name), json.map_err(harness_err("amostra"))?)
            .map_err(harness_err("pasta da amostra"))?;
        for c in sample.envelope.components() {
            if let (Some(hash), Some(nome), Some(size)) =
                (c.hash_conteudo(), &c.nome, c.tamanho_em_bytes)
            {
                agent::archive::keep_component(&dir, hash, size, &sample.source)
                    .map_err(harness_err("pasta da amostra"))?;
                let from = dir.join(flows::file_name_of(hash));
                std::fs::copy(&from, dir.join(nome)).map_err(harness_err("pasta da amostra"))?;
                let _ = std::fs::remove_file(from);
            }
        }
        Ok(dir)
    }

    /// The newest trâmite the SUT opened for a protocolo (other than `except`), once its
    /// components are uploaded (situação 2 or later), waiting up to the deadline.
    async fn sut_tramite(
        &self,
        protocolo: &str,
        except: Option<Idt>,
        after: u64,
        deadline: Instant,
    ) -> Result<Option<Named>, StepError> {
        let mut after = after;
        loop {
            let found = self
                .counterpart_client
                .tramites(&TramiteFilter {
                    protocolo: Some(protocolo.to_owned()),
                    ..TramiteFilter::default()
                })
                .await
                .map_err(harness_err("consulta de trâmites"))?;
            if let Some(t) = found.tramites.into_iter().find(|t| {
                t.remetente == self.sut.unidade
                    && t.situacao_atual.code() >= 2
                    && Some(t.idt) != except
            }) {
                return Ok(Some(Named {
                    idt: t.idt,
                    nre: t.nre,
                    protocolo: t.protocolo,
                }));
            }
            match self
                .control
                .wait("kind=state_change&to=2", after, deadline)
                .await
                .map_err(StepError::Harness)?
            {
                Some(e) => after = e["seq"].as_u64().unwrap_or(after + 1),
                None => return Ok(None),
            }
        }
    }
}

/// Runs the suite.
///
/// # Errors
/// The harness could not set up (PKI, ports, a broken scenario file).
pub async fn run(options: RunOptions, progress: &dyn Progress) -> Result<RunReport, HarnessError> {
    let started = Instant::now();
    let started_at = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let seed = options.seed.unwrap_or_else(|| {
        u64::try_from(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(7, |d| d.as_micros() % 1_000_000_007),
        )
        .unwrap_or(7)
    });
    let mut scenarios = crate::scenario::load_all().map_err(harness("cenários"))?;
    if !options.only.is_empty() {
        for id in &options.only {
            if !scenarios.iter().any(|s| &s.id == id) {
                return Err(HarnessError(format!("cenário desconhecido: {id}")));
            }
        }
        scenarios.retain(|s| options.only.contains(&s.id));
    }

    let (setup, harness) = Setup::start(&options, seed, None).await?;
    let harness = Arc::new(harness);
    let mut results = Vec::new();
    for scenario in scenarios {
        progress.started(&scenario);
        let result = run_scenario(harness.clone(), scenario).await;
        progress.finished(&result);
        results.push(result);
    }
    setup.shutdown().await;
    Ok(RunReport {
        suite_version: crate::scenario::suite_version(),
        target: options.target.label(),
        seed,
        started_at,
        duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        results,
    })
}

/// The platform, the SUT when it runs in process, and how to stop them.
pub(crate) struct Setup {
    sut: Option<RunningAgent>,
    stop: oneshot::Sender<()>,
    _pki: Option<tempfile::TempDir>,
    _counterpart_dir: tempfile::TempDir,
    _sut_state: Option<tempfile::TempDir>,
}

fn client_from_pki(
    pki: &std::path::Path,
    org: &str,
    base_url: &str,
) -> Result<Client, HarnessError> {
    let identity = std::fs::read(pki.join(format!("orgs/{org}/identity.pem")))
        .map_err(harness("identidade"))
        .and_then(|pem| Identity::from_pem(&pem).map_err(harness("identidade")))?;
    let ca = std::fs::read(pki.join("ca.pem")).map_err(harness("CA"))?;
    let mut config = ClientConfig::new(base_url, ca, identity);
    config.timeout = Duration::from_secs(60);
    Client::new(config).map_err(harness("cliente"))
}

impl Setup {
    /// The platform, counterpart and SUT of a run. `load` runs on the system clock (the journal
    /// timestamps are its measurements) with a more concurrent reference agent.
    pub(crate) async fn start(
        options: &RunOptions,
        seed: u64,
        load: Option<usize>,
    ) -> Result<(Self, Harness), HarnessError> {
        // The PKI: generated for the run (reference), or once per target folder (external).
        let (pki_dir, temporary) = match (&options.target, &options.pki_dir) {
            (Target::External(config), _) => (config.sut.pki_dir.clone(), None),
            (Target::Reference { .. }, Some(dir)) => (dir.clone(), None),
            (Target::Reference { .. }, None) => {
                let dir = tempfile::tempdir().map_err(harness("pasta temporária"))?;
                (dir.path().to_path_buf(), Some(dir))
            }
        };
        ensure_pki(&pki_dir)?;

        let (addr, profile) = match &options.target {
            Target::External(config) => (
                config.simulator.addr,
                SutProfile {
                    organisation: config.sut.organisation.clone(),
                    unidade: agent::parse_unit(&config.sut.unidade)
                        .map_err(harness("sut.unidade"))?,
                    max_document_mb: config.sut.max_document_mb,
                    block_bytes: config.sut.block_bytes,
                    accepts_unsigned: config.sut.accepts_unsigned,
                    unmapped_especie: config.sut.unmapped_especie,
                    deadline: Duration::from_secs(config.sut.deadline_secs),
                },
            ),
            Target::Reference { .. } => {
                let policy = Policy::reference().map_err(harness("política"))?;
                (
                    std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
                    SutProfile {
                        organisation: "org-a".to_owned(),
                        unidade: EstruturaOrganizacional::new(1, "152254"),
                        max_document_mb: Some(REFERENCE_MAX_MB),
                        block_bytes: REFERENCE_BLOCK,
                        accepts_unsigned: policy.accept_unsigned,
                        unmapped_especie: policy.especies.unmapped.iter().next().copied(),
                        deadline: Duration::ZERO,
                    },
                )
            }
        };

        let clock: pen_simulator::clock::SharedClock = match load {
            Some(_) => Arc::new(pen_simulator::clock::SystemClock::new()),
            None => Arc::new(ManualClock::new(time::OffsetDateTime::now_utc())),
        };
        let mut sim_options = SimulatorOptions::new(&pki_dir);
        sim_options.addr = addr;
        sim_options.clock = clock;
        sim_options.control_addr = Some(std::net::SocketAddr::from(([127, 0, 0, 1], 0)));
        let simulator = Simulator::bind(sim_options)
            .await
            .map_err(harness("simulador"))?;
        let base_url = simulator.base_url();
        let control_url = simulator
            .control_url()
            .ok_or_else(|| HarnessError("plano de controle ausente".to_owned()))?;
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(simulator.run_until(async {
            let _ = stopped.await;
        }));

        if let Target::External(config) = &options.target {
            print_configuration(&pki_dir, &base_url, config);
        }

        let counterpart_dir = tempfile::tempdir().map_err(harness("pasta temporária"))?;
        let counterpart_client = client_from_pki(&pki_dir, COUNTERPART_ORG, &base_url)?;
        let transfer = TransferOptions {
            block: REFERENCE_BLOCK,
            whole_below: REFERENCE_BLOCK,
        };
        let counterpart_unit = EstruturaOrganizacional::new(COUNTERPART_UNIT.0, COUNTERPART_UNIT.1);
        let counterpart = Agent::new(AgentConfig {
            client: counterpart_client.clone(),
            unit: counterpart_unit.clone(),
            policy: Policy::default(),
            defects: std::collections::BTreeSet::new(),
            state_dir: counterpart_dir.path().to_path_buf(),
            follow: FollowOptions::default(),
            transfer,
        })
        .map_err(harness("contraparte"))?;

        let mut sut_state = None;
        let (sut, trigger) = match &options.target {
            Target::Reference { mutant } => {
                let state = tempfile::tempdir().map_err(harness("pasta temporária"))?;
                let state_dir = state.path().to_path_buf();
                sut_state = Some(state);
                let mut policy = Policy::reference().map_err(harness("política"))?;
                policy.max_document_mb = Some(REFERENCE_MAX_MB);
                let running = RunningAgent::start(
                    AgentConfig {
                        client: client_from_pki(&pki_dir, &profile.organisation, &base_url)?,
                        unit: profile.unidade.clone(),
                        policy,
                        defects: mutant.iter().copied().collect(),
                        state_dir,
                        follow: FollowOptions {
                            mode: FeedMode::LongPoll { seconds: 5 },
                            interval: Duration::from_millis(50),
                            concurrency: load.unwrap_or(4),
                            retry_after: Duration::from_millis(50),
                        },
                        transfer,
                    },
                    None,
                )
                .await
                .map_err(harness("agente de referência"))?;
                let trigger = Trigger::Builtin(running.agent.clone());
                (Some(running), trigger)
            }
            Target::External(config) => (None, Trigger::from_config(&config.trigger)),
        };

        let harness = Harness {
            control: Control {
                http: reqwest::Client::builder()
                    .no_proxy()
                    .build()
                    .map_err(harness("cliente do controle"))?,
                base: control_url,
            },
            counterpart,
            counterpart_client,
            counterpart_unit,
            sut: profile,
            trigger,
            seed,
            nups: AtomicU32::new(1),
            work: tempfile::tempdir().map_err(harness("pasta temporária"))?,
            saved_fingerprint: std::sync::Mutex::new(None),
        };
        Ok((
            Setup {
                sut,
                stop,
                _pki: temporary,
                _counterpart_dir: counterpart_dir,
                _sut_state: sut_state,
            },
            harness,
        ))
    }

    pub(crate) async fn shutdown(self) {
        if let Some(sut) = self.sut {
            sut.stop().await;
        }
        let _ = self.stop.send(());
    }
}

/// The PKI in `dir`, generated (CA, server, platform, every fixture organisation) unless a
/// manifest is already there: an external SUT is configured once with these files.
///
/// # Errors
/// Key generation or writing the files.
pub fn ensure_pki(dir: &std::path::Path) -> Result<(), HarnessError> {
    if !dir.join("manifest.json").exists() {
        let orgs = pen_simulator::pki::fixture_organisations().map_err(harness("organizações"))?;
        pen_simulator::pki::generate(dir, &orgs, &pen_simulator::pki::GenerateOptions::default())
            .map_err(harness("gerando a PKI"))?;
    }
    Ok(())
}

/// Prints what to configure in an external SUT.
pub fn print_configuration(
    pki: &std::path::Path,
    base_url: &str,
    config: &crate::target::TargetConfig,
) {
    let org = &config.sut.organisation;
    println!(
        "Configure o sistema sob teste ({}) como para a plataforma real:",
        config.name
    );
    println!("  URL do barramento (REST v3): {base_url}");
    println!(
        "  pendências (long poll):      {}",
        base_url.replace("rest/v3/", "pendencias/")
    );
    println!(
        "  CA a confiar:                {}",
        pki.join("ca.pem").display()
    );
    println!(
        "  certificado + chave (PEM):   {}",
        pki.join(format!("orgs/{org}/identity.pem")).display()
    );
    println!(
        "  PKCS#12 (senha pen-local):   {}",
        pki.join(format!("orgs/{org}/identity.p12")).display()
    );
    println!("  unidade do SUT:              {}", config.sut.unidade);
    println!(
        "  unidade da contraparte:      {}/{}",
        COUNTERPART_UNIT.0, COUNTERPART_UNIT.1
    );
}

async fn run_scenario(harness: Arc<Harness>, scenario: Scenario) -> ScenarioResult {
    let started = Instant::now();
    let base = ScenarioResult {
        id: scenario.id.clone(),
        title: scenario.title.clone(),
        family: scenario.family.clone(),
        side: scenario.side,
        spec: scenario.spec.clone(),
        verdict: Verdict::Pass,
        duration_ms: 0,
        steps: Vec::new(),
    };
    let skip = skip_reason(&harness, &scenario);
    let (verdict, steps) = if let Some(reason) = skip {
        (Verdict::Skipped { reason }, Vec::new())
    } else {
        // Own task (a panic is an error verdict) and an overall limit (a hang is one too).
        let limit = harness.deadline(&scenario)
            * u32::try_from(scenario.steps.len() + 2).unwrap_or(u32::MAX);
        let task = tokio::spawn(execute(harness.clone(), scenario.clone()));
        match tokio::time::timeout(limit, task).await {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(join)) => (
                Verdict::Error {
                    step: None,
                    message: format!("o harness falhou: {join}"),
                },
                Vec::new(),
            ),
            Err(_) => (
                Verdict::Error {
                    step: None,
                    message: format!("o cenário não terminou em {} s", limit.as_secs()),
                },
                Vec::new(),
            ),
        }
    };
    let _ = harness
        .control
        .call(reqwest::Method::DELETE, "faults", None)
        .await;
    // A scenario that unregistered the SUT's certificate and stopped early gives it back.
    let saved = lock_saved(&harness.saved_fingerprint).take();
    if let Some(fingerprint) = saved {
        restore_fingerprint(&harness, fingerprint).await;
    }
    ScenarioResult {
        verdict,
        steps,
        duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        ..base
    }
}

async fn restore_fingerprint(harness: &Harness, fingerprint: String) {
    let Ok(spes) = harness.control.get("spes").await else {
        return;
    };
    let found = spes
        .as_array()
        .and_then(|all| {
            all.iter()
                .find(|x| x["id"] == harness.sut.organisation.as_str())
        })
        .cloned();
    if let Some(mut spe) = found {
        spe["sha1_fingerprint"] = Value::String(fingerprint);
        let _ = harness
            .control
            .call(reqwest::Method::POST, "spes", Some(spe))
            .await;
    }
}

fn skip_reason(harness: &Harness, scenario: &Scenario) -> Option<String> {
    let needs = scenario.needs();
    if needs.contains("gatilho") && !harness.trigger.available() {
        return Some("o alvo não tem gatilho ([trigger] em target.toml): cenários em que o SUT envia precisam de um".to_owned());
    }
    if needs.contains("limite de tamanho declarado") && harness.sut.max_document_mb.is_none() {
        return Some("o alvo não declara um limite de tamanho (sut.max_document_mb)".to_owned());
    }
    if needs.contains("espécie não mapeada declarada") && harness.sut.unmapped_especie.is_none() {
        return Some(
            "o alvo não declara uma espécie não mapeada (sut.unmapped_especie)".to_owned(),
        );
    }
    None
}

async fn execute(harness: Arc<Harness>, scenario: Scenario) -> (Verdict, Vec<StepLog>) {
    let mut named: HashMap<String, Named> = HashMap::new();
    let mut logs = Vec::new();
    let _ = harness
        .control
        .call(reqwest::Method::DELETE, "faults", None)
        .await;
    for step in &scenario.steps {
        let started = Instant::now();
        let mark = match harness.control.last_seq().await {
            Ok(seq) => seq,
            Err(e) => {
                return (
                    Verdict::Error {
                        step: Some(step.describe()),
                        message: e,
                    },
                    logs,
                )
            }
        };
        let deadline = Instant::now() + harness.deadline(&scenario);
        let ctx = StepCtx {
            h: &harness,
            scenario: &scenario,
            mark,
            deadline,
        };
        let outcome = ctx.run(step, &mut named).await;
        logs.push(StepLog {
            description: step.describe(),
            ok: outcome.is_ok(),
            duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        });
        match outcome {
            Ok(()) => {}
            Err(StepError::Fail {
                expected,
                observed,
                evidence,
                hint,
            }) => {
                return (
                    Verdict::Fail {
                        step: step.describe(),
                        expected,
                        observed,
                        evidence,
                        hint,
                    },
                    logs,
                )
            }
            Err(StepError::Skip(reason)) => return (Verdict::Skipped { reason }, logs),
            Err(StepError::Harness(message)) => {
                return (
                    Verdict::Error {
                        step: Some(step.describe()),
                        message,
                    },
                    logs,
                )
            }
        }
    }
    (Verdict::Pass, logs)
}

struct StepCtx<'a> {
    h: &'a Harness,
    scenario: &'a Scenario,
    mark: u64,
    deadline: Instant,
}

fn get<'n>(named: &'n HashMap<String, Named>, name: &str) -> Result<&'n Named, StepError> {
    named
        .get(name)
        .ok_or_else(|| StepError::Harness(format!("trâmite \"{name}\" não foi criado")))
}

const HINT_NRE: &str = "rest-v3.md §5.1: o NRE é emitido no primeiro trâmite de um processo e deve voltar em cabecalho.NRE em todos os trâmites seguintes; sem ele a plataforma emite outro NRE e o destinatário, que já tem o NUP, recusa: \"Um processo com o número de protocolo … já existe no sistema de destino\" (o caso do artigo de suporte \"Número do Processo NUP já se encontra cadastrado\").";

const HINT_0044: &str = "rest-v3.md §3.2 (0044), §6.1 passo 4: um NRE só tem um trâmite em andamento; antes de reenviar, o sistema consulta tramites?NRE= e cancela o trâmite parado em 1, e o trâmite anterior precisa estar concluído (recibo obtido, 6).";
const HINT_0047: &str = "rest-v3.md §3.2 (0047); model-receipts-soap.md §2.7: um documento já enviado com este NRE deve ser reenviado com os mesmos bytes (o mesmo hash).";

/// A request the platform answered with success. A call that failed (the platform busy, a
/// component not readable yet) and was made again is a retry, not work done twice.
fn accepted(entry: &Value) -> bool {
    entry["status"].as_u64().is_some_and(|s| s < 300)
}

/// Part requests (`…/partes/{inicio}-{fim}`) among journal entries: how many, and the largest.
fn part_ranges(entries: &[Value]) -> (usize, u64) {
    entries
        .iter()
        .filter_map(|e| {
            let path = e["path"].as_str()?;
            let (_, range) = path.split_once("/partes/")?;
            range.parse::<pen_protocol::ranges::PartRange>().ok()
        })
        .fold((0, 0), |(n, largest), r| (n + 1, largest.max(r.len())))
}

fn situacao_name(code: u8) -> String {
    Situacao::ALL
        .into_iter()
        .find(|s| s.code() == code)
        .map_or_else(|| code.to_string(), |s| format!("{code} ({s:?})"))
}

impl StepCtx<'_> {
    async fn fail(
        &self,
        idt: Option<Idt>,
        expected: impl Into<String>,
        observed: impl Into<String>,
        hint: impl Into<String>,
    ) -> StepError {
        StepError::Fail {
            expected: expected.into(),
            observed: observed.into(),
            evidence: self.h.evidence(idt, self.mark.saturating_sub(200)).await,
            hint: hint.into(),
        }
    }

    async fn sut_requests(
        &self,
        idt: Option<Idt>,
        path_contains: &str,
    ) -> Result<Vec<Value>, StepError> {
        let sut = &self.h.sut.organisation;
        let all = self
            .h
            .control
            .entries(&format!("kind=request&spe={sut}"))
            .await
            .map_err(StepError::Harness)?;
        Ok(all
            .into_iter()
            .filter(|e| {
                let path = e["path"].as_str().unwrap_or_default();
                path.contains(path_contains)
                    && idt.is_none_or(|i| {
                        path.contains(&format!("tramites/{i}/"))
                            || path.ends_with(&format!("tramites/{i}"))
                    })
            })
            .collect())
    }

    /// Parts never larger than the block the SUT declared.
    async fn within_block(&self, idt: Idt, largest: u64) -> StepResult {
        let block = self.h.sut.block_bytes;
        if largest <= block {
            return Ok(());
        }
        Err(self
            .fail(
                Some(idt),
                format!("partes de no máximo {block} bytes (o bloco declarado)"),
                format!("uma parte de {largest} bytes"),
                "model-receipts-soap.md §2.5",
            )
            .await)
    }

    /// Asks the SUT to send a sample (under a fresh protocolo, or `protocolo`), returning the
    /// protocolo. What the trigger answers does not matter: the wire does.
    async fn sut_send(
        &self,
        fixture: &str,
        anexo: Option<Size>,
        protocolo: Option<&str>,
    ) -> Result<String, StepError> {
        let h = self.h;
        let mut sample = h.sample(fixture, anexo, &[])?;
        if let Some(p) = protocolo {
            sample = sample.with_protocolo(p);
        }
        let protocolo = sample.envelope.protocolo().unwrap_or_default().to_owned();
        let pasta = if matches!(h.trigger, Trigger::Builtin(_)) {
            None
        } else {
            Some(h.materialise(&sample)?)
        };
        let request = TriggerRequest {
            acao: "enviar",
            cenario: self.scenario.id.clone(),
            fixture: Some(fixture.to_owned()),
            destino: format!("{}/{}", COUNTERPART_UNIT.0, COUNTERPART_UNIT.1),
            nup: protocolo.clone(),
            pasta,
            anexo_bytes: match anexo {
                Some(s) => Some(h.resolve_size(s)?),
                None => None,
            },
        };
        let _ = h.trigger.fire(&request).await.map_err(StepError::Harness)?;
        Ok(protocolo)
    }

    #[allow(clippy::too_many_lines)]
    async fn run(&self, step: &Step, named: &mut HashMap<String, Named>) -> StepResult {
        let h = self.h;
        match step {
            Step::CounterpartSends {
                fixture,
                name,
                anexo,
                alter,
                urgente,
            } => {
                let sample = h.sample(fixture, *anexo, alter)?;
                let protocolo = sample.envelope.protocolo().unwrap_or_default().to_owned();
                let (idt, nre) = if *urgente {
                    let Envelope::Processo(processo) = sample.envelope.clone() else {
                        return Err(StepError::Harness("urgência só em processos".to_owned()));
                    };
                    let envio = EnvioDeProcesso {
                        cabecalho: CabecalhoDeProcesso {
                            remetente: Some(h.counterpart_unit.clone()),
                            destinatario: Some(h.sut.unidade.clone()),
                            urgente: Some(true),
                            motivo_da_urgencia: Some(MotivoDaUrgencia::Codigo(1)),
                            enviar_apenas_componentes_digitais_pendentes: Some(true),
                            ..CabecalhoDeProcesso::default()
                        },
                        processo,
                    };
                    let options = TransferOptions {
                        block: REFERENCE_BLOCK,
                        whole_below: REFERENCE_BLOCK,
                    };
                    let sent =
                        flows::send_process(&h.counterpart_client, &envio, &sample.source, options)
                            .await
                            .map_err(harness_err("envio da contraparte"))?;
                    (sent.created.idt, sent.created.nre)
                } else {
                    let report = h
                        .counterpart
                        .send_sample(sample, h.sut.unidade.clone())
                        .await
                        .map_err(harness_err("envio da contraparte"))?;
                    let idt = *report
                        .idts
                        .first()
                        .ok_or_else(|| StepError::Harness("nenhum trâmite criado".to_owned()))?;
                    (idt, report.nre)
                };
                named.insert(
                    name.clone(),
                    Named {
                        idt,
                        nre,
                        protocolo,
                    },
                );
                Ok(())
            }
            Step::CounterpartInjects {
                fixture,
                name,
                alter,
            } => {
                let sample = h.sample(fixture, None, alter)?;
                let protocolo = sample.envelope.protocolo().unwrap_or_default().to_owned();
                let Envelope::Processo(processo) = &sample.envelope else {
                    return Err(StepError::Harness("injeção só de processos".to_owned()));
                };
                let componentes: serde_json::Map<String, Value> = sample
                    .source
                    .files
                    .0
                    .iter()
                    .map(|(hash, bytes)| (hash.clone(), Value::String(STANDARD.encode(bytes))))
                    .collect();
                let created = h
                    .control
                    .call(
                        reqwest::Method::POST,
                        "inject",
                        Some(json!({
                            "as": COUNTERPART_ORG,
                            "processo": {
                                "cabecalho": {"remetente": h.counterpart_unit, "destinatario": h.sut.unidade},
                                "processo": processo,
                            },
                            "componentes": componentes,
                        })),
                    )
                    .await
                    .map_err(StepError::Harness)?;
                let created: TramiteDeProcessoCriado =
                    serde_json::from_value(created).map_err(harness_err("injeção"))?;
                named.insert(
                    name.clone(),
                    Named {
                        idt: created.idt,
                        nre: created.nre,
                        protocolo,
                    },
                );
                Ok(())
            }
            Step::SutReacts {
                tramite,
                reaction,
                motivo,
            } => {
                let t = get(named, tramite)?.clone();
                let conclude = match reaction {
                    Reaction::Conclude => true,
                    Reaction::Refuse => false,
                    Reaction::PerUnsignedPolicy => h.sut.accepts_unsigned,
                };
                let reached = h
                    .wait_situacao(t.idt, &[5, 6], &[7, 8, 9, 10], self.mark, self.deadline)
                    .await?;
                let (m, j) = h.refusal_of(t.idt).await;
                let refusal_text = || {
                    format!(
                        "recusou com motivo {} e justificativa \"{}\"",
                        m.map_or_else(|| "?".to_owned(), |m| m.code().to_owned()),
                        j.clone().unwrap_or_default()
                    )
                };
                match (conclude, reached) {
                    (true, Some(5 | 6)) => Ok(()),
                    (false, Some(8 | 9)) => match motivo {
                        Some(want) if m.map(MotivoRecusa::code) != Some(want.as_str()) => Err(self
                            .fail(
                                Some(t.idt),
                                format!("recusa com motivo {want}"),
                                refusal_text(),
                                self.scenario.spec.clone(),
                            )
                            .await),
                        _ => Ok(()),
                    },
                    (true, Some(8 | 9)) => Err(self
                        .fail(
                            Some(t.idt),
                            "receber e assinar o recibo de conclusão (situação 5)",
                            refusal_text(),
                            format!("{}: {}", self.scenario.spec, self.scenario.expectation),
                        )
                        .await),
                    (false, Some(5 | 6)) => Err(self
                        .fail(
                            Some(t.idt),
                            format!(
                                "recusar{}",
                                motivo
                                    .as_ref()
                                    .map(|m| format!(" com motivo {m}"))
                                    .unwrap_or_default()
                            ),
                            "recebeu e assinou o recibo de conclusão (situação 5)",
                            format!("{}: {}", self.scenario.spec, self.scenario.expectation),
                        )
                        .await),
                    (_, other) => {
                        let now = h
                            .situacao(t.idt)
                            .await
                            .map_or_else(|| "?".to_owned(), situacao_name);
                        Err(self
                            .fail(
                                Some(t.idt),
                                if conclude { "concluir (situação 5)".to_owned() } else { "recusar (situação 8)".to_owned() },
                                match other {
                                    Some(code) => format!("o trâmite terminou em {}", situacao_name(code)),
                                    None => format!("nada em {} s: o trâmite ficou em {now} (sem descarte silencioso nem repetição sem fim)", h.deadline(self.scenario).as_secs()),
                                },
                                format!("{}: {}", self.scenario.spec, self.scenario.expectation),
                            )
                            .await)
                    }
                }
            }
            Step::ReceiptIsValid { tramite } => {
                let t = get(named, tramite)?.clone();
                let inspected = h.inspect(t.idt).await?;
                let recibo = match h.counterpart_client.receipt(t.idt).await {
                    Ok(r) => r,
                    Err(e) => {
                        return Err(self
                            .fail(
                                Some(t.idt),
                                "um recibo de conclusão legível",
                                format!("a plataforma não o entrega: {e}"),
                                "rest-v3.md §7.1",
                            )
                            .await)
                    }
                };
                if let Err(e) = flows::verify_conclusion_receipt(&recibo) {
                    return Err(self
                        .fail(Some(t.idt), "assinatura do recibo verificável com o certificado do SUT", e.to_string(), "rest-v3.md §7.1; model-receipts-soap.md §3.6 (RSA PKCS#1 v1.5 SHA-256 sobre o texto canônico)")
                        .await);
                }
                let mut listed = recibo.recibo.hashes_dos_componentes_digitais.clone();
                let mut downloaded: Vec<String> = inspected["downloaded"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|v| v.as_str().map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default();
                listed.sort();
                downloaded.sort();
                if listed != downloaded {
                    return Err(self
                        .fail(Some(t.idt), format!("o recibo lista exatamente os componentes baixados: {downloaded:?}"), format!("lista {listed:?}"), "model-receipts-soap.md §3.4: os hashes do recibo são os componentes recebidos neste trâmite")
                        .await);
                }
                Ok(())
            }
            Step::DownloadedInParts { tramite } => {
                let t = get(named, tramite)?.clone();
                let downloads = self
                    .sut_requests(Some(t.idt), "componentes-digitais")
                    .await?;
                let whole = downloads
                    .iter()
                    .filter(|e| !e["path"].as_str().unwrap_or_default().contains("/partes/"))
                    .count();
                let (parts, largest) = part_ranges(&downloads);
                if parts < 2 || whole > 0 {
                    return Err(self
                        .fail(Some(t.idt), "o componente grande baixado em partes (POST …/componentes-digitais/partes/{inicio}-{fim})", format!("{parts} parte(s), {whole} download(s) inteiro(s)"), "model-receipts-soap.md §2.5: o módulo baixa em blocos de TamanhoBlocoArquivoTransferencia")
                        .await);
                }
                self.within_block(t.idt, largest).await
            }
            Step::DownloadedOnlyPending { tramite } => {
                let t = get(named, tramite)?.clone();
                let inspected = h.inspect(t.idt).await?;
                let pending = inspected["tramite"]["hashDosComponentesPendentesDeRecebimento"]
                    .as_array()
                    .map_or(0, Vec::len);
                let downloads = self
                    .sut_requests(Some(t.idt), "componentes-digitais")
                    .await?;
                let starts = downloads
                    .iter()
                    .filter(|e| accepted(e))
                    .filter(|e| {
                        let path = e["path"].as_str().unwrap_or_default();
                        !path.contains("/partes/")
                            || path.ends_with("/partes/0")
                            || path.contains("/partes/0-")
                    })
                    .count();
                if starts != pending {
                    return Err(self
                        .fail(Some(t.idt), format!("baixar só os {pending} componente(s) que lhe faltam"), format!("{starts} download(s) de componentes"), "rest-v3.md §5.1, §6.2: num processo que volta, a plataforma lista como pendentes só os componentes que o destinatário não tem")
                        .await);
                }
                Ok(())
            }
            Step::HandledOnce { tramite } => {
                let t = get(named, tramite)?.clone();
                let recibos = self.sut_requests(Some(t.idt), "/recibo").await?;
                let posted: Vec<&Value> = recibos
                    .iter()
                    .filter(|e| {
                        e["method"] == "POST"
                            && accepted(e)
                            && !e["path"]
                                .as_str()
                                .unwrap_or_default()
                                .ends_with("recibo-de-envio")
                    })
                    .collect();
                let recusas: Vec<Value> = self
                    .sut_requests(Some(t.idt), "/recusa")
                    .await?
                    .into_iter()
                    .filter(accepted)
                    .collect();
                if posted.len() + recusas.len() != 1 {
                    return Err(self
                        .fail(Some(t.idt), "uma única conclusão aceita (um POST recibo ou um POST recusa)", format!("{} POST recibo, {} POST recusa", posted.len(), recusas.len()), "rest-v3.md §2.5: a mesma pendência aparece até o trâmite mudar de situação; tratá-la de novo não pode criar outro processo")
                        .await);
                }
                Ok(())
            }
            Step::SutSends {
                fixture,
                name,
                anexo,
                again,
            } => {
                let earlier = match again {
                    Some(n) => Some(get(named, n)?.clone()),
                    None => None,
                };
                let protocolo = self
                    .sut_send(
                        fixture,
                        *anexo,
                        earlier.as_ref().map(|e| e.protocolo.as_str()),
                    )
                    .await?;
                match h
                    .sut_tramite(&protocolo, earlier.map(|e| e.idt), self.mark, self.deadline)
                    .await?
                {
                    Some(t) => {
                        named.insert(name.clone(), t);
                        Ok(())
                    }
                    None => Err(self
                        .fail(None, format!("o processo {protocolo} enviado à contraparte (trâmite com componentes enviados, situação 2)"), "nenhum trâmite do SUT com esse protocolo", "rest-v3.md §6.1")
                        .await),
                }
            }
            Step::SutSendFails { fixture, name } => {
                let protocolo = self.sut_send(fixture, None, None).await?;
                let sut = &h.sut.organisation;
                let opened = h
                    .control
                    .wait(
                        &format!("kind=state_change&to=1&spe={sut}"),
                        self.mark,
                        self.deadline,
                    )
                    .await
                    .map_err(StepError::Harness)?;
                let Some(idt) = opened.and_then(|e| e["idt"].as_u64()).map(Idt) else {
                    return Err(self
                        .fail(
                            None,
                            format!("o SUT abre o trâmite de {protocolo}"),
                            "nenhum trâmite aberto",
                            "rest-v3.md §6.1",
                        )
                        .await);
                };
                let inspected = h.inspect(idt).await?;
                let nre = serde_json::from_value(inspected["tramite"]["NRE"].clone())
                    .map_err(harness_err("NRE"))?;
                named.insert(
                    name.clone(),
                    Named {
                        idt,
                        nre,
                        protocolo,
                    },
                );
                Ok(())
            }
            Step::SutCertificateRegistered { registered } => {
                let spes = h.control.get("spes").await.map_err(StepError::Harness)?;
                let mut spe = spes
                    .as_array()
                    .and_then(|all| all.iter().find(|x| x["id"] == h.sut.organisation.as_str()))
                    .cloned()
                    .ok_or_else(|| {
                        StepError::Harness(format!("SPE {} não registrado", h.sut.organisation))
                    })?;
                {
                    let mut saved = lock_saved(&h.saved_fingerprint);
                    if *registered {
                        if let Some(original) = saved.take() {
                            spe["sha1_fingerprint"] = Value::String(original);
                        }
                    } else {
                        *saved = spe["sha1_fingerprint"].as_str().map(str::to_owned);
                        // Another certificate's fingerprint: the SUT's own is no one's.
                        spe["sha1_fingerprint"] = Value::String("00".repeat(20));
                    }
                }
                h.control
                    .call(reqwest::Method::POST, "spes", Some(spe))
                    .await
                    .map(|_| ())
                    .map_err(StepError::Harness)
            }
            Step::SutRejected => {
                let rejected = h
                    .control
                    .wait("kind=request&error_code=9001", self.mark, self.deadline)
                    .await
                    .map_err(StepError::Harness)?;
                if rejected.is_some() {
                    Ok(())
                } else {
                    Err(self
                        .fail(
                            None,
                            "o SUT volta a chamar a plataforma e recebe 9001",
                            "nenhuma chamada do SUT no prazo",
                            "rest-v3.md §1.3",
                        )
                        .await)
                }
            }
            Step::SutRefusesToSend { fixture } => {
                self.sut_send(fixture, None, None).await?;
                let opened: Vec<Value> = self
                    .sut_requests(None, "tramites/")
                    .await?
                    .into_iter()
                    .filter(|e| {
                        e["seq"].as_u64().unwrap_or(0) > self.mark
                            && e["method"] == "POST"
                            && e["path"].as_str().is_some_and(|p| {
                                p.ends_with("tramites/processo")
                                    || p.ends_with("tramites/documento")
                            })
                    })
                    .collect();
                if opened.is_empty() {
                    Ok(())
                } else {
                    Err(StepError::Fail {
                        expected: format!("o SUT não envia {fixture}: suas próprias regras barram o envio antes da plataforma"),
                        observed: format!("{} POST de abertura de trâmite chegaram à plataforma", opened.len()),
                        evidence: opened.iter().map(evidence_line).collect(),
                        hint: format!("{}: {}", self.scenario.spec, self.scenario.expectation),
                    })
                }
            }
            Step::SutReturns { tramite, name } => {
                let t = get(named, tramite)?.clone();
                let request = TriggerRequest {
                    acao: "devolver",
                    cenario: self.scenario.id.clone(),
                    fixture: None,
                    destino: format!("{}/{}", COUNTERPART_UNIT.0, COUNTERPART_UNIT.1),
                    nup: t.protocolo.clone(),
                    pasta: None,
                    anexo_bytes: None,
                };
                let said = h.trigger.fire(&request).await.map_err(StepError::Harness)?;
                let found = match (&said, &h.trigger) {
                    // The reference agent answers once it is done: declined means nothing comes.
                    (TriggerOutcome::Declined(_), Trigger::Builtin(_)) => None,
                    _ => {
                        h.sut_tramite(&t.protocolo, Some(t.idt), self.mark, self.deadline)
                            .await?
                    }
                };
                match found {
                    Some(back) if back.idt != t.idt => {
                        named.insert(name.clone(), back);
                        Ok(())
                    }
                    _ => {
                        let refused = self
                            .sut_requests(None, "tramites/processo")
                            .await?
                            .into_iter()
                            .filter(|e| e["seq"].as_u64().unwrap_or(0) > self.mark)
                            .map(|e| evidence_line(&e))
                            .collect::<Vec<_>>();
                        let hint = if refused.iter().any(|l| l.contains("codigoErro 0044")) {
                            HINT_0044
                        } else if refused.iter().any(|l| l.contains("codigoErro 0047")) {
                            HINT_0047
                        } else {
                            HINT_NRE
                        };
                        Err(StepError::Fail {
                            expected: format!("o processo {} devolvido à contraparte", t.protocolo),
                            observed: match said {
                                TriggerOutcome::Declined(reason) => {
                                    format!("o SUT não devolveu: {reason}")
                                }
                                TriggerOutcome::Done if refused.is_empty() => {
                                    "nenhum trâmite aberto".to_owned()
                                }
                                TriggerOutcome::Done => {
                                    "a plataforma recusou a abertura".to_owned()
                                }
                            },
                            evidence: refused,
                            hint: hint.to_owned(),
                        })
                    }
                }
            }
            Step::SameNre { tramite, as_in } => {
                let (a, b) = (get(named, tramite)?, get(named, as_in)?);
                if a.nre == b.nre {
                    Ok(())
                } else {
                    Err(self
                        .fail(Some(a.idt), format!("o trâmite {} com o NRE {} do processo", a.idt, b.nre), format!("NRE {}: o SUT não enviou cabecalho.NRE e a plataforma emitiu outro", a.nre), HINT_NRE)
                        .await)
                }
            }
            Step::UploadedInParts { tramite } => {
                let t = get(named, tramite)?.clone();
                let inspected = h.inspect(t.idt).await?;
                let ticket = inspected["ticket"].as_u64().unwrap_or(0);
                let uploads = self
                    .sut_requests(None, &format!("tickets-de-envio-de-componente/{ticket}/"))
                    .await?;
                let (parts, largest) = part_ranges(&uploads);
                let signalled = uploads.iter().any(|e| {
                    e["path"]
                        .as_str()
                        .unwrap_or_default()
                        .ends_with("sinalizacao-termino-envio")
                });
                if parts < 2 || !signalled {
                    return Err(self
                        .fail(Some(t.idt), "o componente grande enviado em partes (PUT …/partes/{inicio}-{fim}) e o sinal de término", format!("{parts} parte(s), sinal de término {}", if signalled { "enviado" } else { "ausente" }), "model-receipts-soap.md §2.5: acima do bloco, o envio é em partes seguidas de sinalizacao-termino-envio")
                        .await);
                }
                self.within_block(t.idt, largest).await
            }
            Step::FetchedSendingReceipt { tramite } => {
                let t = get(named, tramite)?.clone();
                let fetched = self.sut_requests(Some(t.idt), "recibo-de-envio").await?;
                if fetched.iter().any(|e| e["status"] == 200) {
                    Ok(())
                } else {
                    Err(self
                        .fail(Some(t.idt), "GET tramites/{IDT}/recibo-de-envio depois do envio, para verificar a assinatura da plataforma", "o SUT não obteve o recibo de envio", "rest-v3.md §6.1 passo 7; §7.2")
                        .await)
                }
            }
            Step::CounterpartReceives { tramite } => {
                let t = get(named, tramite)?.clone();
                let status = h.situacao(t.idt).await.unwrap_or(2);
                let status = Situacao::ALL
                    .into_iter()
                    .find(|s| s.code() == status)
                    .unwrap_or(Situacao::ComponentesEnviadosRemetente);
                let _ = h.counterpart.handle(Pendencia { idt: t.idt, status }).await;
                let outcome =
                    h.counterpart
                        .activity(0)
                        .into_iter()
                        .rev()
                        .find_map(|l| match l.event {
                            Event::Received { idt, .. } if idt == t.idt => Some(Ok(())),
                            Event::Refused {
                                idt,
                                justificativa,
                                motivo,
                                ..
                            } if idt == t.idt => Some(Err((motivo, justificativa))),
                            _ => None,
                        });
                match outcome {
                    Some(Ok(())) => Ok(()),
                    Some(Err((motivo, justificativa))) => {
                        let hint = match Refusal::recognise(&justificativa) {
                            Some(RefusalKind::ProtocoloJaExiste) => HINT_NRE.to_owned(),
                            Some(RefusalKind::HashNaoConfere) => "model-receipts-soap.md §2.7: o hash declarado é o SHA-256 dos bytes enviados; reenvios devem ser idênticos".to_owned(),
                            _ => format!("{}: {}", self.scenario.spec, self.scenario.expectation),
                        };
                        Err(self
                            .fail(Some(t.idt), "um trâmite que a contraparte, um sistema correto, aceita", format!("a contraparte recusou com motivo {motivo}: \"{justificativa}\""), hint)
                            .await)
                    }
                    None => Err(StepError::Harness(format!(
                        "a contraparte não tratou o trâmite {}: {:?}",
                        t.idt,
                        h.counterpart.activity(0).last()
                    ))),
                }
            }
            Step::CounterpartRefuses { tramite, motivo } => {
                let t = get(named, tramite)?.clone();
                let motivo = MotivoRecusa::from_code(motivo)
                    .ok_or_else(|| StepError::Harness(format!("motivo inválido {motivo}")))?;
                let _ = h.counterpart_client.metadata(t.idt).await;
                h.counterpart_client
                    .refuse(
                        t.idt,
                        &Recusa {
                            justificativa: format!(
                                "Recusa do cenário {} (conformidade).",
                                self.scenario.id
                            ),
                            motivo,
                        },
                    )
                    .await
                    .map_err(harness_err("recusa da contraparte"))
            }
            Step::CounterpartReturns { tramite, name } => {
                let t = get(named, tramite)?.clone();
                let report = h
                    .counterpart
                    .return_process(&agent::ReturnRequest {
                        nup: t.protocolo.clone(),
                        destino: Some(format!(
                            "{}/{}",
                            h.sut.unidade.identificacao_do_repositorio_de_estruturas,
                            h.sut.unidade.numero_de_identificacao_da_estrutura
                        )),
                        despacho: Some(format!("Devolvido no cenário {}.", self.scenario.id)),
                    })
                    .await
                    .map_err(harness_err("devolução da contraparte"))?;
                let idt = *report
                    .idts
                    .first()
                    .ok_or_else(|| StepError::Harness("nenhum trâmite criado".to_owned()))?;
                named.insert(
                    name.clone(),
                    Named {
                        idt,
                        nre: report.nre,
                        protocolo: t.protocolo,
                    },
                );
                Ok(())
            }
            Step::CounterpartCancels { tramite } => {
                let t = get(named, tramite)?.clone();
                h.counterpart_client
                    .cancel(t.idt)
                    .await
                    .map_err(harness_err("cancelamento"))
            }
            Step::SutFetchesReceipt { tramite } => {
                self.wait_for(
                    named,
                    tramite,
                    6,
                    &[7, 8, 9, 10],
                    "obter o recibo de conclusão (GET tramites/{IDT}/recibo, situação 6)",
                    "rest-v3.md §6.1 passo 9",
                )
                .await
            }
            Step::SutAcknowledges { tramite } => {
                self.wait_for(
                    named,
                    tramite,
                    9,
                    &[5, 6, 7, 10],
                    "dar ciência da recusa (GET tramites/{IDT}/ciencia, situação 9)",
                    "rest-v3.md §6.1 passo 10",
                )
                .await
            }
            Step::Situacao { tramite, is } => {
                self.wait_for(
                    named,
                    tramite,
                    *is,
                    &[],
                    &format!("o trâmite chega à situação {}", situacao_name(*is)),
                    &self.scenario.spec,
                )
                .await
            }
            Step::SutLeavesAlone { tramite } => {
                let t = get(named, tramite)?.clone();
                let acted: Vec<Value> = self
                    .sut_requests(Some(t.idt), "")
                    .await?
                    .into_iter()
                    .filter(|e| {
                        e["method"] == "POST" && e["status"].as_u64().is_some_and(|s| s < 300)
                    })
                    .collect();
                if acted.is_empty() {
                    Ok(())
                } else {
                    Err(StepError::Fail {
                        expected: "nenhuma ação do SUT sobre um trâmite cancelado".to_owned(),
                        observed: format!("{} POST aceitos", acted.len()),
                        evidence: acted.iter().map(evidence_line).collect(),
                        hint: format!("{}: {}", self.scenario.spec, self.scenario.expectation),
                    })
                }
            }
            Step::Fault { fault } => {
                let mut body = serde_json::to_value(fault).map_err(harness_err("falha"))?;
                if body.get("spe").is_none() {
                    body["spe"] = Value::String(h.sut.organisation.clone());
                }
                h.control
                    .call(reqwest::Method::POST, "faults", Some(body))
                    .await
                    .map(|_| ())
                    .map_err(StepError::Harness)
            }
            Step::ClearFaults => h
                .control
                .call(reqwest::Method::DELETE, "faults", None)
                .await
                .map(|_| ())
                .map_err(StepError::Harness),
            Step::AdvanceClock { days } => h
                .control
                .call(
                    reqwest::Method::POST,
                    "clock/advance",
                    Some(json!({"days": days})),
                )
                .await
                .map(|_| ())
                .map_err(StepError::Harness),
        }
    }

    async fn wait_for(
        &self,
        named: &HashMap<String, Named>,
        tramite: &str,
        code: u8,
        stops: &[u8],
        expected: &str,
        hint: &str,
    ) -> StepResult {
        let t = get(named, tramite)?.clone();
        match self
            .h
            .wait_situacao(t.idt, &[code], stops, self.mark, self.deadline)
            .await?
        {
            Some(c) if c == code => Ok(()),
            other => {
                let now = self
                    .h
                    .situacao(t.idt)
                    .await
                    .map_or_else(|| "?".to_owned(), situacao_name);
                Err(self
                    .fail(
                        Some(t.idt),
                        expected,
                        match other {
                            Some(c) => format!("o trâmite foi para {}", situacao_name(c)),
                            None => format!(
                                "nada em {} s: o trâmite ficou em {now}",
                                self.h.deadline(self.scenario).as_secs()
                            ),
                        },
                        hint,
                    )
                    .await)
            }
        }
    }
}

/// Runs the suite against every mutant of the reference agent: per mutant, the scenarios that
/// failed (caught it).
///
/// # Errors
/// As [`run`].
pub async fn mutants(
    seed: Option<u64>,
) -> Result<Vec<(Defect, Vec<String>, RunReport)>, HarnessError> {
    struct Quiet;
    impl Progress for Quiet {
        fn started(&self, _: &Scenario) {}
        fn finished(&self, _: &ScenarioResult) {}
    }
    // One PKI for all the runs: key generation is the slowest part of a run's setup.
    let pki = tempfile::tempdir().map_err(harness("pasta temporária"))?;
    let orgs = pen_simulator::pki::fixture_organisations().map_err(harness("organizações"))?;
    pen_simulator::pki::generate(
        pki.path(),
        &orgs,
        &pen_simulator::pki::GenerateOptions::default(),
    )
    .map_err(harness("gerando a PKI"))?;
    let mut out = Vec::new();
    for defect in Defect::ALL {
        let report = run(
            RunOptions {
                target: Target::Reference {
                    mutant: Some(defect),
                },
                only: Vec::new(),
                seed,
                pki_dir: Some(pki.path().to_path_buf()),
            },
            &Quiet,
        )
        .await?;
        let caught = report
            .results
            .iter()
            .filter(|r| matches!(r.verdict, Verdict::Fail { .. }))
            .map(|r| r.id.clone())
            .collect();
        out.push((defect, caught, report));
    }
    Ok(out)
}
