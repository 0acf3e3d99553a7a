//! The HTTP edge: routes, the middleware stack and the OpenAPI document.
//!
//! Every route is registered through `utoipa_axum::routes!`, which takes the path and method
//! from the handler's `#[utoipa::path]` annotation: a route cannot exist without being
//! documented (`tests/openapi.rs` also fails on any plain `.route(` call).

pub mod docs;
pub mod health;
pub mod layers;
pub mod metrics;
pub mod request_id;

use axum::{Extension, Router};
use utoipa::OpenApi;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{AppState, config::HttpConfig, error::Problem};

#[derive(OpenApi)]
#[openapi(
    info(description = "A task service built on Axum and SQLx"),
    components(schemas(Problem)),
    tags(
        (name = "health", description = "Liveness and readiness probes"),
        (name = "docs", description = "This API's documentation"),
    )
)]
struct ApiDoc;

/// Every route with its documentation, before state and middleware are attached.
pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(health::healthz))
        .routes(routes!(health::readyz))
        .routes(routes!(docs::openapi_json))
        .routes(routes!(docs::redoc_page))
        .routes(routes!(docs::redoc_bundle))
}

/// The OpenAPI document of [`api`].
pub fn openapi() -> utoipa::openapi::OpenApi {
    api().split_for_parts().1
}

/// The complete router: routes, state, fallback and the middleware stack.
pub fn router(state: AppState, config: &HttpConfig) -> Router {
    let (routes, doc) = api().split_for_parts();
    let doc = doc
        .to_json()
        .expect("the OpenAPI document serializes to JSON");
    let routes = routes
        .fallback(layers::not_found)
        .layer(Extension(docs::OpenApiJson(doc.into())))
        .with_state(state);
    layers::apply(routes, config)
}
