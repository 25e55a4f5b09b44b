//! keyhatch's server: settings → state → router.

use std::process::ExitCode;

use clap::Parser;
use keyhatch::server::settings::{Cli, Settings};

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "keyhatch=info,warn".into()),
        )
        .init();
    let settings = match Settings::load(Cli::parse()) {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("keyhatch: {e}");
            return ExitCode::from(2);
        }
    };
    match keyhatch::server::serve(settings).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("keyhatch: {e}");
            ExitCode::FAILURE
        }
    }
}
