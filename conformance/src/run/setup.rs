//! Before the first scenario: the PKI, the platform (embedded, or the one `pen-conformance serve`
//! keeps up for the target), the counterpart organisation, the SUT, and the pre-flight — the
//! SUT's first call to the platform, so that a system that cannot reach it is told so at once
//! with what the platform saw, not once per scenario after every deadline.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU32;
use std::sync::Arc;
use std::time::{Duration, Instant};

use pen_client::agent::{self, Agent, AgentConfig, Policy, RunningAgent};
use pen_client::flows::TransferOptions;
use pen_client::follow::{FeedMode, FollowOptions};
use pen_client::{Client, ClientConfig, Identity};
use pen_protocol::model::EstruturaOrganizacional;
use pen_protocol::registry::PkiManifest;
use pen_simulator::clock::{ManualClock, OffsetClock, SharedClock, SystemClock};
use pen_simulator::control_client::ControlClient;
use pen_simulator::journal::{Event, JournalQuery};
use pen_simulator::runtime::{Simulator, SimulatorOptions};
use tokio::sync::oneshot;

use super::evidence;
use super::harness::Harness;
use super::{HarnessError, RunOptions, COUNTERPART_ORG, COUNTERPART_UNIT};
use crate::target::{LoadedTarget, SutProfile, Target, Trigger};

/// What the reference agent declares when it is the SUT (unless the run says otherwise): a
/// small size limit and block so that the size scenarios move a few MiB, not hundreds.
pub const REFERENCE_BLOCK: u64 = 256 * 1024;
pub const REFERENCE_MAX_MB: u64 = 2;
/// How long the reference agent may take in a step: it answers in milliseconds; the margin is
/// for a loaded machine.
pub const REFERENCE_DEADLINE: Duration = Duration::from_secs(10);

fn harness<E: std::fmt::Display>(what: &str) -> impl FnOnce(E) -> HarnessError + '_ {
    move |e| HarnessError(format!("{what}: {e}"))
}

/// The platform, the SUT when it runs in process, and how to stop them.
pub(crate) struct Setup {
    sut: Option<RunningAgent>,
    /// Stops the embedded simulator; `None` when the run uses a platform kept up by `serve`.
    stop: Option<oneshot::Sender<()>>,
    _pki: Option<tempfile::TempDir>,
    _counterpart_dir: tempfile::TempDir,
    _sut_state: Option<tempfile::TempDir>,
}

pub(crate) fn client_from_pki(
    pki: &Path,
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

/// The REST v3 base URL of a platform listening on `addr`, as a client on this machine
/// reaches it.
pub fn base_url_of(addr: SocketAddr) -> String {
    let mut addr = addr;
    if addr.ip().is_unspecified() {
        addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    format!("https://{addr}{}", pen_protocol::BASE_PATH)
}

/// The PKI an external target was configured with, or why it cannot be used.
pub(crate) fn target_pki(target: &LoadedTarget) -> Result<PkiManifest, HarnessError> {
    let dir = &target.config.sut.pki_dir;
    let manifest = pen_simulator::pki::load_manifest(dir).map_err(|e| {
        HarnessError(format!(
            "a PKI do alvo não está em {} ({e}): gere-a uma vez com `pen-conformance setup --target-config <arquivo>` e configure o sistema sob teste com os arquivos que ele indica",
            dir.display()
        ))
    })?;
    if manifest
        .organisation(&target.config.sut.organisation)
        .is_none()
    {
        return Err(HarnessError(format!(
            "a PKI em {} não tem identidade para {}",
            dir.display(),
            target.config.sut.organisation
        )));
    }
    Ok(manifest)
}

/// The PKI in `dir`, generated (CA, server, platform, every fixture organisation) unless a
/// manifest is already there.
///
/// # Errors
/// Key generation or writing the files.
pub fn ensure_pki(dir: &Path) -> Result<(), HarnessError> {
    if !dir.join("manifest.json").exists() {
        let orgs = pen_simulator::pki::fixture_organisations().map_err(harness("organizações"))?;
        pen_simulator::pki::generate(dir, &orgs, &pen_simulator::pki::GenerateOptions::default())
            .map_err(harness("gerando a PKI"))?;
    }
    Ok(())
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// Prints what to configure in an external SUT, with absolute paths.
pub fn print_configuration(target: &LoadedTarget, base_url: &str) {
    let config = &target.config;
    let pki = absolute(&config.sut.pki_dir);
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
        "  PEM com chave cifrada:       {} (senha pen-local)",
        pki.join(format!("orgs/{org}/identity-encrypted.pem"))
            .display()
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

/// What the target declares, as the scenarios use it.
fn profile_of(options: &RunOptions) -> Result<SutProfile, HarnessError> {
    Ok(match &options.target {
        Target::External(target) => {
            let sut = &target.config.sut;
            let deadline = Duration::from_secs(sut.deadline_secs);
            SutProfile {
                organisation: sut.organisation.clone(),
                unidade: agent::parse_unit(&sut.unidade).map_err(harness("sut.unidade"))?,
                max_document_mb: sut.max_document_mb,
                block_bytes: sut.block_bytes,
                accepts_unsigned: sut.accepts_unsigned,
                unmapped_especie: sut.unmapped_especie,
                deadline,
                preflight: sut.preflight_secs.map_or(deadline, Duration::from_secs),
            }
        }
        Target::Reference(reference) => {
            let policy = Policy::reference().map_err(harness("política"))?;
            SutProfile {
                organisation: "org-a".to_owned(),
                unidade: EstruturaOrganizacional::new(1, "152254"),
                max_document_mb: Some(reference.max_document_mb),
                block_bytes: reference.block_bytes,
                accepts_unsigned: policy.accept_unsigned,
                unmapped_especie: policy.especies.unmapped.iter().next().copied(),
                deadline: REFERENCE_DEADLINE,
                preflight: REFERENCE_DEADLINE,
            }
        }
    })
}

/// The platform a run acts on.
struct Platform {
    base_url: String,
    control: ControlClient,
    stop: Option<oneshot::Sender<()>>,
}

/// A platform kept up by `pen-conformance serve` for this target, when one answers at its
/// control address with the target's PKI.
async fn attached(
    target: &LoadedTarget,
    manifest: &PkiManifest,
) -> Result<Option<Platform>, HarnessError> {
    let simulator = &target.config.simulator;
    let control = ControlClient::plain(format!("http://{}/control/", simulator.control_addr))
        .map_err(harness("plano de controle"))?;
    if control.health().await.is_err() {
        return Ok(None);
    }
    let org = &target.config.sut.organisation;
    let registered = control
        .spe(org)
        .await
        .map_err(harness("plano de controle"))?;
    let expected = manifest
        .organisation(org)
        .map(|o| &o.files.sha1_fingerprint);
    if registered.as_ref().map(|s| &s.sha1_fingerprint) != expected {
        return Err(HarnessError(format!(
            "a plataforma em {} não usa a PKI de {} (o certificado de {org} registrado nela é outro): pare-a ou aponte o alvo para a mesma pki_dir",
            control.base_url(),
            target.config.sut.pki_dir.display()
        )));
    }
    Ok(Some(Platform {
        base_url: base_url_of(simulator.addr),
        control,
        stop: None,
    }))
}

/// Starts a simulator with the given PKI on `addr`, its control plane on `control_addr`.
async fn embedded(
    pki_dir: &Path,
    addr: SocketAddr,
    control_addr: SocketAddr,
    clock: SharedClock,
) -> Result<(Platform, Simulator), HarnessError> {
    let mut options = SimulatorOptions::new(pki_dir);
    options.addr = addr;
    options.clock = clock;
    options.control_addr = Some(control_addr);
    let simulator = Simulator::bind(options).await.map_err(|e| {
        HarnessError(format!(
            "o simulador não pôde escutar em {addr} (outro processo já usa o endereço? um `pen-conformance serve` de outra PKI?): {e}"
        ))
    })?;
    let control_url = simulator
        .control_url()
        .ok_or_else(|| HarnessError("plano de controle ausente".to_owned()))?;
    let control = ControlClient::plain(control_url).map_err(harness("plano de controle"))?;
    let platform = Platform {
        base_url: simulator.base_url(),
        control,
        stop: None,
    };
    Ok((platform, simulator))
}

fn run_in_background(simulator: Simulator) -> oneshot::Sender<()> {
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(simulator.run_until(async {
        let _ = stopped.await;
    }));
    stop
}

/// `pen-conformance serve`: the target's platform (its PKI, its address, the control plane on
/// `simulator.control_addr`), up until `shutdown` resolves; `run` against the same target uses
/// it. Prints what to configure.
///
/// # Errors
/// The PKI is missing, the addresses are taken.
pub async fn serve(
    target: &LoadedTarget,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), HarnessError> {
    target_pki(target)?;
    let clock: SharedClock = Arc::new(OffsetClock::new(Arc::new(SystemClock::new())));
    let simulator_config = &target.config.simulator;
    let (platform, simulator) = embedded(
        &target.config.sut.pki_dir,
        simulator_config.addr,
        simulator_config.control_addr,
        clock,
    )
    .await?;
    print_configuration(target, &platform.base_url);
    println!(
        "  plano de controle:           {}",
        platform.control.base_url()
    );
    println!("A plataforma fica no ar até Ctrl-C; `pen-conformance run` com este alvo a usa.");
    simulator
        .run_until(shutdown)
        .await
        .map_err(harness("simulador"))
}

impl Setup {
    /// The platform, counterpart and SUT of a run. `load` runs on the system clock (the journal
    /// timestamps are its measurements) with a more concurrent reference agent.
    pub(crate) async fn start(
        options: &RunOptions,
        seed: u64,
        load: Option<usize>,
    ) -> Result<(Self, Harness), HarnessError> {
        let profile = profile_of(options)?;
        // The PKI: generated for the run (reference), or the target's own (external).
        let (pki_dir, temporary) = match (&options.target, &options.pki_dir) {
            (Target::External(target), _) => {
                target_pki(target)?;
                (target.config.sut.pki_dir.clone(), None)
            }
            (Target::Reference(_), Some(dir)) => (dir.clone(), None),
            (Target::Reference(_), None) => {
                let dir = tempfile::tempdir().map_err(harness("pasta temporária"))?;
                (dir.path().to_path_buf(), Some(dir))
            }
        };
        if matches!(options.target, Target::Reference(_)) {
            ensure_pki(&pki_dir)?;
        }

        let clock: SharedClock = match load {
            Some(_) => Arc::new(SystemClock::new()),
            None => Arc::new(ManualClock::new(time::OffsetDateTime::now_utc())),
        };
        let loopback_any = SocketAddr::from(([127, 0, 0, 1], 0));
        let platform = match &options.target {
            Target::External(target) => {
                let manifest = target_pki(target)?;
                match attached(target, &manifest).await? {
                    Some(platform) => {
                        println!(
                            "Usando a plataforma já no ar ({}).",
                            platform.control.base_url()
                        );
                        platform
                    }
                    None => {
                        let (mut platform, simulator) =
                            embedded(&pki_dir, target.config.simulator.addr, loopback_any, clock)
                                .await?;
                        platform.stop = Some(run_in_background(simulator));
                        print_configuration(target, &platform.base_url);
                        platform
                    }
                }
            }
            Target::Reference(_) => {
                let (mut platform, simulator) =
                    embedded(&pki_dir, loopback_any, loopback_any, clock).await?;
                platform.stop = Some(run_in_background(simulator));
                platform
            }
        };

        let counterpart_dir = tempfile::tempdir().map_err(harness("pasta temporária"))?;
        let counterpart_client = client_from_pki(&pki_dir, COUNTERPART_ORG, &platform.base_url)?;
        let transfer = TransferOptions {
            block: REFERENCE_BLOCK,
            whole_below: REFERENCE_BLOCK,
        };
        let counterpart_unit = EstruturaOrganizacional::new(COUNTERPART_UNIT.0, COUNTERPART_UNIT.1);
        let counterpart = Agent::new(AgentConfig {
            client: counterpart_client.clone(),
            unit: counterpart_unit.clone(),
            policy: Policy::default(),
            defects: BTreeSet::new(),
            quirks: BTreeSet::new(),
            state_dir: counterpart_dir.path().to_path_buf(),
            follow: FollowOptions::default(),
            transfer,
        })
        .map_err(harness("contraparte"))?;

        let mut sut_state = None;
        let (sut, trigger) = match &options.target {
            Target::Reference(reference) => {
                let state = tempfile::tempdir().map_err(harness("pasta temporária"))?;
                let state_dir = state.path().to_path_buf();
                sut_state = Some(state);
                let mut policy = Policy::reference().map_err(harness("política"))?;
                policy.max_document_mb = Some(reference.max_document_mb);
                let running = RunningAgent::start(
                    AgentConfig {
                        client: client_from_pki(
                            &pki_dir,
                            &profile.organisation,
                            &platform.base_url,
                        )?,
                        unit: profile.unidade.clone(),
                        policy,
                        defects: reference.mutant.iter().copied().collect(),
                        quirks: reference.quirks.clone(),
                        state_dir,
                        follow: FollowOptions {
                            // Short holds: the harness reads "back at its feed" as "done with
                            // the pendência" (see `handled_once`).
                            mode: FeedMode::LongPoll { seconds: 1 },
                            interval: Duration::from_millis(50),
                            concurrency: load.unwrap_or(4),
                            retry_after: Duration::from_millis(50),
                        },
                        transfer: TransferOptions {
                            block: reference.block_bytes,
                            whole_below: reference.block_bytes,
                        },
                    },
                    None,
                )
                .await
                .map_err(harness("agente de referência"))?;
                let trigger = Trigger::Builtin(running.agent.clone());
                (Some(running), trigger)
            }
            Target::External(target) => (
                None,
                Trigger::from_config(&target.config.trigger, &target.dir),
            ),
        };

        let harness = Harness {
            control: platform.control,
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
                stop: platform.stop,
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
        if let Some(stop) = self.stop {
            let _ = stop.send(());
        }
    }
}

/// Waits (up to the target's pre-flight time) for the SUT's first call to the platform; on
/// none, says what the platform saw instead: refused handshakes, calls with a certificate it
/// does not know.
pub(crate) async fn preflight(h: &Harness) -> Result<(), HarnessError> {
    let sut = h.sut_org().to_owned();
    let limit = h.sut.preflight;
    let deadline = Instant::now() + limit;
    let mut seen = Vec::new();
    let reached = h
        .first(JournalQuery::default(), deadline, |entry| {
            match &entry.event {
                Event::Request { spe: Some(s), .. } | Event::Waiting { spe: s, .. }
                    if *s == sut =>
                {
                    Some(())
                }
                Event::Request { spe: None, .. } | Event::HandshakeRefused { .. }
                    if seen.len() < 5 =>
                {
                    seen.push(evidence::line(entry));
                    None
                }
                _ => None,
            }
        })
        .await
        .map_err(|e| HarnessError(e.to_string()))?;
    if reached.is_some() {
        return Ok(());
    }
    let mut message = format!(
        "pré-verificação: o sistema sob teste ({sut}) não chamou a plataforma em {} s. Confira a URL do barramento, a CA a confiar e o certificado que `pen-conformance setup` indicou, e se o sistema está no ar e consultando as pendências",
        limit.as_secs()
    );
    if seen.is_empty() {
        message.push_str("; nenhuma conexão chegou à plataforma.");
    } else {
        message.push_str(&format!(
            "; a plataforma viu, sem poder atribuí-las ao SUT: {}",
            seen.join(" | ")
        ));
    }
    Err(HarnessError(message))
}
