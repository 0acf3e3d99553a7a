//! `/users`: account management, for admins only (every handler takes `Authorized<Admin>`).

use axum::{
    Json,
    extract::{Path, State},
    http::StatusCode,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use validator::Validate;

use super::{
    auth::UserResponse,
    extract::{Admin, Authorized, RequestOrigin, ValidJson, ValidQuery},
};
use crate::{
    AppState,
    app::{MAX_PAGE, users::UserChange},
    domain::user::Role,
    error::{AppError, Problem},
};

#[derive(Debug, Deserialize, Validate, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// 1 to 100; default 20.
    #[validate(range(min = 1, max = MAX_PAGE, message = "must be 1 to 100"))]
    #[serde(default = "default_limit")]
    pub limit: i64,
    /// Default 0.
    #[validate(range(min = 0, message = "must not be negative"))]
    #[serde(default)]
    pub offset: i64,
}

fn default_limit() -> i64 {
    20
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserPage {
    pub items: Vec<UserResponse>,
    /// All users, for page counts.
    pub total: i64,
    pub limit: i64,
    pub offset: i64,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[validate(schema(function = "some_change"))]
pub struct UserPatch {
    pub role: Option<Role>,
    /// `true` disables the account and ends its sessions; `false` enables it again.
    pub disabled: Option<bool>,
}

fn some_change(patch: &UserPatch) -> Result<(), validator::ValidationError> {
    if patch.role.is_none() && patch.disabled.is_none() {
        return Err(validator::ValidationError::new("empty")
            .with_message("set `role`, `disabled` or both".into()));
    }
    Ok(())
}

/// List accounts, oldest first.
#[utoipa::path(
    get,
    path = "/users",
    tag = "users",
    params(PageQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of accounts", body = UserPage),
        (status = 401, description = "No valid access token", body = Problem),
        (status = 403, description = "The caller is not an admin", body = Problem),
        (status = 422, description = "`limit` or `offset` out of range", body = Problem),
    )
)]
pub async fn list_users(
    State(state): State<AppState>,
    _admin: Authorized<Admin>,
    ValidQuery(page): ValidQuery<PageQuery>,
) -> Result<Json<UserPage>, AppError> {
    let (users, total) = state.users.list(page.limit, page.offset).await?;
    Ok(Json(UserPage {
        items: users.into_iter().map(UserResponse::from).collect(),
        total,
        limit: page.limit,
        offset: page.offset,
    }))
}

/// Change an account's role or disable it. Admins cannot change their own.
#[utoipa::path(
    patch,
    path = "/users/{id}",
    tag = "users",
    params(("id" = Uuid, Path, description = "The account's id")),
    request_body = UserPatch,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The updated account", body = UserResponse),
        (status = 400, description = "The id is not a UUID, or the body is not JSON", body = Problem),
        (status = 401, description = "No valid access token", body = Problem),
        (status = 403, description = "The caller is not an admin", body = Problem),
        (status = 404, description = "No such account", body = Problem),
        (status = 409, description = "An admin tried to change their own account", body = Problem),
        (status = 422, description = "A field is unknown or invalid, or nothing to change", body = Problem),
    )
)]
pub async fn update_user(
    State(state): State<AppState>,
    admin: Authorized<Admin>,
    RequestOrigin(origin): RequestOrigin,
    Path(id): Path<Uuid>,
    ValidJson(patch): ValidJson<UserPatch>,
) -> Result<Json<UserResponse>, AppError> {
    let change = UserChange {
        role: patch.role,
        disabled: patch.disabled,
    };
    let user = state
        .users
        .update(&origin, &admin.caller, id, change)
        .await?;
    Ok(Json(user.into()))
}

/// Delete an account and everything it owns. Admins cannot delete themselves.
#[utoipa::path(
    delete,
    path = "/users/{id}",
    tag = "users",
    params(("id" = Uuid, Path, description = "The account's id")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "The id is not a UUID", body = Problem),
        (status = 401, description = "No valid access token", body = Problem),
        (status = 403, description = "The caller is not an admin", body = Problem),
        (status = 404, description = "No such account", body = Problem),
        (status = 409, description = "An admin tried to delete themselves", body = Problem),
    )
)]
pub async fn delete_user(
    State(state): State<AppState>,
    admin: Authorized<Admin>,
    RequestOrigin(origin): RequestOrigin,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, AppError> {
    state.users.delete(&origin, &admin.caller, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
