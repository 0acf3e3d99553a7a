//! `/auth/*`: register, log in, refresh, log out, and reset a forgotten password. The
//! caller's own account (`/me`) is in `super::account`.

use axum::{
    Json,
    extract::State,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::AppState;
use super::{
    extract::{Authorized, JsonBody, RequestOrigin},
    schemas::{schema, string},
};
use crate::{
    app::auth::{Registration, Session},
    domain::user::{DisplayName, Email, NewPassword, Password, Role, User},
    error::AppError,
};

// ANCHOR: register_request
/// Each field is a domain type that checks its own rules as it is parsed.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    pub email: Email,
    /// Shown to other people.
    pub display_name: DisplayName,
    pub password: NewPassword,
}
// ANCHOR_END: register_request

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub email: Email,
    pub password: Password,
}

/// A refresh token as sent: 1 to 256 characters (the service issues 43).
#[derive(Deserialize)]
#[serde(try_from = "String")]
pub struct RefreshToken(String);

/// Longer than any token the service issues, far shorter than a body limit.
const REFRESH_TOKEN_MAX_CHARS: usize = 256;

impl TryFrom<String> for RefreshToken {
    type Error = String;

    fn try_from(token: String) -> Result<Self, String> {
        if (1..=REFRESH_TOKEN_MAX_CHARS).contains(&token.chars().count()) {
            Ok(Self(token))
        } else {
            Err(format!("must be 1 to {REFRESH_TOKEN_MAX_CHARS} characters"))
        }
    }
}

schema! {
    RefreshToken => string("A refresh token from `POST /auth/login` or `POST /auth/refresh`")
        .min_length(Some(1))
        .max_length(Some(REFRESH_TOKEN_MAX_CHARS))
        .into();
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    pub refresh_token: RefreshToken,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LogoutRequest {
    /// Also revoke this refresh token (and every token rotated from the same login).
    pub refresh_token: Option<RefreshToken>,
}

// ANCHOR: user_response
/// An account, as its owner and admins see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserResponse {
    pub id: Uuid,
    pub email: String,
    /// Whether the owner has verified `email` (`POST /auth/verify-email`). An account still
    /// unverified 7 days after registering is deleted.
    pub email_verified: bool,
    pub display_name: String,
    pub role: Role,
    pub disabled: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<User> for UserResponse {
    fn from(user: User) -> Self {
        Self {
            id: user.id,
            email: user.email,
            email_verified: user.email_verified,
            display_name: user.display_name,
            role: user.role,
            disabled: user.disabled,
            created_at: user.created_at,
            updated_at: user.updated_at,
        }
    }
}
// ANCHOR_END: user_response

/// Tokens for a session. Keep the refresh token secret: each use returns a new one, and
/// presenting a used one again revokes the session.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionResponse {
    pub access_token: String,
    #[schema(example = "Bearer")]
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    #[schema(example = 900)]
    pub expires_in: i64,
    pub refresh_token: String,
    /// Seconds until the refresh token expires.
    pub refresh_expires_in: i64,
}

impl IntoResponse for SessionResponse {
    fn into_response(self) -> Response {
        let mut response = Json(self).into_response();
        // Tokens must never sit in a shared or browser cache.
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }
}

impl From<Session> for SessionResponse {
    fn from(session: Session) -> Self {
        Self {
            access_token: session.access_token,
            token_type: "Bearer",
            expires_in: session.access_expires_in,
            refresh_token: session.refresh_token,
            refresh_expires_in: session.refresh_expires_in,
        }
    }
}

// ANCHOR: register_handler
/// Create an account (role `user`).
#[utoipa::path(
    post,
    path = "/auth/register",
    tag = "auth",
    request_body = RegisterRequest,
    responses(
        (status = 201, description = "Account created. An address that has an account gets the same answer (nothing is created; its owner is told by email), so registering reveals no accounts", body = UserResponse),
        (status = 400, description = "The body is not JSON"),
        (status = 413, description = "The body is too large"),
        (status = 415, description = "The body is not `application/json`"),
        (status = 422, description = "A field is missing, unknown or invalid"),
        (status = 429, description = "Too many attempts; see `Retry-After`"),
        (status = 503, description = "Busy hashing passwords; see `Retry-After`"),
    )
)]
pub async fn register(
    State(state): State<AppState>,
    RequestOrigin(origin): RequestOrigin,
    JsonBody(body): JsonBody<RegisterRequest>,
) -> Result<(StatusCode, Json<UserResponse>), AppError> {
    let user = state
        .auth
        .register(
            &origin,
            Registration {
                email: body.email,
                display_name: body.display_name,
                password: body.password,
            },
        )
        .await?;
    Ok((StatusCode::CREATED, Json(user.into())))
}
// ANCHOR_END: register_handler

/// Exchange email and password for an access and a refresh token.
#[utoipa::path(
    post,
    path = "/auth/login",
    tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Signed in", body = SessionResponse),
        (status = 400, description = "The body is not JSON"),
        (status = 401, description = "Wrong email or password (the answer does not say which)"),
        (status = 422, description = "A field is missing, unknown or invalid"),
        (status = 429, description = "Too many attempts; see `Retry-After`"),
        (status = 503, description = "Busy hashing passwords; see `Retry-After`"),
    )
)]
pub async fn login(
    State(state): State<AppState>,
    RequestOrigin(origin): RequestOrigin,
    JsonBody(body): JsonBody<LoginRequest>,
) -> Result<SessionResponse, AppError> {
    let session = state
        .auth
        .login(&origin, &body.email, body.password)
        .await?;
    Ok(session.into())
}

/// Exchange a refresh token for new tokens. The presented token stops working.
#[utoipa::path(
    post,
    path = "/auth/refresh",
    tag = "auth",
    request_body = RefreshRequest,
    responses(
        (status = 200, description = "New tokens", body = SessionResponse),
        (status = 401, description = "Unknown, expired, revoked or reused refresh token"),
        (status = 422, description = "A field is missing, unknown or invalid"),
        (status = 429, description = "Too many attempts; see `Retry-After`"),
    )
)]
pub async fn refresh(
    State(state): State<AppState>,
    RequestOrigin(origin): RequestOrigin,
    JsonBody(body): JsonBody<RefreshRequest>,
) -> Result<SessionResponse, AppError> {
    Ok(state
        .auth
        .refresh(&origin, &body.refresh_token.0)
        .await?
        .into())
}

/// Revoke this access token and, when given, the refresh token's session.
#[utoipa::path(
    post,
    path = "/auth/logout",
    tag = "auth",
    request_body = LogoutRequest,
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Signed out"),
        (status = 422, description = "A field is unknown or invalid"),
    )
)]
pub async fn logout(
    State(state): State<AppState>,
    auth: Authorized,
    RequestOrigin(origin): RequestOrigin,
    JsonBody(body): JsonBody<LogoutRequest>,
) -> Result<StatusCode, AppError> {
    let refresh_token = body.refresh_token.as_ref().map(|token| token.0.as_str());
    state
        .auth
        .logout(&origin, &auth.caller, refresh_token)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Revoke every session of the caller, on every device.
#[utoipa::path(
    post,
    path = "/auth/logout-all",
    tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Every session ended"),
    )
)]
pub async fn logout_all(
    State(state): State<AppState>,
    auth: Authorized,
    RequestOrigin(origin): RequestOrigin,
) -> Result<StatusCode, AppError> {
    state.auth.logout_everywhere(&origin, &auth.caller).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ANCHOR: password_requests
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ForgotPasswordRequest {
    pub email: Email,
}

/// A token from an email (a password reset or an address verification) as sent: 1 to 256
/// characters (the service issues 43).
#[derive(Deserialize)]
#[serde(try_from = "String")]
pub struct MailedToken(pub(super) String);

impl TryFrom<String> for MailedToken {
    type Error = String;

    /// The same shape as a refresh token: all are 256 random bits, base64url-encoded.
    fn try_from(token: String) -> Result<Self, String> {
        RefreshToken::try_from(token).map(|token| Self(token.0))
    }
}

schema! {
    MailedToken => string("The token from the email")
        .min_length(Some(1))
        .max_length(Some(REFRESH_TOKEN_MAX_CHARS))
        .into();
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetPasswordRequest {
    pub token: MailedToken,
    pub password: NewPassword,
}

// ANCHOR_END: password_requests

// ANCHOR: forgot_handler
/// Ask for a password reset email. The answer is the same whether or not the address has an
/// account; if it has an enabled one, a single-use token valid for 30 minutes is emailed (at
/// most one email per address per fixed 10-minute window).
#[utoipa::path(
    post,
    path = "/auth/password/forgot",
    tag = "auth",
    request_body = ForgotPasswordRequest,
    responses(
        (status = 202, description = "Accepted: an email follows if the address has an account"),
        (status = 422, description = "A field is missing, unknown or invalid"),
        (status = 429, description = "Too many attempts; see `Retry-After`"),
    )
)]
pub async fn forgot_password(
    State(state): State<AppState>,
    RequestOrigin(origin): RequestOrigin,
    JsonBody(body): JsonBody<ForgotPasswordRequest>,
) -> Result<StatusCode, AppError> {
    state.auth.forgot_password(&origin, &body.email).await?;
    Ok(StatusCode::ACCEPTED)
}
// ANCHOR_END: forgot_handler

/// Set a new password with the token from the reset email. The token works once, and every
/// session of the account ends: log in again with the new password.
#[utoipa::path(
    post,
    path = "/auth/password/reset",
    tag = "auth",
    request_body = ResetPasswordRequest,
    responses(
        (status = 204, description = "Password set; every session of the account ended"),
        (status = 401, description = "The token is unknown, used or expired (it is used up either way)"),
        (status = 422, description = "A field is missing, unknown or invalid"),
        (status = 429, description = "Too many attempts; see `Retry-After`"),
        (status = 503, description = "Busy hashing passwords; see `Retry-After`"),
    )
)]
pub async fn reset_password(
    State(state): State<AppState>,
    RequestOrigin(origin): RequestOrigin,
    JsonBody(body): JsonBody<ResetPasswordRequest>,
) -> Result<StatusCode, AppError> {
    state
        .auth
        .reset_password(&origin, &body.token.0, body.password)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The sign-up, sign-in, session and password reset routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(register))
        .routes(routes!(login))
        .routes(routes!(refresh))
        .routes(routes!(logout))
        .routes(routes!(logout_all))
        .routes(routes!(forgot_password))
        .routes(routes!(reset_password))
}
