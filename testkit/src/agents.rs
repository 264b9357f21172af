//! Reference clients and reference agents for a test simulator: a [`Client`] per organisation
//! of the test PKI, and [`spawn_agent`], an agent following the feed with its trigger on
//! `127.0.0.1:0` and its archive in a temporary folder.

use std::collections::BTreeSet;
use std::time::Duration;

use pen_client::agent::{AgentConfig, Defect, Policy, RunningAgent};
use pen_client::flows::TransferOptions;
use pen_client::follow::{FeedMode, FollowOptions};
use pen_client::{Client, ClientConfig, Identity};
use pen_protocol::model::EstruturaOrganizacional;

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
    let dir = tempfile::tempdir().expect("a temporary folder");
    let unit = EstruturaOrganizacional::new(unit.0, unit.1);
    let config = AgentConfig {
        client: client(sim, org),
        unit: unit.clone(),
        policy,
        defects: defects.iter().copied().collect::<BTreeSet<_>>(),
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
