//! The OpenAPI document and the Redoc page that renders it, served from the binary.
//!
//! The Redoc bundle (npm `redoc` 3.0.1, MIT, `assets/redoc/`) is embedded gzip-compressed, so
//! `/docs` works offline. Redoc 3 would also send usage telemetry to Redocly and load its logo
//! from a CDN: the page turns the telemetry off, and its Content-Security-Policy lets it load
//! nothing from any other host.

use std::{io::Read, sync::OnceLock};

use axum::{
    Extension,
    body::Bytes,
    http::{HeaderMap, HeaderValue, header},
    response::{Html, IntoResponse, Response},
};
use flate2::read::GzDecoder;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::AppState;
use crate::error::AppError;

/// The OpenAPI document, serialized once at start-up; cloning it per request is a reference
/// count, not a copy.
#[derive(Clone)]
pub struct OpenApiJson(pub Bytes);

const REDOC_GZ: &[u8] = include_bytes!("../../assets/redoc/redoc.standalone.js.gz");

// ANCHOR: page
const PAGE: &str = concat!(
    r#"<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>"#,
    env!("CARGO_PKG_NAME"),
    r#" API reference</title>
  <style>body { margin: 0; }</style>
</head>
<body>
  <redoc spec-url="/openapi.json" disable-telemetry="true"></redoc>
  <script type="module" src="/docs/redoc.standalone.js"></script>
</body>
</html>
"#
);
// ANCHOR_END: page

/// The OpenAPI 3.1 document of every route.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "docs",
    responses((status = 200, description = "The OpenAPI document", content_type = "application/json"))
)]
pub async fn openapi_json(Extension(doc): Extension<OpenApiJson>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        doc.0,
    )
        .into_response()
}

// ANCHOR: redoc_page
/// Same-origin only. Redoc renders with inline styles and may use `blob:` workers.
pub const DOCS_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
     img-src 'self' data:; font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; \
     object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

/// The API reference (Redoc), readable in a browser with no network access.
#[utoipa::path(
    get,
    path = "/docs",
    tag = "docs",
    responses((status = 200, description = "The Redoc page", content_type = "text/html"))
)]
pub async fn redoc_page() -> Response {
    ([(header::CONTENT_SECURITY_POLICY, DOCS_CSP)], Html(PAGE)).into_response()
}
// ANCHOR_END: redoc_page

/// The vendored Redoc bundle. Sent as stored (gzip) to clients that accept gzip, which every
/// browser does; inflated for the rare client that does not.
#[utoipa::path(
    get,
    path = "/docs/redoc.standalone.js",
    tag = "docs",
    responses((status = 200, description = "The Redoc script", content_type = "text/javascript"))
)]
pub async fn redoc_bundle(headers: HeaderMap) -> Response {
    let accepts_gzip = headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.split(',').any(|e| e.trim().starts_with("gzip")));
    let common = [
        (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
        (header::CACHE_CONTROL, "public, max-age=86400"),
        (header::VARY, "accept-encoding"),
    ];
    if accepts_gzip {
        return (common, [(header::CONTENT_ENCODING, "gzip")], REDOC_GZ).into_response();
    }
    // Inflating 2 MB is blocking work: off the async workers, and only once per process.
    match tokio::task::spawn_blocking(inflated_bundle).await {
        Ok(Ok(script)) => (common, script).into_response(),
        Ok(Err(err)) => {
            AppError::Internal(anyhow::anyhow!("inflating Redoc: {err}")).into_response()
        }
        Err(err) => AppError::Internal(err.into()).into_response(),
    }
}

fn inflated_bundle() -> Result<&'static [u8], &'static str> {
    static SCRIPT: OnceLock<Result<Vec<u8>, String>> = OnceLock::new();
    SCRIPT
        .get_or_init(|| {
            let mut script = Vec::with_capacity(REDOC_GZ.len() * 4);
            GzDecoder::new(REDOC_GZ)
                .read_to_end(&mut script)
                .map(|_| script)
                .map_err(|err| err.to_string())
        })
        .as_deref()
        .map_err(String::as_str)
}

/// The OpenAPI document and the API reference page.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(openapi_json))
        .routes(routes!(redoc_page))
        .routes(routes!(redoc_bundle))
}
