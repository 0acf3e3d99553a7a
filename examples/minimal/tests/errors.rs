//! Every error status of the map, rendered as one problem+json body with the request id,
//! through the real middleware stack.

mod common;

use std::time::Duration;

use axum::{Router, routing::get};
use common::{TestServer, assert_problem, http_config};

use task_svc::error::AppError;
use task_svc::error::FieldError;
use task_svc::http::layers;

fn stack(router: Router) -> Router {
    layers::apply(router, &http_config(&[]))
}

async fn serve_error(error: fn() -> AppError) -> TestServer {
    let router = Router::new().route("/fail", get(move || async move { Err::<(), _>(error()) }));
    TestServer::serve(stack(router), Duration::from_secs(1)).await
}

/// An error, the status it must produce, and its `code`.
type Case = (fn() -> AppError, u16, &'static str);

#[tokio::test]
async fn each_app_error_maps_to_its_status_and_code() {
    let cases: [Case; 10] = [
        (
            || AppError::BadRequest("bad cursor".into()),
            400,
            "bad_request",
        ),
        (
            || AppError::Unauthorized("missing token".into()),
            401,
            "unauthorized",
        ),
        (
            || AppError::Forbidden("admins only".into()),
            403,
            "forbidden",
        ),
        (
            || AppError::NotFound("no such task".into()),
            404,
            "not_found",
        ),
        (|| AppError::Conflict("email taken".into()), 409, "conflict"),
        (
            || AppError::Validation(vec![FieldError::new("title", "must not be empty")]),
            422,
            "validation_failed",
        ),
        (
            || AppError::Unprocessable("the task is already done".into()),
            422,
            "validation_failed",
        ),
        (
            || AppError::TooManyRequests {
                retry_after: Duration::from_millis(1500),
            },
            429,
            "rate_limited",
        ),
        (
            || AppError::Unavailable {
                detail: "the database is busy".into(),
                retry_after: Some(Duration::from_secs(1)),
            },
            503,
            "unavailable",
        ),
        (
            || AppError::Internal(anyhow::anyhow!("password=hunter2 in a secret cause")),
            500,
            "internal",
        ),
    ];
    for (error, status, code) in cases {
        let server = serve_error(error).await;
        let response = server.get("/fail").await;
        let headers = response.headers().clone();
        let body = assert_problem(response, status).await;
        assert_eq!(body["code"], code);
        match status {
            401 => assert_eq!(headers["www-authenticate"], "Bearer"),
            422 if body["detail"] == "one or more fields are invalid" => assert_eq!(
                body["errors"],
                serde_json::json!([{"field": "title", "message": "must not be empty"}])
            ),
            422 => {
                assert_eq!(body["detail"], "the task is already done");
                assert!(body.get("errors").is_none(), "{body}");
            }
            // 1.5 s rounds up: a client must never retry too early.
            429 => assert_eq!(headers["retry-after"], "2"),
            503 => {
                assert_eq!(headers["retry-after"], "1");
                assert_eq!(body["detail"], "the database is busy");
            }
            500 => {
                assert!(body.get("detail").is_none(), "{body}");
                assert!(!body.to_string().contains("hunter2"), "a 500 leaks nothing");
            }
            _ => assert!(body["detail"].is_string(), "{body}"),
        }
        server.shutdown().await.unwrap();
    }
}

#[tokio::test]
async fn a_panicking_handler_answers_500_problem_instead_of_dropping_the_connection() {
    async fn boom() -> &'static str {
        panic!("a bug with a secret: hunter2")
    }
    let server = TestServer::serve(
        stack(Router::new().route("/boom", get(boom))),
        Duration::from_secs(1),
    )
    .await;
    let body = assert_problem(server.get("/boom").await, 500).await;
    assert!(!body.to_string().contains("hunter2"));
    // The server survives the panic.
    assert_eq!(
        server.get("/boom").await.status(),
        500,
        "still serving after a panic"
    );
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn extractor_rejections_become_problem_bodies_with_their_reason() {
    async fn create(axum::Json(_): axum::Json<serde_json::Value>) -> &'static str {
        "created"
    }
    let server = TestServer::serve(
        stack(Router::new().route("/items", axum::routing::post(create))),
        Duration::from_secs(1),
    )
    .await;
    let no_content_type = server
        .client
        .post(server.url("/items"))
        .body("{}")
        .send()
        .await
        .unwrap();
    let body = assert_problem(no_content_type, 415).await;
    assert!(
        body["detail"].as_str().unwrap().contains("Content-Type"),
        "{body}"
    );

    let broken_json = server
        .client
        .post(server.url("/items"))
        .header("content-type", "application/json")
        .body("{\"title\":")
        .send()
        .await
        .unwrap();
    assert_problem(broken_json, 400).await;
    server.shutdown().await.unwrap();
}
