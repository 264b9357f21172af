//! `pen-benches`: how fast the simulator and the protocol code are, measured as ratios taken in
//! one run on one machine — never as timed tests (design §7).
//!
//! The crate owns three kinds of measurement:
//! - **criterion micro-benches** of the hot code paths: SHA-256 component hashing, the receipt's
//!   canonical text with its RSA-2048 signature and verification, metadata JSON (a small process
//!   and one with 1,000 documents), the situação state machine, and the platform's pending-feed
//!   query with 100,000 stored trâmites;
//! - **the loopback load bench** (`loopback` binary): a closed-loop HTTP/1.1 loader over mutual
//!   TLS run against a bare axum + rustls "hello" server and against the simulator, in the same
//!   process, with the same certificates, reporting rates, latencies and the ratios
//!   simulator / baseline (keep-alive requests and new-connection handshakes);
//! - **the memory bench** (`memory` binary): resident memory of a platform holding 100,000
//!   completed trâmites, and of the simulator and the reference client while a 1 GiB component
//!   goes up and down.
//!
//! See `benches/README.md` for the method, the commands and the latest figures.
//!
//! # Layout
//! - [`tls`] — rustls server and client configurations from the committed test PKI (`certs/`).
//! - [`hello`] — the baseline server: axum + rustls, client certificate required, TCP_NODELAY,
//!   `GET /hello` and a fixed-size `POST /blob`, on `127.0.0.1:0`.
//! - [`load`] — the loader: [`load::run`] drives N workers (keep-alive or a new connection per
//!   request) through a warm-up and a fixed window and returns a [`load::Measurement`], which
//!   merges with other rounds and summarises into a [`load::Report`]. Reusable by any caller
//!   with a tokio runtime (a future `pen-conformance load`).
//! - [`sim`] — a platform built as `pen-simulator serve` builds it, filled through its own
//!   operations (many trâmites for the pending-feed bench; one with a large component for the
//!   download scenario).
//! - [`memory`] — resident memory from `/proc/<pid>/status` (`VmRSS`, `VmHWM`), peak reset,
//!   a sampler, and trâmites driven to situação 6 through the platform's own operations.
//! - `src/bin/memory.rs` — issue 7's memory targets, measured and printed: 100,000 completed
//!   trâmites held, a 1 GiB component up and down through a simulator child process.
//! - `src/bin/loopback.rs` — the load bench's command line (`--duration`, `--connections`,
//!   `--rounds`, `--smoke`, `--json`, `--only`).
//! - `benches/protocol.rs`, `benches/pending_feed.rs` — the criterion benches
//!   (`cargo bench -p pen-benches`).

pub mod hello;
pub mod load;
pub mod memory;
pub mod sim;
pub mod tls;
