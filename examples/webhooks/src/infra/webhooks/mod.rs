//! The webhook stores in Postgres: endpoints here ([`EndpointStore`]), deliveries and their
//! attempts in [`deliveries`].

mod deliveries;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::PgPool;
use tracing::instrument;
use uuid::Uuid;

use super::postgres::stored;
use crate::{
    app::webhooks::{Endpoint, EndpointStore, EventType, NewEndpoint},
    domain::webhook::WebhookSecret,
    error::AppError,
};

pub struct PgWebhookStore(pub PgPool);

struct EndpointRow {
    id: Uuid,
    owner_id: Uuid,
    url: String,
    event_types: Vec<String>,
    failure_streak: i32,
    disabled_at: Option<DateTime<Utc>>,
    disabled_reason: Option<String>,
    created_at: DateTime<Utc>,
}

/// Columns have CHECK constraints or are written only by this code: a failure to parse means
/// schema and code disagree.
fn corrupt(err: String) -> AppError {
    AppError::Internal(anyhow::anyhow!(err))
}

impl TryFrom<EndpointRow> for Endpoint {
    type Error = AppError;

    fn try_from(row: EndpointRow) -> Result<Self, AppError> {
        Ok(Self {
            id: row.id,
            owner_id: row.owner_id,
            url: row.url,
            event_types: row
                .event_types
                .iter()
                .map(|t| stored("webhook_endpoints.event_types", t))
                .collect::<Result<_, _>>()?,
            enabled: row.disabled_at.is_none(),
            disabled_reason: row.disabled_reason,
            failure_streak: row.failure_streak,
            created_at: row.created_at,
        })
    }
}

fn type_names(types: &[EventType]) -> Vec<String> {
    types.iter().map(|t| t.as_str().to_owned()).collect()
}

/// Error texts are kept short: an attempt log is for people.
fn excerpt(text: &str) -> String {
    text.chars().filter(|c| *c != '\0').take(500).collect()
}

#[async_trait]
impl EndpointStore for PgWebhookStore {
    #[instrument(name = "webhook_endpoints.create_endpoint", skip_all, fields(db.system.name = "postgresql"))]
    async fn create_endpoint(
        &self,
        endpoint: &NewEndpoint,
        limit: i64,
    ) -> Result<Option<Endpoint>, AppError> {
        let mut tx = self.0.begin().await?;
        // Holding the owner's row serialises concurrent creations, so the limit holds.
        sqlx::query!(
            "SELECT id FROM users WHERE id = $1 FOR UPDATE",
            endpoint.owner_id
        )
        .fetch_optional(&mut *tx)
        .await?;
        let count = sqlx::query_scalar!(
            r#"SELECT count(*) AS "count!" FROM webhook_endpoints WHERE owner_id = $1"#,
            endpoint.owner_id
        )
        .fetch_one(&mut *tx)
        .await?;
        if count >= limit {
            return Ok(None);
        }
        let row = sqlx::query_as!(
            EndpointRow,
            "INSERT INTO webhook_endpoints (id, owner_id, url, event_types, secret)
             VALUES ($1, $2, $3, $4, $5)
             RETURNING id, owner_id, url, event_types, failure_streak, disabled_at,
                       disabled_reason, created_at",
            endpoint.id,
            endpoint.owner_id,
            endpoint.url,
            &type_names(&endpoint.event_types),
            endpoint.secret.encode(),
        )
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Some(row.try_into()?))
    }

    #[instrument(name = "webhook_endpoints.endpoints", skip_all, fields(db.system.name = "postgresql"))]
    async fn endpoints(&self, owner: Uuid) -> Result<Vec<Endpoint>, AppError> {
        sqlx::query_as!(
            EndpointRow,
            "SELECT id, owner_id, url, event_types, failure_streak, disabled_at, disabled_reason,
                    created_at
             FROM webhook_endpoints WHERE owner_id = $1 ORDER BY created_at, id",
            owner
        )
        .fetch_all(&self.0)
        .await?
        .into_iter()
        .map(Endpoint::try_from)
        .collect()
    }

    #[instrument(name = "webhook_endpoints.endpoint", skip_all, fields(db.system.name = "postgresql"))]
    async fn endpoint(&self, id: Uuid) -> Result<Option<Endpoint>, AppError> {
        sqlx::query_as!(
            EndpointRow,
            "SELECT id, owner_id, url, event_types, failure_streak, disabled_at, disabled_reason,
                    created_at
             FROM webhook_endpoints WHERE id = $1",
            id
        )
        .fetch_optional(&self.0)
        .await?
        .map(Endpoint::try_from)
        .transpose()
    }

    #[instrument(name = "webhook_endpoints.delete_endpoint", skip_all, fields(db.system.name = "postgresql"))]
    async fn delete_endpoint(&self, id: Uuid) -> Result<bool, AppError> {
        let deleted = sqlx::query!("DELETE FROM webhook_endpoints WHERE id = $1", id)
            .execute(&self.0)
            .await?;
        Ok(deleted.rows_affected() == 1)
    }

    #[instrument(name = "webhook_endpoints.rotate_secret", skip_all, fields(db.system.name = "postgresql"))]
    async fn rotate_secret(
        &self,
        id: Uuid,
        secret: &WebhookSecret,
        overlap_until: DateTime<Utc>,
    ) -> Result<bool, AppError> {
        let rotated = sqlx::query!(
            "UPDATE webhook_endpoints
             SET previous_secret = secret, previous_secret_until = $3, secret = $2
             WHERE id = $1",
            id,
            secret.encode(),
            overlap_until,
        )
        .execute(&self.0)
        .await?;
        Ok(rotated.rows_affected() == 1)
    }

    #[instrument(name = "webhook_endpoints.forget_expired_secrets", skip_all, fields(db.system.name = "postgresql"))]
    async fn forget_expired_secrets(&self) -> Result<u64, AppError> {
        let forgotten = sqlx::query!(
            "UPDATE webhook_endpoints
             SET previous_secret = NULL, previous_secret_until = NULL
             WHERE previous_secret_until <= now()"
        )
        .execute(&self.0)
        .await?;
        Ok(forgotten.rows_affected())
    }

    #[instrument(name = "webhook_endpoints.enable", skip_all, fields(db.system.name = "postgresql"))]
    async fn enable(&self, id: Uuid) -> Result<Option<Endpoint>, AppError> {
        sqlx::query_as!(
            EndpointRow,
            "UPDATE webhook_endpoints
             SET disabled_at = NULL, disabled_reason = NULL, failure_streak = 0
             WHERE id = $1
             RETURNING id, owner_id, url, event_types, failure_streak, disabled_at,
                       disabled_reason, created_at",
            id
        )
        .fetch_optional(&self.0)
        .await?
        .map(Endpoint::try_from)
        .transpose()
    }
}
