//! `/webhooks`: the caller's webhook endpoints and their deliveries, and
//! `POST /webhooks/inbound/{source}` for webhooks from other systems, signed the Standard
//! Webhooks way with the secret configured for `source` in `WEBHOOK_INBOUND_SECRETS`.

use axum::{
    Json,
    body::Bytes,
    extract::{Path, State},
    http::{HeaderMap, StatusCode},
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;
use validator::Validate;

use super::{
    extract::{Authorized, ValidJson, ValidQuery},
    users::PageQuery,
};
use crate::{
    AppState,
    app::{
        inbound::{Received, SignedHeaders},
        webhooks::{Delivery, Endpoint, EventType},
    },
    error::{AppError, Problem},
};

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewEndpointRequest {
    /// Where deliveries are POSTed: `https://` to a public host.
    #[schema(example = "https://hooks.example.com/tasks")]
    #[validate(length(min = 1, max = 2000, message = "must be 1 to 2000 characters"))]
    pub url: String,
    /// What to deliver.
    #[validate(length(min = 1, max = 4, message = "name 1 to 4 event types"))]
    pub event_types: Vec<EventType>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedEndpoint {
    #[serde(flatten)]
    pub endpoint: Endpoint,
    /// The signing secret, shown only now: store it with the receiver.
    pub secret: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EndpointList {
    pub items: Vec<Endpoint>,
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
    pub items: Vec<Delivery>,
    pub total: i64,
    pub limit: i64,
    pub offset: i64,
}

/// Register an endpoint for the caller's task events.
#[utoipa::path(
    post,
    path = "/webhooks",
    tag = "webhooks",
    request_body = NewEndpointRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Registered; the secret is shown only in this answer", body = CreatedEndpoint),
        (status = 400, description = "The body is not JSON", body = Problem),
        (status = 401, description = "No valid access token", body = Problem),
        (status = 415, description = "The body is not `application/json`", body = Problem),
        (status = 422, description = "The URL is not acceptable (https to a public host), an event type is unknown, or the account has the most endpoints allowed", body = Problem),
    )
)]
pub async fn create_endpoint(
    State(state): State<AppState>,
    auth: Authorized,
    ValidJson(request): ValidJson<NewEndpointRequest>,
) -> Result<(StatusCode, Json<CreatedEndpoint>), AppError> {
    let (endpoint, secret) = state
        .webhooks
        .create(&auth.caller, &request.url, request.event_types)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedEndpoint { endpoint, secret }),
    ))
}

/// The caller's endpoints, oldest first (secrets are never shown again).
#[utoipa::path(
    get,
    path = "/webhooks",
    tag = "webhooks",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller's endpoints", body = EndpointList),
        (status = 401, description = "No valid access token", body = Problem),
    )
)]
pub async fn list_endpoints(
    State(state): State<AppState>,
    auth: Authorized,
) -> Result<Json<EndpointList>, AppError> {
    let items = state.webhooks.list(&auth.caller).await?;
    Ok(Json(EndpointList { items }))
}

/// Delete an endpoint and its delivery history.
#[utoipa::path(
    delete,
    path = "/webhooks/{id}",
    tag = "webhooks",
    params(("id" = Uuid, Path, description = "The endpoint's id")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "The id is not a UUID", body = Problem),
        (status = 401, description = "No valid access token", body = Problem),
        (status = 404, description = "No such endpoint (or not the caller's)", body = Problem),
    )
)]
pub async fn delete_endpoint(
    State(state): State<AppState>,
    auth: Authorized,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, AppError> {
    state.webhooks.delete(&auth.caller, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Replace the signing secret. The previous one keeps signing for
/// `WEBHOOK_SECRET_OVERLAP_SECS`, so the receiver can switch at its own pace.
#[utoipa::path(
    post,
    path = "/webhooks/{id}/rotate-secret",
    tag = "webhooks",
    params(("id" = Uuid, Path, description = "The endpoint's id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The new secret, shown only now", body = RotatedSecret),
        (status = 400, description = "The id is not a UUID", body = Problem),
        (status = 401, description = "No valid access token", body = Problem),
        (status = 404, description = "No such endpoint (or not the caller's)", body = Problem),
    )
)]
pub async fn rotate_secret(
    State(state): State<AppState>,
    auth: Authorized,
    Path(id): Path<Uuid>,
) -> Result<Json<RotatedSecret>, AppError> {
    let (secret, previous_valid_until) = state.webhooks.rotate_secret(&auth.caller, id).await?;
    Ok(Json(RotatedSecret {
        secret,
        previous_valid_until,
    }))
}

/// Enable an endpoint that was disabled after failing repeatedly.
#[utoipa::path(
    post,
    path = "/webhooks/{id}/enable",
    tag = "webhooks",
    params(("id" = Uuid, Path, description = "The endpoint's id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The endpoint, enabled", body = Endpoint),
        (status = 400, description = "The id is not a UUID", body = Problem),
        (status = 401, description = "No valid access token", body = Problem),
        (status = 404, description = "No such endpoint (or not the caller's)", body = Problem),
    )
)]
pub async fn enable_endpoint(
    State(state): State<AppState>,
    auth: Authorized,
    Path(id): Path<Uuid>,
) -> Result<Json<Endpoint>, AppError> {
    Ok(Json(state.webhooks.enable(&auth.caller, id).await?))
}

/// An endpoint's deliveries, newest first, each with its attempts (status code, error,
/// latency).
#[utoipa::path(
    get,
    path = "/webhooks/{id}/deliveries",
    tag = "webhooks",
    params(("id" = Uuid, Path, description = "The endpoint's id"), PageQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of deliveries", body = DeliveryPage),
        (status = 400, description = "The id is not a UUID", body = Problem),
        (status = 401, description = "No valid access token", body = Problem),
        (status = 404, description = "No such endpoint (or not the caller's)", body = Problem),
        (status = 422, description = "`limit` or `offset` out of range", body = Problem),
    )
)]
pub async fn list_deliveries(
    State(state): State<AppState>,
    auth: Authorized,
    Path(id): Path<Uuid>,
    ValidQuery(page): ValidQuery<PageQuery>,
) -> Result<Json<DeliveryPage>, AppError> {
    let (items, total) = state
        .webhooks
        .deliveries(&auth.caller, id, page.limit, page.offset)
        .await?;
    Ok(Json(DeliveryPage {
        items,
        total,
        limit: page.limit,
        offset: page.offset,
    }))
}

/// Send a dead delivery again, with the same `webhook-id` and a fresh count of attempts.
#[utoipa::path(
    post,
    path = "/webhooks/{id}/deliveries/{delivery_id}/replay",
    tag = "webhooks",
    params(
        ("id" = Uuid, Path, description = "The endpoint's id"),
        ("delivery_id" = Uuid, Path, description = "The delivery's id"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 202, description = "Queued for delivery"),
        (status = 400, description = "An id is not a UUID", body = Problem),
        (status = 401, description = "No valid access token", body = Problem),
        (status = 404, description = "No such endpoint or delivery", body = Problem),
        (status = 409, description = "The delivery is not dead", body = Problem),
    )
)]
pub async fn replay_delivery(
    State(state): State<AppState>,
    auth: Authorized,
    Path((id, delivery_id)): Path<(Uuid, Uuid)>,
) -> Result<StatusCode, AppError> {
    state.webhooks.replay(&auth.caller, id, delivery_id).await?;
    Ok(StatusCode::ACCEPTED)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InboundReceipt {
    /// The message's `webhook-id`.
    pub id: String,
    /// `true` when this message was received before: acknowledged, not processed again.
    pub duplicate: bool,
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Result<&'a str, AppError> {
    headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .ok_or_else(|| AppError::BadRequest(format!("the {name} header is missing")))
}

/// Receive a webhook. The body must be JSON; the signature covers it byte for byte. A
/// message id seen before is acknowledged with `duplicate: true` and not processed again, so a
/// sender that retries after a lost answer does no harm.
#[utoipa::path(
    post,
    path = "/webhooks/inbound/{source}",
    tag = "webhooks",
    params(
        ("source" = String, Path, description = "The sending system, as named in WEBHOOK_INBOUND_SECRETS"),
        ("webhook-id" = String, Header, description = "The message's unique id"),
        ("webhook-timestamp" = i64, Header, description = "Unix seconds when it was sent"),
        ("webhook-signature" = String, Header, description = "`v1,<base64 HMAC-SHA256 of id.timestamp.body>`, space-separated when several"),
    ),
    request_body(content = serde_json::Value, content_type = "application/json", description = "Any JSON"),
    responses(
        (status = 200, description = "Received (or received before)", body = InboundReceipt),
        (status = 400, description = "A header is missing or malformed, or the body is not JSON", body = Problem),
        (status = 401, description = "The signature does not verify, or the timestamp is outside the tolerance window", body = Problem),
        (status = 404, description = "No such source", body = Problem),
        (status = 413, description = "The body is too large", body = Problem),
    )
)]
pub async fn receive_webhook(
    State(state): State<AppState>,
    Path(source): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<InboundReceipt>, AppError> {
    let signed = SignedHeaders {
        id: header(&headers, "webhook-id")?,
        timestamp: header(&headers, "webhook-timestamp")?,
        signature: header(&headers, "webhook-signature")?,
    };
    let received = state.inbound.receive(&source, signed, &body).await?;
    Ok(Json(InboundReceipt {
        id: signed.id.trim().to_owned(),
        duplicate: received == Received::Duplicate,
    }))
}
