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

mod delivery;
mod store;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use uuid::Uuid;

pub use delivery::{
    DeliverWebhook, DeliveryMetrics, FanOutTaskEvents, SendDeliveries, TaskEventJob, WebhookOutbox,
};
pub use store::{
    AttemptRecord, AttemptResult, Delivery, DeliveryStatus, DeliveryStore, DeliveryTarget,
    Endpoint, EndpointStore, EventType, NewEndpoint, Replayed, WebhookSender,
};

use super::{access::ensure_owner_or_admin, jobs::Jobs};
use crate::{
    config::WebhookConfig,
    domain::{
        user::Caller,
        webhook::{self, UrlPolicy, WebhookSecret},
    },
    error::AppError,
};

#[derive(Clone)]
pub struct Webhooks {
    pub endpoints: Arc<dyn EndpointStore>,
    pub deliveries: Arc<dyn DeliveryStore>,
    pub sender: Arc<dyn WebhookSender>,
    pub jobs: Jobs,
    pub config: WebhookConfig,
    pub metrics: DeliveryMetrics,
}

const NO_SUCH_ENDPOINT: &str = "webhook endpoint";

impl Webhooks {
    pub(super) fn policy(&self) -> UrlPolicy {
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
            .map_err(|reason| AppError::invalid("url", reason))?;
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
        match self.endpoints.create_endpoint(&endpoint, limit).await? {
            Some(created) => Ok((created, secret.encode())),
            None => Err(AppError::Unprocessable(format!(
                "an account can have at most {limit} webhook endpoints; delete one first"
            ))),
        }
    }

    pub async fn list(&self, caller: &Caller) -> Result<Vec<Endpoint>, AppError> {
        self.endpoints.endpoints(caller.id).await
    }

    async fn owned(&self, caller: &Caller, id: Uuid) -> Result<Endpoint, AppError> {
        let endpoint = self
            .endpoints
            .endpoint(id)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("no such {NO_SUCH_ENDPOINT}")))?;
        ensure_owner_or_admin(caller, endpoint.owner_id, NO_SUCH_ENDPOINT)?;
        Ok(endpoint)
    }

    pub async fn delete(&self, caller: &Caller, id: Uuid) -> Result<(), AppError> {
        self.owned(caller, id).await?;
        if self.endpoints.delete_endpoint(id).await? {
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
        if !self
            .endpoints
            .rotate_secret(id, &secret, overlap_until)
            .await?
        {
            return Err(AppError::NotFound(format!("no such {NO_SUCH_ENDPOINT}")));
        }
        Ok((secret.encode(), overlap_until))
    }

    /// Run by the maintenance task: a rotated-out secret is deleted once its overlap ends.
    pub async fn forget_expired_secrets(&self) -> Result<u64, AppError> {
        self.endpoints.forget_expired_secrets().await
    }

    pub async fn enable(&self, caller: &Caller, id: Uuid) -> Result<Endpoint, AppError> {
        self.owned(caller, id).await?;
        self.endpoints
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
        self.deliveries.deliveries(id, limit, offset).await
    }

    pub async fn replay(
        &self,
        caller: &Caller,
        id: Uuid,
        delivery_id: Uuid,
    ) -> Result<(), AppError> {
        self.owned(caller, id).await?;
        match self.deliveries.replay(id, delivery_id).await? {
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
}
