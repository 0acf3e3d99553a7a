//! The connections the service is built on, and the readiness probes that watch them.

use std::sync::Arc;

use sqlx::PgPool;

use crate::{
    app::readiness::{Probe, Readiness},
    config::Config,
    infra::postgres::{self, PostgresProbe},
};

use super::{READINESS_PROBE_TIMEOUT, SATURATION_SAMPLING};

pub struct Backends {
    pub db: PgPool,
}

impl Backends {
    // ANCHOR: connect
    /// Connects to every dependency, failing fast when a required one cannot be reached: a
    /// deploy with a wrong database URL should stop, not start an instance that cannot serve.
    /// An optional one (Redis) that does not answer is connected later, degraded meanwhile.
    /// Creates the database and applies migrations as configured.
    pub async fn connect(config: &Config) -> anyhow::Result<Self> {
        let backends = Self {
            db: postgres::connect(&config.database).await?,
        };
        let max = config.database.max_connections;
        postgres::observe_pool(&backends.db, max, SATURATION_SAMPLING);
        Ok(backends)
    }
    // ANCHOR_END: connect

    /// Connections made on first use, for tests of what happens when a dependency is down.
    pub fn lazy(config: &Config) -> anyhow::Result<Self> {
        Ok(Self {
            db: postgres::connect_lazy(&config.database)?,
        })
    }

    /// Readiness over every dependency, each probe bounded by [`READINESS_PROBE_TIMEOUT`].
    pub fn readiness(&self) -> Readiness {
        let probes: Vec<Arc<dyn Probe>> = vec![
            // Required: without Postgres nothing can be served.
            Arc::new(PostgresProbe(self.db.clone())),
        ];
        Readiness::new(probes, READINESS_PROBE_TIMEOUT)
    }
}
