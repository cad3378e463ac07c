//! `tessera`: serve the auth server (and, with it, the tasks API and web app), or the tasks API
//! alone; migrate; manage keys; read the audit log. The servers are assembled by
//! `tessera-server` and `tessera-api`; this binary parses the command line into their settings.
#![forbid(unsafe_code)]

mod admin;
mod cli;
mod settings;

use anyhow::Context as _;
use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = cli::Cli::parse();
    let _flush_logs_on_exit =
        tessera_http::logging::init(cli.log_format.into()).context("installing the logger")?;
    match cli.command.unwrap_or(cli::Command::Serve(cli.serve)) {
        cli::Command::Serve(args) => {
            let app = tessera_server::Application::build(settings::server(&args)?).await?;
            println!("Tessera listening on http://{}", app.local_addr()?);
            if let Some(metrics) = app.metrics_addr()? {
                println!("Tessera metrics on http://{metrics}/metrics");
            }
            Ok(app.run(tessera_http::shutdown_signal()).await?)
        }
        cli::Command::Migrate(args) => {
            tessera_server::migrate(&settings::database_url(&args)?).await?;
            println!("migrations applied");
            Ok(())
        }
        cli::Command::Api(args) => {
            let api = tessera_api::Api::build(settings::api(&args)?).await?;
            println!(
                "Tessera tasks API listening on http://{}",
                api.local_addr()?
            );
            Ok(api.run(tessera_http::shutdown_signal()).await?)
        }
        cli::Command::Keys(command) => admin::keys(command).await,
        cli::Command::Audit(args) => admin::audit(args).await,
    }
}
