//! HTTP server metrics, named as the OpenTelemetry semantic conventions name them, so
//! dashboards and alerts work the same with any backend:
//!
//! - `http.server.request.duration` (histogram, seconds) by method, matched route, status code
//!   and status class (`2xx`, `4xx`, ...);
//! - `http.server.active_requests` (up-down counter) by method: requests in flight.
//!
//! The route is the *matched* route (`/tasks/{id}`), never the raw path, which would give every
//! id its own time series.

use std::time::Instant;

use axum::{
    extract::{MatchedPath, Request, State},
    middleware::Next,
    response::Response,
};
use opentelemetry::{
    KeyValue,
    metrics::{Histogram, UpDownCounter},
};

/// Latency buckets in seconds, from 5 ms to 10 s.
const DURATION_BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];

#[derive(Clone)]
pub struct HttpMetrics {
    duration: Histogram<f64>,
    active: UpDownCounter<i64>,
}

impl HttpMetrics {
    /// Instruments from the global meter provider that `telemetry::init` installed (a no-op
    /// one when no OTLP endpoint is configured).
    pub fn new() -> Self {
        let meter = opentelemetry::global::meter(env!("CARGO_PKG_NAME"));
        Self {
            duration: meter
                .f64_histogram("http.server.request.duration")
                .with_unit("s")
                .with_description("Duration of HTTP server requests")
                .with_boundaries(DURATION_BUCKETS.to_vec())
                .build(),
            active: meter
                .i64_up_down_counter("http.server.active_requests")
                .with_unit("{request}")
                .with_description("HTTP server requests in flight")
                .build(),
        }
    }
}

impl Default for HttpMetrics {
    fn default() -> Self {
        Self::new()
    }
}

/// Decrements the in-flight count however the request ends, including when the client goes
/// away and the request's future is dropped half-way.
struct InFlight {
    active: UpDownCounter<i64>,
    attributes: [KeyValue; 1],
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.active.add(-1, &self.attributes);
    }
}

// ANCHOR: record_metrics
pub async fn record(State(metrics): State<HttpMetrics>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = KeyValue::new("http.request.method", request.method().as_str().to_owned());
    let route = request.extensions().get::<MatchedPath>().cloned();
    metrics.active.add(1, std::slice::from_ref(&method));
    let in_flight = InFlight {
        active: metrics.active.clone(),
        attributes: [method.clone()],
    };

    let response = next.run(request).await;

    drop(in_flight);
    let status = response.status().as_u16();
    let attributes = [
        method,
        KeyValue::new(
            "http.route",
            route.map_or_else(|| "unmatched".to_owned(), |r| r.as_str().to_owned()),
        ),
        KeyValue::new("http.response.status_code", i64::from(status)),
        KeyValue::new("http.response.status_class", status_class(status)),
    ];
    metrics
        .duration
        .record(started.elapsed().as_secs_f64(), &attributes);
    response
}
// ANCHOR_END: record_metrics

fn status_class(status: u16) -> &'static str {
    match status / 100 {
        1 => "1xx",
        2 => "2xx",
        3 => "3xx",
        4 => "4xx",
        _ => "5xx",
    }
}
