//! The crate's single integration-test binary; one module per subject.

// The whole binary is test code; a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod external;
mod homologacao;
mod homologacao_reports;
mod load;
mod reports;
mod scenarios;
mod selftest;
mod targets;
