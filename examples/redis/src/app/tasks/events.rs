//! Task events: what happened to a task, for its owner's live subscribers (after the change
//! commits) and for the jobs a change causes (written in its transaction).

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{app::jobs::Job, domain::task::Task};

/// What happened to a task, as subscribers hear it.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    strum::IntoStaticStr,
    strum::VariantNames,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum TaskEventKind {
    Created,
    Updated,
    Done,
    Deleted,
}

impl TaskEventKind {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// A committed change to one task, for its owner's subscribers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskEvent {
    pub kind: TaskEventKind,
    pub owner_id: Uuid,
    pub task_id: Uuid,
    /// The task after the change; absent for deletions.
    pub task: Option<Task>,
}

impl TaskEvent {
    pub fn of(kind: TaskEventKind, task: &Task) -> Self {
        Self {
            kind,
            owner_id: task.owner_id,
            task_id: task.id,
            task: (kind != TaskEventKind::Deleted).then(|| task.clone()),
        }
    }

    pub fn deleted(owner_id: Uuid, task_id: Uuid) -> Self {
        Self {
            kind: TaskEventKind::Deleted,
            owner_id,
            task_id,
            task: None,
        }
    }
}

/// Where task events go after their change commits, e.g. a pub/sub channel that live
/// subscribers listen to. Publishing is best effort: an event that cannot be delivered is
/// logged, and the change it describes stands.
#[async_trait]
pub trait TaskEvents: Send + Sync {
    async fn publish(&self, event: TaskEvent);
}

/// Which jobs a task change causes, e.g. notifying other systems of it; they are written in
/// the change's own transaction.
pub trait TaskOutbox: Send + Sync {
    fn jobs_for(&self, event: &TaskEvent) -> Vec<Job>;
    /// After a change with jobs committed: e.g. wake the worker.
    fn committed(&self) {}
}

/// No subscribers: events go nowhere.
pub struct NoTaskEvents;

#[async_trait]
impl TaskEvents for NoTaskEvents {
    async fn publish(&self, _event: TaskEvent) {}
}
