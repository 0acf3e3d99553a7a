//! `/users`: account management, for admins only (every handler takes `Authorized<Admin>`).

use axum::{
    Json,
    extract::{Path, State},
    http::StatusCode,
};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::AppState;
use super::{
    auth::UserResponse,
    extract::{Admin, Authorized, JsonBody, QueryParams, RequestOrigin},
    paging::PageQuery,
};
use crate::{app::users::UserChange, domain::user::Role, error::AppError};

#[derive(Debug, Serialize, ToSchema)]
pub struct UserPage {
    pub items: Vec<UserResponse>,
    /// All users, for page counts.
    pub total: i64,
    pub limit: i64,
    pub offset: i64,
}

/// At least one of the fields; neither may be `null`, so the document's `minProperties`
/// states the rule exactly.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(min_properties = 1)]
pub struct UserPatch {
    #[serde(default, deserialize_with = "not_null")]
    #[schema(nullable = false)]
    pub role: Option<Role>,
    /// `true` disables the account and ends its sessions; `false` enables it again.
    #[serde(default, deserialize_with = "not_null")]
    #[schema(nullable = false)]
    pub disabled: Option<bool>,
}

/// A field that may be absent but not `null`.
fn not_null<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(deserializer).map(Some)
}

// ANCHOR: documented_admin_route
/// List accounts, oldest first.
#[utoipa::path(
    get,
    path = "/users",
    tag = "users",
    params(PageQuery),
    security(("bearer" = ["admin"])),
    responses(
        (status = 200, description = "A page of accounts", body = UserPage),
        (status = 422, description = "`limit` or `offset` out of range"),
    )
)]
pub async fn list_users(
    State(state): State<AppState>,
    _admin: Authorized<Admin>,
    QueryParams(page): QueryParams<PageQuery>,
) -> Result<Json<UserPage>, AppError> {
    let (users, total) = state.users.list(page.limit.0, page.offset.0).await?;
    Ok(Json(UserPage {
        items: users.into_iter().map(UserResponse::from).collect(),
        total,
        limit: page.limit.0,
        offset: page.offset.0,
    }))
}
// ANCHOR_END: documented_admin_route

/// Change an account's role or disable it. Admins cannot change their own.
#[utoipa::path(
    patch,
    path = "/users/{id}",
    tag = "users",
    params(("id" = Uuid, Path, description = "The account's id")),
    request_body = UserPatch,
    security(("bearer" = ["admin"])),
    responses(
        (status = 200, description = "The updated account", body = UserResponse),
        (status = 400, description = "The id is not a UUID, or the body is not JSON"),
        (status = 404, description = "No such account"),
        (status = 409, description = "An admin tried to change their own account"),
        (status = 422, description = "A field is unknown or invalid, or nothing to change"),
    )
)]
pub async fn update_user(
    State(state): State<AppState>,
    admin: Authorized<Admin>,
    RequestOrigin(origin): RequestOrigin,
    Path(id): Path<Uuid>,
    JsonBody(patch): JsonBody<UserPatch>,
) -> Result<Json<UserResponse>, AppError> {
    if patch.role.is_none() && patch.disabled.is_none() {
        return Err(AppError::invalid("body", "set `role`, `disabled` or both"));
    }
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
    security(("bearer" = ["admin"])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "The id is not a UUID"),
        (status = 404, description = "No such account"),
        (status = 409, description = "An admin tried to delete themselves"),
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

/// Account management, for admins.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_users))
        .routes(routes!(update_user, delete_user))
}
