//! The stricter limit on login, register, refresh and the password routes: attempts per minute per client IP
//! (`AUTH_RATE_LIMIT_PER_MINUTE`) and, separately, per account, with
//! [`ACCOUNT_BUDGET_FACTOR`] times that budget. One address cannot spend an account's budget,
//! so a stranger guessing from one place cannot keep the owner out; a botnet aimed at one
//! account still meets a ceiling. The whole API's per-IP limit is a layer
//! (`http::rate_limit`).
//!
//! These limits live in this process's memory, so with several instances each counts on its
//! own. The per-account limit can be given a [`SharedLimit`], a store every instance counts
//! in; when it is unavailable the in-memory limit stands in.

use std::{net::IpAddr, num::NonZeroU32, sync::Arc, time::Duration};

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
    /// Account recovery and its owner's checks: asking for a reset email, resetting,
    /// changing a password or address, deleting the account, asking for a new
    /// verification email.
    Password,
}

/// An account's budget is this many times an address's. The per-address budget is spent
/// first (each attempt takes one from both), so one address can use at most a tenth of an
/// account's: it takes ten addresses at full rate to lock an owner out, not one.
pub const ACCOUNT_BUDGET_FACTOR: NonZeroU32 = NonZeroU32::new(10).unwrap();

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
    /// Per address.
    limiter: Arc<DefaultKeyedRateLimiter<Key>>,
    /// Per account, when the shared store cannot be asked.
    accounts: Arc<DefaultKeyedRateLimiter<Key>>,
    shared: Option<Arc<dyn SharedLimit>>,
    /// Attempts per account per shared window: the larger of the account's rate and burst, so
    /// the shared limit never refuses what the local one would allow at once.
    shared_limit: u32,
}

impl AuthLimiter {
    pub fn new(config: &RateLimitConfig, shared: Option<Arc<dyn SharedLimit>>) -> Self {
        let quota = Quota::per_minute(config.auth_per_minute).allow_burst(config.auth_burst);
        let per_minute = config.auth_per_minute.saturating_mul(ACCOUNT_BUDGET_FACTOR);
        let burst = config.auth_burst.saturating_mul(ACCOUNT_BUDGET_FACTOR);
        Self {
            limiter: Arc::new(RateLimiter::keyed(quota)),
            accounts: Arc::new(RateLimiter::keyed(
                Quota::per_minute(per_minute).allow_burst(burst),
            )),
            shared,
            shared_limit: per_minute.max(burst).get(),
        }
    }

    // ANCHOR: auth_limiter_check
    /// Takes one attempt for the client IP and, when known, the account; fails with 429 and
    /// the wait when either is spent. An address that is over its own budget is refused
    /// before it can take anything from the account's.
    pub async fn check(
        &self,
        action: Action,
        ip: IpAddr,
        account: Option<&str>,
    ) -> Result<(), AppError> {
        check(&self.limiter, &Key::Ip(action, limit_key(ip)))?;
        match account {
            Some(account) => self.check_account(action, account).await,
            None => Ok(()),
        }
    }
    // ANCHOR_END: auth_limiter_check

    /// Takes one attempt from the account's budget only: for a second address a request names
    /// (the new one of an email change), after [`Self::check`] charged the client and caller.
    pub async fn check_account(&self, action: Action, account: &str) -> Result<(), AppError> {
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
        check(&self.accounts, &Key::Account(action, account.to_owned()))
    }

    /// Forgets keys whose limits have fully recovered, keeping memory bounded; called
    /// periodically.
    pub fn retain_recent(&self) {
        for limiter in [&self.limiter, &self.accounts] {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }
}

fn check(limiter: &DefaultKeyedRateLimiter<Key>, key: &Key) -> Result<(), AppError> {
    let now = DefaultClock::default().now();
    limiter
        .check_key(key)
        .map_err(|not_until| AppError::TooManyRequests {
            retry_after: not_until.wait_time_from(now).max(Duration::from_secs(1)),
        })
}

#[cfg(test)]
mod tests;
