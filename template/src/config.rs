//! Typed configuration, read once from the environment at start-up.
//!
//! Every variable is documented in `.env.example`. Loading collects *all* problems before it
//! fails, so one run tells the operator everything that is wrong, each line naming its
//! variable. Secrets are held in [`SecretString`], whose `Debug` prints `[REDACTED]`.

use std::{fmt, net::SocketAddr, str::FromStr, time::Duration};

use secrecy::SecretString;
use tracing_subscriber::EnvFilter;

/// The whole configuration of the service.
#[derive(Debug, Clone)]
pub struct Config {
    pub http: HttpConfig,
    pub database: DatabaseConfig,
{%- if redis %}
    pub redis: RedisConfig,
{%- endif %}
    pub telemetry: TelemetryConfig,
}

#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Address the server listens on (`APP_ADDR`).
    pub addr: SocketAddr,
    /// A request that takes longer is answered with 503 (`HTTP_REQUEST_TIMEOUT_MS`).
    pub request_timeout: Duration,
    /// Larger request bodies are refused with 413 (`HTTP_BODY_LIMIT_BYTES`).
    pub body_limit_bytes: usize,
    /// Origins allowed by CORS; empty means no cross-origin access (`CORS_ALLOWED_ORIGINS`).
    pub cors_allowed_origins: Vec<String>,
    /// How long in-flight requests may run after a shutdown signal (`SHUTDOWN_DRAIN_TIMEOUT_MS`).
    pub drain_timeout: Duration,
}

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
    /// Create the database when it does not exist (`DATABASE_CREATE_IF_MISSING`).
    pub create_if_missing: bool,
    /// Apply pending migrations at start-up (`DATABASE_MIGRATE`).
    pub migrate: bool,
}
{%- if redis %}

#[derive(Debug, Clone)]
pub struct RedisConfig {
    /// May hold a password, hence secret (`REDIS_URL`).
    pub url: SecretString,
    /// Upper bound for connecting and for one command (`REDIS_TIMEOUT_MS`).
    pub timeout: Duration,
}
{%- endif %}

#[derive(Debug, Clone)]
pub struct TelemetryConfig {
    /// `pretty` for people, `json` for log pipelines (`LOG_FORMAT`).
    pub log_format: LogFormat,
    /// An `EnvFilter` directive such as `info,sqlx=warn` (`LOG_LEVEL`).
    pub log_level: String,
    /// Base URL of an OTLP/HTTP receiver; traces are exported only when set
    /// (`OTEL_EXPORTER_OTLP_ENDPOINT`).
    pub otlp_endpoint: Option<String>,
    /// The `service.name` resource attribute (`OTEL_SERVICE_NAME`).
    pub service_name: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Pretty,
    Json,
}

impl FromStr for LogFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "pretty" => Ok(Self::Pretty),
            "json" => Ok(Self::Json),
            _ => Err("expected `pretty` or `json`".into()),
        }
    }
}

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

impl Config {
    /// Reads `.env` when present (a malformed file is an error), then the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        if let Err(err) = dotenvy::dotenv()
            && !err.not_found()
        {
            return Err(ConfigError(vec![format!(".env could not be read: {err}")]));
        }
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Builds the configuration from any source of variables; tests pass a map.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut env = Reader {
            lookup: &lookup,
            problems: Vec::new(),
        };
        let config = Config {
            http: HttpConfig {
                addr: env.parse("APP_ADDR", "127.0.0.1:8080"),
                request_timeout: env.millis("HTTP_REQUEST_TIMEOUT_MS", 10_000),
                body_limit_bytes: env.parse("HTTP_BODY_LIMIT_BYTES", "1048576"),
                cors_allowed_origins: env.origins("CORS_ALLOWED_ORIGINS"),
                drain_timeout: env.millis("SHUTDOWN_DRAIN_TIMEOUT_MS", 20_000),
            },
            database: DatabaseConfig {
                url: env.postgres_url("DATABASE_URL"),
                max_connections: env.parse("DATABASE_MAX_CONNECTIONS", "16"),
                min_connections: env.parse("DATABASE_MIN_CONNECTIONS", "0"),
                connect_timeout: env.millis("DATABASE_CONNECT_TIMEOUT_MS", 5_000),
                acquire_timeout: env.millis("DATABASE_ACQUIRE_TIMEOUT_MS", 3_000),
                create_if_missing: env.parse("DATABASE_CREATE_IF_MISSING", "true"),
                migrate: env.parse("DATABASE_MIGRATE", "true"),
            },
{%- if redis %}
            redis: RedisConfig {
                url: env.redis_url("REDIS_URL"),
                timeout: env.millis("REDIS_TIMEOUT_MS", 2_000),
            },
{%- endif %}
            telemetry: TelemetryConfig {
                log_format: env.parse("LOG_FORMAT", "pretty"),
                log_level: env.log_filter("LOG_LEVEL", "info,sqlx=warn"),
                otlp_endpoint: env.optional_url("OTEL_EXPORTER_OTLP_ENDPOINT"),
                service_name: env.string("OTEL_SERVICE_NAME", env!("CARGO_PKG_NAME")),
            },
        };
        if config.database.min_connections > config.database.max_connections {
            env.problems
                .push("DATABASE_MIN_CONNECTIONS must not exceed DATABASE_MAX_CONNECTIONS".into());
        }
        if config.database.max_connections == 0 {
            env.problems
                .push("DATABASE_MAX_CONNECTIONS must be at least 1".into());
        }
        if env.problems.is_empty() {
            Ok(config)
        } else {
            Err(ConfigError(env.problems))
        }
    }
}

/// Reads variables and records what is wrong instead of stopping at the first problem.
struct Reader<'a> {
    lookup: &'a dyn Fn(&str) -> Option<String>,
    problems: Vec<String>,
}

impl Reader<'_> {
    /// The trimmed value, with empty treated as unset.
    fn get(&self, name: &str) -> Option<String> {
        (self.lookup)(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    fn string(&self, name: &str, default: &str) -> String {
        self.get(name).unwrap_or_else(|| default.to_owned())
    }

    /// Parses the variable, or `default` when unset. On a bad value the problem is recorded
    /// and the default stands in, so loading can go on and report every problem at once.
    fn parse<T>(&mut self, name: &str, default: &str) -> T
    where
        T: FromStr,
        T::Err: fmt::Display,
    {
        let raw = self.string(name, default);
        raw.parse().unwrap_or_else(|err| {
            self.problems
                .push(format!("{name}={raw:?} is not valid: {err}"));
            default
                .parse()
                .unwrap_or_else(|_| panic!("the built-in default of {name} must parse"))
        })
    }

    fn millis(&mut self, name: &str, default: u64) -> Duration {
        let ms: u64 = self.parse(name, &default.to_string());
        if ms == 0 && !self.problems.iter().any(|p| p.starts_with(name)) {
            self.problems
                .push(format!("{name} must be greater than 0 milliseconds"));
        }
        Duration::from_millis(ms)
    }

    fn required(&mut self, name: &str, example: &str) -> Option<String> {
        let value = self.get(name);
        if value.is_none() {
            self.problems
                .push(format!("{name} is required (for example {example})"));
        }
        value
    }

    /// Checks the scheme without ever echoing the value: it may contain a password.
    fn secret_url(&mut self, name: &str, example: &str, schemes: &[&str]) -> SecretString {
        let Some(url) = self.required(name, example) else {
            return SecretString::from(String::new());
        };
        if !schemes.iter().any(|s| url.starts_with(&format!("{s}://"))) {
            self.problems.push(format!(
                "{name} must start with {} (value hidden: it may hold a password)",
                schemes
                    .iter()
                    .map(|s| format!("{s}://"))
                    .collect::<Vec<_>>()
                    .join(" or ")
            ));
        }
        SecretString::from(url)
    }

    fn postgres_url(&mut self, name: &str) -> SecretString {
        self.secret_url(
            name,
            "postgres://postgres:postgres@localhost:5432/app",
            &["postgres", "postgresql"],
        )
    }
{%- if redis %}

    fn redis_url(&mut self, name: &str) -> SecretString {
        self.secret_url(name, "redis://127.0.0.1:6379", &["redis", "rediss"])
    }
{%- endif %}

    fn optional_url(&mut self, name: &str) -> Option<String> {
        let url = self.get(name)?;
        if url.starts_with("http://") || url.starts_with("https://") {
            Some(url.trim_end_matches('/').to_owned())
        } else {
            self.problems
                .push(format!("{name}={url:?} must be an http:// or https:// URL"));
            None
        }
    }

    fn origins(&mut self, name: &str) -> Vec<String> {
        let Some(raw) = self.get(name) else {
            return Vec::new();
        };
        let mut origins = Vec::new();
        for origin in raw.split(',').map(str::trim).filter(|o| !o.is_empty()) {
            let well_formed = (origin.starts_with("http://") || origin.starts_with("https://"))
                && !origin.ends_with('/')
                && axum::http::HeaderValue::from_str(origin).is_ok();
            if well_formed {
                origins.push(origin.to_owned());
            } else {
                self.problems.push(format!(
                    "{name} holds {origin:?}: an origin is scheme://host[:port] with no path or trailing slash"
                ));
            }
        }
        origins
    }

    fn log_filter(&mut self, name: &str, default: &str) -> String {
        let directive = self.string(name, default);
        if let Err(err) = EnvFilter::try_new(&directive) {
            self.problems
                .push(format!("{name}={directive:?} is not a valid filter: {err}"));
        }
        directive
    }
}
