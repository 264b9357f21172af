//! `pen-testkit`: test plumbing shared by end-to-end tests, and the end-to-end suite itself.
//!
//! It owns who a test connects as (the committed test PKI's identities, as HTTPS clients and
//! rustls configurations), where the committed files are, a simulator per test on
//! `127.0.0.1:0` with a manual clock, and the reference clients and agents that play each
//! organisation; the tests in `tests/` run every protocol flow over real mutual TLS on loopback.
//!
//! # Layout
//! - [`workspace_root`] and [`certs_dir`]: where the committed PKI and fixtures live, so tests
//!   never depend on the directory they are started from.
//! - [`identities`]: [`TestIdentity`] (an organisation, or one of the identities the simulator
//!   must refuse), [`https_client`] / [`https_client_http1`] / [`https_client_builder`]
//!   (reqwest, trusting only the test CA) and [`rustls_client_config`] for raw TLS tests.
//! - [`sim`]: a simulator on `127.0.0.1:0` with a manual clock and raw REST v3 callers.
//! - [`agents`]: reference clients per organisation and reference agents with their trigger.
//! - `tests/main.rs`: the crate's single integration-test binary.

use std::path::PathBuf;

pub mod agents;
pub mod identities;
pub mod sim;

pub use identities::{
    https_client, https_client_builder, https_client_http1, rustls_client_config, test_pki,
    TestIdentity,
};

/// The repository root (the folder of the workspace `Cargo.toml`).
#[must_use]
pub fn workspace_root() -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    here.parent()
        .map_or(here.clone(), std::path::Path::to_path_buf)
}

/// The committed test PKI (`certs/`).
#[must_use]
pub fn certs_dir() -> PathBuf {
    workspace_root().join("certs")
}
