//! Live task events for a user's open connections (`GET /tasks/events`): the port.
//! `infra::task_events` implements it with Redis pub/sub, so an event published by any
//! instance reaches subscribers on every instance.

use std::sync::Arc;

use futures::stream::BoxStream;
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
