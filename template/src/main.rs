use std::process::ExitCode;

use anyhow::Context;
use tokio::net::TcpListener;

use {{crate_name}}::config::Config;
use {{crate_name}}::{AppState, app};
use {{crate_name}}::{server, telemetry};

#[tokio::main]
async fn main() -> ExitCode {
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(err) => {
            eprintln!("{err}");
            return ExitCode::from(2);
        }
    };
    let telemetry = match telemetry::init(&config.telemetry) {
        Ok(guard) => guard,
        Err(err) => {
            eprintln!("could not start telemetry: {err:#}");
            return ExitCode::from(2);
        }
    };
    let outcome = run(config).await;
    if let Err(err) = &outcome {
        tracing::error!(
            error = format!("{err:#}"),
            "the service stopped on an error"
        );
    }
    telemetry.shutdown();
    if outcome.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

async fn run(config: Config) -> anyhow::Result<()> {
    let state = AppState::connect(&config).await?;
    let listener = TcpListener::bind(config.http.addr)
        .await
        .with_context(|| format!("could not listen on {} (APP_ADDR)", config.http.addr))?;
    tracing::info!(addr = %listener.local_addr()?, "listening");
    server::serve(
        listener,
        app(state.clone(), &config.http),
        server::shutdown_signal(),
        config.http.drain_timeout,
    )
    .await?;
    state.db.close().await;
    tracing::info!("stopped");
    Ok(())
}
