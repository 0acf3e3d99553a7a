//! A request's span, and the spans of the repository calls it makes, reach an OTLP/HTTP
//! receiver started inside the test.

mod common;

use common::{OtlpReceiver, TestEnv, TestServer, otlp_attr};

use {{crate_name}}::telemetry;

// Two worker threads: flushing blocks one while the receiver answers on the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_span_is_exported_over_otlp() {
    let mut receiver = OtlpReceiver::start().await;
    let env = TestEnv::new().await;
    let config = env.config(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint.as_str()),
        ("OTEL_SERVICE_NAME", "otlp-test-service"),
    ]);
    common::install_crypto_provider();
    let guard = telemetry::init(&config.telemetry).unwrap();
    let server = TestServer::start(&config).await;

    let response = server
        .client
        .get(server.url("/healthz"))
        .header(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let request_id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    // A request that reads the database: its repository calls are spans of their own.
    let session = server.signed_in("ada@example.com").await;
    let me = server
        .client
        .get(server.url("/me"))
        .bearer_auth(&session.access)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
    let me: serde_json::Value = me.json().await.unwrap();
    server.shutdown().await.unwrap();
    // Flush the batch exporter: the span is sent now, not on the next timer tick.
    tokio::task::spawn_blocking(move || guard.shutdown())
        .await
        .unwrap();

    let exported = receiver.traces();
    let (resource, span) = exported
        .iter()
        .flat_map(|r| &r.resource_spans)
        .flat_map(|rs| {
            rs.scope_spans
                .iter()
                .flat_map(move |ss| ss.spans.iter().map(move |s| (&rs.resource, s)))
        })
        .find(|(_, span)| span.name == "GET /healthz")
        .expect("the request's span was exported");

    assert_eq!(
        otlp_attr(&span.attributes, "http.route").as_deref(),
        Some("/healthz")
    );
    assert_eq!(
        otlp_attr(&span.attributes, "http.request.method").as_deref(),
        Some("GET")
    );
    assert_eq!(
        otlp_attr(&span.attributes, "http.response.status_code").as_deref(),
        Some("200")
    );
    assert_eq!(otlp_attr(&span.attributes, "request_id"), Some(request_id));
    // The caller's W3C trace context was continued.
    assert_eq!(hex(&span.trace_id), "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(hex(&span.parent_span_id), "00f067aa0ba902b7");
    // ANCHOR: db_span_test
    // The repository call is a child of the request's span, named after the statement, and
    // carries no parameter: neither the account's id nor its email.
    let spans: Vec<_> = exported
        .iter()
        .flat_map(|r| &r.resource_spans)
        .flat_map(|rs| &rs.scope_spans)
        .flat_map(|ss| &ss.spans)
        .collect();
    let request = spans
        .iter()
        .find(|span| span.name == "GET /me")
        .expect("the request's span");
    let query = spans
        .iter()
        .find(|span| span.name == "users.by_id")
        .expect("the repository call's span");
    assert_eq!(query.trace_id, request.trace_id);
    assert_eq!(
        query.parent_span_id, request.span_id,
        "a child of the request"
    );
    assert_eq!(
        otlp_attr(&query.attributes, "db.system.name").as_deref(),
        Some("postgresql")
    );
    for attribute in &query.attributes {
        let value = format!("{:?}", attribute.value);
        for secret in [&me["id"], &me["email"]] {
            let secret = secret.as_str().unwrap();
            assert!(!value.contains(secret), "{} leaks {secret}", attribute.key);
        }
    }
    // ANCHOR_END: db_span_test
    let resource = resource.as_ref().expect("resource");
    assert_eq!(
        otlp_attr(&resource.attributes, "service.name").as_deref(),
        Some("otlp-test-service")
    );
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
