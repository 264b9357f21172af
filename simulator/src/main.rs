//! `pen-simulator`: see [`pen_simulator::cli`].

use clap::Parser as _;
use pen_simulator::cli::Cli;

fn main() -> anyhow::Result<()> {
    Cli::parse().run(&mut std::io::stdout().lock())
}
