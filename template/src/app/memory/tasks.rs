//! Tasks and idempotency keys in memory, listed the way the Postgres query lists them.

use std::{cmp::Ordering, sync::Arc};

use async_trait::async_trait;
use chrono::{Duration, Utc};
use uuid::Uuid;

use super::{Memory, StoredKey};
use crate::{
    app::{
        jobs::Job,
        tasks::{
            CursorKey, Direction, IdempotencyKey, Idempotent, ListQuery, PageStart, SortKey,
            TaskEvent, TaskEvents, TaskRepository, UpdateOutbox,
        },
    },
    domain::task::{Description, Task, TaskStatus, Title},
    error::AppError,
};

/// Kept for [`Memory::task_events`], and sent to the live subscribers of this process.
#[async_trait]
impl TaskEvents for Memory {
    async fn publish(&self, event: TaskEvent) {
        self.state().task_events.push(event.clone());
        // Nobody listening is fine: the feed has no history.
        let _ = self.events.send(Arc::new(event));
    }
}

#[async_trait]
impl TaskRepository for Memory {
    async fn insert(&self, task: &Task, outbox: &[Job]) -> Result<(), AppError> {
        let mut state = self.state();
        state.tasks.push(task.clone());
        state.enqueue_all(outbox);
        Ok(())
    }

    async fn insert_idempotent(
        &self,
        key: &IdempotencyKey,
        task: &Task,
        outbox: &[Job],
    ) -> Result<Idempotent, AppError> {
        let mut state = self.state();
        let id = (key.user_id, key.key.clone());
        if let Some(stored) = state.idempotency.get(&id)
            && stored.expires_at > Utc::now()
        {
            if stored.request_hash != key.request_hash {
                return Ok(Idempotent::KeyReused);
            }
            // The first response, as it was sent: even if the task changed or is gone since.
            return Ok(Idempotent::Replayed(stored.response.clone()));
        }
        let stored = StoredKey {
            request_hash: key.request_hash.clone(),
            response: task.clone(),
            expires_at: key.expires_at,
        };
        state.idempotency.insert(id, stored);
        state.tasks.push(task.clone());
        state.enqueue_all(outbox);
        Ok(Idempotent::Created(task.clone()))
    }

    async fn get(&self, id: Uuid) -> Result<Option<Task>, AppError> {
        Ok(self.state().tasks.iter().find(|t| t.id == id).cloned())
    }

    async fn update(
        &self,
        task: &Task,
        outbox: UpdateOutbox<'_>,
    ) -> Result<Option<Task>, AppError> {
        let mut state = self.state();
        let Some(stored) = state
            .tasks
            .iter_mut()
            .find(|t| t.id == task.id && t.version == task.version)
        else {
            return Ok(None);
        };
        *stored = Task {
            version: task.version + 1,
            updated_at: Utc::now(),
            ..task.clone()
        };
        let stored = stored.clone();
        if let Some(outbox) = outbox {
            state.enqueue_all(&outbox(&stored));
        }
        Ok(Some(stored))
    }

    async fn delete(&self, id: Uuid, outbox: &[Job]) -> Result<bool, AppError> {
        let mut state = self.state();
        let before = state.tasks.len();
        state.tasks.retain(|t| t.id != id);
        let deleted = state.tasks.len() < before;
        if deleted {
            state.enqueue_all(outbox);
        }
        Ok(deleted)
    }

    async fn delete_all(
        &self,
        owner: Uuid,
        ids: &[Uuid],
        outbox: &[Job],
    ) -> Result<bool, AppError> {
        let mut state = self.state();
        let all_theirs = ids.iter().all(|id| {
            state
                .tasks
                .iter()
                .any(|t| t.id == *id && t.owner_id == owner)
        });
        if all_theirs {
            state.tasks.retain(|t| !ids.contains(&t.id));
            state.enqueue_all(outbox);
        }
        Ok(all_theirs)
    }

    async fn list(&self, query: &ListQuery) -> Result<Vec<Task>, AppError> {
        let state = self.state();
        let filter = &query.filter;
        let mut rows: Vec<&Task> = state
            .tasks
            .iter()
            .filter(|t| t.owner_id == query.owner)
            .filter(|t| filter.status.is_none_or(|status| t.status == status))
            .filter(|t| {
                filter
                    .due_after
                    .is_none_or(|at| t.due_at.is_some_and(|d| d >= at))
            })
            .filter(|t| {
                filter
                    .due_before
                    .is_none_or(|at| t.due_at.is_some_and(|d| d < at))
            })
            .filter(|t| query.sort != SortKey::DueAt || t.due_at.is_some())
            .collect();
        let order = |a: &Task, b: &Task| {
            let by_key = match query.sort {
                SortKey::CreatedAt => a.created_at.cmp(&b.created_at),
                SortKey::DueAt => a.due_at.cmp(&b.due_at),
                SortKey::Title => a.title.as_str().cmp(b.title.as_str()),
            };
            let ascending = by_key.then(a.id.cmp(&b.id));
            match query.direction {
                Direction::Asc => ascending,
                Direction::Desc => ascending.reverse(),
            }
        };
        rows.sort_by(|a, b| order(a, b));
        let skip = match &query.start {
            PageStart::Offset(offset) => usize::try_from(*offset).unwrap_or(usize::MAX),
            PageStart::After(cursor) => rows
                .iter()
                .take_while(|task| {
                    let key = match (&cursor.key, query.sort) {
                        (CursorKey::Time(at), SortKey::CreatedAt) => task.created_at.cmp(at),
                        (CursorKey::Time(at), SortKey::DueAt) => task.due_at.cmp(&Some(*at)),
                        (CursorKey::Text(title), _) => task.title.as_str().cmp(title.as_str()),
                        (CursorKey::Time(_), SortKey::Title) => Ordering::Equal,
                    };
                    let position = key.then(task.id.cmp(&cursor.id));
                    match query.direction {
                        Direction::Asc => position != Ordering::Greater,
                        Direction::Desc => position != Ordering::Less,
                    }
                })
                .count(),
        };
        let take = usize::try_from(query.limit + 1).unwrap_or(usize::MAX);
        Ok(rows.into_iter().skip(skip).take(take).cloned().collect())
    }

    async fn purge_expired_keys(&self) -> Result<u64, AppError> {
        let now = Utc::now();
        let mut state = self.state();
        let before = state.idempotency.len();
        state.idempotency.retain(|_, key| key.expires_at >= now);
        Ok(u64::try_from(before - state.idempotency.len()).unwrap_or(u64::MAX))
    }

    async fn seed(&self, owner: Uuid, count: i64) -> Result<u64, AppError> {
        let now = Utc::now();
        let mut state = self.state();
        for n in 1..=count {
            let at = now - Duration::seconds(n);
            state.tasks.push(Task {
                id: Uuid::now_v7(),
                owner_id: owner,
                title: Title::try_from(format!("Task {n}"))
                    .map_err(|err| AppError::Internal(anyhow::anyhow!(err)))?,
                description: Description::default(),
                status: [TaskStatus::Todo, TaskStatus::InProgress, TaskStatus::Done]
                    [usize::try_from(n % 3).unwrap_or(0)],
                due_at: (n % 4 != 0).then(|| now + Duration::days(n % 365)),
                version: 1,
                created_at: at,
                updated_at: at,
            });
        }
        Ok(u64::try_from(count).unwrap_or(0))
    }
}
