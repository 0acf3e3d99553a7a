//! Webhooks: every task change also queues its event for the owner's endpoints, and webhooks
//! from other systems are verified, recorded and processed as jobs.

use std::sync::Arc;

use sqlx::PgPool;

use super::services::Parts;
use crate::{
    app::{
        inbound::{InboundWebhooks, ProcessInbound},
        jobs::{JobRunner, Jobs},
        services::Services,
        webhooks::{DeliveryMetrics, FanOutTaskEvents, SendDeliveries, WebhookOutbox, Webhooks},
    },
    config::Config,
    infra::{inbound::PgInboundStore, webhook_client::HttpWebhookSender, webhooks::PgWebhookStore},
};

pub fn extend(
    parts: Parts,
    db: &PgPool,
    jobs: &Jobs,
    config: &Config,
) -> anyhow::Result<(Parts, Webhooks, InboundWebhooks)> {
    let parts = Parts {
        task_outbox: Some(Arc::new(WebhookOutbox(jobs.clone()))),
        ..parts
    };
    let store = Arc::new(PgWebhookStore(db.clone()));
    let webhooks = Webhooks {
        endpoints: store.clone(),
        deliveries: store,
        sender: Arc::new(HttpWebhookSender::new(&config.webhooks)?),
        jobs: jobs.clone(),
        config: config.webhooks.clone(),
        metrics: DeliveryMetrics::new(),
    };
    let inbound = InboundWebhooks {
        store: Arc::new(PgInboundStore(db.clone())),
        jobs: jobs.clone(),
        config: config.webhooks.clone(),
    };
    Ok((parts, webhooks, inbound))
}

/// The jobs of webhooks: fan-out, delivery, and processing what other systems sent.
pub fn job_runner(services: &Services) -> JobRunner {
    JobRunner::new()
        .register(FanOutTaskEvents(services.webhooks.clone()))
        .register(SendDeliveries(services.webhooks.clone()))
        .register(ProcessInbound)
}
