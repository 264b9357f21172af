//! `pen-client`: the reference Tramita.gov.br REST v3 client.
//!
//! This crate will own the typed client (one method per endpoint, mTLS with reqwest + rustls),
//! the flows an integrator runs (send, receive, return, refuse, acknowledge, cancel, follow the
//! pending feed), the `pen-client` CLI and the `agent` mode that behaves as a well-behaved
//! integrator (the harness's counterpart and default system under test).
//!
//! It depends only on `pen-protocol`: it must never learn the platform's behaviour from the
//! simulator's code, only from the protocol.
//!
//! # Layout
//! Empty for now: the client is built by its own issue. The protocol types it will speak are
//! re-exported so that dependants can already name them through this crate.

pub use pen_protocol as protocol;
