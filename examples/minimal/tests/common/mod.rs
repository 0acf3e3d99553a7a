//! Shared test harness: real Postgres, real HTTP, the real router.
//!
//! Services come from `DATABASE_URL` when set, in the environment or in `.env`
//! (as for the service itself); otherwise from containers started with testcontainers, which
//! needs a Docker engine. Every test gets a database of its own, named `test_<uuid>`, which the application
//! creates itself (exercising `DATABASE_CREATE_IF_MISSING`) and the harness drops afterwards.

// Each test binary uses a different part of this module.
#![allow(dead_code)]

use std::{collections::HashMap, net::SocketAddr, path::Path, time::Duration};

use opentelemetry_proto::tonic::{
    collector::{metrics::v1::ExportMetricsServiceRequest, trace::v1::ExportTraceServiceRequest},
    common::v1::{KeyValue as OtlpKeyValue, any_value::Value as AnyValue},
};
use sqlx::PgPool;
use testcontainers_modules::{
    postgres::Postgres,
    testcontainers::{ContainerAsync, runners::AsyncRunner},
};
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};

use task_svc::app::jobs::JobRunner;
use task_svc::config::Config;
use task_svc::config::HttpConfig;
use task_svc::http::AppState;
use task_svc::http::server;
use task_svc::startup::Application;

/// A setting from the environment, else from the service's `.env`, which is read but not
/// loaded into the process environment (changing it while threads run is unsound).
pub fn setting(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .or_else(|| {
            let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(".env");
            dotenvy::from_path_iter(path)
                .ok()?
                .flatten()
                .find(|(key, _)| key == name)
                .map(|(_, value)| value)
        })
        .filter(|value| !value.trim().is_empty())
}

// ANCHOR: test_database
/// A database of its own for one test, dropped when this value is.
pub struct TestDatabase {
    /// The URL of the test's database, which may not exist yet.
    pub url: String,
    name: String,
    server_url: String,
    _container: Option<ContainerAsync<Postgres>>,
}

impl TestDatabase {
    pub async fn new() -> Self {
        let (server_url, container) = match setting("DATABASE_URL") {
            Some(url) => (url, None),
            None => {
                let container = Postgres::default()
                    .start()
                    .await
                    .expect("DATABASE_URL is unset and no Postgres container could start (is Docker running?)");
                let host = container.get_host().await.expect("container host");
                let port = container
                    .get_host_port_ipv4(5432)
                    .await
                    .expect("container port");
                let url = format!("postgres://postgres:postgres@{host}:{port}/postgres");
                (url, Some(container))
            }
        };
        let name = format!("test_{}", uuid::Uuid::new_v4().simple());
        Self {
            url: with_database(&server_url, &name),
            name,
            server_url,
            _container: container,
        }
    }
}
// ANCHOR_END: test_database

impl TestDatabase {
    /// The URL of another database, `name`, on the same server.
    pub fn sibling(&self, name: &str) -> String {
        with_database(&self.server_url, name)
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        // Drop is synchronous and we may be inside a runtime: use a thread with its own.
        let server_url = self.server_url.clone();
        let statement = format!(r#"DROP DATABASE IF EXISTS "{}" WITH (FORCE)"#, self.name);
        let outcome = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async {
                use sqlx::Connection;
                let mut conn = sqlx::PgConnection::connect(&server_url).await?;
                // The name is ours (`test_` + a UUID), never user input.
                sqlx::query(sqlx::AssertSqlSafe(statement))
                    .execute(&mut conn)
                    .await?;
                conn.close().await?;
                Ok::<_, anyhow::Error>(())
            })
        })
        .join();
        if !matches!(outcome, Ok(Ok(()))) {
            eprintln!("warning: could not drop test database {}", self.name);
        }
    }
}

/// `url` with its database name replaced by `name`, keeping any query string.
pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let base = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{base}/{name}?{query}"),
        None => format!("{base}/{name}"),
    }
}

/// Settings every test configuration starts from; `vars` given to [`config_from`] win.
/// Hashing is real Argon2id with lighter costs, and the limits are out of the way except in
/// the tests that are about them.
pub const TEST_DEFAULTS: &[(&str, &str)] = &[
    ("JWT_SECRET", "test-secret-test-secret-test-secret-0123"),
    ("PASSWORD_PEPPERS", "1=test-pepper-number-one"),
    ("PASSWORD_HASH_MEMORY_KIB", "8192"),
    ("PASSWORD_HASH_ITERATIONS", "1"),
    ("RATE_LIMIT_PER_SECOND", "10000"),
    ("RATE_LIMIT_BURST", "10000"),
    ("AUTH_RATE_LIMIT_PER_MINUTE", "10000"),
    ("AUTH_RATE_LIMIT_BURST", "10000"),
];

/// Configuration as the service would read it, from a map instead of the environment.
pub fn config_from(vars: &[(&str, &str)]) -> Config {
    let vars: HashMap<String, String> = TEST_DEFAULTS
        .iter()
        .chain(vars)
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    Config::from_lookup(|name| vars.get(name).cloned()).expect("test configuration is valid")
}

/// Configuration for tests that reach no database or Redis (the middleware stack alone, the
/// router on in-memory ports): the URLs are required settings, never contacted.
pub fn offline_config(extra: &[(&str, &str)]) -> Config {
    let mut vars = vec![
        // Required, so they must be set; nothing connects to them.
        ("DATABASE_URL", "postgres://unused@127.0.0.1:1/unused"),
    ];
    vars.extend_from_slice(extra);
    config_from(&vars)
}

/// HTTP settings for tests of the middleware stack alone.
pub fn http_config(extra: &[(&str, &str)]) -> HttpConfig {
    offline_config(extra).http
}

/// The backing services of one test, and the configuration that points at them.
pub struct TestEnv {
    pub db: TestDatabase,
}

impl TestEnv {
    pub async fn new() -> Self {
        // Before anything builds a TLS client (the webhook sender is built with the backends).
        install_crypto_provider();
        Self {
            db: TestDatabase::new().await,
        }
    }

    /// A configuration for this environment, with `extra` variables on top.
    pub fn config(&self, extra: &[(&str, &str)]) -> Config {
        let mut vars = vec![
            ("DATABASE_URL", self.db.url.as_str()),
            ("DATABASE_MAX_CONNECTIONS", "4"),
            ("APP_ADDR", "127.0.0.1:0"),
        ];
        vars.extend_from_slice(extra);
        config_from(&vars)
    }
}

/// The password test accounts use.
pub const PASSWORD: &str = "correct horse battery staple";

/// The tokens of a signed-in test user.
#[derive(Debug, Clone)]
pub struct Session {
    pub access: String,
    pub refresh: String,
}

/// The real application served over real HTTP on an ephemeral port.
pub struct TestServer {
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    app: Option<Running>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<anyhow::Result<()>>,
}

/// What a test may reach into of an application it started.
struct Running {
    state: AppState,
    db: PgPool,
    job_runner: JobRunner,
}

impl TestServer {
    /// Builds the application as `main` does (connecting, creating the database, running
    /// migrations) and runs it.
    pub async fn start(config: &Config) -> Self {
        install_crypto_provider();
        let app = Application::build(config.clone())
            .await
            .expect("the app connects to its services");
        Self::run(app).await
    }

    /// Runs an application the test built (with a mailer of its own, say), as `main` runs
    /// one: its job worker too, unless `JOBS_WORKER=false`.
    pub async fn run(app: Application) -> Self {
        install_crypto_provider();
        let addr = app.local_addr().expect("local addr");
        let running = Running {
            state: app.state().clone(),
            db: app.db().clone(),
            job_runner: app.job_runner(),
        };
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(app.run_until_stopped(async {
            let _ = stopped.await;
        }));
        Self {
            addr,
            client: test_client(),
            app: Some(running),
            stop: Some(stop),
            task,
        }
    }

    /// Serves any router; tests of the middleware and of shutdown pass their own.
    pub async fn serve(router: axum::Router, drain: Duration) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local addr");
        let (stop, stopped) = oneshot::channel::<()>();
        let serving = server::serve(
            listener,
            router,
            async {
                let _ = stopped.await;
            },
            drain,
        );
        let task = tokio::spawn(async move { Ok(serving.await?) });
        Self {
            addr,
            client: test_client(),
            app: None,
            stop: Some(stop),
            task,
        }
    }

    fn running(&self) -> &Running {
        self.app
            .as_ref()
            .expect("started with TestServer::start or run")
    }

    /// The application's state: its services, as handlers see them.
    pub fn state(&self) -> &AppState {
        &self.running().state
    }

    /// The application's pool, for looking at what it stored. Closed when it stops.
    pub fn db(&self) -> &PgPool {
        &self.running().db
    }

    /// What runs the application's jobs, for tests that run workers of their own.
    pub fn job_runner(&self) -> JobRunner {
        self.running().job_runner.clone()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request completes")
    }

    /// POSTs `body` as JSON, with a bearer token when given.
    pub async fn post(
        &self,
        path: &str,
        token: Option<&str>,
        body: serde_json::Value,
    ) -> reqwest::Response {
        let mut request = self.client.post(self.url(path)).json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.expect("request completes")
    }

    /// Sends `method path` with a bearer token and an optional JSON body.
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<serde_json::Value>,
    ) -> reqwest::Response {
        let mut request = self
            .client
            .request(method, self.url(path))
            .bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.expect("request completes")
    }

    pub async fn register(&self, email: &str, password: &str) -> reqwest::Response {
        self.post(
            "/auth/register",
            None,
            serde_json::json!({ "email": email, "display_name": "Test User", "password": password }),
        )
        .await
    }

    pub async fn login(&self, email: &str, password: &str) -> reqwest::Response {
        self.post(
            "/auth/login",
            None,
            serde_json::json!({ "email": email, "password": password }),
        )
        .await
    }

    /// A login from `client_ip`, as a trusted proxy on this host (`TRUSTED_PROXY_CIDRS=127.0.0.1`)
    /// reports it.
    pub async fn login_from(&self, client_ip: &str, email: &str, password: &str) -> u16 {
        self.client
            .post(self.url("/auth/login"))
            .header("x-forwarded-for", client_ip)
            .json(&serde_json::json!({ "email": email, "password": password }))
            .send()
            .await
            .expect("request completes")
            .status()
            .as_u16()
    }

    /// Registers `email` with [`PASSWORD`] and logs in.
    pub async fn signed_in(&self, email: &str) -> Session {
        let registered = self.register(email, PASSWORD).await;
        assert_eq!(registered.status(), 201, "register {email}");
        self.log_in(email).await
    }

    /// Logs in with [`PASSWORD`], which must succeed.
    pub async fn log_in(&self, email: &str) -> Session {
        let response = self.login(email, PASSWORD).await;
        assert_eq!(response.status(), 200, "login {email}");
        let body: serde_json::Value = response.json().await.expect("session JSON");
        Session {
            access: body["access_token"]
                .as_str()
                .expect("access_token")
                .to_owned(),
            refresh: body["refresh_token"]
                .as_str()
                .expect("refresh_token")
                .to_owned(),
        }
    }

    /// Registers `email` and makes it an admin, as `grant-admin` does, then logs in.
    pub async fn admin(&self, email: &str) -> Session {
        let registered = self.register(email, PASSWORD).await;
        assert_eq!(registered.status(), 201, "register {email}");
        self.state()
            .users
            .grant_admin(email)
            .await
            .expect("the account exists");
        self.log_in(email).await
    }

    /// Sends the shutdown signal and waits for the server (and, for an application, its
    /// worker and its pool) to stop.
    pub async fn shutdown(mut self) -> anyhow::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        (&mut self.task).await.expect("server task")
    }
}

/// A builder for the tests' HTTP clients, with the process's TLS crypto provider installed
/// first, as `main` installs it.
pub fn http_client() -> reqwest::ClientBuilder {
    install_crypto_provider();
    reqwest::Client::builder()
}

/// The TLS crypto provider `main` installs: tests that start telemetry or clients themselves
/// call this first.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

fn test_client() -> reqwest::Client {
    http_client()
        .no_gzip()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("http client")
}

/// Counts the SQL statements SQLx runs on this thread while it lives (SQLx reports each one as
/// a `sqlx::query` event). A `#[tokio::test]` runtime has one thread, so that is every
/// statement the server runs for the test's requests: the N+1 guard.
///
/// The counting layer is installed once as the global subscriber and counts only on threads
/// that hold a counter. (A thread-local subscriber would be simpler, but tracing caches each
/// call site's interest process-wide, and a test running at the same time on another thread
/// can make it skip the events: under `cargo test` the count would sometimes be 0.)
pub struct StatementCounter {
    count: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

thread_local! {
    static COUNTING: std::cell::RefCell<Option<std::sync::Arc<std::sync::atomic::AtomicUsize>>> =
        const { std::cell::RefCell::new(None) };
}

impl StatementCounter {
    pub fn start() -> Self {
        use tracing_subscriber::layer::SubscriberExt;
        static INSTALL: std::sync::Once = std::sync::Once::new();
        INSTALL.call_once(|| {
            tracing::subscriber::set_global_default(
                tracing_subscriber::registry().with(CountStatements),
            )
            .expect("no other global subscriber in this test binary");
        });
        let count = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        COUNTING.with(|counting| *counting.borrow_mut() = Some(count.clone()));
        Self { count }
    }

    pub fn count(&self) -> usize {
        self.count.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl Drop for StatementCounter {
    fn drop(&mut self) {
        COUNTING.with(|counting| counting.borrow_mut().take());
    }
}

// ANCHOR: count_statements
struct CountStatements;

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for CountStatements {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        if event.metadata().target() == "sqlx::query" {
            COUNTING.with(|counting| {
                if let Some(count) = counting.borrow().as_ref() {
                    count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                }
            });
        }
    }
}
// ANCHOR_END: count_statements

/// Asserts that `response` carries the one problem+json error body, and returns it.
pub async fn assert_problem(response: reqwest::Response, status: u16) -> serde_json::Value {
    assert_eq!(response.status().as_u16(), status, "status");
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert_eq!(content_type, "application/problem+json");
    let header_id = response
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .expect("every response carries x-request-id")
        .to_owned();
    let body: serde_json::Value = response.json().await.expect("problem body is JSON");
    assert_eq!(body["type"], "about:blank");
    assert_eq!(body["status"], status);
    assert!(body["title"].is_string(), "title: {body}");
    assert!(body["code"].is_string(), "code: {body}");
    assert_eq!(
        body["request_id"],
        header_id.as_str(),
        "request id in the body"
    );
    body
}

/// An OTLP/HTTP receiver on an ephemeral port, as a collector would be: it keeps what the
/// service exports to `/v1/traces` and `/v1/metrics`, decoded.
pub struct OtlpReceiver {
    /// The base URL to put in `OTEL_EXPORTER_OTLP_ENDPOINT`.
    pub endpoint: String,
    received: tokio::sync::mpsc::UnboundedReceiver<(String, axum::body::Bytes)>,
}

impl OtlpReceiver {
    pub async fn start() -> Self {
        use axum::{
            body::Bytes,
            extract::{Path, State},
            routing::post,
        };
        type Sender = tokio::sync::mpsc::UnboundedSender<(String, Bytes)>;
        async fn receive(State(sent): State<Sender>, Path(signal): Path<String>, body: Bytes) {
            let _ = sent.send((signal, body));
        }
        let (sent, received) = tokio::sync::mpsc::unbounded_channel();
        let router = axum::Router::new()
            .route("/v1/{signal}", post(receive))
            .with_state(sent);
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let endpoint = format!("http://{}", listener.local_addr().expect("local addr"));
        tokio::spawn(async move { axum::serve(listener, router).await });
        Self { endpoint, received }
    }

    /// Every export request received so far for `signal` (`traces` or `metrics`).
    fn drain<M: prost::Message + Default>(&mut self, signal: &str) -> Vec<M> {
        let mut decoded = Vec::new();
        while let Ok((sent_to, body)) = self.received.try_recv() {
            if sent_to == signal {
                decoded.push(M::decode(body).expect("a valid OTLP protobuf body"));
            }
        }
        decoded
    }

    pub fn traces(&mut self) -> Vec<ExportTraceServiceRequest> {
        self.drain("traces")
    }

    pub fn metrics(&mut self) -> Vec<ExportMetricsServiceRequest> {
        self.drain("metrics")
    }
}

/// The value of attribute `key` as a string (integers formatted), if present.
pub fn otlp_attr(attributes: &[OtlpKeyValue], key: &str) -> Option<String> {
    let value = attributes.iter().find(|kv| kv.key == key)?.value.as_ref()?;
    match value.value.as_ref()? {
        AnyValue::StringValue(s) => Some(s.clone()),
        AnyValue::IntValue(i) => Some(i.to_string()),
        _ => None,
    }
}

/// Polls `check` until it holds, failing the test with `what` after 15 seconds: for effects
/// that happen in the background (a job, a pub/sub message, a handler being entered).
pub async fn eventually(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting: {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
