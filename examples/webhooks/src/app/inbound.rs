//! Webhooks that other systems send us (`POST /webhooks/inbound/{source}`): verified against
//! the source's secret (Standard Webhooks signatures, constant-time comparison), refused when
//! their timestamp is outside the tolerance window (a replay), recorded once per message id,
//! and handed to the job queue in the same transaction, so each message is processed once
//! even when the sender delivers it again.

use std::{
    sync::{Arc, OnceLock},
    time::Duration,
};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::jobs::{Attempt, Job, JobError, JobHandler, JobSpec, Jobs};
use crate::{
    config::WebhookConfig,
    domain::webhook::{self, VerifyError, WebhookSecret},
    error::AppError,
};

/// A verified message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundMessage {
    pub source: String,
    pub message_id: String,
    pub payload: serde_json::Value,
}

/// The Standard Webhooks headers of a request, as sent.
#[derive(Debug, Clone, Copy)]
pub struct SignedHeaders<'a> {
    pub id: &'a str,
    pub timestamp: &'a str,
    pub signature: &'a str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Received {
    New,
    /// Seen before: acknowledged again, not processed again.
    Duplicate,
}

#[async_trait]
pub trait InboundStore: Send + Sync {
    /// Records the message and enqueues `outbox` in one transaction, unless the message was
    /// recorded before; `false` then, and nothing is enqueued.
    async fn record(&self, message: &InboundMessage, outbox: &[Job]) -> Result<bool, AppError>;
    /// Forgets messages received before `before`.
    async fn purge_before(&self, before: DateTime<Utc>) -> Result<u64, AppError>;
}

#[derive(Clone)]
pub struct InboundWebhooks {
    pub store: Arc<dyn InboundStore>,
    pub jobs: Jobs,
    pub config: WebhookConfig,
}

/// The longest `webhook-id`, in bytes (visible ASCII, so also in characters).
pub const MESSAGE_ID_MAX_LEN: usize = 255;

impl InboundWebhooks {
    /// 401 for a signature or timestamp that does not verify, and for an unknown source: an
    /// unknown source is checked against a decoy secret and refused with the same answer, so a
    /// stranger learns nothing of which sources exist. 400 for a malformed header, a body that
    /// is not JSON or an unusable message id.
    pub async fn receive(
        &self,
        source: &str,
        headers: SignedHeaders<'_>,
        body: &[u8],
    ) -> Result<Received, AppError> {
        let known = self.config.inbound_secrets.get(source);
        let id = headers.id.trim();
        if id.is_empty()
            || id.len() > MESSAGE_ID_MAX_LEN
            || !id.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(AppError::BadRequest(
                "webhook-id must be 1 to 255 visible ASCII characters".into(),
            ));
        }
        let now = Utc::now().timestamp();
        let verified = webhook::verify(
            known.unwrap_or(decoy()),
            id,
            headers.timestamp,
            headers.signature,
            body,
            now,
            self.config.tolerance,
        )
        // An unknown source never passes: the decoy only made refusing it cost the same.
        .and(known.map(|_| ()).ok_or(VerifyError::BadSignature));
        verified.map_err(|err| match err {
            VerifyError::BadTimestamp | VerifyError::TooManySignatures => {
                AppError::BadRequest(err.to_string())
            }
            VerifyError::OutsideTolerance | VerifyError::BadSignature => {
                tracing::warn!(
                    webhook.source = source,
                    webhook.source_known = known.is_some(),
                    reason = %err,
                    "inbound webhook refused"
                );
                AppError::Unauthorized(err.to_string())
            }
        })?;
        let payload: serde_json::Value = serde_json::from_slice(body)
            .map_err(|_| AppError::BadRequest("the body is not JSON".into()))?;
        let message = InboundMessage {
            source: source.to_owned(),
            message_id: id.to_owned(),
            payload: payload.clone(),
        };
        let process = Job::new(&InboundWebhook {
            source: message.source.clone(),
            message_id: message.message_id.clone(),
            payload,
        });
        if self.store.record(&message, &[process]).await? {
            self.jobs.notify();
            Ok(Received::New)
        } else {
            Ok(Received::Duplicate)
        }
    }

    /// Forgets message ids older than [`INBOUND_RETENTION`].
    pub async fn purge_old(&self) -> Result<u64, AppError> {
        self.store
            .purge_before(Utc::now() - INBOUND_RETENTION)
            .await
    }
}

/// Acts on a verified webhook from another system, once per message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InboundWebhook {
    pub source: String,
    pub message_id: String,
    pub payload: serde_json::Value,
}

impl JobSpec for InboundWebhook {
    const KIND: &'static str = "inbound_webhook";

    /// Ids are up to 255 characters: hashed, the key stays short whatever they are.
    fn key(&self) -> String {
        format!(
            "inbound-webhook.{}.{:x}",
            self.source,
            <sha2::Sha256 as sha2::Digest>::digest(self.message_id.as_bytes())
        )
    }
}

// ANCHOR: process_inbound
/// Where the service acts on what other systems tell it: dispatch on the source and the
/// payload's type here. It runs at least once per message: keep it idempotent.
pub struct ProcessInbound;

#[async_trait]
impl JobHandler for ProcessInbound {
    type Job = InboundWebhook;

    async fn run(&self, job: InboundWebhook, _attempt: Attempt) -> Result<(), JobError> {
        tracing::info!(
            webhook.source = %job.source,
            webhook.id = %job.message_id,
            webhook.type = job.payload.get("type").and_then(|t| t.as_str()).unwrap_or("-"),
            "inbound webhook processed"
        );
        Ok(())
    }
}
// ANCHOR_END: process_inbound

/// The secret an unknown source is checked against: random, made once per process, never
/// accepted. Checking costs what a known source's check costs, so timing tells nothing either.
fn decoy() -> &'static WebhookSecret {
    static DECOY: OnceLock<WebhookSecret> = OnceLock::new();
    DECOY.get_or_init(WebhookSecret::generate)
}

/// How long received message ids are remembered. Far longer than the tolerance window, so a
/// message replayed within the window is always recognised.
pub const INBOUND_RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);
