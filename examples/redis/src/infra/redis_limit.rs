//! [`SharedLimit`] in Redis: a fixed-window counter that every instance increments, so the
//! per-account login limit holds however many instances serve the API.

use std::{sync::LazyLock, time::Duration};

use async_trait::async_trait;

use super::redis::Redis;
use crate::app::limits::{SharedLimit, SharedLimitUnavailable};

// ANCHOR: hit_script
/// Increments the window's counter and starts the window on its first hit, atomically (a
/// script runs without interleaving), so a crash between the two steps cannot leave a counter
/// that never expires. Returns the count and the milliseconds left in the window.
static HIT: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(
        r"
        local count = redis.call('INCR', KEYS[1])
        if count == 1 then
            redis.call('PEXPIRE', KEYS[1], ARGV[1])
        end
        local left = redis.call('PTTL', KEYS[1])
        if left < 0 then
            redis.call('PEXPIRE', KEYS[1], ARGV[1])
            left = tonumber(ARGV[1])
        end
        return {count, left}
        ",
    )
});
// ANCHOR_END: hit_script

pub struct RedisLimit(pub Redis);

#[async_trait]
impl SharedLimit for RedisLimit {
    async fn hit(
        &self,
        key: &str,
        limit: u32,
        window: Duration,
    ) -> Result<Option<Duration>, SharedLimitUnavailable> {
        let window_ms = u64::try_from(window.as_millis()).unwrap_or(u64::MAX);
        let mut invocation = HIT.key(self.0.key(key));
        invocation.arg(window_ms);
        let (count, left_ms): (u64, u64) = self
            .0
            .run_script(invocation)
            .await
            .map_err(|_| SharedLimitUnavailable)?;
        Ok((count > u64::from(limit)).then(|| Duration::from_millis(left_ms)))
    }
}
