//! `tessera`: serve the auth server (and, with it, the tasks API and web app), or migrate.
#![forbid(unsafe_code)]

mod access_log;
mod admin;
mod api;
mod cli;
mod edge;
mod log_writer;
mod logging;
mod revocations;
mod serve;
mod server;
mod settings;
mod tasks;
mod web;

use anyhow::Context as _;
use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = cli::Cli::parse();
    let (_flush_logs_on_exit, access_log) = logging::init().context("starting the log writer")?;
    match cli.command.unwrap_or(cli::Command::Serve(cli.serve)) {
        cli::Command::Serve(args) => serve::run(args, access_log).await,
        cli::Command::Migrate(args) => serve::migrate(args).await,
        cli::Command::Api(args) => api::run(args, access_log).await,
        cli::Command::Keys(command) => admin::keys(command).await,
        cli::Command::Audit(args) => admin::audit(args).await,
    }
}
