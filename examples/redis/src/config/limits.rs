//! Rate limits: the whole API per client IP, and the sign-in routes per IP and per account.

use std::num::NonZeroU32;

use super::reader::Reader;

#[derive(Debug, Clone)]
pub struct RateLimitConfig {
    /// Requests per second one client IP may sustain on the whole API (`RATE_LIMIT_PER_SECOND`).
    pub per_second: NonZeroU32,
    /// Requests one client IP may send in a burst (`RATE_LIMIT_BURST`).
    pub burst: NonZeroU32,
    /// Attempts per minute on login, register and refresh, per client IP and per account
    /// (`AUTH_RATE_LIMIT_PER_MINUTE`).
    pub auth_per_minute: NonZeroU32,
    /// Attempts in a burst on those routes (`AUTH_RATE_LIMIT_BURST`).
    pub auth_burst: NonZeroU32,
}

impl RateLimitConfig {
    pub(super) fn read(env: &mut Reader) -> Self {
        Self {
            per_second: env.parse("RATE_LIMIT_PER_SECOND", "50"),
            burst: env.parse("RATE_LIMIT_BURST", "100"),
            auth_per_minute: env.parse("AUTH_RATE_LIMIT_PER_MINUTE", "10"),
            auth_burst: env.parse("AUTH_RATE_LIMIT_BURST", "5"),
        }
    }
}
