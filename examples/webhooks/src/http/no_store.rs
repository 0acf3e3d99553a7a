//! `Cache-Control: no-store` on answers that carry a secret (webhook signing secrets; the
//! session tokens' `SessionResponse` sets it itself): neither a browser nor a shared cache may
//! keep a copy.

use axum::{
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
};

/// The answer `T`, marked so that no cache stores it.
pub struct NoStore<T>(pub T);

impl<T: IntoResponse> IntoResponse for NoStore<T> {
    fn into_response(self) -> Response {
        let mut response = self.0.into_response();
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }
}
