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
//!
//! The parts: [`queue`] (what a job is and the storage port), [`runner`] (what each kind of
//! job does: handlers registered by kind), [`worker`] (claiming, running, retrying, draining)
//! [`metrics`] (the queue's depth as gauges) and [`heartbeat`] (readiness' view of the worker).

mod heartbeat;
mod metrics;
mod queue;
mod runner;
mod worker;

use std::{
    future::Future,
    sync::{Arc, Mutex},
    time::Duration,
};

use tokio::sync::mpsc;
use uuid::Uuid;

pub use heartbeat::{Heartbeat, SLACK, WorkerProbe};
pub use queue::{
    Claimed, Job, JobQueue, JobRecord, JobSpec, JobStatus, Lease, Outcome, QueueDepth, Requeued,
};
pub use runner::{Attempt, JobError, JobHandler, JobRunner};
pub use worker::backoff;

use crate::{config::JobsConfig, error::AppError};

/// The queue's handle, shared by the services that enqueue and the admin API.
#[derive(Clone)]
pub struct Jobs {
    pub queue: Arc<dyn JobQueue>,
    wake: mpsc::Sender<()>,
    /// The receiving end, until a worker takes it.
    wakeups: Arc<Mutex<Option<mpsc::Receiver<()>>>>,
    /// The beats of this process's worker, for readiness.
    heartbeat: Heartbeat,
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
            heartbeat: Heartbeat::default(),
        }
    }

    /// Readiness' probe of the worker that [`Jobs::start_worker`] starts with `settings`.
    /// `longest_claim` bounds one claim: the database's acquire and statement timeouts.
    pub fn worker_probe(&self, settings: &JobsConfig, longest_claim: Duration) -> WorkerProbe {
        WorkerProbe {
            heartbeat: self.heartbeat.clone(),
            stale_after: settings.poll_interval * 3 + longest_claim + SLACK,
        }
    }

    /// Reports the queue's depth as gauges, measured every `every` (see [`metrics`]).
    pub fn observe_queue(&self, every: Duration) {
        metrics::observe_queue(self.queue.clone(), every);
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
                "only dead jobs can be requeued; this one is {status}"
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
        let worker = worker::Worker::new(self.queue.clone(), runner, settings.clone())
            .with_heartbeat(self.heartbeat.clone());
        tokio::spawn(worker.run(wakeups, stop))
    }
}

#[cfg(test)]
mod tests;
