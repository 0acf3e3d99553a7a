//! Cache-aside for single tasks: a [`TaskRepository`] that wraps the Postgres one, serves
//! `get` from Redis when it can, and deletes the cached copy after every write.
//!
//! Reads: look in Redis; on a miss read Postgres and store the task for `TASK_CACHE_TTL_SECS`.
//! Writes: write Postgres, *then* delete the key, so the next read fetches the new row. A
//! read that missed just before a write can still store the old row after the delete; the TTL
//! bounds how long such a copy lives.
//!
//! When Redis is down every read is a miss: slower, never wrong. The deletes that failed
//! meanwhile are remembered and done first when Redis is back; until they succeed this
//! instance does not read from the cache, so it never serves a copy older than its own writes.

use std::{
    collections::HashSet,
    sync::{Arc, Mutex},
    time::Duration,
};

use async_trait::async_trait;
use uuid::Uuid;

use super::redis::Redis;
use crate::{
    app::{
        jobs::Job,
        tasks::{IdempotencyKey, Idempotent, ListQuery, TaskRepository, UpdateOutbox},
    },
    domain::task::Task,
    error::AppError,
};

/// More failed deletes than this and the whole cache is dropped instead.
const MAX_PENDING: usize = 10_000;

pub struct CachedTaskRepository {
    inner: Arc<dyn TaskRepository>,
    redis: Redis,
    ttl: Duration,
    /// Deletes that failed while Redis was down, to be done before the next cached read.
    pending: Mutex<Pending>,
}

#[derive(Default)]
struct Pending {
    ids: HashSet<Uuid>,
    /// Too many to remember: every cached task must go.
    everything: bool,
}

impl CachedTaskRepository {
    pub fn new(inner: Arc<dyn TaskRepository>, redis: Redis, ttl: Duration) -> Self {
        Self {
            inner,
            redis,
            ttl,
            pending: Mutex::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Does the deletes that failed earlier; `false` while some remain.
    async fn catch_up(&self) -> bool {
        let (ids, everything) = {
            let pending = self.lock();
            if pending.ids.is_empty() && !pending.everything {
                return true;
            }
            (
                pending.ids.iter().copied().collect::<Vec<_>>(),
                pending.everything,
            )
        };
        let done = if everything {
            self.forget_all().await
        } else {
            let keys: Vec<String> = ids.iter().map(|id| self.key(*id)).collect();
            self.redis
                .run::<()>(redis::cmd("DEL").arg(keys))
                .await
                .is_ok()
        };
        if done {
            let mut pending = self.lock();
            for id in &ids {
                pending.ids.remove(id);
            }
            if everything {
                pending.everything = false;
            }
            tracing::info!(
                tasks = ids.len(),
                "cache entries written during a Redis outage dropped"
            );
        }
        done && self.lock().ids.is_empty()
    }

    /// Deletes every cached task of this service, a page of keys at a time.
    async fn forget_all(&self) -> bool {
        let pattern = self.redis.key("task:*");
        let mut cursor = 0u64;
        loop {
            let Ok((next, keys)): Result<(u64, Vec<String>), _> = self
                .redis
                .run(
                    redis::cmd("SCAN")
                        .arg(cursor)
                        .arg("MATCH")
                        .arg(&pattern)
                        .arg("COUNT")
                        .arg(1000),
                )
                .await
            else {
                return false;
            };
            if !keys.is_empty()
                && self
                    .redis
                    .run::<()>(redis::cmd("DEL").arg(keys))
                    .await
                    .is_err()
            {
                return false;
            }
            if next == 0 {
                return true;
            }
            cursor = next;
        }
    }

    fn key(&self, id: Uuid) -> String {
        self.redis.key(&format!("task:{id}"))
    }

    async fn cached(&self, id: Uuid) -> Option<Task> {
        if !self.catch_up().await {
            return None;
        }
        let json: Option<String> = self
            .redis
            .run(redis::cmd("GET").arg(self.key(id)))
            .await
            .ok()?;
        // A copy that does not parse (written by an older version) is a miss.
        serde_json::from_str(&json?).ok()
    }

    async fn store(&self, task: &Task) {
        let Ok(json) = serde_json::to_string(task) else {
            return;
        };
        let _: Result<(), _> = self
            .redis
            .run(
                redis::cmd("SET")
                    .arg(self.key(task.id))
                    .arg(json)
                    .arg("PX")
                    .arg(u64::try_from(self.ttl.as_millis()).unwrap_or(u64::MAX)),
            )
            .await;
    }

    /// After a write. A delete that fails is remembered for [`Self::catch_up`].
    async fn forget(&self, ids: &[Uuid]) {
        if ids.is_empty() {
            return;
        }
        let keys: Vec<String> = ids.iter().map(|id| self.key(*id)).collect();
        if self
            .redis
            .run::<()>(redis::cmd("DEL").arg(keys))
            .await
            .is_err()
        {
            let mut pending = self.lock();
            pending.ids.extend(ids);
            if pending.ids.len() > MAX_PENDING {
                pending.ids.clear();
                pending.everything = true;
            }
        }
    }
}

#[async_trait]
impl TaskRepository for CachedTaskRepository {
    async fn insert(&self, task: &Task, outbox: &[Job]) -> Result<(), AppError> {
        self.inner.insert(task, outbox).await
    }

    async fn insert_idempotent(
        &self,
        key: &IdempotencyKey,
        task: &Task,
        outbox: &[Job],
    ) -> Result<Idempotent, AppError> {
        self.inner.insert_idempotent(key, task, outbox).await
    }

    async fn get(&self, id: Uuid) -> Result<Option<Task>, AppError> {
        if let Some(task) = self.cached(id).await {
            return Ok(Some(task));
        }
        let task = self.inner.get(id).await?;
        if let Some(task) = &task {
            self.store(task).await;
        }
        Ok(task)
    }

    async fn update(
        &self,
        task: &Task,
        outbox: UpdateOutbox<'_>,
    ) -> Result<Option<Task>, AppError> {
        let updated = self.inner.update(task, outbox).await;
        self.forget(&[task.id]).await;
        updated
    }

    async fn delete(&self, id: Uuid, outbox: &[Job]) -> Result<bool, AppError> {
        let deleted = self.inner.delete(id, outbox).await;
        self.forget(&[id]).await;
        deleted
    }

    async fn delete_all(
        &self,
        owner: Uuid,
        ids: &[Uuid],
        outbox: &[Job],
    ) -> Result<bool, AppError> {
        let deleted = self.inner.delete_all(owner, ids, outbox).await;
        self.forget(ids).await;
        deleted
    }

    async fn list(&self, query: &ListQuery) -> Result<Vec<Task>, AppError> {
        self.inner.list(query).await
    }

    async fn purge_expired_keys(&self) -> Result<u64, AppError> {
        self.inner.purge_expired_keys().await
    }
}
