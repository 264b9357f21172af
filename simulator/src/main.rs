//! `pen-simulator`: a local Tramita.gov.br. The command line lives in [`cli`]; everything it
//! runs is in the `pen_simulator` library.

mod cli;

use clap::Parser as _;

fn main() -> anyhow::Result<()> {
    cli::Cli::parse().run(&mut std::io::stdout().lock())
}
