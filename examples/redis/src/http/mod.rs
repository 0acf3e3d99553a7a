//! The HTTP edge: routes, the middleware stack and the OpenAPI document.
//!
//! Every route is registered through `utoipa_axum::routes!`, which takes the path and method
//! from the handler's `#[utoipa::path]` annotation: a route cannot exist without being
//! documented (`tests/openapi.rs` also fails on any plain `.route(` call). Each module of
//! handlers offers its routes as `routes()`; [`router`] puts them together.

pub mod account;
pub mod auth;
pub mod docs;
pub mod events;
pub mod extract;
pub mod health;
pub mod jobs;
pub mod layers;
pub mod load_shed;
pub mod metrics;
pub mod paging;
pub mod problem;
pub mod prometheus;
pub mod rate_limit;
pub mod request_id;
pub mod schemas;
pub mod server;
pub mod state;
pub mod tasks;
pub mod users;
pub mod verification;

use axum::{Extension, Router};
use utoipa::{
    Modify, OpenApi,
    openapi::{
        ContentBuilder, Ref, RefOr, ResponseBuilder,
        path::Operation,
        security::{HttpAuthScheme, HttpBuilder, SecurityScheme},
    },
};
use utoipa_axum::router::OpenApiRouter;

pub use state::AppState;

use crate::config::HttpConfig;
use problem::{PROBLEM_JSON, Problem};

#[derive(OpenApi)]
#[openapi(
    info(description = "A task service built on Axum and SQLx"),
    components(schemas(Problem)),
    modifiers(&BearerAuth, &NoEmptyLicense),
    tags(
        (name = "auth", description = "Accounts and sessions"),
        (name = "tasks", description = "The caller's tasks"),
        (name = "users", description = "Account management (admins)"),
        (name = "jobs", description = "The background job queue (admins)"),
        (name = "health", description = "Liveness and readiness probes"),
        (name = "docs", description = "This API's documentation"),
    )
)]
struct ApiDoc;

/// Declares the `bearer` scheme that protected routes name in `security(...)`. Routes for
/// admins say `security(("bearer" = ["admin"]))`: OpenAPI 3.1 lets a requirement of a bearer
/// scheme list the roles it needs, and [`StandardResponses`] documents their 403 from it.
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

// ANCHOR: standard_responses
/// Responses every operation of a kind can get, added here once instead of on each handler:
/// 401 on every secured operation and 403 where it names a role (the extractor's answers);
/// 400 (malformed JSON), 413 and 415 where there is a body; 429 (rate limit),
/// 500 (a panic), 503 (load shedding, the request timeout, a busy pool; the probes are exempt
/// from the rate limit and the load shedding). Every error response a handler documents
/// without a body gets the problem body, as `application/problem+json`.
/// Applied to the finished document (see [`parts`]): the derive's modifiers run before the
/// routes are added.
struct StandardResponses;

impl Modify for StandardResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (path, item) in openapi.paths.paths.iter_mut() {
            let probe = health::PROBES.contains(&path.as_str());
            for operation in [
                item.get.as_mut(),
                item.post.as_mut(),
                item.put.as_mut(),
                item.patch.as_mut(),
                item.delete.as_mut(),
            ]
            .into_iter()
            .flatten()
            {
                add_standard_responses(operation, probe);
            }
        }
    }
}

fn add_standard_responses(operation: &mut Operation, probe: bool) {
    // A requirement serializes as `{"bearer": ["admin"]}`; utoipa offers no other way in.
    let roles: Vec<String> = operation
        .security
        .iter()
        .flatten()
        .filter_map(|requirement| serde_json::to_value(requirement).ok())
        .filter_map(|requirement| requirement.as_object().cloned())
        .flat_map(|schemes| schemes.into_values())
        .filter_map(|roles| serde_json::from_value::<Vec<String>>(roles).ok())
        .flatten()
        .collect();
    let secured = operation.security.as_ref().is_some_and(|s| !s.is_empty());
    let add = |operation: &mut Operation, status: &str, description: &str| {
        operation
            .responses
            .responses
            .entry(status.to_owned())
            .or_insert_with(|| ResponseBuilder::new().description(description).into());
    };
    if secured {
        add(
            operation,
            "401",
            "No valid access token: missing, malformed, expired or revoked",
        );
    }
    if !roles.is_empty() {
        let needs = format!("The caller lacks the role this needs: {}", roles.join(", "));
        add(operation, "403", &needs);
    }
    if operation.request_body.is_some() {
        add(
            operation,
            "413",
            "The body is larger than `HTTP_BODY_LIMIT_BYTES`",
        );
        // JSON bodies go through the JSON extractor, which refuses other content types and
        // malformed JSON; raw bodies (the operations that document no 422) do not.
        if operation.responses.responses.contains_key("422") {
            add(operation, "400", "The body is not well-formed JSON");
            add(operation, "415", "The body is not `application/json`");
        }
    }
    if !probe {
        add(
            operation,
            "429",
            "Too many requests from this client; see `Retry-After`",
        );
        add(
            operation,
            "503",
            "At capacity, timed out, or a dependency is unavailable; see `Retry-After` when present",
        );
    }
    add(
        operation,
        "500",
        "An unexpected failure (details are logged, never sent)",
    );
    // ANCHOR: problem_bodies
    for (status, response) in operation.responses.responses.iter_mut() {
        if let RefOr::T(response) = response
            && (status.starts_with('4') || status.starts_with('5'))
            && response.content.is_empty()
        {
            let problem = ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("Problem")))
                .build();
            response
                .content
                .insert(PROBLEM_JSON.to_owned(), problem.into());
        }
    }
    // ANCHOR_END: problem_bodies
}
// ANCHOR_END: standard_responses

/// Every route but the probes, with its documentation, before state and middleware are
/// attached: the routes behind the per-IP rate limit.
fn limited() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(auth::routes())
        .merge(account::routes())
        .merge(verification::routes())
        .merge(tasks::routes())
        .merge(events::routes())
        .merge(users::routes())
        .merge(jobs::routes())
        .merge(docs::routes())
}

/// The rate-limited routes, the probes (liveness and readiness: served outside the per-IP
/// rate limit and the load shedding, so an orchestrator or a load balancer probing from one
/// address, or a client flooding from the same one, never makes a healthy instance look
/// dead), and the finished OpenAPI document of both.
fn parts() -> (Router<AppState>, Router<AppState>, utoipa::openapi::OpenApi) {
    let (limited, mut doc) = limited().split_for_parts();
    let (probes, probe_doc) = health::routes().split_for_parts();
    doc.merge(probe_doc);
    StandardResponses.modify(&mut doc);
    (limited, probes, doc)
}

/// The OpenAPI document of every route, as `/openapi.json` serves it.
pub fn openapi() -> utoipa::openapi::OpenApi {
    parts().2
}

// ANCHOR: router
/// The complete router: routes, state, fallback and the middleware stack. Unknown paths fall
/// back to a 404 inside the rate limit (scanners are clients too); the probes are outside it.
pub fn router(state: AppState, config: &HttpConfig) -> Router {
    let (limited, probes, doc) = parts();
    let doc = doc
        .to_json()
        .expect("the OpenAPI document serializes to JSON");
    let routes = limited
        .fallback(layers::not_found)
        .layer(rate_limit::layer(state.api_limit()))
        .merge(probes)
        .layer(Extension(docs::OpenApiJson(doc.into())))
        .with_state(state);
    layers::apply(routes, config)
}
// ANCHOR_END: router
