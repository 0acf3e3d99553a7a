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
    // opens a TLS connection: Postgres, SMTP, the OTLP exporter, webhook receivers.
    let _ = rustls::crypto::ring::default_provider().install_default();
    // Usage errors exit with 2, as clap does for unknown arguments.
    let command = Cli::parse().command.unwrap_or(Command::Serve);
    match command {
        Command::Openapi => match http::openapi().to_pretty_json() {
            Ok(json) => {
                println!("{json}");
                ExitCode::SUCCESS
            }
            Err(err) => fail(format!("could not serialize the OpenAPI document: {err}")),
        },
        Command::Migrate => {
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
        command => {
            let config = match Config::from_env() {
                Ok(config) => config,
                Err(err) => return usage(err),
            };
            let telemetry = match telemetry::init(&config.telemetry) {
                Ok(guard) => guard,
                Err(err) => return usage(format!("could not start telemetry: {err:#}")),
            };
            let outcome = run(command, config).await;
            if let Err(err) = &outcome {
                tracing::error!(error = format!("{err:#}"), "the command failed");
            }
            telemetry.shutdown();
            match outcome {
                Ok(()) => ExitCode::SUCCESS,
                Err(_) => ExitCode::FAILURE,
            }
        }
    }
}

async fn run(command: Command, config: Config) -> anyhow::Result<()> {
    match command {
        Command::GrantAdmin { email } => {
            let who = commands::grant_admin(&config, &email).await?;
            println!("{who} is now an admin");
        }
        Command::SeedTasks { email, count } => {
            let started = std::time::Instant::now();
            let inserted = commands::seed_tasks(&config, &email, count).await?;
            println!(
                "inserted {inserted} tasks for {email} in {:.1} s",
                started.elapsed().as_secs_f64()
            );
        }
        _ => {
            let app = Application::build(config).await?;
            // Installed before the service says it listens: from then on a SIGTERM is a
            // graceful stop, not the end of the process.
            let stop = http::server::shutdown_signal();
            app.run_until_stopped(stop).await?;
        }
    }
    Ok(())
}

fn usage(problem: impl std::fmt::Display) -> ExitCode {
    eprintln!("{problem}");
    ExitCode::from(2)
}

fn fail(problem: String) -> ExitCode {
    eprintln!("{problem}");
    ExitCode::FAILURE
}
