//! Redis through a connection manager, which reconnects by itself after a failure.

use anyhow::Context;
use async_trait::async_trait;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use secrecy::ExposeSecret;

use crate::{app::readiness::Probe, config::RedisConfig};

/// Opens the connection; fails within `REDIS_TIMEOUT_MS` when Redis cannot be reached at
/// start-up (the manager's own retries, meant for reconnecting later, would take much longer).
pub async fn connect(config: &RedisConfig) -> anyhow::Result<ConnectionManager> {
    let manager = ConnectionManager::new_with_config(client(config)?, manager_config(config));
    tokio::time::timeout(config.timeout, manager)
        .await
        .context("timed out connecting to Redis (REDIS_URL)")?
        .context("could not connect to Redis (REDIS_URL)")
}

/// A manager that connects on first use: for tests and tools that must not fail at start-up.
pub fn connect_lazy(config: &RedisConfig) -> anyhow::Result<ConnectionManager> {
    Ok(ConnectionManager::new_lazy_with_config(
        client(config)?,
        manager_config(config),
    )?)
}

fn client(config: &RedisConfig) -> anyhow::Result<redis::Client> {
    redis::Client::open(config.url.expose_secret()).context("REDIS_URL is not a valid Redis URL")
}

fn manager_config(config: &RedisConfig) -> ConnectionManagerConfig {
    ConnectionManagerConfig::new()
        .set_connection_timeout(Some(config.timeout))
        .set_response_timeout(Some(config.timeout))
}

/// Readiness probe: a `PING` answered with `PONG`.
pub struct RedisProbe(pub ConnectionManager);

#[async_trait]
impl Probe for RedisProbe {
    fn name(&self) -> &'static str {
        "redis"
    }

    async fn check(&self) -> Result<(), String> {
        let mut connection = self.0.clone();
        let reply: String = redis::cmd("PING")
            .query_async(&mut connection)
            .await
            .map_err(|err| err.to_string())?;
        if reply == "PONG" {
            Ok(())
        } else {
            Err(format!("unexpected reply to PING: {reply}"))
        }
    }
}
