//! `pen-conformance load`: how many trâmites per second a system under test takes in.
//!
//! The harness sets up the same platform and SUT as `run` (on the system clock: the journal's
//! timestamps are the measurements), injects N trâmites towards the SUT's unit from one or more
//! counterpart organisations — in a closed loop with a concurrency bound, or at a fixed rate —
//! with a chosen mix (documents per process, component size, share of documentos avulsos, share
//! the SUT's policy should refuse), and reads from the journal, per trâmite, when the SUT read the
//! metadata (3), had every component (4) and signed the recibo (5), or refused (8). The time the
//! simulator spent answering the SUT's calls for each trâmite tells where time went.
//!
//! Bounded in count and in time; stops by itself; the simulator listens on loopback.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use pen_client::samples::{self, Envelope, Sample};
use pen_protocol::ids::Nup;
use pen_protocol::model::EstruturaOrganizacional;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::{Mutex, Semaphore};

use pen_protocol::api::{EnvioDeDocumento, EnvioDeProcesso};
use pen_protocol::model::{CabecalhoDeDocumento, CabecalhoDeProcesso};
use pen_simulator::control::Injection;
use pen_simulator::control_client::ControlClient;
use pen_simulator::journal::{Entry, Event, JournalQuery};

use crate::run::{HarnessError, RunOptions, Setup};
use crate::target::Target;

/// Counterpart organisations that can send, with their unit.
const SENDERS: [(&str, u64, &str); 2] = [("org-b", 1, "159098"), ("org-c", 5, "30682")];

/// Most trâmites one run may inject (the journal keeps the newest 100,000 entries, about ten
/// per trâmite).
pub const MAX_COUNT: usize = 8_000;

/// How trâmites are offered.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Pace {
    /// At most this many unfinished at a time (as fast as the SUT takes them).
    Closed { concurrency: usize },
    /// This many per second, whatever the SUT does.
    Rate { per_second: f64 },
}

/// What to inject.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadOptions {
    pub count: usize,
    pub pace: Pace,
    /// Documents per process (each with one component).
    pub documents: usize,
    pub component_bytes: u64,
    /// Share of documentos avulsos (0–1).
    pub avulso_share: f64,
    /// Share carrying the espécie the SUT declares it does not map (0–1): it should refuse them.
    pub refuse_share: f64,
    /// Counterpart organisations sending (1 or 2).
    pub senders: usize,
    /// The run stops after this long, finished or not.
    pub time_limit_secs: u64,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            count: 1000,
            pace: Pace::Closed { concurrency: 32 },
            documents: 1,
            component_bytes: 100_000,
            avulso_share: 0.0,
            refuse_share: 0.0,
            senders: 1,
            time_limit_secs: 120,
        }
    }
}

/// p50/p95/p99 and max, in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    pub count: usize,
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
    pub max: f64,
}

impl Percentiles {
    fn of(mut values: Vec<f64>) -> Self {
        if values.is_empty() {
            return Percentiles::default();
        }
        values.sort_by(f64::total_cmp);
        let at = |q: f64| {
            // Nearest rank.
            let rank = (q * values.len() as f64).ceil().max(1.0) as usize;
            values[rank.min(values.len()) - 1]
        };
        Percentiles {
            count: values.len(),
            p50: at(0.50),
            p95: at(0.95),
            p99: at(0.99),
            max: values[values.len() - 1],
        }
    }
}

/// Latencies from the end of the injection (situação 2).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Latencies {
    /// To the SUT's metadata read (3).
    pub metadata_ms: Percentiles,
    /// To every component downloaded (4).
    pub downloaded_ms: Percentiles,
    /// To the recibo de conclusão accepted (5).
    pub concluded_ms: Percentiles,
    /// To a refusal (8).
    pub refused_ms: Percentiles,
}

/// Where a trâmite's time went, medians in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Breakdown {
    /// Injection (2) to conclusion or refusal.
    pub end_to_end_ms: f64,
    /// Of which the simulator spent answering the SUT's calls for that trâmite.
    pub simulator_ms: f64,
    /// The rest: the SUT's own work, its queue and the network.
    pub sut_ms: f64,
    /// Simulator time over end-to-end time, summed over all trâmites.
    pub simulator_share: f64,
}

/// A load run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadReport {
    pub suite_version: String,
    pub target: String,
    pub seed: u64,
    pub started_at: String,
    pub options: LoadOptions,
    pub injected: usize,
    pub concluded: usize,
    pub refused: usize,
    /// Cancelled or still pending when the run ended.
    pub unfinished: usize,
    /// Injections the platform refused.
    pub injection_errors: usize,
    /// The SUT's calls answered with an error status.
    pub sut_errors: usize,
    pub duration_ms: u64,
    /// Finished (concluded or refused) per second over the whole run.
    pub throughput_per_s: f64,
    pub latencies: Latencies,
    pub breakdown: Breakdown,
    /// Finished trâmites per second of the run (index = second).
    pub timeline: Vec<usize>,
}

/// What the journal told about one trâmite.
#[derive(Debug, Default, Clone)]
struct Track {
    injected: Option<time::OffsetDateTime>,
    metadata: Option<time::OffsetDateTime>,
    downloaded: Option<time::OffsetDateTime>,
    concluded: Option<time::OffsetDateTime>,
    refused: Option<time::OffsetDateTime>,
    other_end: bool,
}

impl Track {
    fn finished(&self) -> bool {
        self.concluded.is_some() || self.refused.is_some() || self.other_end
    }
}

fn ms(from: time::OffsetDateTime, to: Option<time::OffsetDateTime>) -> Option<f64> {
    to.map(|t| (t - from).as_seconds_f64() * 1000.0)
}

/// A deterministic pick in [0, 1) for trâmite `i`.
fn unit_draw(seed: u64, i: usize, salt: u64) -> f64 {
    let mut z = seed ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ salt;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

/// One trâmite's injection body.
fn body(
    options: &LoadOptions,
    seed: u64,
    i: usize,
    to: &EstruturaOrganizacional,
    unmapped: Option<u32>,
) -> Result<Injection, HarnessError> {
    let sender = SENDERS[i % options.senders.clamp(1, SENDERS.len())];
    let from = EstruturaOrganizacional::new(sender.1, sender.2);
    let avulso = unit_draw(seed, i, 1) < options.avulso_share;
    let refuse = unit_draw(seed, i, 2) < options.refuse_share;
    let nup = Nup::new(
        20_000 + u32::try_from(seed % 70_000).unwrap_or(0),
        u32::try_from(i + 1).unwrap_or(u32::MAX),
        2026,
    )
    .to_string();
    let bad = |e: &dyn std::fmt::Display| HarnessError(format!("amostra de carga: {e}"));
    let name = if avulso {
        "documento-avulso"
    } else {
        "processo-simples"
    };
    let mut sample: Sample = samples::load(name)
        .map_err(|e| bad(&e))?
        .with_protocolo(&nup);
    let documents = if avulso { 1 } else { options.documents.max(1) };
    for k in 0..documents {
        sample = sample
            .with_large_attachment(options.component_bytes, seed ^ ((i as u64) << 8) ^ k as u64)
            .map_err(|e| bad(&e))?;
    }
    match &mut sample.envelope {
        Envelope::Processo(p) => {
            // Only the generated documents: N documents of the chosen size.
            p.documentos.remove(0);
            for (n, d) in p.documentos.iter_mut().enumerate() {
                d.ordem = Some(u32::try_from(n + 1).unwrap_or(u32::MAX));
                if refuse {
                    if let (Some(code), Some(e)) = (unmapped, d.especie.as_mut()) {
                        e.codigo = Some(code);
                    }
                }
            }
        }
        Envelope::Documento(d) => {
            d.componentes_digitais.remove(0);
            for (n, c) in d.componentes_digitais.iter_mut().enumerate() {
                c.ordem = Some(u32::try_from(n + 1).unwrap_or(u32::MAX));
            }
            if refuse {
                if let (Some(code), Some(e)) = (unmapped, d.especie.as_mut()) {
                    e.codigo = Some(code);
                }
            }
        }
    }
    let componentes = sample
        .source
        .generated
        .iter()
        .map(|(hash, large)| {
            (
                hash.clone(),
                STANDARD.encode(large.bytes_at(0..large.size())),
            )
        })
        .collect();
    let (processo, documento) = match sample.envelope {
        Envelope::Processo(p) => (
            Some(EnvioDeProcesso {
                cabecalho: CabecalhoDeProcesso {
                    remetente: Some(from),
                    destinatario: Some(to.clone()),
                    ..CabecalhoDeProcesso::default()
                },
                processo: p,
            }),
            None,
        ),
        Envelope::Documento(d) => (
            None,
            Some(EnvioDeDocumento {
                cabecalho: CabecalhoDeDocumento {
                    remetente: Some(from),
                    destinatarios: vec![to.clone()],
                    ..CabecalhoDeDocumento::default()
                },
                documento: d,
            }),
        ),
    };
    Ok(Injection {
        as_spe: sender.0.to_owned(),
        validate: false,
        processo,
        documento,
        componentes,
    })
}

/// The IDT(s) an injection created.
fn idts_of(created: &Value) -> Vec<u64> {
    if let Some(idt) = created["IDT"].as_u64() {
        return vec![idt];
    }
    created["tramites"]
        .as_array()
        .map(|all| all.iter().filter_map(|t| t["IDT"].as_u64()).collect())
        .unwrap_or_default()
}

/// Shared by the injector and the journal reader.
#[derive(Debug, Default)]
struct State {
    tracks: HashMap<u64, Track>,
    /// Permits of the closed loop, released when their trâmite finishes.
    permits: HashMap<u64, tokio::sync::OwnedSemaphorePermit>,
    injected: usize,
    injection_errors: usize,
    finished: usize,
}

/// Told as the run goes (a progress bar on a terminal).
pub trait LoadProgress: Send + Sync {
    fn injected(&self, n: usize);
    fn finished(&self, n: usize);
}

/// Runs a load.
///
/// # Errors
/// Setup failed, or a mix the target cannot serve (refusals without a declared unmapped
/// espécie).
#[allow(clippy::too_many_lines)]
pub async fn run(
    target: Target,
    options: LoadOptions,
    seed: Option<u64>,
    progress: &dyn LoadProgress,
) -> Result<LoadReport, HarnessError> {
    if options.count == 0 || options.count > MAX_COUNT {
        return Err(HarnessError(format!(
            "--count entre 1 e {MAX_COUNT} (o diário da plataforma guarda 100 000 entradas)"
        )));
    }
    let seed = seed.unwrap_or(1);
    let started_at = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let concurrency = match options.pace {
        Pace::Closed { concurrency } => concurrency.max(1),
        Pace::Rate { .. } => 64,
    };
    let run_options = RunOptions {
        seed: Some(seed),
        ..RunOptions::new(target.clone())
    };
    let (setup, harness) = Setup::start(&run_options, seed, Some(concurrency)).await?;
    let control = harness.control.clone();
    let sut = harness.sut.clone();
    if options.refuse_share > 0.0 && sut.unmapped_especie.is_none() {
        setup.shutdown().await;
        return Err(HarnessError(
            "--refuse-share precisa de sut.unmapped_especie declarado no alvo".to_owned(),
        ));
    }
    let mark = control
        .last_seq()
        .await
        .map_err(|e| HarnessError(e.to_string()))?;
    let state = Arc::new(Mutex::new(State::default()));
    let started = Instant::now();
    let deadline = started + Duration::from_secs(options.time_limit_secs.max(1));

    // The journal reader: state changes as they are recorded.
    let reader = {
        let (control, state) = (control.clone(), state.clone());
        let count = options.count;
        tokio::spawn(async move { read_journal(control, state, mark, count, deadline).await })
    };

    let semaphore = Arc::new(Semaphore::new(concurrency));
    let shared_options = Arc::new(options.clone());
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..options.count {
        if Instant::now() >= deadline {
            break;
        }
        let permit = match options.pace {
            Pace::Closed { .. } => {
                let acquire = semaphore.clone().acquire_owned();
                match tokio::time::timeout_at(deadline.into(), acquire).await {
                    Ok(Ok(p)) => Some(p),
                    _ => break,
                }
            }
            Pace::Rate { per_second } => {
                let at = started + Duration::from_secs_f64(i as f64 / per_second.max(0.001));
                tokio::time::sleep_until(at.into()).await;
                None
            }
        };
        let (injector, shared) = (control.clone(), state.clone());
        let (mix, to, unmapped) = (
            shared_options.clone(),
            sut.unidade.clone(),
            sut.unmapped_especie,
        );
        tasks.spawn(async move {
            // Built in the task: the generated bytes and their base64 are the loader's own
            // work, spread over the runtime's threads rather than serialised here.
            let created = match body(&mix, seed, i, &to, unmapped) {
                Ok(body) => injector.inject(&body).await.map_err(|e| e.to_string()),
                Err(e) => Err(e.0),
            };
            let mut s = shared.lock().await;
            match created {
                Ok(created) => {
                    let idts = idts_of(&created);
                    s.injected += idts.len();
                    if let (Some(p), Some(first)) = (permit, idts.first()) {
                        if s.tracks.get(first).is_some_and(Track::finished) {
                            drop(p);
                        } else {
                            s.permits.insert(*first, p);
                        }
                    }
                    for idt in idts {
                        s.tracks.entry(idt).or_default();
                    }
                }
                Err(_) => s.injection_errors += 1,
            }
        });
        while let Some(done) = tasks.try_join_next() {
            let _ = done;
        }
        progress.injected(i + 1);
        let finished = state.lock().await.finished;
        progress.finished(finished);
    }
    while tasks.join_next().await.is_some() {}
    // Wait for the reader (it stops when everything finished or at the deadline).
    loop {
        let (finished, injected) = {
            let s = state.lock().await;
            (s.finished, s.injected)
        };
        progress.finished(finished);
        if finished >= injected || Instant::now() >= deadline || reader.is_finished() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    reader.abort();
    let elapsed = started.elapsed();
    // A last read, so that nothing recorded before the end is missed.
    let _ = read_batch(&control, &state, mark).await;

    let requests = control
        .entries(&JournalQuery {
            kind: Some("request".to_owned()),
            spe: Some(sut.organisation.clone()),
            after: mark,
            ..JournalQuery::default()
        })
        .await
        .map_err(|e| HarnessError(e.to_string()))?;
    setup.shutdown().await;

    let s = state.lock().await;
    let mut simulator_time: HashMap<u64, f64> = HashMap::new();
    let mut sut_errors = 0;
    for r in &requests {
        let Event::Request {
            operation,
            status,
            duration_micros,
            ..
        } = &r.event
        else {
            continue;
        };
        if *status >= 400 {
            sut_errors += 1;
        }
        if let Some(idt) = operation.idt() {
            *simulator_time.entry(idt.0).or_default() += *duration_micros as f64 / 1000.0;
        }
    }
    let mut lat = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut e2e, mut sim, mut rest) = (Vec::new(), Vec::new(), Vec::new());
    let (mut concluded, mut refused, mut unfinished) = (0, 0, 0);
    let mut timeline = vec![0usize; usize::try_from(elapsed.as_secs()).unwrap_or(0) + 1];
    let run_start = time::OffsetDateTime::now_utc() - elapsed;
    for (idt, t) in &s.tracks {
        let Some(t0) = t.injected else {
            unfinished += 1;
            continue;
        };
        if let Some(v) = ms(t0, t.metadata) {
            lat.0.push(v);
        }
        if let Some(v) = ms(t0, t.downloaded) {
            lat.1.push(v);
        }
        let end = match (t.concluded, t.refused) {
            (Some(c), _) => {
                concluded += 1;
                lat.2.push(ms(t0, Some(c)).unwrap_or(0.0));
                Some(c)
            }
            (None, Some(r)) => {
                refused += 1;
                lat.3.push(ms(t0, Some(r)).unwrap_or(0.0));
                Some(r)
            }
            (None, None) => {
                unfinished += 1;
                None
            }
        };
        if let Some(end) = end {
            let total = ms(t0, Some(end)).unwrap_or(0.0);
            let in_sim = simulator_time.get(idt).copied().unwrap_or(0.0).min(total);
            e2e.push(total);
            sim.push(in_sim);
            rest.push(total - in_sim);
            let second = usize::try_from((end - run_start).whole_seconds().max(0)).unwrap_or(0);
            if let Some(slot) = timeline.get_mut(second) {
                *slot += 1;
            } else if let Some(last) = timeline.last_mut() {
                *last += 1;
            }
        }
    }
    let share = {
        let total: f64 = e2e.iter().sum();
        if total > 0.0 {
            sim.iter().sum::<f64>() / total
        } else {
            0.0
        }
    };
    let finished = concluded + refused;
    Ok(LoadReport {
        suite_version: crate::scenario::suite_version(),
        target: target.label(),
        seed,
        started_at,
        options,
        injected: s.injected,
        concluded,
        refused,
        unfinished,
        injection_errors: s.injection_errors,
        sut_errors,
        duration_ms: u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX),
        throughput_per_s: finished as f64 / elapsed.as_secs_f64().max(0.001),
        latencies: Latencies {
            metadata_ms: Percentiles::of(lat.0),
            downloaded_ms: Percentiles::of(lat.1),
            concluded_ms: Percentiles::of(lat.2),
            refused_ms: Percentiles::of(lat.3),
        },
        breakdown: Breakdown {
            end_to_end_ms: Percentiles::of(e2e).p50,
            simulator_ms: Percentiles::of(sim).p50,
            sut_ms: Percentiles::of(rest).p50,
            simulator_share: share,
        },
        timeline,
    })
}

/// Reads state changes until `count` trâmites finished or the deadline.
async fn read_journal(
    control: ControlClient,
    state: Arc<Mutex<State>>,
    mut after: u64,
    count: usize,
    deadline: Instant,
) {
    loop {
        if Instant::now() >= deadline {
            return;
        }
        // Block until something new, then take everything new at once.
        let waited = control
            .wait(
                &JournalQuery {
                    kind: Some("state_change".to_owned()),
                    after,
                    ..JournalQuery::default()
                },
                deadline
                    .saturating_duration_since(Instant::now())
                    .min(Duration::from_secs(1)),
            )
            .await;
        if waited.is_err() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        match read_batch(&control, &state, after).await {
            Ok(Some(last)) => after = last,
            Ok(None) => {}
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
        if state.lock().await.finished >= count {
            return;
        }
    }
}

/// Applies every state change after `after`; the last seq read.
async fn read_batch(
    control: &ControlClient,
    state: &Arc<Mutex<State>>,
    after: u64,
) -> Result<Option<u64>, String> {
    let entries: Vec<Entry> = control
        .entries(&JournalQuery {
            kind: Some("state_change".to_owned()),
            after,
            ..JournalQuery::default()
        })
        .await
        .map_err(|e| e.to_string())?;
    let Some(last) = entries.last().map(|e| e.seq) else {
        return Ok(None);
    };
    let mut s = state.lock().await;
    for e in &entries {
        let Event::StateChange { idt, to, .. } = &e.event else {
            continue;
        };
        let (idt, at) = (idt.0, e.at);
        let track = s.tracks.entry(idt).or_default();
        let was = track.finished();
        match to.code() {
            2 => track.injected = Some(at),
            3 => track.metadata = Some(at),
            4 => track.downloaded = Some(at),
            5 => track.concluded = Some(at),
            8 => track.refused = Some(at),
            7 | 10 => track.other_end = true,
            _ => {}
        }
        if !was && track.finished() {
            s.finished += 1;
            s.permits.remove(&idt);
        }
    }
    Ok(Some(last))
}
