//! The task use cases. The rules live here, not in handlers: only the owner (or an admin) sees
//! or changes a task, and a foreign task is 404, not 403, so ids do not leak; status moves
//! follow `TaskStatus::can_become`; a write names the version it read and fails with 409 when
//! the task has changed since.
//!
//! Around the service: [`listing`] (filters, sorting, cursors), [`events`] (what subscribers
//! and the outbox hear), [`idempotency`] (retry-safe creation) and [`repository`] (the port).

pub mod events;
pub mod idempotency;
pub mod listing;
pub mod repository;

use std::sync::Arc;

use chrono::Utc;
use uuid::Uuid;

pub use events::{NoTaskEvents, TaskEvent, TaskEventKind, TaskEvents, TaskOutbox};
pub use idempotency::{IDEMPOTENCY_TTL, IdempotencyKey, Idempotent};
pub use listing::{
    Cursor, CursorKey, Direction, ListQuery, PageStart, SortKey, TaskFilter, TaskPage,
    in_database_range,
};
pub use repository::{TaskRepository, UpdateOutbox};

use super::{access::ensure_owner_or_admin, jobs::Job};
use crate::{
    domain::{
        task::{Task, TaskContent, TaskPatch, TaskStatus},
        user::Caller,
    },
    error::AppError,
};

#[derive(Clone)]
pub struct TaskService {
    pub repo: Arc<dyn TaskRepository>,
    /// Told after each change commits (live events).
    pub events: Arc<dyn TaskEvents>,
    /// Asked for the jobs each change causes, written in its transaction; `None`: no jobs.
    pub outbox: Option<Arc<dyn TaskOutbox>>,
}

const NO_SUCH_TASK: &str = "task";

impl TaskService {
    pub async fn create(&self, caller: &Caller, content: TaskContent) -> Result<Task, AppError> {
        let task = Task::new(caller.id, content, Utc::now());
        let jobs = self.jobs_for(TaskEventKind::Created, &task);
        self.repo.insert(&task, &jobs).await?;
        self.announce(TaskEventKind::Created, &task).await;
        Ok(task)
    }

    // ANCHOR: owned_get
    pub async fn get(&self, caller: &Caller, id: Uuid) -> Result<Task, AppError> {
        let task = self
            .repo
            .get(id)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("no such {NO_SUCH_TASK}")))?;
        ensure_owner_or_admin(caller, task.owner_id, NO_SUCH_TASK)?;
        Ok(task)
    }
    // ANCHOR_END: owned_get

    /// PUT: every field, at the version the client read.
    pub async fn replace(
        &self,
        caller: &Caller,
        id: Uuid,
        version: i32,
        content: TaskContent,
    ) -> Result<Task, AppError> {
        let current = self.at_version(caller, id, version).await?;
        let next = current
            .replace(content)
            .map_err(|e| AppError::Conflict(e.to_string()))?;
        self.write(current.status, next).await
    }

    /// PATCH: the named fields, at the version the client read.
    pub async fn patch(
        &self,
        caller: &Caller,
        id: Uuid,
        version: i32,
        patch: TaskPatch,
    ) -> Result<Task, AppError> {
        let current = self.at_version(caller, id, version).await?;
        let next = current
            .apply(patch)
            .map_err(|e| AppError::Conflict(e.to_string()))?;
        self.write(current.status, next).await
    }

    /// Marks the task done, whatever its version: doing it twice is harmless.
    pub async fn mark_done(&self, caller: &Caller, id: Uuid) -> Result<Task, AppError> {
        let current = self.get(caller, id).await?;
        if current.status == TaskStatus::Done {
            return Ok(current);
        }
        let next = current
            .apply(TaskPatch {
                status: Some(TaskStatus::Done),
                ..TaskPatch::default()
            })
            .map_err(|e| AppError::Conflict(e.to_string()))?;
        match self.write(current.status, next).await {
            Ok(done) => Ok(done),
            // Someone changed it meanwhile; if that someone marked it done, so are we.
            Err(AppError::Conflict(reason)) => match self.repo.get(id).await? {
                Some(now) if now.status == TaskStatus::Done => Ok(now),
                _ => Err(AppError::Conflict(reason)),
            },
            outcome => outcome,
        }
    }

    pub async fn delete(&self, caller: &Caller, id: Uuid) -> Result<(), AppError> {
        let task = self.get(caller, id).await?;
        let jobs = self.jobs_for(TaskEventKind::Deleted, &task);
        if !self.repo.delete(id, &jobs).await? {
            return Err(AppError::NotFound(format!("no such {NO_SUCH_TASK}")));
        }
        self.announce(TaskEventKind::Deleted, &task).await;
        Ok(())
    }

    /// Deletes all the caller's tasks named, or none: one foreign or missing id fails the
    /// whole request with 404 and nothing is deleted.
    pub async fn delete_all(&self, caller: &Caller, ids: &[Uuid]) -> Result<(), AppError> {
        let deleted = |id: &Uuid| TaskEvent::deleted(caller.id, *id);
        let jobs: Vec<Job> = match &self.outbox {
            Some(outbox) => ids
                .iter()
                .flat_map(|id| outbox.jobs_for(&deleted(id)))
                .collect(),
            None => Vec::new(),
        };
        if self.repo.delete_all(caller.id, ids, &jobs).await? {
            if let Some(outbox) = &self.outbox {
                outbox.committed();
            }
            for id in ids {
                self.events.publish(deleted(id)).await;
            }
            Ok(())
        } else {
            Err(AppError::NotFound(
                "at least one of the tasks does not exist; nothing was deleted".into(),
            ))
        }
    }

    // ANCHOR: list_page
    pub async fn list(&self, query: ListQuery) -> Result<TaskPage, AppError> {
        let mut items = self.repo.list(&query).await?;
        let limit = usize::try_from(query.limit).unwrap_or(0);
        let more = items.len() > limit;
        items.truncate(limit);
        let next_cursor = more
            .then(|| items.last())
            .flatten()
            .map(|last| Cursor::after(last, query.sort, query.direction).encode());
        Ok(TaskPage { items, next_cursor })
    }
    // ANCHOR_END: list_page

    /// Gives `owner` `count` generated tasks (`seed-tasks`, for benchmarks).
    pub async fn seed(&self, owner: Uuid, count: i64) -> Result<u64, AppError> {
        if count < 1 {
            return Err(AppError::BadRequest("COUNT must be at least 1".into()));
        }
        self.repo.seed(owner, count).await
    }

    // ANCHOR: versioned_write
    async fn at_version(&self, caller: &Caller, id: Uuid, version: i32) -> Result<Task, AppError> {
        let current = self.get(caller, id).await?;
        if current.version != version {
            return Err(stale(current.version));
        }
        Ok(current)
    }

    /// Stores a changed task and announces it (as `done` when this change completed it).
    async fn write(&self, before: TaskStatus, next: Task) -> Result<Task, AppError> {
        let kind = |stored: &Task| {
            if stored.status == TaskStatus::Done && before != TaskStatus::Done {
                TaskEventKind::Done
            } else {
                TaskEventKind::Updated
            }
        };
        let outbox = self.outbox.as_ref().map(|outbox| {
            move |stored: &Task| outbox.jobs_for(&TaskEvent::of(kind(stored), stored))
        });
        let outbox_fn = outbox
            .as_ref()
            .map(|f| f as &(dyn Fn(&Task) -> Vec<Job> + Send + Sync));
        match self.repo.update(&next, outbox_fn).await? {
            Some(stored) => {
                self.announce(kind(&stored), &stored).await;
                Ok(stored)
            }
            // Changed (or deleted) between our read and our write.
            None => match self.repo.get(next.id).await? {
                Some(now) => Err(stale(now.version)),
                None => Err(AppError::NotFound(format!("no such {NO_SUCH_TASK}"))),
            },
        }
    }
    // ANCHOR_END: versioned_write
}

impl TaskService {
    /// After a change committed: wakes the job worker for the change's jobs and tells the
    /// live subscribers.
    pub(super) async fn announce(&self, kind: TaskEventKind, task: &Task) {
        if let Some(outbox) = &self.outbox {
            outbox.committed();
        }
        self.events.publish(TaskEvent::of(kind, task)).await;
    }

    pub(super) fn jobs_for(&self, kind: TaskEventKind, task: &Task) -> Vec<Job> {
        self.outbox
            .as_ref()
            .map(|outbox| outbox.jobs_for(&TaskEvent::of(kind, task)))
            .unwrap_or_default()
    }
}

fn stale(current: i32) -> AppError {
    AppError::Conflict(format!(
        "the task has changed since you read it (it is at version {current}): read it again and retry"
    ))
}

#[cfg(test)]
mod tests;
