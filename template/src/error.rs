//! One error type for the whole service.
//!
//! Services and repositories return [`AppError`]; each variant names what went wrong in the
//! terms a client can act on (not found, conflict, invalid fields, slow down, try later). The
//! type knows nothing of HTTP or SQL: `http::problem` turns it into a status and the one
//! problem+json body, and `infra` turns database errors into it. A 500 (`Internal`) carries its
//! cause for the log and shows the client nothing of it.

use std::time::Duration;

// ANCHOR: error_type
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
// ANCHOR_END: error_type

impl AppError {
    /// A 422 for one field: `AppError::invalid("title", "must not be empty")`.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Validation(vec![FieldError::new(field, message)])
    }
}

/// One invalid field of a request, reported with 422.
#[derive(Debug, Clone, PartialEq, Eq)]
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
