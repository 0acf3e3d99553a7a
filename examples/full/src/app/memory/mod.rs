//! Every port of the application, kept in memory: a reference implementation of what `infra`
//! does with Postgres, for tests that should run in milliseconds and need no database. The
//! unit tests of the use cases run on it (`app::*::tests`), and so does the whole router in
//! `tests/in_memory.rs` (`startup::ports::Ports::in_memory`).
//!
//! One [`Memory`] is one database: every port shares its state, so a session sees the user it
//! belongs to and a task write enqueues its jobs, as the Postgres adapters do in one
//! transaction. It keeps the same rules the tables' constraints keep (unique emails, one job
//! per key, versions), but no durability: it is not for production.
mod feed;
mod jobs;
mod sender;
mod tasks;
mod users;
mod verification;
mod webhooks;

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, MutexGuard},
};

use chrono::{DateTime, Utc};
use tokio::sync::broadcast;
use uuid::Uuid;

use super::{audit::SecurityEvent, passwords::StoredHash, tasks::TaskEvent};
use crate::domain::{task::Task, user::User};

pub use sender::RecordingSender;

// ANCHOR: memory_state
/// The shared state of every in-memory port, and the task events it publishes.
#[derive(Clone)]
pub struct Memory {
    state: Arc<Mutex<State>>,
    events: broadcast::Sender<Arc<TaskEvent>>,
}

/// Live subscribers that fall this far behind are told they missed events.
const EVENT_BUFFER: usize = 256;

#[derive(Default)]
struct State {
    users: Vec<StoredUser>,
    refresh_tokens: Vec<RefreshRow>,
    denied: HashMap<Uuid, DateTime<Utc>>,
    tasks: Vec<Task>,
    /// By (user, key).
    idempotency: HashMap<(Uuid, String), StoredKey>,
    jobs: Vec<jobs::JobRow>,
    security_events: Vec<SecurityEvent>,
    task_events: Vec<TaskEvent>,
    webhooks: webhooks::WebhookState,
}
// ANCHOR_END: memory_state

struct StoredUser {
    user: User,
    password: StoredHash,
    session_epoch: i32,
    /// The outstanding password reset token's hash, and its expiry.
    reset: Option<(Vec<u8>, DateTime<Utc>)>,
    /// When the address was verified, and the outstanding verification.
    verified_at: Option<DateTime<Utc>>,
    verification: Option<verification::Pending>,
}

struct StoredKey {
    request_hash: Vec<u8>,
    /// The task as the first request's response showed it.
    response: Task,
    expires_at: DateTime<Utc>,
}

struct RefreshRow {
    family_id: Uuid,
    user_id: Uuid,
    hash: Vec<u8>,
    expires_at: DateTime<Utc>,
    /// The login that began the family.
    family_started_at: DateTime<Utc>,
    used: bool,
    revoked: bool,
}

impl Default for Memory {
    fn default() -> Self {
        Self {
            state: Arc::default(),
            events: broadcast::channel(EVENT_BUFFER).0,
        }
    }
}

impl Memory {
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The security events stored so far, oldest first.
    pub fn security_events(&self) -> Vec<SecurityEvent> {
        self.state().security_events.clone()
    }

    /// The task events published so far, oldest first.
    pub fn task_events(&self) -> Vec<TaskEvent> {
        self.state().task_events.clone()
    }

    /// The kinds of the jobs enqueued so far (in any status), oldest first.
    pub fn job_kinds(&self) -> Vec<String> {
        self.state()
            .jobs
            .iter()
            .map(|job| job.record.kind.clone())
            .collect()
    }
}
