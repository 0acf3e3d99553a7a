//! What webhooks are made of (endpoints, deliveries, attempts) and the ports to their storage
//! and to the network.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{
    app::tasks::TaskEventKind,
    domain::webhook::{AttemptOutcome, WebhookSecret},
    error::AppError,
};

/// What an endpoint can subscribe to.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    strum::EnumString,
    strum::IntoStaticStr,
    strum::VariantNames,
)]
pub enum EventType {
    #[serde(rename = "task.created")]
    #[strum(serialize = "task.created")]
    TaskCreated,
    #[serde(rename = "task.updated")]
    #[strum(serialize = "task.updated")]
    TaskUpdated,
    #[serde(rename = "task.done")]
    #[strum(serialize = "task.done")]
    TaskDone,
    #[serde(rename = "task.deleted")]
    #[strum(serialize = "task.deleted")]
    TaskDeleted,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        self.into()
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

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    strum::EnumString,
    strum::IntoStaticStr,
    strum::VariantNames,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum DeliveryStatus {
    Pending,
    Delivered,
    Dead,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// One attempt to deliver, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AttemptRecord {
    pub attempted_at: DateTime<Utc>,
    /// The receiver's HTTP status, if it answered.
    pub status_code: Option<i16>,
    /// Why the attempt failed, if it did.
    pub error: Option<String>,
    pub latency_ms: i32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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

/// Where endpoints are kept.
#[async_trait]
pub trait EndpointStore: Send + Sync {
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
    /// Deletes previous secrets whose overlap has ended (a secret that no longer signs is not
    /// kept); returns how many.
    async fn forget_expired_secrets(&self) -> Result<u64, AppError>;
}

/// Where deliveries and their attempts are kept.
#[async_trait]
pub trait DeliveryStore: Send + Sync {
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
