//! Typed configuration, read once from the environment at start-up.
//!
//! Every variable is documented in `.env.example`. Each section of the configuration has a
//! file of its own that reads and checks its variables; loading collects *all* problems before
//! it fails, so one run tells the operator everything that is wrong, each line naming its
//! variable. Secrets are held in [`secrecy::SecretString`], whose `Debug` prints `[REDACTED]`.

mod auth;
mod database;
mod http;
mod jobs;
mod limits;
mod mail;
mod reader;
{%- if redis %}
mod redis;
{%- endif %}
mod telemetry;
{%- if webhooks %}
mod webhooks;
{%- endif %}

use std::fmt;

pub use auth::{AuthConfig, Peppers};
pub use database::DatabaseConfig;
pub use http::{HttpConfig, TrustedProxies};
pub use jobs::JobsConfig;
pub use limits::RateLimitConfig;
pub use mail::{MailConfig, MailTransport};
use reader::Reader;
{%- if redis %}
pub use redis::RedisConfig;
{%- endif %}
pub use telemetry::{LogFormat, TelemetryConfig};
{%- if webhooks %}
pub use webhooks::{InboundSecrets, WebhookConfig};
{%- endif %}

// ANCHOR: config
/// The whole configuration of the service.
#[derive(Debug, Clone)]
pub struct Config {
    pub http: HttpConfig,
    pub database: DatabaseConfig,
{%- if redis %}
    pub redis: RedisConfig,
{%- endif %}
    pub auth: AuthConfig,
    pub limits: RateLimitConfig,
    pub jobs: JobsConfig,
    pub mail: MailConfig,
{%- if webhooks %}
    pub webhooks: WebhookConfig,
{%- endif %}
    pub telemetry: TelemetryConfig,
}
// ANCHOR_END: config

// ANCHOR: config_error_display
/// Every problem found while loading, one per variable.
#[derive(Debug, thiserror::Error)]
pub struct ConfigError(pub Vec<String>);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "invalid configuration (see .env.example):")?;
        for problem in &self.0 {
            writeln!(f, "  - {problem}")?;
        }
        Ok(())
    }
}
// ANCHOR_END: config_error_display

impl Config {
    /// Reads `.env` when present (a malformed file is an error), then the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        load_dotenv()?;
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Only the database settings, for the `migrate` command: a release step that needs the
    /// database URL and nothing else (no JWT secret, no peppers).
    pub fn database_from_env() -> Result<DatabaseConfig, ConfigError> {
        load_dotenv()?;
        let lookup = |name: &str| std::env::var(name).ok();
        let mut env = Reader::new(&lookup);
        let database = DatabaseConfig::read(&mut env);
        env.finish(database)
    }

    // ANCHOR: from_lookup
    /// Builds the configuration from any source of variables; tests pass a map.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut env = Reader::new(&lookup);
        let config = Config {
            http: HttpConfig::read(&mut env),
            database: DatabaseConfig::read(&mut env),
{%- if redis %}
            redis: RedisConfig::read(&mut env),
{%- endif %}
            auth: AuthConfig::read(&mut env),
            limits: RateLimitConfig::read(&mut env),
            jobs: JobsConfig::read(&mut env),
            mail: MailConfig::read(&mut env),
{%- if webhooks %}
            webhooks: WebhookConfig::read(&mut env),
{%- endif %}
            telemetry: TelemetryConfig::read(&mut env),
        };
{%- if webhooks %}
        config.webhooks.check_against(&config.jobs, &mut env);
{%- endif %}
        env.finish(config)
    }
    // ANCHOR_END: from_lookup
}

// ANCHOR: load_dotenv
/// Reads `.env` into the environment when present; a malformed file is an error.
fn load_dotenv() -> Result<(), ConfigError> {
    match dotenvy::dotenv() {
        Err(err) if !err.not_found() => {
            Err(ConfigError(vec![format!(".env could not be read: {err}")]))
        }
        _ => Ok(()),
    }
}
// ANCHOR_END: load_dotenv
