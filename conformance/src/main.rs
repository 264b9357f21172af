//! `pen-conformance`: the harness's command line. The commands live in [`cli`]; everything they
//! run is in the `pen_conformance` library.

mod cli;

use clap::Parser as _;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    cli::Cli::parse().run().await
}
