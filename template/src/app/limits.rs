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

/// What an attempt is for: each action has its own budget, so refreshing tokens never uses
/// up the logins of users behind the same address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    Register,
    Login,
    Refresh,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Ip(Action, IpAddr),
    /// A normalised email.
    Account(Action, String),
}

/// The address a limit is keyed by. An IPv6 client usually controls a whole /64, so it counts
/// as one address; otherwise it could take a fresh budget for every request.
pub fn limit_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let network = u128::from(v6) & (u128::MAX << 64);
                IpAddr::V6(network.into())
            }
        },
    }
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
    pub fn check(&self, action: Action, ip: IpAddr, account: Option<&str>) -> Result<(), AppError> {
        let now = DefaultClock::default().now();
        let mut keys = vec![Key::Ip(action, limit_key(ip))];
        keys.extend(account.map(|a| Key::Account(action, a.to_owned())));
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
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
