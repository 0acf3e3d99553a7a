//! Redis in front of and beside Postgres: a cache for task reads, a login limit shared by
//! every instance, and task events published to every instance's live subscribers.

use std::sync::Arc;

use super::ports::Ports;
use crate::{
    app::task_feed::{CappedFeed, MAX_STREAMS_PER_OWNER, TaskFeed},
    infra::{
        redis::Redis,
        redis_limit::RedisLimit,
        task_cache::CachedTaskRepository,
        task_events::{RedisTaskEvents, RedisTaskFeed},
    },
};

// ANCHOR: with_redis
/// This instance's subscription to every instance's task events, at most
/// `MAX_STREAMS_PER_OWNER` open streams per account.
pub async fn feed(redis: &Redis) -> Arc<dyn TaskFeed> {
    let feed = Arc::new(RedisTaskFeed::start(redis.clone()).await);
    Arc::new(CappedFeed::new(feed, MAX_STREAMS_PER_OWNER))
}

impl Ports {
    /// Task reads through the cache, events and the login limit through Redis.
    pub fn with_redis(self, redis: &Redis) -> Self {
        Self {
            task_repo: Arc::new(CachedTaskRepository::new(self.task_repo, redis.clone())),
            task_events: Arc::new(RedisTaskEvents(redis.clone())),
            shared_limit: Some(Arc::new(RedisLimit(redis.clone()))),
            ..self
        }
    }
}
// ANCHOR_END: with_redis
