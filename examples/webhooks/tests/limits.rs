//! Rate limits and overload: 429 with `Retry-After` and the problem body; the proxy header
//! trusted only when configured; password hashing saturated without starving health checks.

mod common;

use std::time::{Duration, Instant};

use common::{PASSWORD, TestEnv, TestServer, assert_problem};

use task_svc::app::limits::ACCOUNT_BUDGET_FACTOR;

#[tokio::test]
async fn the_api_limit_answers_429_with_retry_after_and_spares_the_probes() {
    let env = TestEnv::new().await;
    let config = env.config(&[("RATE_LIMIT_PER_SECOND", "1"), ("RATE_LIMIT_BURST", "2")]);
    let server = TestServer::start(&config).await;
    assert_eq!(server.get("/openapi.json").await.status(), 200);
    assert_eq!(server.get("/openapi.json").await.status(), 200);
    let limited = server.get("/openapi.json").await;
    let retry_after: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry_after), "{retry_after}");
    let body = assert_problem(limited, 429).await;
    assert_eq!(body["code"], "rate_limited");
    // Unknown paths count too: a scanner is a client like any other.
    assert_problem(server.get("/no/such/route").await, 429).await;
    // The probes do not: an address over its limit (a load balancer, a busy node) still sees
    // a live, ready instance.
    for _ in 0..10 {
        assert_eq!(server.get("/healthz").await.status(), 200);
        assert_eq!(server.get("/readyz").await.status(), 200);
    }
}

async fn get_from(server: &TestServer, forwarded_for: &str) -> u16 {
    server
        .client
        .get(server.url("/openapi.json"))
        .header("x-forwarded-for", forwarded_for)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn forwarded_for_is_ignored_unless_proxies_are_trusted() {
    let env = TestEnv::new().await;
    let limits = [("RATE_LIMIT_PER_SECOND", "1"), ("RATE_LIMIT_BURST", "1")];
    // No trusted proxy: a client cannot dodge its limit by inventing addresses.
    let direct = TestServer::start(&env.config(&limits)).await;
    assert_eq!(get_from(&direct, "203.0.113.1").await, 200);
    assert_eq!(get_from(&direct, "203.0.113.2").await, 429);
    direct.shutdown().await.unwrap();

    // Behind one trusted proxy, the address it appended is the client...
    let mut vars = limits.to_vec();
    vars.push(("TRUSTED_PROXY_CIDRS", "127.0.0.1"));
    let proxied = TestServer::start(&env.config(&vars)).await;
    assert_eq!(get_from(&proxied, "203.0.113.1").await, 200);
    assert_eq!(get_from(&proxied, "203.0.113.2").await, 200);
    assert_eq!(get_from(&proxied, "203.0.113.2").await, 429);
    // ...and what the client wrote to the left of it changes nothing.
    assert_eq!(get_from(&proxied, "198.51.100.9, 203.0.113.2").await, 429);
    proxied.shutdown().await.unwrap();

    // Proxies are trusted by address: a peer that is not one of them is the client, whatever
    // it writes (it used to be enough to count hops, and any peer was believed).
    vars.pop();
    vars.push(("TRUSTED_PROXY_CIDRS", "10.0.0.0/8, fd00::/8"));
    let elsewhere = TestServer::start(&env.config(&vars)).await;
    assert_eq!(get_from(&elsewhere, "203.0.113.1").await, 200);
    assert_eq!(get_from(&elsewhere, "203.0.113.2").await, 429);
}

#[tokio::test]
async fn an_ipv6_client_has_one_api_budget_for_its_whole_64() {
    let env = TestEnv::new().await;
    let config = env.config(&[
        ("RATE_LIMIT_PER_SECOND", "1"),
        ("RATE_LIMIT_BURST", "1"),
        ("TRUSTED_PROXY_CIDRS", "127.0.0.1"),
    ]);
    let server = TestServer::start(&config).await;
    assert_eq!(get_from(&server, "2001:db8:1:2::1").await, 200);
    // Another address of the same /64 (a client picks any of its 2^64): the same budget.
    assert_eq!(
        get_from(&server, "2001:db8:1:2:ffff:ffff:ffff:fffe").await,
        429
    );
    // The next /64 is someone else.
    assert_eq!(get_from(&server, "2001:db8:1:3::1").await, 200);
}

#[tokio::test]
async fn a_strangers_wrong_passwords_do_not_lock_the_owner_out() {
    let env = TestEnv::new().await;
    let config = env.config(&[
        ("AUTH_RATE_LIMIT_PER_MINUTE", "2"),
        ("AUTH_RATE_LIMIT_BURST", "2"),
        ("TRUSTED_PROXY_CIDRS", "127.0.0.1"),
    ]);
    let server = TestServer::start(&config).await;
    assert_eq!(
        server.register("ada@example.com", PASSWORD).await.status(),
        201
    );
    // A stranger guesses from one address until it is refused, and keeps going.
    let stranger = "203.0.113.66";
    for _ in 0..2 {
        assert_eq!(
            server
                .login_from(stranger, "ada@example.com", "a wrong guess")
                .await,
            401
        );
    }
    for _ in 0..5 {
        assert_eq!(
            server
                .login_from(stranger, "ada@example.com", PASSWORD)
                .await,
            429
        );
    }
    // The owner, elsewhere, is not locked out.
    let owner = "198.51.100.7";
    assert_eq!(
        server.login_from(owner, "ada@example.com", PASSWORD).await,
        200
    );
    // Many addresses at once still meet the account's own ceiling, ACCOUNT_BUDGET_FACTOR
    // times an address's (a few of its attempts may refill while the loop runs).
    let budget = 2 * ACCOUNT_BUDGET_FACTOR.get();
    let mut refused_at = None;
    for n in 1..=budget + 5 {
        let status = server
            .login_from(&format!("192.0.2.{n}"), "ada@example.com", "a wrong guess")
            .await;
        if status == 429 {
            refused_at = Some(n);
            break;
        }
        assert_eq!(status, 401);
    }
    let refused_at = refused_at.expect("the account's budget ends");
    assert!(refused_at >= budget - 3, "refused after {refused_at}");
}

#[tokio::test]
async fn repeated_logins_to_one_account_are_limited_and_audited() {
    let env = TestEnv::new().await;
    let config = env.config(&[
        ("AUTH_RATE_LIMIT_PER_MINUTE", "1"),
        ("AUTH_RATE_LIMIT_BURST", "3"),
    ]);
    let server = TestServer::start(&config).await;
    // Registering has a budget of its own; logins get three attempts, then wait.
    assert_eq!(
        server.register("ada@example.com", PASSWORD).await.status(),
        201
    );
    for guess in ["guess one!", "guess two!", "guess three!"] {
        assert_eq!(server.login("ada@example.com", guess).await.status(), 401);
    }
    let limited = server.login("ada@example.com", PASSWORD).await;
    let retry_after: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry_after >= 1, "{retry_after}");
    assert_problem(limited, 429).await;

    server.state().audit.flush().await;
    let hits: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM security_events WHERE kind = 'rate_limited' AND email = 'ada@example.com'",
    )
    .fetch_one(server.db())
    .await
    .unwrap();
    assert_eq!(hits, 1);
}

/// One hash at a time and four waiting: a burst of twelve logins gets quick 503s with
/// `Retry-After` beyond the first five, while the five admitted hash one after another for
/// several hundred milliseconds. `/healthz` answers promptly throughout, because hashing runs
/// on its own threads (`start_hashers`): were it on the async worker (this test runtime has only one), each
/// health check would wait behind the whole queue.
#[tokio::test]
async fn a_login_flood_is_shed_and_health_checks_stay_prompt() {
    let env = TestEnv::new().await;
    let config = env.config(&[
        ("PASSWORD_HASH_CONCURRENCY", "1"),
        ("PASSWORD_HASH_QUEUE", "4"),
        ("PASSWORD_HASH_MEMORY_KIB", "65536"),
        ("PASSWORD_HASH_ITERATIONS", "3"),
    ]);
    let server = TestServer::start(&config).await;
    let flood = futures::future::join_all((0..12).map(|n| {
        let server = &server;
        async move {
            let email = format!("flood{n}@example.com");
            server.login(&email, "some password!").await
        }
    }));
    let health = async {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let mut slowest = Duration::ZERO;
        for _ in 0..5 {
            let started = Instant::now();
            assert_eq!(server.get("/healthz").await.status(), 200);
            slowest = slowest.max(started.elapsed());
        }
        slowest
    };
    let (responses, slowest) = tokio::join!(flood, health);
    let shed: Vec<_> = responses.iter().filter(|r| r.status() == 503).collect();
    assert_eq!(
        shed.len(),
        7,
        "all but the five admitted were refused at once"
    );
    assert!(shed.iter().all(|r| r.headers().contains_key("retry-after")));
    assert!(
        responses
            .iter()
            .all(|r| r.status() == 503 || r.status() == 401),
        "only 401 (checked) and 503 (shed)"
    );
    // Generous against noise; a blocked runtime would wait for whole hashes here.
    assert!(
        slowest < Duration::from_millis(250),
        "slowest /healthz: {slowest:?}"
    );
}
