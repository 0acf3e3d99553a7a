//! The queue's depth as gauges: `jobs.queue.depth` (by `job.state`: `due`, `scheduled`,
//! `running`, `dead`) and the wait of the oldest due job as `jobs.queue.oldest_due_age`.
//! Gauges are read synchronously when metrics are collected, so a task queries the queue
//! every so often and the gauges report its latest answer.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use opentelemetry::KeyValue;

use super::{JobQueue, QueueDepth};

pub fn observe_queue(queue: Arc<dyn JobQueue>, every: Duration) {
    let latest: Arc<Mutex<Option<QueueDepth>>> = Arc::default();
    let read = {
        let latest = latest.clone();
        move || {
            *latest
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
        }
    };
    let meter = opentelemetry::global::meter(env!("CARGO_PKG_NAME"));
    let depth = read.clone();
    meter
        .i64_observable_gauge("jobs.queue.depth")
        .with_unit("{job}")
        .with_description("Jobs in the queue, by state")
        .with_callback(move |observer| {
            if let Some(d) = depth() {
                for (state, count) in [
                    ("due", d.due),
                    ("scheduled", d.scheduled),
                    ("running", d.running),
                    ("dead", d.dead),
                ] {
                    observer.observe(count, &[KeyValue::new("job.state", state)]);
                }
            }
        })
        .build();
    meter
        .f64_observable_gauge("jobs.queue.oldest_due_age")
        .with_unit("s")
        .with_description("How long the oldest due job has waited for a worker")
        .with_callback(move |observer| {
            if let Some(d) = read() {
                observer.observe(d.oldest_due_secs, &[]);
            }
        })
        .build();
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            match queue.depth().await {
                Ok(depth) => {
                    *latest
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(depth);
                }
                Err(err) => tracing::debug!(error = %err, "could not measure the job queue"),
            }
        }
    });
}
