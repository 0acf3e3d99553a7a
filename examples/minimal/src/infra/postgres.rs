//! The Postgres pool: creation of the database when missing, pool limits, migrations.

use std::time::{Duration, Instant};

use anyhow::Context;
use async_trait::async_trait;
use opentelemetry::{KeyValue, metrics::Meter};
use secrecy::ExposeSecret;
use sqlx::{
    Connection, PgConnection, PgPool, Postgres,
    migrate::{MigrateDatabase, Migrator},
    postgres::{PgConnectOptions, PgPoolOptions},
};

use crate::{app::readiness::Probe, config::DatabaseConfig, error::AppError};

// ANCHOR: migrator
/// The migrations in `migrations/`, embedded in the binary at compile time. A database ahead
/// of this build is accepted: after a rollback the previous version runs on the newer schema,
/// which migrations keep compatible (expand now, contract in a later release; see the runbook).
pub static MIGRATOR: Migrator = Migrator {
    ignore_missing: true,
    ..sqlx::migrate!()
};
// ANCHOR_END: migrator

// ANCHOR: connect
/// Connects, creating the database first when configured to, and applies pending migrations
/// when configured to. Fails fast: a service that cannot reach its database should not start.
pub async fn connect(config: &DatabaseConfig) -> anyhow::Result<PgPool> {
    let url = config.url.expose_secret();
    if config.create_if_missing {
        let exists = tokio::time::timeout(config.connect_timeout, Postgres::database_exists(url))
            .await
            .context("timed out checking whether the database exists (DATABASE_URL)")?
            .context("could not reach Postgres to check the database (DATABASE_URL)")?;
        if !exists {
            Postgres::create_database(url)
                .await
                .context("could not create the database named in DATABASE_URL")?;
            tracing::info!("created the database named in DATABASE_URL");
        }
    }
    let options = connect_options(config)?;
    let pool = tokio::time::timeout(
        config.connect_timeout,
        pool_options(config).connect_with(options),
    )
    .await
    .context("timed out connecting to Postgres (DATABASE_URL)")?
    .context("could not connect to Postgres (DATABASE_URL)")?;
    if config.migrate {
        // On a connection of its own without the statement timeout: building an index on a
        // large table may rightly take longer than any request should.
        let options: PgConnectOptions = url
            .parse()
            .context("DATABASE_URL is not a valid Postgres URL")?;
        let mut conn = PgConnection::connect_with(&options)
            .await
            .context("could not connect to Postgres to migrate (DATABASE_URL)")?;
        MIGRATOR
            .run(&mut conn)
            .await
            .context("could not apply the database migrations")?;
        conn.close().await?;
    }
    Ok(pool)
}
// ANCHOR_END: connect

/// A pool that connects on first use: for tests and tools that must not fail at start-up.
pub fn connect_lazy(config: &DatabaseConfig) -> anyhow::Result<PgPool> {
    Ok(pool_options(config).connect_lazy_with(connect_options(config)?))
}

// ANCHOR: statement_timeout
/// The URL's settings plus a `statement_timeout` on every connection: a runaway query fails
/// (and its request gets 503) instead of holding a pooled connection indefinitely.
fn connect_options(config: &DatabaseConfig) -> anyhow::Result<PgConnectOptions> {
    let options: PgConnectOptions = config
        .url
        .expose_secret()
        .parse()
        .context("DATABASE_URL is not a valid Postgres URL")?;
    let timeout_ms = config.statement_timeout.as_millis().to_string();
    Ok(options.options([("statement_timeout", timeout_ms.as_str())]))
}
// ANCHOR_END: statement_timeout

// ANCHOR: pool_limits
fn pool_options(config: &DatabaseConfig) -> PgPoolOptions {
    PgPoolOptions::new()
        .max_connections(config.max_connections)
        .min_connections(config.min_connections)
        .acquire_timeout(config.acquire_timeout)
}
// ANCHOR_END: pool_limits

/// Reports the pool's connections as `db.client.connection.count` (by `state`: `idle` or `used`)
/// and its limit as `db.client.connection.max`, read when metrics are collected; and how long
/// taking a connection takes as `db.client.connection.wait_time`, sampled every `every`.
pub fn observe_pool(pool: &PgPool, max_connections: u32, every: Duration) {
    let meter = opentelemetry::global::meter(env!("CARGO_PKG_NAME"));
    let name = KeyValue::new("db.client.connection.pool.name", "postgres");
    sample_wait_time(pool.clone(), &meter, name.clone(), every);
    let pool = pool.clone();
    let attributes = name.clone();
    meter
        .i64_observable_gauge("db.client.connection.count")
        .with_unit("{connection}")
        .with_description("Connections in the pool, by state")
        .with_callback(move |observer| {
            let idle = i64::try_from(pool.num_idle()).unwrap_or(i64::MAX);
            let used = i64::from(pool.size()) - idle;
            let state = |s: &'static str| {
                [
                    attributes.clone(),
                    KeyValue::new("db.client.connection.state", s),
                ]
            };
            observer.observe(idle, &state("idle"));
            observer.observe(used.max(0), &state("used"));
        })
        .build();
    meter
        .i64_observable_gauge("db.client.connection.max")
        .with_unit("{connection}")
        .with_description("The most connections the pool may open")
        .with_callback(move |observer| {
            observer.observe(i64::from(max_connections), std::slice::from_ref(&name))
        })
        .build();
}

/// Repositories hand the pool to SQLx, which waits for a connection inside each query, out of
/// our sight; so a task takes (and at once returns) a connection every `every` and records how
/// long that took: the wait a request would have seen at that moment. When every connection is
/// busy this is the queueing that precedes `DATABASE_ACQUIRE_TIMEOUT_MS` errors.
fn sample_wait_time(pool: PgPool, meter: &Meter, name: KeyValue, every: Duration) {
    let wait_time = meter
        .f64_histogram("db.client.connection.wait_time")
        .with_unit("s")
        .with_description("Time to obtain a pooled connection, sampled")
        .with_boundaries(vec![
            0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0,
        ])
        .build();
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let started = Instant::now();
            match pool.acquire().await {
                Ok(connection) => drop(connection),
                Err(sqlx::Error::PoolClosed) => return,
                // A timeout is a wait too, and the longest kind.
                Err(_) => {}
            }
            let attributes = std::slice::from_ref(&name);
            wait_time.record(started.elapsed().as_secs_f64(), attributes);
        }
    });
}

// ANCHOR: postgres_probe
/// Readiness probe: one round trip on a pooled connection.
pub struct PostgresProbe(pub PgPool);

#[async_trait]
impl Probe for PostgresProbe {
    fn name(&self) -> &'static str {
        "postgres"
    }

    async fn check(&self) -> Result<(), String> {
        sqlx::query("SELECT 1")
            .execute(&self.0)
            .await
            .map(drop)
            .map_err(|err| err.to_string())
    }
}
// ANCHOR_END: postgres_probe

// ANCHOR: from_sqlx_error
/// Database errors in the service's terms. Most are internal (500, logged); some are the
/// client's doing or worth a retry, and say so.
impl From<sqlx::Error> for AppError {
    fn from(err: sqlx::Error) -> Self {
        match err {
            sqlx::Error::RowNotFound => Self::NotFound("not found".into()),
            sqlx::Error::PoolTimedOut => Self::Unavailable {
                detail: "the database is busy, try again shortly".into(),
                retry_after: Some(Duration::from_secs(1)),
            },
            // Class 22 (data exception: a value out of range, a NUL byte in text, ...) can only
            // come from a value the client sent that slipped past validation: their mistake.
            sqlx::Error::Database(db) if db.code().is_some_and(|code| code.starts_with("22")) => {
                tracing::warn!(error = %db, "the database refused a value from the request");
                Self::BadRequest("a value in the request is out of range or malformed".into())
            }
            // 57014: cancelled by `statement_timeout` (DATABASE_STATEMENT_TIMEOUT_MS).
            sqlx::Error::Database(db) if db.code().as_deref() == Some("57014") => {
                tracing::warn!(error = %db, "a statement ran past the statement timeout");
                Self::Unavailable {
                    detail: "the database took too long, try again shortly".into(),
                    retry_after: Some(Duration::from_secs(1)),
                }
            }
            other => Self::Internal(other.into()),
        }
    }
}
// ANCHOR_END: from_sqlx_error

// ANCHOR: stored
/// A stored name read back into its enum (a status, a role). Columns like these have a CHECK
/// constraint, so a failure means the schema and this code disagree: a 500, logged.
pub fn stored<T: std::str::FromStr>(column: &str, value: &str) -> Result<T, AppError> {
    value.parse().map_err(|_| {
        AppError::Internal(anyhow::anyhow!(
            "{column} holds {value:?}, which this version cannot read"
        ))
    })
}
// ANCHOR_END: stored

/// The one place a unique violation becomes a 409: `constraint` names the unique index or
/// constraint, `message` says what clashed. Other errors convert as usual.
pub fn conflict_on(
    constraint: &'static str,
    message: &'static str,
) -> impl FnOnce(sqlx::Error) -> AppError {
    move |err| match &err {
        sqlx::Error::Database(db)
            if db.is_unique_violation() && db.constraint() == Some(constraint) =>
        {
            AppError::Conflict(message.into())
        }
        _ => err.into(),
    }
}

// ANCHOR: retry
/// The most attempts [`with_retry`] makes.
pub const RETRY_ATTEMPTS: u32 = 3;

/// Runs `operation` again, at most [`RETRY_ATTEMPTS`] times in all with a doubling pause
/// from 50 ms, when it failed in a way that a retry may fix: a serialization failure or a
/// deadlock (Postgres rolled the transaction back) or an I/O error on the connection. Use it
/// only for reads and for whole transactions whose repetition is harmless; never for a lone
/// write that may have been applied before the connection dropped.
pub async fn with_retry<T, F, Fut>(mut operation: F) -> Result<T, sqlx::Error>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, sqlx::Error>>,
{
    let mut pause = std::time::Duration::from_millis(50);
    let mut attempt = 1;
    loop {
        match operation().await {
            Err(err) if attempt < RETRY_ATTEMPTS && is_transient(&err) => {
                tracing::warn!(error = %err, attempt, "transient database error, retrying");
                tokio::time::sleep(pause).await;
                pause *= 2;
                attempt += 1;
            }
            outcome => return outcome,
        }
    }
}
// ANCHOR_END: retry

// ANCHOR: is_transient
/// Serialization failure (40001), deadlock (40P01), or a broken connection.
pub fn is_transient(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Database(db) => matches!(db.code().as_deref(), Some("40001" | "40P01")),
        sqlx::Error::Io(_) => true,
        _ => false,
    }
}
// ANCHOR_END: is_transient
