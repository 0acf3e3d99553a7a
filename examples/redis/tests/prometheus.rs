//! `METRICS_PROMETHEUS=true`: the service's metrics on a scrape listener of their own, named
//! and labelled as the dashboards query them through the collector.

mod common;

use common::{TestEnv, TestServer};

use task_svc::startup::Application;
use task_svc::telemetry;

// ANCHOR: scrape_test
#[tokio::test]
async fn prometheus_scrapes_the_metrics_on_a_listener_of_their_own() {
    let env = TestEnv::new().await;
    let config = env.config(&[
        ("METRICS_PROMETHEUS", "true"),
        ("METRICS_PROMETHEUS_ADDR", "127.0.0.1:0"),
        ("OTEL_SERVICE_NAME", "scrape-test"),
    ]);
    let guard = telemetry::init(&config.telemetry).unwrap();
    common::install_crypto_provider();
    let app = Application::build(config).await.unwrap();
    let scrape = app.scrape_addr().expect("a scrape listener");
    let server = TestServer::run(app).await;
    assert_eq!(server.get("/healthz").await.status(), 200);
    server.signed_in("ada@example.com").await;

    let response = server
        .client
        .get(format!("http://{scrape}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/plain; version=0.0.4"
    );
    let body = response.text().await.unwrap();
    // The names and labels the dashboards and alert rules query (day 35).
    let healthz = body
        .lines()
        .find(|line| {
            line.starts_with("http_server_request_duration_seconds_count{")
                && line.contains(r#"http_route="/healthz""#)
        })
        .unwrap_or_else(|| panic!("the request histogram, by route:\n{body}"));
    assert!(
        healthz.contains(r#"service_name="scrape-test""#),
        "{healthz}"
    );
    assert!(
        healthz.contains(r#"http_request_method="GET""#),
        "{healthz}"
    );
    assert!(healthz.ends_with(" 1"), "one request: {healthz}");
    assert!(
        body.contains(r#"http_route="/auth/login""#),
        "the login is counted too"
    );
    assert!(!body.contains("otel_scope_name"), "no scope labels");

    // Not on the API's port, and not in its document.
    assert_eq!(server.get("/metrics").await.status(), 404);
    server.shutdown().await.unwrap();
    guard.shutdown();
}
// ANCHOR_END: scrape_test
