//! The storage port of tasks. Every write takes the jobs it causes (its outbox) and enqueues
//! them in its own transaction, so a job exists exactly when its change was committed.

use async_trait::async_trait;
use uuid::Uuid;

use super::{
    idempotency::{IdempotencyKey, Idempotent},
    listing::ListQuery,
};
use crate::{app::jobs::Job, domain::task::Task, error::AppError};

/// The jobs an update causes, decided from the row as stored (its new version and time).
pub type UpdateOutbox<'a> = Option<&'a (dyn Fn(&Task) -> Vec<Job> + Send + Sync)>;

// ANCHOR: task_repository
#[async_trait]
pub trait TaskRepository: Send + Sync {
    async fn insert(&self, task: &Task, outbox: &[Job]) -> Result<(), AppError>;
    /// Inserts `task` unless `key` was seen; the check and the insert are one transaction,
    /// serialised per key, so concurrent requests with one key create one task (and enqueue
    /// `outbox` once).
    async fn insert_idempotent(
        &self,
        key: &IdempotencyKey,
        task: &Task,
        outbox: &[Job],
    ) -> Result<Idempotent, AppError>;
    async fn get(&self, id: Uuid) -> Result<Option<Task>, AppError>;
    /// Writes `task` if the stored version is `task.version`; returns the stored task with
    /// the version incremented, or `None` when the version (or the row) is gone.
    async fn update(&self, task: &Task, outbox: UpdateOutbox<'_>)
    -> Result<Option<Task>, AppError>;
    async fn delete(&self, id: Uuid, outbox: &[Job]) -> Result<bool, AppError>;
    /// Deletes all of `ids` owned by `owner` in one transaction, or none of them: `false` when
    /// any is missing or foreign.
    async fn delete_all(&self, owner: Uuid, ids: &[Uuid], outbox: &[Job])
    -> Result<bool, AppError>;
    /// `limit + 1` rows at most, so the caller can tell whether a next page exists.
    async fn list(&self, query: &ListQuery) -> Result<Vec<Task>, AppError>;
    async fn purge_expired_keys(&self) -> Result<u64, AppError>;
    /// Gives `owner` `count` generated tasks at once, for benchmarks and `EXPLAIN` on a
    /// realistic table (`seed-tasks`); returns how many were written.
    async fn seed(&self, owner: Uuid, count: i64) -> Result<u64, AppError>;
}
// ANCHOR_END: task_repository
