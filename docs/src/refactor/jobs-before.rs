//! Background jobs: a durable queue in Postgres, and the worker that runs it.
//!
//! A job is written in the same transaction as the change that causes it (the outbox
//! pattern), so it exists exactly when its cause was committed. After the commit the service
//! pokes the worker through a bounded channel, so the job starts at once; the worker also
//! polls every `JOBS_POLL_INTERVAL_MS`, which covers a lost poke, jobs that other instances
//! enqueued, and retries coming due.
//!
//! Delivery is **at least once**: a worker holds each claimed job for a lease (twice the job
//! timeout) and a job whose worker died is claimed again when the lease runs out. Every job
//! must therefore be safe to run twice; each has a key (enqueueing an existing key is a no-op)
//! that its handler passes on, e.g. as an email's `Message-ID`, so the far side can drop a
//! duplicate.
//!
//! Failures are retried with exponential backoff and jitter up to `JOBS_MAX_ATTEMPTS`; then
//! the job is *dead*: kept with its last error for an admin to list and requeue
//! (`GET /jobs?status=dead`, `POST /jobs/{id}/requeue`).

use std::{
    collections::HashMap,
    future::Future,
    sync::{Arc, Mutex},
    time::Duration,
};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use opentelemetry::{KeyValue, metrics::Counter};
use serde::{Deserialize, Serialize};
use tokio::{sync::mpsc, task::JoinSet};
use utoipa::ToSchema;
use uuid::Uuid;

use super::mail::{Email, MailError, Mailer};
use crate::{config::JobsConfig, error::AppError};

/// The work a job does, stored as its JSON payload (the `kind` tag names the variant).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Job {
    /// Greets a newly registered account by email.
    WelcomeEmail {
        user_id: Uuid,
        email: String,
        display_name: String,
    },
    /// Fans a task change out to the webhook endpoints subscribed to it.
    TaskEvent {
        event_id: Uuid,
        event: super::tasks::TaskEvent,
    },
    /// One attempt to deliver one webhook.
    DeliverWebhook { delivery_id: Uuid },
    /// Acts on a verified webhook from another system, once per message.
    InboundWebhook {
        source: String,
        message_id: String,
        payload: serde_json::Value,
    },
}

impl Job {
    pub fn kind(&self) -> &'static str {
        match self {
            Self::WelcomeEmail { .. } => "welcome_email",
            Self::TaskEvent { .. } => "task_event",
            Self::DeliverWebhook { .. } => "webhook_delivery",
            Self::InboundWebhook { .. } => "inbound_webhook",
        }
    }

    /// The job's identity: one welcome email per account, however often it is enqueued.
    pub fn key(&self) -> String {
        match self {
            Self::WelcomeEmail { user_id, .. } => format!("welcome-email.{user_id}"),
            Self::TaskEvent { event_id, .. } => format!("task-event.{event_id}"),
            Self::DeliverWebhook { delivery_id } => format!("webhook-delivery.{delivery_id}"),
            // Ids are up to 255 characters: hashed, the key stays short whatever they are.
            Self::InboundWebhook {
                source, message_id, ..
            } => format!(
                "inbound-webhook.{source}.{:x}",
                <sha2::Sha256 as sha2::Digest>::digest(message_id.as_bytes())
            ),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    Queued,
    Running,
    Done,
    Dead,
}

impl JobStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Done => "done",
            Self::Dead => "dead",
        }
    }
}

impl std::str::FromStr for JobStatus {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "queued" => Ok(Self::Queued),
            "running" => Ok(Self::Running),
            "done" => Ok(Self::Done),
            "dead" => Ok(Self::Dead),
            other => Err(format!("unknown job status {other:?}")),
        }
    }
}

/// A job as the admin API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct JobRecord {
    pub id: Uuid,
    /// What the job does, e.g. `welcome_email`.
    pub kind: String,
    pub key: String,
    pub status: JobStatus,
    /// How often it has been claimed.
    pub attempts: i32,
    /// When it runs (next), if queued.
    pub run_at: DateTime<Utc>,
    /// The error of the last failed attempt.
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A worker's hold on one job: only the holder of the current lease may settle it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Lease {
    pub job_id: Uuid,
    pub lease_id: Uuid,
}

/// A job a worker has claimed.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub lease: Lease,
    pub kind: String,
    /// Including this claim.
    pub attempts: i32,
    pub payload: serde_json::Value,
}

/// How a claimed job ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Done,
    /// Queued again to run at `at`.
    Retry {
        at: DateTime<Utc>,
        error: String,
    },
    /// Out of attempts, or a failure no retry can fix.
    Dead {
        error: String,
    },
    /// Put back untouched (shutdown): the claim does not count as an attempt.
    Released,
}

impl Outcome {
    fn name(&self) -> &'static str {
        match self {
            Self::Done => "done",
            Self::Retry { .. } => "retry",
            Self::Dead { .. } => "dead",
            Self::Released => "released",
        }
    }
}

/// What requeueing a job found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requeued {
    Yes(JobRecord),
    NotDead(JobStatus),
    NoSuchJob,
}

/// The queue's storage. Jobs caused by another change are enqueued by that change's
/// repository, in its transaction; [`JobQueue::enqueue`] is for jobs with no such cause.
#[async_trait]
pub trait JobQueue: Send + Sync {
    /// `false` when a job with the same key exists already.
    async fn enqueue(&self, job: &Job) -> Result<bool, AppError>;
    /// Up to `limit` due jobs (and jobs whose lease ran out), each held for `lease`.
    async fn claim(&self, limit: usize, lease: Duration) -> Result<Vec<Claimed>, AppError>;
    /// `false` when the lease was lost (it expired and another worker claimed the job).
    async fn settle(&self, lease: Lease, outcome: &Outcome) -> Result<bool, AppError>;
    /// A page of jobs in one status, most recently changed first, and their total count.
    async fn list(
        &self,
        status: JobStatus,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<JobRecord>, i64), AppError>;
    /// Queues a dead job again with a fresh count of attempts.
    async fn requeue(&self, id: Uuid) -> Result<Requeued, AppError>;
    /// Deletes finished jobs last changed before `before`.
    async fn purge_done(&self, before: DateTime<Utc>) -> Result<u64, AppError>;
    /// How many jobs wait, run and lie dead, for the saturation gauges.
    async fn depth(&self) -> Result<QueueDepth, AppError>;
}

/// The queue at one moment. `due` jobs could run now; a growing count, or a growing age of the
/// oldest, means the workers do not keep up.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct QueueDepth {
    pub due: i64,
    /// Queued for later: retries waiting out their backoff.
    pub scheduled: i64,
    pub running: i64,
    pub dead: i64,
    /// How long the oldest due job has been due, in seconds (0 when none is).
    pub oldest_due_secs: f64,
}

/// Why a job failed: worth another attempt, or not.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JobError {
    #[error("{0}")]
    Retry(String),
    /// Worth another attempt, but not before the given wait (e.g. a `Retry-After`).
    #[error("{0}")]
    RetryAfter(String, Duration),
    #[error("{0}")]
    Fatal(String),
}

/// Which attempt of its job a run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attempt {
    /// 1 for the first.
    pub number: u32,
    /// No retry follows if this one fails.
    pub last: bool,
}

impl From<MailError> for JobError {
    fn from(err: MailError) -> Self {
        match err {
            MailError::Transient(_) => Self::Retry(err.to_string()),
            MailError::Rejected(_) => Self::Fatal(err.to_string()),
        }
    }
}

/// Runs one job: what each kind of job does.
pub struct JobRunner {
    pub mailer: Arc<dyn Mailer>,
    /// Names the service in what jobs write, e.g. email subjects.
    pub service_name: String,
    pub webhooks: super::webhooks::Webhooks,
}

impl JobRunner {
    /// Called when a job is given up on for a reason its own run did not see (it timed out,
    /// or kept being claimed without finishing), so what it was working on can say so.
    pub async fn buried(&self, job: &Job, error: &str) {
        if let Job::DeliverWebhook { delivery_id } = job {
            self.webhooks.abandon(*delivery_id, error).await;
        }
    }

    pub async fn run(&self, job: &Job, attempt: Attempt) -> Result<(), JobError> {
        let _ = attempt; // only some kinds of job care which attempt this is
        match job {
            Job::WelcomeEmail {
                email,
                display_name,
                ..
            } => {
                let message = Email {
                    to: email.clone(),
                    subject: format!("Welcome to {}", self.service_name),
                    body: format!(
                        "Hello {display_name},\n\nyour account {email} is ready. \
                         If you did not create it, reply to this email.\n"
                    ),
                    key: job.key(),
                };
                Ok(self.mailer.send(&message).await?)
            }
            Job::TaskEvent { event_id, event } => self.webhooks.fan_out(*event_id, event).await,
            Job::DeliverWebhook { delivery_id } => {
                self.webhooks.deliver(*delivery_id, attempt).await
            }
            // Where the service acts on what other systems tell it: dispatch on the source and
            // the payload's type here. It runs at least once per message: keep it idempotent.
            Job::InboundWebhook {
                source,
                message_id,
                payload,
            } => {
                tracing::info!(
                    webhook.source = %source,
                    webhook.id = %message_id,
                    webhook.type = payload.get("type").and_then(|t| t.as_str()).unwrap_or("-"),
                    "inbound webhook processed"
                );
                Ok(())
            }
        }
    }
}

/// The delay before attempt `attempt + 1`: exponential from `base`, capped at `max`, with
/// "equal jitter" (half fixed, half random), so jobs that failed together do not retry
/// together, yet none retries sooner than half its delay. `random` is uniform in `[0, 1)`.
pub fn backoff(attempt: u32, base: Duration, max: Duration, random: f64) -> Duration {
    let factor = 2u32.saturating_pow(attempt.saturating_sub(1));
    let delay = base.saturating_mul(factor).min(max);
    delay / 2 + delay.mul_f64(random.clamp(0.0, 1.0) / 2.0)
}

/// A uniform random number in `[0, 1)` from the operating system.
fn random_unit() -> f64 {
    // 53 random bits fill an f64's mantissa exactly.
    getrandom::u64().map_or(0.5, |bits| (bits >> 11) as f64 / (1u64 << 53) as f64)
}

/// The queue's handle, shared by the services that enqueue and the admin API.
#[derive(Clone)]
pub struct Jobs {
    pub queue: Arc<dyn JobQueue>,
    wake: mpsc::Sender<()>,
    /// The receiving end, until a worker takes it.
    wakeups: Arc<Mutex<Option<mpsc::Receiver<()>>>>,
}

impl Jobs {
    pub fn new(queue: Arc<dyn JobQueue>) -> Self {
        // One slot is enough: a poke that finds the slot full is already covered by the one
        // waiting there, and enqueueing never waits for the worker.
        let (wake, wakeups) = mpsc::channel(1);
        Self {
            queue,
            wake,
            wakeups: Arc::new(Mutex::new(Some(wakeups))),
        }
    }

    /// Reports the queue's depth as `jobs.queue.depth` (by `job.state`: `due`, `scheduled`,
    /// `running`, `dead`) and the wait of the oldest due job as `jobs.queue.oldest_due_age`.
    /// Gauges are read synchronously when metrics are collected, so a task queries the queue
    /// every `every` and the gauges report its latest answer.
    pub fn observe_queue(&self, every: Duration) {
        let latest: Arc<Mutex<Option<QueueDepth>>> = Arc::default();
        let read = {
            let latest = latest.clone();
            move || {
                *latest
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
            }
        };
        let meter = opentelemetry::global::meter(env!("CARGO_PKG_NAME"));
        let depth = read.clone();
        meter
            .i64_observable_gauge("jobs.queue.depth")
            .with_unit("{job}")
            .with_description("Jobs in the queue, by state")
            .with_callback(move |observer| {
                if let Some(d) = depth() {
                    for (state, count) in [
                        ("due", d.due),
                        ("scheduled", d.scheduled),
                        ("running", d.running),
                        ("dead", d.dead),
                    ] {
                        observer.observe(count, &[KeyValue::new("job.state", state)]);
                    }
                }
            })
            .build();
        meter
            .f64_observable_gauge("jobs.queue.oldest_due_age")
            .with_unit("s")
            .with_description("How long the oldest due job has waited for a worker")
            .with_callback(move |observer| {
                if let Some(d) = read() {
                    observer.observe(d.oldest_due_secs, &[]);
                }
            })
            .build();
        let queue = self.queue.clone();
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(every);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                match queue.depth().await {
                    Ok(depth) => {
                        *latest
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(depth);
                    }
                    Err(err) => tracing::debug!(error = %err, "could not measure the job queue"),
                }
            }
        });
    }

    /// Tells the worker that a job is due now (call after the enqueueing commit).
    pub fn notify(&self) {
        let _ = self.wake.try_send(());
    }

    pub async fn list(
        &self,
        status: JobStatus,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<JobRecord>, i64), AppError> {
        self.queue.list(status, limit, offset).await
    }

    /// 404 for an unknown id, 409 for a job that is not dead.
    pub async fn requeue(&self, id: Uuid) -> Result<JobRecord, AppError> {
        match self.queue.requeue(id).await? {
            Requeued::Yes(job) => {
                tracing::info!(job.id = %id, job.kind = %job.kind, "dead job requeued");
                self.notify();
                Ok(job)
            }
            Requeued::NotDead(status) => Err(AppError::Conflict(format!(
                "only dead jobs can be requeued; this one is {}",
                status.as_str()
            ))),
            Requeued::NoSuchJob => Err(AppError::NotFound("no such job".into())),
        }
    }

    /// Starts a worker that runs until `stop` completes, then stops claiming, lets running
    /// jobs finish within `JOBS_DRAIN_TIMEOUT_MS` and puts the rest back in the queue. The
    /// first worker started gets the wake-ups; others poll.
    pub fn start_worker(
        &self,
        runner: JobRunner,
        settings: &JobsConfig,
        stop: impl Future<Output = ()> + Send + 'static,
    ) -> tokio::task::JoinHandle<()> {
        let wakeups = self
            .wakeups
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        let worker = Worker {
            queue: self.queue.clone(),
            runner: Arc::new(runner),
            settings: settings.clone(),
            held: Arc::default(),
            finished: opentelemetry::global::meter(env!("CARGO_PKG_NAME"))
                .u64_counter("jobs.finished")
                .with_description("Job attempts by outcome (done, retry, dead, released) and kind")
                .build(),
        };
        tokio::spawn(worker.run(wakeups, stop))
    }
}

struct Worker {
    queue: Arc<dyn JobQueue>,
    runner: Arc<JobRunner>,
    settings: JobsConfig,
    /// The leases of running jobs: what to put back if they do not finish in time.
    held: Arc<Mutex<HashMap<Uuid, Lease>>>,
    finished: Counter<u64>,
}

impl Worker {
    async fn run(
        self,
        mut wakeups: Option<mpsc::Receiver<()>>,
        stop: impl Future<Output = ()> + Send + 'static,
    ) {
        let this = Arc::new(self);
        let mut running = JoinSet::new();
        tokio::pin!(stop);
        tracing::info!(
            concurrency = this.settings.concurrency,
            "job worker started"
        );
        loop {
            let free = this.settings.concurrency.saturating_sub(running.len());
            let mut claimed_all = false;
            if free > 0 {
                match this.queue.claim(free, this.lease()).await {
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
                // More may be due: claim again as soon as a slot frees up.
                tokio::select! {
                    () = &mut stop => break,
                    Some(_) = running.join_next() => continue,
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
        if let Outcome::Dead { error } = &outcome
            && let Ok(parsed) = serde_json::from_value::<Job>(job.payload.clone())
        {
            self.runner.buried(&parsed, error).await;
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
        let parsed: Job = match serde_json::from_value(job.payload.clone()) {
            Ok(parsed) => parsed,
            Err(err) => {
                return Outcome::Dead {
                    error: format!("the payload of a {} job does not parse: {err}", job.kind),
                };
            }
        };
        let attempt = Attempt {
            number: attempts,
            last: attempts >= max,
        };
        let running =
            tokio::time::timeout(self.settings.timeout, self.runner.run(&parsed, attempt));
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

/// The next wake-up, or never when this worker has none.
async fn recv(wakeups: &mut Option<mpsc::Receiver<()>>) -> Option<()> {
    match wakeups {
        Some(receiver) => receiver.recv().await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_the_base_and_stops_at_the_cap() {
        let base = Duration::from_secs(1);
        let max = Duration::from_secs(60);
        // With the random half at its top, the delay is the full exponential step.
        let top = |attempt| backoff(attempt, base, max, 1.0);
        assert_eq!(top(1), Duration::from_secs(1));
        assert_eq!(top(2), Duration::from_secs(2));
        assert_eq!(top(3), Duration::from_secs(4));
        assert_eq!(top(7), Duration::from_secs(60));
        assert_eq!(top(200), Duration::from_secs(60), "no overflow");
    }

    #[test]
    fn jitter_keeps_at_least_half_the_delay() {
        let base = Duration::from_secs(8);
        let max = Duration::from_secs(3600);
        assert_eq!(backoff(1, base, max, 0.0), Duration::from_secs(4));
        assert_eq!(backoff(1, base, max, 0.5), Duration::from_secs(6));
        for _ in 0..1000 {
            let delay = backoff(1, base, max, random_unit());
            assert!(delay >= Duration::from_secs(4) && delay < Duration::from_secs(8));
        }
    }

    #[test]
    fn a_job_key_names_its_cause() {
        let user_id = Uuid::now_v7();
        let job = Job::WelcomeEmail {
            user_id,
            email: "a@example.com".into(),
            display_name: "A".into(),
        };
        assert_eq!(job.key(), format!("welcome-email.{user_id}"));
        let payload = serde_json::to_value(&job).unwrap();
        assert_eq!(payload["kind"], "welcome_email");
        assert_eq!(serde_json::from_value::<Job>(payload).unwrap(), job);
    }
}
