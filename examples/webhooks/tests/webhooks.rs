//! Webhooks over real HTTP. Outgoing: a receiver started in the test gets signed
//! deliveries, retried by the rules of the retry matrix, recorded, dead-lettered and replayed.
//! Incoming: verified, refused when tampered, foreign, stale or malformed, recorded once per
//! message id and processed once by the job worker.

mod common;

use std::{
    collections::VecDeque,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use axum::{
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode},
    response::IntoResponse,
    routing::post,
};
use common::{Session, TestEnv, TestServer, assert_problem, eventually};
use reqwest::Method;
use serde_json::{Value, json};
use tokio::net::TcpListener;

use task_svc::config::Config;
use task_svc::domain::webhook::MAX_SIGNATURES;
use task_svc::domain::webhook::WebhookSecret;
use task_svc::domain::webhook::verify;

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Received {
    id: String,
    timestamp: String,
    signature: String,
    body: String,
    at: Instant,
}

/// Statuses to answer with, in order, each with an optional `Retry-After`.
type Script = VecDeque<(u16, Option<&'static str>)>;

/// A webhook receiver on an ephemeral port: answers with the scripted statuses in order
/// (then 200), each optionally with a `Retry-After`, and keeps every request.
#[derive(Clone, Default)]
struct Receiver {
    script: Arc<Mutex<Script>>,
    received: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    async fn start(script: &[(u16, Option<&'static str>)]) -> (Self, String) {
        async fn receive(
            State(receiver): State<Receiver>,
            headers: HeaderMap,
            body: Bytes,
        ) -> impl IntoResponse {
            let header = |name: &str| {
                headers
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned()
            };
            receiver.received.lock().unwrap().push(Received {
                id: header("webhook-id"),
                timestamp: header("webhook-timestamp"),
                signature: header("webhook-signature"),
                body: String::from_utf8_lossy(&body).into_owned(),
                at: Instant::now(),
            });
            let (code, retry_after) = receiver
                .script
                .lock()
                .unwrap()
                .pop_front()
                .unwrap_or((200, None));
            let mut response = StatusCode::from_u16(code).unwrap().into_response();
            if let Some(seconds) = retry_after {
                response
                    .headers_mut()
                    .insert("retry-after", seconds.parse().unwrap());
            }
            response
        }
        let receiver = Self {
            script: Arc::new(Mutex::new(script.iter().copied().collect())),
            received: Arc::default(),
        };
        let router = axum::Router::new()
            .route("/hook", post(receive))
            .with_state(receiver.clone());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await });
        (receiver, url)
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

/// A server whose endpoints may be local http (as in development), with fast retries.
async fn outbound(extra: &[(&str, &str)]) -> (TestEnv, TestServer, Session) {
    let env = TestEnv::new().await;
    let mut vars = vec![
        ("WEBHOOK_ALLOW_INSECURE_URLS", "true"),
        ("JOBS_POLL_INTERVAL_MS", "50"),
        ("JOBS_BACKOFF_BASE_MS", "20"),
        ("JOBS_BACKOFF_MAX_MS", "100"),
        ("JOBS_MAX_ATTEMPTS", "4"),
        ("WEBHOOK_TIMEOUT_MS", "2000"),
    ];
    vars.extend_from_slice(extra);
    let config = env.config(&vars);
    let server = TestServer::start(&config).await;
    let ada = server.signed_in("ada@example.com").await;
    (env, server, ada)
}

async fn register(
    server: &TestServer,
    session: &Session,
    url: &str,
    types: Value,
) -> (String, WebhookSecret) {
    let response = server
        .post(
            "/webhooks",
            Some(&session.access),
            json!({ "url": url, "event_types": types }),
        )
        .await;
    assert_eq!(response.status(), 201);
    // The secret is in this answer: no cache may keep it.
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.unwrap();
    let secret = WebhookSecret::decode(body["secret"].as_str().unwrap()).unwrap();
    (body["id"].as_str().unwrap().to_owned(), secret)
}

async fn create_task(server: &TestServer, session: &Session, title: &str) -> Value {
    let response = server
        .post("/tasks", Some(&session.access), json!({ "title": title }))
        .await;
    assert_eq!(response.status(), 201);
    response.json().await.unwrap()
}

async fn deliveries(server: &TestServer, session: &Session, endpoint: &str) -> Value {
    server
        .call(
            Method::GET,
            &format!("/webhooks/{endpoint}/deliveries"),
            &session.access,
            None,
        )
        .await
        .json()
        .await
        .unwrap()
}

/// Waits (up to 15 s) until `check` holds.
async fn first_delivery_status(server: &TestServer, session: &Session, endpoint: &str) -> String {
    deliveries(server, session, endpoint).await["items"][0]["status"]
        .as_str()
        .unwrap_or("none")
        .to_owned()
}

#[tokio::test]
async fn a_delivery_is_signed_so_the_receiver_can_verify_it() {
    let (_env, server, ada) = outbound(&[]).await;
    let (receiver, url) = Receiver::start(&[]).await;
    let (endpoint, secret) = register(&server, &ada, &url, json!(["task.created"])).await;

    let task = create_task(&server, &ada, "Ship it").await;
    eventually("the delivery arrives", async || {
        receiver.received().len() == 1
    })
    .await;
    let got = receiver.received().remove(0);
    let now = chrono::Utc::now().timestamp();
    assert_eq!(
        verify(
            &secret,
            &got.id,
            &got.timestamp,
            &got.signature,
            got.body.as_bytes(),
            now,
            Duration::from_secs(300)
        ),
        Ok(()),
        "the receiver verifies our signature with the secret it was given"
    );
    let body: Value = serde_json::from_str(&got.body).unwrap();
    assert_eq!(body["type"], "task.created");
    assert_eq!(body["data"]["id"], task["id"]);
    assert_eq!(body["data"]["title"], "Ship it");
    eventually("the delivery is recorded", async || {
        first_delivery_status(&server, &ada, &endpoint).await == "delivered"
    })
    .await;
    let page = deliveries(&server, &ada, &endpoint).await;
    assert_eq!(
        page["items"][0]["id"],
        got.id.as_str(),
        "webhook-id is the delivery id"
    );
    assert_eq!(page["items"][0]["attempts"][0]["status_code"], 200);

    // Not subscribed to updates: a change delivers nothing more.
    let id = task["id"].as_str().unwrap();
    let patched = server
        .call(
            Method::PATCH,
            &format!("/tasks/{id}"),
            &ada.access,
            Some(json!({"title": "x", "version": 1})),
        )
        .await;
    assert_eq!(patched.status(), 200);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.received().len(), 1);
}

#[tokio::test]
async fn a_failing_receiver_gets_retries_with_the_same_webhook_id_until_it_answers_200() {
    let (_env, server, ada) = outbound(&[]).await;
    let (receiver, url) = Receiver::start(&[(500, None), (503, None)]).await;
    let (endpoint, _) = register(&server, &ada, &url, json!(["task.created"])).await;

    create_task(&server, &ada, "Retry me").await;
    eventually("delivered", async || {
        first_delivery_status(&server, &ada, &endpoint).await == "delivered"
    })
    .await;
    let got = receiver.received();
    assert_eq!(
        got.len(),
        3,
        "two failures, then one success: delivered once"
    );
    assert!(
        got.iter().all(|r| r.id == got[0].id),
        "one webhook-id for every attempt"
    );
    let page = deliveries(&server, &ada, &endpoint).await;
    let codes: Vec<i64> = page["items"][0]["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["status_code"].as_i64().unwrap())
        .collect();
    assert_eq!(codes, [500, 503, 200]);
    assert!(page["items"][0]["attempts"][0]["latency_ms"].is_i64());
}

#[tokio::test]
async fn retry_after_is_honoured_and_other_4xx_are_not_retried() {
    let (_env, server, ada) = outbound(&[]).await;
    let (receiver, url) = Receiver::start(&[(429, Some("1")), (200, None), (404, None)]).await;
    let (endpoint, _) = register(&server, &ada, &url, json!(["task.created"])).await;

    create_task(&server, &ada, "Slow down").await;
    eventually("delivered", async || receiver.received().len() == 2).await;
    let got = receiver.received();
    let waited = got[1].at - got[0].at;
    assert!(
        waited >= Duration::from_millis(950),
        "waited {waited:?}, not the 1 s asked"
    );

    // A 404 is final: one attempt, dead.
    create_task(&server, &ada, "Nobody home").await;
    eventually("dead", async || {
        first_delivery_status(&server, &ada, &endpoint).await == "dead"
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.received().len(), 3, "no retry after a 404");
}

#[tokio::test]
async fn a_receiver_down_past_the_last_attempt_leaves_a_dead_delivery_that_can_be_replayed() {
    let (_env, server, ada) = outbound(&[]).await;
    let (receiver, url) =
        Receiver::start(&[(500, None), (500, None), (500, None), (500, None)]).await;
    let (endpoint, _) =
        register(&server, &ada, &url, json!(["task.created", "task.deleted"])).await;

    create_task(&server, &ada, "Doomed").await;
    eventually("dead after 4 attempts", async || {
        first_delivery_status(&server, &ada, &endpoint).await == "dead"
    })
    .await;
    assert_eq!(receiver.received().len(), 4);
    let page = deliveries(&server, &ada, &endpoint).await;
    let delivery = page["items"][0]["id"].as_str().unwrap().to_owned();

    // The receiver is fixed; the owner replays the dead delivery.
    let replay = format!("/webhooks/{endpoint}/deliveries/{delivery}/replay");
    let replayed = server.call(Method::POST, &replay, &ada.access, None).await;
    assert_eq!(replayed.status(), 202);
    eventually("delivered on replay", async || {
        first_delivery_status(&server, &ada, &endpoint).await == "delivered"
    })
    .await;
    assert_eq!(
        receiver.received().last().unwrap().id,
        delivery,
        "same webhook-id"
    );
    assert_problem(
        server.call(Method::POST, &replay, &ada.access, None).await,
        409,
    )
    .await;
    let bob = server.signed_in("bob@example.com").await;
    assert_problem(
        server.call(Method::POST, &replay, &bob.access, None).await,
        404,
    )
    .await;
}

#[tokio::test]
async fn an_endpoint_that_keeps_failing_is_disabled_until_its_owner_enables_it() {
    let (_env, server, ada) = outbound(&[
        ("WEBHOOK_DISABLE_AFTER_FAILURES", "2"),
        ("JOBS_MAX_ATTEMPTS", "2"),
    ])
    .await;
    // Nothing listens here.
    let closed = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let url = format!("http://{closed}/hook");
    let (endpoint, _) = register(&server, &ada, &url, json!(["task.created"])).await;

    create_task(&server, &ada, "Unreachable").await;
    eventually("disabled", async || {
        let list: Value = server
            .call(Method::GET, "/webhooks", &ada.access, None)
            .await
            .json()
            .await
            .unwrap();
        list["items"][0]["enabled"] == false
    })
    .await;
    let list: Value = server
        .call(Method::GET, "/webhooks", &ada.access, None)
        .await
        .json()
        .await
        .unwrap();
    assert!(
        list["items"][0]["disabled_reason"]
            .as_str()
            .unwrap()
            .contains("2 failed attempts")
    );
    assert!(
        list["items"][0].get("secret").is_none(),
        "secrets are never listed"
    );

    let enabled = server
        .call(
            Method::POST,
            &format!("/webhooks/{endpoint}/enable"),
            &ada.access,
            None,
        )
        .await;
    assert_eq!(enabled.status(), 200);
    let enabled: Value = enabled.json().await.unwrap();
    assert_eq!(enabled["enabled"], true);
    assert_eq!(enabled["failure_streak"], 0);
}

/// A receiver that answers 200 after `delay`, counting the requests it holds at once.
#[derive(Clone, Default)]
struct SlowReceiver {
    /// Requests being held now, the most held at once, and answered so far.
    counts: Arc<Mutex<(usize, usize, usize)>>,
}

impl SlowReceiver {
    async fn start(delay: Duration) -> (Self, String) {
        let receiver = Self::default();
        let counts = receiver.counts.clone();
        let router = axum::Router::new().fallback(move || {
            let counts = counts.clone();
            async move {
                {
                    let mut c = counts.lock().unwrap();
                    c.0 += 1;
                    c.1 = c.1.max(c.0);
                }
                tokio::time::sleep(delay).await;
                let mut c = counts.lock().unwrap();
                c.0 -= 1;
                c.2 += 1;
                StatusCode::OK
            }
        });
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await });
        (receiver, url)
    }

    fn counts(&self) -> (usize, usize, usize) {
        *self.counts.lock().unwrap()
    }
}

#[tokio::test]
async fn one_accounts_slow_endpoints_hold_at_most_their_share_of_the_workers() {
    let (_env, server, ada) = outbound(&[
        ("JOBS_CONCURRENCY", "2"),
        ("JOBS_MAX_PER_LANE", "1"),
        ("WEBHOOK_TIMEOUT_MS", "5000"),
    ])
    .await;
    // Ada's three endpoints each take 2.5 s to answer: Bob's delivery has that long to show
    // that it did not wait for them.
    let (slow, base) = SlowReceiver::start(Duration::from_millis(2500)).await;
    for path in ["a", "b", "c"] {
        register(
            &server,
            &ada,
            &format!("{base}/{path}"),
            json!(["task.created"]),
        )
        .await;
    }
    let bob = server.signed_in("bob@example.com").await;
    let (fast, fast_url) = Receiver::start(&[]).await;
    register(&server, &bob, &fast_url, json!(["task.created"])).await;

    create_task(&server, &ada, "Slow news").await;
    eventually("one of Ada's deliveries is being held", async || {
        slow.counts().0 == 1
    })
    .await;
    create_task(&server, &bob, "Fast news").await;
    // Bob's fan-out and delivery run on the worker Ada's lane leaves free: they do not wait
    // for her endpoints.
    eventually("Bob's delivery", async || fast.received().len() == 1).await;
    assert_eq!(slow.counts().2, 0, "Bob waited for one of Ada's endpoints");
    // Ada's deliveries all arrive, one at a time.
    eventually("Ada's three deliveries", async || slow.counts().2 == 3).await;
    assert_eq!(slow.counts().1, 1, "at most JOBS_MAX_PER_LANE at once");
}

#[tokio::test]
async fn during_a_secret_rotation_both_secrets_sign() {
    let (_env, server, ada) = outbound(&[]).await;
    let (receiver, url) = Receiver::start(&[]).await;
    let (endpoint, old) = register(&server, &ada, &url, json!(["task.created"])).await;
    let rotated = server
        .call(
            Method::POST,
            &format!("/webhooks/{endpoint}/rotate-secret"),
            &ada.access,
            None,
        )
        .await;
    assert_eq!(rotated.status(), 200);
    assert_eq!(rotated.headers()["cache-control"], "no-store");
    let rotated: Value = rotated.json().await.unwrap();
    let new = WebhookSecret::decode(rotated["secret"].as_str().unwrap()).unwrap();

    create_task(&server, &ada, "Rotate").await;
    eventually("delivered", async || receiver.received().len() == 1).await;
    let got = receiver.received().remove(0);
    assert_eq!(got.signature.split(' ').count(), 2);
    let now = chrono::Utc::now().timestamp();
    let window = Duration::from_secs(300);
    for secret in [&old, &new] {
        assert_eq!(
            verify(
                secret,
                &got.id,
                &got.timestamp,
                &got.signature,
                got.body.as_bytes(),
                now,
                window
            ),
            Ok(())
        );
    }

    // Once the overlap has ended, maintenance deletes the old secret: it no longer signs, so
    // it is not kept where a database leak could reveal it.
    let previous = async || -> Option<String> {
        sqlx::query_scalar("SELECT previous_secret FROM webhook_endpoints WHERE id = $1::uuid")
            .bind(&endpoint)
            .fetch_one(server.db())
            .await
            .unwrap()
    };
    let forget = async || {
        server
            .state()
            .webhooks
            .forget_expired_secrets()
            .await
            .unwrap()
    };
    assert_eq!(forget().await, 0);
    assert!(previous().await.is_some(), "kept during the overlap");
    sqlx::query("UPDATE webhook_endpoints SET previous_secret_until = now() - interval '1 second'")
        .execute(server.db())
        .await
        .unwrap();
    assert_eq!(forget().await, 1);
    assert_eq!(previous().await, None);
}

#[tokio::test]
async fn endpoints_must_be_public_https_and_belong_to_their_owner() {
    let env = TestEnv::new().await;
    let server = TestServer::start(&env.config(&[])).await;
    let ada = server.signed_in("ada@example.com").await;
    let bob = server.signed_in("bob@example.com").await;
    for url in [
        "http://hooks.example.com/in",
        "https://127.0.0.1/in",
        "https://10.0.0.8/in",
        "https://169.254.169.254/latest/meta-data",
        "https://localhost/in",
        "not a url",
    ] {
        let response = server
            .post(
                "/webhooks",
                Some(&ada.access),
                json!({ "url": url, "event_types": ["task.created"] }),
            )
            .await;
        let problem = assert_problem(response, 422).await;
        assert_eq!(problem["errors"][0]["field"], "url", "{url}: {problem}");
    }
    for body in [
        json!({ "url": "https://hooks.example.com/in", "event_types": [] }),
        json!({ "url": "https://hooks.example.com/in", "event_types": ["task.exploded"] }),
        json!({ "url": "https://hooks.example.com/in" }),
        json!({ "url": "https://hooks.example.com/in", "event_types": ["task.created"], "extra": 1 }),
    ] {
        assert_problem(server.post("/webhooks", Some(&ada.access), body).await, 422).await;
    }
    let (id, _) = register(
        &server,
        &ada,
        "https://hooks.example.com/in",
        json!(["task.done"]),
    )
    .await;
    // Others see nothing of it and cannot touch it.
    let theirs: Value = server
        .call(Method::GET, "/webhooks", &bob.access, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(theirs["items"], json!([]));
    for (method, path) in [
        (Method::DELETE, format!("/webhooks/{id}")),
        (Method::POST, format!("/webhooks/{id}/rotate-secret")),
        (Method::POST, format!("/webhooks/{id}/enable")),
        (Method::GET, format!("/webhooks/{id}/deliveries")),
    ] {
        assert_problem(server.call(method, &path, &bob.access, None).await, 404).await;
    }
    assert_problem(
        server
            .call(Method::DELETE, "/webhooks/not-a-uuid", &ada.access, None)
            .await,
        400,
    )
    .await;
    assert_problem(server.get("/webhooks").await, 401).await;
    let deleted = server
        .call(
            Method::DELETE,
            &format!("/webhooks/{id}"),
            &ada.access,
            None,
        )
        .await;
    assert_eq!(deleted.status(), 204);
    // The limit per account.
    let limited = env.config(&[("WEBHOOK_MAX_ENDPOINTS_PER_USER", "1")]);
    let small = TestServer::start(&limited).await;
    let cy = small.signed_in("cy@example.com").await;
    register(
        &small,
        &cy,
        "https://hooks.example.com/a",
        json!(["task.done"]),
    )
    .await;
    let over = small
        .post(
            "/webhooks",
            Some(&cy.access),
            json!({ "url": "https://hooks.example.com/b", "event_types": ["task.done"] }),
        )
        .await;
    assert_problem(over, 422).await;
}

/// The secret `billing` signs with (a fixed test value).
const BILLING_SECRET: &str = "whsec_dGVzdC1zZWNyZXQtZm9yLXRoZS1iaWxsaW5nLXNvdXJjZQ==";

async fn server() -> (TestEnv, TestServer) {
    let env = TestEnv::new().await;
    let secrets = format!("billing={BILLING_SECRET}");
    let config = env.config(&[
        ("WEBHOOK_INBOUND_SECRETS", secrets.as_str()),
        ("WEBHOOK_TOLERANCE_SECS", "300"),
        // The tests start the worker when they want the messages processed.
        ("JOBS_WORKER", "false"),
    ]);
    let server = TestServer::start(&config).await;
    (env, server)
}

/// Sends `body` as `source` would, signed with `secret` at `timestamp`.
async fn send(
    server: &TestServer,
    source: &str,
    id: &str,
    timestamp: i64,
    secret: &WebhookSecret,
    body: &str,
) -> reqwest::Response {
    let signature = secret.sign(id, timestamp, body.as_bytes());
    server
        .client
        .post(server.url(&format!("/webhooks/inbound/{source}")))
        .header("content-type", "application/json")
        .header("webhook-id", id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(body.to_owned())
        .send()
        .await
        .unwrap()
}

fn billing() -> WebhookSecret {
    WebhookSecret::decode(BILLING_SECRET).unwrap()
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

async fn stored(server: &TestServer) -> (i64, i64) {
    let messages: i64 = sqlx::query_scalar("SELECT count(*) FROM inbound_webhooks")
        .fetch_one(server.db())
        .await
        .unwrap();
    let jobs: i64 = sqlx::query_scalar("SELECT count(*) FROM jobs WHERE kind = 'inbound_webhook'")
        .fetch_one(server.db())
        .await
        .unwrap();
    (messages, jobs)
}

#[tokio::test]
async fn a_signed_webhook_is_recorded_and_processed_once_however_often_it_arrives() {
    let (env, server) = server().await;
    let body = r#"{"type":"invoice.paid","amount":4200}"#;

    let first = send(&server, "billing", "msg_1", now(), &billing(), body).await;
    assert_eq!(first.status(), 200);
    let receipt: Value = first.json().await.unwrap();
    assert_eq!(receipt, json!({ "id": "msg_1", "duplicate": false }));

    // The sender retries (its answer got lost): acknowledged, not processed again.
    let again = send(&server, "billing", "msg_1", now(), &billing(), body).await;
    assert_eq!(again.status(), 200);
    let receipt: Value = again.json().await.unwrap();
    assert_eq!(receipt["duplicate"], true);
    assert_eq!(stored(&server).await, (1, 1));

    let (_stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let config = env.config(&[]);
    server
        .state()
        .jobs
        .start_worker(server.job_runner(), &config.jobs, async move {
            let _ = stopped.await;
        });
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let status: String =
            sqlx::query_scalar("SELECT status FROM jobs WHERE kind = 'inbound_webhook'")
                .fetch_one(server.db())
                .await
                .unwrap();
        if status == "done" {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the message is processed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn tampered_foreign_stale_and_malformed_webhooks_are_refused_and_nothing_is_kept() {
    let (_env, server) = server().await;
    let body = r#"{"type":"invoice.paid"}"#;
    let t = now();

    // Tampered: signed for one body, sent with another.
    let signature = billing().sign("msg_t", t, body.as_bytes());
    let tampered = server
        .client
        .post(server.url("/webhooks/inbound/billing"))
        .header("webhook-id", "msg_t")
        .header("webhook-timestamp", t.to_string())
        .header("webhook-signature", signature)
        .body(r#"{"type":"invoice.refunded"}"#)
        .send()
        .await
        .unwrap();
    assert_problem(tampered, 401).await;
    // Signed with someone else's secret.
    let foreign = WebhookSecret::generate();
    let refused = assert_problem(
        send(&server, "billing", "msg_f", t, &foreign, body).await,
        401,
    )
    .await;
    // Replayed later than the tolerance window (300 s) allows, or dated in the future. A
    // minute past the window: the server's clock moves on while the test runs, and a loaded
    // machine must not bring a future timestamp back inside the window.
    assert_problem(
        send(&server, "billing", "msg_o", t - 360, &billing(), body).await,
        401,
    )
    .await;
    assert_problem(
        send(&server, "billing", "msg_n", t + 360, &billing(), body).await,
        401,
    )
    .await;
    // An unknown source gets the answer a known one gives a foreign signature: a stranger
    // cannot tell which sources exist.
    let unknown = assert_problem(
        send(&server, "shipping", "msg_u", t, &billing(), body).await,
        401,
    )
    .await;
    for field in ["code", "title", "detail"] {
        assert_eq!(unknown[field], refused[field], "{field}");
    }
    // A body that is not JSON, a missing header, a bad timestamp.
    assert_problem(
        send(&server, "billing", "msg_j", t, &billing(), "not json").await,
        400,
    )
    .await;
    let unsigned = server
        .client
        .post(server.url("/webhooks/inbound/billing"))
        .header("webhook-id", "msg_h")
        .header("webhook-timestamp", t.to_string())
        .body(body)
        .send()
        .await
        .unwrap();
    let problem = assert_problem(unsigned, 400).await;
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("webhook-signature"),
        "{problem}"
    );
    let badly_dated = server
        .client
        .post(server.url("/webhooks/inbound/billing"))
        .header("webhook-id", "msg_d")
        .header("webhook-timestamp", "yesterday")
        .header("webhook-signature", "v1,AAAA")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_problem(badly_dated, 400).await;

    assert_eq!(stored(&server).await, (0, 0), "nothing refused is kept");
}

#[tokio::test]
async fn a_signature_header_with_too_many_candidates_is_refused_without_checking_them() {
    let (_env, server) = server().await;
    let body = r#"{"type":"invoice.paid"}"#;
    let t = now();
    let valid = billing().sign("msg_c", t, body.as_bytes());
    let post = async |signatures: String| {
        server
            .client
            .post(server.url("/webhooks/inbound/billing"))
            .header("webhook-id", "msg_c")
            .header("webhook-timestamp", t.to_string())
            .header("webhook-signature", signatures)
            .body(body)
            .send()
            .await
            .unwrap()
    };
    // One candidate too many, the valid one among them: the header is refused whole (400).
    let nine = format!("{} {valid}", ["v1,AAAA"; MAX_SIGNATURES].join(" "));
    let problem = assert_problem(post(nine).await, 400).await;
    assert!(
        problem["detail"].as_str().unwrap().contains("8 signatures"),
        "{problem}"
    );
    // Thousands of empty candidates with a large body: the same 400, at once.
    let flood = "v1, ".repeat(4_000);
    assert_problem(post(flood).await, 400).await;
    assert_eq!(stored(&server).await, (0, 0), "nothing refused is kept");
    // As many as allowed, the valid one last: received.
    let eight = format!("{} {valid}", ["v1,AAAA"; MAX_SIGNATURES - 1].join(" "));
    assert_eq!(post(eight).await.status(), 200);
    assert_eq!(stored(&server).await, (1, 1));
}

/// The tolerance window is how long a captured webhook can be replayed: bounded at start-up.
#[test]
fn the_webhook_tolerance_window_is_bounded() {
    let load = |tolerance: &str| {
        Config::from_lookup(|name| match name {
            "WEBHOOK_TOLERANCE_SECS" => Some(tolerance.to_owned()),
            "DATABASE_URL" => Some("postgres://unused@127.0.0.1:1/unused".to_owned()),
            "REDIS_URL" => Some("redis://127.0.0.1:1".to_owned()),
            _ => common::TEST_DEFAULTS
                .iter()
                .find(|(known, _)| *known == name)
                .map(|(_, value)| (*value).to_owned()),
        })
        .map_err(|err| err.to_string())
    };
    assert_eq!(load("600").unwrap().webhooks.tolerance.as_secs(), 600);
    let err = load("601").unwrap_err();
    assert!(
        err.contains("WEBHOOK_TOLERANCE_SECS must be at most 600"),
        "{err}"
    );
}
