//! `/me`: the caller's own account. Reading it needs a valid access token; changing the
//! password or the address (`super::verification`), or deleting the account, also needs the
//! password, so a stolen access token alone cannot take the account over or destroy it.

use axum::{Json, extract::State, http::StatusCode};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::AppState;
use super::{
    auth::{SessionResponse, UserResponse},
    extract::{Authorized, JsonBody, RequestOrigin},
};
use crate::{
    domain::user::{DisplayName, NewPassword, Password},
    error::AppError,
};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePasswordRequest {
    pub current_password: Password,
    pub new_password: NewPassword,
}

/// The caller's own account.
#[utoipa::path(
    get,
    path = "/me",
    tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller's account", body = UserResponse),
    )
)]
pub async fn me(
    State(state): State<AppState>,
    auth: Authorized,
) -> Result<Json<UserResponse>, AppError> {
    let user = state
        .auth
        .users
        .by_id(auth.caller.id)
        .await?
        .ok_or_else(|| AppError::Unauthorized("the account no longer exists".into()))?;
    Ok(Json(user.into()))
}

/// Change the caller's password, given the current one. Every session of the account ends,
/// this one included, and the answer is a new session for this client.
#[utoipa::path(
    post,
    path = "/me/password",
    tag = "auth",
    request_body = ChangePasswordRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Password changed; a new session, the only one left", body = SessionResponse),
        (status = 403, description = "The current password is wrong"),
        (status = 422, description = "A field is missing, unknown or invalid"),
        (status = 429, description = "Too many attempts; see `Retry-After`"),
        (status = 503, description = "Busy hashing passwords; see `Retry-After`"),
    )
)]
pub async fn change_password(
    State(state): State<AppState>,
    auth: Authorized,
    RequestOrigin(origin): RequestOrigin,
    JsonBody(body): JsonBody<ChangePasswordRequest>,
) -> Result<SessionResponse, AppError> {
    let session = state
        .auth
        .change_password(
            &origin,
            &auth.caller,
            body.current_password,
            body.new_password,
        )
        .await?;
    Ok(session.into())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfilePatch {
    /// Shown to other people.
    pub display_name: DisplayName,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteAccountRequest {
    /// The account's current password.
    pub password: Password,
}

/// Change the caller's display name.
#[utoipa::path(
    patch,
    path = "/me",
    tag = "auth",
    request_body = ProfilePatch,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The account as changed", body = UserResponse),
        (status = 422, description = "A field is missing, unknown or invalid"),
    )
)]
pub async fn update_me(
    State(state): State<AppState>,
    auth: Authorized,
    RequestOrigin(origin): RequestOrigin,
    JsonBody(body): JsonBody<ProfilePatch>,
) -> Result<Json<UserResponse>, AppError> {
    let user = state
        .auth
        .rename(&origin, &auth.caller, body.display_name)
        .await?;
    Ok(Json(user.into()))
}

// ANCHOR: delete_me
/// Delete the caller's account, given its password, with everything it owns: its tasks, its
/// sessions and any webhook endpoints. It cannot be undone.
#[utoipa::path(
    delete,
    path = "/me",
    tag = "auth",
    request_body = DeleteAccountRequest,
    security(("bearer" = [])),
    responses(
        (status = 204, description = "The account and everything it owned are deleted"),
        (status = 403, description = "The password is wrong"),
        (status = 422, description = "A field is missing, unknown or invalid"),
        (status = 429, description = "Too many attempts; see `Retry-After`"),
        (status = 503, description = "Busy hashing passwords; see `Retry-After`"),
    )
)]
pub async fn delete_me(
    State(state): State<AppState>,
    auth: Authorized,
    RequestOrigin(origin): RequestOrigin,
    JsonBody(body): JsonBody<DeleteAccountRequest>,
) -> Result<StatusCode, AppError> {
    state
        .auth
        .delete_account(&origin, &auth.caller, body.password)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
// ANCHOR_END: delete_me

/// The caller's own account.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(me, update_me, delete_me))
        .routes(routes!(change_password))
}
