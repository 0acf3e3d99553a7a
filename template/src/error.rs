//! One error type for the whole service, and one JSON body for every error response.
//!
//! Handlers and services return [`AppError`]; [`Problem`] renders it as RFC 9457
//! `application/problem+json`, always with the request id, so a user's bug report can be matched
//! to the server's logs. A 500 logs its cause and shows the client nothing of it.

use std::time::Duration;

use axum::{
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Serialize;
use utoipa::ToSchema;

use crate::http::request_id;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("the request is not valid")]
    Validation(Vec<FieldError>),
    /// Well-formed and valid, but not something the server can do (422 with a reason).
    #[error("{0}")]
    Unprocessable(String),
    #[error("too many requests")]
    TooManyRequests { retry_after: Duration },
    #[error("{detail}")]
    Unavailable {
        detail: String,
        retry_after: Option<Duration>,
    },
    /// Anything unexpected. The cause is logged, never sent.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// One invalid field of a request, reported with 422.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq, Eq)]
pub struct FieldError {
    /// The field's name as the client sent it, e.g. `title`.
    pub field: String,
    /// What is wrong with it, for a person.
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl From<sqlx::Error> for AppError {
    fn from(err: sqlx::Error) -> Self {
        match err {
            sqlx::Error::RowNotFound => Self::NotFound("not found".into()),
            sqlx::Error::PoolTimedOut => Self::Unavailable {
                detail: "the database is busy, try again shortly".into(),
                retry_after: Some(Duration::from_secs(1)),
            },
            // Class 22 (data exception: a value out of range, a NUL byte in text, ...) can only
            // come from a value the client sent that slipped past validation: their mistake.
            sqlx::Error::Database(db) if db.code().is_some_and(|code| code.starts_with("22")) => {
                tracing::warn!(error = %db, "the database refused a value from the request");
                Self::BadRequest("a value in the request is out of range or malformed".into())
            }
            // 57014: cancelled by `statement_timeout` (DATABASE_STATEMENT_TIMEOUT_MS).
            sqlx::Error::Database(db) if db.code().as_deref() == Some("57014") => {
                tracing::warn!(error = %db, "a statement ran past the statement timeout");
                Self::Unavailable {
                    detail: "the database took too long, try again shortly".into(),
                    retry_after: Some(Duration::from_secs(1)),
                }
            }
            other => Self::Internal(other.into()),
        }
    }
}

impl AppError {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::Validation(_) | Self::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        let mut problem = Problem::new(status);
        let mut retry_after = None;
        match self {
            Self::Internal(err) => {
                tracing::error!(error = format!("{err:#}"), "internal error");
            }
            Self::Validation(errors) => {
                problem.detail = Some("one or more fields are invalid".into());
                problem.errors = errors;
            }
            Self::TooManyRequests { retry_after: after } => {
                problem.detail = Some("too many requests, slow down".into());
                retry_after = Some(after);
            }
            Self::Unavailable {
                detail,
                retry_after: after,
            } => {
                problem.detail = Some(detail);
                retry_after = after;
            }
            other => problem.detail = Some(other.to_string()),
        }
        let mut response = problem.into_response();
        if let Some(after) = retry_after {
            // Retry-After counts whole seconds; round up so clients never retry too early.
            let secs = after.as_secs() + u64::from(after.subsec_nanos() > 0);
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
        }
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// The body of every error response (RFC 9457 problem details).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Problem {
    /// Always `about:blank`: `title` and `code` identify the problem.
    #[serde(rename = "type")]
    #[schema(example = "about:blank")]
    pub kind: &'static str,
    /// The HTTP reason phrase, e.g. `Not Found`.
    #[schema(example = "Not Found")]
    pub title: &'static str,
    #[schema(example = 404)]
    pub status: u16,
    /// A stable, machine-readable code, e.g. `not_found`.
    #[schema(example = "not_found")]
    pub code: &'static str,
    /// What went wrong, for a person. Absent for 500s.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The id of the request, as in the `x-request-id` header and the server's logs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// The invalid fields of a 422.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

impl Problem {
    /// A problem for `status`, carrying the current request's id.
    pub fn new(status: StatusCode) -> Self {
        Self {
            kind: "about:blank",
            title: status.canonical_reason().unwrap_or("Error"),
            status: status.as_u16(),
            code: code_for(status),
            detail: None,
            request_id: request_id::current(),
            errors: Vec::new(),
        }
    }

    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&self).unwrap_or_default();
        (
            status,
            [(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON))],
            body,
        )
            .into_response()
    }
}

pub const PROBLEM_JSON: &str = "application/problem+json";

/// Stable codes so clients need not parse titles.
fn code_for(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "bad_request",
        401 => "unauthorized",
        403 => "forbidden",
        404 => "not_found",
        405 => "method_not_allowed",
        408 => "request_timeout",
        409 => "conflict",
        413 => "payload_too_large",
        415 => "unsupported_media_type",
        422 => "validation_failed",
        429 => "rate_limited",
        500 => "internal",
        503 => "unavailable",
        s if s < 500 => "client_error",
        _ => "server_error",
    }
}
