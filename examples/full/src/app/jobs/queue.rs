//! What a job is, as stored, and the port to the queue's storage.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Serialize, de::DeserializeOwned};
use uuid::Uuid;

use crate::error::AppError;

// ANCHOR: job_spec
/// A kind of job: its name in the queue, its payload (this type, as JSON) and its identity.
/// Each use case defines the jobs it causes next to the code that runs them.
pub trait JobSpec: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The job's kind as stored and reported (`job.kind` in logs and metrics).
    const KIND: &'static str;

    /// The job's identity: enqueueing a key that exists already is a no-op, so one cause
    /// queues one job however often it is enqueued.
    fn key(&self) -> String;
}

/// A job ready to be stored: its kind, key, payload and lane.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub kind: &'static str,
    pub key: String,
    pub payload: serde_json::Value,
    /// Whose work this is, when one party's jobs could crowd out everyone else's (one
    /// account's webhook deliveries to its own, possibly slow, endpoints). At most
    /// `JOBS_MAX_PER_LANE` jobs of one lane run at once; jobs without a lane are not limited.
    pub lane: Option<String>,
}

impl Job {
    pub fn new<J: JobSpec>(job: &J) -> Self {
        Self {
            kind: J::KIND,
            key: job.key(),
            // Job payloads are plain structs of strings, ids and times: serializing them
            // cannot fail.
            payload: serde_json::to_value(job).expect("a job payload serializes to JSON"),
            lane: None,
        }
    }

    /// The same job in `lane`.
    pub fn in_lane(self, lane: String) -> Self {
        Self {
            lane: Some(lane),
            ..self
        }
    }
}
// ANCHOR_END: job_spec

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    serde::Serialize,
    serde::Deserialize,
    strum::Display,
    strum::EnumString,
    strum::IntoStaticStr,
    strum::VariantNames,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum JobStatus {
    Queued,
    Running,
    Done,
    Dead,
}

impl JobStatus {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// A job as the admin API shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
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
    pub fn name(&self) -> &'static str {
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
    /// Up to `limit` due jobs (and jobs whose lease ran out), each held for `lease`, oldest
    /// first, skipping jobs of a lane that would then have more than `per_lane` running.
    async fn claim(
        &self,
        limit: usize,
        per_lane: usize,
        lease: Duration,
    ) -> Result<Vec<Claimed>, AppError>;
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
