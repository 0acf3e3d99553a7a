//! `/tasks`: a user's own tasks. Handlers translate between JSON and the domain and call
//! `app::tasks::TaskService`, where every rule lives.

mod requests;

use axum::{
    Json,
    extract::{Path, RawQuery, State},
    http::{HeaderMap, StatusCode, header},
};
use sha2::{Digest, Sha256};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

pub use requests::{
    BulkDeleteRequest, ListParams, NewTaskRequest, PatchTaskRequest, ReplaceTaskRequest, TaskIds,
    TaskPageResponse, TaskResponse, Version,
};

use super::{
    AppState,
    extract::{Authorized, JsonBody, QueryParams},
    paging::next_link,
};
use crate::{
    app::tasks::{Cursor, ListQuery, PageStart, TaskFilter},
    domain::task::{Due, TaskContent},
    error::AppError,
};

/// The header that makes `POST /tasks` safe to retry.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";
/// The longest key, in bytes (the document's `maxLength`; a test holds them together).
pub const IDEMPOTENCY_KEY_MAX_LEN: usize = 255;

/// The caller's tasks, filtered, sorted and paged.
#[utoipa::path(
    get,
    path = "/tasks",
    tag = "tasks",
    params(ListParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of tasks", body = TaskPageResponse, headers(
            ("Link" = String, description = "`<?...>; rel=\"next\"`: the next page, as a query-only reference to resolve against the request's URI: this request's query with `next_cursor` in place of `cursor` or `offset` (RFC 8288); absent on the last page"),
        )),
        (status = 400, description = "The cursor is not one this service issued for the same `sort` and `direction`, or both `offset` and `cursor` were given"),
        (status = 422, description = "A parameter is unknown, malformed or out of range"),
    )
)]
pub async fn list_tasks(
    State(state): State<AppState>,
    auth: Authorized,
    RawQuery(query): RawQuery,
    QueryParams(params): QueryParams<ListParams>,
) -> Result<(HeaderMap, Json<TaskPageResponse>), AppError> {
    let sort = params.sort.unwrap_or_default();
    let direction = params.direction.unwrap_or_default();
    let limit = params.limit.0;
    let start = match (&params.cursor, params.offset) {
        (Some(_), Some(_)) => {
            return Err(AppError::BadRequest(
                "use either `offset` or `cursor`, not both".into(),
            ));
        }
        (Some(raw), None) => PageStart::After(Cursor::decode(raw, sort, direction)?),
        (None, offset) => PageStart::Offset(offset.unwrap_or_default().0),
    };
    let page = state
        .tasks
        .list(ListQuery {
            owner: auth.caller.id,
            filter: TaskFilter {
                status: params.status,
                due_after: params.due_after.map(Due::time),
                due_before: params.due_before.map(Due::time),
            },
            sort,
            direction,
            limit,
            start,
        })
        .await?;
    let mut headers = HeaderMap::new();
    if let Some(link) = page
        .next_cursor
        .as_deref()
        .and_then(|next| next_link(query.as_deref(), next))
    {
        headers.insert(header::LINK, link);
    }
    let body = TaskPageResponse {
        items: page.items.into_iter().map(TaskResponse::from).collect(),
        next_cursor: page.next_cursor,
        limit,
    };
    Ok((headers, Json(body)))
}

/// Create a task. With an `Idempotency-Key` header, a retry with the same key and body gets
/// the first response again instead of a second task (keys are kept 24 hours, per user).
#[utoipa::path(
    post,
    path = "/tasks",
    tag = "tasks",
    request_body = NewTaskRequest,
    params(("Idempotency-Key" = Option<String>, Header, nullable = false, min_length = 1, max_length = 255, pattern = r"^[\x21-\x7e]+$", description = "1 to 255 visible ASCII characters, e.g. a UUID")),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Created (or, for a repeated Idempotency-Key, the task created the first time)", body = TaskResponse),
        (status = 400, description = "Not JSON, or a malformed Idempotency-Key"),
        (status = 409, description = "The Idempotency-Key was used with another body, or its task has been deleted since: use a new key"),
        (status = 413, description = "The body is too large"),
        (status = 422, description = "A field is invalid"),
    )
)]
pub async fn create_task(
    State(state): State<AppState>,
    auth: Authorized,
    headers: HeaderMap,
    JsonBody(body): JsonBody<NewTaskRequest>,
) -> Result<(StatusCode, Json<TaskResponse>), AppError> {
    let key = idempotency_key(&headers)?;
    let hash = Sha256::digest(serde_json::to_vec(&body).unwrap_or_default()).to_vec();
    let content = TaskContent::from(body);
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
        .filter(|key| {
            (1..=IDEMPOTENCY_KEY_MAX_LEN).contains(&key.len())
                && key.bytes().all(|b| b.is_ascii_graphic())
        })
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
        (status = 400, description = "The id is not a UUID"),
        (status = 404, description = "No such task (or not the caller's)"),
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
        (status = 400, description = "The id is not a UUID, or the body is not JSON"),
        (status = 404, description = "No such task (or not the caller's)"),
        (status = 409, description = "Stale version, or a status move that is not allowed"),
        (status = 422, description = "A field is missing, unknown or invalid"),
    )
)]
pub async fn replace_task(
    State(state): State<AppState>,
    auth: Authorized,
    Path(id): Path<Uuid>,
    JsonBody(body): JsonBody<ReplaceTaskRequest>,
) -> Result<Json<TaskResponse>, AppError> {
    let (version, content) = body.content();
    let task = state
        .tasks
        .replace(&auth.caller, id, version.0, content)
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
        (status = 400, description = "The id is not a UUID, or the body is not JSON"),
        (status = 404, description = "No such task (or not the caller's)"),
        (status = 409, description = "Stale version, or a status move that is not allowed"),
        (status = 422, description = "A field is unknown or invalid"),
    )
)]
pub async fn patch_task(
    State(state): State<AppState>,
    auth: Authorized,
    Path(id): Path<Uuid>,
    JsonBody(body): JsonBody<PatchTaskRequest>,
) -> Result<Json<TaskResponse>, AppError> {
    let (version, patch) = body.patch();
    let task = state
        .tasks
        .patch(&auth.caller, id, version.0, patch)
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
        (status = 400, description = "The id is not a UUID"),
        (status = 404, description = "No such task (or not the caller's)"),
        (status = 409, description = "The task changed at the same moment; retry"),
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
        (status = 400, description = "The id is not a UUID"),
        (status = 404, description = "No such task (or not the caller's)"),
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
        (status = 404, description = "One of the tasks is missing or not the caller's; nothing was deleted"),
        (status = 422, description = "No ids, more than `TaskIds` allows, a repeated id, or not UUIDs"),
    )
)]
pub async fn bulk_delete_tasks(
    State(state): State<AppState>,
    auth: Authorized,
    JsonBody(body): JsonBody<BulkDeleteRequest>,
) -> Result<StatusCode, AppError> {
    state.tasks.delete_all(&auth.caller, &body.ids.0).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The caller's tasks.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_tasks, create_task))
        .routes(routes!(get_task, replace_task, patch_task, delete_task))
        .routes(routes!(complete_task))
        .routes(routes!(bulk_delete_tasks))
}
