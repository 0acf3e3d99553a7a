//! The per-client-IP limit on the whole API (tower_governor), with the same notion of "client
//! IP" as the rest of the service. Over the limit: 429 with `Retry-After` and the problem body.

use std::{net::IpAddr, sync::Arc, time::Duration};

use axum::{
    body::Body,
    http::{Request, Response, StatusCode},
    response::IntoResponse,
};
use governor::middleware::NoOpMiddleware;
use tower_governor::{
    GovernorError, GovernorLayer,
    governor::{GovernorConfig, GovernorConfigBuilder},
    key_extractor::KeyExtractor,
};

use super::{extract::client_ip, problem::Problem};
use crate::{
    app::limits::limit_key,
    config::{RateLimitConfig, TrustedProxies},
    error::AppError,
};

// ANCHOR: client_ip_key
/// Keys the limit by client IP, trusting `X-Forwarded-For` only from the configured proxies;
/// an IPv6 client counts by its /64 ([`limit_key`]), as in the login limits, or it could
/// rotate through its own network for a fresh budget per request.
#[derive(Debug, Clone)]
pub struct ClientIpKey {
    pub trusted: TrustedProxies,
}

impl KeyExtractor for ClientIpKey {
    type Key = IpAddr;

    fn extract<T>(&self, request: &Request<T>) -> Result<IpAddr, GovernorError> {
        client_ip(request.extensions(), request.headers(), &self.trusted)
            .map(limit_key)
            .ok_or(GovernorError::UnableToExtractKey)
    }
}

pub type ApiLimit = Arc<GovernorConfig<ClientIpKey, NoOpMiddleware>>;

pub fn config(limits: &RateLimitConfig, trusted: TrustedProxies) -> ApiLimit {
    let period = Duration::from_nanos(1_000_000_000 / u64::from(limits.per_second.get()));
    let config = GovernorConfigBuilder::default()
        .period(period)
        .burst_size(limits.burst.get())
        .key_extractor(ClientIpKey { trusted })
        .finish()
        .expect("a non-zero period and burst size make a valid limiter");
    Arc::new(config)
}
// ANCHOR_END: client_ip_key

pub fn layer(config: &ApiLimit) -> GovernorLayer<ClientIpKey, NoOpMiddleware, Body> {
    GovernorLayer::new(config.clone()).error_handler(problem)
}

fn problem(error: GovernorError) -> Response<Body> {
    match error {
        // tower_governor truncates the wait to whole seconds (1.6 s arrives as 1): one more,
        // so that a client obeying Retry-After is never back too early.
        GovernorError::TooManyRequests { wait_time, .. } => AppError::TooManyRequests {
            retry_after: Duration::from_secs(wait_time + 1),
        }
        .into_response(),
        GovernorError::UnableToExtractKey | GovernorError::Other { .. } => {
            tracing::error!(
                "the rate limiter found no client address: serve with into_make_service_with_connect_info"
            );
            Problem::new(StatusCode::INTERNAL_SERVER_ERROR).into_response()
        }
    }
}
