//! The webhook routes, which the document must list too.

pub const ROUTES: &[(&str, &str)] = &[
    ("post", "/webhooks"),
    ("get", "/webhooks"),
    ("delete", "/webhooks/{id}"),
    ("post", "/webhooks/{id}/rotate-secret"),
    ("post", "/webhooks/{id}/enable"),
    ("get", "/webhooks/{id}/deliveries"),
    ("post", "/webhooks/{id}/deliveries/{delivery_id}/replay"),
    ("post", "/webhooks/inbound/{source}"),
];
