//! Liveness and readiness through real HTTP.

mod common;

use std::time::Duration;

use common::{TestEnv, TestServer, config_from};

use task_svc::startup::Application;
use task_svc::startup::Backends;

// ANCHOR: healthz_test
#[tokio::test]
async fn healthz_answers_ok_without_touching_dependencies() {
    let env = TestEnv::new().await;
    let server = TestServer::start(&env.config(&[])).await;

    let response = server.get("/healthz").await;
    assert_eq!(response.status(), 200);
    assert!(response.headers().contains_key("x-request-id"));
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body, serde_json::json!({"status": "ok"}));

    // Liveness must not depend on the database: close the pool and ask again.
    server.db().close().await;
    assert_eq!(server.get("/healthz").await.status(), 200);
    server.shutdown().await.unwrap();
}
// ANCHOR_END: healthz_test

#[tokio::test]
async fn readyz_reports_every_dependency_up() {
    let env = TestEnv::new().await;
    let server = TestServer::start(&env.config(&[])).await;

    let response = server.get("/readyz").await;
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ready");
    assert_eq!(body["checks"]["postgres"], "up");
    assert_eq!(body["checks"]["jobs_worker"], "up", "the worker is watched");
    assert!(body.get("failing").is_none(), "{body}");
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn readyz_answers_503_naming_postgres_when_the_database_is_unreachable() {
    // Nothing listens on port 1: every connection attempt is refused.
    let config = config_from(&[
        (
            "DATABASE_URL",
            "postgres://postgres@127.0.0.1:1/unreachable",
        ),
        ("DATABASE_ACQUIRE_TIMEOUT_MS", "500"),
        ("APP_ADDR", "127.0.0.1:0"),
        ("JOBS_WORKER", "false"),
    ]);
    common::install_crypto_provider();
    let backends = Backends::lazy(&config).unwrap();
    let app = Application::on(config, backends).await.unwrap();
    let server = TestServer::run(app).await;

    let started = std::time::Instant::now();
    let response = server.get("/readyz").await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "readiness must not hang"
    );
    assert_eq!(response.status(), 503);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["status"], "unavailable");
    assert_eq!(body["checks"]["postgres"], "down");
    assert_eq!(body["failing"][0], "postgres", "{body}");
    assert!(
        body["checks"].get("jobs_worker").is_none(),
        "no worker here (JOBS_WORKER=false), so none is watched: {body}"
    );
    // The reason (which may name hosts) is logged, not sent.
    assert!(!body.to_string().contains("127.0.0.1"), "{body}");
    server.shutdown().await.unwrap();
}
