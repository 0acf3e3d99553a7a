//! A task service built on Axum and SQLx
//!
//! Layers: `http` (the edge) calls `app` (use cases), which works on `domain` (plain types and
//! rules) and on traits that `infra` (Postgres) implements. This file wires them together.

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
    app::readiness::{Probe, Readiness},
    config::Config,
    infra::postgres::PostgresProbe,
};

/// Each readiness probe gets this long before its dependency counts as down.
pub const READINESS_PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// What handlers share: the application's services and the handles needed to shut down.
#[derive(Clone)]
pub struct AppState {
    pub readiness: Readiness,
    pub db: PgPool,
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
        ];
        let readiness = Readiness::new(probes, READINESS_PROBE_TIMEOUT);
        Ok(Self { readiness, db })
    }
}

/// The whole application as a router: what `main` serves and what tests drive.
pub fn app(state: AppState, config: &config::HttpConfig) -> Router {
    http::router(state, config)
}
