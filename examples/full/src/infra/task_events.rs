//! Task events over Redis pub/sub. [`RedisTaskEvents`] publishes each committed change to its
//! owner's channel; [`RedisTaskFeed`] keeps one pattern subscription per instance and hands
//! the events to this instance's open `GET /tasks/events` streams. Pub/sub delivers only to
//! those listening at the moment (no history): a client that reconnects re-reads its tasks.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use async_trait::async_trait;
use futures::{StreamExt, stream::BoxStream};
use tokio::sync::broadcast;
use uuid::Uuid;

use super::redis::Redis;
use crate::{
    app::{
        task_feed::{FeedItem, TaskFeed, owner_stream},
        tasks::{TaskEvent, TaskEvents},
    },
    error::AppError,
};

/// Events buffered per instance for slow streams; a stream further behind is interrupted.
const BUFFER: usize = 1024;
/// The pause between attempts to subscribe again after losing Redis.
const RESUBSCRIBE_AFTER: Duration = Duration::from_millis(500);
/// How often the subscription is checked with a `PING`: a connection that a NAT or load
/// balancer dropped silently would otherwise look alive, delivering nothing, forever.
const HEARTBEAT: Duration = Duration::from_secs(10);

fn channel(redis: &Redis, owner: Uuid) -> String {
    redis.key(&format!("tasks:{owner}"))
}

pub struct RedisTaskEvents(pub Redis);

#[async_trait]
impl TaskEvents for RedisTaskEvents {
    async fn publish(&self, event: TaskEvent) {
        let Ok(payload) = serde_json::to_string(&event) else {
            return;
        };
        let published: Result<i64, _> = self
            .0
            .run(
                redis::cmd("PUBLISH")
                    .arg(channel(&self.0, event.owner_id))
                    .arg(payload),
            )
            .await;
        if published.is_err() {
            tracing::debug!(task.id = %event.task_id, "task event not published: Redis is down");
        }
    }
}

#[derive(Clone)]
pub struct RedisTaskFeed {
    sender: broadcast::Sender<FeedItem>,
    subscribed: Arc<AtomicBool>,
}

impl RedisTaskFeed {
    /// Subscribes (waiting for the first attempt, so a feed that can work does from the
    /// start) and keeps the subscription alive in the background, re-subscribing whenever it
    /// is lost.
    pub async fn start(redis: Redis) -> Self {
        let (sender, _) = broadcast::channel(BUFFER);
        let feed = Self {
            sender,
            subscribed: Arc::default(),
        };
        let (first_tx, first_rx) = tokio::sync::oneshot::channel();
        tokio::spawn(feed.clone().listen(redis, first_tx));
        let _ = first_rx.await;
        feed
    }

    async fn listen(self, redis: Redis, first: tokio::sync::oneshot::Sender<()>) {
        let pattern = redis.key("tasks:*");
        let mut first = Some(first);
        loop {
            let subscribed = async {
                let mut pubsub = redis.pubsub().await.ok()?;
                let subscribing = pubsub.psubscribe(&pattern);
                tokio::time::timeout(redis.timeout(), subscribing)
                    .await
                    .ok()?
                    .ok()?;
                Some(pubsub)
            };
            if let Some(pubsub) = subscribed.await {
                self.subscribed.store(true, Ordering::SeqCst);
                tracing::info!("task event feed subscribed");
                if let Some(first) = first.take() {
                    let _ = first.send(());
                }
                let (mut sink, mut messages) = pubsub.split();
                let mut heartbeat = tokio::time::interval(HEARTBEAT);
                heartbeat.tick().await;
                loop {
                    tokio::select! {
                        message = messages.next() => {
                            let Some(message) = message else { break };
                            match serde_json::from_slice::<TaskEvent>(message.get_payload_bytes()) {
                                Ok(event) => {
                                    let _ = self.sender.send(FeedItem::Event(Arc::new(event)));
                                }
                                Err(err) => tracing::warn!(error = %err, "a task event did not parse"),
                            }
                        }
                        _ = heartbeat.tick() => {
                            let ping = tokio::time::timeout(redis.timeout(), sink.ping::<String>());
                            if !matches!(ping.await, Ok(Ok(_))) {
                                break;
                            }
                        }
                    }
                }
                self.subscribed.store(false, Ordering::SeqCst);
                let _ = self.sender.send(FeedItem::Interrupted);
                tracing::warn!("task event feed lost its Redis subscription");
            }
            if let Some(first) = first.take() {
                let _ = first.send(());
            }
            tokio::time::sleep(RESUBSCRIBE_AFTER).await;
        }
    }
}

impl TaskFeed for RedisTaskFeed {
    fn subscribe(&self, owner: Uuid) -> Result<BoxStream<'static, FeedItem>, AppError> {
        if !self.subscribed.load(Ordering::SeqCst) {
            return Err(AppError::Unavailable {
                detail: "live task events are unavailable right now; read GET /tasks instead"
                    .into(),
                retry_after: Some(Duration::from_secs(5)),
            });
        }
        Ok(owner_stream(self.sender.subscribe(), owner))
    }
}
