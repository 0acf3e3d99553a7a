//! Redis: where it is, how long to wait for it, and how to name keys.

use std::time::Duration;

use secrecy::SecretString;

use super::reader::Reader;

#[derive(Debug, Clone)]
pub struct RedisConfig {
    /// May hold a password, hence secret (`REDIS_URL`).
    pub url: SecretString,
    /// Upper bound for connecting and for one command (`REDIS_TIMEOUT_MS`).
    pub timeout: Duration,
    /// Put before every key and channel name, so services can share a Redis
    /// (`REDIS_KEY_PREFIX`).
    pub key_prefix: String,
    /// How long a task stays cached after a read (`TASK_CACHE_TTL_SECS`).
    pub task_cache_ttl: Duration,
}

impl RedisConfig {
    pub(super) fn read(env: &mut Reader) -> Self {
        let config = Self {
            url: env.secret_url("REDIS_URL", "redis://127.0.0.1:6379", &["redis", "rediss"]),
            timeout: env.millis("REDIS_TIMEOUT_MS", 2_000),
            key_prefix: env.string("REDIS_KEY_PREFIX", concat!(env!("CARGO_PKG_NAME"), ":")),
            task_cache_ttl: env.seconds("TASK_CACHE_TTL_SECS", 60),
        };
        env.require(
            !config.key_prefix.contains(['*', '?', '[', ']', '\\']),
            "REDIS_KEY_PREFIX must not contain * ? [ ] or \\: Redis reads them as patterns",
        );
        config
    }
}
