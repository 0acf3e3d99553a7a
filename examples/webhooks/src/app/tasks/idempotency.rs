//! `Idempotency-Key` on task creation: a retry with the same key and body gets the task made
//! the first time instead of a second one.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{TaskService, events::TaskEventKind};
use crate::{
    domain::{
        task::{Task, TaskContent},
        user::Caller,
    },
    error::AppError,
};

/// How long a stored `Idempotency-Key` response is replayed.
pub const IDEMPOTENCY_TTL: chrono::Duration = chrono::Duration::hours(24);

/// A `POST /tasks` retry key, scoped to the user.
#[derive(Debug, Clone)]
pub struct IdempotencyKey {
    pub user_id: Uuid,
    pub key: String,
    /// SHA-256 of the request body as parsed, so formatting does not matter.
    pub request_hash: Vec<u8>,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Idempotent {
    Created(Task),
    /// The key was used before with the same body: the task made then.
    Replayed(Task),
    /// The key was used before with another body.
    KeyReused,
}

impl TaskService {
    /// `Ok((task, true))` when the key replayed an earlier response.
    pub async fn create_idempotent(
        &self,
        caller: &Caller,
        key: String,
        request_hash: Vec<u8>,
        content: TaskContent,
    ) -> Result<(Task, bool), AppError> {
        let now = Utc::now();
        let task = Task::new(caller.id, content, now);
        let key = IdempotencyKey {
            user_id: caller.id,
            key,
            request_hash,
            expires_at: now + IDEMPOTENCY_TTL,
        };
        let jobs = self.jobs_for(TaskEventKind::Created, &task);
        match self.repo.insert_idempotent(&key, &task, &jobs).await? {
            Idempotent::Created(task) => {
                self.announce(TaskEventKind::Created, &task).await;
                Ok((task, false))
            }
            // A replay describes the task made the first time; once that task is deleted,
            // the replay would describe something that is gone, and a second task is not
            // what a retry asks for: the key is spent.
            Idempotent::Replayed(task) if self.repo.get(task.id).await?.is_none() => {
                Err(AppError::Conflict(
                    "the task this Idempotency-Key created has been deleted since; use a new key"
                        .into(),
                ))
            }
            Idempotent::Replayed(task) => Ok((task, true)),
            Idempotent::KeyReused => Err(AppError::Conflict(
                "this Idempotency-Key was used with a different body; use a new key".into(),
            )),
        }
    }
}
