//! Verifying an address: the token from the email comes back to `POST /auth/verify-email`
//! (no session needed: the email may be read on another device), and the owner can ask for a
//! new email with `POST /me/verification-email`.

use axum::{Json, extract::State, http::StatusCode};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::AppState;
use super::{
    auth::{MailedToken, UserResponse},
    extract::{Authorized, JsonBody, RequestOrigin},
};
use crate::error::AppError;

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

/// Ask for a new verification email for the account's address. The new token replaces any
/// earlier one once it is sent; at most one email per fixed 10-minute window.
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

/// The verification routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(verify_email))
        .routes(routes!(resend_verification))
}
