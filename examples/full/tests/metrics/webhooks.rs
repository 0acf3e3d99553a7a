//! The webhook part of the metrics test: a receiver, an endpoint subscribed to it, and the
//! delivery metrics that must come out.

use opentelemetry_proto::tonic::metrics::v1::{Metric, metric::Data};

use super::common::{TestServer, otlp_attr as attr};

/// A webhook receiver that accepts everything; its URL.
pub async fn start_receiver() -> String {
    let router = axum::Router::new().route(
        "/hook",
        axum::routing::post(|| async { axum::http::StatusCode::NO_CONTENT }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    url
}

/// Registers an endpoint for created tasks, so the task the test creates is delivered.
pub async fn subscribe(server: &TestServer, access: &str, hook: &str) {
    let endpoint = server
        .post(
            "/webhooks",
            Some(access),
            serde_json::json!({ "url": hook, "event_types": ["task.created"] }),
        )
        .await;
    assert_eq!(endpoint.status(), 201);
}

/// Delivery outcomes and the receivers' latency were exported.
pub fn assert_deliveries_measured<'a>(find: &impl Fn(&str) -> &'a Metric) {
    let Some(Data::Sum(deliveries)) = &find("webhook.deliveries").data else {
        panic!("webhook.deliveries is a sum");
    };
    assert!(
        deliveries
            .data_points
            .iter()
            .any(|p| attr(&p.attributes, "outcome").as_deref() == Some("delivered"))
    );
    let Some(Data::Histogram(latency)) = &find("webhook.delivery.duration").data else {
        panic!("webhook.delivery.duration is a histogram");
    };
    assert_eq!(find("webhook.delivery.duration").unit, "s");
    assert!(latency.data_points.iter().map(|p| p.count).sum::<u64>() >= 1);
}
