//! Start-up: the one way the service is put together, for `main` and for the tests alike.
//!
//! [`Application::build`] connects to the backends, assembles the services and binds the
//! listener; [`Application::run_until_stopped`] serves, runs the job worker, and on the stop
//! signal drains both, stores the audit events still queued and closes the pool.

mod backends;
pub mod commands;
mod maintenance;
pub mod ports;
mod redis;
pub mod services;
mod webhooks;

use std::{future::Future, net::SocketAddr, sync::Arc, time::Duration};

use anyhow::Context;
use futures::FutureExt;
use sqlx::PgPool;
use tokio::net::TcpListener;

pub use backends::Backends;

use crate::{
    app::{jobs::JobRunner, mail::Mailer},
    config::Config,
    http::{self, AppState, server},
    infra::mail,
    telemetry,
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

/// How long the audit events still queued at shutdown may take to be stored.
const AUDIT_FLUSH_TIMEOUT: Duration = Duration::from_secs(5);

// ANCHOR: application
/// The service, built and ready to run.
pub struct Application {
    config: Config,
    listener: TcpListener,
    /// Prometheus' scrape listener, when `METRICS_PROMETHEUS=true`.
    scrape: Option<TcpListener>,
    state: AppState,
    db: PgPool,
    mailer: Arc<dyn Mailer>,
}

impl Application {
    /// Connects to every dependency (failing fast when one cannot be reached), builds the
    /// services and binds `APP_ADDR`.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let backends = Backends::connect(&config).await?;
        Self::on(config, backends).await
    }

    /// Builds the service on backends that exist already: tests pass connections to
    /// dependencies that are down.
    pub async fn on(config: Config, backends: Backends) -> anyhow::Result<Self> {
        let ports = ports::Ports::connected(&backends).await;
        let services = services::assemble(&config, ports).await?;
        services.jobs.observe_queue(SATURATION_SAMPLING);
        let state = AppState::new(services, &config);
        tokio::spawn(maintenance::maintain(state.clone(), MAINTENANCE_INTERVAL));
        let listener = TcpListener::bind(config.http.addr)
            .await
            .with_context(|| format!("could not listen on {} (APP_ADDR)", config.http.addr))?;
        let scrape = match config.telemetry.prometheus_addr {
            Some(addr) => Some(TcpListener::bind(addr).await.with_context(|| {
                format!("could not listen on {addr} (METRICS_PROMETHEUS_ADDR)")
            })?),
            None => None,
        };
        Ok(Self {
            mailer: mail::from_config(&config.mail)?,
            db: backends.db,
            config,
            listener,
            scrape,
            state,
        })
    }
    // ANCHOR_END: application

    /// Sends the service's email through `mailer` instead of the configured transport.
    pub fn with_mailer(mut self, mailer: Arc<dyn Mailer>) -> Self {
        self.mailer = mailer;
        self
    }

    /// The address the listener is bound to (with `APP_ADDR` port 0, the one the system chose).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The address Prometheus scrapes, when `METRICS_PROMETHEUS=true`.
    pub fn scrape_addr(&self) -> Option<SocketAddr> {
        self.scrape.as_ref().and_then(|l| l.local_addr().ok())
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    pub fn db(&self) -> &PgPool {
        &self.db
    }

    /// What runs the jobs: every kind of job this service has, with this application's mailer.
    pub fn job_runner(&self) -> JobRunner {
        services::job_runner(&self.state, self.mailer.clone())
    }

    // ANCHOR: run
    /// Serves until `stop` completes. Then readiness reports `draining` for
    /// `SHUTDOWN_READINESS_DELAY_MS` while the server still accepts (load balancers notice),
    /// the server stops accepting and lets in-flight requests finish (at most
    /// `SHUTDOWN_DRAIN_TIMEOUT_MS`), and the worker stops claiming and drains its jobs (at most
    /// `JOBS_DRAIN_TIMEOUT_MS`). Last, the queued security events are stored and the pool
    /// closes.
    pub async fn run_until_stopped(
        mut self,
        stop: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let stop = stop.shared();
        tracing::info!(addr = %self.listener.local_addr()?, "listening");
        if let Some(listener) = self.scrape.take() {
            serve_scrapes(listener, stop.clone());
        }
        let worker = self.config.jobs.worker.then(|| {
            let runner = self.job_runner();
            self.state
                .jobs
                .start_worker(runner, &self.config.jobs, stop.clone())
        });
        let stop_accepting = server::after_readiness_drain(
            stop,
            self.state.readiness.clone(),
            self.config.http.readiness_delay,
        );
        server::serve(
            self.listener,
            http::router(self.state.clone(), &self.config.http),
            stop_accepting,
            self.config.http.drain_timeout,
        )
        .await?;
        if let Some(worker) = worker
            && let Err(err) = worker.await
        {
            tracing::error!(error = %err, "the job worker failed");
        }
        if tokio::time::timeout(AUDIT_FLUSH_TIMEOUT, self.state.audit.flush())
            .await
            .is_err()
        {
            tracing::warn!("security events still queued at shutdown were not stored");
        }
        self.db.close().await;
        tracing::info!("stopped");
        Ok(())
    }
    // ANCHOR_END: run
}

/// Serves `GET /metrics` on `listener` until `stop`, beside the API.
fn serve_scrapes(listener: TcpListener, stop: impl Future<Output = ()> + Send + 'static) {
    // Without `init` (tests that do not install telemetry) the registry is empty.
    let registry = telemetry::prometheus_registry().unwrap_or_default();
    let router = http::prometheus::router(registry);
    tokio::spawn(async move {
        let serving = axum::serve(listener, router).with_graceful_shutdown(stop);
        if let Err(err) = serving.await {
            tracing::error!(error = %err, "the Prometheus scrape listener failed");
        }
    });
}
