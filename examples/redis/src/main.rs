use std::process::ExitCode;

use anyhow::Context;
use tokio::net::TcpListener;

use task_svc::app::users::UserRepository;
use task_svc::config::Config;
use task_svc::domain::user::Role;
use task_svc::domain::user::email_key;
use task_svc::infra::postgres;
use task_svc::infra::users::PgUserRepository;
use task_svc::{AppState, app};
use task_svc::{server, telemetry};

const USAGE: &str = concat!(
    "usage: ",
    env!("CARGO_PKG_NAME"),
    "                     serve the API (configured by the environment)\n       ",
    env!("CARGO_PKG_NAME"),
    " grant-admin EMAIL   give an existing account the admin role",
);

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let admin_email = match args.as_slice() {
        [] => None,
        [command, email] if command == "grant-admin" => Some(email.clone()),
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
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
    let outcome = match admin_email {
        Some(email) => grant_admin(config, &email).await,
        None => run(config).await,
    };
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

/// The first admin cannot be made through the API (only admins change roles): an operator
/// runs this once against the database.
async fn grant_admin(config: Config, email: &str) -> anyhow::Result<()> {
    let db = postgres::connect(&config.database).await?;
    let users = PgUserRepository(db.clone());
    let user = users
        .set_role_by_email(&email_key(email), Role::Admin)
        .await
        .map_err(|err| anyhow::anyhow!("{err}"))?
        .with_context(|| format!("no account has the email {email:?}: register it first"))?;
    db.close().await;
    println!("{} ({}) is now an admin", user.email, user.id);
    Ok(())
}
