//! The command line: serve (the default), or run one of the operator's commands and exit.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use task_svc::config::Config;
use task_svc::http;
use task_svc::startup::Application;
use task_svc::startup::commands;
use task_svc::telemetry;

// ANCHOR: cli
/// A task service built on Axum and SQLx. Configured by the environment (see .env.example).
#[derive(Parser)]
#[command(version)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API (the default)
    Serve,
    /// Apply pending migrations, then exit (a release step; needs only DATABASE_*)
    Migrate,
    /// Print the OpenAPI document (needs no configuration)
    Openapi,
    /// Give an existing account the admin role
    GrantAdmin { email: String },
    /// Give an existing account COUNT generated tasks (for benchmarks)
    SeedTasks {
        email: String,
        #[arg(value_parser = clap::value_parser!(i64).range(1..))]
        count: i64,
    },
}
// ANCHOR_END: cli

#[tokio::main]
async fn main() -> ExitCode {
    // One TLS crypto provider for the whole process (ring), chosen here, before anything
    // opens a TLS connection: to Postgres, a mail server, a telemetry collector, any other.
    let _ = rustls::crypto::ring::default_provider().install_default();
    // Usage errors exit with 2, as clap does for unknown arguments.
    match Cli::parse().command.unwrap_or(Command::Serve) {
        Command::Serve => configured(serve).await,
        Command::Migrate => migrate().await,
        Command::Openapi => openapi(),
        Command::GrantAdmin { email } => {
            configured(async |config| {
                let who = commands::grant_admin(&config, &email).await?;
                println!("{who} is now an admin");
                Ok(())
            })
            .await
        }
        Command::SeedTasks { email, count } => {
            configured(async |config| {
                let started = std::time::Instant::now();
                let inserted = commands::seed_tasks(&config, &email, count).await?;
                let took = started.elapsed().as_secs_f64();
                println!("inserted {inserted} tasks for {email} in {took:.1} s");
                Ok(())
            })
            .await
        }
    }
}

/// Serves until SIGTERM or Ctrl-C.
async fn serve(config: Config) -> anyhow::Result<()> {
    let app = Application::build(config).await?;
    // Installed before the service says it listens: from then on a SIGTERM is a graceful
    // stop, not the end of the process.
    let stop = http::server::shutdown_signal();
    app.run_until_stopped(stop).await
}

// ANCHOR: configured
/// Runs `command` with the whole configuration and telemetry, as serving does.
async fn configured(command: impl AsyncFnOnce(Config) -> anyhow::Result<()>) -> ExitCode {
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(err) => return usage(err),
    };
    let telemetry = match telemetry::init(&config.telemetry) {
        Ok(guard) => guard,
        Err(err) => return usage(format!("could not start telemetry: {err:#}")),
    };
    let outcome = command(config).await;
    if let Err(err) = &outcome {
        tracing::error!(error = format!("{err:#}"), "the command failed");
    }
    telemetry.shutdown();
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(_) => ExitCode::FAILURE,
    }
}
// ANCHOR_END: configured

/// The release step: needs only the `DATABASE_*` settings (no secrets).
async fn migrate() -> ExitCode {
    let config = match Config::database_from_env() {
        Ok(config) => config,
        Err(err) => return usage(err),
    };
    match commands::migrate(config).await {
        Ok(version) => {
            println!("migrations applied: the schema is at version {version}");
            ExitCode::SUCCESS
        }
        Err(err) => fail(format!("{err:#}")),
    }
}

/// Prints the OpenAPI document this build serves; needs no configuration.
fn openapi() -> ExitCode {
    match http::openapi().to_pretty_json() {
        Ok(json) => {
            println!("{json}");
            ExitCode::SUCCESS
        }
        Err(err) => fail(format!("could not serialize the OpenAPI document: {err}")),
    }
}

fn usage(problem: impl std::fmt::Display) -> ExitCode {
    eprintln!("{problem}");
    ExitCode::from(2)
}

fn fail(problem: String) -> ExitCode {
    eprintln!("{problem}");
    ExitCode::FAILURE
}
