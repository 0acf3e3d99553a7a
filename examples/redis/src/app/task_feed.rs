//! Live task events for a user's open connections (`GET /tasks/events`): the port.
//! `infra::task_events` implements it with Redis pub/sub, so an event published by any
//! instance reaches subscribers on every instance.

use std::sync::Arc;

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
