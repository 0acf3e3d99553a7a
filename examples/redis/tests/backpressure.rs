//! Load shedding: past `HTTP_MAX_IN_FLIGHT`, requests are refused at once with 503 and
//! `Retry-After` while the admitted ones keep their place; the probes are never refused.
//! Handlers here block until the test releases them, so "at once" is shown without timing:
//! the refusals all arrive while every admitted request is still held.

mod common;

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use axum::{Router, routing::get};
use common::{TestServer, assert_problem, eventually, http_config};
use tokio::sync::watch;

use task_svc::http::layers;

const LIMIT: usize = 4;

/// `/held` enters, counts itself, and waits until the test opens the gate.
struct Gate {
    entered: Arc<AtomicUsize>,
    open: watch::Sender<bool>,
}

fn held_router() -> (Router, Gate) {
    let entered = Arc::new(AtomicUsize::new(0));
    let (open, opened) = watch::channel(false);
    let router = Router::new()
        .route(
            "/held",
            get({
                let entered = entered.clone();
                move || async move {
                    entered.fetch_add(1, Ordering::SeqCst);
                    let mut opened = opened.clone();
                    let _ = opened.wait_for(|open| *open).await;
                    "done"
                }
            }),
        )
        .route("/quick", get(|| async { "quick" }))
        .route("/healthz", get(|| async { "ok" }));
    (router, Gate { entered, open })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_past_the_limit_are_refused_at_once_and_admitted_ones_complete() {
    let (router, gate) = held_router();
    let max = LIMIT.to_string();
    let config = http_config(&[("HTTP_MAX_IN_FLIGHT", max.as_str())]);
    let server = TestServer::serve(layers::apply(router, &config), Duration::from_secs(5)).await;

    let admitted: Vec<_> = (0..LIMIT)
        .map(|_| {
            let (client, url) = (server.client.clone(), server.url("/held"));
            tokio::spawn(async move { client.get(url).send().await.unwrap() })
        })
        .collect();
    eventually("every admitted request is in its handler", async || {
        gate.entered.load(Ordering::SeqCst) == LIMIT
    })
    .await;

    // Three times the limit more: every one is refused while the admitted are still held.
    let refused = futures::future::join_all((0..3 * LIMIT).map(|_| server.get("/held"))).await;
    for response in refused {
        assert_eq!(response.headers()["retry-after"], "1");
        // Headers of the layers outside the shedding: a browser may read this answer.
        assert_eq!(response.headers()["x-content-type-options"], "nosniff");
        let body = assert_problem(response, 503).await;
        assert!(
            body["detail"].as_str().unwrap().contains("capacity"),
            "{body}"
        );
    }
    assert_eq!(
        gate.entered.load(Ordering::SeqCst),
        LIMIT,
        "no refused request reached a handler"
    );
    assert!(
        admitted.iter().all(|request| !request.is_finished()),
        "the admitted requests were still held while the others were refused"
    );
    // Liveness is answered even at capacity.
    assert_eq!(server.get("/healthz").await.status(), 200);

    gate.open.send(true).unwrap();
    for request in admitted {
        let response = request.await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.text().await.unwrap(), "done");
    }
    // The permits came back: the next request is admitted.
    assert_eq!(server.get("/held").await.status(), 200);
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_goes_away_gives_its_place_back() {
    let (router, gate) = held_router();
    let config = http_config(&[("HTTP_MAX_IN_FLIGHT", "1")]);
    let server = TestServer::serve(layers::apply(router, &config), Duration::from_secs(5)).await;

    let abandoned = tokio::spawn({
        let (client, url) = (server.client.clone(), server.url("/held"));
        async move { client.get(url).send().await }
    });
    eventually("the request is in its handler", async || {
        gate.entered.load(Ordering::SeqCst) == 1
    })
    .await;
    assert_eq!(
        server.get("/quick").await.status(),
        503,
        "the one place is taken"
    );

    // Dropping the client's side closes the connection; the server notices, drops the
    // request's future (the handler never finishes: the gate stays shut), and with it the
    // place it held.
    abandoned.abort();
    let _ = abandoned.await;
    let mut status = 0;
    for _ in 0..100 {
        status = server.get("/quick").await.status().as_u16();
        if status == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(status, 200, "the place was given back");
    gate.open.send(true).unwrap();
    server.shutdown().await.unwrap();
}
