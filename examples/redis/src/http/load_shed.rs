//! Load shedding: at most `HTTP_MAX_IN_FLIGHT` requests are handled at once, and the next one
//! is answered 503 with `Retry-After` straight away. Without it an overloaded instance queues
//! without bound: every request waits, latency grows for everyone, and the timeouts end up
//! failing the work that was admitted. Rejecting early keeps admitted requests fast and tells
//! clients (and load balancers) to go elsewhere.
//!
//! The probes are exempt: refusing `/healthz` under load would get a busy but healthy
//! instance restarted, which makes an overload worse.
//!
//! A semaphore rather than tower's `ConcurrencyLimit` + `LoadShed`: those apply to every route
//! alike and report rejection as an error that would need its own translation into our
//! problem body; this is the same idea, with the exemption, in a few lines.

use std::sync::Arc;

use axum::{
    body::Body,
    extract::{Request, State},
    http::{HeaderValue, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use futures::StreamExt;
use opentelemetry::metrics::Counter;
use tokio::sync::Semaphore;

use super::health::PROBES;
use super::problem::Problem;

#[derive(Clone)]
pub struct InFlightLimit {
    permits: Arc<Semaphore>,
    shed: Counter<u64>,
}

impl InFlightLimit {
    pub fn new(max_in_flight: usize) -> Self {
        let shed = opentelemetry::global::meter(env!("CARGO_PKG_NAME"))
            .u64_counter("http.server.shed_requests")
            .with_unit("{request}")
            .with_description("Requests refused with 503 because too many were in flight")
            .build();
        // Exported from zero, so a rate exists (and alerts can see it rise) before the first
        // request is shed.
        shed.add(0, &[]);
        Self {
            permits: Arc::new(Semaphore::new(max_in_flight)),
            shed,
        }
    }
}

// ANCHOR: admit
pub async fn admit(State(limit): State<InFlightLimit>, request: Request, next: Next) -> Response {
    if PROBES.contains(&request.uri().path()) {
        return next.run(request).await;
    }
    // Held until the response is produced, or until the client goes away and the request's
    // future is dropped; for an event stream, until the stream ends.
    let Ok(permit) = limit.permits.clone().try_acquire_owned() else {
        limit.shed.add(1, &[]);
        let mut response = Problem::new(StatusCode::SERVICE_UNAVAILABLE)
            .with_detail("the service is at capacity; retry shortly")
            .into_response();
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        return response;
    };
    let response = next.run(request).await;
    if !is_event_stream(&response) {
        return response;
    }
    // A stream is a request in flight for as long as it is open: it keeps its permit, or any
    // number of open streams would pass under the limit.
    response.map(|body| {
        Body::from_stream(body.into_data_stream().map(move |chunk| {
            let _held = &permit;
            chunk
        }))
    })
}
// ANCHOR_END: admit

fn is_event_stream(response: &Response) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|value| value.as_bytes().starts_with(b"text/event-stream"))
}
