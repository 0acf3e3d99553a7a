//! Accounts: token signing, lifetimes and password hashing.

use std::{fmt, time::Duration};

use secrecy::{ExposeSecret, SecretString};

use super::reader::Reader;

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
    /// How long one login's refresh tokens can go on replacing each other, from the login
    /// (`REFRESH_FAMILY_MAX_AGE_SECS`): after that, the user logs in again.
    pub refresh_family_max_age: Duration,
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

impl AuthConfig {
    pub(super) fn read(env: &mut Reader) -> Self {
        let config = Self {
            jwt_secret: env.secret("JWT_SECRET", 32),
            jwt_issuer: env.string("JWT_ISSUER", env!("CARGO_PKG_NAME")),
            jwt_audience: env.string("JWT_AUDIENCE", env!("CARGO_PKG_NAME")),
            access_ttl: env.seconds("JWT_ACCESS_TTL_SECS", 900),
            leeway: Duration::from_secs(env.parse("JWT_LEEWAY_SECS", "30")),
            refresh_ttl: env.seconds("REFRESH_TOKEN_TTL_SECS", 30 * 24 * 3600),
            refresh_family_max_age: env.seconds("REFRESH_FAMILY_MAX_AGE_SECS", 90 * 24 * 3600),
            peppers: peppers(env, "PASSWORD_PEPPERS"),
            hash_memory_kib: env.parse("PASSWORD_HASH_MEMORY_KIB", "19456"),
            hash_iterations: env.parse("PASSWORD_HASH_ITERATIONS", "2"),
            hash_parallelism: env.parse("PASSWORD_HASH_PARALLELISM", "1"),
            hash_concurrency: env.count("PASSWORD_HASH_CONCURRENCY", &default_hash_concurrency()),
            hash_queue: env.parse("PASSWORD_HASH_QUEUE", "32"),
            login_failure_alert_per_minute: env.parse("AUDIT_LOGIN_FAILURE_ALERT_PER_MINUTE", "30"),
        };
        env.require(
            argon2::Params::new(
                config.hash_memory_kib,
                config.hash_iterations,
                config.hash_parallelism,
                None,
            )
            .is_ok(),
            "PASSWORD_HASH_MEMORY_KIB, PASSWORD_HASH_ITERATIONS and PASSWORD_HASH_PARALLELISM are not valid Argon2 parameters (memory >= 8 x parallelism KiB, iterations >= 1)",
        );
        env.require(
            config.refresh_family_max_age <= Duration::from_secs(10 * 365 * 24 * 3600),
            "REFRESH_FAMILY_MAX_AGE_SECS must be at most ten years",
        );
        env.require(
            config.refresh_family_max_age >= config.refresh_ttl,
            "REFRESH_FAMILY_MAX_AGE_SECS must be at least REFRESH_TOKEN_TTL_SECS: it bounds a login's whole chain of refresh tokens, the first one included",
        );
        env.require(
            config.leeway <= Duration::from_secs(300),
            "JWT_LEEWAY_SECS must be at most 300: it extends every token's life",
        );
        config
    }
}

/// One hash per core by default: hashing is CPU-bound, so more at once only adds latency.
fn default_hash_concurrency() -> String {
    std::thread::available_parallelism()
        .map_or(1, usize::from)
        .to_string()
}

// ANCHOR: peppers
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
// ANCHOR_END: peppers

impl fmt::Debug for Peppers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ids: Vec<i16> = self.0.iter().map(|(id, _)| *id).collect();
        f.debug_struct("Peppers")
            .field("ids", &ids)
            .field("secrets", &"[REDACTED]")
            .finish()
    }
}

/// `id=secret` pairs separated by commas, e.g. `1=old-secret,2=new-secret`.
fn peppers(env: &mut Reader, name: &str) -> Peppers {
    let mut peppers = Vec::new();
    let Some(raw) = env.required(name, "1=<the output of `openssl rand -base64 32`>") else {
        return Peppers(vec![(1, SecretString::from(String::new()))]);
    };
    for (index, entry) in raw.split(',').map(str::trim).enumerate() {
        let parsed = entry
            .split_once('=')
            .and_then(|(id, secret)| Some((id.trim().parse::<i16>().ok()?, secret.trim())))
            .filter(|(id, secret)| *id > 0 && secret.len() >= 16);
        match parsed {
            Some((id, secret)) => peppers.push((id, SecretString::from(secret.to_owned()))),
            None => env.problem(format!(
                "{name}: entry {} is not `id=secret` with a positive id and a secret of at least 16 bytes (value hidden)",
                index + 1
            )),
        }
    }
    peppers.sort_by_key(|(id, _)| *id);
    if peppers.windows(2).any(|pair| pair[0].0 == pair[1].0) {
        env.problem(format!("{name}: each pepper id may appear only once"));
    }
    if peppers.is_empty() {
        peppers.push((1, SecretString::from(String::new())));
    }
    Peppers(peppers)
}
