//! An external target as a user sets one up: a platform kept up for it (what
//! `pen-conformance serve` does, here on port 0), the PKI `setup` generates, a `target.toml`
//! with relative paths, and a system under test that is not the harness's own — the reference
//! agent in its own task with its own certificate, reached only through the platform and its
//! webhook trigger. The suite passes; a declining trigger fails its step at once with the
//! trigger's words; a SUT that never reaches the platform is reported by the pre-flight; a
//! missing PKI is refused.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use pen_client::agent::{AgentConfig, Policy, RunningAgent};
use pen_client::flows::TransferOptions;
use pen_client::follow::{FeedMode, FollowOptions};
use pen_client::{Client, ClientConfig, Identity};
use pen_conformance::run::{self, Progress, RunOptions};
use pen_conformance::scenario::Scenario;
use pen_conformance::target::{Target, TargetConfig};
use pen_conformance::verdict::{ScenarioResult, Verdict};
use pen_protocol::model::EstruturaOrganizacional;
use pen_simulator::clock::ManualClock;
use pen_simulator::runtime::{Simulator, SimulatorOptions};

struct Quiet;

impl Progress for Quiet {
    fn started(&self, _: &Scenario) {}
    fn finished(&self, _: &ScenarioResult) {}
}

const BLOCK: u64 = 256 * 1024;

/// A platform for the target, up for the test's length: its REST and control addresses.
struct Platform {
    addr: SocketAddr,
    control: SocketAddr,
    base_url: String,
    _stop: tokio::sync::oneshot::Sender<()>,
}

async fn platform(pki: &std::path::Path) -> Platform {
    let mut options = SimulatorOptions::new(pki);
    options.clock = Arc::new(ManualClock::new(time::OffsetDateTime::now_utc()));
    options.control_addr = Some(SocketAddr::from(([127, 0, 0, 1], 0)));
    let simulator = Simulator::bind(options).await.unwrap();
    let addr = simulator.local_addr();
    let base_url = simulator.base_url();
    let control: SocketAddr = simulator
        .control_url()
        .unwrap()
        .trim_start_matches("http://")
        .trim_end_matches("/control/")
        .parse()
        .unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(simulator.run_until(async {
        let _ = stopped.await;
    }));
    Platform {
        addr,
        control,
        base_url,
        _stop: stop,
    }
}

fn client(pki: &std::path::Path, identity: &str, base_url: &str) -> Client {
    let pem = std::fs::read(pki.join(identity)).unwrap();
    let ca = std::fs::read(pki.join("ca.pem")).unwrap();
    Client::new(ClientConfig::new(
        base_url,
        ca,
        Identity::from_pem(&pem).unwrap(),
    ))
    .unwrap()
}

/// The system under test: the reference agent for org-a, configured only with the PKI files
/// and the URL, declaring what the target file says.
async fn sut(pki: &std::path::Path, base_url: &str, state: &std::path::Path) -> RunningAgent {
    let mut policy = Policy::reference().unwrap();
    policy.max_document_mb = Some(2);
    RunningAgent::start(
        AgentConfig {
            client: client(pki, "orgs/org-a/identity.pem", base_url),
            unit: EstruturaOrganizacional::new(1, "152254"),
            policy,
            defects: BTreeSet::new(),
            quirks: BTreeSet::new(),
            state_dir: state.to_path_buf(),
            follow: FollowOptions {
                mode: FeedMode::LongPoll { seconds: 1 },
                interval: Duration::from_millis(50),
                concurrency: 4,
                retry_after: Duration::from_millis(50),
            },
            transfer: TransferOptions {
                block: BLOCK,
                whole_below: BLOCK,
            },
        },
        Some(SocketAddr::from(([127, 0, 0, 1], 0))),
    )
    .await
    .unwrap()
}

/// A `target.toml` beside the PKI folder, which it names relatively.
fn target_file(dir: &std::path::Path, platform: &Platform, extra: &str, trigger: &str) -> Target {
    let path = dir.join("alvo").join("target.toml");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let text = format!(
        "name = \"agente externo\"\n\n[sut]\norganisation = \"org-a\"\nunidade = \"1/152254\"\nmax_document_mb = 2\nblock_bytes = {BLOCK}\nunmapped_especie = 5\npki_dir = \"../pki\"\n{extra}\n\n[simulator]\naddr = \"{}\"\ncontrol_addr = \"{}\"\n\n[trigger]\n{trigger}\n",
        platform.addr, platform.control
    );
    std::fs::write(&path, text).unwrap();
    Target::External(Box::new(TargetConfig::load(&path).unwrap()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_external_agent_driven_by_its_webhook_passes_the_suite() {
    let dir = tempfile::tempdir().unwrap();
    let pki = dir.path().join("pki");
    run::ensure_pki(&pki).unwrap();
    let platform = platform(&pki).await;
    let state = tempfile::tempdir().unwrap();
    let agent = sut(&pki, &platform.base_url, state.path()).await;
    let webhook = format!("{}webhook", agent.trigger_url.clone().unwrap());
    let target = target_file(
        dir.path(),
        &platform,
        "deadline_secs = 10",
        &format!("type = \"webhook\"\nurl = \"{webhook}\"\ntimeout_secs = 60"),
    );
    let report = run::run(
        RunOptions {
            seed: Some(3),
            ..RunOptions::new(target)
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
    assert_eq!(report.exit_code(), 0);
    agent.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declining_trigger_fails_its_step_at_once_with_its_reason() {
    let dir = tempfile::tempdir().unwrap();
    let pki = dir.path().join("pki");
    run::ensure_pki(&pki).unwrap();
    let platform = platform(&pki).await;
    let state = tempfile::tempdir().unwrap();
    let agent = sut(&pki, &platform.base_url, state.path()).await;
    let target = target_file(
        dir.path(),
        &platform,
        "deadline_secs = 300",
        "type = \"command\"\nsend = \"echo 'Processo {nup} bloqueado pelo sistema de origem.' >&2; exit 3\"\nreturn = \"exit 0\"",
    );
    let started = Instant::now();
    let report = run::run(
        RunOptions {
            only: vec!["envia-processo".to_owned()],
            ..RunOptions::new(target)
        },
        &Quiet,
    )
    .await
    .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "the step waited for the deadline: {:?}",
        started.elapsed()
    );
    let Verdict::Fail { observed, .. } = &report.results[0].verdict else {
        panic!("{:#?}", report.results[0].verdict);
    };
    assert!(
        observed.starts_with("o SUT não enviou: Processo "),
        "{observed}"
    );
    assert!(
        observed.ends_with("bloqueado pelo sistema de origem."),
        "{observed}"
    );
    assert_eq!(report.exit_code(), 1);
    agent.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sut_that_never_reaches_the_platform_is_reported_by_the_preflight() {
    let dir = tempfile::tempdir().unwrap();
    let pki = dir.path().join("pki");
    run::ensure_pki(&pki).unwrap();
    let platform = platform(&pki).await;
    let target = target_file(
        dir.path(),
        &platform,
        "deadline_secs = 10\npreflight_secs = 3",
        "type = \"none\"",
    );
    // Someone knocks with a certificate of another CA while the harness waits.
    let stranger = client(&pki, "negative/foreign-ca/identity.pem", &platform.base_url);
    let knock = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let _ = stranger.pending(true).await;
    });
    let started = Instant::now();
    let err = run::run(RunOptions::new(target), &Quiet).await.unwrap_err();
    knock.await.unwrap();
    let text = err.to_string();
    assert!(started.elapsed() < Duration::from_secs(20));
    assert!(
        text.starts_with(
            "pré-verificação: o sistema sob teste (org-a) não chamou a plataforma em 3 s"
        ),
        "{text}"
    );
    assert!(text.contains("recusada no handshake TLS"), "{text}");
}

#[tokio::test]
async fn a_target_without_its_pki_is_refused_naming_setup() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("target.toml");
    std::fs::write(
        &path,
        "name = \"sem PKI\"\n[sut]\npki_dir = \"nao-gerada\"\n[simulator]\naddr = \"127.0.0.1:1\"\ncontrol_addr = \"127.0.0.1:1\"\n",
    )
    .unwrap();
    let target = Target::External(Box::new(TargetConfig::load(&path).unwrap()));
    let err = run::run(RunOptions::new(target), &Quiet).await.unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("pen-conformance setup --target-config"),
        "{text}"
    );
    assert!(
        text.contains(&dir.path().join("nao-gerada").display().to_string()),
        "{text}"
    );
}
