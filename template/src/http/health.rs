//! `GET /healthz` (liveness) and `GET /readyz` (readiness).

use std::collections::BTreeMap;

use axum::{Json, extract::State, http::StatusCode, response::IntoResponse};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::AppState;
use crate::domain::health::DependencyStatus;

/// The probe paths: served outside the rate limit and the load shedding, so a busy instance is
/// never taken for a dead one.
pub const PROBES: [&str; 2] = ["/healthz", "/readyz"];

#[derive(Debug, Serialize, ToSchema)]
pub struct Liveness {
    #[schema(example = "ok")]
    pub status: &'static str,
}

/// The readiness report: every dependency with `up` or `down`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReadinessReport {
    /// `ready`; `degraded` (still serving: an optional dependency, such as a cache, is down);
    /// `unavailable` (a required dependency is down); or `draining` (shutting down: finishing
    /// the requests it has, taking no new ones once the readiness delay has passed).
    #[schema(example = "unavailable")]
    pub status: &'static str,
    /// Each dependency's state, e.g. `{"postgres": "down"}`.
    #[schema(example = json!({"postgres": "down"}))]
    pub checks: BTreeMap<&'static str, &'static str>,
    /// The dependencies that are down, so a probe log names them at a glance.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub failing: Vec<&'static str>,
}

// ANCHOR: healthz
/// Liveness: the process is up and serving. Does no I/O, so a slow database never gets a
/// healthy process restarted.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "health",
    responses((status = 200, description = "The process is alive", body = Liveness))
)]
pub async fn healthz() -> Json<Liveness> {
    Json(Liveness { status: "ok" })
}
// ANCHOR_END: healthz

/// Readiness: every required dependency answers. A load balancer stops sending traffic on 503.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "health",
    responses(
        (status = 200, description = "Every required dependency is up (`degraded` when an optional one is down)", body = ReadinessReport),
        (status = 503, description = "A dependency is down (`failing` names it), or the instance is shutting down (`draining`)", body = ReadinessReport),
    )
)]
pub async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    if state.readiness.is_draining() {
        let body = ReadinessReport {
            status: "draining",
            checks: BTreeMap::new(),
            failing: Vec::new(),
        };
        return (StatusCode::SERVICE_UNAVAILABLE, Json(body));
    }
    let report = state.readiness.check().await;
    let ready = report.is_ready();
    let body = ReadinessReport {
        status: match (ready, report.is_degraded()) {
            (true, false) => "ready",
            (true, true) => "degraded",
            (false, _) => "unavailable",
        },
        failing: report.failing(),
        checks: report
            .dependencies
            .into_iter()
            .map(|(name, status)| {
                let status = match status {
                    DependencyStatus::Up => "up",
                    DependencyStatus::Down => "down",
                };
                (name, status)
            })
            .collect(),
    };
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body))
}

/// The liveness and readiness probes.
// ANCHOR: routes
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(readyz))
}
// ANCHOR_END: routes
