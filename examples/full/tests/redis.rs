//! Redis in the service: the task cache, the shared login limit, live task events across
//! instances, and what happens while Redis is away (a proxy the test controls cuts it off).

mod common;

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use common::{PASSWORD, Session, TestEnv, TestServer, eventually};
use futures::StreamExt;
use reqwest::Method;
use serde_json::{Value, json};
use tokio::{net::TcpListener, task::JoinHandle};

use task_svc::app::limits::ACCOUNT_BUDGET_FACTOR;
use task_svc::app::task_feed::MAX_STREAMS_PER_OWNER;
use task_svc::config::Config;
use task_svc::infra::redis::Redis;
use task_svc::startup::Application;
use task_svc::startup::Backends;

/// A TCP proxy in front of the real Redis that the test can cut off and restore, as a
/// network failure or a Redis restart would.
struct RedisProxy {
    url: String,
    open: Arc<AtomicBool>,
    links: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl RedisProxy {
    async fn start(target_url: &str) -> Self {
        let target = target_url
            .trim_start_matches("redis://")
            .split(['/', '?'])
            .next()
            .unwrap()
            .to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("redis://{}", listener.local_addr().unwrap());
        let open = Arc::new(AtomicBool::new(true));
        let links: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let (accepting, tracked) = (open.clone(), links.clone());
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if !accepting.load(Ordering::SeqCst) {
                    continue; // dropped: the connection is closed at once
                }
                let target = target.clone();
                let link = tokio::spawn(async move {
                    if let Ok(mut server) = tokio::net::TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                tracked.lock().unwrap().push(link);
            }
        });
        Self { url, open, links }
    }

    /// Closes every open connection and refuses new ones.
    fn cut(&self) {
        self.open.store(false, Ordering::SeqCst);
        for link in self.links.lock().unwrap().drain(..) {
            link.abort();
        }
    }

    fn restore(&self) {
        self.open.store(true, Ordering::SeqCst);
    }
}

/// Waits (up to 15 s) until `check` holds.
async fn create_task(server: &TestServer, session: &Session, title: &str) -> Value {
    let response = server
        .post("/tasks", Some(&session.access), json!({ "title": title }))
        .await;
    assert_eq!(response.status(), 201);
    response.json().await.unwrap()
}

async fn get_task(server: &TestServer, session: &Session, id: &str) -> reqwest::Response {
    server
        .call(Method::GET, &format!("/tasks/{id}"), &session.access, None)
        .await
}

async fn title_of(server: &TestServer, session: &Session, id: &str) -> String {
    let response = get_task(server, session, id).await;
    assert_eq!(response.status(), 200);
    let task: Value = response.json().await.unwrap();
    task["title"].as_str().unwrap().to_owned()
}

async fn redis_client(env: &TestEnv) -> redis::aio::MultiplexedConnection {
    redis::Client::open(env.redis.url.as_str())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

/// An open `GET /tasks/events` stream, read event by event.
struct EventStream {
    chunks: futures::stream::BoxStream<'static, reqwest::Result<Vec<u8>>>,
    buffer: String,
}

impl EventStream {
    async fn open(server: &TestServer, session: &Session) -> Self {
        let response = server
            .call(Method::GET, "/tasks/events", &session.access, None)
            .await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "text/event-stream");
        Self {
            chunks: response
                .bytes_stream()
                .map(|chunk| chunk.map(|bytes| bytes.to_vec()))
                .boxed(),
            buffer: String::new(),
        }
    }

    /// The next event's name and data (keep-alive comments skipped); `None` when it ended.
    async fn next(&mut self) -> Option<(String, String)> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let mut name = String::new();
                let mut data = String::new();
                for line in block.lines() {
                    if let Some(value) = line.strip_prefix("event:") {
                        name = value.trim().to_owned();
                    } else if let Some(value) = line.strip_prefix("data:") {
                        data.push_str(value.trim());
                    }
                }
                if !name.is_empty() {
                    return Some((name, data));
                }
                continue;
            }
            let chunk = tokio::time::timeout(Duration::from_secs(10), self.chunks.next())
                .await
                .expect("an event within 10 s")?
                .ok()?;
            self.buffer.push_str(&String::from_utf8_lossy(&chunk));
        }
    }
}

#[tokio::test]
async fn readyz_reports_degraded_not_unavailable_when_redis_is_unreachable() {
    let env = TestEnv::new().await;
    let up = Backends::connect(&env.config(&[])).await.unwrap();
    let down = env.config(&[
        ("REDIS_URL", "redis://127.0.0.1:1"),
        ("REDIS_TIMEOUT_MS", "300"),
        ("JOBS_WORKER", "false"),
    ]);
    let backends = Backends {
        redis: Redis::connect_lazy(&down.redis).unwrap(),
        ..up
    };
    let app = Application::on(down, backends).await.unwrap();
    let server = TestServer::run(app).await;

    let response = server.get("/readyz").await;
    assert_eq!(response.status(), 200, "Redis is optional: still ready");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "degraded");
    assert_eq!(body["checks"]["postgres"], "up");
    assert_eq!(body["checks"]["redis"], "down");
    assert_eq!(body["failing"], json!(["redis"]));
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_service_starts_while_redis_is_down_and_reports_degraded() {
    let env = TestEnv::new().await;
    let config = env.config(&[
        ("REDIS_URL", "redis://127.0.0.1:1"),
        ("REDIS_TIMEOUT_MS", "300"),
    ]);
    // Started as `main` starts it: no hand-made lazy connection.
    let server = TestServer::start(&config).await;
    let ready = server.get("/readyz").await;
    assert_eq!(ready.status(), 200);
    let ready: Value = ready.json().await.unwrap();
    assert_eq!(ready["status"], "degraded");
    assert_eq!(ready["checks"]["redis"], "down");
    // And it serves.
    let ada = server.signed_in("ada@example.com").await;
    let created = create_task(&server, &ada, "Written without Redis").await;
    assert_eq!(created["title"], "Written without Redis");
}

#[tokio::test]
async fn a_task_is_served_from_the_cache_and_every_write_invalidates_it() {
    let env = TestEnv::new().await;
    let server = TestServer::start(&env.config(&[])).await;
    let ada = server.signed_in("ada@example.com").await;
    let task = create_task(&server, &ada, "Original").await;
    let id = task["id"].as_str().unwrap();

    assert_eq!(title_of(&server, &ada, id).await, "Original");
    let mut redis = redis_client(&env).await;
    let key = format!("{}task:{id}", env.redis.prefix);
    let ttl: i64 = redis::cmd("TTL")
        .arg(&key)
        .query_async(&mut redis)
        .await
        .unwrap();
    assert!(
        (1..=60).contains(&ttl),
        "cached with the configured TTL, got {ttl}"
    );

    // Changed behind the service's back: the cached copy is what GET serves (cache-aside).
    sqlx::query("UPDATE tasks SET title = 'Changed in psql' WHERE id = $1::uuid")
        .bind(id)
        .execute(server.db())
        .await
        .unwrap();
    assert_eq!(title_of(&server, &ada, id).await, "Original");

    // Every write through the service invalidates: no stale read after it.
    let patched = server
        .call(
            Method::PATCH,
            &format!("/tasks/{id}"),
            &ada.access,
            Some(json!({ "title": "Patched", "version": 1 })),
        )
        .await;
    assert_eq!(patched.status(), 200);
    assert_eq!(title_of(&server, &ada, id).await, "Patched");
    let done = server
        .call(
            Method::POST,
            &format!("/tasks/{id}/done"),
            &ada.access,
            None,
        )
        .await;
    assert_eq!(done.status(), 200);
    let task: Value = get_task(&server, &ada, id).await.json().await.unwrap();
    assert_eq!(task["status"], "done");
    let replaced = server
        .call(
            Method::PUT,
            &format!("/tasks/{id}"),
            &ada.access,
            Some(json!({ "title": "Replaced", "description": "", "status": "done", "due_at": null, "version": 3 })),
        )
        .await;
    assert_eq!(replaced.status(), 200);
    assert_eq!(title_of(&server, &ada, id).await, "Replaced");
    let deleted = server
        .call(Method::DELETE, &format!("/tasks/{id}"), &ada.access, None)
        .await;
    assert_eq!(deleted.status(), 204);
    assert_eq!(get_task(&server, &ada, id).await.status(), 404);

    let other = create_task(&server, &ada, "Bulk").await;
    let other_id = other["id"].as_str().unwrap();
    assert_eq!(title_of(&server, &ada, other_id).await, "Bulk");
    let bulk = server
        .post(
            "/tasks/bulk-delete",
            Some(&ada.access),
            json!({ "ids": [other_id] }),
        )
        .await;
    assert_eq!(bulk.status(), 204);
    assert_eq!(get_task(&server, &ada, other_id).await.status(), 404);
}

/// Two instances of the service on one Redis and one database.
async fn two_instances(env: &TestEnv, extra: &[(&str, &str)]) -> (Config, TestServer, TestServer) {
    let config = env.config(extra);
    let first = TestServer::start(&config).await;
    let second = TestServer::start(&config).await;
    (config, first, second)
}

#[tokio::test]
async fn the_login_limit_per_account_holds_across_instances() {
    let env = TestEnv::new().await;
    let limits = [
        ("AUTH_RATE_LIMIT_PER_MINUTE", "1"),
        ("AUTH_RATE_LIMIT_BURST", "1"),
        ("TRUSTED_PROXY_CIDRS", "127.0.0.1"),
    ];
    let (_, first, second) = two_instances(&env, &limits).await;
    // Registered on another instance's budget: register counts separately from login.
    assert_eq!(
        first.register("ada@example.com", PASSWORD).await.status(),
        201
    );

    // One guess from each of many addresses, spread over both instances: each instance alone
    // would allow the account's whole budget; together they allow it once.
    let budget = ACCOUNT_BUDGET_FACTOR.get();
    for n in 1..=budget {
        let instance = if n % 2 == 0 { &first } else { &second };
        let from = format!("192.0.2.{n}");
        assert_eq!(
            instance.login_from(&from, "ada@example.com", "wrong").await,
            401,
            "guess {n}"
        );
    }
    let limited = second
        .client
        .post(second.url("/auth/login"))
        .header("x-forwarded-for", "198.51.100.7")
        .json(&json!({ "email": "ada@example.com", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(limited.status(), 429);
    let wait: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    // Another account is not affected.
    assert_eq!(
        second.register("bob@example.com", PASSWORD).await.status(),
        201
    );
    assert_eq!(
        second
            .login_from("198.51.100.8", "bob@example.com", PASSWORD)
            .await,
        200
    );
}

#[tokio::test]
async fn task_events_reach_a_subscriber_on_another_instance() {
    let env = TestEnv::new().await;
    let (_, first, second) = two_instances(&env, &[]).await;
    let ada = first.signed_in("ada@example.com").await;
    let bob = first.signed_in("bob@example.com").await;
    let mut events = EventStream::open(&second, &ada).await;

    // Bob's task is none of Ada's business.
    create_task(&first, &bob, "Bob's").await;
    let task = create_task(&first, &ada, "Ada's").await;
    let id = task["id"].as_str().unwrap();
    let (name, data) = events.next().await.unwrap();
    assert_eq!(name, "created");
    let data: Value = serde_json::from_str(&data).unwrap();
    assert_eq!(data["task_id"], id);
    assert_eq!(data["task"]["title"], "Ada's");

    let patched = first
        .call(
            Method::PATCH,
            &format!("/tasks/{id}"),
            &ada.access,
            Some(json!({ "title": "Renamed", "version": 1 })),
        )
        .await;
    assert_eq!(patched.status(), 200);
    first
        .call(
            Method::POST,
            &format!("/tasks/{id}/done"),
            &ada.access,
            None,
        )
        .await;
    first
        .call(Method::DELETE, &format!("/tasks/{id}"), &ada.access, None)
        .await;
    let mut seen = Vec::new();
    for _ in 0..3 {
        let (name, data) = events.next().await.unwrap();
        let data: Value = serde_json::from_str(&data).unwrap();
        assert_eq!(data["task_id"], id);
        seen.push(name);
    }
    assert_eq!(seen, ["updated", "done", "deleted"]);

    let anonymous = second.get("/tasks/events").await;
    common::assert_problem(anonymous, 401).await;
}

#[tokio::test]
async fn the_service_keeps_serving_while_redis_is_away_and_recovers_by_itself() {
    let env = TestEnv::new().await;
    let proxy = RedisProxy::start(&env.redis.url).await;
    let config = env.config(&[
        ("REDIS_URL", proxy.url.as_str()),
        ("REDIS_TIMEOUT_MS", "300"),
        ("AUTH_RATE_LIMIT_PER_MINUTE", "100"),
        ("AUTH_RATE_LIMIT_BURST", "100"),
    ]);
    let server = TestServer::start(&config).await;
    let ada = server.signed_in("ada@example.com").await;
    let task = create_task(&server, &ada, "Before").await;
    let id = task["id"].as_str().unwrap().to_owned();
    assert_eq!(title_of(&server, &ada, &id).await, "Before"); // now cached
    let mut events = EventStream::open(&server, &ada).await;

    proxy.cut();

    // Open streams are told that events may be missed, and end.
    assert_eq!(events.next().await.unwrap().0, "unavailable");
    assert!(events.next().await.is_none(), "the stream ends");
    // Reads and writes go on from Postgres, and a write made now is never hidden by the
    // cached copy from before.
    let patched = server
        .call(
            Method::PATCH,
            &format!("/tasks/{id}"),
            &ada.access,
            Some(json!({ "title": "During", "version": 1 })),
        )
        .await;
    assert_eq!(patched.status(), 200);
    assert_eq!(title_of(&server, &ada, &id).await, "During");
    // Logins work on the in-memory limit.
    assert_eq!(
        server.login("ada@example.com", PASSWORD).await.status(),
        200
    );
    // Readiness says degraded (still 200), and live events say unavailable.
    let ready = server.get("/readyz").await;
    assert_eq!(ready.status(), 200);
    let ready: Value = ready.json().await.unwrap();
    assert_eq!(ready["status"], "degraded");
    assert_eq!(ready["checks"]["redis"], "down");
    let body = common::assert_problem(
        server
            .call(Method::GET, "/tasks/events", &ada.access, None)
            .await,
        503,
    )
    .await;
    assert!(
        body["detail"].as_str().unwrap().contains("unavailable"),
        "{body}"
    );

    proxy.restore();

    eventually("readiness recovers", async || {
        let ready: Value = server.get("/readyz").await.json().await.unwrap();
        ready["status"] == "ready"
    })
    .await;
    eventually("live events recover", async || {
        server
            .call(Method::GET, "/tasks/events", &ada.access, None)
            .await
            .status()
            == 200
    })
    .await;
    // The delete missed during the outage was made up for: no stale copy from before.
    assert_eq!(title_of(&server, &ada, &id).await, "During");
    let mut redis = redis_client(&env).await;
    let key = format!("{}task:{id}", env.redis.prefix);
    let cached: Option<String> = redis::cmd("GET")
        .arg(&key)
        .query_async(&mut redis)
        .await
        .unwrap();
    assert!(
        cached.is_some_and(|json| json.contains("During")),
        "the cache is in use again"
    );
    let mut events = EventStream::open(&server, &ada).await;
    create_task(&server, &ada, "After").await;
    assert_eq!(events.next().await.unwrap().0, "created");
}

#[tokio::test]
async fn a_stream_ends_when_its_session_is_revoked() {
    let env = TestEnv::new().await;
    let server = TestServer::start(&env.config(&[])).await;
    let ada = server.signed_in("ada@example.com").await;
    let mut events = EventStream::open(&server, &ada).await;
    let other_device = server.log_in("ada@example.com").await;
    let ended = server
        .call(Method::POST, "/auth/logout-all", &other_device.access, None)
        .await;
    assert_eq!(ended.status(), 204);
    // Within one re-check (5 s) the stream says why and ends.
    let (name, data) = events.next().await.expect("an event before the end");
    assert_eq!(name, "ended");
    assert!(data.contains("revoked"), "{data}");
    assert!(events.next().await.is_none(), "the stream ends");
}

#[tokio::test]
async fn a_stream_ends_when_its_token_expires_and_keeps_its_in_flight_place_until_then() {
    let env = TestEnv::new().await;
    let config = env.config(&[("JWT_ACCESS_TTL_SECS", "3"), ("HTTP_MAX_IN_FLIGHT", "1")]);
    let server = TestServer::start(&config).await;
    let ada = server.signed_in("ada@example.com").await;
    let mut events = EventStream::open(&server, &ada).await;
    // The open stream is the one request in flight: another is shed.
    let shed = server.call(Method::GET, "/tasks", &ada.access, None).await;
    common::assert_problem(shed, 503).await;
    let (name, data) = events.next().await.expect("an event before the end");
    assert_eq!(name, "ended");
    assert!(data.contains("expired"), "{data}");
    assert!(events.next().await.is_none(), "the stream ends");
    // Its place is free again.
    eventually("a request is admitted", async || {
        server.login("ada@example.com", PASSWORD).await.status() == 200
    })
    .await;
}

#[tokio::test]
async fn an_account_holds_at_most_five_streams() {
    let env = TestEnv::new().await;
    let server = TestServer::start(&env.config(&[])).await;
    let ada = server.signed_in("ada@example.com").await;
    let mut open = Vec::new();
    for _ in 0..MAX_STREAMS_PER_OWNER {
        open.push(EventStream::open(&server, &ada).await);
    }
    let sixth = server
        .call(Method::GET, "/tasks/events", &ada.access, None)
        .await;
    assert!(sixth.headers().contains_key("retry-after"));
    common::assert_problem(sixth, 429).await;
    // The cap is per account: Bob is not held back by Ada's streams.
    let bob = server.signed_in("bob@example.com").await;
    EventStream::open(&server, &bob).await;
    drop(open);
}

#[test]
fn a_key_prefix_that_redis_would_read_as_a_pattern_is_refused() {
    let vars: std::collections::HashMap<&str, &str> = common::TEST_DEFAULTS
        .iter()
        .copied()
        .chain([
            ("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/app"),
            ("REDIS_URL", "redis://127.0.0.1:6379"),
            ("REDIS_KEY_PREFIX", "svc*:"),
        ])
        .collect();
    let err = Config::from_lookup(|name| vars.get(name).map(|v| (*v).to_owned()))
        .expect_err("a glob character in the prefix is refused");
    assert!(err.to_string().contains("REDIS_KEY_PREFIX"), "{err}");
}
