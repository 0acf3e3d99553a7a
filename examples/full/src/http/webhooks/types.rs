//! What clients send to `/webhooks` and what they get back. Endpoints and deliveries go out as
//! response types of their own, so the service can change inside without changing the API.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use strum::VariantNames;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{
    app::webhooks::{AttemptRecord, Delivery, DeliveryStatus, Endpoint, EventType},
    domain::webhook::MAX_URL_LEN,
    http::schemas::{names, schema, string},
};

/// An endpoint's URL as sent; whether it may be used (https to a public host) is the
/// service's call, made when the endpoint is registered and again before each delivery.
#[derive(Debug, Deserialize)]
#[serde(try_from = "String")]
pub struct EndpointUrl(pub String);

impl TryFrom<String> for EndpointUrl {
    type Error = String;

    fn try_from(url: String) -> Result<Self, String> {
        if (1..=MAX_URL_LEN).contains(&url.chars().count()) {
            Ok(Self(url))
        } else {
            Err(format!("must be 1 to {MAX_URL_LEN} characters"))
        }
    }
}

/// The events an endpoint subscribes to: at least one, each at most once.
#[derive(Debug, Deserialize)]
#[serde(try_from = "Vec<EventType>")]
pub struct EventTypes(pub Vec<EventType>);

impl TryFrom<Vec<EventType>> for EventTypes {
    type Error = String;

    fn try_from(types: Vec<EventType>) -> Result<Self, String> {
        let distinct: std::collections::HashSet<&EventType> = types.iter().collect();
        if types.is_empty() || distinct.len() < types.len() {
            return Err("must name 1 or more event types, each once".into());
        }
        Ok(Self(types))
    }
}

schema! {
    EventType => names::<EventType>("An event an endpoint can subscribe to");
    DeliveryStatus => names::<DeliveryStatus>("Where a webhook delivery stands");
    EndpointUrl => string("Where deliveries are POSTed: `https://` to a public host")
        .format(Some(utoipa::openapi::SchemaFormat::Custom("uri".into())))
        .min_length(Some(1))
        .max_length(Some(MAX_URL_LEN))
        .examples(["https://hooks.example.com/tasks"])
        .into();
    EventTypes => utoipa::openapi::ArrayBuilder::new()
        .items(utoipa::openapi::RefOr::Ref(utoipa::openapi::Ref::from_schema_name("EventType")))
        .min_items(Some(1))
        .max_items(Some(EventType::VARIANTS.len()))
        .unique_items(true)
        .description(Some("What to deliver: 1 or more event types, each once"))
        .into();
}

/// An endpoint, as its owner sees it (never with its secret).
#[derive(Debug, Serialize, ToSchema)]
pub struct EndpointResponse {
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

impl From<Endpoint> for EndpointResponse {
    fn from(endpoint: Endpoint) -> Self {
        Self {
            id: endpoint.id,
            owner_id: endpoint.owner_id,
            url: endpoint.url,
            event_types: endpoint.event_types,
            enabled: endpoint.enabled,
            disabled_reason: endpoint.disabled_reason,
            failure_streak: endpoint.failure_streak,
            created_at: endpoint.created_at,
        }
    }
}

/// One attempt to deliver, as recorded.
#[derive(Debug, Serialize, ToSchema)]
pub struct AttemptResponse {
    pub attempted_at: DateTime<Utc>,
    /// The receiver's HTTP status, if it answered.
    pub status_code: Option<i16>,
    /// Why the attempt failed, if it did.
    pub error: Option<String>,
    pub latency_ms: i32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryResponse {
    /// Also the `webhook-id` header, the same on every attempt.
    pub id: Uuid,
    pub event_type: EventType,
    pub status: DeliveryStatus,
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
    /// Oldest first.
    pub attempts: Vec<AttemptResponse>,
}

impl From<Delivery> for DeliveryResponse {
    fn from(delivery: Delivery) -> Self {
        let attempt = |a: AttemptRecord| AttemptResponse {
            attempted_at: a.attempted_at,
            status_code: a.status_code,
            error: a.error,
            latency_ms: a.latency_ms,
        };
        Self {
            id: delivery.id,
            event_type: delivery.event_type,
            status: delivery.status,
            created_at: delivery.created_at,
            delivered_at: delivery.delivered_at,
            attempts: delivery.attempts.into_iter().map(attempt).collect(),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewEndpointRequest {
    pub url: EndpointUrl,
    pub event_types: EventTypes,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedEndpoint {
    #[serde(flatten)]
    pub endpoint: EndpointResponse,
    /// The signing secret, shown only now: store it with the receiver.
    pub secret: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EndpointList {
    pub items: Vec<EndpointResponse>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RotatedSecret {
    /// The new secret, shown only now.
    pub secret: String,
    /// Until then the previous secret signs too.
    pub previous_valid_until: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryPage {
    pub items: Vec<DeliveryResponse>,
    pub total: i64,
    pub limit: i64,
    pub offset: i64,
}

#[cfg(test)]
mod tests;
