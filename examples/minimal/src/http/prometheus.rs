//! `GET /metrics` for Prometheus, served on a listener of its own (`METRICS_PROMETHEUS_ADDR`)
//! when `METRICS_PROMETHEUS=true`: for teams without an OTLP collector. It is not part of the
//! API: no rate limit, no authentication, no entry in the OpenAPI document. Bind it where only
//! the scraper reaches (the default is loopback), never on the public port.

use axum::{
    Router,
    http::{StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use prometheus::{Encoder, Registry, TextEncoder};

// ANCHOR: scrape
/// The scrape listener's only route.
pub fn router(registry: Registry) -> Router {
    Router::new().route("/metrics", get(move || scrape(registry.clone())))
}

/// Every series, in Prometheus' text format, encoded at the moment of the scrape.
async fn scrape(registry: Registry) -> Response {
    let encoder = TextEncoder::new();
    let mut body = String::new();
    match encoder.encode_utf8(&registry.gather(), &mut body) {
        Ok(()) => ([(header::CONTENT_TYPE, encoder.format_type())], body).into_response(),
        Err(err) => {
            tracing::error!(error = %err, "could not encode the metrics");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}
// ANCHOR_END: scrape
