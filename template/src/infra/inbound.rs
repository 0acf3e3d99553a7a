//! [`InboundStore`] in Postgres: the primary key (source, message id) makes a message count
//! once, and its processing job is enqueued in the same transaction.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::PgPool;
use tracing::instrument;

use crate::{
    app::{
        inbound::{InboundMessage, InboundStore},
        jobs::Job,
    },
    error::AppError,
};

pub struct PgInboundStore(pub PgPool);

#[async_trait]
impl InboundStore for PgInboundStore {
    // ANCHOR: record_once
    #[instrument(name = "inbound.record", skip_all, fields(db.system.name = "postgresql"))]
    async fn record(&self, message: &InboundMessage, outbox: &[Job]) -> Result<bool, AppError> {
        let mut tx = self.0.begin().await?;
        let inserted = sqlx::query!(
            "INSERT INTO inbound_webhooks (source, message_id, payload) VALUES ($1, $2, $3)
             ON CONFLICT (source, message_id) DO NOTHING",
            message.source,
            message.message_id,
            message.payload,
        )
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if inserted {
            for job in outbox {
                super::jobs::enqueue(&mut tx, job).await?;
            }
        }
        tx.commit().await?;
        Ok(inserted)
    }
    // ANCHOR_END: record_once

    #[instrument(name = "inbound.purge_before", skip_all, fields(db.system.name = "postgresql"))]
    async fn purge_before(&self, before: DateTime<Utc>) -> Result<u64, AppError> {
        Ok(sqlx::query!(
            "DELETE FROM inbound_webhooks WHERE received_at < $1",
            before
        )
        .execute(&self.0)
        .await?
        .rows_affected())
    }
}
