//! `pen-conformance`: the conformance harness.
//!
//! It owns a simulator (embedded), plays the counterpart organisation through `pen-client`,
//! drives the system under test (SUT) — the reference agent, or any integrator through a
//! trigger — and judges the SUT only by what crosses the wire and what the simulator's journal
//! recorded. Every scenario ends with a verdict and its evidence, rendered on the console and as
//! JUnit, JSON and a self-contained HTML page.
//!
//! # Layout
//! - [`scenario`] — scenario files and the [`scenario::Step`] enum; the suite version.
//! - [`target`] — the SUT: the reference agent or a `target.toml`, and its trigger.
//! - [`run`] — the runner: platform, counterpart, SUT, one function per step, verdicts.
//! - [`verdict`] — verdicts, scenario results and the run report every format renders.
//! - [`homologacao`] — `pen-conformance homologacao`: the platform's three minimum requirements
//!   (R1–R3) checked as the PEN team checks them, then the production risks.
//! - [`load`] — `pen-conformance load`: the SUT's receive throughput, measured from the journal.
//! - [`report`] — console progress and the JUnit, JSON and HTML files (and the load run's).

pub mod homologacao;
pub mod load;
pub mod report;
pub mod run;
pub mod scenario;
pub mod target;
pub mod verdict;

pub use pen_protocol as protocol;
