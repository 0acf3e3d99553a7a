//! Request ids: taken from `x-request-id` when the caller sent a sane one, generated otherwise,
//! echoed on the response, and set as the request's context (`crate::context`) so error bodies,
//! logs and audit events can carry it.
//!
//! tower-http's request-id layers would accept any incoming header, and an id is copied into
//! logs and error bodies, so this small middleware validates it first (at most 128 characters of
//! `[A-Za-z0-9._:-]`); a bad one is replaced rather than rejected, as the id is only a label.

use axum::{
    extract::Request,
    http::{HeaderName, HeaderValue},
    middleware::Next,
    response::Response,
};

use crate::context;

pub const HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// The id of the request being served, available to extractors and handlers.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

// ANCHOR: middleware
pub async fn middleware(mut request: Request, next: Next) -> Response {
    let id = request
        .headers()
        .get(&HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| is_acceptable(v))
        .map_or_else(|| uuid::Uuid::now_v7().to_string(), str::to_owned);
    let header = HeaderValue::from_str(&id).expect("a validated or generated id is a header value");
    request.headers_mut().insert(HEADER, header.clone());
    request.extensions_mut().insert(RequestId(id.clone()));

    let mut response = context::with_request_id(id, next.run(request)).await;
    response.headers_mut().insert(HEADER, header);
    response
}

fn is_acceptable(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}
// ANCHOR_END: middleware

#[cfg(test)]
mod tests;
