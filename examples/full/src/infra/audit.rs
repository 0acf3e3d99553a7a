//! [`SecurityEventStore`] in Postgres: one transaction per batch.

use async_trait::async_trait;
use sqlx::PgPool;
use tracing::instrument;

use crate::{
    app::audit::{SecurityEvent, SecurityEventStore},
    error::AppError,
};

pub struct PgSecurityEventStore(pub PgPool);

#[async_trait]
impl SecurityEventStore for PgSecurityEventStore {
    #[instrument(name = "security_events.insert", skip_all, fields(db.system.name = "postgresql"))]
    async fn insert(&self, events: &[SecurityEvent]) -> Result<(), AppError> {
        let mut tx = self.0.begin().await?;
        // Text from requests may hold NUL, which Postgres refuses in text columns: one such
        // event must not sink the batch.
        let clean = |text: &Option<String>| text.as_ref().map(|t| t.replace('\0', "\u{fffd}"));
        for event in events {
            sqlx::query!(
                "INSERT INTO security_events (kind, user_id, email, client_ip, request_id, detail)
                 VALUES ($1, $2, $3, $4, $5, $6)",
                event.kind,
                event.user_id,
                clean(&event.email),
                clean(&event.client_ip),
                clean(&event.request_id),
                event.detail,
            )
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
