//! The course's exercise checks: one or more tests per day, named `day_NN_...`, each failing on
//! a fresh render and passing once that day's exercise is done. They are ignored by a plain
//! `cargo nextest run` (your service does not owe the course anything), and run by
//! `just exercise N` (`cargo nextest run --test exercises --run-ignored only -E
//! 'test(/^day_NN_/)'`, see each chapter's "Exercise check") and `just progress`.
//!
//! They judge what the exercise asks for from the outside, so that they compile before you
//! have written a line: over HTTP against the real application, on the database, on files,
//! and by running the service's binary. An exercise that asks for a test of your own is
//! checked by running that test by name, in the chapter's command.

mod common;

use std::{
    process::{Command, Output},
    sync::{Arc, Mutex},
};

use axum::{Router, body::Body, http::Request, routing::get};
use common::{TestEnv, TestServer, assert_problem};
use reqwest::Method;
use serde_json::{Value, json};
use tower::ServiceExt;
use tracing_subscriber::{fmt::MakeWriter, layer::SubscriberExt};

use task_svc::http::layers;

/// The service's binary, as cargo built it for these tests.
fn binary() -> Command {
    Command::new(env!(concat!("CARGO_BIN_EXE_", env!("CARGO_PKG_NAME"))))
}

/// Runs the binary with `args` and exactly the environment `vars` (nothing inherited, and
/// started outside the service's directory, so no `.env` is read), and returns what it did.
fn run_binary(args: &[&str], vars: &[(&str, &str)]) -> Output {
    let mut command = binary();
    command
        .args(args)
        .env_clear()
        .current_dir(std::env::temp_dir());
    for (name, value) in vars {
        command.env(name, value);
    }
    command.output().expect("the binary runs")
}

/// The settings every start needs, pointing at servers that are not there: enough to load
/// the configuration, then fail at once on connecting.
fn unreachable_settings() -> Vec<(&'static str, &'static str)> {
    let mut vars = vec![
        ("DATABASE_URL", "postgres://app@127.0.0.1:1/app"),
        ("DATABASE_CONNECT_TIMEOUT_MS", "500"),
        ("REDIS_URL", "redis://127.0.0.1:1"),
        ("REDIS_TIMEOUT_MS", "300"),
    ];
    vars.extend_from_slice(&common::TEST_DEFAULTS[..2]);
    vars
}

/// The settings a command of the binary needs to reach this test environment's servers.
fn settings_of(env: &TestEnv) -> Vec<(&'static str, &str)> {
    let mut vars = vec![("DATABASE_URL", env.db.url.as_str())];
    vars.extend_from_slice(&common::TEST_DEFAULTS[..2]);
    vars
}

fn stderr_of(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The file at `path` of the service, or "" when it does not exist.
fn service_file(path: &str) -> String {
    std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path))
        .unwrap_or_default()
}

async fn json_of(response: reqwest::Response) -> Value {
    response.json().await.expect("a JSON body")
}

// --- Day 1: Axum hello-world, routes, JSON -------------------------------------------------

#[tokio::test]
#[ignore = "exercise"]
async fn day_01_version_answers_the_package_name_and_version() {
    let env = TestEnv::new().await;
    let server = TestServer::start(&env.config(&[])).await;
    let response = server.get("/version").await;
    assert_eq!(response.status(), 200, "GET /version");
    assert_eq!(
        json_of(response).await,
        json!({ "name": env!("CARGO_PKG_NAME"), "version": env!("CARGO_PKG_VERSION") })
    );
    let document: Value = serde_json::from_str(&service_file("openapi.json")).unwrap();
    assert!(
        document["paths"]["/version"]["get"].is_object(),
        "openapi.json documents GET /version (just openapi)"
    );
}

// --- Day 2: Extractors, validation, error mapping → HTTP -----------------------------------

#[tokio::test]
#[ignore = "exercise"]
async fn day_02_the_retired_v0_api_answers_410_gone() {
    let env = TestEnv::new().await;
    let server = TestServer::start(&env.config(&[])).await;
    for (method, path) in [
        (reqwest::Method::GET, "/v0/tasks"),
        (reqwest::Method::POST, "/v0/auth/login"),
        (reqwest::Method::DELETE, "/v0/tasks/1"),
    ] {
        let response = server
            .client
            .request(method.clone(), server.url(path))
            .send()
            .await
            .unwrap();
        let body = assert_problem(response, 410).await;
        assert_eq!(body["code"], "gone", "{method} {path}: {body}");
    }
    assert!(
        service_file("tests/errors.rs").contains("AppError::Gone"),
        "tests/errors.rs has a case for AppError::Gone"
    );
}

// --- Day 3: Middleware/Tower, request-id, tracing spans ------------------------------------

/// Log lines written into memory, for tests that read what the service logged.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl MakeWriter<'_> for Captured {
    type Writer = Captured;

    fn make_writer(&self) -> Captured {
        self.clone()
    }
}

/// The `span` of the `request finished` line of one request through the middleware stack,
/// logged as `LOG_FORMAT=json` logs it.
async fn finished_span(headers: &[(&str, String)]) -> Value {
    let logs = Captured::default();
    let subscriber = tracing_subscriber::registry().with(
        tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .with_writer(logs.clone()),
    );
    let _guard = tracing::subscriber::set_default(subscriber);
    let router = layers::apply(
        Router::new().route("/", get(|| async { "hi" })),
        &common::http_config(&[]),
    );
    let mut request = Request::get("/");
    for (name, value) in headers {
        request = request.header(*name, value.as_str());
    }
    let response = router
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    let line = text
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .find(|line| line["message"] == "request finished")
        .expect("a `request finished` line");
    line["span"].clone()
}

#[tokio::test]
#[ignore = "exercise"]
async fn day_03_the_request_span_carries_the_user_agent() {
    let span = finished_span(&[
        ("user-agent", "curl/8.5.0".into()),
        ("x-request-id", "day-03-ua".into()),
    ])
    .await;
    assert_eq!(span["user_agent.original"], "curl/8.5.0", "{span}");
    assert_eq!(
        span["request_id"], "day-03-ua",
        "on the same line as the id"
    );
    let long = finished_span(&[("user-agent", "a".repeat(300))]).await;
    assert_eq!(long["user_agent.original"], "a".repeat(200), "cut at 200");
    let absent = finished_span(&[]).await;
    assert_eq!(absent["user_agent.original"], "", "absent: empty");
}

// --- Day 4: State sharing: Arc, config, pools ----------------------------------------------

#[test]
#[ignore = "exercise"]
fn day_04_production_refuses_to_create_its_database() {
    let with = |extra: &[(&'static str, &'static str)]| {
        let mut vars = unreachable_settings();
        vars.extend_from_slice(extra);
        run_binary(&[], &vars)
    };
    // Production with the default DATABASE_CREATE_IF_MISSING=true: a configuration error
    // (exit 2) on one line naming both variables, reported with the other problems.
    let refused = with(&[("APP_ENVIRONMENT", "production"), ("LOG_FORMAT", "xml")]);
    let stderr = stderr_of(&refused);
    assert_eq!(refused.status.code(), Some(2), "{stderr}");
    assert!(
        stderr
            .lines()
            .any(|line| line.contains("APP_ENVIRONMENT")
                && line.contains("DATABASE_CREATE_IF_MISSING")),
        "{stderr}"
    );
    assert!(
        stderr.contains("LOG_FORMAT"),
        "every problem at once: {stderr}"
    );
    // An unknown environment is a configuration error naming the variable.
    let unknown = with(&[("APP_ENVIRONMENT", "qa")]);
    assert_eq!(unknown.status.code(), Some(2), "{}", stderr_of(&unknown));
    assert!(stderr_of(&unknown).contains("APP_ENVIRONMENT"));
    // Production that does not create its database loads, then fails on the absent server.
    let loads = with(&[
        ("APP_ENVIRONMENT", "production"),
        ("DATABASE_CREATE_IF_MISSING", "false"),
    ]);
    assert_eq!(loads.status.code(), Some(1), "{}", stderr_of(&loads));
    assert!(
        service_file(".env.example")
            .lines()
            .any(|line| line.starts_with("APP_ENVIRONMENT=")),
        ".env.example documents APP_ENVIRONMENT"
    );
}

// --- Day 5: Layers: domain / app / infra ---------------------------------------------------

#[tokio::test]
#[ignore = "exercise"]
async fn day_05_readiness_reports_a_schema_behind_the_build() {
    let env = TestEnv::new().await;
    let server = TestServer::start(&env.config(&[])).await;
    let ready = server.get("/readyz").await;
    assert_eq!(ready.status(), 200);
    let body = json_of(ready).await;
    assert_eq!(body["checks"]["schema"], "up", "{body}");

    // The newest migration "not applied": as after a deploy whose release step did not run.
    sqlx::query(
        "DELETE FROM _sqlx_migrations WHERE version = (SELECT max(version) FROM _sqlx_migrations)",
    )
    .execute(server.db())
    .await
    .unwrap();
    let behind = server.get("/readyz").await;
    assert_eq!(behind.status(), 503);
    let body = json_of(behind).await;
    assert_eq!(body["checks"]["postgres"], "up", "{body}");
    assert_eq!(body["checks"]["schema"], "down", "{body}");
    assert!(
        body["failing"]
            .as_array()
            .unwrap()
            .contains(&json!("schema"))
    );
    assert!(
        !service_file("src/infra/schema.rs").is_empty(),
        "the adapter lives in src/infra/schema.rs"
    );
}

// --- Day 6: CRUD #1 (User): DTO, service, handlers -----------------------------------------

#[tokio::test]
#[ignore = "exercise"]
async fn day_06_admins_read_one_account() {
    let env = TestEnv::new().await;
    let server = TestServer::start(&env.config(&[])).await;
    let admin = server.admin("admin@example.com").await;
    let ada = server.signed_in("ada@example.com").await;
    let me = json_of(server.call(Method::GET, "/me", &ada.access, None).await).await;
    let path = format!("/users/{}", me["id"].as_str().unwrap());

    let got = server.call(Method::GET, &path, &admin.access, None).await;
    assert_eq!(got.status(), 200, "GET {path} as an admin");
    let body = json_of(got).await;
    assert_eq!(body["id"], me["id"]);
    assert_eq!(body["email"], "ada@example.com");
    assert_eq!(body["role"], "user");
    assert_eq!(body["disabled"], false);
    assert!(body["created_at"].is_string() && body["updated_at"].is_string());
    assert!(!body.to_string().contains("argon2"), "no hash: {body}");

    let ghost = format!("/users/{}", uuid::Uuid::now_v7());
    let missing = server.call(Method::GET, &ghost, &admin.access, None).await;
    assert_eq!(assert_problem(missing, 404).await["code"], "not_found");
    let garbage = server
        .call(Method::GET, "/users/x", &admin.access, None)
        .await;
    assert_problem(garbage, 400).await;
    let forbidden = server.call(Method::GET, &path, &ada.access, None).await;
    assert_problem(forbidden, 403).await;
    assert_problem(server.get(&path).await, 401).await;
}

// --- Day 7: Error handling: thiserror, anyhow ------------------------------------------------

#[tokio::test]
#[ignore = "exercise"]
async fn day_07_a_failed_command_says_why_on_stderr() {
    let env = TestEnv::new().await;
    // Starting the service once creates and migrates the test database.
    TestServer::start(&env.config(&[]))
        .await
        .shutdown()
        .await
        .unwrap();
    let failed = run_binary(&["grant-admin", "nobody@example.com"], &settings_of(&env));
    let stderr = stderr_of(&failed);
    assert_eq!(failed.status.code(), Some(1), "{stderr}");
    let expected = "error: grant-admin nobody@example.com: no account has the email \
                    \"nobody@example.com\": register it first";
    assert!(
        stderr.lines().any(|line| line == expected),
        "stderr has no line `{expected}`:\n{stderr}"
    );
}

// --- Day 8: Integration tests: nextest + in-memory repos -------------------------------------

#[tokio::test]
#[ignore = "exercise"]
async fn day_08_the_task_summary_counts_the_callers_tasks_per_status() {
    let env = TestEnv::new().await;
    let server = TestServer::start(&env.config(&[])).await;
    let ada = server.signed_in("ada@example.com").await;
    let eve = server.signed_in("eve@example.com").await;
    let tasks = [
        (&ada, "todo"),
        (&ada, "in_progress"),
        (&ada, "done"),
        (&ada, "done"),
        (&eve, "todo"),
    ];
    for (session, status) in tasks {
        let task = json!({ "title": "Count me", "status": status });
        let created = server.post("/tasks", Some(&session.access), task).await;
        assert_eq!(created.status(), 201);
    }

    let summary = server
        .call(Method::GET, "/tasks/summary", &ada.access, None)
        .await;
    assert_eq!(summary.status(), 200, "GET /tasks/summary");
    let expected = json!({ "todo": 1, "in_progress": 1, "done": 2 });
    assert_eq!(json_of(summary).await, expected);
    let newcomer = server.signed_in("new@example.com").await;
    let empty = server
        .call(Method::GET, "/tasks/summary", &newcomer.access, None)
        .await;
    let zero = json!({ "todo": 0, "in_progress": 0, "done": 0 });
    assert_eq!(json_of(empty).await, zero);
    assert_problem(server.get("/tasks/summary").await, 401).await;
    assert!(
        service_file("openapi.json").contains("\"/tasks/summary\""),
        "openapi.json documents GET /tasks/summary (`just openapi`)"
    );
}

// --- Day 9: Refactor day -------------------------------------------------------------------

#[test]
#[ignore = "exercise"]
fn day_09_the_mail_error_mapping_lives_with_mail() {
    let jobs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/app/jobs");
    for file in std::fs::read_dir(&jobs).expect("src/app/jobs") {
        let path = file.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            !text.contains("MailError") && !text.contains("app::mail"),
            "{} still knows about mail",
            path.display()
        );
    }
    assert!(
        service_file("src/app/mail.rs").contains("impl From<MailError> for JobError"),
        "src/app/mail.rs holds `impl From<MailError> for JobError`"
    );
    let description = service_file("docs/pr/day-09.md");
    for section in ["Problem", "Change", "Contracts", "Review", "Cost"] {
        let heading = format!("## {section}\n");
        let start = description
            .find(&heading)
            .unwrap_or_else(|| panic!("docs/pr/day-09.md has no `## {section}`"));
        let body = &description[start + heading.len()..];
        let body = &body[..body.find("\n## ").unwrap_or(body.len())];
        assert!(
            body.trim().len() >= 40,
            "docs/pr/day-09.md: `## {section}` says too little"
        );
    }
}

// --- Day 10: Baseline bench, latency report ------------------------------------------------

#[tokio::test]
#[ignore = "exercise"]
async fn day_10_every_response_says_how_long_the_service_took() {
    let env = TestEnv::new().await;
    let server = TestServer::start(&env.config(&[])).await;
    for (path, status) in [("/healthz", 200), ("/no-such-route", 404)] {
        let response = server.get(path).await;
        assert_eq!(response.status(), status, "GET {path}");
        let timing = response
            .headers()
            .get("server-timing")
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let millis = timing
            .strip_prefix("app;dur=")
            .and_then(|dur| dur.parse::<f64>().ok());
        assert!(
            millis.is_some_and(|ms| (0.0..10_000.0).contains(&ms)),
            "GET {path}: server-timing {timing:?}, expected app;dur=<milliseconds>"
        );
    }
}

// --- Day 11: Postgres + SQLx + migrations --------------------------------------------------

/// `tasks.completed_at` of task `id`, read straight from the database.
async fn completed_at(server: &TestServer, id: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    let id: uuid::Uuid = id.parse().expect("a task id");
    sqlx::query_scalar("SELECT completed_at FROM tasks WHERE id = $1")
        .bind(id)
        .fetch_one(server.db())
        .await
        .expect("tasks.completed_at exists (migration 0111)")
}

#[tokio::test]
#[ignore = "exercise"]
async fn day_11_the_database_records_when_a_task_was_completed() {
    let env = TestEnv::new().await;
    let server = TestServer::start(&env.config(&[])).await;
    let ada = server.signed_in("ada@example.com").await;
    let token = Some(ada.access.as_str());
    let created = server
        .post("/tasks", token, json!({ "title": "Finish" }))
        .await;
    let id = json_of(created).await["id"].as_str().unwrap().to_owned();
    assert_eq!(completed_at(&server, &id).await, None, "a new task");

    let path = format!("/tasks/{id}");
    let done = server
        .call(Method::POST, &format!("{path}/done"), &ada.access, None)
        .await;
    let version = json_of(done).await["version"].as_i64().unwrap();
    let first = completed_at(&server, &id).await;
    assert!(first.is_some(), "set when the task becomes done");
    let renamed = json!({ "title": "Finished", "version": version });
    let renamed = server
        .call(Method::PATCH, &path, &ada.access, Some(renamed))
        .await;
    assert_eq!(renamed.status(), 200);
    assert_eq!(completed_at(&server, &id).await, first, "kept while done");
    let reopen = json!({ "status": "todo", "version": version + 1 });
    let reopened = server
        .call(Method::PATCH, &path, &ada.access, Some(reopen))
        .await;
    assert_eq!(reopened.status(), 200);
    assert_eq!(
        completed_at(&server, &id).await,
        None,
        "cleared on reopening"
    );

    let born_done = json!({ "title": "Already", "status": "done" });
    let created = server.post("/tasks", token, born_done).await;
    let id = json_of(created).await["id"].as_str().unwrap().to_owned();
    assert!(completed_at(&server, &id).await.is_some(), "inserted done");
    assert!(
        service_file("migrations/0111_task_completed_at.down.sql").contains("DROP"),
        "migrations/0111_task_completed_at.down.sql reverts it"
    );
}

// --- Day 12: CRUD tasks, N+1 review --------------------------------------------------------

#[tokio::test]
#[ignore = "exercise"]
async fn day_12_admins_see_each_accounts_task_count() {
    let env = TestEnv::new().await;
    let server = TestServer::start(&env.config(&[])).await;
    let admin = server.admin("admin@example.com").await;
    let ada = server.signed_in("ada@example.com").await;
    let eve = server.signed_in("eve@example.com").await;
    for (session, count) in [(&ada, 3), (&eve, 1)] {
        for n in 0..count {
            let task = json!({ "title": format!("task {n}") });
            let created = server.post("/tasks", Some(&session.access), task).await;
            assert_eq!(created.status(), 201);
        }
    }

    let page = server
        .call(
            Method::GET,
            "/users/task-counts?limit=20",
            &admin.access,
            None,
        )
        .await;
    assert_eq!(page.status(), 200, "GET /users/task-counts as an admin");
    let page = json_of(page).await;
    assert_eq!(
        (page["limit"].as_i64(), page["offset"].as_i64()),
        (Some(20), Some(0))
    );
    let counts: Vec<(String, i64)> = page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|item| {
            assert!(item["id"].is_string(), "{item}");
            let email = item["email"].as_str().unwrap_or_default().to_owned();
            (email, item["task_count"].as_i64().unwrap_or(-1))
        })
        .collect();
    let expected = [
        ("admin@example.com".to_owned(), 0),
        ("ada@example.com".to_owned(), 3),
        ("eve@example.com".to_owned(), 1),
    ];
    assert_eq!(counts, expected, "creation order, zeros included");
    let second = server
        .call(
            Method::GET,
            "/users/task-counts?limit=1&offset=1",
            &admin.access,
            None,
        )
        .await;
    let second = json_of(second).await;
    assert_eq!(second["items"][0]["email"], "ada@example.com");
    assert_eq!(second["items"].as_array().map(Vec::len), Some(1));
    let too_many = server
        .call(
            Method::GET,
            "/users/task-counts?limit=100000",
            &admin.access,
            None,
        )
        .await;
    assert_problem(too_many, 422).await;
    let forbidden = server
        .call(Method::GET, "/users/task-counts", &ada.access, None)
        .await;
    assert_problem(forbidden, 403).await;
    assert_problem(server.get("/users/task-counts").await, 401).await;
    assert!(
        service_file("openapi.json").contains("\"/users/task-counts\""),
        "openapi.json documents GET /users/task-counts (`just openapi`)"
    );
}

// --- Day 13: Models, From/Into/TryFrom -----------------------------------------------------

#[tokio::test]
#[ignore = "exercise"]
async fn day_13_tasks_have_a_priority_in_every_model() {
    let env = TestEnv::new().await;
    let server = TestServer::start(&env.config(&[])).await;
    let ada = server.signed_in("ada@example.com").await;
    let token = Some(ada.access.as_str());

    let plain = json_of(
        server
            .post("/tasks", token, json!({ "title": "Plain" }))
            .await,
    )
    .await;
    assert_eq!(plain["priority"], "normal", "absent means normal: {plain}");
    let high = json!({ "title": "Urgent", "priority": "high" });
    let created = server.post("/tasks", token, high).await;
    assert_eq!(created.status(), 201);
    let created = json_of(created).await;
    assert_eq!(created["priority"], "high", "{created}");
    let path = format!("/tasks/{}", created["id"].as_str().unwrap());
    let read = json_of(server.call(Method::GET, &path, &ada.access, None).await).await;
    assert_eq!(read["priority"], "high", "GET {path}: {read}");

    let patch = json!({ "priority": "low", "version": read["version"] });
    let patched = server
        .call(Method::PATCH, &path, &ada.access, Some(patch))
        .await;
    assert_eq!(patched.status(), 200, "PATCH {path} with a priority");
    let patched = json_of(patched).await;
    assert_eq!(patched["priority"], "low", "{patched}");
    let rename = json!({ "title": "Renamed", "version": patched["version"] });
    let renamed = server
        .call(Method::PATCH, &path, &ada.access, Some(rename))
        .await;
    assert_eq!(json_of(renamed).await["priority"], "low", "PATCH keeps it");
    let stored: String = sqlx::query_scalar("SELECT priority FROM tasks WHERE id = $1")
        .bind(
            created["id"]
                .as_str()
                .unwrap()
                .parse::<uuid::Uuid>()
                .unwrap(),
        )
        .fetch_one(server.db())
        .await
        .expect("tasks.priority exists (migration 0113)");
    assert_eq!(stored, "low");
    let listed = server.call(Method::GET, "/tasks", &ada.access, None).await;
    let listed = json_of(listed).await;
    assert!(
        listed["items"]
            .as_array()
            .expect("items")
            .iter()
            .all(|task| task["priority"].is_string()),
        "every task in the list has a priority: {listed}"
    );

    for body in [
        json!({ "title": "Bad", "priority": "urgent" }),
        json!({ "title": "Bad", "priority": "HIGH" }),
    ] {
        let response = server.post("/tasks", token, body.clone()).await;
        let status = response.status();
        let problem = json_of(response).await;
        assert_eq!(status, 422, "POST /tasks {body}: {problem}");
        let names_priority = problem["errors"]
            .as_array()
            .is_some_and(|errors| errors.iter().any(|e| e["field"] == "priority"));
        assert!(
            names_priority,
            "{body}: the errors name `priority`: {problem}"
        );
    }
    let refused = sqlx::query("UPDATE tasks SET priority = 'urgent' WHERE id = $1")
        .bind(
            created["id"]
                .as_str()
                .unwrap()
                .parse::<uuid::Uuid>()
                .unwrap(),
        )
        .execute(server.db())
        .await;
    assert!(
        refused.is_err_and(|err| err.to_string().contains("tasks_priority_check")),
        "the database refuses an unknown priority (constraint tasks_priority_check)"
    );
    let openapi = service_file("openapi.json");
    assert!(
        openapi.contains("\"priority\"") && openapi.contains("\"high\""),
        "openapi.json documents the priority and its values (`just openapi`)"
    );
}

// --- Day 14: Transactions, isolation, idempotency ------------------------------------------

#[tokio::test]
#[ignore = "exercise"]
async fn day_14_bulk_done_is_all_or_nothing_and_harmless_to_repeat() {
    let env = TestEnv::new().await;
    let server = TestServer::start(&env.config(&[])).await;
    let ada = server.signed_in("ada@example.com").await;
    let eve = server.signed_in("eve@example.com").await;
    let mut ids = Vec::new();
    for (session, title) in [(&ada, "one"), (&ada, "two"), (&eve, "not yours")] {
        let created = server
            .post("/tasks", Some(&session.access), json!({ "title": title }))
            .await;
        ids.push(json_of(created).await["id"].as_str().unwrap().to_owned());
    }
    // Read them once first: a service that caches tasks now holds the old state.
    for id in &ids[..2] {
        let path = format!("/tasks/{id}");
        let read = server.call(Method::GET, &path, &ada.access, None).await;
        assert_eq!(read.status(), 200);
    }

    let foreign = json!({ "ids": [&ids[0], &ids[1], &ids[2]] });
    let refused = server
        .call(Method::POST, "/tasks/bulk-done", &ada.access, Some(foreign))
        .await;
    assert_problem(refused, 404).await;
    for id in &ids[..2] {
        let path = format!("/tasks/{id}");
        let task = json_of(server.call(Method::GET, &path, &ada.access, None).await).await;
        assert_eq!(
            (task["status"].as_str(), task["version"].as_i64()),
            (Some("todo"), Some(1)),
            "after the 404 nothing changed: {task}"
        );
    }

    let mine = json!({ "ids": [&ids[1], &ids[0]] });
    let done = server
        .call(
            Method::POST,
            "/tasks/bulk-done",
            &ada.access,
            Some(mine.clone()),
        )
        .await;
    assert_eq!(
        done.status(),
        200,
        "POST /tasks/bulk-done with your own tasks"
    );
    let done = json_of(done).await;
    let items = done["items"].as_array().expect("items");
    let seen: Vec<_> = items
        .iter()
        .map(|t| {
            (
                t["id"].as_str(),
                t["status"].as_str(),
                t["version"].as_i64(),
            )
        })
        .collect();
    let expected = vec![
        (Some(ids[1].as_str()), Some("done"), Some(2)),
        (Some(ids[0].as_str()), Some("done"), Some(2)),
    ];
    assert_eq!(
        seen, expected,
        "in the order of the ids, done, one version on"
    );
    let again = server
        .call(Method::POST, "/tasks/bulk-done", &ada.access, Some(mine))
        .await;
    assert_eq!(again.status(), 200, "repeating it is harmless");
    let again = json_of(again).await;
    assert_eq!(
        again["items"][0]["version"], 2,
        "a done task does not move: {again}"
    );
    let path = format!("/tasks/{}", ids[0]);
    let read = json_of(server.call(Method::GET, &path, &ada.access, None).await).await;
    assert_eq!(
        read["status"], "done",
        "a read after the change sees it: {read}"
    );

    for body in [
        json!({ "ids": [] }),
        json!({ "ids": [&ids[0], &ids[0]] }),
        json!({ "ids": ["not-a-uuid"] }),
    ] {
        let response = server
            .call(Method::POST, "/tasks/bulk-done", &ada.access, Some(body))
            .await;
        assert_problem(response, 422).await;
    }
    let stranger = server
        .post("/tasks/bulk-done", None, json!({ "ids": [&ids[0]] }))
        .await;
    assert_problem(stranger, 401).await;
}

// --- Day 15: Axum + SQLx integration: pool & timeouts --------------------------------------

#[tokio::test]
#[ignore = "exercise"]
async fn day_15_the_pools_connection_lifetimes_are_configurable() {
    use std::time::Duration;
    let env = TestEnv::new().await;
    let lifetimes = [
        ("DATABASE_IDLE_TIMEOUT_MS", "30000"),
        ("DATABASE_MAX_LIFETIME_MS", "90000"),
    ];
    let server = TestServer::start(&env.config(&lifetimes)).await;
    let options = server.db().options();
    assert_eq!(
        (options.get_idle_timeout(), options.get_max_lifetime()),
        (Some(Duration::from_secs(30)), Some(Duration::from_secs(90))),
        "the pool's idle timeout and max lifetime, from the two variables"
    );
    server.shutdown().await.unwrap();

    for variable in ["DATABASE_IDLE_TIMEOUT_MS", "DATABASE_MAX_LIFETIME_MS"] {
        for value in ["0", "soon"] {
            // Servers that are not there: a render that ignores the variable fails to
            // connect instead of serving for good.
            let mut vars = unreachable_settings();
            vars.push((variable, value));
            let refused = run_binary(&["serve"], &vars);
            let stderr = stderr_of(&refused);
            assert!(
                !refused.status.success() && stderr.contains(variable),
                "{variable}={value} is refused at start-up, naming it:\n{stderr}"
            );
        }
    }
    let example = service_file(".env.example");
    for variable in ["DATABASE_IDLE_TIMEOUT_MS", "DATABASE_MAX_LIFETIME_MS"] {
        assert!(
            example.contains(variable),
            ".env.example documents {variable}"
        );
    }
}

// --- Day 16: Business logic, service tests -------------------------------------------------

#[tokio::test]
#[ignore = "exercise"]
async fn day_16_a_done_task_can_be_reopened() {
    let env = TestEnv::new().await;
    let server = TestServer::start(&env.config(&[])).await;
    let admin = server.admin("admin@example.com").await;
    let ada = server.signed_in("ada@example.com").await;
    let eve = server.signed_in("eve@example.com").await;
    let token = Some(ada.access.as_str());
    let created = json_of(
        server
            .post("/tasks", token, json!({ "title": "Again" }))
            .await,
    )
    .await;
    let path = format!("/tasks/{}", created["id"].as_str().unwrap());
    let reopen = format!("{path}/reopen");
    let done = server
        .call(Method::POST, &format!("{path}/done"), &ada.access, None)
        .await;
    let done = json_of(done).await;
    assert_eq!(done["status"], "done");

    let reopened = server.call(Method::POST, &reopen, &ada.access, None).await;
    assert_eq!(reopened.status(), 200, "POST {reopen} of a done task");
    let reopened = json_of(reopened).await;
    assert_eq!(reopened["status"], "todo", "{reopened}");
    assert_eq!(
        reopened["version"].as_i64(),
        done["version"].as_i64().map(|v| v + 1),
        "one version on"
    );
    let again = server.call(Method::POST, &reopen, &ada.access, None).await;
    assert_eq!(again.status(), 200, "reopening a todo task is harmless");
    let again = json_of(again).await;
    assert_eq!(
        (again["status"].as_str(), &again["version"]),
        (Some("todo"), &reopened["version"]),
        "unchanged: {again}"
    );

    let started = json!({ "title": "Busy", "status": "in_progress" });
    let started = json_of(server.post("/tasks", token, started).await).await;
    let busy = format!("/tasks/{}/reopen", started["id"].as_str().unwrap());
    let conflict = server.call(Method::POST, &busy, &ada.access, None).await;
    assert_problem(conflict, 409).await;

    let stranger = server.call(Method::POST, &reopen, &eve.access, None).await;
    assert_problem(stranger, 404).await;
    let ghost = format!("/tasks/{}/reopen", uuid::Uuid::now_v7());
    assert_problem(
        server.call(Method::POST, &ghost, &ada.access, None).await,
        404,
    )
    .await;
    assert_problem(
        server
            .call(Method::POST, "/tasks/x/reopen", &ada.access, None)
            .await,
        400,
    )
    .await;
    server
        .call(Method::POST, &format!("{path}/done"), &ada.access, None)
        .await;
    let by_admin = server
        .call(Method::POST, &reopen, &admin.access, None)
        .await;
    assert_eq!(by_admin.status(), 200, "an admin may reopen anyone's task");
    assert_eq!(json_of(by_admin).await["status"], "todo");
    assert!(
        service_file("openapi.json").contains("\"/tasks/{id}/reopen\""),
        "openapi.json documents POST /tasks//reopen (`just openapi`)"
    );
}

// --- Day 17: Relations & pagination --------------------------------------------------------

/// The titles of a page of `GET /tasks?{query}`, and its `next_cursor`.
async fn page_of(server: &TestServer, token: &str, query: &str) -> (Vec<String>, Option<String>) {
    let response = server
        .call(Method::GET, &format!("/tasks?{query}"), token, None)
        .await;
    assert_eq!(response.status(), 200, "GET /tasks?{query}");
    let page = json_of(response).await;
    let titles = page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|task| task["title"].as_str().unwrap_or_default().to_owned())
        .collect();
    (titles, page["next_cursor"].as_str().map(str::to_owned))
}

#[tokio::test]
#[ignore = "exercise"]
async fn day_17_tasks_sort_by_their_last_change() {
    let env = TestEnv::new().await;
    let server = TestServer::start(&env.config(&[])).await;
    let ada = server.signed_in("ada@example.com").await;
    let mut ids = Vec::new();
    for title in ["a", "b", "c"] {
        let created = server
            .post("/tasks", Some(&ada.access), json!({ "title": title }))
            .await;
        ids.push(json_of(created).await["id"].as_str().unwrap().to_owned());
    }
    let change = json!({ "description": "changed", "version": 1 });
    let path = format!("/tasks/{}", ids[0]);
    let patched = server
        .call(Method::PATCH, &path, &ada.access, Some(change))
        .await;
    assert_eq!(patched.status(), 200);

    let (first, cursor) = page_of(&server, &ada.access, "sort=updated_at&limit=2").await;
    assert_eq!(first, ["a", "c"], "most recently changed first");
    let cursor = cursor.expect("a next_cursor after the first page");
    // Cursors are URL-safe base64: they go into a query string as they are.
    let next = format!("sort=updated_at&limit=2&cursor={cursor}");
    let (second, last) = page_of(&server, &ada.access, &next).await;
    assert_eq!((second, last), (vec!["b".to_owned()], None));
    let (ascending, _) = page_of(
        &server,
        &ada.access,
        "sort=updated_at&direction=asc&limit=10",
    )
    .await;
    assert_eq!(ascending, ["b", "c", "a"]);
    let other_sort = format!("/tasks?sort=created_at&limit=2&cursor={cursor}");
    assert_problem(
        server
            .call(Method::GET, &other_sort, &ada.access, None)
            .await,
        400,
    )
    .await;

    let index: Option<String> = sqlx::query_scalar(
        "SELECT indexdef FROM pg_indexes WHERE indexname = 'tasks_owner_updated_idx'",
    )
    .fetch_optional(server.db())
    .await
    .unwrap();
    assert!(
        index
            .as_deref()
            .is_some_and(|def| def.ends_with("(owner_id, updated_at, id)")),
        "the index tasks_owner_updated_idx on tasks (owner_id, updated_at, id): {index:?}"
    );
    let openapi: Value = serde_json::from_str(&service_file("openapi.json")).unwrap_or_default();
    let sort = openapi["paths"]["/tasks"]["get"]["parameters"]
        .as_array()
        .and_then(|parameters| parameters.iter().find(|p| p["name"] == "sort"))
        .map(Value::to_string)
        .unwrap_or_default();
    assert!(
        sort.contains("\"updated_at\""),
        "openapi.json lists updated_at among the sort values (`just openapi`): {sort}"
    );
}

// --- Day 18: Indexes: B-tree, partial, composite, covering ---------------------------------

#[tokio::test]
#[ignore = "exercise"]
async fn day_18_an_accounts_refresh_tokens_are_found_by_index() {
    let env = TestEnv::new().await;
    let server = TestServer::start(&env.config(&[])).await;
    let index: Option<String> = sqlx::query_scalar(
        "SELECT indexdef FROM pg_indexes WHERE indexname = 'refresh_tokens_user_idx'",
    )
    .fetch_optional(server.db())
    .await
    .unwrap();
    assert!(
        index
            .as_deref()
            .is_some_and(|def| def.ends_with("(user_id)")),
        "the index refresh_tokens_user_idx on refresh_tokens (user_id), with no WHERE: {index:?}"
    );
    // What the cascade of an account's deletion runs, planned with sequential scans priced
    // out: only an index without a predicate can serve it.
    let mut tx = server.db().begin().await.unwrap();
    let plan: Vec<String> = sqlx::raw_sql(
        "SET LOCAL enable_seqscan = off;
         EXPLAIN DELETE FROM refresh_tokens
         WHERE user_id = '00000000-0000-7000-8000-000000000001'",
    )
    .fetch_all(&mut *tx)
    .await
    .unwrap()
    .iter()
    .filter_map(|row| sqlx::Row::try_get::<String, _>(row, 0).ok())
    .collect();
    tx.rollback().await.unwrap();
    let plan = plan.join("\n");
    assert!(
        plan.contains("refresh_tokens_user_idx"),
        "the cascade's delete uses refresh_tokens_user_idx:\n{plan}"
    );

    let notes = service_file("docs/indexes.md");
    let heading = notes
        .lines()
        .any(|line| line.starts_with('#') && line.contains("refresh_tokens_user_idx"));
    assert!(
        heading,
        "docs/indexes.md has a heading naming refresh_tokens_user_idx"
    );
    for line in [
        "Trigger for constraint refresh_tokens_user_id_fkey",
        "Execution Time",
    ] {
        assert!(
            notes.matches(line).count() >= 2,
            "docs/indexes.md holds both plans, before and after, each with `{line}`"
        );
    }
}

// --- Day 19: Integration tests with real DB ------------------------------------------------

#[tokio::test]
#[ignore = "exercise"]
async fn day_19_the_account_fixtures_load_as_described() {
    let env = TestEnv::new().await;
    let server = TestServer::start(&env.config(&[])).await;
    let fixtures = service_file("tests/fixtures/users.sql");
    assert!(!fixtures.is_empty(), "tests/fixtures/users.sql exists");
    let mut tx = server.db().begin().await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(fixtures))
        .execute(&mut *tx)
        .await
        .expect("tests/fixtures/users.sql loads on the migrated schema");
    let members: Vec<(uuid::Uuid, String, String, chrono::DateTime<chrono::Utc>)> = sqlx::query_as(
        "SELECT id, email, display_name, created_at FROM users
             WHERE email LIKE 'member%' ORDER BY created_at, id",
    )
    .fetch_all(&mut *tx)
    .await
    .unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(members.len(), 30, "30 member accounts");
    let start: chrono::DateTime<chrono::Utc> = "2030-01-01T09:00:00Z".parse().unwrap();
    for (n, (id, email, name, created_at)) in (1_i64..).zip(&members) {
        let expected = (
            format!("00000000-0000-7000-8000-0000000b{n:04}"),
            format!("member{n:02}@example.com"),
            format!("Member {n:02}"),
            start + chrono::Duration::minutes(n),
        );
        assert_eq!(
            (id.to_string(), email.clone(), name.clone(), *created_at),
            expected
        );
    }
}

// --- Day 20: Review + latency p50/p95 ------------------------------------------------------

#[test]
#[ignore = "exercise"]
fn day_20_the_benchmark_measures_the_list_by_status() {
    let bench = service_file("bench/bench.py");
    assert!(
        bench.contains("(\"list_by_status\", pager_auth")
            && bench.contains("/tasks?limit=20&status=done"),
        "bench/bench.py plans list_by_status: GET /tasks?limit=20&status=done as the pager"
    );
    assert!(
        service_file("bench/charts.py").contains("\"list_by_status\": \"GET /tasks?status=done\""),
        "bench/charts.py labels list_by_status"
    );
    let course = service_file("scripts/course.py");
    let scenarios = course
        .lines()
        .find(|line| line.starts_with("LATENCY_SCENARIOS"))
        .unwrap_or_default();
    assert!(
        scenarios.contains("\"list_by_status\""),
        "scripts/course.py holds list_by_status in LATENCY_SCENARIOS: {scenarios}"
    );
    let history = service_file("docs/benchmarks/history.jsonl");
    let own = history
        .lines()
        .rev()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .find(|run| run["origin"] != "kit")
        .expect("a run of this service recorded in docs/benchmarks/history.jsonl");
    let measured = &own["scenarios"]["list_by_status"];
    assert!(
        measured["p50_ms"].is_number() && measured["p95_ms"].is_number(),
        "the latest recorded run measured list_by_status: {}",
        own["label"]
    );
}
