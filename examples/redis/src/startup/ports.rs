//! Which implementation serves each port of the application: Postgres (and Redis) in the
//! service, memory in the tests that need no database. The services are assembled the same
//! way on either (`services::assemble`).

use std::sync::Arc;

use crate::{
    app::{
        audit::SecurityEventStore,
        jobs::JobQueue,
        limits::SharedLimit,
        memory::Memory,
        readiness::Readiness,
        sessions::SessionRepository,
        tasks::{NoTaskEvents, TaskEvents, TaskRepository},
        users::UserRepository,
    },
    infra::{
        audit::PgSecurityEventStore, jobs::PgJobQueue, sessions::PgSessionRepository,
        tasks::PgTaskRepository, users::PgUserRepository,
    },
};

use crate::app::task_feed::TaskFeed;

use super::{Backends, READINESS_PROBE_TIMEOUT};

// ANCHOR: ports
pub struct Ports {
    pub readiness: Readiness,
    pub users: Arc<dyn UserRepository>,
    pub sessions: Arc<dyn SessionRepository>,
    pub security_events: Arc<dyn SecurityEventStore>,
    pub job_queue: Arc<dyn JobQueue>,
    pub task_repo: Arc<dyn TaskRepository>,
    pub task_events: Arc<dyn TaskEvents>,
    /// A login limit shared by every instance, beside each instance's own.
    pub shared_limit: Option<Arc<dyn SharedLimit>>,
    pub task_feed: Arc<dyn TaskFeed>,
}
// ANCHOR_END: ports

impl Ports {
    // ANCHOR: connected
    /// The service's: every port on the backends.
    pub async fn connected(backends: &Backends) -> Self {
        let db = &backends.db;
        Self {
            readiness: backends.readiness(),
            users: Arc::new(PgUserRepository(db.clone())),
            sessions: Arc::new(PgSessionRepository(db.clone())),
            security_events: Arc::new(PgSecurityEventStore(db.clone())),
            job_queue: Arc::new(PgJobQueue(db.clone())),
            task_repo: Arc::new(PgTaskRepository(db.clone())),
            task_events: Arc::new(NoTaskEvents),
            shared_limit: None,
            task_feed: super::redis::feed(&backends.redis).await,
        }
        .with_redis(&backends.redis)
    }
    // ANCHOR_END: connected

    // ANCHOR: in_memory
    /// Every port in `memory`, which the caller keeps to look inside (the jobs queued, the
    /// security events stored). Readiness has no dependency to probe.
    pub fn in_memory(memory: &Memory) -> Self {
        Self {
            readiness: Readiness::new(Vec::new(), READINESS_PROBE_TIMEOUT),
            users: Arc::new(memory.clone()),
            sessions: Arc::new(memory.clone()),
            security_events: Arc::new(memory.clone()),
            job_queue: Arc::new(memory.clone()),
            task_repo: Arc::new(memory.clone()),
            task_events: Arc::new(memory.clone()),
            shared_limit: None,
            task_feed: Arc::new(memory.clone()),
        }
    }
    // ANCHOR_END: in_memory
}
