//! The welcome email: the job a registration queues in its own transaction, and what running
//! it sends.

use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{
    jobs::{Attempt, JobError, JobHandler, JobSpec},
    mail::{Email, Mailer},
};

// ANCHOR: welcome_spec
/// Greets a newly registered account by email.
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

/// Sends [`WelcomeEmail`] jobs through the configured mailer.
pub struct SendWelcomeEmail {
    pub mailer: Arc<dyn Mailer>,
    /// Names the service in the subject (`OTEL_SERVICE_NAME`).
    pub service_name: String,
}

impl SendWelcomeEmail {
    pub fn new(mailer: Arc<dyn Mailer>, service_name: &str) -> Self {
        Self {
            mailer,
            service_name: service_name.to_owned(),
        }
    }
}

// ANCHOR: welcome_handler
#[async_trait]
impl JobHandler for SendWelcomeEmail {
    type Job = WelcomeEmail;

    async fn run(&self, job: WelcomeEmail, _attempt: Attempt) -> Result<(), JobError> {
        let message = Email {
            subject: format!("Welcome to {}", self.service_name),
            body: format!(
                "Hello {},\n\nyour account {} is ready. \
                 If you did not create it, reply to this email.\n",
                job.display_name, job.email
            ),
            // The mail server can drop a second copy by its Message-ID.
            key: job.key(),
            to: job.email,
        };
        Ok(self.mailer.send(&message).await?)
    }
}
// ANCHOR_END: welcome_handler
