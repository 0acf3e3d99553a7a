//! The worker: claims due jobs up to its concurrency, runs each within the job timeout,
//! settles it (done, retry with backoff, dead) under its lease, and on shutdown drains what
//! runs and puts back what does not finish in time.

use std::{
    collections::HashMap,
    future::Future,
    sync::{Arc, Mutex},
    time::Duration,
};

use chrono::Utc;
use opentelemetry::{KeyValue, metrics::Counter};
use tokio::{sync::mpsc, task::JoinSet};
use uuid::Uuid;

use super::{Attempt, Claimed, Heartbeat, JobError, JobQueue, JobRunner, Lease, Outcome};
use crate::config::JobsConfig;

pub struct Worker {
    queue: Arc<dyn JobQueue>,
    runner: JobRunner,
    settings: JobsConfig,
    /// The leases of running jobs: what to put back if they do not finish in time.
    held: Mutex<HashMap<Uuid, Lease>>,
    finished: Counter<u64>,
    heartbeat: Heartbeat,
}

impl Worker {
    pub fn new(queue: Arc<dyn JobQueue>, runner: JobRunner, settings: JobsConfig) -> Self {
        Self {
            queue,
            runner,
            settings,
            held: Mutex::default(),
            finished: opentelemetry::global::meter(env!("CARGO_PKG_NAME"))
                .u64_counter("jobs.finished")
                .with_description("Job attempts by outcome (done, retry, dead, released) and kind")
                .build(),
            heartbeat: Heartbeat::default(),
        }
    }

    /// Beats `heartbeat` on every turn of the loop.
    pub fn with_heartbeat(self, heartbeat: Heartbeat) -> Self {
        Self { heartbeat, ..self }
    }

    pub async fn run(
        self,
        mut wakeups: Option<mpsc::Receiver<()>>,
        stop: impl Future<Output = ()> + Send + 'static,
    ) {
        let this = Arc::new(self);
        let mut running = JoinSet::new();
        tokio::pin!(stop);
        tracing::info!(
            concurrency = this.settings.concurrency,
            kinds = ?this.runner.kinds(),
            "job worker started"
        );
        loop {
            this.heartbeat.beat();
            let free = this.settings.concurrency.saturating_sub(running.len());
            let mut claimed_all = false;
            if free > 0 {
                let per_lane = this.settings.max_per_lane;
                match this.queue.claim(free, per_lane, this.lease()).await {
                    Ok(jobs) => {
                        claimed_all = jobs.len() == free;
                        for job in jobs {
                            this.hold(job.lease);
                            running.spawn(this.clone().execute(job));
                        }
                    }
                    Err(err) => tracing::warn!(error = %err, "could not claim jobs"),
                }
            }
            if claimed_all {
                // More may be due: claim again as soon as a slot frees up (and come round
                // once per poll interval meanwhile, to beat).
                tokio::select! {
                    () = &mut stop => break,
                    Some(_) = running.join_next() => continue,
                    () = tokio::time::sleep(this.settings.poll_interval) => continue,
                }
            }
            tokio::select! {
                () = &mut stop => break,
                Some(_) = running.join_next(), if !running.is_empty() => {}
                Some(()) = recv(&mut wakeups) => {}
                () = tokio::time::sleep(this.settings.poll_interval) => {}
            }
        }
        this.drain(running).await;
    }

    /// Waits for running jobs up to the drain timeout, then stops the rest and releases
    /// their leases, so another worker picks them up at once rather than after the lease.
    async fn drain(&self, mut running: JoinSet<()>) {
        tracing::info!(running = running.len(), "job worker stopping");
        let finished = tokio::time::timeout(self.settings.drain_timeout, async {
            while running.join_next().await.is_some() {}
        })
        .await;
        if finished.is_ok() {
            tracing::info!("job worker stopped");
            return;
        }
        running.shutdown().await;
        let unfinished: Vec<Lease> = self.lock_held().drain().map(|(_, lease)| lease).collect();
        for lease in unfinished {
            match self.queue.settle(lease, &Outcome::Released).await {
                Ok(_) => {
                    self.count(&Outcome::Released, None);
                    tracing::info!(job.id = %lease.job_id, "unfinished job released at shutdown");
                }
                Err(err) => tracing::warn!(
                    job.id = %lease.job_id,
                    error = %err,
                    "could not release a job at shutdown: it runs again when its lease ends"
                ),
            }
        }
    }

    async fn execute(self: Arc<Self>, job: Claimed) {
        let lease = job.lease;
        let outcome = self.attempt(&job).await;
        if let Outcome::Dead { error } = &outcome {
            self.runner
                .buried(&job.kind, job.payload.clone(), error)
                .await;
        }
        match &outcome {
            Outcome::Done => {
                tracing::info!(job.id = %lease.job_id, job.kind = %job.kind, "job done")
            }
            Outcome::Retry { at, error } => tracing::warn!(
                job.id = %lease.job_id, job.kind = %job.kind, attempts = job.attempts,
                retry_at = %at, error = %error, "job failed; retrying later"
            ),
            Outcome::Dead { error } => tracing::error!(
                job.id = %lease.job_id, job.kind = %job.kind, attempts = job.attempts,
                error = %error, "job dead: an admin can requeue it"
            ),
            Outcome::Released => {}
        }
        match self.queue.settle(lease, &outcome).await {
            Ok(true) => self.count(&outcome, Some(&job.kind)),
            Ok(false) => tracing::warn!(
                job.id = %lease.job_id,
                "the job's lease ran out before it finished: another attempt may run it again"
            ),
            Err(err) => tracing::warn!(
                job.id = %lease.job_id, error = %err,
                "could not record the job's outcome: it runs again when its lease ends"
            ),
        }
        self.lock_held().remove(&lease.job_id);
    }

    /// Runs the job once, within the job timeout, and decides what happens next.
    async fn attempt(&self, job: &Claimed) -> Outcome {
        let max = self.settings.max_attempts;
        let attempts = u32::try_from(job.attempts).unwrap_or(u32::MAX);
        if attempts > max {
            // Claimed again and again without ever settling: its worker keeps dying.
            return Outcome::Dead {
                error: format!("claimed {attempts} times without finishing"),
            };
        }
        let attempt = Attempt {
            number: attempts,
            last: attempts >= max,
        };
        // ANCHOR: attempt_outcome
        let running = tokio::time::timeout(
            self.settings.timeout,
            self.runner.run(&job.kind, job.payload.clone(), attempt),
        );
        let (error, at_least) = match running.await {
            Ok(Ok(())) => return Outcome::Done,
            Ok(Err(JobError::Fatal(error))) => return Outcome::Dead { error },
            Ok(Err(JobError::Retry(error))) => (error, Duration::ZERO),
            Ok(Err(JobError::RetryAfter(error, wait))) => (error, wait),
            Err(_) => (
                format!("timed out after {} ms", self.settings.timeout.as_millis()),
                Duration::ZERO,
            ),
        };
        if attempts >= max {
            return Outcome::Dead {
                error: format!("{error} (attempt {attempts} of {max})"),
            };
        }
        let delay = backoff(
            attempts,
            self.settings.backoff_base,
            self.settings.backoff_max,
            random_unit(),
        )
        .max(at_least);
        Outcome::Retry {
            at: Utc::now() + delay,
            error,
        }
        // ANCHOR_END: attempt_outcome
    }

    /// Long enough that a live worker's job never loses it: the job times out first.
    fn lease(&self) -> Duration {
        self.settings.timeout * 2
    }

    fn hold(&self, lease: Lease) {
        self.lock_held().insert(lease.job_id, lease);
    }

    fn lock_held(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, Lease>> {
        self.held
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A released job's kind is not at hand (only its lease is kept), so it has none.
    fn count(&self, outcome: &Outcome, kind: Option<&str>) {
        let outcome = KeyValue::new("outcome", outcome.name());
        match kind {
            Some(kind) => self
                .finished
                .add(1, &[outcome, KeyValue::new("job.kind", kind.to_owned())]),
            None => self.finished.add(1, &[outcome]),
        }
    }
}

// ANCHOR: backoff
/// The delay before attempt `attempt + 1`: exponential from `base`, capped at `max`, with
/// "equal jitter" (half fixed, half random), so jobs that failed together do not retry
/// together, yet none retries sooner than half its delay. `random` is uniform in `[0, 1)`.
pub fn backoff(attempt: u32, base: Duration, max: Duration, random: f64) -> Duration {
    let factor = 2u32.saturating_pow(attempt.saturating_sub(1));
    let delay = base.saturating_mul(factor).min(max);
    delay / 2 + delay.mul_f64(random.clamp(0.0, 1.0) / 2.0)
}
// ANCHOR_END: backoff

/// A uniform random number in `[0, 1)` from the operating system.
pub(super) fn random_unit() -> f64 {
    // 53 random bits fill an f64's mantissa exactly.
    getrandom::u64().map_or(0.5, |bits| (bits >> 11) as f64 / (1u64 << 53) as f64)
}

/// The next wake-up, or never when this worker has none.
async fn recv(wakeups: &mut Option<mpsc::Receiver<()>>) -> Option<()> {
    match wakeups {
        Some(receiver) => receiver.recv().await,
        None => std::future::pending().await,
    }
}
