//! A task service built on Axum and SQLx
//!
//! Layers: `http` (the edge) calls `app` (use cases), which works on `domain` (plain types and
//! rules) and on traits that `infra` (Postgres, Redis) implements. This file wires them together.

pub mod app;
pub mod config;
pub mod domain;
pub mod error;
pub mod http;
pub mod infra;
pub mod server;
pub mod telemetry;

use std::{sync::Arc, time::Duration};

use axum::Router;
use sqlx::PgPool;

use crate::{
    app::{
        audit::AuditLog,
        auth::AuthService,
        jobs::{JobRunner, Jobs},
        limits::AuthLimiter,
        mail::Mailer,
        passwords::Passwords,
        readiness::{Probe, Readiness},
        sessions::SessionRepository,
        task_feed::TaskFeed,
        tasks::TaskService,
        tokens::Tokens,
        users::{UserAdmin, UserRepository},
    },
    config::Config,
    http::rate_limit::{self, ApiLimit},
    infra::{
        audit::PgSecurityEventStore, jobs::PgJobQueue, postgres::PostgresProbe,
        sessions::PgSessionRepository, tasks::PgTaskRepository, users::PgUserRepository,
    },
};

use crate::infra::{
    redis::{Redis, RedisProbe},
    redis_limit::RedisLimit,
    task_cache::CachedTaskRepository,
    task_events::{RedisTaskEvents, RedisTaskFeed},
};

/// Each readiness probe gets this long before its dependency counts as down.
pub const READINESS_PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// How often expired tokens are deleted and idle rate-limiter entries forgotten.
pub const MAINTENANCE_INTERVAL: Duration = Duration::from_secs(60);

/// How often the saturation gauges that need a query or a wait (job queue depth, pool wait
/// time) are measured; the first measurement is taken at start-up.
pub const SATURATION_SAMPLING: Duration = Duration::from_secs(10);

/// Finished jobs are kept this long (for inspection), then deleted.
pub const DONE_JOB_RETENTION: chrono::TimeDelta = chrono::TimeDelta::days(7);

/// The connections the services are built on.
pub struct Backends {
    pub db: PgPool,
    pub redis: Redis,
}

/// What handlers share: the application's services and the handles needed to shut down.
///
/// axum clones the state for every request (each handler and `from_fn_with_state` layer gets
/// its own copy), so it is one `Arc`: cloning the services themselves (token keys, the JWT
/// validation sets, strings, a dozen `Arc`s) and dropping them again cost about a tenth of
/// `/healthz`'s instructions in the benchmark (day 20). Fields read through `Deref`.
#[derive(Clone)]
pub struct AppState(Arc<Services>);

impl std::ops::Deref for AppState {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.0
    }
}

/// The parts of [`AppState`].
pub struct Services {
    pub readiness: Readiness,
    pub db: PgPool,
    pub auth: AuthService,
    pub users: UserAdmin,
    pub tasks: TaskService,
    /// Live task events for `GET /tasks/events`.
    pub task_feed: Arc<dyn TaskFeed>,
    pub audit: AuditLog,
    pub jobs: Jobs,
    /// Names the service in what it writes, e.g. email subjects (`OTEL_SERVICE_NAME`).
    pub service_name: String,
    /// The per-client-IP limit on the whole API.
    pub api_limit: ApiLimit,
    pub trusted_proxy_hops: usize,
}

impl AppState {
    /// Connects to every dependency (failing fast when one cannot be reached) and builds the
    /// services on top of them.
    pub async fn connect(config: &Config) -> anyhow::Result<Self> {
        let db = infra::postgres::connect(&config.database).await?;
        infra::postgres::observe_pool(&db, config.database.max_connections, SATURATION_SAMPLING);
        // Redis must answer at start-up (a typo in REDIS_URL should stop a deploy); later
        // outages only degrade the service.
        let redis = Redis::connect(&config.redis).await?;
        let probes: Vec<Arc<dyn Probe>> = vec![
            Arc::new(PostgresProbe(db.clone())),
            Arc::new(RedisProbe(redis.clone())),
        ];
        let readiness = Readiness::new(probes, READINESS_PROBE_TIMEOUT);
        let state = Self::assemble(config, Backends { db, redis }, readiness).await?;
        state.jobs.observe_queue(SATURATION_SAMPLING);
        Ok(state)
    }

    /// Builds the services on a pool and probes that already exist (tests pass their own),
    /// and starts the background tasks: the audit writer and periodic maintenance. The job
    /// worker is started separately ([`Jobs::start_worker`]), by `main` or by a test.
    pub async fn assemble(
        config: &Config,
        backends: Backends,
        readiness: Readiness,
    ) -> anyhow::Result<Self> {
        let db = backends.db;
        let users: Arc<dyn UserRepository> = Arc::new(PgUserRepository(db.clone()));
        let sessions: Arc<dyn SessionRepository> = Arc::new(PgSessionRepository(db.clone()));
        let audit = AuditLog::start(
            Arc::new(PgSecurityEventStore(db.clone())),
            config.auth.login_failure_alert_per_minute,
        );
        let jobs = Jobs::new(Arc::new(PgJobQueue(db.clone())));
        let auth = AuthService {
            users: users.clone(),
            sessions: sessions.clone(),
            passwords: Passwords::new(&config.auth).await?,
            tokens: Tokens::new(&config.auth),
            limiter: AuthLimiter::new(
                &config.limits,
                Some(Arc::new(RedisLimit(backends.redis.clone()))),
            ),
            audit: audit.clone(),
            jobs: jobs.clone(),
        };
        let tasks = TaskService {
            repo: Arc::new(CachedTaskRepository::new(
                Arc::new(PgTaskRepository(db.clone())),
                backends.redis.clone(),
                config.redis.task_cache_ttl,
            )),
            events: Arc::new(RedisTaskEvents(backends.redis.clone())),
            outbox: None,
        };
        let task_feed = Arc::new(RedisTaskFeed::start(backends.redis).await);
        let state = Self(Arc::new(Services {
            readiness,
            db,
            users: UserAdmin {
                users,
                sessions,
                audit: audit.clone(),
            },
            auth,
            tasks,
            task_feed,
            audit,
            jobs,
            service_name: config.telemetry.service_name.clone(),
            api_limit: rate_limit::config(&config.limits, config.http.trusted_proxy_hops),
            trusted_proxy_hops: config.http.trusted_proxy_hops,
        }));
        tokio::spawn(maintain(state.clone(), MAINTENANCE_INTERVAL));
        Ok(state)
    }
}

impl AppState {
    /// What runs the jobs: the mailer, and the other services jobs use.
    pub fn job_runner(&self, mailer: Arc<dyn Mailer>) -> JobRunner {
        JobRunner {
            mailer,
            service_name: self.service_name.clone(),
        }
    }
}

/// Keeps memory and tables bounded: forgets rate-limit entries that have recovered, deletes
/// tokens past their expiry and old finished jobs.
async fn maintain(state: AppState, every: Duration) {
    // The first round comes one interval after start-up, not during it.
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        state.auth.limiter.retain_recent();
        state.api_limit.limiter().retain_recent();
        state.api_limit.limiter().shrink_to_fit();
        let purged = async {
            let tokens = state.auth.sessions.purge_expired().await?;
            let keys = state.tasks.repo.purge_expired_keys().await?;
            let jobs = (state.jobs.queue)
                .purge_done(chrono::Utc::now() - DONE_JOB_RETENTION)
                .await?;
            Ok::<_, error::AppError>(tokens + keys + jobs)
        };
        match purged.await {
            Ok(0) => {}
            Ok(purged) => tracing::debug!(
                purged,
                "deleted expired tokens and idempotency keys, and old finished jobs"
            ),
            Err(err) => tracing::warn!(error = %err, "could not delete expired rows"),
        }
    }
}

/// The whole application as a router: what `main` serves and what tests drive.
pub fn app(state: AppState, config: &config::HttpConfig) -> Router {
    http::router(state, config)
}
