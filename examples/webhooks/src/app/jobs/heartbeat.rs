//! Whether the worker is still at work: its loop beats once per turn, at least once per
//! `JOBS_POLL_INTERVAL_MS` even while every slot is busy, and readiness reports `jobs_worker`
//! down when the beats stop: a worker that died, or one stuck before it could claim again.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use async_trait::async_trait;
use tokio::time::Instant;

use crate::app::readiness::Probe;

/// Scheduling slack for a turn on a busy machine, beyond the poll intervals and the longest
/// claim (see [`crate::app::jobs::Jobs::worker_probe`]).
pub const SLACK: Duration = Duration::from_secs(2);

/// When the worker last beat, shared by the worker and its probe. A new heartbeat counts as
/// a beat, so a worker that is about to start is not reported down.
#[derive(Clone)]
pub struct Heartbeat {
    since: Instant,
    /// Milliseconds from `since` to the last beat.
    last: Arc<AtomicU64>,
}

impl Default for Heartbeat {
    fn default() -> Self {
        Self {
            since: Instant::now(),
            last: Arc::default(),
        }
    }
}

impl Heartbeat {
    pub fn beat(&self) {
        let now = u64::try_from(self.since.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last.store(now, Ordering::Relaxed);
    }

    /// How long ago the last beat was.
    pub fn age(&self) -> Duration {
        let last = Duration::from_millis(self.last.load(Ordering::Relaxed));
        self.since.elapsed().saturating_sub(last)
    }
}

// ANCHOR: worker_probe
/// Readiness' view of this instance's worker. Optional: requests do not need it (a job waits
/// in the queue, where any instance's worker finds it), so a stopped worker makes the
/// instance degraded, not unready; `/readyz` names it, and an alert can.
pub struct WorkerProbe {
    pub heartbeat: Heartbeat,
    /// Three poll intervals, the longest claim and [`SLACK`].
    pub stale_after: Duration,
}

#[async_trait]
impl Probe for WorkerProbe {
    fn name(&self) -> &'static str {
        "jobs_worker"
    }

    fn required(&self) -> bool {
        false
    }

    async fn check(&self) -> Result<(), String> {
        let age = self.heartbeat.age();
        if age <= self.stale_after {
            Ok(())
        } else {
            Err(format!(
                "the job worker has not come round for {} ms",
                age.as_millis()
            ))
        }
    }
}
// ANCHOR_END: worker_probe

#[cfg(test)]
mod tests;
