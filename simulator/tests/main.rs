//! The crate's single integration-test binary; one module per subject.

mod cli;
mod pki;
