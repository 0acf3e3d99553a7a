//! [`SessionRepository`] in Postgres: refresh-token families and the access-token deny list.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use tracing::instrument;
use uuid::Uuid;

use crate::{
    app::{
        passwords::StoredHash,
        sessions::{NewRefreshToken, NewResetToken, Rotation, SessionRepository},
    },
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
    #[instrument(name = "sessions.insert_refresh", skip_all, fields(db.system.name = "postgresql"))]
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

    #[instrument(name = "sessions.rotate_refresh", skip_all, fields(db.system.name = "postgresql"))]
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

    #[instrument(name = "sessions.revoke_family_of", skip_all, fields(db.system.name = "postgresql"))]
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

    #[instrument(name = "sessions.void_access_tokens", skip_all, fields(db.system.name = "postgresql"))]
    async fn void_access_tokens(&self, user_id: Uuid) -> Result<(), AppError> {
        sqlx::query!(
            "UPDATE users SET session_epoch = session_epoch + 1 WHERE id = $1",
            user_id
        )
        .execute(&self.0)
        .await?;
        Ok(())
    }

    #[instrument(name = "sessions.end_all_sessions", skip_all, fields(db.system.name = "postgresql"))]
    async fn end_all_sessions(&self, user_id: Uuid) -> Result<(), AppError> {
        let mut tx = self.0.begin().await?;
        sqlx::query!(
            "UPDATE users SET session_epoch = session_epoch + 1 WHERE id = $1",
            user_id
        )
        .execute(&mut *tx)
        .await?;
        revoke_refresh_tokens(&mut tx, user_id).await?;
        tx.commit().await?;
        Ok(())
    }

    #[instrument(name = "sessions.deny_access", skip_all, fields(db.system.name = "postgresql"))]
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

    #[instrument(name = "sessions.purge_expired", skip_all, fields(db.system.name = "postgresql"))]
    async fn purge_expired(&self) -> Result<u64, AppError> {
        let denied = sqlx::query!("DELETE FROM revoked_access_tokens WHERE expires_at < now()")
            .execute(&self.0)
            .await?;
        let refresh = sqlx::query!("DELETE FROM refresh_tokens WHERE expires_at < now()")
            .execute(&self.0)
            .await?;
        let resets = sqlx::query!("DELETE FROM password_resets WHERE expires_at < now()")
            .execute(&self.0)
            .await?;
        Ok(denied.rows_affected() + refresh.rows_affected() + resets.rows_affected())
    }

    // ANCHOR: store_reset_token
    #[instrument(name = "sessions.store_reset_token", skip_all, fields(db.system.name = "postgresql"))]
    async fn store_reset_token(&self, reset: NewResetToken) -> Result<bool, AppError> {
        // No row lock on the account: the foreign key's share lock does not conflict with
        // the password update in `reset_password`, so a new request and a reset cannot
        // deadlock. A reset checks the account is enabled again.
        let done = sqlx::query!(
            "INSERT INTO password_resets (user_id, token_hash, expires_at)
             SELECT id, $2, $3 FROM users WHERE id = $1 AND disabled_at IS NULL
             ON CONFLICT (user_id) DO UPDATE
             SET token_hash = excluded.token_hash, expires_at = excluded.expires_at,
                 created_at = now()",
            reset.user_id,
            reset.hash,
            reset.expires_at,
        )
        .execute(&self.0)
        .await?;
        Ok(done.rows_affected() == 1)
    }
    // ANCHOR_END: store_reset_token

    // ANCHOR: reset_password
    async fn reset_password(
        &self,
        presented: &[u8],
        password: StoredHash,
    ) -> Result<Option<Uuid>, AppError> {
        let mut tx = self.0.begin().await?;
        let Some(reset) = sqlx::query!(
            r#"SELECT user_id, expires_at > now() AS "live!"
               FROM password_resets WHERE token_hash = $1"#,
            presented,
        )
        .fetch_optional(&mut *tx)
        .await?
        else {
            return Ok(None);
        };
        // The account's row is locked before the token's, the order every other change of an
        // account takes (a password change, a deletion), so none of them can deadlock this.
        let changed = reset.live
            && sqlx::query!(
                "UPDATE users
                 SET password_hash = $2, pepper_id = $3, session_epoch = session_epoch + 1,
                     email_verified_at = COALESCE(email_verified_at, now())
                 WHERE id = $1 AND disabled_at IS NULL",
                reset.user_id,
                password.phc,
                password.pepper_id,
            )
            .execute(&mut *tx)
            .await?
            .rows_affected()
                == 1;
        // Deleted whatever its state: a token works once, and a dead one goes at once. Gone
        // already means a concurrent reset used it, or a newer email or a change replaced it.
        let consumed = sqlx::query!(
            "DELETE FROM password_resets WHERE token_hash = $1",
            presented,
        )
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if !consumed {
            // Used or replaced meanwhile: the password stays as it was.
            tx.rollback().await?;
            return Ok(None);
        }
        if !changed {
            // Expired, or the account is disabled: only the token's deletion stands.
            tx.commit().await?;
            return Ok(None);
        }
        revoke_refresh_tokens(&mut tx, reset.user_id).await?;
        tx.commit().await?;
        Ok(Some(reset.user_id))
    }
    // ANCHOR_END: reset_password

    #[instrument(name = "sessions.change_password", skip_all, fields(db.system.name = "postgresql"))]
    async fn change_password(
        &self,
        user_id: Uuid,
        password: StoredHash,
    ) -> Result<Option<i32>, AppError> {
        let mut tx = self.0.begin().await?;
        let Some(epoch) = sqlx::query_scalar!(
            "UPDATE users
             SET password_hash = $2, pepper_id = $3, session_epoch = session_epoch + 1
             WHERE id = $1 AND disabled_at IS NULL
             RETURNING session_epoch",
            user_id,
            password.phc,
            password.pepper_id,
        )
        .fetch_optional(&mut *tx)
        .await?
        else {
            return Ok(None);
        };
        revoke_refresh_tokens(&mut tx, user_id).await?;
        // A reset link sent before the change must not undo it.
        sqlx::query!("DELETE FROM password_resets WHERE user_id = $1", user_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Some(epoch))
    }
}

/// Revokes every live refresh token of the user, inside a transaction that has already
/// bumped the account's session epoch (which holds its row, ordering this after any login
/// or refresh in flight).
async fn revoke_refresh_tokens(conn: &mut PgConnection, user_id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE refresh_tokens SET revoked_at = now()
         WHERE user_id = $1 AND revoked_at IS NULL",
        user_id,
    )
    .execute(conn)
    .await?;
    Ok(())
}
