//! `/tasks`: a user's own tasks. Handlers translate between JSON and the domain and call
//! `app::tasks::TaskService`, where every rule lives.

use axum::{
    Json,
    extract::{Path, State},
    http::{HeaderMap, StatusCode},
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use sha2::{Digest, Sha256};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use validator::{Validate, ValidationError};

use super::extract::{Authorized, ValidJson, ValidQuery};
use crate::{
    AppState,
    app::{
        MAX_PAGE,
        tasks::{Cursor, Direction, ListQuery, PageStart, SortKey, TaskFilter, in_database_range},
    },
    domain::task::{Description, Task, TaskContent, TaskPatch, TaskStatus, Title},
    error::{AppError, FieldError, Problem},
};

/// The header that makes `POST /tasks` safe to retry.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";

fn valid_title(value: &str) -> Result<(), ValidationError> {
    Title::try_from(value.to_owned())
        .map(drop)
        .map_err(|message| ValidationError::new("title").with_message(message.into()))
}

fn valid_description(value: &str) -> Result<(), ValidationError> {
    Description::try_from(value.to_owned())
        .map(drop)
        .map_err(|message| ValidationError::new("description").with_message(message.into()))
}

/// Field-level 422 from the domain's own constructors: the rules live in one place.
fn content(
    title: String,
    description: Option<String>,
    status: Option<TaskStatus>,
    due_at: Option<DateTime<Utc>>,
) -> Result<TaskContent, AppError> {
    check_time("due_at", due_at)?;
    let title = Title::try_from(title)
        .map_err(|m| AppError::Validation(vec![FieldError::new("title", m)]))?;
    let description = Description::try_from(description.unwrap_or_default())
        .map_err(|m| AppError::Validation(vec![FieldError::new("description", m)]))?;
    Ok(TaskContent {
        title,
        description,
        status: status.unwrap_or(TaskStatus::Todo),
        due_at,
    })
}

#[derive(Debug, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTaskRequest {
    /// 1 to 200 characters after trimming, one line.
    #[validate(custom(function = "valid_title"))]
    #[schema(example = "Write the release notes")]
    pub title: String,
    /// Up to 10,000 characters.
    #[validate(custom(function = "valid_description"))]
    pub description: Option<String>,
    /// Default `todo`.
    pub status: Option<TaskStatus>,
    pub due_at: Option<DateTime<Utc>>,
}

/// Every field, as `PUT` replaces them all, and the version the client read.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplaceTaskRequest {
    #[validate(custom(function = "valid_title"))]
    pub title: String,
    #[validate(custom(function = "valid_description"))]
    pub description: String,
    pub status: TaskStatus,
    /// `null` clears the due date.
    pub due_at: Option<DateTime<Utc>>,
    /// The `version` of the task as read; a newer stored version is 409.
    #[validate(range(min = 1, message = "must be at least 1"))]
    pub version: i32,
}

/// Only the fields present change; `"due_at": null` clears the due date.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchTaskRequest {
    #[validate(custom(function = "valid_title"))]
    pub title: Option<String>,
    #[validate(custom(function = "valid_description"))]
    pub description: Option<String>,
    pub status: Option<TaskStatus>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub due_at: Option<Option<DateTime<Utc>>>,
    #[validate(range(min = 1, message = "must be at least 1"))]
    pub version: i32,
}

/// Tells "absent" (`None`) from "null" (`Some(None)`).
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkDeleteRequest {
    /// 1 to 100 distinct ids of the caller's tasks.
    #[validate(
        length(min = 1, max = 100, message = "must hold 1 to 100 ids"),
        custom(function = "distinct")
    )]
    pub ids: Vec<Uuid>,
}

fn distinct(ids: &[Uuid]) -> Result<(), ValidationError> {
    let unique: std::collections::HashSet<&Uuid> = ids.iter().collect();
    if unique.len() == ids.len() {
        Ok(())
    } else {
        Err(ValidationError::new("distinct").with_message("must not repeat an id".into()))
    }
}

/// 422 for a time no task could have (years outside 1..=9999), before it reaches SQL.
fn check_time(field: &str, time: Option<DateTime<Utc>>) -> Result<(), AppError> {
    match time {
        Some(time) if !in_database_range(&time) => {
            Err(AppError::Validation(vec![FieldError::new(
                field,
                "must be between the years 1 and 9999",
            )]))
        }
        _ => Ok(()),
    }
}

#[derive(Debug, Deserialize, Validate, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
#[validate(schema(function = "one_way_of_paging"))]
pub struct ListParams {
    pub status: Option<TaskStatus>,
    /// Tasks due at or after this instant.
    pub due_after: Option<DateTime<Utc>>,
    /// Tasks due before this instant.
    pub due_before: Option<DateTime<Utc>>,
    /// `created_at` (default), `due_at` (only tasks with a due date) or `title`; ties are
    /// broken by id, so the order is stable.
    #[param(value_type = Option<String>)]
    pub sort: Option<SortKey>,
    /// `asc` or `desc` (default).
    #[param(value_type = Option<String>)]
    pub direction: Option<Direction>,
    /// 1 to 100, default 20. Larger is 422, never silently cut.
    #[validate(range(min = 1, max = MAX_PAGE, message = "must be 1 to 100"))]
    pub limit: Option<i64>,
    /// Rows to skip. Simple, but deep offsets are slow: prefer `cursor`.
    #[validate(range(min = 0, message = "must not be negative"))]
    pub offset: Option<i64>,
    /// `next_cursor` of the previous page (same `sort` and `direction`).
    pub cursor: Option<String>,
}

fn one_way_of_paging(params: &ListParams) -> Result<(), ValidationError> {
    if params.offset.is_some() && params.cursor.is_some() {
        return Err(ValidationError::new("paging")
            .with_message("use either `offset` or `cursor`, not both".into()));
    }
    Ok(())
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TaskResponse {
    pub id: Uuid,
    pub owner_id: Uuid,
    pub title: String,
    pub description: String,
    pub status: TaskStatus,
    pub due_at: Option<DateTime<Utc>>,
    /// Send it back with `PUT` and `PATCH`.
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Task> for TaskResponse {
    fn from(task: Task) -> Self {
        Self {
            id: task.id,
            owner_id: task.owner_id,
            title: task.title.into(),
            description: task.description.into(),
            status: task.status,
            due_at: task.due_at,
            version: task.version,
            created_at: task.created_at,
            updated_at: task.updated_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TaskPageResponse {
    pub items: Vec<TaskResponse>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
    pub limit: i64,
}

/// The caller's tasks, filtered, sorted and paged.
#[utoipa::path(
    get,
    path = "/tasks",
    tag = "tasks",
    params(ListParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of tasks", body = TaskPageResponse),
        (status = 400, description = "The cursor is not valid, or belongs to another ordering", body = Problem),
        (status = 401, description = "No valid access token", body = Problem),
        (status = 422, description = "A parameter is unknown, malformed or out of range", body = Problem),
    )
)]
pub async fn list_tasks(
    State(state): State<AppState>,
    auth: Authorized,
    ValidQuery(params): ValidQuery<ListParams>,
) -> Result<Json<TaskPageResponse>, AppError> {
    check_time("due_after", params.due_after)?;
    check_time("due_before", params.due_before)?;
    let sort = params.sort.unwrap_or(SortKey::CreatedAt);
    let direction = params.direction.unwrap_or(Direction::Desc);
    let limit = params.limit.unwrap_or(20);
    let start = match &params.cursor {
        Some(raw) => PageStart::After(Cursor::decode(raw, sort, direction)?),
        None => PageStart::Offset(params.offset.unwrap_or(0)),
    };
    let page = state
        .tasks
        .list(ListQuery {
            owner: auth.caller.id,
            filter: TaskFilter {
                status: params.status,
                due_after: params.due_after,
                due_before: params.due_before,
            },
            sort,
            direction,
            limit,
            start,
        })
        .await?;
    Ok(Json(TaskPageResponse {
        items: page.items.into_iter().map(TaskResponse::from).collect(),
        next_cursor: page.next_cursor,
        limit,
    }))
}

/// Create a task. With an `Idempotency-Key` header, a retry with the same key and body gets
/// the first response again instead of a second task (keys are kept 24 hours, per user).
#[utoipa::path(
    post,
    path = "/tasks",
    tag = "tasks",
    request_body = NewTaskRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "1 to 255 visible ASCII characters, e.g. a UUID")),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Created (or, for a repeated Idempotency-Key, the task created the first time)", body = TaskResponse),
        (status = 400, description = "Not JSON, or a malformed Idempotency-Key", body = Problem),
        (status = 401, description = "No valid access token", body = Problem),
        (status = 413, description = "The body is too large", body = Problem),
        (status = 422, description = "A field is invalid, or the Idempotency-Key was used with another body", body = Problem),
    )
)]
pub async fn create_task(
    State(state): State<AppState>,
    auth: Authorized,
    headers: HeaderMap,
    ValidJson(body): ValidJson<NewTaskRequest>,
) -> Result<(StatusCode, Json<TaskResponse>), AppError> {
    let key = idempotency_key(&headers)?;
    let hash = Sha256::digest(serde_json::to_vec(&body).unwrap_or_default()).to_vec();
    let content = content(body.title, body.description, body.status, body.due_at)?;
    let task = match key {
        Some(key) => {
            state
                .tasks
                .create_idempotent(&auth.caller, key, hash, content)
                .await?
                .0
        }
        None => state.tasks.create(&auth.caller, content).await?,
    };
    Ok((StatusCode::CREATED, Json(task.into())))
}

fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, AppError> {
    let Some(value) = headers.get(IDEMPOTENCY_KEY) else {
        return Ok(None);
    };
    value
        .to_str()
        .ok()
        .filter(|key| (1..=255).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic()))
        .map(|key| Some(key.to_owned()))
        .ok_or_else(|| {
            AppError::BadRequest("Idempotency-Key must be 1 to 255 visible ASCII characters".into())
        })
}

/// One task of the caller's (admins: anyone's).
#[utoipa::path(
    get,
    path = "/tasks/{id}",
    tag = "tasks",
    params(("id" = Uuid, Path, description = "The task's id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The task", body = TaskResponse),
        (status = 400, description = "The id is not a UUID", body = Problem),
        (status = 401, description = "No valid access token", body = Problem),
        (status = 404, description = "No such task (or not the caller's)", body = Problem),
    )
)]
pub async fn get_task(
    State(state): State<AppState>,
    auth: Authorized,
    Path(id): Path<Uuid>,
) -> Result<Json<TaskResponse>, AppError> {
    Ok(Json(state.tasks.get(&auth.caller, id).await?.into()))
}

/// Replace every field of a task, at the version read.
#[utoipa::path(
    put,
    path = "/tasks/{id}",
    tag = "tasks",
    params(("id" = Uuid, Path, description = "The task's id")),
    request_body = ReplaceTaskRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The updated task", body = TaskResponse),
        (status = 400, description = "The id is not a UUID, or the body is not JSON", body = Problem),
        (status = 401, description = "No valid access token", body = Problem),
        (status = 404, description = "No such task (or not the caller's)", body = Problem),
        (status = 409, description = "Stale version, or a status move that is not allowed", body = Problem),
        (status = 422, description = "A field is missing, unknown or invalid", body = Problem),
    )
)]
pub async fn replace_task(
    State(state): State<AppState>,
    auth: Authorized,
    Path(id): Path<Uuid>,
    ValidJson(body): ValidJson<ReplaceTaskRequest>,
) -> Result<Json<TaskResponse>, AppError> {
    let content = content(
        body.title,
        Some(body.description),
        Some(body.status),
        body.due_at,
    )?;
    let task = state
        .tasks
        .replace(&auth.caller, id, body.version, content)
        .await?;
    Ok(Json(task.into()))
}

/// Change some fields of a task, at the version read.
#[utoipa::path(
    patch,
    path = "/tasks/{id}",
    tag = "tasks",
    params(("id" = Uuid, Path, description = "The task's id")),
    request_body = PatchTaskRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The updated task", body = TaskResponse),
        (status = 400, description = "The id is not a UUID, or the body is not JSON", body = Problem),
        (status = 401, description = "No valid access token", body = Problem),
        (status = 404, description = "No such task (or not the caller's)", body = Problem),
        (status = 409, description = "Stale version, or a status move that is not allowed", body = Problem),
        (status = 422, description = "A field is unknown or invalid", body = Problem),
    )
)]
pub async fn patch_task(
    State(state): State<AppState>,
    auth: Authorized,
    Path(id): Path<Uuid>,
    ValidJson(body): ValidJson<PatchTaskRequest>,
) -> Result<Json<TaskResponse>, AppError> {
    check_time("due_at", body.due_at.flatten())?;
    let invalid =
        |field: &str, message: String| AppError::Validation(vec![FieldError::new(field, message)]);
    let patch = TaskPatch {
        title: body
            .title
            .map(Title::try_from)
            .transpose()
            .map_err(|m| invalid("title", m))?,
        description: body
            .description
            .map(Description::try_from)
            .transpose()
            .map_err(|m| invalid("description", m))?,
        status: body.status,
        due_at: body.due_at,
    };
    let task = state
        .tasks
        .patch(&auth.caller, id, body.version, patch)
        .await?;
    Ok(Json(task.into()))
}

/// Mark a task done. Doing it again changes nothing.
#[utoipa::path(
    post,
    path = "/tasks/{id}/done",
    tag = "tasks",
    params(("id" = Uuid, Path, description = "The task's id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The task, done", body = TaskResponse),
        (status = 400, description = "The id is not a UUID", body = Problem),
        (status = 401, description = "No valid access token", body = Problem),
        (status = 404, description = "No such task (or not the caller's)", body = Problem),
        (status = 409, description = "The task changed at the same moment; retry", body = Problem),
    )
)]
pub async fn complete_task(
    State(state): State<AppState>,
    auth: Authorized,
    Path(id): Path<Uuid>,
) -> Result<Json<TaskResponse>, AppError> {
    Ok(Json(state.tasks.mark_done(&auth.caller, id).await?.into()))
}

/// Delete a task.
#[utoipa::path(
    delete,
    path = "/tasks/{id}",
    tag = "tasks",
    params(("id" = Uuid, Path, description = "The task's id")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "The id is not a UUID", body = Problem),
        (status = 401, description = "No valid access token", body = Problem),
        (status = 404, description = "No such task (or not the caller's)", body = Problem),
    )
)]
pub async fn delete_task(
    State(state): State<AppState>,
    auth: Authorized,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, AppError> {
    state.tasks.delete(&auth.caller, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Delete several of the caller's tasks in one transaction: all of them, or none.
#[utoipa::path(
    post,
    path = "/tasks/bulk-delete",
    tag = "tasks",
    request_body = BulkDeleteRequest,
    security(("bearer" = [])),
    responses(
        (status = 204, description = "All deleted"),
        (status = 401, description = "No valid access token", body = Problem),
        (status = 404, description = "One of the tasks is missing or not the caller's; nothing was deleted", body = Problem),
        (status = 422, description = "No ids, more than 100, or not UUIDs", body = Problem),
    )
)]
pub async fn bulk_delete_tasks(
    State(state): State<AppState>,
    auth: Authorized,
    ValidJson(body): ValidJson<BulkDeleteRequest>,
) -> Result<StatusCode, AppError> {
    state.tasks.delete_all(&auth.caller, &body.ids).await?;
    Ok(StatusCode::NO_CONTENT)
}
