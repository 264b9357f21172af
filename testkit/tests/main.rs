//! The crate's single integration-test binary; one module per subject.

// The whole binary is test code; a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod access;
mod agents;
mod catalogue;
mod client;
mod client_flows;
mod common;
mod control;
mod flows;
mod hardening;
mod identities;
mod journal;
mod limits;
mod longpoll;
mod mutants;
mod pendencias_host;
mod policies;
mod profiles;
mod queries;
mod quirks;
mod reproduction;
mod samples;
mod trigger;
mod uploads;
mod wire;
