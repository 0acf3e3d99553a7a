//! The whole router on in-memory ports (`Ports::in_memory`): the HTTP contract of accounts and
//! tasks (statuses, problem bodies, headers, and what a request leaves behind) checked in
//! milliseconds, with no database, no Redis and no socket. The Postgres adapters are tested
//! against a real database elsewhere (`tests/tasks.rs`, `tests/repositories.rs`); these tests
//! pin what the edge and the use cases promise whatever stores the data (day 8).

mod common;

use std::net::SocketAddr;

use axum::{
    Router,
    body::Body,
    extract::ConnectInfo,
    http::{HeaderMap, Request, StatusCode, header},
};
use serde_json::{Value, json};
use tower::ServiceExt;

use {{crate_name}}::app::memory::Memory;
use {{crate_name}}::app::tasks::TaskEventKind;
use {{crate_name}}::http::{self, AppState};
use {{crate_name}}::startup::ports::Ports;
use {{crate_name}}::startup::services;

// ANCHOR: harness
/// The service's router and services, on one in-memory store.
struct App {
    router: Router,
    state: AppState,
    memory: Memory,
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
}

impl App {
    // ANCHOR: app_new
    async fn new() -> Self {
        let config = common::offline_config(&[]);
        let memory = Memory::new();
        let ports = Ports::in_memory(&memory);
        let services = services::assemble(&config, ports).await.unwrap();
        let state = AppState::new(services, &config);
        Self {
            router: http::router(state.clone(), &config.http),
            state,
            memory,
        }
    }
    // ANCHOR_END: app_new

    /// One request through the router as the server would hand it over: with the peer's
    /// address, which the rate limits key on. A `Null` body sends none.
    async fn send(&self, method: &str, path: &str, token: Option<&str>, body: Value) -> Reply {
        self.send_with(method, path, token, body, &[]).await
    }

    async fn send_with(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Value,
        headers: &[(&str, &str)],
    ) -> Reply {
        let peer = ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 40_000)));
        let mut request = Request::builder().method(method).uri(path).extension(peer);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(token) = token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let body = if body.is_null() {
            Body::empty()
        } else {
            request = request.header(header::CONTENT_TYPE, "application/json");
            Body::from(body.to_string())
        };
        let response = self
            .router
            .clone()
            .oneshot(request.body(body).unwrap())
            .await
            .unwrap();
        let (status, headers) = (response.status(), response.headers().clone());
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            body,
        }
    }
    // ANCHOR_END: harness

    /// Registers `email` and logs in; returns the access token.
    async fn signed_in(&self, email: &str) -> String {
        let account = json!({
            "email": email,
            "display_name": "Test User",
            "password": common::PASSWORD,
        });
        let registered = self.send("POST", "/auth/register", None, account).await;
        assert_eq!(
            registered.status,
            StatusCode::CREATED,
            "{:?}",
            registered.body
        );
        let login = json!({ "email": email, "password": common::PASSWORD });
        let session = self.send("POST", "/auth/login", None, login).await;
        assert_eq!(session.status, StatusCode::OK, "{:?}", session.body);
        session.body["access_token"].as_str().unwrap().to_owned()
    }
}

/// A problem document (RFC 9457) with `status` and `code`.
fn assert_problem(reply: &Reply, status: StatusCode, code: &str) {
    assert_eq!(reply.status, status, "{:?}", reply.body);
    assert_eq!(
        reply.headers[header::CONTENT_TYPE],
        "application/problem+json"
    );
    assert_eq!(reply.body["status"], status.as_u16());
    assert_eq!(reply.body["code"], code, "{:?}", reply.body);
}

// ANCHOR: life
#[tokio::test]
async fn a_task_goes_through_its_life_without_a_database() {
    let app = App::new().await;
    let ada = app.signed_in("ada@example.com").await;
    let ada = Some(ada.as_str());

    let created = app
        .send("POST", "/tasks", ada, json!({ "title": " Ship it " }))
        .await;
    assert_eq!(created.status, StatusCode::CREATED);
    assert_eq!(created.body["title"], "Ship it", "trimmed");
    assert_eq!(created.body["version"], 1);
    let path = format!("/tasks/{}", created.body["id"].as_str().unwrap());

    let got = app.send("GET", &path, ada, Value::Null).await;
    assert_eq!((got.status, &got.body), (StatusCode::OK, &created.body));

    let patch = json!({ "status": "in_progress", "version": 1 });
    let patched = app.send("PATCH", &path, ada, patch.clone()).await;
    assert_eq!(patched.status, StatusCode::OK);
    assert_eq!(patched.body["version"], 2);
    // The same patch again carries a stale version: refused, and nothing changes.
    let stale = app.send("PATCH", &path, ada, patch).await;
    assert_problem(&stale, StatusCode::CONFLICT, "conflict");

    let done = app
        .send("POST", &format!("{path}/done"), ada, Value::Null)
        .await;
    assert_eq!(done.body["status"], "done");
    let deleted = app.send("DELETE", &path, ada, Value::Null).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let gone = app.send("GET", &path, ada, Value::Null).await;
    assert_problem(&gone, StatusCode::NOT_FOUND, "not_found");

    let kinds: Vec<TaskEventKind> = app.memory.task_events().iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [
            TaskEventKind::Created,
            TaskEventKind::Updated,
            TaskEventKind::Done,
            TaskEventKind::Deleted
        ],
        "one event per committed change, none for the refused patch"
    );
}
// ANCHOR_END: life

#[tokio::test]
async fn every_refusal_is_a_problem_document() {
    let app = App::new().await;
    let ada = app.signed_in("ada@example.com").await;

    let anonymous = app.send("GET", "/tasks", None, Value::Null).await;
    assert_problem(&anonymous, StatusCode::UNAUTHORIZED, "unauthorized");
    assert_eq!(anonymous.headers[header::WWW_AUTHENTICATE], "Bearer");

    let forged = app
        .send("GET", "/tasks", Some("not.a.jwt"), Value::Null)
        .await;
    assert_problem(&forged, StatusCode::UNAUTHORIZED, "unauthorized");

    let blank = json!({ "title": "   " });
    let invalid = app.send("POST", "/tasks", Some(&ada), blank).await;
    assert_problem(
        &invalid,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );
    assert_eq!(invalid.body["errors"][0]["field"], "title");

    let unknown = app.send("GET", "/nowhere", Some(&ada), Value::Null).await;
    assert_problem(&unknown, StatusCode::NOT_FOUND, "not_found");

    // Someone else's task is "no such task", exactly like a missing one.
    let task = app
        .send("POST", "/tasks", Some(&ada), json!({ "title": "Mine" }))
        .await;
    let path = format!("/tasks/{}", task.body["id"].as_str().unwrap());
    let eve = app.signed_in("eve@example.com").await;
    let probed = app.send("GET", &path, Some(&eve), Value::Null).await;
    assert_problem(&probed, StatusCode::NOT_FOUND, "not_found");
    assert_eq!(app.memory.task_events().len(), 1, "only ada's create");
}

#[tokio::test]
async fn registration_queues_one_welcome_email_and_failed_logins_are_audited() {
    let app = App::new().await;
    app.signed_in("ada@example.com").await;
    assert_eq!(app.memory.job_kinds(), ["welcome_email"]);

    let again = json!({
        "email": "ADA@example.com",
        "display_name": "Ada again",
        "password": common::PASSWORD,
    });
    // The address has an account: the same answer as for a new one, no second account, and
    // a notice to the owner instead of a welcome.
    let taken = app.send("POST", "/auth/register", None, again).await;
    assert_eq!(taken.status, StatusCode::CREATED);
    assert_eq!(
        app.memory.job_kinds(),
        ["welcome_email", "account_exists_email"]
    );

    let wrong = json!({ "email": "ada@example.com", "password": "not the password" });
    let refused = app.send("POST", "/auth/login", None, wrong).await;
    assert_problem(&refused, StatusCode::UNAUTHORIZED, "unauthorized");
    app.state.audit.flush().await;
    let kinds: Vec<&str> = app
        .memory
        .security_events()
        .iter()
        .map(|e| e.kind)
        .collect();
    assert!(kinds.contains(&"login_failed"), "{kinds:?}");
}

#[tokio::test]
async fn a_repeated_idempotency_key_returns_the_first_task() {
    let app = App::new().await;
    let ada = app.signed_in("ada@example.com").await;
    let body = json!({ "title": "Once" });
    let key = [("idempotency-key", "order-7")];
    let first = app
        .send_with("POST", "/tasks", Some(&ada), body.clone(), &key)
        .await;
    let again = app
        .send_with("POST", "/tasks", Some(&ada), body, &key)
        .await;
    assert_eq!(first.status, StatusCode::CREATED);
    assert!(again.status.is_success(), "{:?}", again.status);
    assert_eq!(
        again.body["id"], first.body["id"],
        "the same task, not a second one"
    );
    let listed = app.send("GET", "/tasks", Some(&ada), Value::Null).await;
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 1);
}
