//! The live task feed of one instance, in memory: what Redis pub/sub does across instances.

use uuid::Uuid;

use super::Memory;
use crate::{
    app::task_feed::{FeedItem, TaskFeed, owner_stream},
    error::AppError,
};

impl TaskFeed for Memory {
    fn subscribe(
        &self,
        owner: Uuid,
    ) -> Result<futures::stream::BoxStream<'static, FeedItem>, AppError> {
        Ok(owner_stream(self.events.subscribe(), owner))
    }
}
