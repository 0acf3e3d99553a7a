//! `/jobs`: the background job queue, for admins only. Dead jobs (out of attempts) wait here
//! for a person to look at the error and requeue them.

use axum::{
    Json,
    extract::{Path, State},
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use validator::Validate;

use super::extract::{Admin, Authorized, ValidQuery};
use crate::{
    AppState,
    app::{
        MAX_PAGE,
        jobs::{JobRecord, JobStatus},
    },
    error::{AppError, Problem},
};

#[derive(Debug, Deserialize, Validate, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct JobQuery {
    /// Which jobs to list; default `dead`.
    #[serde(default = "dead")]
    #[param(inline)]
    pub status: JobStatus,
    /// 1 to 100; default 20.
    #[validate(range(min = 1, max = MAX_PAGE, message = "must be 1 to 100"))]
    #[serde(default = "default_limit")]
    pub limit: i64,
    /// Default 0.
    #[validate(range(min = 0, message = "must not be negative"))]
    #[serde(default)]
    pub offset: i64,
}

fn dead() -> JobStatus {
    JobStatus::Dead
}

fn default_limit() -> i64 {
    20
}

#[derive(Debug, Serialize, ToSchema)]
pub struct JobPage {
    pub items: Vec<JobRecord>,
    /// All jobs in this status.
    pub total: i64,
    pub limit: i64,
    pub offset: i64,
}

/// List jobs in one status, most recently changed first.
#[utoipa::path(
    get,
    path = "/jobs",
    tag = "jobs",
    params(JobQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of jobs", body = JobPage),
        (status = 401, description = "No valid access token", body = Problem),
        (status = 403, description = "The caller is not an admin", body = Problem),
        (status = 422, description = "An unknown status or parameter, or `limit`/`offset` out of range", body = Problem),
    )
)]
pub async fn list_jobs(
    State(state): State<AppState>,
    _admin: Authorized<Admin>,
    ValidQuery(query): ValidQuery<JobQuery>,
) -> Result<Json<JobPage>, AppError> {
    let (items, total) = state
        .jobs
        .list(query.status, query.limit, query.offset)
        .await?;
    Ok(Json(JobPage {
        items,
        total,
        limit: query.limit,
        offset: query.offset,
    }))
}

/// Queue a dead job again, with a fresh count of attempts; it runs at once.
#[utoipa::path(
    post,
    path = "/jobs/{id}/requeue",
    tag = "jobs",
    params(("id" = Uuid, Path, description = "The job's id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The job, queued", body = JobRecord),
        (status = 400, description = "The id is not a UUID", body = Problem),
        (status = 401, description = "No valid access token", body = Problem),
        (status = 403, description = "The caller is not an admin", body = Problem),
        (status = 404, description = "No such job", body = Problem),
        (status = 409, description = "The job is not dead", body = Problem),
    )
)]
pub async fn requeue_job(
    State(state): State<AppState>,
    _admin: Authorized<Admin>,
    Path(id): Path<Uuid>,
) -> Result<Json<JobRecord>, AppError> {
    Ok(Json(state.jobs.requeue(id).await?))
}
