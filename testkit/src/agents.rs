//! Reference clients and reference agents for a test simulator: a [`Client`] per organisation
//! of the test PKI, and [`spawn_agent`], an agent following the feed with its trigger on
//! `127.0.0.1:0` and its archive in a temporary folder; and the ways tests deliver a trâmite to
//! an agent: through its trigger, the raw client, or the control plane past validation.

use std::collections::BTreeSet;
use std::time::Duration;

use pen_client::agent::{AgentConfig, Defect, Policy, Quirk, RunningAgent};
use pen_client::flows::{self, TransferOptions};
use pen_client::follow::{FeedMode, FollowOptions};
use pen_client::samples::{Envelope, Sample};
use pen_client::{Client, ClientConfig, Identity};
use pen_protocol::api::{EnvioDeProcesso, TramiteDeProcessoCriado};
use pen_protocol::ids::Idt;
use pen_protocol::model::{CabecalhoDeProcesso, EstruturaOrganizacional};

use crate::sim::TestSimulator;

/// The part size test agents use: small, so that the samples' files and any attachment above
/// it travel in several parts.
pub const TEST_BLOCK: u64 = 64 * 1024;

/// The reference client acting as an organisation of the test PKI (`"org-a"`).
///
/// # Panics
/// When the committed PKI is missing.
#[must_use]
pub fn client(sim: &TestSimulator, org: &str) -> Client {
    let certs = crate::certs_dir();
    let identity = Identity::from_pem(
        &std::fs::read(certs.join(format!("orgs/{org}/identity.pem"))).expect("identity.pem"),
    )
    .expect("a valid identity");
    Client::new(ClientConfig::new(
        sim.base_url.clone(),
        std::fs::read(certs.join("ca.pem")).expect("ca.pem"),
        identity,
    ))
    .expect("a client builds")
}

/// A reference agent owned by a test; its archive folder goes with it.
#[derive(Debug)]
pub struct TestAgent {
    pub running: RunningAgent,
    pub trigger_url: String,
    pub unit: EstruturaOrganizacional,
    _dir: tempfile::TempDir,
}

impl std::ops::Deref for TestAgent {
    type Target = pen_client::agent::Agent;

    fn deref(&self) -> &Self::Target {
        &self.running.agent
    }
}

/// Starts a reference agent as `org` at `unit`, long-polling the feed, with the given policy
/// and defects.
///
/// # Panics
/// When the committed PKI is missing or the trigger cannot bind.
pub async fn spawn_agent(
    sim: &TestSimulator,
    org: &str,
    unit: (u64, &str),
    policy: Policy,
    defects: &[Defect],
) -> TestAgent {
    spawn_agent_with(sim, org, unit, policy, defects, &[]).await
}

/// [`spawn_agent`] with quirks as well.
///
/// # Panics
/// As [`spawn_agent`].
pub async fn spawn_agent_with(
    sim: &TestSimulator,
    org: &str,
    unit: (u64, &str),
    policy: Policy,
    defects: &[Defect],
    quirks: &[Quirk],
) -> TestAgent {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let unit = EstruturaOrganizacional::new(unit.0, unit.1);
    let config = AgentConfig {
        client: client(sim, org),
        unit: unit.clone(),
        policy,
        defects: defects.iter().copied().collect::<BTreeSet<_>>(),
        quirks: quirks.iter().copied().collect::<BTreeSet<_>>(),
        state_dir: dir.path().to_path_buf(),
        follow: FollowOptions {
            mode: FeedMode::LongPoll { seconds: 10 },
            interval: Duration::from_millis(50),
            concurrency: 4,
            retry_after: Duration::from_millis(20),
        },
        transfer: TransferOptions {
            block: TEST_BLOCK,
            whole_below: TEST_BLOCK,
        },
    };
    let running = RunningAgent::start(
        config,
        Some(std::net::SocketAddr::from(([127, 0, 0, 1], 0))),
    )
    .await
    .expect("the agent starts");
    let trigger_url = running
        .trigger_url
        .clone()
        .expect("a trigger was asked for");
    TestAgent {
        running,
        trigger_url,
        unit,
        _dir: dir,
    }
}

/// Posts a JSON body to an agent's trigger (`send`, `return`).
///
/// # Panics
/// When the trigger cannot be reached.
pub async fn trigger<T: serde::Serialize>(
    agent: &TestAgent,
    path: &str,
    body: &T,
) -> reqwest::Response {
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("a plain HTTP client builds")
        .post(format!("{}{path}", agent.trigger_url))
        .json(body)
        .send()
        .await
        .expect("the trigger answers")
}

/// Sends a sample from org-a's unit `1/152254` to org-b's `1/159098` with the raw client (no
/// sender-side rules), so that the recipient's policy is what decides.
///
/// # Panics
/// When the sample is not a process or the platform refuses it.
pub async fn send_raw(sim: &TestSimulator, sample: Sample) -> Idt {
    let Envelope::Processo(processo) = sample.envelope else {
        panic!("a process sample");
    };
    let envio = EnvioDeProcesso {
        cabecalho: CabecalhoDeProcesso {
            remetente: Some(EstruturaOrganizacional::new(1, "152254")),
            destinatario: Some(EstruturaOrganizacional::new(1, "159098")),
            enviar_apenas_componentes_digitais_pendentes: Some(true),
            ..CabecalhoDeProcesso::default()
        },
        processo,
    };
    flows::send_process(
        &client(sim, "org-a"),
        &envio,
        &sample.source,
        TransferOptions::default(),
    )
    .await
    .expect("the platform takes the sample")
    .created
    .idt
}

/// Opens a trâmite org-a → org-b through the control plane, past the platform's validation,
/// with its components uploaded at once (situação 2).
///
/// # Panics
/// When the sample is not a process or the control plane refuses it.
pub async fn inject(sim: &TestSimulator, sample: &Sample) -> Idt {
    use base64::Engine as _;
    let Envelope::Processo(processo) = &sample.envelope else {
        panic!("a process sample");
    };
    let componentes: serde_json::Map<String, serde_json::Value> = sample
        .source
        .files
        .0
        .iter()
        .map(|(h, b)| {
            (
                h.clone(),
                base64::engine::general_purpose::STANDARD.encode(b).into(),
            )
        })
        .collect();
    let created: TramiteDeProcessoCriado = sim
        .control()
        .post_json(
            "inject",
            &serde_json::json!({
                "as": "org-a",
                "processo": {
                    "cabecalho": {
                        "remetente": EstruturaOrganizacional::new(1, "152254"),
                        "destinatario": EstruturaOrganizacional::new(1, "159098"),
                    },
                    "processo": processo,
                },
                "componentes": componentes,
            }),
        )
        .await
        .json();
    created.idt
}
