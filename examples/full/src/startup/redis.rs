//! Redis in front of and beside Postgres: a cache for task reads, a login limit shared by
//! every instance, and task events published to every instance's live subscribers.

use std::sync::Arc;

use super::services::Parts;
use crate::{
    app::task_feed::TaskFeed,
    config::Config,
    infra::{
        redis::Redis,
        redis_limit::RedisLimit,
        task_cache::CachedTaskRepository,
        task_events::{RedisTaskEvents, RedisTaskFeed},
    },
};

pub async fn extend(parts: Parts, redis: &Redis, config: &Config) -> (Parts, Arc<dyn TaskFeed>) {
    let parts = Parts {
        task_repo: Arc::new(CachedTaskRepository::new(
            parts.task_repo,
            redis.clone(),
            config.redis.task_cache_ttl,
        )),
        task_events: Arc::new(RedisTaskEvents(redis.clone())),
        shared_limit: Some(Arc::new(RedisLimit(redis.clone()))),
        ..parts
    };
    let feed = Arc::new(RedisTaskFeed::start(redis.clone()).await);
    (parts, feed)
}
