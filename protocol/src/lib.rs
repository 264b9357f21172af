//! `pen-protocol`: the Tramita.gov.br REST v3 contract as data and pure rules.
//!
//! Everything the simulator, the reference client and the conformance harness must agree on to
//! the byte lives here, so that none of them imports protocol types from another: the JSON wire
//! types with their exact Portuguese member names (and the platform's casing quirks), the
//! identifiers (IDT, NRE, NUP, ticket), the situação state machine, component hashing, the
//! canonical text and RSA signature of the receipts, and the platform's error catalogue.
//!
//! This crate does no I/O and runs no async runtime: hashing and signing work on bytes and
//! readers the caller provides, and time is always passed in.
//!
//! # Layout
//! - [`model`] — the metadata of a transfer: cabeçalho, processo (with `processoApensado`),
//!   documento (process piece and documento avulso), componente digital, assinatura, pessoa.
//! - [`api`] — request and response bodies of every REST v3 endpoint.
//! - [`ids`] — `Idt`, `Nre`, `Nup` (with the mod-11 check digits), `Ticket`, `Protocolo`.
//! - [`situacao`] — situações 0–10 and the pure transition function over events.
//! - [`hash`] — base64(SHA-256) component hashes, streaming.
//! - [`receipt`] — canonical text of the recibo de conclusão and recibo de envio; RSA PKCS#1 v1.5
//!   SHA-256 signing and verification.
//! - [`datetime`] — the date formats the platform accepts and the ones it renders.
//! - [`ranges`] — `{inicio}-{fim}` part ranges (zero-based, end exclusive) and block splitting.
//! - [`error`] — the error body `{codigoErro, mensagem, parametro[]}` and the catalogue of
//!   platform error codes and message templates.
//! - [`refusals`] — the motivos and justificativa texts a receiving system refuses with, in the
//!   reference integrator's words, and their recognition.
//! - [`tables`] — closed vocabularies of the schema (MIME types, tipos de conteúdo, motivos).
//! - [`registry`] — organisations, the structure directory and the test-PKI manifest (not wire
//!   types: the files shipped with the simulator).

pub mod api;
#[cfg(test)]
mod arb;
pub mod datetime;
pub mod error;
pub mod hash;
pub mod ids;
mod lenient;
pub use lenient::parse_bool;
pub mod model;
pub mod ranges;
pub mod receipt;
pub mod refusals;
pub mod registry;
pub mod situacao;
pub mod tables;

/// Path prefix of every REST v3 resource.
pub const BASE_PATH: &str = "/interoperabilidade/rest/v3/";
