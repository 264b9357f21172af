//! `pen-client`: the reference Tramita.gov.br REST v3 client, its flows, and the reference
//! integrator agent.
//!
//! It speaks only what `pen-protocol` defines: it never learns the platform's behaviour from the
//! simulator's code. Errors tell TLS and identity problems, transport failures and the
//! platform's own answers apart ([`Error`]).
//!
//! # Layout
//! - [`identity`] — the client certificate and key from PEM, encrypted PEM or PKCS#12.
//! - [`api`] — [`Client`]: one typed method per REST v3 endpoint.
//! - [`error`] — [`Error`] and the printing of a whole error chain.
//! - [`flows`] — each integrator flow in one call: send (process or avulso), receive in steps,
//!   return with the NRE, acknowledge a refusal, fetch the recibo de conclusão; bytes one block at
//!   a time; the sender-side rules a correct system checks before sending.
//! - [`follow`] — following the pending feed (poll or long-poll) and dispatching by situação.
//! - [`samples`] — the fixtures' sample processes and avulsos by name, ready to send.
//! - [`agent`] — the reference integrator: policy, archive of processes, trigger, mutants.

pub mod agent;
pub mod api;
pub mod error;
pub mod flows;
pub mod follow;
pub mod identity;
pub mod samples;

pub use api::{Client, ClientConfig, EstruturaQuery, TramiteFilter};
pub use error::Error;
pub use identity::Identity;
pub use pen_protocol as protocol;
