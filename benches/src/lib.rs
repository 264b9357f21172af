//! `pen-benches`: benchmarks, never timed tests.
//!
//! This crate will own the criterion benches (hashing, receipt signing and verification, metadata
//! JSON, state transitions, pending-feed queries) and the loopback load bench that measures the
//! simulator against a bare axum + rustls baseline with the same certificates, reporting ratios
//! taken in one run on one machine.
//!
//! # Layout
//! Empty for now: benchmarks are built by their own issue.

pub use pen_protocol as protocol;
