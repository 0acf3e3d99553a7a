//! `/jobs`: the background job queue, for admins only. Dead jobs (out of attempts) wait here
//! for a person to look at the error and requeue them.

use axum::{
    Json,
    extract::{Path, State},
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::AppState;
use super::{
    extract::{Admin, Authorized, QueryParams},
    paging::{Limit, Offset},
};
use crate::{
    app::jobs::{JobRecord, JobStatus},
    error::AppError,
};

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct JobQuery {
    /// Which jobs to list; default `dead`.
    #[serde(default = "dead")]
    #[param(inline)]
    pub status: JobStatus,
    #[serde(default)]
    #[param(inline)]
    pub limit: Limit,
    #[serde(default)]
    #[param(inline)]
    pub offset: Offset,
}

fn dead() -> JobStatus {
    JobStatus::Dead
}

/// A job as the admin API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct JobResponse {
    pub id: Uuid,
    /// What the job does, e.g. `welcome_email`.
    pub kind: String,
    /// Its identity: one cause, one job.
    pub key: String,
    pub status: JobStatus,
    /// How often it has been claimed.
    pub attempts: i32,
    /// When it runs (next), if queued.
    pub run_at: DateTime<Utc>,
    /// The error of the last failed attempt.
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<JobRecord> for JobResponse {
    fn from(job: JobRecord) -> Self {
        Self {
            id: job.id,
            kind: job.kind,
            key: job.key,
            status: job.status,
            attempts: job.attempts,
            run_at: job.run_at,
            last_error: job.last_error,
            created_at: job.created_at,
            updated_at: job.updated_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct JobPage {
    pub items: Vec<JobResponse>,
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
    security(("bearer" = ["admin"])),
    responses(
        (status = 200, description = "A page of jobs", body = JobPage),
        (status = 422, description = "An unknown status or parameter, or `limit`/`offset` out of range"),
    )
)]
pub async fn list_jobs(
    State(state): State<AppState>,
    _admin: Authorized<Admin>,
    QueryParams(query): QueryParams<JobQuery>,
) -> Result<Json<JobPage>, AppError> {
    let (items, total) = state
        .jobs
        .list(query.status, query.limit.0, query.offset.0)
        .await?;
    Ok(Json(JobPage {
        items: items.into_iter().map(Into::into).collect(),
        total,
        limit: query.limit.0,
        offset: query.offset.0,
    }))
}

/// Queue a dead job again, with a fresh count of attempts; it runs at once.
#[utoipa::path(
    post,
    path = "/jobs/{id}/requeue",
    tag = "jobs",
    params(("id" = Uuid, Path, description = "The job's id")),
    security(("bearer" = ["admin"])),
    responses(
        (status = 200, description = "The job, queued", body = JobResponse),
        (status = 400, description = "The id is not a UUID"),
        (status = 404, description = "No such job"),
        (status = 409, description = "The job is not dead"),
    )
)]
pub async fn requeue_job(
    State(state): State<AppState>,
    _admin: Authorized<Admin>,
    Path(id): Path<Uuid>,
) -> Result<Json<JobResponse>, AppError> {
    Ok(Json(state.jobs.requeue(id).await?.into()))
}

/// The job queue, for admins.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_jobs))
        .routes(routes!(requeue_job))
}
