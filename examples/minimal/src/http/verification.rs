//! Verifying an address: the token from the email comes back to `POST /auth/verify-email`
//! (no session needed: the email may be read on another device); the owner can ask for a new
//! email with `POST /me/verification-email`, and move the account to a new address with
//! `POST /me/email`, which is a verification of the new address.

use axum::{Json, extract::State, http::StatusCode};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::AppState;
use super::{
    auth::{MailedToken, UserResponse},
    extract::{Authorized, JsonBody, RequestOrigin},
};
use crate::{
    domain::user::{Email, Password},
    error::AppError,
};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyEmailRequest {
    pub token: MailedToken,
}

// ANCHOR: verify_handler
/// Verify an address with the token from a verification email. The token works once, for 24
/// hours; for an email change, this is when the account's address changes.
#[utoipa::path(
    post,
    path = "/auth/verify-email",
    tag = "auth",
    request_body = VerifyEmailRequest,
    responses(
        (status = 200, description = "Verified: the account, with the address it verified", body = UserResponse),
        (status = 401, description = "The token is unknown, used or expired (it is used up either way)"),
        (status = 409, description = "Another account has the address now (an email change): nothing changed"),
        (status = 422, description = "A field is missing, unknown or invalid"),
    )
)]
pub async fn verify_email(
    State(state): State<AppState>,
    RequestOrigin(origin): RequestOrigin,
    JsonBody(body): JsonBody<VerifyEmailRequest>,
) -> Result<Json<UserResponse>, AppError> {
    let user = state.auth.verify_email(&origin, &body.token.0).await?;
    Ok(Json(user.into()))
}
// ANCHOR_END: verify_handler

/// Ask for a new verification email for the account's address. Its token replaces any earlier
/// one; requests within one fixed 10-minute window share one email.
#[utoipa::path(
    post,
    path = "/me/verification-email",
    tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 202, description = "Accepted: an email with a new token follows"),
        (status = 409, description = "The address is verified already"),
        (status = 429, description = "Too many attempts; see `Retry-After`"),
    )
)]
pub async fn resend_verification(
    State(state): State<AppState>,
    auth: Authorized,
    RequestOrigin(origin): RequestOrigin,
) -> Result<StatusCode, AppError> {
    state
        .auth
        .resend_verification(&origin, &auth.caller)
        .await?;
    Ok(StatusCode::ACCEPTED)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeEmailRequest {
    /// The new address.
    pub email: Email,
    /// The account's current password.
    pub current_password: Password,
}

// ANCHOR: change_email_handler
/// Move the account to a new address, given the password. A token goes to the new address;
/// the account keeps its current one until the token comes back to `POST /auth/verify-email`.
/// The answer is the same whether or not another account has the new address.
#[utoipa::path(
    post,
    path = "/me/email",
    tag = "auth",
    request_body = ChangeEmailRequest,
    security(("bearer" = [])),
    responses(
        (status = 202, description = "Accepted: an email with a token follows, to the new address"),
        (status = 403, description = "The current password is wrong"),
        (status = 422, description = "A field is missing, unknown or invalid"),
        (status = 429, description = "Too many attempts; see `Retry-After`"),
        (status = 503, description = "Busy hashing passwords; see `Retry-After`"),
    )
)]
pub async fn change_email(
    State(state): State<AppState>,
    auth: Authorized,
    RequestOrigin(origin): RequestOrigin,
    JsonBody(body): JsonBody<ChangeEmailRequest>,
) -> Result<StatusCode, AppError> {
    state
        .auth
        .change_email(&origin, &auth.caller, body.email, body.current_password)
        .await?;
    Ok(StatusCode::ACCEPTED)
}
// ANCHOR_END: change_email_handler

/// The verification routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(verify_email))
        .routes(routes!(resend_verification))
        .routes(routes!(change_email))
}
