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
        limits::AuthLimiter,
        passwords::Passwords,
        readiness::{Probe, Readiness},
        sessions::SessionRepository,
        tasks::TaskService,
        tokens::Tokens,
        users::{UserAdmin, UserRepository},
    },
    config::Config,
    http::rate_limit::{self, ApiLimit},
    infra::{
        audit::PgSecurityEventStore, postgres::PostgresProbe, sessions::PgSessionRepository,
        tasks::PgTaskRepository, users::PgUserRepository,
    },
};

/// Each readiness probe gets this long before its dependency counts as down.
pub const READINESS_PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// How often expired tokens are deleted and idle rate-limiter entries forgotten.
pub const MAINTENANCE_INTERVAL: Duration = Duration::from_secs(60);

/// What handlers share: the application's services and the handles needed to shut down.
#[derive(Clone)]
pub struct AppState {
    pub readiness: Readiness,
    pub db: PgPool,
    pub auth: AuthService,
    pub users: UserAdmin,
    pub tasks: TaskService,
    pub audit: AuditLog,
    /// The per-client-IP limit on the whole API.
    pub api_limit: ApiLimit,
    pub trusted_proxy_hops: usize,
}

impl AppState {
    /// Connects to every dependency (failing fast when one cannot be reached) and builds the
    /// services on top of them.
    pub async fn connect(config: &Config) -> anyhow::Result<Self> {
        let db = infra::postgres::connect(&config.database).await?;
        infra::postgres::observe_pool(&db, config.database.max_connections);
        let probes: Vec<Arc<dyn Probe>> = vec![
            // Every dependency the service cannot serve requests without.
            Arc::new(PostgresProbe(db.clone())),
            Arc::new(infra::redis::RedisProbe(
                infra::redis::connect(&config.redis).await?,
            )),
        ];
        let readiness = Readiness::new(probes, READINESS_PROBE_TIMEOUT);
        Self::assemble(config, db, readiness).await
    }

    /// Builds the services on a pool and probes that already exist (tests pass their own),
    /// and starts the background tasks: the audit writer and periodic maintenance.
    pub async fn assemble(
        config: &Config,
        db: PgPool,
        readiness: Readiness,
    ) -> anyhow::Result<Self> {
        let users: Arc<dyn UserRepository> = Arc::new(PgUserRepository(db.clone()));
        let sessions: Arc<dyn SessionRepository> = Arc::new(PgSessionRepository(db.clone()));
        let audit = AuditLog::start(
            Arc::new(PgSecurityEventStore(db.clone())),
            config.auth.login_failure_alert_per_minute,
        );
        let auth = AuthService {
            users: users.clone(),
            sessions: sessions.clone(),
            passwords: Passwords::new(&config.auth).await?,
            tokens: Tokens::new(&config.auth),
            limiter: AuthLimiter::new(&config.limits),
            audit: audit.clone(),
        };
        let tasks = TaskService {
            repo: Arc::new(PgTaskRepository(db.clone())),
        };
        let state = Self {
            readiness,
            db,
            users: UserAdmin {
                users,
                sessions,
                audit: audit.clone(),
            },
            auth,
            tasks,
            audit,
            api_limit: rate_limit::config(&config.limits, config.http.trusted_proxy_hops),
            trusted_proxy_hops: config.http.trusted_proxy_hops,
        };
        tokio::spawn(maintain(state.clone(), MAINTENANCE_INTERVAL));
        Ok(state)
    }
}

/// Keeps memory and tables bounded: forgets rate-limit entries that have recovered and
/// deletes tokens past their expiry.
async fn maintain(state: AppState, every: Duration) {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        state.auth.limiter.retain_recent();
        state.api_limit.limiter().retain_recent();
        state.api_limit.limiter().shrink_to_fit();
        let purged = match state.auth.sessions.purge_expired().await {
            Ok(tokens) => state
                .tasks
                .repo
                .purge_expired_keys()
                .await
                .map(|keys| tokens + keys),
            Err(err) => Err(err),
        };
        match purged {
            Ok(0) => {}
            Ok(purged) => tracing::debug!(purged, "deleted expired tokens and idempotency keys"),
            Err(err) => tracing::warn!(error = %err, "could not delete expired rows"),
        }
    }
}

/// The whole application as a router: what `main` serves and what tests drive.
pub fn app(state: AppState, config: &config::HttpConfig) -> Router {
    http::router(state, config)
}
