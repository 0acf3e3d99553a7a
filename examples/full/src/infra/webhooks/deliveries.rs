//! [`DeliveryStore`] in Postgres: deliveries fanned out with their jobs, attempts recorded
//! with the endpoint's failure streak, replays and abandoned deliveries.

use std::collections::HashMap;

use async_trait::async_trait;
use tracing::instrument;
use uuid::Uuid;

use super::{PgWebhookStore, corrupt, excerpt};
use crate::{
    app::webhooks::{
        AttemptRecord, AttemptResult, DeliverWebhook, Delivery, DeliveryStatus, DeliveryStore,
        DeliveryTarget, EventType, Replayed,
    },
    domain::webhook::WebhookSecret,
    error::AppError,
    infra::postgres::stored,
};

#[async_trait]
impl DeliveryStore for PgWebhookStore {
    #[instrument(name = "webhook_deliveries.fan_out", skip_all, fields(db.system.name = "postgresql"))]
    async fn fan_out(
        &self,
        event_id: Uuid,
        owner: Uuid,
        event_type: EventType,
        body: &serde_json::Value,
    ) -> Result<usize, AppError> {
        let mut tx = self.0.begin().await?;
        let created = sqlx::query_scalar!(
            "INSERT INTO webhook_deliveries (id, endpoint_id, event_id, event_type, payload)
             SELECT gen_random_uuid(), id, $2, $3, $4
             FROM webhook_endpoints
             WHERE owner_id = $1 AND disabled_at IS NULL AND $3 = ANY(event_types)
             ON CONFLICT (event_id, endpoint_id) DO NOTHING
             RETURNING id",
            owner,
            event_id,
            event_type.as_str(),
            body,
        )
        .fetch_all(&mut *tx)
        .await?;
        for delivery_id in &created {
            let job = DeliverWebhook::job(*delivery_id, owner);
            crate::infra::jobs::enqueue(&mut tx, &job).await?;
        }
        tx.commit().await?;
        Ok(created.len())
    }

    #[instrument(name = "webhook_deliveries.target", skip_all, fields(db.system.name = "postgresql"))]
    async fn target(&self, delivery_id: Uuid) -> Result<Option<DeliveryTarget>, AppError> {
        let Some(row) = sqlx::query!(
            r#"SELECT d.status, d.payload::text AS "body!", e.url, e.disabled_at, e.secret,
                      CASE WHEN e.previous_secret_until > now() THEN e.previous_secret END
                          AS previous_secret
               FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id
               WHERE d.id = $1"#,
            delivery_id
        )
        .fetch_optional(&self.0)
        .await?
        else {
            return Ok(None);
        };
        let mut secrets = Vec::new();
        for encoded in std::iter::once(row.secret).chain(row.previous_secret) {
            secrets
                .push(WebhookSecret::decode(&encoded).ok_or_else(|| {
                    corrupt(format!("endpoint secret of delivery {delivery_id}"))
                })?);
        }
        Ok(Some(DeliveryTarget {
            status: stored("webhook_deliveries.status", &row.status)?,
            url: row.url,
            enabled: row.disabled_at.is_none(),
            secrets,
            body: row.body,
        }))
    }

    #[instrument(name = "webhook_deliveries.record_attempt", skip_all, fields(db.system.name = "postgresql"))]
    async fn record_attempt(
        &self,
        result: &AttemptResult,
        disable_after: i32,
    ) -> Result<(), AppError> {
        let mut tx = self.0.begin().await?;
        let latency_ms = i32::try_from(result.latency.as_millis()).unwrap_or(i32::MAX);
        let status_code = result.status_code.and_then(|code| i16::try_from(code).ok());
        let error = result.error.as_deref().map(excerpt);
        sqlx::query!(
            "INSERT INTO webhook_attempts (delivery_id, status_code, error, latency_ms)
             VALUES ($1, $2, $3, $4)",
            result.delivery_id,
            status_code,
            error,
            latency_ms,
        )
        .execute(&mut *tx)
        .await?;
        let delivered = result.status == DeliveryStatus::Delivered;
        let endpoint = sqlx::query_scalar!(
            "UPDATE webhook_deliveries
             SET status = $2, delivered_at = CASE WHEN $3 THEN now() END
             WHERE id = $1
             RETURNING endpoint_id",
            result.delivery_id,
            result.status.as_str(),
            delivered,
        )
        .fetch_one(&mut *tx)
        .await?;
        if result.attempted {
            // A success resets the streak; a failure lengthens it and may disable the endpoint.
            sqlx::query!(
                "UPDATE webhook_endpoints
                 SET failure_streak = CASE WHEN $2 THEN 0 ELSE failure_streak + 1 END,
                     disabled_at = CASE
                         WHEN NOT $2 AND disabled_at IS NULL AND failure_streak + 1 >= $3::int
                         THEN now() ELSE disabled_at END,
                     disabled_reason = CASE
                         WHEN NOT $2 AND disabled_at IS NULL AND failure_streak + 1 >= $3::int
                         THEN 'disabled after ' || $3::int || ' failed attempts in a row'
                         ELSE disabled_reason END
                 WHERE id = $1",
                endpoint,
                delivered,
                disable_after,
            )
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    #[instrument(name = "webhook_deliveries.deliveries", skip_all, fields(db.system.name = "postgresql"))]
    async fn deliveries(
        &self,
        endpoint_id: Uuid,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<Delivery>, i64), AppError> {
        let rows = sqlx::query!(
            "SELECT id, event_type, status, created_at, delivered_at
             FROM webhook_deliveries WHERE endpoint_id = $1
             ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3",
            endpoint_id,
            limit,
            offset,
        )
        .fetch_all(&self.0)
        .await?;
        let total = sqlx::query_scalar!(
            r#"SELECT count(*) AS "count!" FROM webhook_deliveries WHERE endpoint_id = $1"#,
            endpoint_id
        )
        .fetch_one(&self.0)
        .await?;
        // Every attempt of the page in one statement, not one per delivery.
        let ids: Vec<Uuid> = rows.iter().map(|row| row.id).collect();
        let mut attempts: HashMap<Uuid, Vec<AttemptRecord>> = HashMap::new();
        for attempt in sqlx::query!(
            "SELECT delivery_id, attempted_at, status_code, error, latency_ms
             FROM webhook_attempts WHERE delivery_id = ANY($1) ORDER BY id",
            &ids
        )
        .fetch_all(&self.0)
        .await?
        {
            attempts
                .entry(attempt.delivery_id)
                .or_default()
                .push(AttemptRecord {
                    attempted_at: attempt.attempted_at,
                    status_code: attempt.status_code,
                    error: attempt.error,
                    latency_ms: attempt.latency_ms,
                });
        }
        let deliveries = rows
            .into_iter()
            .map(|row| {
                Ok(Delivery {
                    id: row.id,
                    event_type: stored("webhook_deliveries.event_type", &row.event_type)?,
                    status: stored("webhook_deliveries.status", &row.status)?,
                    created_at: row.created_at,
                    delivered_at: row.delivered_at,
                    attempts: attempts.remove(&row.id).unwrap_or_default(),
                })
            })
            .collect::<Result<_, AppError>>()?;
        Ok((deliveries, total))
    }

    #[instrument(name = "webhook_deliveries.replay", skip_all, fields(db.system.name = "postgresql"))]
    async fn replay(&self, endpoint_id: Uuid, delivery_id: Uuid) -> Result<Replayed, AppError> {
        let mut tx = self.0.begin().await?;
        let Some(found) = sqlx::query!(
            "SELECT d.status, e.owner_id
             FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id
             WHERE d.id = $1 AND d.endpoint_id = $2
             FOR UPDATE OF d",
            delivery_id,
            endpoint_id,
        )
        .fetch_optional(&mut *tx)
        .await?
        else {
            return Ok(Replayed::NoSuchDelivery);
        };
        if found.status != "dead" {
            return Ok(Replayed::NotDead);
        }
        sqlx::query!(
            "UPDATE webhook_deliveries SET status = 'pending' WHERE id = $1",
            delivery_id
        )
        .execute(&mut *tx)
        .await?;
        // Queue the delivery's job again with a fresh count of attempts, whether it is dead
        // or (its delivery given up on after it finished) done; a job still running is left
        // alone, and so is the delivery.
        let job = DeliverWebhook::job(delivery_id, found.owner_id);
        let queued = sqlx::query!(
            "INSERT INTO jobs (id, kind, key, payload, lane) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (key) DO UPDATE
             SET status = 'queued', attempts = 0, run_at = now(), last_error = NULL
             WHERE jobs.status IN ('dead', 'done')",
            Uuid::now_v7(),
            job.kind,
            job.key,
            job.payload,
            job.lane,
        )
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if queued == 0 {
            return Ok(Replayed::NotDead);
        }
        tx.commit().await?;
        Ok(Replayed::Yes)
    }

    #[instrument(name = "webhook_deliveries.abandon", skip_all, fields(db.system.name = "postgresql"))]
    async fn abandon(&self, delivery_id: Uuid, reason: &str) -> Result<(), AppError> {
        let mut tx = self.0.begin().await?;
        let abandoned = sqlx::query!(
            "UPDATE webhook_deliveries SET status = 'dead' WHERE id = $1 AND status = 'pending'",
            delivery_id
        )
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if abandoned == 1 {
            sqlx::query!(
                "INSERT INTO webhook_attempts (delivery_id, error, latency_ms) VALUES ($1, $2, 0)",
                delivery_id,
                excerpt(reason),
            )
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
