//! The security audit log: login successes and failures, refresh-token reuse, rate-limit hits,
//! account changes. Recording never waits: events go into a bounded channel and one writer
//! task stores them in batches. When the channel is full an event is dropped and counted
//! rather than slowing a request down.
//!
//! Recording also watches failed logins: when they reach
//! `AUDIT_LOGIN_FAILURE_ALERT_PER_MINUTE` within a minute it records a `login_failure_spike`
//! event, logs a warning with `alert = "login_failure_spike"` and counts it in the
//! `security.alerts` metric, any of which an alert rule can match.

use std::{
    net::IpAddr,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use async_trait::async_trait;
use opentelemetry::{KeyValue, metrics::Counter};
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use crate::error::AppError;

/// How many events may wait for the writer before new ones are dropped.
const QUEUE: usize = 4096;
/// The most events stored in one round trip.
const BATCH: usize = 256;

/// Where a request came from, for the audit log and the per-client limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub client_ip: IpAddr,
    pub request_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SecurityEvent {
    pub kind: &'static str,
    pub user_id: Option<Uuid>,
    pub email: Option<String>,
    pub client_ip: Option<String>,
    pub request_id: Option<String>,
    pub detail: serde_json::Value,
}

impl SecurityEvent {
    pub fn new(kind: &'static str) -> Self {
        Self {
            kind,
            user_id: None,
            email: None,
            client_ip: None,
            request_id: None,
            detail: serde_json::json!({}),
        }
    }

    pub fn user(mut self, id: Uuid) -> Self {
        self.user_id = Some(id);
        self
    }

    pub fn email(mut self, email: &str) -> Self {
        self.email = Some(email.to_owned());
        self
    }

    pub fn origin(mut self, origin: &Origin) -> Self {
        self.client_ip = Some(origin.client_ip.to_string());
        self.request_id.clone_from(&origin.request_id);
        self
    }

    pub fn detail(mut self, detail: serde_json::Value) -> Self {
        self.detail = detail;
        self
    }
}

/// Where events are stored; `infra::audit` implements it in Postgres.
#[async_trait]
pub trait SecurityEventStore: Send + Sync {
    async fn insert(&self, events: &[SecurityEvent]) -> Result<(), AppError>;
}

enum Message {
    Event(SecurityEvent),
    /// Answered once every event queued before it is stored.
    Flush(oneshot::Sender<()>),
}

/// The handle requests record events through; cheap to clone.
#[derive(Clone)]
pub struct AuditLog {
    tx: mpsc::Sender<Message>,
    dropped: Counter<u64>,
    alerts: Counter<u64>,
    /// Watches failed logins as they are recorded, before the queue, so a flood that fills
    /// the queue cannot hide the spike.
    detector: Arc<Mutex<SpikeDetector>>,
}

impl AuditLog {
    /// Starts the writer task, which ends when every handle is dropped.
    pub fn start(store: Arc<dyn SecurityEventStore>, login_failure_alert_per_minute: u32) -> Self {
        let (tx, rx) = mpsc::channel(QUEUE);
        let meter = opentelemetry::global::meter(env!("CARGO_PKG_NAME"));
        let events = meter
            .u64_counter("security.events")
            .with_description("Security events recorded, by kind")
            .build();
        tokio::spawn(write(rx, store, events));
        let dropped = meter
            .u64_counter("security.events.dropped")
            .with_description("Security events dropped because the audit queue was full")
            .build();
        let alerts = meter
            .u64_counter("security.alerts")
            .with_description("Security alerts raised, by kind")
            .build();
        // Exported from zero: an alert on their rate sees the first increment.
        dropped.add(0, &[]);
        alerts.add(0, &[KeyValue::new("kind", "login_failure_spike")]);
        Self {
            tx,
            dropped,
            alerts,
            detector: Arc::new(Mutex::new(SpikeDetector::new(
                login_failure_alert_per_minute,
                Duration::from_secs(60),
            ))),
        }
    }

    // ANCHOR: record
    /// Queues an event without waiting; a failed login also feeds the spike detector.
    pub fn record(&self, event: SecurityEvent) {
        let spike = if event.kind == "login_failed" {
            let mut detector = self
                .detector
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            detector
                .observe(Instant::now())
                .map(|failures| (failures, detector.threshold))
        } else {
            None
        };
        self.enqueue(event);
        if let Some((failures, threshold)) = spike {
            self.alerts
                .add(1, &[KeyValue::new("kind", "login_failure_spike")]);
            tracing::warn!(
                alert = "login_failure_spike",
                failures,
                threshold,
                "failed logins in the last minute crossed the alert threshold"
            );
            self.enqueue(
                SecurityEvent::new("login_failure_spike").detail(serde_json::json!({
                    "failures": failures,
                    "threshold": threshold,
                    "window_secs": 60,
                })),
            );
        }
    }

    fn enqueue(&self, event: SecurityEvent) {
        if let Err(err) = self.tx.try_send(Message::Event(event)) {
            self.dropped.add(1, &[]);
            tracing::warn!(error = %err, "security event dropped: the audit queue is full");
        }
    }
    // ANCHOR_END: record

    /// Waits until every event recorded so far is stored (tests, and shutdown).
    pub async fn flush(&self) {
        let (done, stored) = oneshot::channel();
        if self.tx.send(Message::Flush(done)).await.is_ok() {
            let _ = stored.await;
        }
    }
}

async fn write(
    mut rx: mpsc::Receiver<Message>,
    store: Arc<dyn SecurityEventStore>,
    events: Counter<u64>,
) {
    let mut messages = Vec::with_capacity(BATCH);
    let mut batch = Vec::with_capacity(BATCH);
    let mut flushed = Vec::new();
    while rx.recv_many(&mut messages, BATCH).await > 0 {
        for message in messages.drain(..) {
            match message {
                Message::Event(event) => {
                    events.add(1, &[KeyValue::new("kind", event.kind)]);
                    batch.push(event);
                }
                Message::Flush(done) => flushed.push(done),
            }
        }
        if !batch.is_empty() {
            if let Err(err) = store.insert(&batch).await {
                tracing::error!(error = %err, events = batch.len(), "could not store security events");
            }
            batch.clear();
        }
        for done in flushed.drain(..) {
            let _ = done.send(());
        }
    }
}

// ANCHOR: spike_detector
/// Counts failures in fixed windows and fires once per window when the count reaches the
/// threshold.
#[derive(Debug)]
struct SpikeDetector {
    threshold: u32,
    window: Duration,
    started: Option<Instant>,
    count: u32,
}

impl SpikeDetector {
    fn new(threshold: u32, window: Duration) -> Self {
        Self {
            threshold: threshold.max(1),
            window,
            started: None,
            count: 0,
        }
    }

    /// Records one failure at `now`; returns the count when this failure reaches the
    /// threshold.
    fn observe(&mut self, now: Instant) -> Option<u32> {
        match self.started {
            Some(started) if now.duration_since(started) < self.window => self.count += 1,
            _ => {
                self.started = Some(now);
                self.count = 1;
            }
        }
        (self.count == self.threshold).then_some(self.count)
    }
}
// ANCHOR_END: spike_detector

#[cfg(test)]
mod tests;
