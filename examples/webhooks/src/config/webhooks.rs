//! Webhooks: secrets of the systems that call us, and how we call our users' endpoints.

use std::{fmt, time::Duration};

use super::{JobsConfig, reader::Reader};
use crate::domain::webhook::WebhookSecret;

/// The longest accepted `WEBHOOK_TOLERANCE_SECS`.
pub const MAX_TOLERANCE: Duration = Duration::from_secs(600);

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

impl WebhookConfig {
    pub(super) fn read(env: &mut Reader) -> Self {
        Self {
            inbound_secrets: inbound_secrets(env, "WEBHOOK_INBOUND_SECRETS"),
            tolerance: env.seconds("WEBHOOK_TOLERANCE_SECS", 300),
            allow_insecure_urls: env.parse("WEBHOOK_ALLOW_INSECURE_URLS", "false"),
            connect_timeout: env.millis("WEBHOOK_CONNECT_TIMEOUT_MS", 3_000),
            timeout: env.millis("WEBHOOK_TIMEOUT_MS", 10_000),
            max_response_bytes: env.parse("WEBHOOK_MAX_RESPONSE_BYTES", "65536"),
            disable_after_failures: env.count("WEBHOOK_DISABLE_AFTER_FAILURES", "50"),
            secret_overlap: env.seconds("WEBHOOK_SECRET_OVERLAP_SECS", 24 * 3600),
            max_endpoints_per_user: env.parse("WEBHOOK_MAX_ENDPOINTS_PER_USER", "10"),
        }
    }

    /// A delivery runs inside a job, so the job's timeout must leave it room. The tolerance
    /// window is how long a captured request can be replayed: past ten minutes it no longer
    /// covers clock skew but an attacker's delay.
    pub(super) fn check_against(&self, jobs: &JobsConfig, env: &mut Reader) {
        if self.tolerance > MAX_TOLERANCE {
            env.problem(format!(
                "WEBHOOK_TOLERANCE_SECS must be at most {}: a longer window lets a captured webhook be replayed for longer",
                MAX_TOLERANCE.as_secs()
            ));
        }
        env.require(
            jobs.timeout > self.timeout,
            "JOBS_TIMEOUT_MS must be longer than WEBHOOK_TIMEOUT_MS, or a slow delivery is cut off by its job",
        );
    }
}

/// `source=whsec_...` pairs. `Debug` shows the sources, never the secrets.
#[derive(Clone, Default)]
pub struct InboundSecrets(Vec<(String, WebhookSecret)>);

impl InboundSecrets {
    pub fn get(&self, source: &str) -> Option<&WebhookSecret> {
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

/// `source=whsec_...` pairs separated by commas; sources are lowercase names.
fn inbound_secrets(env: &mut Reader, name: &str) -> InboundSecrets {
    let mut secrets = InboundSecrets::default();
    let Some(raw) = env.get(name) else {
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
            let secret = WebhookSecret::decode(secret.trim())?;
            valid.then(|| (source.to_owned(), secret))
        });
        match parsed {
            Some(pair) if secrets.get(&pair.0).is_none() => secrets.0.push(pair),
            Some((source, _)) => env.problem(format!("{name}: the source {source:?} appears twice")),
            None => env.problem(format!(
                "{name}: entry {} is not `source=whsec_<base64 of at least 16 bytes>` with a lowercase source name (value hidden)",
                index + 1
            )),
        }
    }
    secrets
}
