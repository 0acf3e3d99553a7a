//! Email verification: the token that shows an account's owner receives mail at its address
//! (or at the new address of an email change), the email that carries it, and the rule for
//! accounts that never verify.
//!
//! Registration's [`WelcomeEmail`](super::welcome::WelcomeEmail) carries the first token;
//! `POST /me/verification-email` and an email change (`POST /me/email`) queue a
//! [`VerificationEmail`]. Either job makes a 256-bit token, stores its SHA-256 with the
//! address it verifies (`UserRepository::store_verification`, replacing any earlier one of
//! the account) and mails the token to that address; `POST /auth/verify-email` sends it back.
//! The token exists in clear only in the email.
//!
//! The restriction on an unverified account: it is deleted [`UNVERIFIED_ACCOUNT_RETENTION`]
//! after registering (the maintenance task), so an address registered by someone who does not
//! own it is free again within a week, and accounts made in bulk with made-up addresses do not
//! pile up. Until then it works like any other.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::{
    jobs::{Attempt, JobError, JobHandler, JobSpec},
    mail::{Email, Mailer},
    tokens::RefreshSecret,
    users::UserRepository,
};
use crate::error::AppError;

/// How long a verification token works; `POST /me/verification-email` sends a new one.
pub const VERIFICATION_TOKEN_TTL: Duration = Duration::hours(24);

/// How long an account may stay unverified before the maintenance task deletes it.
pub const UNVERIFIED_ACCOUNT_RETENTION: Duration = Duration::days(7);

/// Requests for one account and address within one fixed window of this many seconds share one
/// job (the key names the window): one verification email per window however often it is asked.
pub const VERIFICATION_EMAIL_WINDOW_SECS: i64 = 600;

/// Which address a verification is for, which decides when it may be stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    /// The account's own address, while it is unverified (the welcome email, a new email).
    Own,
    /// A new address (`POST /me/email`), asked for after the account's last verification.
    Change,
}

/// A verification to store: the address it verifies and only the hash of the token.
#[derive(Debug, Clone)]
pub struct NewVerification {
    pub user_id: Uuid,
    pub email: String,
    pub hash: Vec<u8>,
    pub expires_at: DateTime<Utc>,
    /// When the owner asked for it. A verification replaces only an older one, and a change
    /// only counts when asked for after the last verification: a job that runs late (a retry,
    /// an admin's requeue) can never bring back an address the owner has left since.
    pub requested_at: DateTime<Utc>,
    pub purpose: Purpose,
}

// ANCHOR: verification_spec
/// Sends a verification token for `email` to `email`: the account's own address again, or
/// the new one it is changing to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerificationEmail {
    pub user_id: Uuid,
    pub email: String,
    pub purpose: Purpose,
    pub requested_at: DateTime<Utc>,
    /// What sets this request apart from others for the same account and address (see the
    /// constructors): requests with the same slot share one job, so one email.
    pub slot: String,
}

impl VerificationEmail {
    /// Another email to the account's own address: requests within one window of
    /// [`VERIFICATION_EMAIL_WINDOW_SECS`] share one.
    pub fn again(user_id: Uuid, email: String, at: DateTime<Utc>) -> Self {
        let window = at.timestamp().div_euclid(VERIFICATION_EMAIL_WINDOW_SECS);
        Self {
            user_id,
            email,
            purpose: Purpose::Own,
            requested_at: at,
            slot: format!("window-{window}"),
        }
    }

    /// The email to a new address: every request gets its own (each replaces the token of the
    /// one before, whatever its address). The route charges the password budget of the
    /// caller and of the new address, so no address gets more of these than of reset emails.
    pub fn change(user_id: Uuid, email: String, at: DateTime<Utc>) -> Self {
        Self {
            user_id,
            email,
            purpose: Purpose::Change,
            requested_at: at,
            slot: format!("change-{}", Uuid::now_v7()),
        }
    }
}

impl JobSpec for VerificationEmail {
    const KIND: &'static str = "verification_email";

    /// The address is hashed: keys show up in logs and traces.
    fn key(&self) -> String {
        let address = Sha256::digest(self.email.as_bytes());
        format!(
            "verification-email.{}.{address:x}.{}",
            self.user_id, self.slot
        )
    }
}
// ANCHOR_END: verification_spec

/// Makes, stores and mails verification tokens, for the welcome email and for
/// [`SendVerificationEmail`].
pub struct Verifier {
    pub users: Arc<dyn UserRepository>,
    pub mailer: Arc<dyn Mailer>,
    /// Names the service in subjects (`OTEL_SERVICE_NAME`).
    pub service_name: String,
}

// ANCHOR: verifier_send
impl Verifier {
    /// Mails a new token for `request` (its address, for its account), after `intro`. Sends
    /// nothing when the store refuses it: the account is gone or disabled, or the request has
    /// been overtaken (see [`NewVerification::requested_at`]). `key` is the message's: each
    /// attempt of a job carries a new token, so it names the attempt.
    pub async fn send(
        &self,
        request: &VerificationEmail,
        subject: String,
        intro: String,
        key: String,
    ) -> Result<(), JobError> {
        let token = RefreshSecret::generate().map_err(retry)?;
        let stored = self
            .users
            .store_verification(NewVerification {
                user_id: request.user_id,
                email: request.email.clone(),
                hash: token.hash,
                expires_at: Utc::now() + VERIFICATION_TOKEN_TTL,
                requested_at: request.requested_at,
                purpose: request.purpose,
            })
            .await
            .map_err(retry)?;
        if !stored {
            return Ok(());
        }
        let outcome = match request.purpose {
            Purpose::Own => format!(
                "An account whose address is not verified within {} days of registering is \
                 deleted.",
                UNVERIFIED_ACCOUNT_RETENTION.num_days()
            ),
            Purpose::Change => "Until then the account keeps its current address.".to_owned(),
        };
        let message = Email {
            subject,
            body: format!(
                "{intro}\n\nTo verify that {} is yours, send this token to \
                 POST /auth/verify-email within {} hours:\n\n{}\n\n\
                 It works once. {outcome} If you did not ask for this, ignore this email.\n",
                request.email,
                VERIFICATION_TOKEN_TTL.num_hours(),
                token.value,
            ),
            key,
            to: request.email.clone(),
        };
        Ok(self.mailer.send(&message).await?)
    }
}
// ANCHOR_END: verifier_send

/// Runs [`VerificationEmail`] jobs.
pub struct SendVerificationEmail(pub Arc<Verifier>);

#[async_trait]
impl JobHandler for SendVerificationEmail {
    type Job = VerificationEmail;

    async fn run(&self, job: VerificationEmail, attempt: Attempt) -> Result<(), JobError> {
        let verifier = &self.0;
        verifier
            .send(
                &job,
                format!("Verify your address at {}", verifier.service_name),
                format!(
                    "Hello,\n\nsomeone, you we hope, asked to verify this address for an \
                     account at {}.",
                    verifier.service_name
                ),
                format!("{}.{}", job.key(), attempt.number),
            )
            .await
    }
}

fn retry(err: AppError) -> JobError {
    JobError::Retry(err.to_string())
}
