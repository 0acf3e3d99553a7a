//! Readiness: may this instance receive traffic now? It may when every required dependency
//! answers and it is not shutting down.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use async_trait::async_trait;
use futures::future::join_all;
use tokio::sync::Mutex;

use crate::domain::health::{DependencyStatus, HealthReport};

// ANCHOR: probe_port
/// A dependency that can be asked whether it is usable: `infra` implements it for each one
/// the service connects to.
#[async_trait]
pub trait Probe: Send + Sync {
    /// The name the readiness report uses, e.g. `postgres`.
    fn name(&self) -> &'static str;
    /// Whether requests fail without it. An optional dependency that is down makes the
    /// service degraded, still ready for traffic.
    fn required(&self) -> bool {
        true
    }
    /// `Err` explains why the dependency is unusable; it is logged, never sent to clients
    /// (it may name hosts).
    async fn check(&self) -> Result<(), String>;
}
// ANCHOR_END: probe_port

#[derive(Clone)]
pub struct Readiness {
    probes: Vec<Arc<dyn Probe>>,
    timeout: Duration,
    /// Set once, on the shutdown signal; shared by every clone.
    draining: Arc<AtomicBool>,
    /// The last report and when it was made. One check runs at a time; callers that arrive
    /// while it runs wait for it and share its report.
    last: Arc<Mutex<Option<(Instant, HealthReport)>>>,
}

impl Readiness {
    /// `timeout` bounds each probe, so a hung dependency makes readiness fail, not hang.
    pub fn new(probes: Vec<Arc<dyn Probe>>, timeout: Duration) -> Self {
        Self {
            probes,
            timeout,
            draining: Arc::default(),
            last: Arc::default(),
        }
    }

    /// These probes and `probe` too: a part of the service that watches itself (the job
    /// worker) joins the dependencies' probes once it is built.
    pub fn with(mut self, probe: Arc<dyn Probe>) -> Self {
        self.probes.push(probe);
        self
    }

    /// From now on the instance reports itself not ready, whatever its dependencies say, so
    /// load balancers stop sending it new requests while it finishes the ones it has.
    pub fn start_draining(&self) {
        self.draining.store(true, Ordering::Relaxed);
    }

    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Relaxed)
    }

    /// The dependencies' state, from a check that finished after this call began: one check
    /// at a time, shared by every caller that arrived while it ran. A flood of probes (the
    /// probe routes are outside the rate limit) then costs one database and one Redis round
    /// trip at a time, never a pool's worth of connections taken from real requests.
    pub async fn check(&self) -> HealthReport {
        let arrived = Instant::now();
        let mut last = self.last.lock().await;
        if let Some((finished, report)) = last.as_ref()
            && *finished > arrived
        {
            return report.clone();
        }
        let report = self.run_probes().await;
        *last = Some((Instant::now(), report.clone()));
        report
    }

    /// Runs every probe concurrently.
    async fn run_probes(&self) -> HealthReport {
        let results = join_all(self.probes.iter().map(|probe| async {
            let outcome = match tokio::time::timeout(self.timeout, probe.check()).await {
                Ok(Ok(())) => DependencyStatus::Up,
                Ok(Err(reason)) => {
                    tracing::warn!(dependency = probe.name(), reason, "dependency is down");
                    DependencyStatus::Down
                }
                Err(_) => {
                    tracing::warn!(
                        dependency = probe.name(),
                        timeout_ms = self.timeout.as_millis() as u64,
                        "dependency did not answer in time"
                    );
                    DependencyStatus::Down
                }
            };
            (probe.name(), outcome)
        }))
        .await;
        HealthReport {
            dependencies: results.into_iter().collect(),
            optional: self
                .probes
                .iter()
                .filter(|probe| !probe.required())
                .map(|probe| probe.name())
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests;
