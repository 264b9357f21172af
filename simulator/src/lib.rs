//! `pen-simulator`: a local Tramita.gov.br, the platform through which document systems (SEI,
//! SUPER, SUAP, …) exchange processes over mutual TLS.
//!
//! The REST v3 API over mTLS arrives in a later issue. Today the crate owns the test PKI: the
//! generator behind `pen-simulator certs init` and the loader that turns the committed `certs/`
//! folder into rustls configurations.
//!
//! # Layout
//! - [`pki`] — the test PKI: generates the CA, the server and platform identities, one identity
//!   per organisation and the negative identities ([`pki::generate`]); reads them back
//!   ([`pki::load_manifest`], [`pki::Pki`]) as a rustls `ServerConfig` that requires a client
//!   certificate issued by the CA, and as client identities.
//!
//! The `pen-simulator` command line (clap definitions, `anyhow` for reporting) belongs to the
//! binary target (`src/main.rs`, `src/cli.rs`) and only calls into this library.

pub mod blobs;
pub mod clock;
pub mod config;
pub mod control;
pub mod faults;
pub mod http;
pub mod journal;
pub mod pki;
pub mod platform;
pub mod registry;
pub mod runtime;
pub mod server;
