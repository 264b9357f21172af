//! The crate's single integration-test binary; one module per subject.

// The whole binary is test code; a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod catalogue;
mod common;
mod flows;
mod identities;
mod profiles;
mod journal;
mod reproduction;
mod queries;
mod samples;
