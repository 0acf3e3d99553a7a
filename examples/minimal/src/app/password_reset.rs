//! Forgotten passwords: the email that carries a reset token, and what running it does.
//!
//! `POST /auth/password/forgot` only queues a [`PasswordResetEmail`] naming the address as
//! typed, whether or not it has an account, so the request costs the same either way and its
//! answer tells nothing. The job looks the account up: with none (or a disabled one) it ends
//! without sending anything; otherwise it makes a token, stores its hash
//! (`SessionRepository::store_reset_token`, replacing any earlier token of the account) and
//! mails the token. The token exists in clear only in that email, never in the job's row.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{
    jobs::{Attempt, JobError, JobHandler, JobSpec},
    mail::{Email, Mailer},
    sessions::{NewResetToken, SessionRepository},
    tokens::RefreshSecret,
    users::UserRepository,
};
use crate::error::AppError;

/// How long a reset token works.
pub const RESET_TOKEN_TTL: chrono::Duration = chrono::Duration::minutes(30);

/// Requests for one address within one fixed window of this many seconds (aligned to the
/// clock) share one job, because the key names the window: one reset email per address per
/// window however often it is asked (and retries of that job).
pub const RESET_EMAIL_WINDOW_SECS: i64 = 600;

// ANCHOR: reset_spec
/// Sends a password reset token to `email`, if it has an enabled account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasswordResetEmail {
    /// The normalised address (`domain::user::email_key`).
    pub email_key: String,
    /// The window of the request: its Unix time divided by [`RESET_EMAIL_WINDOW_SECS`].
    pub window: i64,
}

impl PasswordResetEmail {
    pub fn requested(email_key: String, at: DateTime<Utc>) -> Self {
        Self {
            email_key,
            window: at.timestamp().div_euclid(RESET_EMAIL_WINDOW_SECS),
        }
    }
}

impl JobSpec for PasswordResetEmail {
    const KIND: &'static str = "password_reset_email";

    /// The address is hashed: keys show up in logs and traces.
    fn key(&self) -> String {
        let address = Sha256::digest(self.email_key.as_bytes());
        format!("password-reset-email.{address:x}.{}", self.window)
    }
}
// ANCHOR_END: reset_spec

/// Runs [`PasswordResetEmail`] jobs.
pub struct SendPasswordReset {
    pub users: Arc<dyn UserRepository>,
    pub sessions: Arc<dyn SessionRepository>,
    pub mailer: Arc<dyn Mailer>,
    pub service_name: String,
}

// ANCHOR: reset_handler
#[async_trait]
impl JobHandler for SendPasswordReset {
    type Job = PasswordResetEmail;

    async fn run(&self, job: PasswordResetEmail, attempt: Attempt) -> Result<(), JobError> {
        let Some(account) = self
            .users
            .credentials(&job.email_key)
            .await
            .map_err(retry)?
        else {
            return Ok(());
        };
        let user = account.user;
        if user.disabled {
            return Ok(());
        }
        // A retry makes a new token and replaces the stored hash: only the last email sent
        // works.
        let token = RefreshSecret::generate().map_err(retry)?;
        let stored = self
            .sessions
            .store_reset_token(NewResetToken {
                user_id: user.id,
                hash: token.hash,
                expires_at: Utc::now() + RESET_TOKEN_TTL,
            })
            .await
            .map_err(retry)?;
        if !stored {
            // Deleted or disabled since the lookup.
            return Ok(());
        }
        let message = Email {
            subject: format!("Reset your password at {}", self.service_name),
            body: format!(
                "Hello {},\n\nsomeone asked to reset the password of your account {}. \
                 If it was you, send this token with a new password to \
                 POST /auth/password/reset within {} minutes:\n\n{}\n\n\
                 It works once. If it was not you, ignore this email: your password \
                 stays as it is.\n",
                user.display_name,
                user.email,
                RESET_TOKEN_TTL.num_minutes(),
                token.value,
            ),
            // Each attempt sends a new token, so a new message: a mail client that drops a
            // repeated Message-ID must not hide the only token that works.
            key: format!("{}.{}", job.key(), attempt.number),
            to: user.email,
        };
        Ok(self.mailer.send(&message).await?)
    }
}
// ANCHOR_END: reset_handler

fn retry(err: AppError) -> JobError {
    JobError::Retry(err.to_string())
}
