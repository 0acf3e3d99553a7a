//! Graceful shutdown: in-flight requests finish, new connections are refused, and the drain
//! timeout bounds how long that may take.

mod common;

use std::time::{Duration, Instant};

use axum::{Router, routing::get};
use common::TestServer;

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
