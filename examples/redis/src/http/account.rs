//! `/me`: the caller's own account. Reading it needs a valid access token; changing the
//! password or the address, or deleting the account, also needs the password, so a stolen
//! access token alone cannot take the account over or destroy it.

use axum::{Json, extract::State, http::StatusCode};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::AppState;
use super::{
    auth::{SessionResponse, UserResponse},
    extract::{Authorized, JsonBody, RequestOrigin},
    users::not_null,
};
use crate::{
    domain::user::{DisplayName, Email, NewPassword, Password},
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

/// At least one of `display_name` and `email`; none of the fields may be `null`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(min_properties = 1)]
pub struct ProfilePatch {
    /// Shown to other people.
    #[serde(default, deserialize_with = "not_null")]
    #[schema(nullable = false)]
    pub display_name: Option<DisplayName>,
    /// A new address. Needs `current_password`; it becomes the account's address when the
    /// token mailed to it comes back to `POST /auth/verify-email`.
    #[serde(default, deserialize_with = "not_null")]
    #[schema(nullable = false)]
    pub email: Option<Email>,
    /// The account's current password: required with `email`.
    #[serde(default, deserialize_with = "not_null")]
    #[schema(nullable = false)]
    pub current_password: Option<Password>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteAccountRequest {
    /// The account's current password.
    pub password: Password,
}

// ANCHOR: update_me
/// Change the caller's display name, address, or both. A new address needs the current
/// password and takes effect only when the token mailed to it is sent to
/// `POST /auth/verify-email`: until then the answer, and the account, keep the old one.
#[utoipa::path(
    patch,
    path = "/me",
    tag = "auth",
    request_body = ProfilePatch,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The account as changed (a new address follows its verification)", body = UserResponse),
        (status = 403, description = "The current password is wrong"),
        (status = 422, description = "A field is missing, unknown or invalid, `email` comes without `current_password`, or neither `display_name` nor `email` is given"),
        (status = 429, description = "Too many attempts; see `Retry-After`"),
        (status = 503, description = "Busy hashing passwords; see `Retry-After`"),
    )
)]
pub async fn update_me(
    State(state): State<AppState>,
    auth: Authorized,
    RequestOrigin(origin): RequestOrigin,
    JsonBody(body): JsonBody<ProfilePatch>,
) -> Result<Json<UserResponse>, AppError> {
    let ProfilePatch {
        display_name,
        email,
        current_password,
    } = body;
    if display_name.is_none() && email.is_none() {
        return Err(AppError::Unprocessable(
            "give `display_name`, `email` or both".into(),
        ));
    }
    // The address first: a wrong password changes nothing at all.
    if let Some(email) = email {
        let password = current_password.ok_or_else(|| {
            AppError::Unprocessable("changing `email` needs `current_password`".into())
        })?;
        state
            .auth
            .change_email(&origin, &auth.caller, email, password)
            .await?;
    }
    let gone = || AppError::Unauthorized("the account no longer exists".into());
    let user = match display_name {
        Some(name) => state.auth.rename(&origin, &auth.caller, name).await?,
        None => state
            .auth
            .users
            .by_id(auth.caller.id)
            .await?
            .ok_or_else(gone)?,
    };
    Ok(Json(user.into()))
}
// ANCHOR_END: update_me

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
