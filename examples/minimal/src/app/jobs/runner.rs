//! What running a job means: a handler per kind of job, registered when the service is
//! assembled. The worker hands each claimed job to [`JobRunner::run`], which finds the handler
//! by the job's kind and gives it the payload, parsed into the handler's own type.

use std::{collections::HashMap, sync::Arc, time::Duration};

use async_trait::async_trait;

use super::JobSpec;
use crate::app::mail::MailError;

// ANCHOR: job_error
/// Why a job failed: worth another attempt, or not.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JobError {
    #[error("{0}")]
    Retry(String),
    /// Worth another attempt, but not before the given wait (e.g. a `Retry-After`).
    #[error("{0}")]
    RetryAfter(String, Duration),
    #[error("{0}")]
    Fatal(String),
}

impl From<MailError> for JobError {
    fn from(err: MailError) -> Self {
        match err {
            MailError::Transient(_) => Self::Retry(err.to_string()),
            MailError::Rejected(_) => Self::Fatal(err.to_string()),
        }
    }
}
// ANCHOR_END: job_error

/// Which attempt of its job a run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attempt {
    /// 1 for the first.
    pub number: u32,
    /// No retry follows if this one fails.
    pub last: bool,
}

// ANCHOR: job_handler
/// Runs the jobs of one kind.
#[async_trait]
pub trait JobHandler: Send + Sync + 'static {
    type Job: JobSpec;

    async fn run(&self, job: Self::Job, attempt: Attempt) -> Result<(), JobError>;

    /// Called when a job is given up on for a reason its own run did not see (it timed out,
    /// or kept being claimed without finishing), so what it was working on can say so.
    async fn buried(&self, _job: Self::Job, _error: &str) {}
}
// ANCHOR_END: job_handler

/// A handler with its payload type erased, so handlers of every kind fit in one map.
#[async_trait]
trait AnyHandler: Send + Sync {
    async fn run(&self, payload: serde_json::Value, attempt: Attempt) -> Result<(), JobError>;
    async fn buried(&self, payload: serde_json::Value, error: &str);
}

#[async_trait]
impl<H: JobHandler> AnyHandler for H {
    async fn run(&self, payload: serde_json::Value, attempt: Attempt) -> Result<(), JobError> {
        JobHandler::run(self, parse::<H::Job>(payload)?, attempt).await
    }

    async fn buried(&self, payload: serde_json::Value, error: &str) {
        if let Ok(job) = parse::<H::Job>(payload) {
            JobHandler::buried(self, job, error).await;
        }
    }
}

fn parse<J: JobSpec>(payload: serde_json::Value) -> Result<J, JobError> {
    serde_json::from_value(payload).map_err(|err| {
        JobError::Fatal(format!(
            "the payload of a {} job does not parse: {err}",
            J::KIND
        ))
    })
}

/// Every kind of job this service runs, by kind.
#[derive(Clone, Default)]
pub struct JobRunner {
    handlers: HashMap<&'static str, Arc<dyn AnyHandler>>,
}

impl JobRunner {
    pub fn new() -> Self {
        Self::default()
    }

    // ANCHOR: runner_register
    /// Adds the handler of one kind of job. Two handlers of one kind are a wiring mistake:
    /// it panics, at start-up, rather than let one silently replace the other.
    pub fn register<H: JobHandler>(self, handler: H) -> Self {
        let kind = <H::Job as JobSpec>::KIND;
        self.with(kind, Arc::new(handler))
    }

    /// Adds every handler of `other`.
    pub fn merge(self, other: JobRunner) -> Self {
        other
            .handlers
            .into_iter()
            .fold(self, |runner, (kind, handler)| runner.with(kind, handler))
    }

    fn with(mut self, kind: &'static str, handler: Arc<dyn AnyHandler>) -> Self {
        let earlier = self.handlers.insert(kind, handler);
        assert!(earlier.is_none(), "two handlers for `{kind}` jobs");
        self
    }
    // ANCHOR_END: runner_register

    /// The kinds this runner handles.
    pub fn kinds(&self) -> Vec<&'static str> {
        let mut kinds: Vec<&'static str> = self.handlers.keys().copied().collect();
        kinds.sort_unstable();
        kinds
    }

    pub async fn run(
        &self,
        kind: &str,
        payload: serde_json::Value,
        attempt: Attempt,
    ) -> Result<(), JobError> {
        match self.handlers.get(kind) {
            Some(handler) => handler.run(payload, attempt).await,
            // A newer version of the service may have queued it during a rolling deploy:
            // retried later, a worker of that version will run it.
            None => Err(JobError::Retry(format!(
                "this version has no handler for `{kind}` jobs"
            ))),
        }
    }

    pub async fn buried(&self, kind: &str, payload: serde_json::Value, error: &str) {
        if let Some(handler) = self.handlers.get(kind) {
            handler.buried(payload, error).await;
        }
    }
}
