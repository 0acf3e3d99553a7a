//! The middleware stack every route runs behind, outermost first:
//!
//! 1. request id (validated or generated, echoed, available to error bodies)
//! 2. request metrics: duration histogram and requests in flight (`super::metrics`)
//! 3. load shedding: beyond `HTTP_MAX_IN_FLIGHT` requests, 503 at once (`super::load_shed`)
//! 4. a tracing span per request: method, matched route, request id, status, latency
//! 5. CORS from the configured allow-list, and `X-Content-Type-Options: nosniff`
//! 6. gzip compression of responses larger than `COMPRESS_ABOVE_BYTES`
//! 7. panics become a 500 problem body instead of a dropped connection
//! 8. bare error responses (from layers and extractors) become problem bodies
//! 9. a request timeout, answered with 503
//! 10. a request body limit, answered with 413
//!
//! Tests wrap their own routes with [`apply`] to drive the very same stack.

use std::{any::Any, time::Duration};

use axum::{
    Router,
    body::{Body, to_bytes},
    extract::{MatchedPath, Request},
    http::{HeaderValue, Method, StatusCode, header},
    middleware::{self, Next},
    response::{IntoResponse, Response},
};
use tower::ServiceBuilder;
use tower_http::{
    catch_panic::CatchPanicLayer,
    compression::{
        CompressionLayer,
        predicate::{NotForContentType, Predicate, SizeAbove},
    },
    cors::{AllowOrigin, CorsLayer},
    limit::RequestBodyLimitLayer,
    set_header::SetResponseHeaderLayer,
    timeout::TimeoutLayer,
    trace::TraceLayer,
};
use tracing::{Span, field::Empty};

use super::problem::Problem;
use super::{
    load_shed::{self, InFlightLimit},
    metrics::HttpMetrics,
    request_id::{self, RequestId},
};
use crate::{config::HttpConfig, telemetry};

/// Smaller responses go out uncompressed. Each compressed response sets up a deflate state of
/// a few hundred kB, zeroed first: for a task of a few hundred bytes (tower-http compresses
/// from 32 bytes by default) that cost more than the rest of the request in the benchmark's
/// profile (day 20), to save a hundred bytes. Lists and documents are still compressed.
pub const COMPRESS_ABOVE_BYTES: u16 = 1024;

// ANCHOR: apply
pub fn apply(router: Router, config: &HttpConfig) -> Router {
    // `Router::layer` turns each application back into a plain axum service, so the `from_fn`
    // middlewares (which expect axum's body type) can sit between tower-http layers (which
    // wrap the body in their own types). Each call wraps the previous ones: innermost first.
    router
        .layer(RequestBodyLimitLayer::new(config.body_limit_bytes))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            config.request_timeout,
        ))
        .layer(middleware::from_fn(problem_for_bare_errors))
        .layer(
            ServiceBuilder::new()
                .layer(
                    TraceLayer::new_for_http()
                        .make_span_with(make_span)
                        .on_request(())
                        .on_response(|response: &axum::http::Response<_>, latency, span: &Span| {
                            record_response(response.status(), latency, span);
                        })
                        .on_failure(()),
                )
                .layer(
                    CompressionLayer::new().compress_when(
                        SizeAbove::new(COMPRESS_ABOVE_BYTES)
                            .and(NotForContentType::GRPC)
                            .and(NotForContentType::IMAGES)
                            .and(NotForContentType::SSE),
                    ),
                )
                .layer(CatchPanicLayer::custom(panic_response)),
        )
        .layer(middleware::from_fn_with_state(
            InFlightLimit::new(config.max_in_flight),
            load_shed::admit,
        ))
        // Outside the load shedding, so its 503 is readable by browsers too.
        .layer(
            ServiceBuilder::new()
                .layer(cors(&config.cors_allowed_origins))
                // Browsers must take our JSON as JSON, never sniff it into HTML or script.
                .layer(SetResponseHeaderLayer::if_not_present(
                    header::X_CONTENT_TYPE_OPTIONS,
                    HeaderValue::from_static("nosniff"),
                )),
        )
        .layer(middleware::from_fn_with_state(
            HttpMetrics::new(),
            super::metrics::record,
        ))
        .layer(middleware::from_fn(request_id::middleware))
}
// ANCHOR_END: apply

// ANCHOR: span
/// Field names follow the OpenTelemetry HTTP semantic conventions, so traces read the same in
/// any backend; `otel.name` becomes the exported span's name.
fn make_span(request: &Request) -> Span {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str);
    let request_id = request
        .extensions()
        .get::<RequestId>()
        .map_or("", |id| id.0.as_str());
    let span = tracing::info_span!(
        "request",
        otel.name = %format_args!("{} {route}", request.method()),
        otel.kind = "server",
        http.request.method = %request.method(),
        http.route = route,
        url.path = request.uri().path(),
        request_id,
        http.response.status_code = Empty,
        otel.status_code = Empty,
        latency_ms = Empty,
    );
    telemetry::set_remote_parent(&span, request.headers());
    span
}

fn record_response(status: StatusCode, latency: Duration, span: &Span) {
    span.record("http.response.status_code", status.as_u16());
    span.record("latency_ms", latency.as_secs_f64() * 1000.0);
    if status.is_server_error() {
        span.record("otel.status_code", "ERROR");
        tracing::error!(status = status.as_u16(), "request failed");
    } else {
        tracing::info!(status = status.as_u16(), "request finished");
    }
}
// ANCHOR_END: span

// ANCHOR: cors
fn cors(allowed: &[String]) -> CorsLayer {
    let origins = allowed
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect::<Vec<_>>();
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            request_id::HEADER,
            header::HeaderName::from_static("idempotency-key"),
        ])
        .expose_headers([request_id::HEADER, header::RETRY_AFTER, header::LINK])
        .max_age(Duration::from_secs(600))
}
// ANCHOR_END: cors

fn panic_response(panic: Box<dyn Any + Send + 'static>) -> Response {
    let message = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic payload".to_owned());
    tracing::error!(panic = message, "handler panicked");
    Problem::new(StatusCode::INTERNAL_SERVER_ERROR).into_response()
}

/// Error responses made outside our handlers (405 from the router, 408/503 from the timeout,
/// 413 from the body limit, 400/415/422 from axum's extractors) arrive empty or as plain text.
/// Rewrite them into the one problem body; a short plain-text reason becomes the `detail` of
/// a 4xx, while 5xx details are never passed on.
async fn problem_for_bare_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let is_bare = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_none_or(|ct| ct.as_bytes().starts_with(b"text/plain"));
    if !(status.is_client_error() || status.is_server_error()) || !is_bare {
        return response;
    }
    let (parts, body) = response.into_parts();
    let mut problem = Problem::new(status);
    if status.is_client_error() {
        let text = to_bytes(body, 1024).await.unwrap_or_default();
        let text = String::from_utf8_lossy(&text).trim().to_owned();
        if !text.is_empty() {
            problem = problem.with_detail(text);
        }
    } else {
        drop(body);
    }
    let mut rewritten = problem.into_response();
    // Keep headers such as `Allow` (405) and `Retry-After`, but not the old body's framing.
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            rewritten.headers_mut().append(name, value.clone());
        }
    }
    rewritten
}

/// Unmatched paths: a problem body rather than axum's empty 404.
pub async fn not_found(request: Request<Body>) -> Response {
    Problem::new(StatusCode::NOT_FOUND)
        .with_detail(format!(
            "no route for {} {}",
            request.method(),
            request.uri().path()
        ))
        .into_response()
}
