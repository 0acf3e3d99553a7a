//! Typed configuration, read once from the environment at start-up.
//!
//! Every variable is documented in `.env.example`. Loading collects *all* problems before it
//! fails, so one run tells the operator everything that is wrong, each line naming its
//! variable. Secrets are held in [`SecretString`], whose `Debug` prints `[REDACTED]`.

use std::{fmt, net::SocketAddr, num::NonZeroU32, str::FromStr, time::Duration};

use secrecy::{ExposeSecret, SecretString};
use tracing_subscriber::EnvFilter;

/// The whole configuration of the service.
#[derive(Debug, Clone)]
pub struct Config {
    pub http: HttpConfig,
    pub database: DatabaseConfig,
    pub auth: AuthConfig,
    pub limits: RateLimitConfig,
    pub jobs: JobsConfig,
    pub mail: MailConfig,
    pub webhooks: WebhookConfig,
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
    /// After a shutdown signal, how long `/readyz` answers 503 while the server still accepts
    /// requests, so load balancers stop routing here before connections are refused
    /// (`SHUTDOWN_READINESS_DELAY_MS`, 0 to stop accepting at once).
    pub readiness_delay: Duration,
    /// Requests handled at once; more are answered 503 with `Retry-After` at once instead of
    /// queueing (`HTTP_MAX_IN_FLIGHT`). Health probes are never refused.
    pub max_in_flight: usize,
    /// How many reverse proxies in front of the service append to `X-Forwarded-For`; 0 means
    /// the peer address is the client and the header is ignored (`TRUSTED_PROXY_HOPS`).
    pub trusted_proxy_hops: usize,
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
    /// Postgres cancels any statement running longer (`DATABASE_STATEMENT_TIMEOUT_MS`).
    pub statement_timeout: Duration,
    /// Create the database when it does not exist (`DATABASE_CREATE_IF_MISSING`).
    pub create_if_missing: bool,
    /// Apply pending migrations at start-up (`DATABASE_MIGRATE`).
    pub migrate: bool,
}

#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// HMAC key of access tokens, at least 32 bytes (`JWT_SECRET`).
    pub jwt_secret: SecretString,
    /// The `iss` claim written and required (`JWT_ISSUER`).
    pub jwt_issuer: String,
    /// The `aud` claim written and required (`JWT_AUDIENCE`).
    pub jwt_audience: String,
    /// Lifetime of an access token (`JWT_ACCESS_TTL_SECS`).
    pub access_ttl: Duration,
    /// Clock skew tolerated when checking `exp` (`JWT_LEEWAY_SECS`).
    pub leeway: Duration,
    /// Lifetime of a refresh token; each use replaces it (`REFRESH_TOKEN_TTL_SECS`).
    pub refresh_ttl: Duration,
    /// Server-side secrets mixed into every password hash (`PASSWORD_PEPPERS`).
    pub peppers: Peppers,
    /// Argon2id memory cost in KiB (`PASSWORD_HASH_MEMORY_KIB`).
    pub hash_memory_kib: u32,
    /// Argon2id iterations (`PASSWORD_HASH_ITERATIONS`).
    pub hash_iterations: u32,
    /// Argon2id lanes (`PASSWORD_HASH_PARALLELISM`).
    pub hash_parallelism: u32,
    /// Hashes computed at once, each on its own hashing thread (`PASSWORD_HASH_CONCURRENCY`).
    pub hash_concurrency: usize,
    /// Hash requests allowed to wait for a slot; beyond that, 503 at once (`PASSWORD_HASH_QUEUE`).
    pub hash_queue: usize,
    /// Failed logins per minute that raise a `login_failure_spike` alert
    /// (`AUDIT_LOGIN_FAILURE_ALERT_PER_MINUTE`).
    pub login_failure_alert_per_minute: u32,
}

/// Versioned password peppers: the highest id hashes new passwords, the others still verify
/// old hashes, which are re-hashed with the current pepper at the owner's next login.
#[derive(Clone)]
pub struct Peppers(Vec<(i16, SecretString)>);

impl Peppers {
    /// The pepper new hashes use.
    pub fn current(&self) -> (i16, &[u8]) {
        let (id, secret) = self.0.last().expect("at least one pepper is configured");
        (*id, secret.expose_secret().as_bytes())
    }

    /// The pepper with this id, if it is still configured.
    pub fn get(&self, id: i16) -> Option<&[u8]> {
        self.0
            .iter()
            .find(|(candidate, _)| *candidate == id)
            .map(|(_, secret)| secret.expose_secret().as_bytes())
    }
}

impl fmt::Debug for Peppers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ids: Vec<i16> = self.0.iter().map(|(id, _)| *id).collect();
        f.debug_struct("Peppers")
            .field("ids", &ids)
            .field("secrets", &"[REDACTED]")
            .finish()
    }
}

#[derive(Debug, Clone)]
pub struct RateLimitConfig {
    /// Requests per second one client IP may sustain on the whole API (`RATE_LIMIT_PER_SECOND`).
    pub per_second: NonZeroU32,
    /// Requests one client IP may send in a burst (`RATE_LIMIT_BURST`).
    pub burst: NonZeroU32,
    /// Attempts per minute on login, register and refresh, per client IP and per account
    /// (`AUTH_RATE_LIMIT_PER_MINUTE`).
    pub auth_per_minute: NonZeroU32,
    /// Attempts in a burst on those routes (`AUTH_RATE_LIMIT_BURST`).
    pub auth_burst: NonZeroU32,
}

#[derive(Debug, Clone)]
pub struct JobsConfig {
    /// Jobs one worker runs at once (`JOBS_CONCURRENCY`).
    pub concurrency: usize,
    /// How often the worker looks for due jobs without being poked (`JOBS_POLL_INTERVAL_MS`).
    pub poll_interval: Duration,
    /// One attempt that takes longer fails and is retried (`JOBS_TIMEOUT_MS`).
    pub timeout: Duration,
    /// Attempts before a job is dead (`JOBS_MAX_ATTEMPTS`).
    pub max_attempts: u32,
    /// The delay after the first failure; it doubles with each further one
    /// (`JOBS_BACKOFF_BASE_MS`).
    pub backoff_base: Duration,
    /// The longest delay between attempts (`JOBS_BACKOFF_MAX_MS`).
    pub backoff_max: Duration,
    /// How long running jobs may finish after a shutdown signal (`JOBS_DRAIN_TIMEOUT_MS`).
    pub drain_timeout: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailTransport {
    /// Write emails to the log instead of sending them.
    Log,
    Smtp,
}

impl FromStr for MailTransport {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "log" => Ok(Self::Log),
            "smtp" => Ok(Self::Smtp),
            _ => Err("expected `log` or `smtp`".into()),
        }
    }
}

#[derive(Debug, Clone)]
pub struct MailConfig {
    /// `log` (development) or `smtp` (`MAIL_TRANSPORT`).
    pub transport: MailTransport,
    /// `smtp://` (plain or `?tls=required` for STARTTLS) or `smtps://`, with credentials;
    /// required for `smtp` (`SMTP_URL`).
    pub smtp_url: Option<SecretString>,
    /// Upper bound for one SMTP conversation (`SMTP_TIMEOUT_MS`).
    pub smtp_timeout: Duration,
    /// The sender, e.g. `Tasks <no-reply@example.com>` (`MAIL_FROM`).
    pub from: String,
}
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    /// The secret of each system that sends us webhooks, by the name in the inbound URL
    /// (`WEBHOOK_INBOUND_SECRETS`).
    pub inbound_secrets: InboundSecrets,
    /// How far a webhook's timestamp may be from now; older ones are refused as replays
    /// (`WEBHOOK_TOLERANCE_SECS`).
    pub tolerance: Duration,
    /// Accept `http://` and private, loopback and internal addresses as endpoints: for
    /// development only (`WEBHOOK_ALLOW_INSECURE_URLS`).
    pub allow_insecure_urls: bool,
    /// Upper bound for connecting to a receiver (`WEBHOOK_CONNECT_TIMEOUT_MS`).
    pub connect_timeout: Duration,
    /// Upper bound for a whole delivery attempt (`WEBHOOK_TIMEOUT_MS`).
    pub timeout: Duration,
    /// At most this much of a receiver's answer is read (`WEBHOOK_MAX_RESPONSE_BYTES`).
    pub max_response_bytes: usize,
    /// Failed attempts in a row after which an endpoint is disabled
    /// (`WEBHOOK_DISABLE_AFTER_FAILURES`).
    pub disable_after_failures: i32,
    /// How long the previous secret keeps signing after a rotation
    /// (`WEBHOOK_SECRET_OVERLAP_SECS`).
    pub secret_overlap: Duration,
    /// Endpoints one account may register (`WEBHOOK_MAX_ENDPOINTS_PER_USER`).
    pub max_endpoints_per_user: i64,
}

/// `source=whsec_...` pairs. `Debug` shows the sources, never the secrets.
#[derive(Clone, Default)]
pub struct InboundSecrets(Vec<(String, crate::domain::webhook::WebhookSecret)>);

impl InboundSecrets {
    pub fn get(&self, source: &str) -> Option<&crate::domain::webhook::WebhookSecret> {
        self.0
            .iter()
            .find(|(name, _)| name == source)
            .map(|(_, secret)| secret)
    }
}

impl fmt::Debug for InboundSecrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sources: Vec<&str> = self.0.iter().map(|(name, _)| name.as_str()).collect();
        f.debug_struct("InboundSecrets")
            .field("sources", &sources)
            .field("secrets", &"[REDACTED]")
            .finish()
    }
}

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
        load_dotenv()?;
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Only the database settings, for the `migrate` command: a release step that needs the
    /// database URL and nothing else (no JWT secret, no peppers).
    pub fn database_from_env() -> Result<DatabaseConfig, ConfigError> {
        load_dotenv()?;
        let lookup = |name: &str| std::env::var(name).ok();
        let mut env = Reader {
            lookup: &lookup,
            problems: Vec::new(),
        };
        let database = database(&mut env);
        if env.problems.is_empty() {
            Ok(database)
        } else {
            Err(ConfigError(env.problems))
        }
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
                readiness_delay: Duration::from_millis(
                    env.parse("SHUTDOWN_READINESS_DELAY_MS", "0"),
                ),
                max_in_flight: env.parse("HTTP_MAX_IN_FLIGHT", "512"),
                trusted_proxy_hops: env.parse("TRUSTED_PROXY_HOPS", "0"),
            },
            database: database(&mut env),
            auth: AuthConfig {
                jwt_secret: env.secret("JWT_SECRET", 32),
                jwt_issuer: env.string("JWT_ISSUER", env!("CARGO_PKG_NAME")),
                jwt_audience: env.string("JWT_AUDIENCE", env!("CARGO_PKG_NAME")),
                access_ttl: env.seconds("JWT_ACCESS_TTL_SECS", 900),
                leeway: Duration::from_secs(env.parse("JWT_LEEWAY_SECS", "30")),
                refresh_ttl: env.seconds("REFRESH_TOKEN_TTL_SECS", 30 * 24 * 3600),
                peppers: env.peppers("PASSWORD_PEPPERS"),
                hash_memory_kib: env.parse("PASSWORD_HASH_MEMORY_KIB", "19456"),
                hash_iterations: env.parse("PASSWORD_HASH_ITERATIONS", "2"),
                hash_parallelism: env.parse("PASSWORD_HASH_PARALLELISM", "1"),
                hash_concurrency: env
                    .parse("PASSWORD_HASH_CONCURRENCY", &default_hash_concurrency()),
                hash_queue: env.parse("PASSWORD_HASH_QUEUE", "32"),
                login_failure_alert_per_minute: env
                    .parse("AUDIT_LOGIN_FAILURE_ALERT_PER_MINUTE", "30"),
            },
            limits: RateLimitConfig {
                per_second: env.parse("RATE_LIMIT_PER_SECOND", "50"),
                burst: env.parse("RATE_LIMIT_BURST", "100"),
                auth_per_minute: env.parse("AUTH_RATE_LIMIT_PER_MINUTE", "10"),
                auth_burst: env.parse("AUTH_RATE_LIMIT_BURST", "5"),
            },
            jobs: JobsConfig {
                concurrency: env.parse("JOBS_CONCURRENCY", "4"),
                poll_interval: env.millis("JOBS_POLL_INTERVAL_MS", 1_000),
                timeout: env.millis("JOBS_TIMEOUT_MS", 30_000),
                max_attempts: env.parse("JOBS_MAX_ATTEMPTS", "8"),
                backoff_base: env.millis("JOBS_BACKOFF_BASE_MS", 1_000),
                backoff_max: env.millis("JOBS_BACKOFF_MAX_MS", 3_600_000),
                drain_timeout: env.millis("JOBS_DRAIN_TIMEOUT_MS", 10_000),
            },
            mail: MailConfig {
                transport: env.parse("MAIL_TRANSPORT", "log"),
                smtp_url: env.get("SMTP_URL").map(SecretString::from),
                smtp_timeout: env.millis("SMTP_TIMEOUT_MS", 10_000),
                from: env.string(
                    "MAIL_FROM",
                    concat!(env!("CARGO_PKG_NAME"), " <no-reply@localhost>"),
                ),
            },
            webhooks: WebhookConfig {
                inbound_secrets: env.inbound_secrets("WEBHOOK_INBOUND_SECRETS"),
                tolerance: env.seconds("WEBHOOK_TOLERANCE_SECS", 300),
                allow_insecure_urls: env.parse("WEBHOOK_ALLOW_INSECURE_URLS", "false"),
                connect_timeout: env.millis("WEBHOOK_CONNECT_TIMEOUT_MS", 3_000),
                timeout: env.millis("WEBHOOK_TIMEOUT_MS", 10_000),
                max_response_bytes: env.parse("WEBHOOK_MAX_RESPONSE_BYTES", "65536"),
                disable_after_failures: env.parse("WEBHOOK_DISABLE_AFTER_FAILURES", "50"),
                secret_overlap: env.seconds("WEBHOOK_SECRET_OVERLAP_SECS", 24 * 3600),
                max_endpoints_per_user: env.parse("WEBHOOK_MAX_ENDPOINTS_PER_USER", "10"),
            },
            telemetry: TelemetryConfig {
                log_format: env.parse("LOG_FORMAT", "pretty"),
                log_level: env.log_filter("LOG_LEVEL", "info,sqlx=warn"),
                otlp_endpoint: env.optional_url("OTEL_EXPORTER_OTLP_ENDPOINT"),
                service_name: env.string("OTEL_SERVICE_NAME", env!("CARGO_PKG_NAME")),
            },
        };
        if config.http.max_in_flight == 0 {
            env.problems
                .push("HTTP_MAX_IN_FLIGHT must be at least 1".into());
        }
        let auth = &config.auth;
        if argon2::Params::new(
            auth.hash_memory_kib,
            auth.hash_iterations,
            auth.hash_parallelism,
            None,
        )
        .is_err()
        {
            env.problems.push(
                "PASSWORD_HASH_MEMORY_KIB, PASSWORD_HASH_ITERATIONS and PASSWORD_HASH_PARALLELISM are not valid Argon2 parameters (memory >= 8 x parallelism KiB, iterations >= 1)".into(),
            );
        }
        if auth.leeway > Duration::from_secs(300) {
            env.problems
                .push("JWT_LEEWAY_SECS must be at most 300: it extends every token's life".into());
        }
        if config.webhooks.disable_after_failures < 1 {
            env.problems
                .push("WEBHOOK_DISABLE_AFTER_FAILURES must be at least 1".into());
        }
        if config.jobs.timeout <= config.webhooks.timeout {
            env.problems.push(
                "JOBS_TIMEOUT_MS must be longer than WEBHOOK_TIMEOUT_MS, or a slow delivery is cut off by its job"
                    .into(),
            );
        }
        if config.jobs.concurrency == 0 {
            env.problems
                .push("JOBS_CONCURRENCY must be at least 1".into());
        }
        if config.jobs.max_attempts == 0 {
            env.problems
                .push("JOBS_MAX_ATTEMPTS must be at least 1".into());
        }
        if config.jobs.backoff_base > config.jobs.backoff_max {
            env.problems
                .push("JOBS_BACKOFF_BASE_MS must not exceed JOBS_BACKOFF_MAX_MS".into());
        }
        let mail = &config.mail;
        if mail.transport == MailTransport::Smtp {
            match mail.smtp_url.as_ref().map(|url| url.expose_secret()) {
                None => env
                    .problems
                    .push("MAIL_TRANSPORT=smtp needs SMTP_URL (e.g. smtps://user:password@smtp.example.com)".into()),
                Some(url) if !url.starts_with("smtp://") && !url.starts_with("smtps://") => env
                    .problems
                    .push("SMTP_URL must start with smtp:// or smtps:// (value hidden: it may hold a password)".into()),
                Some(_) => {}
            }
        }
        if mail.from.parse::<lettre::message::Mailbox>().is_err() {
            env.problems.push(format!(
                "MAIL_FROM={:?} is not a valid sender such as `Tasks <no-reply@example.com>`",
                mail.from
            ));
        }
        if auth.hash_concurrency == 0 {
            env.problems
                .push("PASSWORD_HASH_CONCURRENCY must be at least 1".into());
        }
        if env.problems.is_empty() {
            Ok(config)
        } else {
            Err(ConfigError(env.problems))
        }
    }
}

/// Reads `.env` into the environment when present; a malformed file is an error.
fn load_dotenv() -> Result<(), ConfigError> {
    match dotenvy::dotenv() {
        Err(err) if !err.not_found() => {
            Err(ConfigError(vec![format!(".env could not be read: {err}")]))
        }
        _ => Ok(()),
    }
}

/// The `DATABASE_*` settings, checked together.
fn database(env: &mut Reader) -> DatabaseConfig {
    let config = DatabaseConfig {
        url: env.postgres_url("DATABASE_URL"),
        max_connections: env.parse("DATABASE_MAX_CONNECTIONS", "16"),
        min_connections: env.parse("DATABASE_MIN_CONNECTIONS", "0"),
        connect_timeout: env.millis("DATABASE_CONNECT_TIMEOUT_MS", 5_000),
        acquire_timeout: env.millis("DATABASE_ACQUIRE_TIMEOUT_MS", 3_000),
        statement_timeout: env.millis("DATABASE_STATEMENT_TIMEOUT_MS", 5_000),
        create_if_missing: env.parse("DATABASE_CREATE_IF_MISSING", "true"),
        migrate: env.parse("DATABASE_MIGRATE", "true"),
    };
    if config.min_connections > config.max_connections {
        env.problems
            .push("DATABASE_MIN_CONNECTIONS must not exceed DATABASE_MAX_CONNECTIONS".into());
    }
    if config.max_connections == 0 {
        env.problems
            .push("DATABASE_MAX_CONNECTIONS must be at least 1".into());
    }
    config
}

/// One hash per core by default: hashing is CPU-bound, so more at once only adds latency.
fn default_hash_concurrency() -> String {
    std::thread::available_parallelism()
        .map_or(1, usize::from)
        .to_string()
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

    fn seconds(&mut self, name: &str, default: u64) -> Duration {
        let secs: u64 = self.parse(name, &default.to_string());
        if secs == 0 && !self.problems.iter().any(|p| p.starts_with(name)) {
            self.problems
                .push(format!("{name} must be greater than 0 seconds"));
        }
        Duration::from_secs(secs)
    }

    /// A required secret of at least `min_len` bytes; its value is never echoed.
    fn secret(&mut self, name: &str, min_len: usize) -> SecretString {
        let example = "the output of `openssl rand -base64 48`";
        let Some(value) = self.required(name, example) else {
            return SecretString::from(String::new());
        };
        if value.len() < min_len {
            self.problems.push(format!(
                "{name} must be at least {min_len} bytes long (value hidden), e.g. {example}"
            ));
        }
        SecretString::from(value)
    }

    /// `id=secret` pairs separated by commas, e.g. `1=old-secret,2=new-secret`.
    fn peppers(&mut self, name: &str) -> Peppers {
        let mut peppers = Vec::new();
        let Some(raw) = self.required(name, "1=<the output of `openssl rand -base64 32`>") else {
            return Peppers(vec![(1, SecretString::from(String::new()))]);
        };
        for (index, entry) in raw.split(',').map(str::trim).enumerate() {
            let parsed = entry
                .split_once('=')
                .and_then(|(id, secret)| Some((id.trim().parse::<i16>().ok()?, secret.trim())))
                .filter(|(id, secret)| *id > 0 && secret.len() >= 16);
            match parsed {
                Some((id, secret)) => peppers.push((id, SecretString::from(secret.to_owned()))),
                None => self.problems.push(format!(
                    "{name}: entry {} is not `id=secret` with a positive id and a secret of at least 16 bytes (value hidden)",
                    index + 1
                )),
            }
        }
        peppers.sort_by_key(|(id, _)| *id);
        if peppers.windows(2).any(|pair| pair[0].0 == pair[1].0) {
            self.problems
                .push(format!("{name}: each pepper id may appear only once"));
        }
        if peppers.is_empty() {
            peppers.push((1, SecretString::from(String::new())));
        }
        Peppers(peppers)
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

    /// `source=whsec_...` pairs separated by commas; sources are lowercase names.
    fn inbound_secrets(&mut self, name: &str) -> InboundSecrets {
        let mut secrets = InboundSecrets::default();
        let Some(raw) = self.get(name) else {
            return secrets;
        };
        for (index, entry) in raw.split(',').map(str::trim).enumerate() {
            let parsed = entry.split_once('=').and_then(|(source, secret)| {
                let source = source.trim();
                let valid = !source.is_empty()
                    && source.len() <= 64
                    && source
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
                let secret = crate::domain::webhook::WebhookSecret::decode(secret.trim())?;
                valid.then(|| (source.to_owned(), secret))
            });
            match parsed {
                Some(pair) if secrets.get(&pair.0).is_none() => secrets.0.push(pair),
                Some((source, _)) => self
                    .problems
                    .push(format!("{name}: the source {source:?} appears twice")),
                None => self.problems.push(format!(
                    "{name}: entry {} is not `source=whsec_<base64 of at least 16 bytes>` with a lowercase source name (value hidden)",
                    index + 1
                )),
            }
        }
        secrets
    }

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
