//! Webhook endpoints, deliveries and inbound messages, in memory.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::Memory;
use crate::{
    app::{
        inbound::{InboundMessage, InboundStore},
        jobs::Job,
        webhooks::{
            AttemptRecord, AttemptResult, DeliverWebhook, Delivery, DeliveryStatus, DeliveryStore,
            DeliveryTarget, Endpoint, EndpointStore, EventType, NewEndpoint, Replayed,
        },
    },
    domain::webhook::WebhookSecret,
    error::AppError,
};

#[derive(Default)]
pub(super) struct WebhookState {
    endpoints: Vec<StoredEndpoint>,
    deliveries: Vec<StoredDelivery>,
    /// (source, message id, received at).
    inbound: Vec<(String, String, DateTime<Utc>)>,
}

impl WebhookState {
    /// What deleting an account cascades to: its endpoints and their deliveries.
    pub(super) fn forget_owner(&mut self, owner: Uuid) {
        let gone: Vec<Uuid> = self
            .endpoints
            .iter()
            .filter(|s| s.endpoint.owner_id == owner)
            .map(|s| s.endpoint.id)
            .collect();
        self.endpoints.retain(|s| s.endpoint.owner_id != owner);
        self.deliveries.retain(|d| !gone.contains(&d.endpoint_id));
    }
}

struct StoredEndpoint {
    endpoint: Endpoint,
    secret: WebhookSecret,
    /// The secret before the last rotation, and until when it still signs.
    previous: Option<(WebhookSecret, DateTime<Utc>)>,
}

struct StoredDelivery {
    event_id: Uuid,
    endpoint_id: Uuid,
    delivery: Delivery,
    body: String,
}

#[async_trait]
impl EndpointStore for Memory {
    async fn create_endpoint(
        &self,
        endpoint: &NewEndpoint,
        limit: i64,
    ) -> Result<Option<Endpoint>, AppError> {
        let mut state = self.state();
        let hooks = &mut state.webhooks;
        let owned = hooks
            .endpoints
            .iter()
            .filter(|s| s.endpoint.owner_id == endpoint.owner_id)
            .count();
        if i64::try_from(owned).unwrap_or(i64::MAX) >= limit {
            return Ok(None);
        }
        let created = Endpoint {
            id: endpoint.id,
            owner_id: endpoint.owner_id,
            url: endpoint.url.clone(),
            event_types: endpoint.event_types.clone(),
            enabled: true,
            disabled_reason: None,
            failure_streak: 0,
            created_at: Utc::now(),
        };
        hooks.endpoints.push(StoredEndpoint {
            endpoint: created.clone(),
            secret: endpoint.secret.clone(),
            previous: None,
        });
        Ok(Some(created))
    }

    async fn endpoints(&self, owner: Uuid) -> Result<Vec<Endpoint>, AppError> {
        let state = self.state();
        let hooks = &state.webhooks;
        Ok(hooks
            .endpoints
            .iter()
            .filter(|s| s.endpoint.owner_id == owner)
            .map(|s| s.endpoint.clone())
            .collect())
    }

    async fn endpoint(&self, id: Uuid) -> Result<Option<Endpoint>, AppError> {
        let state = self.state();
        Ok(state
            .webhooks
            .endpoints
            .iter()
            .find(|s| s.endpoint.id == id)
            .map(|s| s.endpoint.clone()))
    }

    async fn delete_endpoint(&self, id: Uuid) -> Result<bool, AppError> {
        let mut state = self.state();
        let hooks = &mut state.webhooks;
        let before = hooks.endpoints.len();
        hooks.endpoints.retain(|s| s.endpoint.id != id);
        hooks.deliveries.retain(|d| d.endpoint_id != id);
        Ok(hooks.endpoints.len() < before)
    }

    async fn rotate_secret(
        &self,
        id: Uuid,
        secret: &WebhookSecret,
        overlap_until: DateTime<Utc>,
    ) -> Result<bool, AppError> {
        let mut state = self.state();
        let Some(stored) = state
            .webhooks
            .endpoints
            .iter_mut()
            .find(|s| s.endpoint.id == id)
        else {
            return Ok(false);
        };
        let old = std::mem::replace(&mut stored.secret, secret.clone());
        stored.previous = Some((old, overlap_until));
        Ok(true)
    }

    async fn forget_expired_secrets(&self) -> Result<u64, AppError> {
        let now = Utc::now();
        let mut forgotten = 0;
        for stored in &mut self.state().webhooks.endpoints {
            if stored
                .previous
                .as_ref()
                .is_some_and(|(_, until)| *until <= now)
            {
                stored.previous = None;
                forgotten += 1;
            }
        }
        Ok(forgotten)
    }

    async fn enable(&self, id: Uuid) -> Result<Option<Endpoint>, AppError> {
        let mut state = self.state();
        let found = state
            .webhooks
            .endpoints
            .iter_mut()
            .find(|s| s.endpoint.id == id);
        Ok(found.map(|StoredEndpoint { endpoint, .. }| {
            endpoint.enabled = true;
            endpoint.disabled_reason = None;
            endpoint.failure_streak = 0;
            endpoint.clone()
        }))
    }
}

#[async_trait]
impl DeliveryStore for Memory {
    async fn fan_out(
        &self,
        event_id: Uuid,
        owner: Uuid,
        event_type: EventType,
        body: &serde_json::Value,
    ) -> Result<usize, AppError> {
        let mut state = self.state();
        let targets: Vec<Uuid> = state
            .webhooks
            .endpoints
            .iter()
            .map(|s| &s.endpoint)
            .filter(|e| e.owner_id == owner && e.enabled && e.event_types.contains(&event_type))
            .map(|e| e.id)
            .filter(|endpoint| {
                !state
                    .webhooks
                    .deliveries
                    .iter()
                    .any(|d| d.event_id == event_id && d.endpoint_id == *endpoint)
            })
            .collect();
        for endpoint in &targets {
            let delivery = Delivery {
                id: Uuid::now_v7(),
                event_type,
                status: DeliveryStatus::Pending,
                created_at: Utc::now(),
                delivered_at: None,
                attempts: Vec::new(),
            };
            let job = DeliverWebhook::job(delivery.id, owner);
            state.webhooks.deliveries.push(StoredDelivery {
                event_id,
                endpoint_id: *endpoint,
                delivery,
                body: body.to_string(),
            });
            state.enqueue(&job);
        }
        Ok(targets.len())
    }

    async fn target(&self, delivery_id: Uuid) -> Result<Option<DeliveryTarget>, AppError> {
        let state = self.state();
        let hooks = &state.webhooks;
        let Some(stored) = hooks
            .deliveries
            .iter()
            .find(|d| d.delivery.id == delivery_id)
        else {
            return Ok(None);
        };
        let Some(StoredEndpoint {
            endpoint,
            secret,
            previous,
        }) = hooks
            .endpoints
            .iter()
            .find(|s| s.endpoint.id == stored.endpoint_id)
        else {
            return Ok(None);
        };
        let previous = previous
            .as_ref()
            .filter(|(_, until)| *until > Utc::now())
            .map(|(secret, _)| secret.clone());
        Ok(Some(DeliveryTarget {
            status: stored.delivery.status,
            url: endpoint.url.clone(),
            enabled: endpoint.enabled,
            secrets: std::iter::once(secret.clone()).chain(previous).collect(),
            body: stored.body.clone(),
        }))
    }

    async fn record_attempt(
        &self,
        result: &AttemptResult,
        disable_after: i32,
    ) -> Result<(), AppError> {
        let mut state = self.state();
        let hooks = &mut state.webhooks;
        let Some(stored) = hooks
            .deliveries
            .iter_mut()
            .find(|d| d.delivery.id == result.delivery_id)
        else {
            return Err(AppError::NotFound("no such delivery".into()));
        };
        let delivery = &mut stored.delivery;
        let delivered = result.status == DeliveryStatus::Delivered;
        delivery.status = result.status;
        delivery.delivered_at = delivered.then(Utc::now);
        delivery.attempts.push(AttemptRecord {
            attempted_at: Utc::now(),
            status_code: result.status_code.and_then(|code| i16::try_from(code).ok()),
            error: result.error.clone(),
            latency_ms: i32::try_from(result.latency.as_millis()).unwrap_or(i32::MAX),
        });
        let endpoint_id = stored.endpoint_id;
        if let Some(StoredEndpoint { endpoint, .. }) = hooks
            .endpoints
            .iter_mut()
            .find(|s| s.endpoint.id == endpoint_id)
            && result.attempted
        {
            if delivered {
                endpoint.failure_streak = 0;
            } else {
                endpoint.failure_streak += 1;
                if endpoint.enabled && endpoint.failure_streak >= disable_after {
                    endpoint.enabled = false;
                    endpoint.disabled_reason = Some(format!(
                        "disabled after {disable_after} failed attempts in a row"
                    ));
                }
            }
        }
        Ok(())
    }

    async fn deliveries(
        &self,
        endpoint_id: Uuid,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<Delivery>, i64), AppError> {
        let state = self.state();
        let mut found: Vec<Delivery> = state
            .webhooks
            .deliveries
            .iter()
            .filter(|d| d.endpoint_id == endpoint_id)
            .map(|d| d.delivery.clone())
            .collect();
        found.sort_by_key(|delivery| std::cmp::Reverse((delivery.created_at, delivery.id)));
        let total = i64::try_from(found.len()).unwrap_or(i64::MAX);
        let page = found
            .into_iter()
            .skip(usize::try_from(offset).unwrap_or(usize::MAX))
            .take(usize::try_from(limit).unwrap_or(0))
            .collect();
        Ok((page, total))
    }

    async fn replay(&self, endpoint_id: Uuid, delivery_id: Uuid) -> Result<Replayed, AppError> {
        let mut state = self.state();
        let Some(StoredDelivery { delivery, .. }) = state
            .webhooks
            .deliveries
            .iter_mut()
            .find(|d| d.delivery.id == delivery_id && d.endpoint_id == endpoint_id)
        else {
            return Ok(Replayed::NoSuchDelivery);
        };
        if delivery.status != DeliveryStatus::Dead {
            return Ok(Replayed::NotDead);
        }
        delivery.status = DeliveryStatus::Pending;
        let owner = state
            .webhooks
            .endpoints
            .iter()
            .find(|s| s.endpoint.id == endpoint_id)
            .map(|s| s.endpoint.owner_id)
            .unwrap_or_default();
        let job = DeliverWebhook::job(delivery_id, owner);
        state.jobs.retain(|row| row.record.key != job.key);
        state.enqueue(&job);
        Ok(Replayed::Yes)
    }

    async fn abandon(&self, delivery_id: Uuid, reason: &str) -> Result<(), AppError> {
        let mut state = self.state();
        let found =
            state.webhooks.deliveries.iter_mut().find(|d| {
                d.delivery.id == delivery_id && d.delivery.status == DeliveryStatus::Pending
            });
        if let Some(StoredDelivery { delivery, .. }) = found {
            delivery.status = DeliveryStatus::Dead;
            delivery.attempts.push(AttemptRecord {
                attempted_at: Utc::now(),
                status_code: None,
                error: Some(reason.to_owned()),
                latency_ms: 0,
            });
        }
        Ok(())
    }
}

#[async_trait]
impl InboundStore for Memory {
    async fn record(&self, message: &InboundMessage, outbox: &[Job]) -> Result<bool, AppError> {
        let mut state = self.state();
        let seen = state
            .webhooks
            .inbound
            .iter()
            .any(|(source, id, _)| *source == message.source && *id == message.message_id);
        if seen {
            return Ok(false);
        }
        state.webhooks.inbound.push((
            message.source.clone(),
            message.message_id.clone(),
            Utc::now(),
        ));
        state.enqueue_all(outbox);
        Ok(true)
    }

    async fn purge_before(&self, before: DateTime<Utc>) -> Result<u64, AppError> {
        let mut state = self.state();
        let count = state.webhooks.inbound.len();
        state.webhooks.inbound.retain(|(_, _, at)| *at >= before);
        Ok(u64::try_from(count - state.webhooks.inbound.len()).unwrap_or(u64::MAX))
    }
}
