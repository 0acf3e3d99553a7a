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
{%- if redis %}
#[path = "exercises/redis.rs"]
mod redis_exercises;
{%- endif %}
{%- if webhooks %}
#[path = "exercises/webhooks.rs"]
mod webhook_exercises;
{%- endif %}

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

use {{crate_name}}::{http::layers, telemetry};

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
{%- if redis %}
    vars.push(("REDIS_URL", env.redis.url.as_str()));
    vars.push(("REDIS_KEY_PREFIX", env.redis.prefix.as_str()));
{%- endif %}
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

/// Whether a problem's `errors` name `field`.
fn errors_name(problem: &Value, field: &str) -> bool {
    problem["errors"]
        .as_array()
        .is_some_and(|errors| errors.iter().any(|e| e["field"] == field))
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
        assert!(
            errors_name(&problem, "priority"),
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

/// The claims of a JWT, read without checking it.
fn claims_of(token: &str) -> Value {
    use base64::Engine as _;
    let payload = token.split('.').nth(1).expect("a JWT has three parts");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64url claims");
    serde_json::from_slice(&bytes).expect("JSON claims")
}

// --- Day 21: Passwords: argon2 + pepper ------------------------------------------------------

#[tokio::test]
#[ignore = "exercise"]
async fn day_21_common_passwords_are_refused() {
    let list = service_file("src/domain/common_passwords.txt");
    let entries: Vec<&str> = list
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .collect();
    assert!(
        entries.len() >= 20,
        "src/domain/common_passwords.txt lists at least twenty passwords, not {}",
        entries.len()
    );
    for entry in &entries {
        let chars = entry.chars().count();
        assert!(
            (12..=128).contains(&chars) && *entry == entry.to_lowercase(),
            "{entry:?}: each entry is 12 to 128 characters, in lowercase"
        );
    }
    let env = TestEnv::new().await;
    let server = TestServer::start(&env.config(&[])).await;
    let mut refused = vec![
        "Password1234".to_owned(),
        "123456789012".to_owned(),
        "zzzzzzzzzzzzzzzz".to_owned(),
        "éééééééééééé".to_owned(),
    ];
    refused.push(entries[entries.len() / 2].to_uppercase());
    refused.push(entries[entries.len() - 1].to_owned());
    for (n, password) in refused.iter().enumerate() {
        let response = server
            .register(&format!("common{n}@example.com"), password)
            .await;
        let problem = assert_problem(response, 422).await;
        assert!(
            errors_name(&problem, "password") && problem.to_string().contains("too common"),
            "{password:?} is refused as too common, naming `password`: {problem}"
        );
    }
    let kept = server.register("fine@example.com", common::PASSWORD).await;
    assert_eq!(kept.status(), 201, "an uncommon password is kept");
}

// --- Day 22: JWT: access/refresh, rotation, aud/iss/exp, skew ------------------------------

#[tokio::test]
#[ignore = "exercise"]
async fn day_22_access_tokens_carry_not_before() {
    let env = TestEnv::new().await;
    let server = TestServer::start(&env.config(&[])).await;
    let ada = server.signed_in("ada@example.com").await;
    let mut claims = claims_of(&ada.access);
    assert!(
        claims["nbf"].is_i64() && claims["nbf"] == claims["iat"],
        "an access token's nbf is its iat: {claims}"
    );
    let (_, secret) = common::TEST_DEFAULTS
        .iter()
        .find(|(name, _)| *name == "JWT_SECRET")
        .expect("the tests' JWT_SECRET");
    let now = chrono::Utc::now().timestamp();
    for (ahead, status) in [(600, 401), (10, 200)] {
        claims["nbf"] = json!(now + ahead);
        claims["jti"] = json!(uuid::Uuid::now_v7());
        let token = jsonwebtoken::encode(
            &jsonwebtoken::Header::default(),
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
        )
        .expect("signed");
        let me = server.call(Method::GET, "/me", &token, None).await;
        assert_eq!(
            me.status(),
            status,
            "a token valid from {ahead} s ahead (leeway 30 s)"
        );
    }
}

// --- Day 23: RBAC: roles + user context ------------------------------------------------------

#[tokio::test]
#[ignore = "exercise"]
async fn day_23_moderators_list_accounts_and_the_role_reverts() {
    let down = service_file("migrations/0123_moderator_role.down.sql");
    assert!(
        !service_file("migrations/0123_moderator_role.up.sql").is_empty() && !down.is_empty(),
        "migrations/0123_moderator_role.up.sql and .down.sql exist"
    );
    let env = TestEnv::new().await;
    let server = TestServer::start(&env.config(&[])).await;
    let admin = server.admin("admin@example.com").await;
    let mo = server.signed_in("mo@example.com").await;
    let ada = server.signed_in("ada@example.com").await;
    let id_of = async |token: &str| {
        let me = json_of(server.call(Method::GET, "/me", token, None).await).await;
        me["id"].as_str().expect("id").to_owned()
    };
    let (mo_id, ada_id) = (id_of(&mo.access).await, id_of(&ada.access).await);

    let promote = json!({ "role": "moderator" });
    let promoted = server
        .call(
            Method::PATCH,
            &format!("/users/{mo_id}"),
            &admin.access,
            Some(promote),
        )
        .await;
    assert_eq!(promoted.status(), 200, "an admin makes a moderator");
    assert_eq!(json_of(promoted).await["role"], "moderator");
    let listed = server.call(Method::GET, "/users", &mo.access, None).await;
    assert_eq!(listed.status(), 200, "a moderator lists the accounts");
    let ada_path = format!("/users/{ada_id}");
    let patch = json!({ "disabled": true });
    let changed = server
        .call(Method::PATCH, &ada_path, &mo.access, Some(patch))
        .await;
    assert_problem(changed, 403).await;
    let deleted = server
        .call(Method::DELETE, &ada_path, &mo.access, None)
        .await;
    assert_problem(deleted, 403).await;
    let plain = server.call(Method::GET, "/users", &ada.access, None).await;
    assert_problem(plain, 403).await;
    assert!(
        service_file("openapi.json").contains("\"moderator\""),
        "openapi.json lists the role (`just openapi`)"
    );

    let mut tx = server.db().begin().await.expect("a transaction");
    let refused = sqlx::query("UPDATE users SET role = 'owner' WHERE id = $1")
        .bind(ada_id.parse::<uuid::Uuid>().unwrap())
        .execute(&mut *tx)
        .await;
    assert!(
        refused.is_err_and(|err| err.to_string().contains("users_role_check")),
        "users_role_check still refuses an unknown role"
    );
    tx.rollback().await.expect("rolled back");
    let mut tx = server.db().begin().await.expect("a transaction");
    // The service's own migration file, read from its directory: no outside input.
    sqlx::raw_sql(sqlx::AssertSqlSafe(down))
        .execute(&mut *tx)
        .await
        .expect("the down script runs");
    let role: String = sqlx::query_scalar("SELECT role FROM users WHERE id = $1")
        .bind(mo_id.parse::<uuid::Uuid>().unwrap())
        .fetch_one(&mut *tx)
        .await
        .expect("the moderator's row");
    assert_eq!(role, "user", "the down script makes moderators users again");
    tx.rollback().await.expect("rolled back");
}

// --- Day 24: Input validation, XSS/SQLi defense ------------------------------------------------

#[tokio::test]
#[ignore = "exercise"]
async fn day_24_bidirectional_controls_are_refused() {
    let env = TestEnv::new().await;
    let server = TestServer::start(&env.config(&[])).await;
    let body = json!({
        "email": "mallory@example.com",
        "display_name": "invoice\u{202E}fdp.exe",
        "password": common::PASSWORD,
    });
    let registered = server.post("/auth/register", None, body).await;
    let problem = assert_problem(registered, 422).await;
    assert!(errors_name(&problem, "display_name"), "{problem}");
    let ada = server.signed_in("ada@example.com").await;
    let token = Some(ada.access.as_str());
    for control in ['\u{202A}', '\u{202E}', '\u{2066}', '\u{2069}'] {
        let title = format!("a{control}b");
        let created = server
            .post("/tasks", token, json!({ "title": title }))
            .await;
        let problem = assert_problem(created, 422).await;
        assert!(
            errors_name(&problem, "title") && problem.to_string().contains("bidirectional"),
            "U+{:04X} in a title: {problem}",
            u32::from(control)
        );
    }
    let joined = "👩\u{200D}💻 نامه\u{200C}ها";
    let created = server
        .post("/tasks", token, json!({ "title": joined }))
        .await;
    assert_eq!(created.status(), 201, "joiners are kept");
    assert_eq!(json_of(created).await["title"], joined);
}

// --- Day 25: Rate limiting (IP + account), backoff -------------------------------------------

#[tokio::test]
#[ignore = "exercise"]
async fn day_25_the_api_limit_tells_clients_their_budget() {
    let env = TestEnv::new().await;
    let config = env.config(&[
        ("RATE_LIMIT_PER_SECOND", "1"),
        ("RATE_LIMIT_BURST", "3"),
        ("CORS_ALLOWED_ORIGINS", "https://app.example.com"),
    ]);
    let server = TestServer::start(&config).await;
    let header = |response: &reqwest::Response, name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned)
    };
    for remaining in ["2", "1", "0"] {
        let response = server
            .client
            .get(server.url("/openapi.json"))
            .header("origin", "https://app.example.com")
            .send()
            .await
            .expect("request completes");
        assert_eq!(response.status(), 200);
        assert_eq!(header(&response, "x-ratelimit-limit").as_deref(), Some("3"));
        assert_eq!(
            header(&response, "x-ratelimit-remaining").as_deref(),
            Some(remaining)
        );
        let exposed = header(&response, "access-control-expose-headers")
            .unwrap_or_default()
            .to_lowercase();
        assert!(
            exposed.contains("x-ratelimit-limit") && exposed.contains("x-ratelimit-remaining"),
            "CORS exposes the budget to browser apps: {exposed:?}"
        );
    }
    let refused = server.get("/openapi.json").await;
    assert_eq!(refused.status(), 429);
    let after = header(&refused, "x-ratelimit-after").expect("x-ratelimit-after on a 429");
    assert!(after.parse::<u64>().is_ok(), "whole seconds: {after:?}");
    assert!(header(&refused, "retry-after").is_some());
    assert_problem(refused, 429).await;
    let probe = server.get("/healthz").await;
    assert_eq!(probe.status(), 200);
    assert!(
        header(&probe, "x-ratelimit-limit").is_none(),
        "the probes are outside the limit, so they carry no budget"
    );
}

// --- Day 26: CORS/CSRF, cookies/sessions -----------------------------------------------------

/// The `Set-Cookie` header of `response` for the cookie `name`.
fn set_cookie(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find(|value| value.starts_with(&format!("{name}=")))
        .map(str::to_owned)
}

/// The value of a `Set-Cookie` line (`name=value; ...`).
fn cookie_value(line: &str) -> String {
    let pair = line.split(';').next().unwrap_or_default();
    pair.split_once('=')
        .map_or("", |(_, value)| value)
        .to_owned()
}

#[tokio::test]
#[ignore = "exercise"]
async fn day_26_browser_sessions_keep_the_refresh_token_in_a_cookie() {
    let env = TestEnv::new().await;
    let config = env.config(&[("CORS_ALLOWED_ORIGINS", "https://app.example.com")]);
    let server = TestServer::start(&config).await;
    server.signed_in("ada@example.com").await;
    let plain = server.login("ada@example.com", common::PASSWORD).await;
    assert!(
        plain.headers().get("set-cookie").is_none(),
        "without the header, login sets no cookie"
    );
    assert!(json_of(plain).await["refresh_token"].is_string());

    let credentials = json!({ "email": "ada@example.com", "password": common::PASSWORD });
    let login = server
        .client
        .post(server.url("/auth/login"))
        .header("x-session-mode", "cookie")
        .json(&credentials)
        .send()
        .await
        .expect("request completes");
    assert_eq!(login.status(), 200, "cookie-mode login");
    let refresh = set_cookie(&login, "__Host-refresh").expect("a __Host-refresh cookie");
    let csrf = set_cookie(&login, "__Host-csrf").expect("a __Host-csrf cookie");
    for attribute in [
        "Path=/",
        "HttpOnly",
        "Secure",
        "SameSite=Strict",
        "Max-Age=",
    ] {
        assert!(refresh.contains(attribute), "{refresh}: {attribute}");
    }
    for attribute in ["Path=/", "Secure", "SameSite=Strict", "Max-Age="] {
        assert!(csrf.contains(attribute), "{csrf}: {attribute}");
    }
    assert!(!csrf.contains("HttpOnly"), "the app's script reads {csrf}");
    assert!(
        json_of(login).await["refresh_token"].is_null(),
        "no refresh token in a cookie-mode body"
    );
    let (refresh, csrf) = (cookie_value(&refresh), cookie_value(&csrf));
    assert!(csrf.len() >= 43, "32 random bytes, base64url: {csrf}");

    let cookies = format!("__Host-refresh={refresh}; __Host-csrf={csrf}");
    let send = async |csrf_header: Option<&str>| {
        let mut request = server
            .client
            .post(server.url("/auth/refresh"))
            .header("cookie", &cookies)
            .json(&json!({}));
        if let Some(value) = csrf_header {
            request = request.header("x-csrf-token", value);
        }
        request.send().await.expect("request completes")
    };
    for wrong in [None, Some("forged"), Some(&refresh[..])] {
        let problem = assert_problem(send(wrong).await, 403).await;
        assert_eq!(problem["code"], "forbidden", "X-CSRF-Token {wrong:?}");
    }
    let rotated = send(Some(&csrf)).await;
    assert_eq!(
        rotated.status(),
        200,
        "refresh from the cookie with its CSRF token"
    );
    let next = set_cookie(&rotated, "__Host-refresh").expect("a new refresh cookie");
    assert_ne!(cookie_value(&next), refresh, "the refresh token rotated");
    let next_csrf = set_cookie(&rotated, "__Host-csrf").expect("a new CSRF cookie");
    assert_ne!(cookie_value(&next_csrf), csrf, "a new CSRF token");
    let body = json_of(rotated).await;
    assert!(
        body["access_token"].is_string() && body["refresh_token"].is_null(),
        "{body}"
    );
    let nothing = server.post("/auth/refresh", None, json!({})).await;
    assert_problem(nothing, 401).await;

    let preflight = server
        .client
        .request(Method::OPTIONS, server.url("/auth/refresh"))
        .header("origin", "https://app.example.com")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "x-csrf-token,content-type",
        )
        .send()
        .await
        .expect("request completes");
    let allowed = |name: &str| {
        preflight
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_lowercase()
    };
    assert!(allowed("access-control-allow-headers").contains("x-csrf-token"));
    assert_eq!(allowed("access-control-allow-credentials"), "true");
}

// --- Day 27: Security logging & alerts -------------------------------------------------------

#[tokio::test]
#[ignore = "exercise"]
async fn day_27_admins_read_an_accounts_security_events() {
    let env = TestEnv::new().await;
    let server = TestServer::start(&env.config(&[])).await;
    let admin = server.admin("admin@example.com").await;
    let ada = server.signed_in("ada@example.com").await;
    let me = json_of(server.call(Method::GET, "/me", &ada.access, None).await).await;
    let path = format!("/users/{}/events", me["id"].as_str().unwrap());
    for _ in 0..55 {
        let failed = server.login("ada@example.com", "not the password").await;
        assert_eq!(failed.status(), 401);
    }
    let read = server.call(Method::GET, &path, &admin.access, None).await;
    assert_eq!(read.status(), 200, "GET {path} as an admin");
    let items = json_of(read).await["items"]
        .as_array()
        .expect("items")
        .clone();
    assert_eq!(items.len(), 50, "the 50 most recent events");
    for item in &items {
        for field in [
            "kind",
            "email",
            "client_ip",
            "request_id",
            "detail",
            "created_at",
        ] {
            assert!(item.get(field).is_some(), "{field} in {item}");
        }
    }
    assert_eq!(items[0]["kind"], "login_failed");
    let times: Vec<&str> = items
        .iter()
        .map(|item| item["created_at"].as_str().unwrap())
        .collect();
    let parsed: Vec<chrono::DateTime<chrono::Utc>> =
        times.iter().map(|t| t.parse().expect("RFC 3339")).collect();
    assert!(
        parsed.windows(2).all(|pair| pair[0] >= pair[1]),
        "newest first"
    );

    let ghost = format!("/users/{}/events", uuid::Uuid::now_v7());
    let empty = json_of(server.call(Method::GET, &ghost, &admin.access, None).await).await;
    assert_eq!(empty["items"], json!([]), "no events, an empty list");
    let garbage = server
        .call(Method::GET, "/users/x/events", &admin.access, None)
        .await;
    assert_problem(garbage, 400).await;
    let own = server.call(Method::GET, &path, &ada.access, None).await;
    assert_problem(own, 403).await;
    assert_problem(server.get(&path).await, 401).await;
}

// --- Day 28: Security checklist (12 pts) + tests ---------------------------------------------

#[tokio::test]
#[ignore = "exercise"]
async fn day_28_every_response_forbids_framing_referrers_and_caching() {
    let env = TestEnv::new().await;
    let server = TestServer::start(&env.config(&[])).await;
    let ada = server.signed_in("ada@example.com").await;
    let expected = [
        ("x-frame-options", "DENY"),
        ("referrer-policy", "no-referrer"),
        (
            "content-security-policy",
            "default-src 'none'; frame-ancestors 'none'",
        ),
        ("cache-control", "no-store"),
    ];
    let credentials = json!({ "email": "ada@example.com", "password": common::PASSWORD });
    let responses = [
        ("GET /healthz", server.get("/healthz").await),
        (
            "GET /me",
            server.call(Method::GET, "/me", &ada.access, None).await,
        ),
        ("GET /me without a token", server.get("/me").await),
        ("GET /nowhere", server.get("/nowhere").await),
        (
            "POST /auth/login",
            server.post("/auth/login", None, credentials).await,
        ),
    ];
    for (what, response) in &responses {
        for (name, value) in expected {
            let got = response.headers().get(name).and_then(|v| v.to_str().ok());
            assert_eq!(got, Some(value), "{what}: {name}");
        }
    }
    let docs = server.get("/docs").await;
    let policy = docs.headers().get("content-security-policy").cloned();
    assert!(
        policy.is_some_and(|p| p.to_str().unwrap_or_default().contains("script-src")),
        "/docs keeps its own policy"
    );
    let bundle = server.get("/docs/redoc.standalone.js").await;
    assert_eq!(
        bundle
            .headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok()),
        Some("public, max-age=86400"),
        "the Redoc bundle keeps its cache"
    );
    let course: Value =
        serde_json::from_str(&service_file("docs/course.json")).expect("docs/course.json");
    let point = course["security"]
        .as_array()
        .and_then(|points| points.iter().find(|p| p["point"] == 15))
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        point["tests"],
        json!(["security::security_headers_are_on_every_response"]),
        "docs/course.json holds point 15 with its test: {point}"
    );
}

// --- Day 29: Timeouts, cancellation, backpressure --------------------------------------------

#[tokio::test]
#[ignore = "exercise"]
async fn day_29_a_timed_out_request_says_when_to_retry() {
    use std::time::Duration;
    let slow = Router::new().route(
        "/slow",
        get(|| async {
            tokio::time::sleep(Duration::from_secs(5)).await;
            "too late"
        }),
    );
    let config = common::http_config(&[("HTTP_REQUEST_TIMEOUT_MS", "100")]);
    let response = layers::apply(slow, &config)
        .oneshot(Request::get("/slow").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(
        header("retry-after"),
        "1",
        "the timeout's 503 says when to retry"
    );
    assert_eq!(header("content-type"), "application/problem+json");
}

// --- Day 31: Dockerfile (multi-stage), docker-compose ----------------------------------------

/// The lines of the block under `key:` at `indent` spaces in a YAML file (up to the next
/// line indented as much or less; comments do not count), or none when there is no such key.
fn yaml_block<'a>(text: &'a str, key: &str, indent: usize) -> Vec<&'a str> {
    let head = format!("{}{key}:", " ".repeat(indent));
    let mut lines = text.lines().skip_while(|line| line.trim_end() != head);
    if lines.next().is_none() {
        return Vec::new();
    }
    lines
        .take_while(|line| {
            let text = line.trim_start();
            text.is_empty() || text.starts_with('#') || line.len() - text.len() > indent
        })
        .filter(|line| !line.trim_start().starts_with('#'))
        .collect()
}

#[test]
#[ignore = "exercise"]
fn day_31_compose_runs_the_release_step_before_the_app() {
    let compose = service_file("compose.yaml");
    let services = yaml_block(&compose, "services", 0).join("\n");
    let migrate = yaml_block(&services, "migrate", 2).join("\n");
    for setting in [
        "profiles: [\"app\"]",
        "build: .",
        "command: [\"migrate\"]",
        "DATABASE_URL",
        "condition: service_healthy",
    ] {
        assert!(
            migrate.contains(setting),
            "compose.yaml's `migrate` service has {setting}:\n{migrate}"
        );
    }
    let postgres = yaml_block(&migrate, "postgres", 6).join("\n");
    assert!(
        postgres.contains("service_healthy"),
        "migrate waits for a healthy postgres"
    );
    let app = yaml_block(&services, "app", 2).join("\n");
    let after = yaml_block(&app, "migrate", 6).join("\n");
    assert!(
        after.contains("condition: service_completed_successfully"),
        "the app starts once `migrate` has exited 0:\n{app}"
    );
    assert!(
        app.contains("DATABASE_MIGRATE: \"false\""),
        "the app never migrates by itself:\n{app}"
    );
}

// --- Day 32: Makefile / justfile --------------------------------------------------------------

#[test]
#[ignore = "exercise"]
fn day_32_check_config_reports_without_connecting() {
    let settings = unreachable_settings();
    let checked = run_binary(&["check-config"], &settings);
    let stdout = String::from_utf8_lossy(&checked.stdout).into_owned();
    assert!(
        checked.status.success() && stdout.contains("configuration ok"),
        "check-config with good settings and no servers: exit {:?}\n{stdout}{}",
        checked.status.code(),
        stderr_of(&checked)
    );
    let mut bad = settings.clone();
    bad.push(("DATABASE_MAX_CONNECTIONS", "many"));
    let refused = run_binary(&["check-config"], &bad);
    assert_eq!(refused.status.code(), Some(2), "{}", stderr_of(&refused));
    assert!(stderr_of(&refused).contains("DATABASE_MAX_CONNECTIONS"));
    let justfile = service_file("justfile");
    let recipe = justfile
        .split("\n\n")
        .find(|block| block.lines().any(|line| line.starts_with("check-config:")))
        .unwrap_or_default();
    assert!(
        recipe.contains("# Check .env and the environment without starting the service")
            && recipe.contains("cargo run --quiet -- check-config")
            && recipe.contains(".env.example"),
        "the justfile's check-config recipe, documented, creating .env first:\n{recipe}"
    );
}

// --- Day 33: GitHub Actions CI -----------------------------------------------------------------

#[test]
#[ignore = "exercise"]
fn day_33_ci_builds_the_image_with_its_layers_cached() {
    let workflow = service_file(".github/workflows/ci.yml");
    let jobs = yaml_block(&workflow, "jobs", 0).join("\n");
    let image = yaml_block(&jobs, "image", 2).join("\n");
    for setting in [
        "actions/checkout@",
        "docker/setup-buildx-action@v3",
        "docker/build-push-action@v6",
        "push: false",
        "cache-from: type=gha",
        "cache-to: type=gha,mode=max",
    ] {
        assert!(
            image.contains(setting),
            "the `image` job of .github/workflows/ci.yml has {setting}:\n{image}"
        );
    }
    assert!(
        !image.contains("services:"),
        "building the image needs no database"
    );
}

// --- Day 34: Deploy target (Fly.io/Render/DO/...) ----------------------------------------------

/// Runs `scripts/deploy.sh check` on a copy of the service's manifests, with `line` appended
/// to `file`, and returns its exit code and output.
fn deploy_check_with(file: &str, line: &str) -> (Option<i32>, String) {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let copy = std::env::temp_dir().join(format!("day-34-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&copy).unwrap();
    let status = Command::new("cp")
        .args(["-r", "deploy", "scripts", "Cargo.toml"])
        .arg(&copy)
        .current_dir(root)
        .status();
    assert!(status.is_ok_and(|s| s.success()), "copying the manifests");
    if !line.is_empty() {
        let path = copy.join(file);
        let mut text = std::fs::read_to_string(&path).expect("the manifest");
        text.push_str(line);
        std::fs::write(&path, text).unwrap();
    }
    let output = Command::new("bash")
        .args(["scripts/deploy.sh", "check"])
        .current_dir(&copy)
        .output()
        .expect("bash runs");
    let _ = std::fs::remove_dir_all(&copy);
    let text = String::from_utf8_lossy(&output.stdout).into_owned() + &stderr_of(&output);
    (output.status.code(), text)
}

#[test]
#[ignore = "exercise"]
fn day_34_deploy_check_refuses_a_secret_in_a_manifest() {
    let (code, text) = deploy_check_with("", "");
    assert_eq!(code, Some(0), "the manifests as they are pass:\n{text}");
    for (file, line, name) in [
        (
            "deploy/k8s/configmap.yaml",
            "  JWT_SECRET: \"leaked\"\n",
            "JWT_SECRET",
        ),
        (
            "deploy/fly.toml",
            "DATABASE_URL = \"postgres://x\"\n",
            "DATABASE_URL",
        ),
        (
            "deploy/k8s/configmap.yaml",
            "  PASSWORD_PEPPERS: 1=x\n",
            "PASSWORD_PEPPERS",
        ),
    ] {
        let (code, text) = deploy_check_with(file, line);
        assert_eq!(code, Some(2), "{file} with {line:?}:\n{text}");
        assert!(
            text.contains(&format!("FAIL {file}: holds the secret {name}")),
            "{file} with {line:?}:\n{text}"
        );
    }
    let (code, text) = deploy_check_with(
        "deploy/k8s/configmap.yaml",
        "  # JWT_SECRET: set in the platform\n",
    );
    assert_eq!(code, Some(0), "a comment is no secret:\n{text}");
}

// --- Day 35: Observability: OTel traces + metrics ---------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "exercise"]
async fn day_35_request_body_sizes_are_measured() {
    use opentelemetry_proto::tonic::metrics::v1::metric::Data;
    let mut receiver = common::OtlpReceiver::start().await;
    let env = TestEnv::new().await;
    let config = env.config(&[("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint.as_str())]);
    common::install_crypto_provider();
    let guard = telemetry::init(&config.telemetry).unwrap();
    let server = TestServer::start(&config).await;
    let ada = server.signed_in("ada@example.com").await;
    let created = server
        .post("/tasks", Some(&ada.access), json!({ "title": "measured" }))
        .await;
    assert_eq!(created.status(), 201);
    assert_eq!(server.get("/healthz").await.status(), 200);
    server.shutdown().await.unwrap();
    tokio::task::spawn_blocking(move || guard.shutdown())
        .await
        .unwrap();

    let metric = receiver
        .metrics()
        .into_iter()
        .flat_map(|batch| batch.resource_metrics)
        .flat_map(|resource| resource.scope_metrics)
        .flat_map(|scope| scope.metrics)
        .find(|metric| metric.name == "http.server.request.body.size")
        .expect("http.server.request.body.size is exported");
    assert_eq!(metric.unit, "By");
    let Some(Data::Histogram(histogram)) = metric.data else {
        panic!("http.server.request.body.size is a histogram");
    };
    let of = |route: &str| {
        histogram
            .data_points
            .iter()
            .filter(|point| {
                common::otlp_attr(&point.attributes, "http.route").as_deref() == Some(route)
            })
            .collect::<Vec<_>>()
    };
    let posted = of("/tasks");
    let point = posted
        .iter()
        .find(|point| {
            common::otlp_attr(&point.attributes, "http.request.method").as_deref() == Some("POST")
        })
        .expect("a data point for POST /tasks");
    assert_eq!(
        common::otlp_attr(&point.attributes, "http.response.status_code").as_deref(),
        Some("201")
    );
    assert!(point.count >= 1 && point.sum.is_some_and(|sum| sum > 0.0));
    assert!(
        point.explicit_bounds.len() > 1,
        "explicit bucket boundaries: {:?}",
        point.explicit_bounds
    );
    assert!(
        of("/healthz").is_empty(),
        "a request without a body records nothing"
    );
}

// --- Day 36: Production hardening ---------------------------------------------------------------

#[tokio::test]
#[ignore = "exercise"]
async fn day_36_a_draining_instance_closes_keep_alive_connections() {
    let env = TestEnv::new().await;
    let server = TestServer::start(&env.config(&[])).await;
    let connection = |response: &reqwest::Response| {
        response
            .headers()
            .get("connection")
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_lowercase()
    };
    let before = server.get("/healthz").await;
    assert_ne!(
        connection(&before),
        "close",
        "nothing changes before draining"
    );
    server.state().readiness.start_draining();
    for path in ["/healthz", "/openapi.json"] {
        let during = server.get(path).await;
        assert_eq!(connection(&during), "close", "GET {path} while draining");
    }
}

// --- Day 37: Domain/app/infra boundaries final -----------------------------------------------

/// The edges `from --> to` that `PARTS` of tests/architecture.rs allows between two parts.
fn allowed_edges(architecture: &str) -> std::collections::BTreeSet<(String, String)> {
    let mut edges = std::collections::BTreeSet::new();
    let start = architecture
        .find("const PARTS")
        .expect("PARTS in tests/architecture.rs");
    let parts = &architecture[start..];
    let parts = &parts[..parts.find("\n];").unwrap_or(parts.len())];
    for part in parts.split("Part {").skip(1) {
        let quoted = |key: &str| -> Vec<String> {
            let Some(at) = part.find(key) else {
                return Vec::new();
            };
            let rest = &part[at + key.len()..];
            let end = rest
                .find(']')
                .or_else(|| rest.find(','))
                .unwrap_or(rest.len());
            rest[..end]
                .split('"')
                .skip(1)
                .step_by(2)
                .map(|name| name.trim_end_matches(".rs").to_owned())
                .collect()
        };
        let Some(from) = quoted("path:").into_iter().next() else {
            continue;
        };
        for to in quoted("may_use:") {
            if to != from && from != "lib" && from != "main" {
                edges.insert((from.clone(), to));
            }
        }
    }
    edges
}

#[test]
#[ignore = "exercise"]
fn day_37_the_boundaries_diagram_is_the_rules() {
    let doc = service_file("docs/boundaries.md");
    let mermaid = doc
        .split("```mermaid")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("docs/boundaries.md has a ```mermaid block");
    assert!(mermaid.contains("flowchart TB"), "{mermaid}");
    let drawn: std::collections::BTreeSet<(String, String)> = mermaid
        .lines()
        .filter_map(|line| line.trim().split_once("-->"))
        .map(|(from, to)| (from.trim().to_owned(), to.trim().to_owned()))
        .collect();
    let allowed = allowed_edges(&service_file("tests/architecture.rs"));
    assert!(allowed.len() > 5, "PARTS read: {allowed:?}");
    assert_eq!(
        drawn, allowed,
        "the diagram draws exactly what PARTS allows"
    );
    let contracts = doc
        .split("## Contracts")
        .nth(1)
        .expect("a ## Contracts section");
    for port in [
        "TaskRepository",
        "UserRepository",
        "SessionRepository",
        "JobQueue",
        "Mailer",
    ] {
        assert!(
            contracts
                .lines()
                .any(|row| row.trim_start().starts_with(&format!("| `{port}`"))),
            "the contracts table has a row for `{port}`"
        );
    }
}

// --- Day 39: OpenAPI/Redoc, docs, examples ------------------------------------------------------

#[tokio::test]
#[ignore = "exercise"]
async fn day_39_the_documents_example_works() {
    let openapi: Value = serde_json::from_str(&service_file("openapi.json")).expect("openapi.json");
    let example = openapi["paths"]["/tasks"]["post"]["requestBody"]["content"]["application/json"]
        ["example"]
        .clone();
    for field in ["title", "description", "due_at"] {
        assert!(
            example[field].is_string(),
            "the example has a {field}: {example}"
        );
    }
    let env = TestEnv::new().await;
    let server = TestServer::start(&env.config(&[])).await;
    let ada = server.signed_in("ada@example.com").await;
    let created = server
        .post("/tasks", Some(&ada.access), example.clone())
        .await;
    assert_eq!(created.status(), 201, "the example as it is");
    assert_eq!(json_of(created).await["title"], example["title"]);

    let readme = service_file("README.md");
    let run = readme.find("\n## Run it").expect("README.md has ## Run it");
    let usage = readme
        .find("\n## Use the API")
        .expect("README.md has ## Use the API");
    assert!(usage > run, "## Use the API comes after ## Run it");
    let section = readme[usage + 1..]
        .split("\n## ")
        .next()
        .unwrap_or_default();
    for step in [
        "/auth/register",
        "/auth/login",
        "Authorization: Bearer",
        "/tasks",
    ] {
        assert!(
            section.contains("curl") && section.contains(step),
            "## Use the API has a curl command with {step}"
        );
    }
}

// --- Day 40: Production rehearsal: release, rollback, runbook ---------------------------------

#[test]
#[ignore = "exercise"]
fn day_40_release_0_2_0_follows_its_checklist() {
    let release = service_file("docs/release.md");
    let section = |name: &str| {
        release
            .split(&format!("\n## {name}\n"))
            .nth(1)
            .map(|rest| rest.split("\n## ").next().unwrap_or_default().to_owned())
            .unwrap_or_else(|| panic!("docs/release.md has a ## {name} section"))
    };
    assert!(section("Before").contains("just gate exit"));
    section("Release");
    section("After");
    assert!(section("Rollback").contains("runbook.md#rollback"));
    assert_eq!(env!("CARGO_PKG_VERSION"), "0.2.0", "Cargo.toml's version");
    let lock = service_file("Cargo.lock");
    let name = env!("CARGO_PKG_NAME");
    assert!(
        lock.contains(&format!("name = \"{name}\"\nversion = \"0.2.0\"")),
        "Cargo.lock records 0.2.0"
    );
    let openapi: Value = serde_json::from_str(&service_file("openapi.json")).unwrap();
    assert_eq!(openapi["info"]["version"], "0.2.0", "`just openapi`");
    assert!(service_file("deploy/k8s/kustomization.yaml").contains("newTag: \"0.2.0\""));
    assert!(service_file("deploy/k8s/migrate-job.yaml").contains(":0.2.0"));
    let changelog = service_file("CHANGELOG.md");
    assert!(changelog.contains("## [Unreleased]"), "CHANGELOG.md");
    let entry = changelog
        .lines()
        .find(|line| line.starts_with("## [0.2.0] - "))
        .expect("a ## [0.2.0] - YYYY-MM-DD section");
    let date = entry.trim_start_matches("## [0.2.0] - ");
    assert!(
        chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").is_ok(),
        "{entry}: a date"
    );
}
