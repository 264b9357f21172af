//! `pen-client`: the reference client's command line. The commands live in [`cli`]; everything
//! they run is in the `pen_client` library.

mod cli;

use clap::Parser as _;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    cli::Cli::parse().run().await
}
