//! Errors on the wire: every error response carries one body, RFC 9457
//! `application/problem+json`, always with the request id, so a user's bug report can be matched
//! to the server's logs. [`status_of`] is the service's status map: the one place an
//! [`AppError`] becomes an HTTP status.

use axum::{
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Serialize;
use utoipa::ToSchema;

use crate::{
    context,
    error::{AppError, FieldError},
};

pub const PROBLEM_JSON: &str = "application/problem+json";

// ANCHOR: status_map
/// The status each error is answered with.
pub fn status_of(error: &AppError) -> StatusCode {
    match error {
        AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
        AppError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
        AppError::Forbidden(_) => StatusCode::FORBIDDEN,
        AppError::NotFound(_) => StatusCode::NOT_FOUND,
        AppError::Conflict(_) => StatusCode::CONFLICT,
        AppError::Validation(_) | AppError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
        AppError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
        AppError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
        AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}
// ANCHOR_END: status_map

// ANCHOR: into_response
impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = status_of(&self);
        let mut problem = Problem::new(status);
        let mut retry_after = None;
        match self {
            Self::Internal(err) => {
                tracing::error!(error = format!("{err:#}"), "internal error");
            }
            Self::Validation(errors) => {
                problem.detail = Some("one or more fields are invalid".into());
                problem.errors = errors.into_iter().map(InvalidField::from).collect();
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
// ANCHOR_END: into_response

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
    pub errors: Vec<InvalidField>,
}

/// One invalid field of a 422.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq, Eq)]
pub struct InvalidField {
    /// The field's name as the client sent it, e.g. `title`.
    pub field: String,
    /// What is wrong with it, for a person.
    pub message: String,
}

impl From<FieldError> for InvalidField {
    fn from(error: FieldError) -> Self {
        Self {
            field: error.field,
            message: error.message,
        }
    }
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
            request_id: context::request_id(),
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
