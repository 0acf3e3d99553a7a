//! The emails a registration causes: the welcome email, queued in the new account's own
//! transaction, which carries the first verification token (`app::verification`), and the
//! notice to the owner of an address that someone tried to register again; and what running
//! each sends.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::DateTime;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{
    jobs::{Attempt, JobError, JobHandler, JobSpec},
    mail::{Email, Mailer},
    verification::{Purpose, VerificationEmail, Verifier},
};

// ANCHOR: welcome_spec
/// Greets a newly registered account by email, with the token that verifies its address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WelcomeEmail {
    pub user_id: Uuid,
    pub email: String,
    pub display_name: String,
}

impl JobSpec for WelcomeEmail {
    const KIND: &'static str = "welcome_email";

    /// One welcome email per account, however often it is enqueued.
    fn key(&self) -> String {
        format!("welcome-email.{}", self.user_id)
    }
}
// ANCHOR_END: welcome_spec

/// Sends [`WelcomeEmail`] jobs: a greeting with the account's first verification token.
pub struct SendWelcomeEmail(pub Arc<Verifier>);

// ANCHOR: welcome_handler
#[async_trait]
impl JobHandler for SendWelcomeEmail {
    type Job = WelcomeEmail;

    async fn run(&self, job: WelcomeEmail, attempt: Attempt) -> Result<(), JobError> {
        let verifier = &self.0;
        // The oldest of requests: it replaces no verification asked for since.
        let request = VerificationEmail {
            user_id: job.user_id,
            email: job.email.clone(),
            purpose: Purpose::Own,
            requested_at: DateTime::UNIX_EPOCH,
            slot: String::new(),
        };
        verifier
            .send(
                &request,
                format!("Welcome to {}", verifier.service_name),
                format!(
                    "Hello {},\n\nyour account {} is ready.",
                    job.display_name, job.email
                ),
                // Each attempt carries a new token, so it is a new message: the mail server
                // drops a second copy of the same Message-ID.
                format!("{}.{}", job.key(), attempt.number),
            )
            .await
    }
}
// ANCHOR_END: welcome_handler

/// Tells the owner of an address that someone tried to register it again. Registration
/// answers that attempt as if it had created an account, so the answer tells whoever tried
/// nothing; the owner learns of it here (and is reminded of an account they may have
/// forgotten). At most one per account per hour: the key names the hour.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountExistsEmail {
    pub user_id: Uuid,
    pub email: String,
    pub display_name: String,
    /// The hour of the attempt, UTC (`2030-01-01T09`).
    pub hour: String,
}

impl JobSpec for AccountExistsEmail {
    const KIND: &'static str = "account_exists_email";

    fn key(&self) -> String {
        format!("account-exists-email.{}.{}", self.user_id, self.hour)
    }
}

/// Sends [`AccountExistsEmail`] jobs through the configured mailer.
pub struct SendAccountExistsEmail {
    pub mailer: Arc<dyn Mailer>,
    pub service_name: String,
}

impl SendAccountExistsEmail {
    pub fn new(mailer: Arc<dyn Mailer>, service_name: &str) -> Self {
        Self {
            mailer,
            service_name: service_name.to_owned(),
        }
    }
}

#[async_trait]
impl JobHandler for SendAccountExistsEmail {
    type Job = AccountExistsEmail;

    async fn run(&self, job: AccountExistsEmail, _attempt: Attempt) -> Result<(), JobError> {
        let message = Email {
            subject: format!(
                "Someone tried to register your address at {}",
                self.service_name
            ),
            body: format!(
                "Hello {},\n\nsomeone tried to create an account with {}, which already has \
                 one: yours. If it was you, log in with your password. If it was not, nothing \
                 has changed and you can ignore this email.\n",
                job.display_name, job.email
            ),
            key: job.key(),
            to: job.email,
        };
        Ok(self.mailer.send(&message).await?)
    }
}
