//! `pen-simulator`: a local Tramita.gov.br, the platform through which document systems (SEI,
//! SUPER, SUAP, …) exchange processes over mutual TLS.
//!
//! # Layout
//! - [`runtime`] — [`runtime::Simulator`]: binds the REST listener (and the control plane),
//!   runs until told to stop; what `serve`, the harness and the tests start.
//! - [`server`] — the TLS edge: accept loop, mutual-TLS handshake, HTTP/1.1 or h2 by ALPN,
//!   the verified certificate on every request.
//! - [`http`] — the REST v3 routes and the one place where platform errors become HTTP.
//! - [`platform`] — the platform's rules over the store, one file per group of operations
//!   (catalogue, open, uploads, feed, reads, receipts, lifecycle, admin), each with its rule
//!   tests on a manual clock.
//! - [`store`] — where the platform keeps its records: in memory (the default) or durable in a
//!   data folder (`serve --data-dir`: SQLite beside the component files).
//! - [`blobs`] — component bytes, content-addressed, staged while they stream.
//! - [`intake`] — staged bytes to an accepted component, readable before the feed shows it;
//!   [`multipart`] — upload bodies as the form parser can read them safely.
//! - [`registry`] — registered SPEs, structures and the reference tables.
//! - [`journal`] — what every party did ([`journal::Operation`] of each request, situação
//!   changes, refused handshakes), bounded.
//! - [`faults`], [`clock`], [`config`] — failures on demand, controllable time, knobs.
//! - [`control`] — the control plane (reset, faults, clock, journal, injection) and
//!   [`control_client`], its typed client.
//! - [`pki`] — the test PKI: generation (`certs init`) apart from loading into rustls
//!   configurations, which is all the TLS edge and the runtime use.
//!
//! The `pen-simulator` command line (clap definitions, `anyhow` for reporting) belongs to the
//! binary target (`src/main.rs`, `src/cli.rs`) and only calls into this library.

pub mod blobs;
pub mod clock;
pub mod config;
pub mod control;
pub mod control_client;
pub mod faults;
pub mod http;
pub mod intake;
pub mod journal;
pub mod multipart;
pub mod pki;
pub mod platform;
pub mod registry;
pub mod runtime;
pub mod server;
pub mod store;
