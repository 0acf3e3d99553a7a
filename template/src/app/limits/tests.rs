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
    let budget = 2 * ACCOUNT_BUDGET_FACTOR.get();
    // One address per attempt, so only the account's budget is in play.
    let ip = |n: u32| IpAddr::from(std::net::Ipv4Addr::from(0xC000_0200_u32 + n));
    // Other instances already used all but one attempt of this account's.
    for _ in 1..budget {
        shared
            .hit(
                &format!("limit:Login:{:x}", Sha256::digest(b"ada")),
                budget,
                SHARED_WINDOW,
            )
            .await
            .unwrap();
    }
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
    for n in 0..budget {
        let attempt = limiter.check(Action::Login, ip(10 + n), Some("ada")).await;
        assert!(attempt.is_ok(), "attempt {n}: {attempt:?}");
    }
    assert!(
        limiter
            .check(Action::Login, ip(10 + budget), Some("ada"))
            .await
            .is_err()
    );
}

#[tokio::test]
async fn one_address_cannot_spend_an_accounts_budget() {
    let limiter = AuthLimiter::new(&config(2), None);
    let stranger = IpAddr::from([203, 0, 113, 66]);
    let owner = IpAddr::from([198, 51, 100, 7]);
    // The stranger keeps trying long after its own budget is gone...
    for _ in 0..2 {
        assert!(
            limiter
                .check(Action::Login, stranger, Some("ada"))
                .await
                .is_ok()
        );
    }
    for _ in 0..50 {
        assert!(
            limiter
                .check(Action::Login, stranger, Some("ada"))
                .await
                .is_err()
        );
    }
    // ...and the owner, elsewhere, still gets in.
    assert!(
        limiter
            .check(Action::Login, owner, Some("ada"))
            .await
            .is_ok()
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
