//! The security audit log, inert storage of hostile strings, and secrets kept out of logs.

mod common;

use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
};

use common::{PASSWORD, TestEnv, TestServer, assert_problem};
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn logins_are_audited_with_request_id_and_client_ip() {
    let env = TestEnv::new().await;
    let server = TestServer::start(&env.config(&[])).await;
    server.signed_in("ada@example.com").await;
    let failed = server.login("ada@example.com", "wrong password!").await;
    let request_id = failed.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();

    server.state().audit.flush().await;
    let rows: Vec<(String, Option<String>, Option<String>)> =
        sqlx::query_as("SELECT kind, client_ip, request_id FROM security_events ORDER BY id")
            .fetch_all(server.db())
            .await
            .unwrap();
    let kinds: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(
        kinds,
        ["user_registered", "login_succeeded", "login_failed"]
    );
    for (_, ip, id) in &rows {
        assert_eq!(ip.as_deref(), Some("127.0.0.1"));
        assert!(id.is_some());
    }
    assert_eq!(rows[2].2.as_deref(), Some(request_id.as_str()));
}

#[tokio::test]
async fn a_burst_of_failed_logins_raises_one_spike_alert() {
    let env = TestEnv::new().await;
    let config = env.config(&[("AUDIT_LOGIN_FAILURE_ALERT_PER_MINUTE", "3")]);
    let server = TestServer::start(&config).await;
    for n in 0..5 {
        let response = server
            .login(&format!("victim{n}@example.com"), "guess!")
            .await;
        assert_eq!(response.status(), 401);
    }
    server.state().audit.flush().await;
    let detail: Vec<serde_json::Value> =
        sqlx::query_scalar("SELECT detail FROM security_events WHERE kind = 'login_failure_spike'")
            .fetch_all(server.db())
            .await
            .unwrap();
    assert_eq!(detail.len(), 1, "one alert per window");
    assert_eq!(detail[0]["failures"], 3);
    assert_eq!(detail[0]["threshold"], 3);
}

// ANCHOR: hostile_strings_test
/// SQL and script payloads are data: stored exactly, returned exactly as JSON, and the
/// tables are still there afterwards.
#[tokio::test]
async fn hostile_strings_are_stored_and_returned_inert() {
    let env = TestEnv::new().await;
    let server = TestServer::start(&env.config(&[])).await;
    let email = "o'brien+x@example.com";
    let name = "<script>alert(1)</script>'); DROP TABLE users; --";
    let registered = server
        .post(
            "/auth/register",
            None,
            json!({ "email": email, "display_name": name, "password": PASSWORD }),
        )
        .await;
    assert_eq!(registered.status(), 201);
    assert_eq!(registered.headers()["content-type"], "application/json");
    assert_eq!(registered.headers()["x-content-type-options"], "nosniff");
    let session = server.log_in(email).await;
    let me: serde_json::Value = server
        .call(Method::GET, "/me", &session.access, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["email"], email);
    assert_eq!(me["display_name"], name);
    // An injected `OR 1=1` is no email address at all; one shaped like an address finds
    // nobody; and the users table survived.
    assert_problem(server.login("' OR 1=1 --", PASSWORD).await, 422).await;
    let injected = server.login("x'--or'1'='1@example.com", PASSWORD).await;
    assert_eq!(injected.status(), 401);
    let users: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
        .fetch_one(server.db())
        .await
        .unwrap();
    assert_eq!(users, 1);
}
// ANCHOR_END: hostile_strings_test

/// The real binary at the most verbose log level: no password, token or hash in its output.
/// Then `grant-admin` promotes the account from the command line.
#[tokio::test]
async fn secrets_never_reach_the_logs_and_grant_admin_works() {
    let env = TestEnv::new().await;
    let binary = env!(concat!("CARGO_BIN_EXE_", env!("CARGO_PKG_NAME")));
    let base = |command: &mut Command| {
        command
            .env_clear()
            .envs(common::TEST_DEFAULTS.iter().copied())
            .env("DATABASE_URL", &env.db.url);
        command.env("REDIS_URL", &env.redis.url);
    };
    let mut serve = Command::new(binary);
    base(&mut serve);
    let mut child = serve
        .env("APP_ADDR", "127.0.0.1:0")
        .env("LOG_FORMAT", "json")
        .env("LOG_LEVEL", "trace")
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
    let output = std::thread::spawn(move || lines.map_while(Result::ok).collect::<Vec<_>>());

    let client = common::http_client().build().unwrap();
    let url = |path: &str| format!("http://{addr}{path}");
    let password = "a-Very-Distinctive-pass-phrase-42";
    let registered = client
        .post(url("/auth/register"))
        .json(&json!({ "email": "ada@example.com", "display_name": "Ada", "password": password }))
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status(), 201);
    let session: serde_json::Value = client
        .post(url("/auth/login"))
        .json(&json!({ "email": "ada@example.com", "password": password }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let access = session["access_token"].as_str().unwrap().to_owned();
    let refresh = session["refresh_token"].as_str().unwrap().to_owned();
    let me = client
        .get(url("/me"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);

    let promoted = {
        let mut grant = Command::new(binary);
        base(&mut grant);
        grant
            .args(["grant-admin", "ADA@example.com"])
            .output()
            .unwrap()
    };
    let said = String::from_utf8_lossy(&promoted.stdout);
    assert!(promoted.status.success(), "{said}");
    assert!(said.contains("is now an admin"), "{said}");
    let listed = client
        .get(url("/users"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(
        listed.status(),
        200,
        "the promotion applies to the live token"
    );

    let pid = child.id().to_string();
    Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    child.wait().unwrap();
    let logs = output.join().unwrap().join("\n");
    assert!(logs.contains("/auth/login"), "requests were logged at all");
    for secret in [password, &access, &refresh, "$argon2id$"] {
        assert!(!logs.contains(secret), "{secret} appeared in the logs");
    }
}
