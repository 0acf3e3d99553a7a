//! Live task events for a user's open connections (`GET /tasks/events`): the port.
//! `infra::task_events` implements it with Redis pub/sub, so an event published by any
//! instance reaches subscribers on every instance.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use futures::{StreamExt, stream::BoxStream};
use tokio::sync::broadcast;
use uuid::Uuid;

use super::tasks::TaskEvent;
use crate::error::AppError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedItem {
    Event(Arc<TaskEvent>),
    /// Events may have been missed (the source was lost, or this subscriber fell behind):
    /// the stream ends after this, and the client should re-read and reconnect.
    Interrupted,
}

pub trait TaskFeed: Send + Sync {
    /// The events of `owner`'s tasks from now on; 503 while the source is unavailable.
    fn subscribe(&self, owner: Uuid) -> Result<BoxStream<'static, FeedItem>, AppError>;
}

/// Open subscriptions per owner, shared by the feed and the slots it hands out.
type OpenCounts = Arc<Mutex<HashMap<Uuid, usize>>>;

/// The most live subscriptions one account may hold on one instance.
pub const MAX_STREAMS_PER_OWNER: usize = 5;

/// A feed that lets each owner hold at most `per_owner` subscriptions at once: an open stream
/// costs a connection, a task and memory for as long as it lasts, so one account must not be
/// able to open thousands. Over the cap: 429, until one of the owner's streams ends.
pub struct CappedFeed {
    inner: Arc<dyn TaskFeed>,
    per_owner: usize,
    open: OpenCounts,
}

impl CappedFeed {
    pub fn new(inner: Arc<dyn TaskFeed>, per_owner: usize) -> Self {
        Self {
            inner,
            per_owner,
            open: Arc::default(),
        }
    }
}

impl TaskFeed for CappedFeed {
    fn subscribe(&self, owner: Uuid) -> Result<BoxStream<'static, FeedItem>, AppError> {
        let slot = Slot::take(&self.open, owner, self.per_owner).ok_or_else(|| {
            AppError::TooManyRequests {
                retry_after: Duration::from_secs(5),
            }
        })?;
        let stream = self.inner.subscribe(owner)?;
        // The slot moves into the stream and is given back when the stream is dropped.
        Ok(stream
            .map(move |item| {
                let _held = &slot;
                item
            })
            .boxed())
    }
}

/// One owner's place among the open subscriptions, given back on drop.
struct Slot {
    open: OpenCounts,
    owner: Uuid,
}

impl Slot {
    fn take(open: &OpenCounts, owner: Uuid, cap: usize) -> Option<Self> {
        let mut counts = open.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let count = counts.entry(owner).or_default();
        (*count < cap).then(|| {
            *count += 1;
            Self {
                open: open.clone(),
                owner,
            }
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut counts = self
            .open
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(count) = counts.get_mut(&self.owner) {
            *count -= 1;
            if *count == 0 {
                counts.remove(&self.owner);
            }
        }
    }
}

impl From<Arc<TaskEvent>> for FeedItem {
    fn from(event: Arc<TaskEvent>) -> Self {
        Self::Event(event)
    }
}

/// `owner`'s items from a channel that carries every owner's. Once the source is lost or this
/// receiver falls behind, the stream says `Interrupted` once and ends.
pub fn owner_stream<T>(
    receiver: broadcast::Receiver<T>,
    owner: Uuid,
) -> BoxStream<'static, FeedItem>
where
    T: Into<FeedItem> + Clone + Send + 'static,
{
    futures::stream::unfold(Some(receiver), move |receiver| async move {
        let mut receiver = receiver?;
        loop {
            match receiver.recv().await.map(Into::into) {
                Ok(FeedItem::Event(event)) if event.owner_id != owner => {}
                Ok(FeedItem::Event(event)) => {
                    return Some((FeedItem::Event(event), Some(receiver)));
                }
                Ok(FeedItem::Interrupted) | Err(broadcast::error::RecvError::Lagged(_)) => {
                    return Some((FeedItem::Interrupted, None));
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    })
    .boxed()
}
