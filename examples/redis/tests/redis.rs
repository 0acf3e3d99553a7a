//! The Redis connection is part of readiness.

mod common;

use std::{sync::Arc, time::Duration};

use common::{TestEnv, TestServer, config_from};

use task_svc::app::readiness::Readiness;
use task_svc::infra::postgres;
use task_svc::infra::redis as cache;
use task_svc::{AppState, app};

#[tokio::test]
async fn readyz_answers_503_naming_redis_when_redis_is_unreachable() {
    let env = TestEnv::new().await;
    let up = AppState::connect(&env.config(&[])).await.unwrap();
    let down = config_from(&[
        ("DATABASE_URL", env.db.url.as_str()),
        ("REDIS_URL", "redis://127.0.0.1:1"),
        ("REDIS_TIMEOUT_MS", "300"),
    ]);
    let readiness = Readiness::new(
        vec![
            Arc::new(postgres::PostgresProbe(
                postgres::connect_lazy(&down.database).unwrap(),
            )),
            Arc::new(cache::RedisProbe(cache::connect_lazy(&down.redis).unwrap())),
        ],
        Duration::from_secs(2),
    );
    let state = AppState::assemble(&down, up.db.clone(), readiness)
        .await
        .unwrap();
    let server = TestServer::serve(app(state, &down.http), Duration::from_secs(1)).await;

    let response = server.get("/readyz").await;
    assert_eq!(response.status(), 503);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["checks"]["postgres"], "up");
    assert_eq!(body["checks"]["redis"], "down");
    assert_eq!(body["failing"], serde_json::json!(["redis"]));
    server.shutdown().await.unwrap();
    up.db.close().await;
}

#[tokio::test]
async fn start_up_fails_fast_when_redis_is_unreachable() {
    let env = TestEnv::new().await;
    let config = env.config(&[
        ("REDIS_URL", "redis://127.0.0.1:1"),
        ("REDIS_TIMEOUT_MS", "300"),
    ]);
    let err = AppState::connect(&config)
        .await
        .err()
        .expect("no Redis, no start");
    assert!(format!("{err:#}").contains("REDIS_URL"), "{err:#}");
}
