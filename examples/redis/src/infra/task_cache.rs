//! Cache-aside for single tasks: a [`TaskRepository`] that wraps the Postgres one, serves
//! `get` from Redis when it can, and deletes the cached copy after every write.
//!
//! Reads: look in Redis; on a miss read Postgres and store the task for `TASK_CACHE_TTL_SECS`.
//! Writes: write Postgres, *then* delete the key, so the next read fetches the new row. A read
//! on this instance that missed just before one of its own writes does not store what it read
//! (see below); a read here racing a write on *another* instance can still store the old row
//! after that instance's delete, and the TTL bounds how long such a copy lives.
//!
//! Every write marks its task *pending* before it starts and clears the mark once the key is
//! deleted, so neither a Redis outage nor a request cancelled between commit and delete can
//! leave a stale copy behind: while anything is pending this instance does not read from the
//! cache, and the next read first deletes what is pending. When Redis is down every read is a
//! miss: slower, never wrong.

use std::{
    collections::HashMap,
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

/// Tasks whose cached copy may be stale. Each mark carries a generation, so that a delete
/// done for an older mark never clears a newer one.
#[derive(Default)]
struct Pending {
    ids: HashMap<Uuid, u64>,
    /// Too many to remember: every cached task must go.
    everything: bool,
    generation: u64,
}

impl Pending {
    fn mark(&mut self, ids: &[Uuid]) -> u64 {
        self.generation += 1;
        for id in ids {
            self.ids.insert(*id, self.generation);
        }
        if self.ids.len() > MAX_PENDING {
            self.ids.clear();
            self.everything = true;
        }
        self.generation
    }

    /// Clears the marks of `ids` made at or before `generation`.
    fn clear(&mut self, ids: &[Uuid], generation: u64) {
        for id in ids {
            if self.ids.get(id).is_some_and(|marked| *marked <= generation) {
                self.ids.remove(id);
            }
        }
    }
}

impl CachedTaskRepository {
    pub fn new(inner: Arc<dyn TaskRepository>, redis: Redis) -> Self {
        Self {
            inner,
            ttl: redis.task_cache_ttl(),
            redis,
            pending: Mutex::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Deletes what is pending; `false` while anything remains (a write in progress, or Redis
    /// still away).
    async fn catch_up(&self) -> bool {
        let (ids, everything, generation) = {
            let pending = self.lock();
            if pending.ids.is_empty() && !pending.everything {
                return true;
            }
            (
                pending.ids.keys().copied().collect::<Vec<_>>(),
                pending.everything,
                pending.generation,
            )
        };
        let done = if everything {
            self.forget_all().await
        } else {
            self.delete_keys(&ids).await
        };
        let mut pending = self.lock();
        if done {
            pending.clear(&ids, generation);
            if everything && pending.generation == generation {
                pending.everything = false;
            }
        }
        pending.ids.is_empty() && !pending.everything
    }

    async fn delete_keys(&self, ids: &[Uuid]) -> bool {
        if ids.is_empty() {
            return true;
        }
        let keys: Vec<String> = ids.iter().map(|id| self.key(*id)).collect();
        self.redis
            .run::<()>(redis::cmd("DEL").arg(keys))
            .await
            .is_ok()
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

    /// Before a write: until [`Self::forget`] succeeds, the cache is not read.
    fn will_change(&self, ids: &[Uuid]) -> u64 {
        self.lock().mark(ids)
    }

    /// After a write: deletes the keys and clears the marks (a failure leaves them for
    /// [`Self::catch_up`]).
    async fn forget(&self, ids: &[Uuid], generation: u64) {
        if self.delete_keys(ids).await {
            self.lock().clear(ids, generation);
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

    // ANCHOR: cache_aside
    async fn get(&self, id: Uuid) -> Result<Option<Task>, AppError> {
        let before = self.lock().generation;
        if let Some(task) = self.cached(id).await {
            return Ok(Some(task));
        }
        let task = self.inner.get(id).await?;
        // Stored only if no write started meanwhile: this row may be older than that write's,
        // and storing it after the write's delete would leave it stale.
        let quiet = {
            let pending = self.lock();
            pending.generation == before && pending.ids.is_empty() && !pending.everything
        };
        if let (Some(task), true) = (&task, quiet) {
            self.store(task).await;
        }
        Ok(task)
    }

    async fn update(
        &self,
        task: &Task,
        outbox: UpdateOutbox<'_>,
    ) -> Result<Option<Task>, AppError> {
        let generation = self.will_change(&[task.id]);
        let updated = self.inner.update(task, outbox).await;
        self.forget(&[task.id], generation).await;
        updated
    }
    // ANCHOR_END: cache_aside

    async fn delete(&self, id: Uuid, outbox: &[Job]) -> Result<bool, AppError> {
        let generation = self.will_change(&[id]);
        let deleted = self.inner.delete(id, outbox).await;
        self.forget(&[id], generation).await;
        deleted
    }

    async fn delete_all(
        &self,
        owner: Uuid,
        ids: &[Uuid],
        outbox: &[Job],
    ) -> Result<bool, AppError> {
        let generation = self.will_change(ids);
        let deleted = self.inner.delete_all(owner, ids, outbox).await;
        self.forget(ids, generation).await;
        deleted
    }

    async fn list(&self, query: &ListQuery) -> Result<Vec<Task>, AppError> {
        self.inner.list(query).await
    }

    async fn purge_expired_keys(&self) -> Result<u64, AppError> {
        self.inner.purge_expired_keys().await
    }

    async fn seed(&self, owner: Uuid, count: i64) -> Result<u64, AppError> {
        self.inner.seed(owner, count).await
    }
}
