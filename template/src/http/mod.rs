//! The HTTP edge: routes, the middleware stack and the OpenAPI document.
//!
//! Every route is registered through `utoipa_axum::routes!`, which takes the path and method
//! from the handler's `#[utoipa::path]` annotation: a route cannot exist without being
//! documented (`tests/openapi.rs` also fails on any plain `.route(` call).

pub mod auth;
pub mod docs;
{%- if redis %}
pub mod events;
{%- endif %}
pub mod extract;
pub mod health;
pub mod jobs;
pub mod layers;
pub mod load_shed;
pub mod metrics;
pub mod rate_limit;
pub mod request_id;
pub mod tasks;
pub mod users;
{%- if webhooks %}
pub mod webhooks;
{%- endif %}

use axum::{Extension, Router};
use utoipa::{
    Modify, OpenApi,
    openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme},
};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{AppState, config::HttpConfig, error::Problem};

#[derive(OpenApi)]
#[openapi(
    info(description = "{{description}}"),
    components(schemas(Problem)),
    modifiers(&BearerAuth, &NoEmptyLicense),
    tags(
        (name = "auth", description = "Accounts and sessions"),
        (name = "tasks", description = "The caller's tasks"),
        (name = "users", description = "Account management (admins)"),
        (name = "jobs", description = "The background job queue (admins)"),
{%- if webhooks %}
        (name = "webhooks", description = "Webhook endpoints for the caller's task events, and webhooks from other systems"),
{%- endif %}
        (name = "health", description = "Liveness and readiness probes"),
        (name = "docs", description = "This API's documentation"),
    )
)]
struct ApiDoc;

/// Declares the `bearer` scheme that protected routes name in `security(...)`.
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "An access token from `POST /auth/login` or `POST /auth/refresh`",
                    ))
                    .build(),
            ),
        );
    }
}

/// utoipa fills `info.license` from Cargo.toml's `license`, with an empty name when the package
/// has none, which OpenAPI validators reject; no license is then said better by no object.
struct NoEmptyLicense;

impl Modify for NoEmptyLicense {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        if openapi
            .info
            .license
            .as_ref()
            .is_some_and(|license| license.name.is_empty())
        {
            openapi.info.license = None;
        }
    }
}

/// Every route with its documentation, before state and middleware are attached.
pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(auth::register))
        .routes(routes!(auth::login))
        .routes(routes!(auth::refresh))
        .routes(routes!(auth::logout))
        .routes(routes!(auth::logout_all))
        .routes(routes!(auth::me))
        .routes(routes!(tasks::list_tasks, tasks::create_task))
        .routes(routes!(
            tasks::get_task,
            tasks::replace_task,
            tasks::patch_task,
            tasks::delete_task
        ))
        .routes(routes!(tasks::complete_task))
{%- if redis %}
        .routes(routes!(events::task_events))
{%- endif %}
        .routes(routes!(tasks::bulk_delete_tasks))
        .routes(routes!(users::list_users))
        .routes(routes!(users::update_user, users::delete_user))
        .routes(routes!(jobs::list_jobs))
        .routes(routes!(jobs::requeue_job))
{%- if webhooks %}
        .routes(routes!(webhooks::create_endpoint, webhooks::list_endpoints))
        .routes(routes!(webhooks::delete_endpoint))
        .routes(routes!(webhooks::rotate_secret))
        .routes(routes!(webhooks::enable_endpoint))
        .routes(routes!(webhooks::list_deliveries))
        .routes(routes!(webhooks::replay_delivery))
        .routes(routes!(webhooks::receive_webhook))
{%- endif %}
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
    let api_limit = rate_limit::layer(&state.api_limit);
    let routes = routes
        .fallback(layers::not_found)
        .layer(Extension(docs::OpenApiJson(doc.into())))
        .with_state(state)
        .layer(api_limit);
    layers::apply(routes, config)
}
