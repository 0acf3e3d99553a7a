//! The Postgres pool: creation of the database when missing, pool limits, migrations.

use anyhow::Context;
use async_trait::async_trait;
use opentelemetry::KeyValue;
use secrecy::ExposeSecret;
use sqlx::{
    PgPool, Postgres,
    migrate::{MigrateDatabase, Migrator},
    postgres::PgPoolOptions,
};

use crate::{app::readiness::Probe, config::DatabaseConfig, error::AppError};

/// The migrations in `migrations/`, embedded in the binary at compile time.
pub static MIGRATOR: Migrator = sqlx::migrate!();

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
    let pool = tokio::time::timeout(config.connect_timeout, pool_options(config).connect(url))
        .await
        .context("timed out connecting to Postgres (DATABASE_URL)")?
        .context("could not connect to Postgres (DATABASE_URL)")?;
    if config.migrate {
        MIGRATOR
            .run(&pool)
            .await
            .context("could not apply the database migrations")?;
    }
    Ok(pool)
}

/// A pool that connects on first use: for tests and tools that must not fail at start-up.
pub fn connect_lazy(config: &DatabaseConfig) -> anyhow::Result<PgPool> {
    pool_options(config)
        .connect_lazy(config.url.expose_secret())
        .context("DATABASE_URL is not a valid Postgres URL")
}

fn pool_options(config: &DatabaseConfig) -> PgPoolOptions {
    PgPoolOptions::new()
        .max_connections(config.max_connections)
        .min_connections(config.min_connections)
        .acquire_timeout(config.acquire_timeout)
}

/// Reports the pool's connections as `db.client.connection.count` (by `state`: `idle` or `used`)
/// and its limit as `db.client.connection.max`, read when metrics are collected.
pub fn observe_pool(pool: &PgPool, max_connections: u32) {
    let meter = opentelemetry::global::meter(env!("CARGO_PKG_NAME"));
    let name = KeyValue::new("db.client.connection.pool.name", "postgres");
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
