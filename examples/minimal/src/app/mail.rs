//! Sending email: the port. `infra::mail` has the implementations: the log (the default, for
//! development) and SMTP.

use async_trait::async_trait;

/// One plain-text email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    pub to: String,
    pub subject: String,
    pub body: String,
    /// The identity of this message (the job's key): the same key means the same message, so
    /// a resend after a retry carries the same `Message-ID` and mail clients show it once.
    pub key: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MailError {
    /// Worth retrying: the server is unreachable, busy, or failed for now (SMTP 4xx).
    #[error("sending failed for now: {0}")]
    Transient(String),
    /// Retrying cannot help: a malformed address, or a permanent refusal (SMTP 5xx).
    #[error("the email was refused: {0}")]
    Rejected(String),
}

#[async_trait]
pub trait Mailer: Send + Sync {
    async fn send(&self, email: &Email) -> Result<(), MailError>;
}
