//! The job queue and the audit log in memory.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Memory, State};
use crate::{
    app::{
        audit::{SecurityEvent, SecurityEventStore},
        jobs::{
            Claimed, Job, JobQueue, JobRecord, JobStatus, Lease, Outcome, QueueDepth, Requeued,
        },
    },
    error::AppError,
};

pub(super) struct JobRow {
    pub record: JobRecord,
    payload: serde_json::Value,
    lane: Option<String>,
    lease_id: Option<Uuid>,
    locked_until: Option<DateTime<Utc>>,
}

impl State {
    /// Adds `job` unless one with its key exists: `false` then, as `ON CONFLICT DO NOTHING`.
    pub(super) fn enqueue(&mut self, job: &Job) -> bool {
        if self.jobs.iter().any(|row| row.record.key == job.key) {
            return false;
        }
        let now = Utc::now();
        self.jobs.push(JobRow {
            record: JobRecord {
                id: Uuid::now_v7(),
                kind: job.kind.to_owned(),
                key: job.key.clone(),
                status: JobStatus::Queued,
                attempts: 0,
                run_at: now,
                last_error: None,
                created_at: now,
                updated_at: now,
            },
            payload: job.payload.clone(),
            lane: job.lane.clone(),
            lease_id: None,
            locked_until: None,
        });
        true
    }

    /// Adds every job of an outbox, skipping keys that exist.
    pub(super) fn enqueue_all(&mut self, jobs: &[Job]) {
        for job in jobs {
            self.enqueue(job);
        }
    }
}

#[async_trait]
impl JobQueue for Memory {
    async fn enqueue(&self, job: &Job) -> Result<bool, AppError> {
        Ok(self.state().enqueue(job))
    }

    async fn claim(
        &self,
        limit: usize,
        per_lane: usize,
        lease: Duration,
    ) -> Result<Vec<Claimed>, AppError> {
        let now = Utc::now();
        let until = now + lease;
        let mut state = self.state();
        // Jobs whose worker died (lease run out) first, then due jobs, oldest first.
        let mut candidates: Vec<usize> = (0..state.jobs.len())
            .filter(|&i| {
                let row = &state.jobs[i];
                (row.record.status == JobStatus::Running
                    && row.locked_until.is_some_and(|at| at < now))
                    || (row.record.status == JobStatus::Queued && row.record.run_at <= now)
            })
            .collect();
        candidates.sort_by_key(|&i| {
            let row = &state.jobs[i];
            (row.record.status != JobStatus::Running, row.record.run_at)
        });
        // What runs per lane now, as the Postgres queue counts it (expired leases included).
        let mut running = std::collections::HashMap::<String, usize>::new();
        for row in &state.jobs {
            if let (JobStatus::Running, Some(lane)) = (row.record.status, &row.lane) {
                *running.entry(lane.clone()).or_default() += 1;
            }
        }
        let mut claimed = Vec::new();
        for i in candidates {
            if claimed.len() == limit {
                break;
            }
            let row = &mut state.jobs[i];
            if row.record.status == JobStatus::Queued
                && let Some(lane) = &row.lane
            {
                let count = running.entry(lane.clone()).or_default();
                if *count >= per_lane {
                    continue;
                }
                *count += 1;
            }
            let lease_id = Uuid::now_v7();
            row.record.status = JobStatus::Running;
            row.record.attempts += 1;
            row.record.updated_at = now;
            row.lease_id = Some(lease_id);
            row.locked_until = Some(until);
            claimed.push(Claimed {
                lease: Lease {
                    job_id: row.record.id,
                    lease_id,
                },
                kind: row.record.kind.clone(),
                attempts: row.record.attempts,
                payload: row.payload.clone(),
            });
        }
        Ok(claimed)
    }

    async fn settle(&self, lease: Lease, outcome: &Outcome) -> Result<bool, AppError> {
        let now = Utc::now();
        let mut state = self.state();
        let Some(row) = state.jobs.iter_mut().find(|row| {
            row.record.id == lease.job_id
                && row.record.status == JobStatus::Running
                && row.lease_id == Some(lease.lease_id)
        }) else {
            return Ok(false);
        };
        match outcome {
            Outcome::Done => row.record.status = JobStatus::Done,
            Outcome::Retry { at, error } => {
                row.record.status = JobStatus::Queued;
                row.record.run_at = *at;
                row.record.last_error = Some(error.clone());
            }
            Outcome::Dead { error } => {
                row.record.status = JobStatus::Dead;
                row.record.last_error = Some(error.clone());
            }
            Outcome::Released => {
                row.record.status = JobStatus::Queued;
                row.record.run_at = now;
                row.record.attempts -= 1;
            }
        }
        row.record.updated_at = now;
        row.lease_id = None;
        row.locked_until = None;
        Ok(true)
    }

    async fn list(
        &self,
        status: JobStatus,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<JobRecord>, i64), AppError> {
        let state = self.state();
        let mut records: Vec<JobRecord> = state
            .jobs
            .iter()
            .filter(|row| row.record.status == status)
            .map(|row| row.record.clone())
            .collect();
        records.sort_by_key(|job| std::cmp::Reverse((job.updated_at, job.id)));
        let total = i64::try_from(records.len()).unwrap_or(i64::MAX);
        let page = records
            .into_iter()
            .skip(usize::try_from(offset).unwrap_or(usize::MAX))
            .take(usize::try_from(limit).unwrap_or(0))
            .collect();
        Ok((page, total))
    }

    async fn requeue(&self, id: Uuid) -> Result<Requeued, AppError> {
        let mut state = self.state();
        let Some(row) = state.jobs.iter_mut().find(|row| row.record.id == id) else {
            return Ok(Requeued::NoSuchJob);
        };
        if row.record.status != JobStatus::Dead {
            return Ok(Requeued::NotDead(row.record.status));
        }
        let now = Utc::now();
        row.record.status = JobStatus::Queued;
        row.record.attempts = 0;
        row.record.run_at = now;
        row.record.updated_at = now;
        Ok(Requeued::Yes(row.record.clone()))
    }

    async fn purge_done(&self, before: DateTime<Utc>) -> Result<u64, AppError> {
        let mut state = self.state();
        let count = state.jobs.len();
        state.jobs.retain(|row| {
            !(row.record.status == JobStatus::Done && row.record.updated_at < before)
        });
        Ok(u64::try_from(count - state.jobs.len()).unwrap_or(u64::MAX))
    }

    async fn depth(&self) -> Result<QueueDepth, AppError> {
        let now = Utc::now();
        let state = self.state();
        let mut depth = QueueDepth::default();
        for row in &state.jobs {
            match row.record.status {
                JobStatus::Queued if row.record.run_at <= now => {
                    depth.due += 1;
                    let waited = (now - row.record.run_at).as_seconds_f64();
                    depth.oldest_due_secs = depth.oldest_due_secs.max(waited);
                }
                JobStatus::Queued => depth.scheduled += 1,
                JobStatus::Running => depth.running += 1,
                JobStatus::Dead => depth.dead += 1,
                JobStatus::Done => {}
            }
        }
        Ok(depth)
    }
}

#[async_trait]
impl SecurityEventStore for Memory {
    async fn insert(&self, events: &[SecurityEvent]) -> Result<(), AppError> {
        self.state().security_events.extend_from_slice(events);
        Ok(())
    }
}
