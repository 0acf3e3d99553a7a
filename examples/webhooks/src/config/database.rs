//! Postgres: the URL, the pool and what happens at start-up.

use std::time::Duration;

use secrecy::SecretString;

use super::reader::Reader;

#[derive(Debug, Clone)]
pub struct DatabaseConfig {
    /// Holds the password, hence secret (`DATABASE_URL`).
    pub url: SecretString,
    pub max_connections: u32,
    pub min_connections: u32,
    /// Upper bound for opening one connection (`DATABASE_CONNECT_TIMEOUT_MS`).
    pub connect_timeout: Duration,
    /// Upper bound for waiting on a pooled connection (`DATABASE_ACQUIRE_TIMEOUT_MS`).
    pub acquire_timeout: Duration,
    /// Postgres cancels any statement running longer (`DATABASE_STATEMENT_TIMEOUT_MS`).
    pub statement_timeout: Duration,
    /// Create the database when it does not exist (`DATABASE_CREATE_IF_MISSING`).
    pub create_if_missing: bool,
    /// Apply pending migrations at start-up (`DATABASE_MIGRATE`).
    pub migrate: bool,
}

// ANCHOR: read
impl DatabaseConfig {
    pub(super) fn read(env: &mut Reader) -> Self {
        let config = Self {
            url: env.secret_url(
                "DATABASE_URL",
                "postgres://postgres:postgres@localhost:5432/app",
                &["postgres", "postgresql"],
            ),
            max_connections: env.count("DATABASE_MAX_CONNECTIONS", "16"),
            min_connections: env.parse("DATABASE_MIN_CONNECTIONS", "0"),
            connect_timeout: env.millis("DATABASE_CONNECT_TIMEOUT_MS", 5_000),
            acquire_timeout: env.millis("DATABASE_ACQUIRE_TIMEOUT_MS", 3_000),
            statement_timeout: env.millis("DATABASE_STATEMENT_TIMEOUT_MS", 5_000),
            create_if_missing: env.parse("DATABASE_CREATE_IF_MISSING", "true"),
            migrate: env.parse("DATABASE_MIGRATE", "true"),
        };
        env.require(
            config.min_connections <= config.max_connections,
            "DATABASE_MIN_CONNECTIONS must not exceed DATABASE_MAX_CONNECTIONS",
        );
        config
    }
}
// ANCHOR_END: read
