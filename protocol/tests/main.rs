//! Integration tests of `pen-protocol`: pinned facts of the spec (test vectors, tables, texts)
//! and properties of the parsers and the state machine.

// The whole binary is test code; a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod datetime;
mod errors;
mod fixtures;
mod ids;
mod receipts;
mod refusals;
mod situacao;
