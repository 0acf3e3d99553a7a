//! `POST /webhooks/inbound/{source}`: webhooks from other systems, signed the Standard
//! Webhooks way with the secret configured for `source` in `WEBHOOK_INBOUND_SECRETS`.

use axum::{
    Json,
    body::Bytes,
    extract::{Path, State},
    http::HeaderMap,
};
use serde::Serialize;
use utoipa::ToSchema;

use crate::{
    app::inbound::{Received, SignedHeaders},
    error::AppError,
    http::AppState,
};

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
        ("webhook-id" = String, Header, min_length = 1, max_length = 255, pattern = r"^[\x21-\x7e]+$", description = "The message's unique id: 1 to 255 visible ASCII characters"),
        ("webhook-timestamp" = i64, Header, description = "Unix seconds when it was sent; refused when further from now than WEBHOOK_TOLERANCE_SECS"),
        ("webhook-signature" = String, Header, max_length = 1024, pattern = r"^([\x21-\x7e]+([ \t]+[\x21-\x7e]+){0,7})?$", description = "`v1,<base64 HMAC-SHA256 of id.timestamp.body>`, space-separated when several: at most 8 signatures and 1024 bytes"),
    ),
    request_body(content = serde_json::Value, content_type = "application/json", description = "Any JSON"),
    responses(
        (status = 200, description = "Received (or received before)", body = InboundReceipt),
        (status = 400, description = "A header is missing or malformed (more than 8 signatures or 1024 bytes of them), or the body is not JSON"),
        (status = 401, description = "The signature does not verify, the timestamp is outside the tolerance window, or the source is unknown (the same answer, so sources cannot be discovered)"),
        (status = 413, description = "The body is too large"),
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

#[cfg(test)]
mod tests {
    use crate::{
        app::inbound::MESSAGE_ID_MAX_LEN,
        domain::webhook::{MAX_SIGNATURE_HEADER, MAX_SIGNATURES},
    };

    /// The annotation writes its limits as literals; they must be the server's constants.
    #[test]
    fn the_documented_header_limits_are_the_servers() {
        let doc = serde_json::to_value(crate::http::openapi()).unwrap();
        let operation = &doc["paths"]["/webhooks/inbound/{source}"]["post"];
        let header = |name: &str| {
            operation["parameters"]
                .as_array()
                .unwrap()
                .iter()
                .find(|parameter| parameter["name"] == name)
                .unwrap()
                .clone()
        };
        assert_eq!(
            header("webhook-id")["schema"]["maxLength"],
            MESSAGE_ID_MAX_LEN
        );
        let signature = header("webhook-signature");
        assert_eq!(signature["schema"]["maxLength"], MAX_SIGNATURE_HEADER);
        // (Built without doubled braces: the template engine would read them as its own.)
        let repeats = ["{0,", &(MAX_SIGNATURES - 1).to_string(), "}"].concat();
        assert!(
            signature["schema"]["pattern"]
                .as_str()
                .unwrap()
                .contains(&repeats)
        );
        let limits = format!("{MAX_SIGNATURES} signatures and {MAX_SIGNATURE_HEADER} bytes");
        assert!(signature["description"].as_str().unwrap().contains(&limits));
    }
}
