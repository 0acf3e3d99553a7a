use std::process::ExitCode;

use anyhow::Context;
use futures::FutureExt;
use tokio::net::TcpListener;

use task_svc::app::audit::SecurityEvent;
use task_svc::app::audit::SecurityEventStore;
use task_svc::app::users::UserRepository;
use task_svc::config::Config;
use task_svc::domain::user::Role;
use task_svc::domain::user::email_key;
use task_svc::http::openapi;
use task_svc::infra::audit::PgSecurityEventStore;
use task_svc::infra::mail;
use task_svc::infra::postgres;
use task_svc::infra::users::PgUserRepository;
use task_svc::{AppState, app};
use task_svc::{server, telemetry};

const USAGE: &str = concat!(
    "usage: ",
    env!("CARGO_PKG_NAME"),
    "                         serve the API (configured by the environment)\n       ",
    env!("CARGO_PKG_NAME"),
    " migrate                 apply pending migrations, then exit (a release step)\n       ",
    env!("CARGO_PKG_NAME"),
    " openapi                 print the OpenAPI document (no configuration needed)\n       ",
    env!("CARGO_PKG_NAME"),
    " grant-admin EMAIL       give an existing account the admin role\n       ",
    env!("CARGO_PKG_NAME"),
    " seed-tasks EMAIL COUNT  give an existing account COUNT generated tasks (benchmarks)",
);

enum Command {
    Serve,
    GrantAdmin(String),
    SeedTasks(String, i64),
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // Needs no configuration: prints the OpenAPI document this build serves (`just openapi`).
    if args == ["openapi"] {
        match openapi().to_pretty_json() {
            Ok(json) => {
                println!("{json}");
                return ExitCode::SUCCESS;
            }
            Err(err) => {
                eprintln!("could not serialize the OpenAPI document: {err}");
                return ExitCode::FAILURE;
            }
        }
    }
    // Reads only the DATABASE_* settings: a release step has no business with the secrets.
    if args == ["migrate"] {
        return migrate().await;
    }
    let command = match args.as_slice() {
        [] => Command::Serve,
        [command, email] if command == "grant-admin" => Command::GrantAdmin(email.clone()),
        [command, email, count] if command == "seed-tasks" => match count.parse::<i64>() {
            Ok(count) if count > 0 => Command::SeedTasks(email.clone(), count),
            _ => {
                eprintln!("COUNT must be a positive number\n{USAGE}");
                return ExitCode::from(2);
            }
        },
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
    let outcome = match command {
        Command::Serve => run(config).await,
        Command::GrantAdmin(email) => grant_admin(config, &email).await,
        Command::SeedTasks(email, count) => seed_tasks(config, &email, count).await,
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
    // One signal stops both: the server stops accepting and the worker stops claiming, and
    // each drains what it has in hand. Installed before "listening": from then on a SIGTERM
    // is a graceful stop.
    let shutdown = server::shutdown_signal().shared();
    tracing::info!(addr = %listener.local_addr()?, "listening");
    let runner = state.job_runner(mail::from_config(&config.mail)?);
    let worker = state
        .jobs
        .start_worker(runner, &config.jobs, shutdown.clone());
    let stop_accepting = server::after_readiness_drain(
        shutdown,
        state.readiness.clone(),
        config.http.readiness_delay,
    );
    server::serve(
        listener,
        app(state.clone(), &config.http),
        stop_accepting,
        config.http.drain_timeout,
    )
    .await?;
    if let Err(err) = worker.await {
        tracing::error!(error = %err, "the job worker failed");
    }
    // Store the security events still queued before the pool goes.
    if tokio::time::timeout(std::time::Duration::from_secs(5), state.audit.flush())
        .await
        .is_err()
    {
        tracing::warn!("security events still queued at shutdown were not stored");
    }
    state.db.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// Deployments run this once per release, before the new version starts (Kubernetes Job, Fly
/// `release_command`, Render `preDeployCommand`, DigitalOcean pre-deploy job), and run the
/// service itself with `DATABASE_MIGRATE=false`: one migrator, and a failed migration stops
/// the release before any instance of the new version serves.
async fn migrate() -> ExitCode {
    let mut config = match Config::database_from_env() {
        Ok(config) => config,
        Err(err) => {
            eprintln!("{err}");
            return ExitCode::from(2);
        }
    };
    config.migrate = true;
    match postgres::connect(&config).await {
        Ok(db) => {
            db.close().await;
            let latest = postgres::MIGRATOR.iter().map(|m| m.version).max();
            println!(
                "migrations applied: the schema is at version {}",
                latest.unwrap_or_default()
            );
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("{err:#}");
            ExitCode::FAILURE
        }
    }
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
    let event = SecurityEvent::new("admin_granted")
        .user(user.id)
        .detail(serde_json::json!({ "by": "grant-admin command" }));
    PgSecurityEventStore(db.clone())
        .insert(&[event])
        .await
        .map_err(|err| anyhow::anyhow!("{err}"))?;
    db.close().await;
    println!("{} ({}) is now an admin", user.email, user.id);
    Ok(())
}

/// Generates `count` tasks for an account in one statement (a million take seconds), with
/// spread-out creation times, statuses, due dates and titles, for benchmarks and for
/// `EXPLAIN` on a realistic table.
async fn seed_tasks(config: Config, email: &str, count: i64) -> anyhow::Result<()> {
    let db = postgres::connect(&config.database).await?;
    let owner = PgUserRepository(db.clone())
        .credentials(&email_key(email))
        .await
        .map_err(|err| anyhow::anyhow!("{err}"))?
        .with_context(|| format!("no account has the email {email:?}: register it first"))?
        .user
        .id;
    let started = std::time::Instant::now();
    let mut tx = db.begin().await?;
    // One statement writes every row: DATABASE_STATEMENT_TIMEOUT_MS bounds requests, and a
    // million rows take longer than any request should.
    sqlx::query("SET LOCAL statement_timeout = 0")
        .execute(&mut *tx)
        .await?;
    let inserted = sqlx::query!(
        "INSERT INTO tasks (id, owner_id, title, description, status, due_at, created_at, updated_at)
         SELECT gen_random_uuid(), $1, 'Task ' || substr(md5(n::text), 1, 12), '',
                (ARRAY['todo', 'in_progress', 'done'])[1 + n % 3],
                CASE WHEN n % 4 = 0 THEN NULL ELSE now() + (n % 365) * interval '1 day' END,
                now() - n * interval '1 second', now() - n * interval '1 second'
         FROM generate_series(1, $2::bigint) AS n",
        owner,
        count,
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();
    tx.commit().await?;
    sqlx::query!("ANALYZE tasks").execute(&db).await?;
    db.close().await;
    println!(
        "inserted {inserted} tasks for {email} in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
