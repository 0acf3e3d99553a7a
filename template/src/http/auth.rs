//! `/auth/*` and `/me`: register, log in, refresh, log out; the caller's own account.

use axum::{
    Json,
    extract::State,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use chrono::{DateTime, Utc};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;
use validator::{Validate, ValidationError};

use super::extract::{Authorized, RequestOrigin, ValidJson};
use crate::{
    AppState,
    app::auth::{Registration, Session},
    domain::user::{
        DISPLAY_NAME_MAX_CHARS, EMAIL_MAX_CHARS, PASSWORD_MAX_CHARS, PASSWORD_MIN_CHARS, Role,
        User, has_control_chars,
    },
    error::{AppError, Problem},
};

/// No `Debug`: the body holds a password.
#[derive(Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    #[validate(
        email(message = "must be an email address"),
        length(max = EMAIL_MAX_CHARS, message = "must be at most 254 characters")
    )]
    #[schema(example = "ada@example.com")]
    pub email: String,
    /// Shown to other people; one line, 1 to 100 characters.
    #[validate(
        length(min = 1, max = DISPLAY_NAME_MAX_CHARS, message = "must be 1 to 100 characters"),
        custom(function = "single_line")
    )]
    #[schema(example = "Ada Lovelace")]
    pub display_name: String,
    /// 12 to 128 characters.
    #[validate(length(
        min = PASSWORD_MIN_CHARS,
        max = PASSWORD_MAX_CHARS,
        message = "must be 12 to 128 characters"
    ))]
    #[schema(example = "correct horse battery staple", format = Password)]
    pub password: String,
}

#[derive(Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    #[validate(
        length(min = 1, max = EMAIL_MAX_CHARS, message = "must be 1 to 254 characters"),
        custom(function = "single_line")
    )]
    #[schema(example = "ada@example.com")]
    pub email: String,
    /// Longer than any accepted password is refused before any hashing.
    #[validate(length(min = 1, max = PASSWORD_MAX_CHARS, message = "must be 1 to 128 characters"))]
    #[schema(example = "correct horse battery staple", format = Password)]
    pub password: String,
}

#[derive(Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    #[validate(length(min = 1, max = 256, message = "must be 1 to 256 characters"))]
    pub refresh_token: String,
}

#[derive(Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LogoutRequest {
    /// Also revoke this refresh token (and every token rotated from the same login).
    #[validate(length(min = 1, max = 256, message = "must be 1 to 256 characters"))]
    pub refresh_token: Option<String>,
}

fn single_line(value: &str) -> Result<(), ValidationError> {
    if has_control_chars(value) || value.trim().is_empty() {
        return Err(ValidationError::new("single_line")
            .with_message("must be one line of visible text".into()));
    }
    Ok(())
}

/// An account, as its owner and admins see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserResponse {
    pub id: Uuid,
    pub email: String,
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
            display_name: user.display_name,
            role: user.role,
            disabled: user.disabled,
            created_at: user.created_at,
            updated_at: user.updated_at,
        }
    }
}

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

/// Create an account (role `user`).
#[utoipa::path(
    post,
    path = "/auth/register",
    tag = "auth",
    request_body = RegisterRequest,
    responses(
        (status = 201, description = "Account created", body = UserResponse),
        (status = 400, description = "The body is not JSON", body = Problem),
        (status = 409, description = "The email is taken", body = Problem),
        (status = 413, description = "The body is too large", body = Problem),
        (status = 415, description = "The body is not `application/json`", body = Problem),
        (status = 422, description = "A field is missing, unknown or invalid", body = Problem),
        (status = 429, description = "Too many attempts; see `Retry-After`", body = Problem),
        (status = 503, description = "Busy hashing passwords; see `Retry-After`", body = Problem),
    )
)]
pub async fn register(
    State(state): State<AppState>,
    RequestOrigin(origin): RequestOrigin,
    ValidJson(body): ValidJson<RegisterRequest>,
) -> Result<(StatusCode, Json<UserResponse>), AppError> {
    let user = state
        .auth
        .register(
            &origin,
            Registration {
                email: body.email,
                display_name: body.display_name,
                password: SecretString::from(body.password),
            },
        )
        .await?;
    Ok((StatusCode::CREATED, Json(user.into())))
}

/// Exchange email and password for an access and a refresh token.
#[utoipa::path(
    post,
    path = "/auth/login",
    tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Signed in", body = SessionResponse),
        (status = 400, description = "The body is not JSON", body = Problem),
        (status = 401, description = "Wrong email or password (the answer does not say which)", body = Problem),
        (status = 422, description = "A field is missing, unknown or invalid", body = Problem),
        (status = 429, description = "Too many attempts; see `Retry-After`", body = Problem),
        (status = 503, description = "Busy hashing passwords; see `Retry-After`", body = Problem),
    )
)]
pub async fn login(
    State(state): State<AppState>,
    RequestOrigin(origin): RequestOrigin,
    ValidJson(body): ValidJson<LoginRequest>,
) -> Result<SessionResponse, AppError> {
    let session = state
        .auth
        .login(&origin, &body.email, SecretString::from(body.password))
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
        (status = 401, description = "Unknown, expired, revoked or reused refresh token", body = Problem),
        (status = 422, description = "A field is missing, unknown or invalid", body = Problem),
        (status = 429, description = "Too many attempts; see `Retry-After`", body = Problem),
    )
)]
pub async fn refresh(
    State(state): State<AppState>,
    RequestOrigin(origin): RequestOrigin,
    ValidJson(body): ValidJson<RefreshRequest>,
) -> Result<SessionResponse, AppError> {
    Ok(state
        .auth
        .refresh(&origin, &body.refresh_token)
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
        (status = 401, description = "No valid access token", body = Problem),
        (status = 422, description = "A field is unknown or invalid", body = Problem),
    )
)]
pub async fn logout(
    State(state): State<AppState>,
    auth: Authorized,
    RequestOrigin(origin): RequestOrigin,
    ValidJson(body): ValidJson<LogoutRequest>,
) -> Result<StatusCode, AppError> {
    state
        .auth
        .logout(&origin, &auth.caller, body.refresh_token.as_deref())
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
        (status = 401, description = "No valid access token", body = Problem),
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

/// The caller's own account.
#[utoipa::path(
    get,
    path = "/me",
    tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller's account", body = UserResponse),
        (status = 401, description = "No valid access token", body = Problem),
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
