//! The HTTP server: address, timeouts, limits, CORS, shutdown, proxies.

use std::{
    net::{IpAddr, SocketAddr},
    sync::Arc,
    time::Duration,
};

use ipnet::IpNet;

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
    /// The reverse proxies in front of the service, by address: `X-Forwarded-For` is read
    /// only from them, and only as far as it passes through them (`TRUSTED_PROXY_CIDRS`).
    /// None: the peer address is the client and the header is ignored.
    pub trusted_proxies: TrustedProxies,
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
            trusted_proxies: trusted_proxies(env, "TRUSTED_PROXY_CIDRS"),
        }
    }
}

/// Networks whose addresses are our own reverse proxies. Cheap to clone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Arc<[IpNet]>);

impl TrustedProxies {
    pub fn new(networks: Vec<IpNet>) -> Self {
        Self(networks.into())
    }

    /// An IPv4 client of a dual-stack listener arrives as `::ffff:a.b.c.d`; it is matched as
    /// the IPv4 address it is.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|network| network.contains(&ip))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// `address` or `address/prefix` entries separated by commas: `10.0.0.0/8,fd00::/8,192.0.2.7`.
fn trusted_proxies(env: &mut Reader, name: &str) -> TrustedProxies {
    let Some(raw) = env.get(name) else {
        return TrustedProxies::default();
    };
    let mut networks = Vec::new();
    for entry in raw.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let parsed = entry
            .parse::<IpNet>()
            .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from));
        match parsed {
            Ok(network) => networks.push(network.trunc()),
            Err(_) => env.problem(format!(
                "{name} holds {entry:?}: an entry is an IP address or a network such as 10.0.0.0/8"
            )),
        }
    }
    TrustedProxies::new(networks)
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
