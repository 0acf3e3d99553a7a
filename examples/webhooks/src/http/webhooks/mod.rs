//! `/webhooks`: the caller's webhook endpoints and their deliveries ([`types`] holds what goes
//! on the wire), and webhooks from other systems ([`inbound`]).

mod inbound;
mod types;

use axum::{
    Json,
    extract::{Path, State},
    http::StatusCode,
};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

pub use inbound::InboundReceipt;
pub use types::{
    AttemptResponse, CreatedEndpoint, DeliveryPage, DeliveryResponse, EndpointList,
    EndpointResponse, EndpointUrl, EventTypes, NewEndpointRequest, RotatedSecret,
};

use super::{
    AppState,
    extract::{Authorized, JsonBody, QueryParams},
    no_store::NoStore,
    paging::PageQuery,
};
use crate::error::AppError;

/// Register an endpoint for the caller's task events.
#[utoipa::path(
    post,
    path = "/webhooks",
    tag = "webhooks",
    request_body = NewEndpointRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Registered; the secret is shown only in this answer", body = CreatedEndpoint,
            headers(("cache-control" = String, description = "`no-store`: the answer holds a secret"))),
        (status = 400, description = "The body is not JSON"),
        (status = 415, description = "The body is not `application/json`"),
        (status = 422, description = "The URL is not acceptable (https to a public host), an event type is unknown, or the account has the most endpoints allowed"),
    )
)]
pub async fn create_endpoint(
    State(state): State<AppState>,
    auth: Authorized,
    JsonBody(request): JsonBody<NewEndpointRequest>,
) -> Result<NoStore<(StatusCode, Json<CreatedEndpoint>)>, AppError> {
    let (endpoint, secret) = state
        .webhooks
        .create(&auth.caller, &request.url.0, request.event_types.0)
        .await?;
    Ok(NoStore((
        StatusCode::CREATED,
        Json(CreatedEndpoint {
            endpoint: endpoint.into(),
            secret,
        }),
    )))
}

/// The caller's endpoints, oldest first (secrets are never shown again).
#[utoipa::path(
    get,
    path = "/webhooks",
    tag = "webhooks",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller's endpoints", body = EndpointList),
    )
)]
pub async fn list_endpoints(
    State(state): State<AppState>,
    auth: Authorized,
) -> Result<Json<EndpointList>, AppError> {
    let items = state.webhooks.list(&auth.caller).await?;
    Ok(Json(EndpointList {
        items: items.into_iter().map(Into::into).collect(),
    }))
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
        (status = 400, description = "The id is not a UUID"),
        (status = 404, description = "No such endpoint (or not the caller's)"),
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
        (status = 200, description = "The new secret, shown only now", body = RotatedSecret,
            headers(("cache-control" = String, description = "`no-store`: the answer holds a secret"))),
        (status = 400, description = "The id is not a UUID"),
        (status = 404, description = "No such endpoint (or not the caller's)"),
    )
)]
pub async fn rotate_secret(
    State(state): State<AppState>,
    auth: Authorized,
    Path(id): Path<Uuid>,
) -> Result<NoStore<Json<RotatedSecret>>, AppError> {
    let (secret, previous_valid_until) = state.webhooks.rotate_secret(&auth.caller, id).await?;
    Ok(NoStore(Json(RotatedSecret {
        secret,
        previous_valid_until,
    })))
}

/// Enable an endpoint that was disabled after failing repeatedly.
#[utoipa::path(
    post,
    path = "/webhooks/{id}/enable",
    tag = "webhooks",
    params(("id" = Uuid, Path, description = "The endpoint's id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The endpoint, enabled", body = EndpointResponse),
        (status = 400, description = "The id is not a UUID"),
        (status = 404, description = "No such endpoint (or not the caller's)"),
    )
)]
pub async fn enable_endpoint(
    State(state): State<AppState>,
    auth: Authorized,
    Path(id): Path<Uuid>,
) -> Result<Json<EndpointResponse>, AppError> {
    Ok(Json(state.webhooks.enable(&auth.caller, id).await?.into()))
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
        (status = 400, description = "The id is not a UUID"),
        (status = 404, description = "No such endpoint (or not the caller's)"),
        (status = 422, description = "`limit` or `offset` out of range"),
    )
)]
pub async fn list_deliveries(
    State(state): State<AppState>,
    auth: Authorized,
    Path(id): Path<Uuid>,
    QueryParams(page): QueryParams<PageQuery>,
) -> Result<Json<DeliveryPage>, AppError> {
    let (items, total) = state
        .webhooks
        .deliveries(&auth.caller, id, page.limit.0, page.offset.0)
        .await?;
    Ok(Json(DeliveryPage {
        items: items.into_iter().map(Into::into).collect(),
        total,
        limit: page.limit.0,
        offset: page.offset.0,
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
        (status = 400, description = "An id is not a UUID"),
        (status = 404, description = "No such endpoint or delivery"),
        (status = 409, description = "The delivery is not dead"),
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

/// Webhook endpoints, their deliveries, and webhooks from other systems.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_endpoint, list_endpoints))
        .routes(routes!(delete_endpoint))
        .routes(routes!(rotate_secret))
        .routes(routes!(enable_endpoint))
        .routes(routes!(list_deliveries))
        .routes(routes!(replay_delivery))
        .routes(routes!(inbound::receive_webhook))
}
