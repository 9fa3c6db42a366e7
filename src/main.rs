//! The `bearmon` binary: everything lives in the library; see `bearmon --help`.

use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    bearmon::init_crypto();
    let cli = bearmon::cli::Cli::parse();
    bearmon::telemetry::init(cli.verbose);
    match bearmon::cli::run(cli).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
