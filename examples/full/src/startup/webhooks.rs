//! Webhooks: every task change also queues its event for the owner's endpoints, and webhooks
//! from other systems are verified, recorded and processed as jobs.

use std::sync::Arc;

use sqlx::PgPool;

use crate::{
    app::{
        inbound::{InboundStore, InboundWebhooks, ProcessInbound},
        jobs::{JobRunner, Jobs},
        memory::{Memory, RecordingSender},
        services::Services,
        tasks::TaskOutbox,
        webhooks::{
            DeliveryMetrics, DeliveryStore, EndpointStore, FanOutTaskEvents, SendDeliveries,
            WebhookOutbox, WebhookSender, Webhooks,
        },
    },
    config::Config,
    infra::{inbound::PgInboundStore, webhook_client::HttpWebhookSender, webhooks::PgWebhookStore},
};

/// The ports of webhooks: where endpoints, deliveries and inbound messages are kept, and what
/// sends a delivery.
pub struct WebhookPorts {
    pub endpoints: Arc<dyn EndpointStore>,
    pub deliveries: Arc<dyn DeliveryStore>,
    pub inbound: Arc<dyn InboundStore>,
    pub sender: Arc<dyn WebhookSender>,
}

pub fn on_postgres(db: &PgPool, client: &HttpWebhookSender) -> WebhookPorts {
    let store = Arc::new(PgWebhookStore(db.clone()));
    WebhookPorts {
        endpoints: store.clone(),
        deliveries: store,
        inbound: Arc::new(PgInboundStore(db.clone())),
        sender: Arc::new(client.clone()),
    }
}

/// In `memory`, with a sender that records each request and answers 204.
pub fn in_memory(memory: &Memory) -> WebhookPorts {
    WebhookPorts {
        endpoints: Arc::new(memory.clone()),
        deliveries: Arc::new(memory.clone()),
        inbound: Arc::new(memory.clone()),
        sender: Arc::new(RecordingSender::default()),
    }
}

/// The task outbox (every task change queues its event for the endpoints) and the services.
pub fn services(
    ports: WebhookPorts,
    jobs: &Jobs,
    config: &Config,
) -> (Option<Arc<dyn TaskOutbox>>, Webhooks, InboundWebhooks) {
    let webhooks = Webhooks {
        endpoints: ports.endpoints,
        deliveries: ports.deliveries,
        sender: ports.sender,
        jobs: jobs.clone(),
        config: config.webhooks.clone(),
        metrics: DeliveryMetrics::new(),
    };
    let inbound = InboundWebhooks {
        store: ports.inbound,
        jobs: jobs.clone(),
        config: config.webhooks.clone(),
    };
    let outbox: Arc<dyn TaskOutbox> = Arc::new(WebhookOutbox(jobs.clone()));
    (Some(outbox), webhooks, inbound)
}

/// The jobs of webhooks: fan-out, delivery, and processing what other systems sent.
pub fn job_runner(services: &Services) -> JobRunner {
    JobRunner::new()
        .register(FanOutTaskEvents(services.webhooks.clone()))
        .register(SendDeliveries(services.webhooks.clone()))
        .register(ProcessInbound)
}
