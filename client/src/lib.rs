//! `pen-client`: the reference Tramita.gov.br REST v3 client.
//!
//! It speaks only what `pen-protocol` defines: it never learns the platform's behaviour from the
//! simulator's code. Errors tell TLS and identity problems, transport failures and the
//! platform's own answers apart ([`Error`]).
//!
//! # Layout
//! - [`identity`] — the client certificate and key from PEM, encrypted PEM or PKCS#12.
//! - [`api`] — [`Client`]: one typed method per REST v3 endpoint.
//! - [`error`] — [`Error`] and the printing of a whole error chain.
//! - [`flows`] — send a process and receive one, each one call, bytes one block at a time.
//!
//! Still to come (issue 5): returning, following the feed, the `pen-client` CLI and the agent
//! mode.

pub mod api;
pub mod error;
pub mod flows;
pub mod identity;

pub use api::{Client, ClientConfig, EstruturaQuery, TramiteFilter};
pub use error::Error;
pub use identity::Identity;
pub use pen_protocol as protocol;
