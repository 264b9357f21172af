//! The crate's single integration-test binary; one module per subject.

// The whole binary is test code; a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod cli;
mod durability;
mod pki;
mod server;
