//! The middleware stack: request ids, body limit, timeout, CORS, compression, unknown routes.

mod common;

use std::time::Duration;

use axum::{
    Router,
    routing::{get, post},
};
use common::{TestEnv, TestServer, assert_problem, http_config};

use task_svc::http::layers;

fn stack(router: Router, extra: &[(&str, &str)]) -> Router {
    layers::apply(router, &http_config(extra))
}

async fn echo(body: String) -> String {
    body
}

#[tokio::test]
async fn a_request_id_is_generated_when_absent_and_echoed() {
    let server = TestServer::serve(
        stack(Router::new().route("/", get(|| async { "hi" })), &[]),
        Duration::from_secs(1),
    )
    .await;
    let first = server.get("/").await;
    let second = server.get("/").await;
    let id = |r: &reqwest::Response| r.headers()["x-request-id"].to_str().unwrap().to_owned();
    let (a, b) = (id(&first), id(&second));
    assert!(
        uuid::Uuid::parse_str(&a).is_ok(),
        "generated ids are UUIDs: {a}"
    );
    assert_ne!(a, b, "each request gets its own id");
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_sane_incoming_request_id_is_kept_and_a_hostile_one_replaced() {
    let server = TestServer::serve(stack(Router::new(), &[]), Duration::from_secs(1)).await;
    let kept = server
        .client
        .get(server.url("/missing"))
        .header("x-request-id", "client-abc_123")
        .send()
        .await
        .unwrap();
    assert_eq!(kept.headers()["x-request-id"], "client-abc_123");
    let body = assert_problem(kept, 404).await;
    assert_eq!(body["request_id"], "client-abc_123");

    let hostile = "x".repeat(300);
    let replaced = server
        .client
        .get(server.url("/missing"))
        .header("x-request-id", hostile.as_str())
        .send()
        .await
        .unwrap();
    let id = replaced.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_ne!(id, hostile);
    assert!(uuid::Uuid::parse_str(&id).is_ok());
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn bodies_over_the_limit_get_413_problem() {
    let router = stack(
        Router::new().route("/echo", post(echo)),
        &[("HTTP_BODY_LIMIT_BYTES", "1024")],
    );
    let server = TestServer::serve(router, Duration::from_secs(1)).await;

    let small = server
        .client
        .post(server.url("/echo"))
        .body("a".repeat(1024))
        .send()
        .await
        .unwrap();
    assert_eq!(small.status(), 200);
    assert_eq!(small.text().await.unwrap().len(), 1024);

    // Declared too large by Content-Length: refused before the body is read.
    let large = server
        .client
        .post(server.url("/echo"))
        .body("a".repeat(1025))
        .send()
        .await
        .unwrap();
    assert_problem(large, 413).await;

    // Streamed without a length: refused once the limit is crossed.
    let chunks = futures::stream::iter((0..4).map(|_| Ok::<_, std::io::Error>("a".repeat(512))));
    let streamed = server
        .client
        .post(server.url("/echo"))
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .unwrap();
    assert_problem(streamed, 413).await;
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn slow_requests_time_out_with_503_problem() {
    let router = stack(
        Router::new().route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                "too late"
            }),
        ),
        &[("HTTP_REQUEST_TIMEOUT_MS", "100")],
    );
    let server = TestServer::serve(router, Duration::from_secs(1)).await;
    let started = std::time::Instant::now();
    let response = server.get("/slow").await;
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_problem(response, 503).await;
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn cors_allows_configured_origins_only() {
    let router = stack(
        Router::new().route("/", get(|| async { "hi" })),
        &[(
            "CORS_ALLOWED_ORIGINS",
            "https://app.example.com, http://localhost:5173",
        )],
    );
    let server = TestServer::serve(router, Duration::from_secs(1)).await;
    let preflight = |origin: &'static str| {
        server
            .client
            .request(reqwest::Method::OPTIONS, server.url("/"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "content-type,authorization",
            )
            .send()
    };

    let allowed = preflight("https://app.example.com").await.unwrap();
    assert!(allowed.status().is_success());
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    let methods = allowed.headers()["access-control-allow-methods"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(methods.contains("POST"), "{methods}");
    // A browser shows a script only the response headers the server exposes.
    let answer = server
        .client
        .get(server.url("/"))
        .header("origin", "https://app.example.com")
        .send()
        .await
        .unwrap();
    let exposed = answer.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .to_lowercase();
    for name in ["x-request-id", "retry-after", "link"] {
        assert!(exposed.contains(name), "{name} in {exposed}");
    }

    let denied = preflight("https://evil.example.com").await.unwrap();
    assert!(
        denied
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );

    // Simple requests get the header too, so browsers can read the response.
    let simple = server
        .client
        .get(server.url("/"))
        .header("origin", "http://localhost:5173")
        .send()
        .await
        .unwrap();
    assert_eq!(
        simple.headers()["access-control-allow-origin"],
        "http://localhost:5173"
    );
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn responses_are_gzip_compressed_when_the_client_accepts_it() {
    let big = "compressible ".repeat(1000);
    let router = stack(
        Router::new().route("/big", get(move || async move { big })),
        &[],
    );
    let server = TestServer::serve(router, Duration::from_secs(1)).await;
    let response = server
        .client
        .get(server.url("/big"))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["content-encoding"], "gzip");
    let compressed = response.bytes().await.unwrap();
    assert!(
        compressed.len() < 13_000 / 10,
        "compressed to {} bytes",
        compressed.len()
    );
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn small_responses_are_sent_as_they_are() {
    // A task (a few hundred bytes) is not worth a compressor: see `COMPRESS_ABOVE_BYTES`.
    let small = "x".repeat(1000);
    let router = stack(
        Router::new().route("/small", get(move || async move { small })),
        &[],
    );
    let server = TestServer::serve(router, Duration::from_secs(1)).await;
    let response = server
        .client
        .get(server.url("/small"))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers().get("content-encoding").is_none());
    assert_eq!(response.bytes().await.unwrap().len(), 1000);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn unknown_routes_and_methods_of_the_real_app_get_problem_bodies() {
    let env = TestEnv::new().await;
    let server = TestServer::start(&env.config(&[])).await;

    let body = assert_problem(server.get("/no/such/route").await, 404).await;
    assert_eq!(body["detail"], "no route for GET /no/such/route");

    let wrong_method = server
        .client
        .delete(server.url("/healthz"))
        .send()
        .await
        .unwrap();
    let allow = wrong_method
        .headers()
        .get("allow")
        .map(|v| v.to_str().unwrap().to_owned());
    assert_problem(wrong_method, 405).await;
    assert!(
        allow.is_some_and(|a| a.contains("GET")),
        "405 keeps the Allow header"
    );
    server.shutdown().await.unwrap();
}
