//! The exercise checks of the Redis day (30), in the variants that have Redis.

use std::time::{Duration, Instant};

use task_svc::infra::redis::Redis;

use super::{common, run_binary, service_file, stderr_of, unreachable_settings};

// --- Day 30: Redis: cache/sessions/pubsub (optional) -----------------------------------------

#[tokio::test]
#[ignore = "exercise"]
async fn day_30_the_breakers_cooldown_is_a_setting() {
    let config = common::config_from(&[
        ("DATABASE_URL", "postgres://app@127.0.0.1:1/app"),
        ("REDIS_URL", "redis://127.0.0.1:1"),
        ("REDIS_TIMEOUT_MS", "300"),
        ("REDIS_BREAKER_COOLDOWN_MS", "3000"),
    ]);
    let redis = Redis::connect_lazy(&config.redis).expect("a lazy client");
    let ping = redis::cmd("PING");
    assert!(redis.run::<String>(&ping).await.is_err(), "nothing listens");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        redis.is_down(),
        "1.5 s after a failure the breaker of a 3 s cooldown is still open"
    );
    let started = Instant::now();
    assert!(redis.run::<String>(&ping).await.is_err());
    assert!(
        started.elapsed() < Duration::from_millis(150),
        "an open breaker fails at once, not after REDIS_TIMEOUT_MS"
    );
    for value in ["0", "soon"] {
        let mut vars = unreachable_settings();
        vars.push(("REDIS_BREAKER_COOLDOWN_MS", value));
        let refused = run_binary(&["serve"], &vars);
        let stderr = stderr_of(&refused);
        assert!(
            !refused.status.success() && stderr.contains("REDIS_BREAKER_COOLDOWN_MS"),
            "REDIS_BREAKER_COOLDOWN_MS={value} is refused at start-up, naming it:\n{stderr}"
        );
    }
    assert!(
        service_file(".env.example").contains("REDIS_BREAKER_COOLDOWN_MS"),
        ".env.example documents REDIS_BREAKER_COOLDOWN_MS"
    );
}
