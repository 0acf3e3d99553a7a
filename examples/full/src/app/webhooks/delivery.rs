//! Delivering events: the jobs a task change causes (fan-out, then one delivery job per
//! subscribed endpoint), each attempt signed, sent, judged by the retry matrix and recorded.

use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use opentelemetry::{
    KeyValue,
    metrics::{Counter, Histogram},
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{AttemptResult, DeliveryStatus, EventType, Webhooks};
use crate::{
    app::{
        jobs::{Attempt, Job, JobError, JobHandler, JobSpec, Jobs},
        tasks::{TaskEvent, TaskOutbox},
    },
    domain::webhook::{self, AttemptOutcome, NextStep, WebhookSecret, next_step, signature_header},
    error::AppError,
};

/// Fans a task change out to the webhook endpoints subscribed to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskEventJob {
    pub event_id: Uuid,
    pub event: TaskEvent,
}

impl JobSpec for TaskEventJob {
    const KIND: &'static str = "task_event";

    fn key(&self) -> String {
        format!("task-event.{}", self.event_id)
    }
}

/// One attempt to deliver one webhook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliverWebhook {
    pub delivery_id: Uuid,
}

impl JobSpec for DeliverWebhook {
    const KIND: &'static str = "webhook_delivery";

    fn key(&self) -> String {
        format!("webhook-delivery.{}", self.delivery_id)
    }
}

impl DeliverWebhook {
    /// The job delivering `delivery_id`, in the lane of its endpoint's owner: however slow
    /// one account's endpoints are, its deliveries hold at most `JOBS_MAX_PER_LANE` workers.
    pub fn job(delivery_id: Uuid, owner: Uuid) -> Job {
        Job::new(&Self { delivery_id }).in_lane(format!("webhooks:{owner}"))
    }
}

/// Every task change becomes a `task_event` job, written in the change's transaction; the
/// worker is poked once it commits.
pub struct WebhookOutbox(pub Jobs);

impl TaskOutbox for WebhookOutbox {
    fn jobs_for(&self, event: &TaskEvent) -> Vec<Job> {
        vec![Job::new(&TaskEventJob {
            event_id: Uuid::now_v7(),
            event: event.clone(),
        })]
    }

    fn committed(&self) {
        self.0.notify();
    }
}

/// Runs `task_event` jobs: one delivery per subscribed endpoint.
pub struct FanOutTaskEvents(pub Webhooks);

#[async_trait]
impl JobHandler for FanOutTaskEvents {
    type Job = TaskEventJob;

    async fn run(&self, job: TaskEventJob, _attempt: Attempt) -> Result<(), JobError> {
        self.0.fan_out(job.event_id, &job.event).await
    }
}

/// Runs `webhook_delivery` jobs: one attempt each, recorded.
pub struct SendDeliveries(pub Webhooks);

#[async_trait]
impl JobHandler for SendDeliveries {
    type Job = DeliverWebhook;

    async fn run(&self, job: DeliverWebhook, attempt: Attempt) -> Result<(), JobError> {
        self.0.deliver(job.delivery_id, attempt).await
    }

    async fn buried(&self, job: DeliverWebhook, error: &str) {
        self.0.abandon(job.delivery_id, error).await;
    }
}

/// `webhook.deliveries` (attempts by `outcome`: `delivered`, `retry`, `dead`, `refused`) and
/// `webhook.delivery.duration` (seconds the receiver took, by outcome).
#[derive(Clone)]
pub struct DeliveryMetrics {
    attempts: Counter<u64>,
    duration: Histogram<f64>,
}

impl DeliveryMetrics {
    pub fn new() -> Self {
        let meter = opentelemetry::global::meter(env!("CARGO_PKG_NAME"));
        Self {
            attempts: meter
                .u64_counter("webhook.deliveries")
                .with_unit("{attempt}")
                .with_description("Webhook delivery attempts, by outcome")
                .build(),
            duration: meter
                .f64_histogram("webhook.delivery.duration")
                .with_unit("s")
                .with_description("How long receivers took to answer a delivery")
                .with_boundaries(vec![0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0])
                .build(),
        }
    }

    fn refused(&self) {
        self.attempts.add(1, &[KeyValue::new("outcome", "refused")]);
    }

    fn attempted(&self, outcome: &'static str, took: Duration) {
        let attributes = [KeyValue::new("outcome", outcome)];
        self.attempts.add(1, &attributes);
        self.duration.record(took.as_secs_f64(), &attributes);
    }
}

impl Default for DeliveryMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Webhooks {
    /// Its job was given up on outside [`Self::deliver`] (timed out, or its worker kept
    /// dying): the delivery is dead too, so its owner sees it and can replay it.
    pub async fn abandon(&self, delivery_id: Uuid, reason: &str) {
        if let Err(err) = self.deliveries.abandon(delivery_id, reason).await {
            tracing::warn!(delivery.id = %delivery_id, error = %err, "could not mark a delivery dead");
        }
    }

    /// The `task_event` job: one delivery per subscribed endpoint.
    pub async fn fan_out(&self, event_id: Uuid, event: &TaskEvent) -> Result<(), JobError> {
        let event_type = EventType::from(event.kind);
        let data = match &event.task {
            Some(task) => serde_json::to_value(task).map_err(|e| JobError::Fatal(e.to_string()))?,
            None => serde_json::json!({ "id": event.task_id }),
        };
        let body = serde_json::json!({
            "type": event_type.as_str(),
            "timestamp": Utc::now(),
            "data": data,
        });
        let created = self
            .deliveries
            .fan_out(event_id, event.owner_id, event_type, &body)
            .await
            .map_err(|err| JobError::Retry(err.to_string()))?;
        if created > 0 {
            self.jobs.notify();
        }
        Ok(())
    }

    /// The `webhook_delivery` job: one attempt, recorded.
    pub async fn deliver(&self, delivery_id: Uuid, attempt: Attempt) -> Result<(), JobError> {
        let store_failed = |err: AppError| JobError::Retry(err.to_string());
        let Some(target) = self
            .deliveries
            .target(delivery_id)
            .await
            .map_err(store_failed)?
        else {
            return Ok(()); // its endpoint was deleted
        };
        if target.status != DeliveryStatus::Pending {
            return Ok(()); // settled by an earlier run of this job
        }
        let refuse = |reason: String| AttemptResult {
            delivery_id,
            status_code: None,
            error: Some(reason),
            latency: Duration::ZERO,
            status: DeliveryStatus::Dead,
            attempted: false,
        };
        if !target.enabled {
            self.metrics.refused();
            let result = refuse("the endpoint is disabled".into());
            self.deliveries
                .record_attempt(&result, i32::MAX)
                .await
                .map_err(store_failed)?;
            return Err(JobError::Fatal("the endpoint is disabled".into()));
        }
        // Checked again: the rules may have tightened since the endpoint was registered.
        let url = match webhook::check_url(&target.url, self.policy()) {
            Ok(url) => url,
            Err(reason) => {
                self.metrics.refused();
                self.deliveries
                    .record_attempt(&refuse(reason.clone()), i32::MAX)
                    .await
                    .map_err(store_failed)?;
                return Err(JobError::Fatal(reason));
            }
        };
        let id = delivery_id.to_string();
        let timestamp = Utc::now().timestamp();
        let secrets: Vec<&WebhookSecret> = target.secrets.iter().collect();
        let headers = [
            ("webhook-id", id.clone()),
            ("webhook-timestamp", timestamp.to_string()),
            (
                "webhook-signature",
                signature_header(&secrets, &id, timestamp, target.body.as_bytes()),
            ),
        ];
        let started = std::time::Instant::now();
        let outcome = self.sender.post(&url, &headers, target.body).await;
        let latency = started.elapsed();
        let (status_code, error) = match &outcome {
            AttemptOutcome::Status { code, .. } if (200..300).contains(code) => (Some(*code), None),
            AttemptOutcome::Status { code, .. } => {
                (Some(*code), Some(format!("the receiver answered {code}")))
            }
            AttemptOutcome::Timeout => (None, Some("no answer in time".to_owned())),
            AttemptOutcome::Unreachable => (None, Some("could not connect".to_owned())),
        };
        let describe = || error.clone().unwrap_or_default();
        // ANCHOR: verdict
        let (status, verdict) = match next_step(&outcome) {
            NextStep::Delivered => (DeliveryStatus::Delivered, Ok(())),
            NextStep::Retry { at_least } if !attempt.last => (
                DeliveryStatus::Pending,
                Err(match at_least {
                    Some(wait) => JobError::RetryAfter(describe(), wait),
                    None => JobError::Retry(describe()),
                }),
            ),
            NextStep::Retry { .. } | NextStep::Dead => {
                (DeliveryStatus::Dead, Err(JobError::Fatal(describe())))
            }
        };
        // ANCHOR_END: verdict
        let outcome = match status {
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Pending => "retry",
            DeliveryStatus::Dead => "dead",
        };
        self.metrics.attempted(outcome, latency);
        let result = AttemptResult {
            delivery_id,
            status_code,
            error,
            latency,
            status,
            attempted: true,
        };
        self.deliveries
            .record_attempt(&result, self.config.disable_after_failures)
            .await
            .map_err(store_failed)?;
        verdict
    }
}
