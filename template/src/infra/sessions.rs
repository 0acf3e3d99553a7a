//! [`SessionRepository`] in Postgres: refresh-token families and the access-token deny list.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::{
    app::sessions::{NewRefreshToken, Rotation, SessionRepository},
    error::AppError,
};

pub struct PgSessionRepository(pub PgPool);

/// Serialises the changes to one refresh-token family until the transaction ends. Without it,
/// a revocation whose statement began while a rotation was in flight would miss the successor
/// that rotation inserts, and the family would live on in it. (Unrelated families whose keys
/// collide only wait for each other.)
async fn lock_family(conn: &mut PgConnection, family_id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query!(
        r#"SELECT true AS "locked!"
           FROM pg_advisory_xact_lock(hashtextextended('refresh-family:' || $1::uuid::text, 0))"#,
        family_id,
    )
    .fetch_one(conn)
    .await?;
    Ok(())
}

#[async_trait]
impl SessionRepository for PgSessionRepository {
    async fn insert_refresh(
        &self,
        token: NewRefreshToken,
        session_epoch: i32,
    ) -> Result<bool, AppError> {
        // Inserted only while the account is enabled and at the epoch the login read; the
        // FOR SHARE lock orders this against `end_all_sessions`.
        let done = sqlx::query!(
            "INSERT INTO refresh_tokens (id, family_id, user_id, token_hash, expires_at)
             SELECT $1, $2, id, $4, $5 FROM users
             WHERE id = $3 AND session_epoch = $6 AND disabled_at IS NULL
             FOR SHARE",
            token.id,
            token.family_id,
            token.user_id,
            token.hash,
            token.expires_at,
            session_epoch,
        )
        .execute(&self.0)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn rotate_refresh(
        &self,
        presented: &[u8],
        next: NewRefreshToken,
        family_max_age: chrono::Duration,
    ) -> Result<Rotation, AppError> {
        let mut tx = self.0.begin().await?;
        // Locks are taken user row first (the order `end_all_sessions` uses), then the
        // family (the order `revoke_family_of` uses), then the token row, so none of them
        // deadlock.
        let Some(owner) = sqlx::query!(
            "SELECT user_id, family_id FROM refresh_tokens WHERE token_hash = $1",
            presented,
        )
        .fetch_optional(&mut *tx)
        .await?
        else {
            return Ok(Rotation::Unknown);
        };
        let Some(account) = sqlx::query!(
            r#"SELECT session_epoch, disabled_at IS NOT NULL AS "disabled!"
               FROM users WHERE id = $1 FOR SHARE"#,
            owner.user_id,
        )
        .fetch_optional(&mut *tx)
        .await?
        else {
            return Ok(Rotation::Dead);
        };
        lock_family(&mut tx, owner.family_id).await?;
        // ANCHOR: reuse_detection
        // The row lock serialises concurrent uses of one token: the second waits, then sees
        // `used_at` set and is treated as a replay.
        let Some(token) = sqlx::query!(
            "SELECT family_id, user_id, expires_at, family_started_at, used_at, revoked_at
             FROM refresh_tokens WHERE token_hash = $1 FOR UPDATE",
            presented,
        )
        .fetch_optional(&mut *tx)
        .await?
        else {
            return Ok(Rotation::Unknown);
        };
        if token.used_at.is_some() || account.disabled {
            sqlx::query!(
                "UPDATE refresh_tokens SET revoked_at = now()
                 WHERE family_id = $1 AND revoked_at IS NULL",
                token.family_id,
            )
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            return Ok(if account.disabled {
                Rotation::Dead
            } else {
                Rotation::Reused {
                    user_id: token.user_id,
                    family_id: token.family_id,
                }
            });
        }
        // ANCHOR_END: reuse_detection
        let now = Utc::now();
        let family_ends = token.family_started_at + family_max_age;
        if token.revoked_at.is_some() || token.expires_at <= now || family_ends <= now {
            return Ok(Rotation::Dead);
        }
        // The successor never outlives its family.
        let expires_at = next.expires_at.min(family_ends);
        sqlx::query!(
            "UPDATE refresh_tokens SET used_at = now() WHERE token_hash = $1",
            presented,
        )
        .execute(&mut *tx)
        .await?;
        sqlx::query!(
            "INSERT INTO refresh_tokens
                 (id, family_id, user_id, token_hash, expires_at, family_started_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
            next.id,
            token.family_id,
            token.user_id,
            next.hash,
            expires_at,
            token.family_started_at,
        )
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Rotation::Rotated {
            user_id: token.user_id,
            family_id: token.family_id,
            session_epoch: account.session_epoch,
            expires_at,
        })
    }

    async fn revoke_family_of(&self, user_id: Uuid, presented: &[u8]) -> Result<(), AppError> {
        let mut tx = self.0.begin().await?;
        let Some(family_id) = sqlx::query_scalar!(
            "SELECT family_id FROM refresh_tokens WHERE token_hash = $1 AND user_id = $2",
            presented,
            user_id,
        )
        .fetch_optional(&mut *tx)
        .await?
        else {
            return Ok(());
        };
        // Once the family is ours, a rotation in flight has committed its successor, and
        // this statement's snapshot (taken after the lock) sees it.
        lock_family(&mut tx, family_id).await?;
        sqlx::query!(
            "UPDATE refresh_tokens SET revoked_at = now()
             WHERE family_id = $1 AND revoked_at IS NULL",
            family_id,
        )
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn void_access_tokens(&self, user_id: Uuid) -> Result<(), AppError> {
        sqlx::query!(
            "UPDATE users SET session_epoch = session_epoch + 1 WHERE id = $1",
            user_id
        )
        .execute(&self.0)
        .await?;
        Ok(())
    }

    async fn end_all_sessions(&self, user_id: Uuid) -> Result<(), AppError> {
        let mut tx = self.0.begin().await?;
        sqlx::query!(
            "UPDATE users SET session_epoch = session_epoch + 1 WHERE id = $1",
            user_id
        )
        .execute(&mut *tx)
        .await?;
        sqlx::query!(
            "UPDATE refresh_tokens SET revoked_at = now()
             WHERE user_id = $1 AND revoked_at IS NULL",
            user_id,
        )
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn deny_access(&self, jti: Uuid, expires_at: DateTime<Utc>) -> Result<(), AppError> {
        sqlx::query!(
            "INSERT INTO revoked_access_tokens (jti, expires_at) VALUES ($1, $2)
             ON CONFLICT (jti) DO NOTHING",
            jti,
            expires_at,
        )
        .execute(&self.0)
        .await?;
        Ok(())
    }

    async fn purge_expired(&self) -> Result<u64, AppError> {
        let denied = sqlx::query!("DELETE FROM revoked_access_tokens WHERE expires_at < now()")
            .execute(&self.0)
            .await?;
        let refresh = sqlx::query!("DELETE FROM refresh_tokens WHERE expires_at < now()")
            .execute(&self.0)
            .await?;
        Ok(denied.rows_affected() + refresh.rows_affected())
    }
}
