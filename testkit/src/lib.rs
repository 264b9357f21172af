//! `pen-testkit`: test plumbing shared by end-to-end tests, and the end-to-end suite itself.
//!
//! It will own spawning a simulator on `127.0.0.1:0` with the committed test PKI and a manual
//! clock, clients per test organisation and per negative identity, and the tests in `tests/`
//! that run every protocol flow over real mutual TLS on loopback.
//!
//! # Layout
//! - [`workspace_root`] and [`certs_dir`]: where the committed PKI and fixtures live, so tests
//!   never depend on the directory they are started from.

use std::path::PathBuf;

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
