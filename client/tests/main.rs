//! The client's single integration-test binary.

// The whole binary is test code; a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod cli;
mod http;
mod identity;
mod trigger;
