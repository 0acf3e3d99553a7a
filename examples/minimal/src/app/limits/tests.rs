use std::{num::NonZeroU32, sync::Mutex};

use super::*;

/// A shared store that is up or down at the test's command, counting hits per key.
#[derive(Default)]
struct FakeShared {
    down: Mutex<bool>,
    hits: Mutex<std::collections::HashMap<String, u32>>,
}

#[async_trait]
impl SharedLimit for FakeShared {
    async fn hit(
        &self,
        key: &str,
        limit: u32,
        window: Duration,
    ) -> Result<Option<Duration>, SharedLimitUnavailable> {
        if *self.down.lock().unwrap() {
            return Err(SharedLimitUnavailable);
        }
        let mut hits = self.hits.lock().unwrap();
        let count = hits.entry(key.to_owned()).or_default();
        *count += 1;
        Ok((*count > limit).then_some(window))
    }
}

fn config(per_minute: u32) -> RateLimitConfig {
    let n = NonZeroU32::new(per_minute).unwrap();
    RateLimitConfig {
        per_second: n,
        burst: n,
        auth_per_minute: n,
        auth_burst: n,
    }
}

#[tokio::test]
async fn the_shared_count_decides_and_the_local_one_stands_in_when_it_is_down() {
    let shared = Arc::new(FakeShared::default());
    let limiter = AuthLimiter::new(&config(2), Some(shared.clone()));
    let ip = |n| IpAddr::from([192, 0, 2, n]);
    // Other instances already used one attempt of this account's two.
    shared
        .hit(
            &format!("limit:Login:{:x}", Sha256::digest(b"ada")),
            2,
            SHARED_WINDOW,
        )
        .await
        .unwrap();
    assert!(
        limiter
            .check(Action::Login, ip(1), Some("ada"))
            .await
            .is_ok()
    );
    let spent = limiter.check(Action::Login, ip(2), Some("ada")).await;
    assert!(
        matches!(spent, Err(AppError::TooManyRequests { retry_after }) if retry_after == SHARED_WINDOW),
        "{spent:?}"
    );
    // The store goes away: this instance's own count (none for ada yet) takes over.
    *shared.down.lock().unwrap() = true;
    assert!(
        limiter
            .check(Action::Login, ip(3), Some("ada"))
            .await
            .is_ok()
    );
    assert!(
        limiter
            .check(Action::Login, ip(4), Some("ada"))
            .await
            .is_ok()
    );
    assert!(
        limiter
            .check(Action::Login, ip(5), Some("ada"))
            .await
            .is_err()
    );
}

#[test]
fn ipv6_clients_are_limited_per_64_and_mapped_ipv4_as_ipv4() {
    let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
    let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
    let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
    assert_eq!(limit_key(a), limit_key(b));
    assert_ne!(limit_key(a), limit_key(other));
    let mapped: IpAddr = "::ffff:203.0.113.7".parse().unwrap();
    assert_eq!(limit_key(mapped), "203.0.113.7".parse::<IpAddr>().unwrap());
}
