//! The Postgres pool: creation of the database when missing, pool limits, migrations.

use anyhow::Context;
use async_trait::async_trait;
use secrecy::ExposeSecret;
use sqlx::{
    PgPool, Postgres,
    migrate::{MigrateDatabase, Migrator},
    postgres::PgPoolOptions,
};

use crate::{app::readiness::Probe, config::DatabaseConfig};

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
