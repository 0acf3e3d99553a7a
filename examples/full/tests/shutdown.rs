//! Graceful shutdown: in-flight requests finish, new connections are refused, and the drain
//! timeout bounds how long that may take.

mod common;

use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use axum::{Router, routing::get};
use common::{TestEnv, TestServer};

fn slow_router(delay: Duration) -> Router {
    Router::new().route(
        "/slow",
        get(move || async move {
            tokio::time::sleep(delay).await;
            "finished"
        }),
    )
}

#[tokio::test]
async fn in_flight_requests_finish_after_the_signal() {
    let server = TestServer::serve(
        slow_router(Duration::from_millis(500)),
        Duration::from_secs(10),
    )
    .await;
    let addr = server.addr;
    let request = tokio::spawn({
        let (client, url) = (server.client.clone(), server.url("/slow"));
        async move { client.get(url).send().await.unwrap().text().await.unwrap() }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;

    let started = Instant::now();
    let stopped = tokio::spawn(server.shutdown());
    assert_eq!(
        request.await.unwrap(),
        "finished",
        "the in-flight request completes"
    );
    stopped.await.unwrap().unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "shutdown waited only for the request"
    );

    let refused = tokio::net::TcpStream::connect(addr).await;
    assert!(refused.is_err(), "no new connections after shutdown");
}

#[tokio::test]
async fn the_drain_timeout_bounds_shutdown() {
    let server = TestServer::serve(
        slow_router(Duration::from_secs(30)),
        Duration::from_millis(300),
    )
    .await;
    let request = tokio::spawn({
        let (client, url) = (server.client.clone(), server.url("/slow"));
        async move { client.get(url).send().await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;

    let started = Instant::now();
    server.shutdown().await.unwrap();
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(300),
        "waited for the drain: {took:?}"
    );
    assert!(took < Duration::from_secs(5), "but no longer: {took:?}");
    request.abort();
}

/// The real binary, stopped the way container runtimes stop it.
#[tokio::test]
async fn sigterm_stops_the_binary_cleanly() {
    let env = TestEnv::new().await;
    let mut child = Command::new(env!(concat!("CARGO_BIN_EXE_", env!("CARGO_PKG_NAME"))))
        .env_clear()
        .envs(common::TEST_DEFAULTS.iter().copied())
        .env("DATABASE_URL", &env.db.url)
        .env("REDIS_URL", &env.redis.url)
        .env("APP_ADDR", "127.0.0.1:0")
        .env("LOG_FORMAT", "json")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let listening = lines
        .by_ref()
        .map_while(Result::ok)
        .find(|line| line.contains("listening"))
        .expect("the service logs where it listens");
    let log: serde_json::Value = serde_json::from_str(&listening).unwrap();
    let addr = log["addr"].as_str().unwrap().to_owned();
    let health = common::http_client()
        .build()
        .unwrap()
        .get(format!("http://{addr}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);

    let started = Instant::now();
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "exit status {status}");
    assert!(started.elapsed() < Duration::from_secs(10));
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(
        rest.iter().any(|line| line.contains("shutdown requested")),
        "{rest:?}"
    );
    assert!(rest.iter().any(|line| line.contains("stopped")), "{rest:?}");
}
