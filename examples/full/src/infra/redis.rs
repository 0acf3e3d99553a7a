//! Redis as this service uses it: an accelerator, never the only copy of anything.
//!
//! Every command goes through [`Redis::run`], which bounds it by `REDIS_TIMEOUT_MS` and trips
//! a breaker on failure: for [`BREAKER_COOLDOWN`] afterwards, commands fail at once instead of
//! each waiting for a dead server, and callers fall back (a cache miss, the in-memory limiter,
//! 503 for event streams). After the cooldown the next command tries again; the connection
//! manager reconnects by itself, so the service recovers without a restart.

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use anyhow::Context;
use async_trait::async_trait;
use redis::{
    FromRedisValue,
    aio::{ConnectionManager, ConnectionManagerConfig},
};
use secrecy::ExposeSecret;

use crate::{app::readiness::Probe, config::RedisConfig};

/// How long Redis counts as down after a failed command.
pub const BREAKER_COOLDOWN: Duration = Duration::from_secs(1);

/// Redis did not answer (in time); the caller falls back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("Redis is unavailable")]
pub struct Unavailable;

#[derive(Clone)]
pub struct Redis {
    manager: ConnectionManager,
    client: redis::Client,
    prefix: Arc<str>,
    timeout: Duration,
    task_cache_ttl: Duration,
    /// While `Some`, and until that instant, Redis counts as down.
    open_until: Arc<Mutex<Option<Instant>>>,
}

impl Redis {
    /// Connects, failing within `REDIS_TIMEOUT_MS` when Redis cannot be reached at start-up (the
    /// manager's own retries, meant for reconnecting later, would take much longer).
    pub async fn connect(config: &RedisConfig) -> anyhow::Result<Self> {
        let client = client(config)?;
        let manager = ConnectionManager::new_with_config(client.clone(), manager_config(config));
        let manager = tokio::time::timeout(config.timeout, manager)
            .await
            .context("timed out connecting to Redis (REDIS_URL)")?
            .context("could not connect to Redis (REDIS_URL)")?;
        Ok(Self::new(manager, client, config))
    }

    /// Connects, or, when Redis does not answer, starts without it: Redis is optional (a
    /// cache, a shared limit, live events), so the service serves degraded, says so in
    /// `/readyz`, and connects once Redis answers. Otherwise a restart during a Redis outage
    /// would take down a service that keeps serving when the same outage starts later. A
    /// malformed `REDIS_URL` still fails.
    pub async fn connect_or_later(config: &RedisConfig) -> anyhow::Result<Self> {
        match Self::connect(config).await {
            Ok(redis) => Ok(redis),
            Err(err) => {
                // The outermost context only: it names the variable, never the URL.
                tracing::warn!(error = %err, "Redis does not answer: starting degraded");
                Self::connect_lazy(config)
            }
        }
    }

    /// Connects on first use: for tests and tools that must not fail at start-up.
    pub fn connect_lazy(config: &RedisConfig) -> anyhow::Result<Self> {
        let client = client(config)?;
        let manager =
            ConnectionManager::new_lazy_with_config(client.clone(), manager_config(config))?;
        Ok(Self::new(manager, client, config))
    }

    fn new(manager: ConnectionManager, client: redis::Client, config: &RedisConfig) -> Self {
        Self {
            manager,
            client,
            prefix: config.key_prefix.as_str().into(),
            timeout: config.timeout,
            task_cache_ttl: config.task_cache_ttl,
            open_until: Arc::default(),
        }
    }

    /// How long a task stays cached after a read (`TASK_CACHE_TTL_SECS`).
    pub fn task_cache_ttl(&self) -> Duration {
        self.task_cache_ttl
    }

    /// `name` under this service's prefix (`REDIS_KEY_PREFIX`), so several services, or
    /// several test runs, can share one Redis.
    pub fn key(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    // ANCHOR: run
    /// Runs one command, unless the breaker is open.
    pub async fn run<T: FromRedisValue>(&self, command: &redis::Cmd) -> Result<T, Unavailable> {
        if self.is_down() {
            return Err(Unavailable);
        }
        let mut connection = self.manager.clone();
        let outcome = tokio::time::timeout(self.timeout, command.query_async(&mut connection));
        self.observe(outcome.await)
    }
    // ANCHOR_END: run

    /// Runs a Lua script (atomic on the server), unless the breaker is open.
    pub async fn run_script<T: FromRedisValue>(
        &self,
        invocation: redis::ScriptInvocation<'_>,
    ) -> Result<T, Unavailable> {
        if self.is_down() {
            return Err(Unavailable);
        }
        let mut connection = self.manager.clone();
        let outcome = tokio::time::timeout(self.timeout, invocation.invoke_async(&mut connection));
        self.observe(outcome.await)
    }

    /// A dedicated connection for pub/sub (a subscribed connection can do nothing else).
    pub async fn pubsub(&self) -> Result<redis::aio::PubSub, Unavailable> {
        let connecting = tokio::time::timeout(self.timeout, self.client.get_async_pubsub());
        self.observe(connecting.await)
    }

    /// `PING`, whatever the breaker says: the readiness probe, which also closes the breaker
    /// as soon as Redis is back.
    pub async fn ping(&self) -> Result<(), String> {
        let mut connection = self.manager.clone();
        let reply = tokio::time::timeout(
            self.timeout,
            redis::cmd("PING").query_async::<String>(&mut connection),
        )
        .await;
        match self.observe(reply) {
            Ok(reply) if reply == "PONG" => Ok(()),
            Ok(reply) => Err(format!("unexpected reply to PING: {reply}")),
            Err(Unavailable) => Err("no answer to PING".into()),
        }
    }

    /// The bound on one command (`REDIS_TIMEOUT_MS`).
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    pub fn is_down(&self) -> bool {
        self.lock()
            .is_some_and(|open_until| Instant::now() < open_until)
    }

    // ANCHOR: breaker
    fn observe<T>(
        &self,
        outcome: Result<redis::RedisResult<T>, tokio::time::error::Elapsed>,
    ) -> Result<T, Unavailable> {
        let error = match outcome {
            Ok(Ok(value)) => {
                if self.lock().take().is_some() {
                    tracing::info!("Redis answers again");
                }
                return Ok(value);
            }
            Ok(Err(err)) => err.to_string(),
            Err(_) => format!("no answer within {} ms", self.timeout.as_millis()),
        };
        let mut open_until = self.lock();
        if open_until.is_none() {
            tracing::warn!(
                error,
                "Redis is unavailable: falling back until it answers again"
            );
        }
        *open_until = Some(Instant::now() + BREAKER_COOLDOWN);
        Err(Unavailable)
    }
    // ANCHOR_END: breaker

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Instant>> {
        self.open_until
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn client(config: &RedisConfig) -> anyhow::Result<redis::Client> {
    redis::Client::open(config.url.expose_secret()).context("REDIS_URL is not a valid Redis URL")
}

fn manager_config(config: &RedisConfig) -> ConnectionManagerConfig {
    ConnectionManagerConfig::new()
        .set_connection_timeout(Some(config.timeout))
        .set_response_timeout(Some(config.timeout))
}

/// Readiness probe: a `PING` answered with `PONG`. Redis is optional: when it is down the
/// service is degraded (slower, limits per instance), not unavailable.
pub struct RedisProbe(pub Redis);

#[async_trait]
impl Probe for RedisProbe {
    fn name(&self) -> &'static str {
        "redis"
    }

    fn required(&self) -> bool {
        false
    }

    async fn check(&self) -> Result<(), String> {
        self.0.ping().await
    }
}
