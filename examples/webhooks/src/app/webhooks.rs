//! Outgoing webhooks: endpoints that users register for their task events, and the delivery
//! of those events, signed, retried and recorded.
//!
//! A task change enqueues a `task_event` job in its own transaction ([`WebhookOutbox`]). That
//! job fans the event out: one delivery row and one `webhook_delivery` job per subscribed,
//! enabled endpoint, in one transaction. Each delivery job makes one attempt; the job queue
//! supplies the retries (backoff and jitter, `Retry-After` honoured) and the retry matrix in
//! `domain::webhook` decides what is retried at all. Every attempt is recorded; a delivery out
//! of attempts is dead and its owner can replay it; an endpoint whose attempts keep failing is
//! disabled until its owner enables it again.

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use opentelemetry::{
    KeyValue,
    metrics::{Counter, Histogram},
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{
    access::ensure_owner_or_admin,
    jobs::{Attempt, Job, JobError, Jobs},
    tasks::{TaskEvent, TaskEventKind, TaskOutbox},
};
use crate::{
    config::WebhookConfig,
    domain::{
        user::Caller,
        webhook::{
            self, AttemptOutcome, NextStep, UrlPolicy, WebhookSecret, next_step, signature_header,
        },
    },
    error::{AppError, FieldError},
};

/// What an endpoint can subscribe to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
pub enum EventType {
    #[serde(rename = "task.created")]
    TaskCreated,
    #[serde(rename = "task.updated")]
    TaskUpdated,
    #[serde(rename = "task.done")]
    TaskDone,
    #[serde(rename = "task.deleted")]
    TaskDeleted,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::TaskCreated => "task.created",
            Self::TaskUpdated => "task.updated",
            Self::TaskDone => "task.done",
            Self::TaskDeleted => "task.deleted",
        }
    }
}

impl std::str::FromStr for EventType {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        serde_json::from_value(serde_json::Value::String(s.to_owned()))
            .map_err(|_| format!("unknown event type {s:?}"))
    }
}

impl From<TaskEventKind> for EventType {
    fn from(kind: TaskEventKind) -> Self {
        match kind {
            TaskEventKind::Created => Self::TaskCreated,
            TaskEventKind::Updated => Self::TaskUpdated,
            TaskEventKind::Done => Self::TaskDone,
            TaskEventKind::Deleted => Self::TaskDeleted,
        }
    }
}

/// Every task change becomes a `task_event` job, written in the change's transaction; the
/// worker is poked once it commits.
pub struct WebhookOutbox(pub Jobs);

impl TaskOutbox for WebhookOutbox {
    fn jobs_for(&self, event: &TaskEvent) -> Vec<Job> {
        vec![Job::TaskEvent {
            event_id: Uuid::now_v7(),
            event: event.clone(),
        }]
    }

    fn committed(&self) {
        self.0.notify();
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Endpoint {
    pub id: Uuid,
    pub owner_id: Uuid,
    pub url: String,
    pub event_types: Vec<EventType>,
    /// `false` after too many failed attempts in a row; `POST /webhooks/{id}/enable` resumes.
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    /// Failed attempts since the last success.
    pub failure_streak: i32,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct NewEndpoint {
    pub id: Uuid,
    pub owner_id: Uuid,
    pub url: String,
    pub event_types: Vec<EventType>,
    pub secret: WebhookSecret,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    Pending,
    Delivered,
    Dead,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Dead => "dead",
        }
    }
}

impl std::str::FromStr for DeliveryStatus {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "pending" => Ok(Self::Pending),
            "delivered" => Ok(Self::Delivered),
            "dead" => Ok(Self::Dead),
            other => Err(format!("unknown delivery status {other:?}")),
        }
    }
}

/// One attempt to deliver, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct AttemptRecord {
    pub attempted_at: DateTime<Utc>,
    /// The receiver's HTTP status, if it answered.
    pub status_code: Option<i16>,
    /// Why the attempt failed, if it did.
    pub error: Option<String>,
    pub latency_ms: i32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Delivery {
    /// Also the `webhook-id` header, the same on every attempt.
    pub id: Uuid,
    pub event_type: EventType,
    pub status: DeliveryStatus,
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
    /// Oldest first.
    pub attempts: Vec<AttemptRecord>,
}

/// What sending one delivery needs.
#[derive(Debug, Clone)]
pub struct DeliveryTarget {
    pub status: DeliveryStatus,
    pub url: String,
    pub enabled: bool,
    /// The current secret, and the previous one while a rotation overlaps.
    pub secrets: Vec<WebhookSecret>,
    /// The exact bytes that are signed and sent.
    pub body: String,
}

/// The result of one attempt, to record.
#[derive(Debug, Clone)]
pub struct AttemptResult {
    pub delivery_id: Uuid,
    pub status_code: Option<u16>,
    pub error: Option<String>,
    pub latency: Duration,
    /// The delivery's status after this attempt.
    pub status: DeliveryStatus,
    /// `false` when the delivery was refused without a request (endpoint disabled, URL no
    /// longer acceptable): it does not count towards the endpoint's failure streak.
    pub attempted: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replayed {
    Yes,
    NotDead,
    NoSuchDelivery,
}

#[async_trait]
pub trait WebhookStore: Send + Sync {
    /// `None` when the owner has `limit` endpoints already.
    async fn create_endpoint(
        &self,
        endpoint: &NewEndpoint,
        limit: i64,
    ) -> Result<Option<Endpoint>, AppError>;
    async fn endpoints(&self, owner: Uuid) -> Result<Vec<Endpoint>, AppError>;
    async fn endpoint(&self, id: Uuid) -> Result<Option<Endpoint>, AppError>;
    async fn delete_endpoint(&self, id: Uuid) -> Result<bool, AppError>;
    /// Makes `secret` current; the old one keeps signing until `overlap_until`.
    async fn rotate_secret(
        &self,
        id: Uuid,
        secret: &WebhookSecret,
        overlap_until: DateTime<Utc>,
    ) -> Result<bool, AppError>;
    async fn enable(&self, id: Uuid) -> Result<Option<Endpoint>, AppError>;
    /// Creates a delivery (and its job) for every enabled endpoint of `owner` subscribed to
    /// `event_type`, in one transaction; a second run for the same event creates nothing.
    async fn fan_out(
        &self,
        event_id: Uuid,
        owner: Uuid,
        event_type: EventType,
        body: &serde_json::Value,
    ) -> Result<usize, AppError>;
    async fn target(&self, delivery_id: Uuid) -> Result<Option<DeliveryTarget>, AppError>;
    /// Stores the attempt and the delivery's new status, and counts the endpoint's failure
    /// streak (reset by a success), disabling it at `disable_after` failures in a row.
    async fn record_attempt(
        &self,
        result: &AttemptResult,
        disable_after: i32,
    ) -> Result<(), AppError>;
    /// A page of an endpoint's deliveries, newest first, with their attempts.
    async fn deliveries(
        &self,
        endpoint_id: Uuid,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<Delivery>, i64), AppError>;
    /// Queues a dead delivery again (same `webhook-id`).
    async fn replay(&self, endpoint_id: Uuid, delivery_id: Uuid) -> Result<Replayed, AppError>;
    /// Marks a delivery that is still pending dead, with the reason as its last attempt.
    async fn abandon(&self, delivery_id: Uuid, reason: &str) -> Result<(), AppError>;
}

/// Sends one HTTP request; never fails, the failure is the outcome.
#[async_trait]
pub trait WebhookSender: Send + Sync {
    async fn post(
        &self,
        url: &url::Url,
        headers: &[(&'static str, String)],
        body: String,
    ) -> AttemptOutcome;
}

#[derive(Clone)]
pub struct Webhooks {
    pub store: Arc<dyn WebhookStore>,
    pub sender: Arc<dyn WebhookSender>,
    pub jobs: Jobs,
    pub config: WebhookConfig,
    pub metrics: DeliveryMetrics,
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

const NO_SUCH_ENDPOINT: &str = "webhook endpoint";

impl Webhooks {
    fn policy(&self) -> UrlPolicy {
        UrlPolicy {
            allow_http: self.config.allow_insecure_urls,
            allow_private: self.config.allow_insecure_urls,
        }
    }

    /// Registers an endpoint; returns it with its secret, which is shown this once.
    pub async fn create(
        &self,
        caller: &Caller,
        url: &str,
        mut event_types: Vec<EventType>,
    ) -> Result<(Endpoint, String), AppError> {
        let url = webhook::check_url(url, self.policy())
            .map_err(|reason| AppError::Validation(vec![FieldError::new("url", reason)]))?;
        event_types.sort_by_key(|t| t.as_str());
        event_types.dedup();
        let secret = WebhookSecret::generate();
        let endpoint = NewEndpoint {
            id: Uuid::now_v7(),
            owner_id: caller.id,
            url: url.to_string(),
            event_types,
            secret: secret.clone(),
        };
        let limit = self.config.max_endpoints_per_user;
        match self.store.create_endpoint(&endpoint, limit).await? {
            Some(created) => Ok((created, secret.encode())),
            None => Err(AppError::Unprocessable(format!(
                "an account can have at most {limit} webhook endpoints; delete one first"
            ))),
        }
    }

    pub async fn list(&self, caller: &Caller) -> Result<Vec<Endpoint>, AppError> {
        self.store.endpoints(caller.id).await
    }

    async fn owned(&self, caller: &Caller, id: Uuid) -> Result<Endpoint, AppError> {
        let endpoint = self
            .store
            .endpoint(id)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("no such {NO_SUCH_ENDPOINT}")))?;
        ensure_owner_or_admin(caller, endpoint.owner_id, NO_SUCH_ENDPOINT)?;
        Ok(endpoint)
    }

    pub async fn delete(&self, caller: &Caller, id: Uuid) -> Result<(), AppError> {
        self.owned(caller, id).await?;
        if self.store.delete_endpoint(id).await? {
            Ok(())
        } else {
            Err(AppError::NotFound(format!("no such {NO_SUCH_ENDPOINT}")))
        }
    }

    /// A new secret, shown this once; the old one keeps signing for the overlap, so
    /// receivers can switch without dropping a delivery.
    pub async fn rotate_secret(
        &self,
        caller: &Caller,
        id: Uuid,
    ) -> Result<(String, DateTime<Utc>), AppError> {
        self.owned(caller, id).await?;
        let secret = WebhookSecret::generate();
        let overlap_until = Utc::now() + self.config.secret_overlap;
        if !self.store.rotate_secret(id, &secret, overlap_until).await? {
            return Err(AppError::NotFound(format!("no such {NO_SUCH_ENDPOINT}")));
        }
        Ok((secret.encode(), overlap_until))
    }

    pub async fn enable(&self, caller: &Caller, id: Uuid) -> Result<Endpoint, AppError> {
        self.owned(caller, id).await?;
        self.store
            .enable(id)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("no such {NO_SUCH_ENDPOINT}")))
    }

    pub async fn deliveries(
        &self,
        caller: &Caller,
        id: Uuid,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<Delivery>, i64), AppError> {
        self.owned(caller, id).await?;
        self.store.deliveries(id, limit, offset).await
    }

    pub async fn replay(
        &self,
        caller: &Caller,
        id: Uuid,
        delivery_id: Uuid,
    ) -> Result<(), AppError> {
        self.owned(caller, id).await?;
        match self.store.replay(id, delivery_id).await? {
            Replayed::Yes => {
                self.jobs.notify();
                Ok(())
            }
            Replayed::NotDead => Err(AppError::Conflict(
                "only dead deliveries can be replayed".into(),
            )),
            Replayed::NoSuchDelivery => Err(AppError::NotFound("no such delivery".into())),
        }
    }

    /// Its job was given up on outside [`Self::deliver`] (timed out, or its worker kept
    /// dying): the delivery is dead too, so its owner sees it and can replay it.
    pub async fn abandon(&self, delivery_id: Uuid, reason: &str) {
        if let Err(err) = self.store.abandon(delivery_id, reason).await {
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
            .store
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
        let Some(target) = self.store.target(delivery_id).await.map_err(store_failed)? else {
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
            self.store
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
                self.store
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
        self.store
            .record_attempt(&result, self.config.disable_after_failures)
            .await
            .map_err(store_failed)?;
        verdict
    }
}
