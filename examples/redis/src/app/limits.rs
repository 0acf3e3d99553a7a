//! The stricter limit on login, register and refresh: attempts per minute per client IP and,
//! separately, per account, so neither one address nor a botnet aimed at one account gets
//! more than `AUTH_RATE_LIMIT_PER_MINUTE` tries. The whole API's per-IP limit is a layer
//! (`http::rate_limit`).
//!
//! These limits live in this process's memory, so with several instances each counts on its
//! own. The per-account limit can be given a [`SharedLimit`], a store every instance counts
//! in; when it is unavailable the in-memory limit stands in.

use std::{net::IpAddr, sync::Arc, time::Duration};

use async_trait::async_trait;
use sha2::{Digest, Sha256};

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

/// The shared store could not be asked; the caller falls back to its own count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SharedLimitUnavailable;

/// A counter every instance of the service shares: at most `limit` hits per key within a
/// fixed window.
#[async_trait]
pub trait SharedLimit: Send + Sync {
    /// Counts one hit; `Some(wait)` when the key is over its limit until the window ends.
    async fn hit(
        &self,
        key: &str,
        limit: u32,
        window: Duration,
    ) -> Result<Option<Duration>, SharedLimitUnavailable>;
}

/// The window of the shared per-account limit.
const SHARED_WINDOW: Duration = Duration::from_secs(60);

#[derive(Clone)]
pub struct AuthLimiter {
    limiter: Arc<DefaultKeyedRateLimiter<Key>>,
    shared: Option<Arc<dyn SharedLimit>>,
    /// Attempts per account per shared window: the larger of the rate and the burst, so the
    /// shared limit never refuses what the local one would allow at once.
    shared_limit: u32,
}

impl AuthLimiter {
    pub fn new(config: &RateLimitConfig, shared: Option<Arc<dyn SharedLimit>>) -> Self {
        let quota = Quota::per_minute(config.auth_per_minute).allow_burst(config.auth_burst);
        Self {
            limiter: Arc::new(RateLimiter::keyed(quota)),
            shared,
            shared_limit: config.auth_per_minute.max(config.auth_burst).get(),
        }
    }

    // ANCHOR: auth_limiter_check
    /// Takes one attempt for the client IP and, when known, the account; fails with 429 and
    /// the wait when either is spent.
    pub async fn check(
        &self,
        action: Action,
        ip: IpAddr,
        account: Option<&str>,
    ) -> Result<(), AppError> {
        self.check_local(&Key::Ip(action, limit_key(ip)))?;
        let Some(account) = account else {
            return Ok(());
        };
        if let Some(shared) = &self.shared {
            // The email is hashed: the store never holds addresses in the clear.
            let key = format!("limit:{action:?}:{:x}", Sha256::digest(account.as_bytes()));
            match shared.hit(&key, self.shared_limit, SHARED_WINDOW).await {
                Ok(None) => return Ok(()),
                Ok(Some(wait)) => {
                    return Err(AppError::TooManyRequests {
                        retry_after: wait.max(Duration::from_secs(1)),
                    });
                }
                Err(SharedLimitUnavailable) => {}
            }
        }
        self.check_local(&Key::Account(action, account.to_owned()))
    }

    fn check_local(&self, key: &Key) -> Result<(), AppError> {
        let now = DefaultClock::default().now();
        self.limiter
            .check_key(key)
            .map_err(|not_until| AppError::TooManyRequests {
                retry_after: not_until.wait_time_from(now).max(Duration::from_secs(1)),
            })
    }
    // ANCHOR_END: auth_limiter_check

    /// Forgets keys whose limits have fully recovered, keeping memory bounded; called
    /// periodically.
    pub fn retain_recent(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }
}

#[cfg(test)]
mod tests;
