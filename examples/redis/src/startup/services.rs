//! Building the application's services on the backends: which implementation serves each
//! port. Every service starts on Postgres; the optional parts of the service add to what is
//! built here, each from its own file.

use std::sync::Arc;

use crate::{
    app::{
        audit::AuditLog,
        auth::AuthService,
        jobs::{JobRunner, Jobs},
        limits::{AuthLimiter, SharedLimit},
        mail::Mailer,
        passwords::Passwords,
        services::Services,
        sessions::SessionRepository,
        tasks::{NoTaskEvents, TaskEvents, TaskOutbox, TaskRepository, TaskService},
        tokens::Tokens,
        users::{UserAdmin, UserRepository},
        welcome::SendWelcomeEmail,
    },
    config::Config,
    infra::{
        audit::PgSecurityEventStore, jobs::PgJobQueue, sessions::PgSessionRepository,
        tasks::PgTaskRepository, users::PgUserRepository,
    },
};

use super::Backends;
use super::redis;

/// The ports the task service and the login limiter are built on.
pub struct Parts {
    pub task_repo: Arc<dyn TaskRepository>,
    pub task_events: Arc<dyn TaskEvents>,
    pub task_outbox: Option<Arc<dyn TaskOutbox>>,
    /// A login limit shared by every instance, beside each instance's own.
    pub shared_limit: Option<Arc<dyn SharedLimit>>,
}

// ANCHOR: assemble
/// The services, on `backends`. Starts the audit log's writer.
pub async fn assemble(config: &Config, backends: &Backends) -> anyhow::Result<Services> {
    let db = &backends.db;
    let jobs = Jobs::new(Arc::new(PgJobQueue(db.clone())));
    let parts = Parts {
        task_repo: Arc::new(PgTaskRepository(db.clone())),
        task_events: Arc::new(NoTaskEvents),
        task_outbox: None,
        shared_limit: None,
    };
    let (parts, task_feed) = redis::extend(parts, &backends.redis, config).await;
    let users: Arc<dyn UserRepository> = Arc::new(PgUserRepository(db.clone()));
    let sessions: Arc<dyn SessionRepository> = Arc::new(PgSessionRepository(db.clone()));
    let audit = AuditLog::start(
        Arc::new(PgSecurityEventStore(db.clone())),
        config.auth.login_failure_alert_per_minute,
    );
    Ok(Services {
        readiness: backends.readiness(),
        auth: AuthService {
            users: users.clone(),
            sessions: sessions.clone(),
            passwords: Passwords::new(&config.auth).await?,
            tokens: Tokens::new(&config.auth),
            limiter: AuthLimiter::new(&config.limits, parts.shared_limit),
            audit: audit.clone(),
            jobs: jobs.clone(),
        },
        users: UserAdmin {
            users,
            sessions,
            audit: audit.clone(),
        },
        tasks: TaskService {
            repo: parts.task_repo,
            events: parts.task_events,
            outbox: parts.task_outbox,
        },
        task_feed,
        audit,
        jobs,
        service_name: config.telemetry.service_name.clone(),
    })
}
// ANCHOR_END: assemble

/// Every kind of job this service runs, and what runs it.
pub fn job_runner(services: &Services, mailer: Arc<dyn Mailer>) -> JobRunner {
    JobRunner::new()
        // The email each registration queues.
        .register(SendWelcomeEmail::new(mailer, &services.service_name))
}
