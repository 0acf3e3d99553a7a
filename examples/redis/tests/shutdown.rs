//! Graceful shutdown: readiness fails first, in-flight requests finish, new connections are
//! refused, and the drain timeout bounds how long that may take.

mod common;

use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use axum::{Router, routing::get};
use common::{TestEnv, TestServer};

fn slow_router(delay: Duration) -> Router {
    Router::new().route(
        "/slow",
        get(move || async move {
            tokio::time::sleep(delay).await;
            "finished"
        }),
    )
}

#[tokio::test]
async fn in_flight_requests_finish_after_the_signal() {
    let server = TestServer::serve(
        slow_router(Duration::from_millis(500)),
        Duration::from_secs(10),
    )
    .await;
    let addr = server.addr;
    let request = tokio::spawn({
        let (client, url) = (server.client.clone(), server.url("/slow"));
        async move { client.get(url).send().await.unwrap().text().await.unwrap() }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;

    let started = Instant::now();
    let stopped = tokio::spawn(server.shutdown());
    assert_eq!(
        request.await.unwrap(),
        "finished",
        "the in-flight request completes"
    );
    stopped.await.unwrap().unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "shutdown waited only for the request"
    );

    let refused = tokio::net::TcpStream::connect(addr).await;
    assert!(refused.is_err(), "no new connections after shutdown");
}

#[tokio::test]
async fn the_drain_timeout_bounds_shutdown() {
    let server = TestServer::serve(
        slow_router(Duration::from_secs(30)),
        Duration::from_millis(300),
    )
    .await;
    let request = tokio::spawn({
        let (client, url) = (server.client.clone(), server.url("/slow"));
        async move { client.get(url).send().await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;

    let started = Instant::now();
    server.shutdown().await.unwrap();
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(300),
        "waited for the drain: {took:?}"
    );
    assert!(took < Duration::from_secs(5), "but no longer: {took:?}");
    request.abort();
}

/// The real binary, started on an ephemeral port with `extra` settings; returns it, the
/// address it listens on, and the rest of its log once it exits. The log is read all along:
/// a full pipe would block the service's next log line, and the service with it.
fn spawn_service(
    env: &TestEnv,
    extra: &[(&str, &str)],
) -> (Child, String, std::thread::JoinHandle<Vec<String>>) {
    let mut child = Command::new(env!(concat!("CARGO_BIN_EXE_", env!("CARGO_PKG_NAME"))))
        .env_clear()
        .envs(common::TEST_DEFAULTS.iter().copied())
        .env("DATABASE_URL", &env.db.url)
        .env("REDIS_URL", &env.redis.url)
        .env("REDIS_KEY_PREFIX", &env.redis.prefix)
        .env("APP_ADDR", "127.0.0.1:0")
        .env("LOG_FORMAT", "json")
        .envs(extra.iter().copied())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap())
        .lines()
        .map_while(Result::ok);
    let listening = lines
        .by_ref()
        .find(|line| line.contains("listening"))
        .expect("the service logs where it listens");
    let log: serde_json::Value = serde_json::from_str(&listening).unwrap();
    let addr = log["addr"].as_str().unwrap().to_owned();
    let rest = std::thread::spawn(move || lines.collect());
    (child, addr, rest)
}

fn sigterm(child: &Child) {
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
}

/// The real binary, stopped the way container runtimes stop it.
#[tokio::test]
async fn sigterm_stops_the_binary_cleanly() {
    let env = TestEnv::new().await;
    let (mut child, addr, lines) = spawn_service(&env, &[]);
    let health = common::http_client()
        .build()
        .unwrap()
        .get(format!("http://{addr}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);

    let started = Instant::now();
    sigterm(&child);
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "exit status {status}");
    assert!(started.elapsed() < Duration::from_secs(10));
    let rest = lines.join().unwrap();
    assert!(
        rest.iter().any(|line| line.contains("shutdown requested")),
        "{rest:?}"
    );
    assert!(rest.iter().any(|line| line.contains("stopped")), "{rest:?}");
}

/// What one client loop saw: task creations answered 201, after the signal among them, and
/// any other answer.
#[derive(Default)]
struct Tally {
    created: usize,
    created_after_signal: usize,
    unexpected: Vec<String>,
}

/// SIGTERM in the middle of a stream of writes: readiness turns 503 first while requests are
/// still served, then the listener closes; every request that was admitted completes, and the
/// database holds exactly the tasks whose creation was answered 201.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_under_load_loses_no_admitted_request() {
    let env = TestEnv::new().await;
    let (mut child, addr, _lines) = spawn_service(&env, &[("SHUTDOWN_READINESS_DELAY_MS", "600")]);
    let base = format!("http://{addr}");
    let client = common::http_client().build().unwrap();
    let register = serde_json::json!({
        "email": "load@example.com", "display_name": "Load", "password": common::PASSWORD,
    });
    let registered = client
        .post(format!("{base}/auth/register"))
        .json(&register)
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status(), 201);
    let login = serde_json::json!({ "email": "load@example.com", "password": common::PASSWORD });
    let session: serde_json::Value = client
        .post(format!("{base}/auth/login"))
        .json(&login)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = session["access_token"].as_str().unwrap().to_owned();

    let signalled = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..6)
        .map(|writer| {
            let (base, token, signalled) = (base.clone(), token.clone(), signalled.clone());
            tokio::spawn(async move {
                // Each writer has its own connection pool, like separate clients.
                let client = common::http_client().build().unwrap();
                let mut tally = Tally::default();
                for n in 0.. {
                    let sent = client
                        .post(format!("{base}/tasks"))
                        .bearer_auth(&token)
                        .json(&serde_json::json!({ "title": format!("load {writer}-{n}") }))
                        .send()
                        .await;
                    // Refused or closed connections: the listener is gone, the writer stops.
                    let Ok(response) = sent else { break };
                    if response.status() == 201 {
                        tally.created += 1;
                        if signalled.load(Ordering::SeqCst) {
                            tally.created_after_signal += 1;
                        }
                    } else {
                        tally.unexpected.push(format!(
                            "{} {}",
                            response.status(),
                            response.text().await.unwrap_or_default()
                        ));
                    }
                }
                tally
            })
        })
        .collect();

    tokio::time::sleep(Duration::from_millis(300)).await;
    signalled.store(true, Ordering::SeqCst);
    sigterm(&child);
    // A load balancer's view: readiness must fail before the listener closes.
    let mut draining_seen = false;
    loop {
        let probe = common::http_client()
            .build()
            .unwrap()
            .get(format!("{base}/readyz"))
            .send()
            .await;
        let Ok(probe) = probe else { break };
        if probe.status() == 503 {
            let body: serde_json::Value = probe.json().await.unwrap();
            assert_eq!(body["status"], "draining");
            draining_seen = true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "exit status {status}");

    let mut total = Tally::default();
    for writer in writers {
        let tally = writer.await.unwrap();
        total.created += tally.created;
        total.created_after_signal += tally.created_after_signal;
        total.unexpected.extend(tally.unexpected);
    }
    assert!(
        draining_seen,
        "readiness reported draining before the listener closed"
    );
    assert!(total.unexpected.is_empty(), "{:?}", total.unexpected);
    assert!(
        total.created_after_signal > 0,
        "requests were still served during the readiness delay"
    );
    let db = sqlx::PgPool::connect(&env.db.url).await.unwrap();
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM tasks")
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(
        usize::try_from(stored).unwrap(),
        total.created,
        "every 201 is a stored task, and every stored task was answered"
    );
}
