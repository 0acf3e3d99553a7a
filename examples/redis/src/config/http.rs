//! The HTTP server: address, timeouts, limits, CORS, shutdown, proxies.

use std::{net::SocketAddr, time::Duration};

use super::reader::Reader;

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

impl HttpConfig {
    pub(super) fn read(env: &mut Reader) -> Self {
        Self {
            addr: env.parse("APP_ADDR", "127.0.0.1:8080"),
            request_timeout: env.millis("HTTP_REQUEST_TIMEOUT_MS", 10_000),
            body_limit_bytes: env.parse("HTTP_BODY_LIMIT_BYTES", "1048576"),
            cors_allowed_origins: origins(env, "CORS_ALLOWED_ORIGINS"),
            drain_timeout: env.millis("SHUTDOWN_DRAIN_TIMEOUT_MS", 20_000),
            readiness_delay: Duration::from_millis(env.parse("SHUTDOWN_READINESS_DELAY_MS", "0")),
            max_in_flight: env.count("HTTP_MAX_IN_FLIGHT", "512"),
            trusted_proxy_hops: env.parse("TRUSTED_PROXY_HOPS", "0"),
        }
    }
}

// ANCHOR: origins
/// `scheme://host[:port]` entries separated by commas, as browsers send them in `Origin`.
fn origins(env: &mut Reader, name: &str) -> Vec<String> {
    let Some(raw) = env.get(name) else {
        return Vec::new();
    };
    let mut origins = Vec::new();
    for origin in raw.split(',').map(str::trim).filter(|o| !o.is_empty()) {
        let well_formed = (origin.starts_with("http://") || origin.starts_with("https://"))
            && !origin.ends_with('/')
            && origin.bytes().all(|b| b.is_ascii_graphic());
        if well_formed {
            origins.push(origin.to_owned());
        } else {
            env.problem(format!(
                "{name} holds {origin:?}: an origin is scheme://host[:port] with no path or trailing slash"
            ));
        }
    }
    origins
}
// ANCHOR_END: origins
