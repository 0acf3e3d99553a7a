//! A webhook sender for tests: it records what it would send and answers as told.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use crate::{app::webhooks::WebhookSender, domain::webhook::AttemptOutcome};

/// A sender that records every request and answers with the outcome it is told to (204 by
/// default), for tests that deliver webhooks without a receiver.
#[derive(Clone)]
pub struct RecordingSender {
    sent: Arc<Mutex<Vec<(String, String)>>>,
    answer: Arc<Mutex<AttemptOutcome>>,
}

impl Default for RecordingSender {
    fn default() -> Self {
        Self {
            sent: Arc::default(),
            answer: Arc::new(Mutex::new(AttemptOutcome::Status {
                code: 204,
                retry_after: None,
            })),
        }
    }
}

impl RecordingSender {
    /// From now on every request gets this outcome.
    pub fn answer_with(&self, outcome: AttemptOutcome) {
        *self
            .answer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = outcome;
    }

    /// (url, body) of every request, in order.
    pub fn sent(&self) -> Vec<(String, String)> {
        self.sent
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

#[async_trait]
impl WebhookSender for RecordingSender {
    async fn post(
        &self,
        url: &url::Url,
        _headers: &[(&'static str, String)],
        body: String,
    ) -> AttemptOutcome {
        self.sent
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push((url.to_string(), body));
        let answer = self
            .answer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        answer.clone()
    }
}
