//! Keeps memory and tables bounded: forgets rate-limit entries that have recovered, deletes
//! tokens past their expiry, accounts left unverified too long, old idempotency keys and old
//! finished jobs (and, with webhooks, old inbound message ids and rotated-out signing secrets).

use std::time::Duration;

use crate::{app::verification::UNVERIFIED_ACCOUNT_RETENTION, error::AppError, http::AppState};

use super::DONE_JOB_RETENTION;

/// Runs one round every `every`, the first one interval after start-up (not during it).
pub async fn maintain(state: AppState, every: Duration) {
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        state.auth.limiter.retain_recent();
        state.forget_idle_clients();
        match purge(&state).await {
            Ok(0) => {}
            Ok(purged) => tracing::debug!(purged, "deleted expired and old rows"),
            Err(err) => tracing::warn!(error = %err, "could not delete expired rows"),
        }
    }
}

async fn purge(state: &AppState) -> Result<u64, AppError> {
    let now = chrono::Utc::now();
    let mut purged = state.auth.sessions.purge_expired().await?;
    purged += state
        .auth
        .users
        .purge_unverified(now - UNVERIFIED_ACCOUNT_RETENTION)
        .await?;
    purged += state.tasks.repo.purge_expired_keys().await?;
    purged += state
        .jobs
        .queue
        .purge_done(now - DONE_JOB_RETENTION)
        .await?;
    purged += state.inbound.purge_old().await?;
    purged += state.webhooks.forget_expired_secrets().await?;
    Ok(purged)
}
