//! Background jobs: whether this process runs a worker, and how it retries.

use std::time::Duration;

use super::reader::Reader;

#[derive(Debug, Clone)]
pub struct JobsConfig {
    /// Run a job worker in this process (`JOBS_WORKER`). Off for instances that only serve
    /// HTTP while others run the jobs; jobs are still enqueued.
    pub worker: bool,
    /// Jobs one worker runs at once (`JOBS_CONCURRENCY`).
    pub concurrency: usize,
    /// Jobs of one lane (one account's webhook deliveries) running at once, across every
    /// worker (`JOBS_MAX_PER_LANE`; half of `JOBS_CONCURRENCY`, rounded up, by default), so
    /// one account's slow endpoints cannot hold every worker.
    pub max_per_lane: usize,
    /// How often the worker looks for due jobs without being poked (`JOBS_POLL_INTERVAL_MS`).
    pub poll_interval: Duration,
    /// One attempt that takes longer fails and is retried (`JOBS_TIMEOUT_MS`).
    pub timeout: Duration,
    /// Attempts before a job is dead (`JOBS_MAX_ATTEMPTS`).
    pub max_attempts: u32,
    /// The delay after the first failure; it doubles with each further one
    /// (`JOBS_BACKOFF_BASE_MS`).
    pub backoff_base: Duration,
    /// The longest delay between attempts (`JOBS_BACKOFF_MAX_MS`).
    pub backoff_max: Duration,
    /// How long running jobs may finish after a shutdown signal (`JOBS_DRAIN_TIMEOUT_MS`).
    pub drain_timeout: Duration,
}

impl JobsConfig {
    pub(super) fn read(env: &mut Reader) -> Self {
        let concurrency: usize = env.count("JOBS_CONCURRENCY", "4");
        let config = Self {
            worker: env.parse("JOBS_WORKER", "true"),
            concurrency,
            max_per_lane: env.count("JOBS_MAX_PER_LANE", &concurrency.div_ceil(2).to_string()),
            poll_interval: env.millis("JOBS_POLL_INTERVAL_MS", 1_000),
            timeout: env.millis("JOBS_TIMEOUT_MS", 30_000),
            max_attempts: env.count("JOBS_MAX_ATTEMPTS", "8"),
            backoff_base: env.millis("JOBS_BACKOFF_BASE_MS", 1_000),
            backoff_max: env.millis("JOBS_BACKOFF_MAX_MS", 3_600_000),
            drain_timeout: env.millis("JOBS_DRAIN_TIMEOUT_MS", 10_000),
        };
        env.require(
            config.backoff_base <= config.backoff_max,
            "JOBS_BACKOFF_BASE_MS must not exceed JOBS_BACKOFF_MAX_MS",
        );
        config
    }
}
