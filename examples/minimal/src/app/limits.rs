//! The stricter limit on login, register and refresh: attempts per minute per client IP and,
//! separately, per account, so neither one address nor a botnet aimed at one account gets
//! more than `AUTH_RATE_LIMIT_PER_MINUTE` tries. The whole API's per-IP limit is a layer
//! (`http::rate_limit`).

use std::{net::IpAddr, sync::Arc, time::Duration};

use governor::{
    DefaultKeyedRateLimiter, Quota, RateLimiter,
    clock::{Clock, DefaultClock},
};

use crate::{config::RateLimitConfig, error::AppError};

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Ip(IpAddr),
    /// A normalised email.
    Account(String),
}

#[derive(Clone)]
pub struct AuthLimiter {
    limiter: Arc<DefaultKeyedRateLimiter<Key>>,
}

impl AuthLimiter {
    pub fn new(config: &RateLimitConfig) -> Self {
        let quota = Quota::per_minute(config.auth_per_minute).allow_burst(config.auth_burst);
        Self {
            limiter: Arc::new(RateLimiter::keyed(quota)),
        }
    }

    /// Takes one attempt for the client IP and, when known, the account; fails with 429 and
    /// the wait when either is spent.
    pub fn check(&self, ip: IpAddr, account: Option<&str>) -> Result<(), AppError> {
        let now = DefaultClock::default().now();
        let mut keys = vec![Key::Ip(ip)];
        keys.extend(account.map(|a| Key::Account(a.to_owned())));
        for key in &keys {
            if let Err(not_until) = self.limiter.check_key(key) {
                return Err(AppError::TooManyRequests {
                    retry_after: not_until.wait_time_from(now).max(Duration::from_secs(1)),
                });
            }
        }
        Ok(())
    }

    /// Forgets keys whose limits have fully recovered, keeping memory bounded; called
    /// periodically.
    pub fn retain_recent(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }

    pub fn len(&self) -> usize {
        self.limiter.len()
    }

    pub fn is_empty(&self) -> bool {
        self.limiter.is_empty()
    }
}
