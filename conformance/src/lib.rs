//! `pen-conformance`: the conformance harness.
//!
//! This crate will own the scenario model and loader (`fixtures/scenarios/*.toml` into one `Step`
//! enum), the runner with event-driven waits on the simulator's journal, the adapters that drive
//! a system under test (reference agent, shell, webhook, manual), verdicts with evidence, the
//! reports (console, JUnit, JSON, HTML), the mutants self-test and the `pen-conformance` CLI.
//!
//! It embeds the simulator as its platform but judges the system under test only by what crosses
//! the wire and what the simulator's journal recorded.
//!
//! # Layout
//! Empty for now: the harness is built by its own issue on top of the simulator and the client.

pub use pen_protocol as protocol;
