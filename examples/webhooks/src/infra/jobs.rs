//! [`JobQueue`] in Postgres: the `jobs` table, claimed with `FOR UPDATE SKIP LOCKED` so that
//! any number of workers (in any number of instances) share it without taking the same job.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use tracing::instrument;
use uuid::Uuid;

use super::postgres::stored;
use crate::{
    app::jobs::{
        Claimed, Job, JobQueue, JobRecord, JobStatus, Lease, Outcome, QueueDepth, Requeued,
    },
    error::AppError,
};

pub struct PgJobQueue(pub PgPool);

/// Adds `job` on `conn`, which is normally inside the transaction of the change that causes
/// it. `false` when a job with the same key exists already.
pub async fn enqueue(conn: &mut PgConnection, job: &Job) -> Result<bool, sqlx::Error> {
    let inserted = sqlx::query!(
        "INSERT INTO jobs (id, kind, key, payload, lane) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (key) DO NOTHING",
        Uuid::now_v7(),
        job.kind,
        job.key,
        job.payload,
        job.lane,
    )
    .execute(conn)
    .await?
    .rows_affected();
    Ok(inserted == 1)
}

struct JobRow {
    id: Uuid,
    kind: String,
    key: String,
    status: String,
    attempts: i32,
    run_at: DateTime<Utc>,
    last_error: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<JobRow> for JobRecord {
    type Error = AppError;

    fn try_from(row: JobRow) -> Result<Self, AppError> {
        Ok(Self {
            id: row.id,
            kind: row.kind,
            key: row.key,
            status: stored("jobs.status", &row.status)?,
            attempts: row.attempts,
            run_at: row.run_at,
            last_error: row.last_error,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

/// Error texts can be long (a whole SMTP transcript); the table keeps a bounded excerpt.
fn excerpt(error: &str) -> String {
    const MAX: usize = 2000;
    let clean: String = error.chars().filter(|c| *c != '\0').take(MAX).collect();
    clean
}

#[async_trait]
impl JobQueue for PgJobQueue {
    #[instrument(name = "jobs.enqueue", skip_all, fields(db.system.name = "postgresql"))]
    async fn enqueue(&self, job: &Job) -> Result<bool, AppError> {
        let mut conn = self.0.acquire().await?;
        Ok(enqueue(&mut conn, job).await?)
    }

    // No span: every worker polls this every poll interval, idle or not, and a trace per
    // poll would bury the traces of requests and jobs.
    async fn claim(
        &self,
        limit: usize,
        per_lane: usize,
        lease: Duration,
    ) -> Result<Vec<Claimed>, AppError> {
        let lease_id = Uuid::now_v7();
        let lease_ms = i64::try_from(lease.as_millis()).unwrap_or(i64::MAX);
        // Each `ARRAY(...)` runs its locking subquery exactly once. Expired leases (a crashed
        // worker's jobs) come first, then due jobs oldest first; each subquery walks its own
        // partial index in order and stops after `limit` rows, and the slice keeps `limit`.
        // One `WHERE a OR b ORDER BY run_at` made Postgres collect and sort every due job on
        // each claim instead: 27 ms with a backlog of 14,000 jobs (measured in the benchmark,
        // day 20), so the queue slowed down exactly when it was needed most.
        //
        // Lanes: `busy` counts the running jobs of each lane (few rows: at most the workers
        // of every instance). A lane at its share is skipped by the scan, so one account's
        // backlog cannot fill the batch; within the batch, `place` numbers each lane's jobs
        // after the ones already running, and only places up to the share are claimed.
        // The share is exact for one worker. Claims of several instances at the same moment
        // each see the same `busy` count, so for that moment a lane can run up to the share
        // once per claiming instance.
        let rows = sqlx::query!(
            r#"WITH busy AS (
                   SELECT lane, count(*) AS running FROM jobs
                   WHERE status = 'running' AND lane IS NOT NULL
                   GROUP BY lane
               )
               UPDATE jobs
               SET status = 'running', attempts = attempts + 1, lease_id = $1,
                   locked_until = now() + $2::bigint * interval '1 millisecond'
               WHERE id = ANY((
                   ARRAY(SELECT id FROM jobs
                         WHERE status = 'running' AND locked_until < now()
                         ORDER BY locked_until
                         LIMIT $3
                         FOR UPDATE SKIP LOCKED)
                   || ARRAY(SELECT id FROM (
                                SELECT due.id, due.lane, due.run_at,
                                       row_number() OVER (PARTITION BY due.lane
                                                          ORDER BY due.run_at)
                                           + coalesce(busy.running, 0) AS place
                                FROM (SELECT id, lane, run_at FROM jobs
                                      WHERE status = 'queued' AND run_at <= now()
                                        AND (lane IS NULL OR lane NOT IN (
                                            SELECT lane FROM busy WHERE running >= $4))
                                      ORDER BY run_at
                                      LIMIT $3
                                      FOR UPDATE SKIP LOCKED) AS due
                                LEFT JOIN busy ON busy.lane = due.lane
                            ) AS ranked
                            WHERE lane IS NULL OR place <= $4
                            ORDER BY run_at)
               )[1:$3])
               RETURNING id, kind, attempts, payload"#,
            lease_id,
            lease_ms,
            i64::try_from(limit).unwrap_or(i64::MAX),
            i64::try_from(per_lane).unwrap_or(i64::MAX),
        )
        .fetch_all(&self.0)
        .await?;
        Ok(rows
            .into_iter()
            .map(|row| Claimed {
                lease: Lease {
                    job_id: row.id,
                    lease_id,
                },
                kind: row.kind,
                attempts: row.attempts,
                payload: row.payload,
            })
            .collect())
    }

    #[instrument(name = "jobs.settle", skip_all, fields(db.system.name = "postgresql"))]
    async fn settle(&self, lease: Lease, outcome: &Outcome) -> Result<bool, AppError> {
        let (status, run_at, attempts_back, error) = match outcome {
            Outcome::Done => ("done", None, 0, None),
            Outcome::Retry { at, error } => ("queued", Some(*at), 0, Some(excerpt(error))),
            Outcome::Dead { error } => ("dead", None, 0, Some(excerpt(error))),
            Outcome::Released => ("queued", None, 1, None),
        };
        let settled = sqlx::query!(
            "UPDATE jobs
             SET status = $3, run_at = coalesce($4, run_at), attempts = attempts - $5,
                 last_error = coalesce($6, last_error), lease_id = NULL, locked_until = NULL
             WHERE id = $1 AND lease_id = $2",
            lease.job_id,
            lease.lease_id,
            status,
            run_at,
            attempts_back,
            error,
        )
        .execute(&self.0)
        .await?
        .rows_affected();
        Ok(settled == 1)
    }

    #[instrument(name = "jobs.list", skip_all, fields(db.system.name = "postgresql"))]
    async fn list(
        &self,
        status: JobStatus,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<JobRecord>, i64), AppError> {
        let rows = sqlx::query_as!(
            JobRow,
            "SELECT id, kind, key, status, attempts, run_at, last_error, created_at, updated_at
             FROM jobs WHERE status = $1
             ORDER BY updated_at DESC, id DESC
             LIMIT $2 OFFSET $3",
            status.as_str(),
            limit,
            offset,
        )
        .fetch_all(&self.0)
        .await?;
        let total = sqlx::query_scalar!(
            r#"SELECT count(*) AS "count!" FROM jobs WHERE status = $1"#,
            status.as_str()
        )
        .fetch_one(&self.0)
        .await?;
        let jobs = rows
            .into_iter()
            .map(JobRecord::try_from)
            .collect::<Result<_, _>>()?;
        Ok((jobs, total))
    }

    #[instrument(name = "jobs.requeue", skip_all, fields(db.system.name = "postgresql"))]
    async fn requeue(&self, id: Uuid) -> Result<Requeued, AppError> {
        let requeued = sqlx::query_as!(
            JobRow,
            "UPDATE jobs SET status = 'queued', attempts = 0, run_at = now()
             WHERE id = $1 AND status = 'dead'
             RETURNING id, kind, key, status, attempts, run_at, last_error, created_at, updated_at",
            id,
        )
        .fetch_optional(&self.0)
        .await?;
        if let Some(row) = requeued {
            return Ok(Requeued::Yes(row.try_into()?));
        }
        let status = sqlx::query_scalar!("SELECT status FROM jobs WHERE id = $1", id)
            .fetch_optional(&self.0)
            .await?;
        match status {
            Some(status) => Ok(Requeued::NotDead(stored("jobs.status", &status)?)),
            None => Ok(Requeued::NoSuchJob),
        }
    }

    #[instrument(name = "jobs.purge_done", skip_all, fields(db.system.name = "postgresql"))]
    async fn purge_done(&self, before: DateTime<Utc>) -> Result<u64, AppError> {
        Ok(sqlx::query!(
            "DELETE FROM jobs WHERE status = 'done' AND updated_at < $1",
            before
        )
        .execute(&self.0)
        .await?
        .rows_affected())
    }

    // No span: the queue-depth sampler polls this every `SATURATION_SAMPLING` (10 s).
    async fn depth(&self) -> Result<QueueDepth, AppError> {
        // Finished jobs are most of the table and are left out, through the status index.
        let row = sqlx::query!(
            r#"SELECT count(*) FILTER (WHERE status = 'queued' AND run_at <= now()) AS "due!",
                      count(*) FILTER (WHERE status = 'queued' AND run_at > now()) AS "scheduled!",
                      count(*) FILTER (WHERE status = 'running') AS "running!",
                      count(*) FILTER (WHERE status = 'dead') AS "dead!",
                      COALESCE(EXTRACT(EPOCH FROM now() - min(run_at)
                          FILTER (WHERE status = 'queued' AND run_at <= now())), 0)::float8
                          AS "oldest_due_secs!"
               FROM jobs
               WHERE status IN ('queued', 'running', 'dead')"#
        )
        .fetch_one(&self.0)
        .await?;
        Ok(QueueDepth {
            due: row.due,
            scheduled: row.scheduled,
            running: row.running,
            dead: row.dead,
            oldest_due_secs: row.oldest_due_secs,
        })
    }
}
