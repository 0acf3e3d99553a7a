//! [`UserRepository`] in Postgres. Queries are checked against the schema at compile time
//! (`sqlx::query!`; offline data in `.sqlx/`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::PgPool;
use tracing::instrument;
use uuid::Uuid;

use super::postgres::conflict_on;
use crate::{
    app::{
        jobs::Job,
        passwords::StoredHash,
        users::{AccessState, Credentials, NewUser, UserChange, UserRepository},
        verification::{NewVerification, Purpose},
    },
    domain::user::{Role, User, email_key},
    error::AppError,
};

pub struct PgUserRepository(pub PgPool);

/// A `users` row without secrets, as the queries below select it.
struct UserRow {
    id: Uuid,
    email: String,
    display_name: String,
    role: String,
    disabled: bool,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    email_verified: bool,
}

impl TryFrom<UserRow> for User {
    type Error = AppError;

    fn try_from(row: UserRow) -> Result<Self, AppError> {
        Ok(Self {
            id: row.id,
            email: row.email,
            display_name: row.display_name,
            role: parse_role(&row.role)?,
            disabled: row.disabled,
            created_at: row.created_at,
            updated_at: row.updated_at,
            email_verified: row.email_verified,
        })
    }
}

fn parse_role(role: &str) -> Result<Role, AppError> {
    super::postgres::stored("users.role", role)
}

#[async_trait]
impl UserRepository for PgUserRepository {
    #[instrument(name = "users.create", skip_all, fields(db.system.name = "postgresql"))]
    async fn create(&self, user: NewUser, outbox: &[Job]) -> Result<User, AppError> {
        let mut tx = self.0.begin().await?;
        let created: User = sqlx::query_as!(
            UserRow,
            r#"INSERT INTO users (id, email, email_key, display_name, password_hash, pepper_id, role)
               VALUES ($1, $2, $3, $4, $5, $6, $7)
               RETURNING id, email, display_name, role, disabled_at IS NOT NULL AS "disabled!",
                         created_at, updated_at,
                         email_verified_at IS NOT NULL AS "email_verified!""#,
            user.id,
            user.email,
            // Folded here, once, by the one function every lookup folds with: the database
            // compares keys and never folds an address itself.
            email_key(&user.email),
            user.display_name,
            user.password.phc,
            user.password.pepper_id,
            user.role.as_str(),
        )
        .fetch_one(&mut *tx)
        .await
        .map_err(conflict_on(
            "users_email_key",
            "an account with this email already exists",
        ))?
        .try_into()?;
        for job in outbox {
            super::jobs::enqueue(&mut tx, job).await?;
        }
        tx.commit().await?;
        Ok(created)
    }

    #[instrument(name = "users.credentials", skip_all, fields(db.system.name = "postgresql"))]
    async fn credentials(&self, email_key: &str) -> Result<Option<Credentials>, AppError> {
        let Some(row) = sqlx::query!(
            r#"SELECT id, email, display_name, role, disabled_at IS NOT NULL AS "disabled!",
                      created_at, updated_at, email_verified_at IS NOT NULL AS "email_verified!",
                      password_hash, pepper_id, session_epoch
               FROM users WHERE email_key = $1"#,
            email_key,
        )
        .fetch_optional(&self.0)
        .await?
        else {
            return Ok(None);
        };
        let user = User::try_from(UserRow {
            id: row.id,
            email: row.email,
            display_name: row.display_name,
            role: row.role,
            disabled: row.disabled,
            created_at: row.created_at,
            updated_at: row.updated_at,
            email_verified: row.email_verified,
        })?;
        Ok(Some(Credentials {
            user,
            password: StoredHash {
                phc: row.password_hash,
                pepper_id: row.pepper_id,
            },
            session_epoch: row.session_epoch,
        }))
    }

    // ANCHOR: access_state
    #[instrument(name = "users.access_state", skip_all, fields(db.system.name = "postgresql"))]
    async fn access_state(&self, id: Uuid, jti: Uuid) -> Result<Option<AccessState>, AppError> {
        let row = sqlx::query!(
            r#"SELECT role, disabled_at IS NOT NULL AS "disabled!", session_epoch,
                      EXISTS (SELECT 1 FROM revoked_access_tokens WHERE jti = $2) AS "revoked!"
               FROM users WHERE id = $1"#,
            id,
            jti,
        )
        .fetch_optional(&self.0)
        .await?;
        row.map(|row| {
            Ok(AccessState {
                role: parse_role(&row.role)?,
                disabled: row.disabled,
                session_epoch: row.session_epoch,
                token_revoked: row.revoked,
            })
        })
        .transpose()
    }
    // ANCHOR_END: access_state

    #[instrument(name = "users.by_id", skip_all, fields(db.system.name = "postgresql"))]
    async fn by_id(&self, id: Uuid) -> Result<Option<User>, AppError> {
        sqlx::query_as!(
            UserRow,
            r#"SELECT id, email, display_name, role, disabled_at IS NOT NULL AS "disabled!",
                      created_at, updated_at,
                      email_verified_at IS NOT NULL AS "email_verified!"
               FROM users WHERE id = $1"#,
            id,
        )
        .fetch_optional(&self.0)
        .await?
        .map(User::try_from)
        .transpose()
    }

    #[instrument(name = "users.set_password", skip_all, fields(db.system.name = "postgresql"))]
    async fn set_password(&self, id: Uuid, hash: StoredHash) -> Result<(), AppError> {
        sqlx::query!(
            "UPDATE users SET password_hash = $2, pepper_id = $3 WHERE id = $1",
            id,
            hash.phc,
            hash.pepper_id,
        )
        .execute(&self.0)
        .await?;
        Ok(())
    }

    #[instrument(name = "users.list", skip_all, fields(db.system.name = "postgresql"))]
    async fn list(&self, limit: i64, offset: i64) -> Result<(Vec<User>, i64), AppError> {
        let rows = sqlx::query_as!(
            UserRow,
            r#"SELECT id, email, display_name, role, disabled_at IS NOT NULL AS "disabled!",
                      created_at, updated_at,
                      email_verified_at IS NOT NULL AS "email_verified!"
               FROM users ORDER BY created_at, id LIMIT $1 OFFSET $2"#,
            limit,
            offset,
        )
        .fetch_all(&self.0)
        .await?;
        let total = sqlx::query_scalar!(r#"SELECT count(*) AS "count!" FROM users"#)
            .fetch_one(&self.0)
            .await?;
        let users = rows
            .into_iter()
            .map(User::try_from)
            .collect::<Result<_, _>>()?;
        Ok((users, total))
    }

    #[instrument(name = "users.update", skip_all, fields(db.system.name = "postgresql"))]
    async fn update(&self, id: Uuid, change: &UserChange) -> Result<Option<User>, AppError> {
        sqlx::query_as!(
            UserRow,
            r#"UPDATE users SET
                   role = COALESCE($2, role),
                   disabled_at = CASE
                       WHEN $3::boolean IS NULL THEN disabled_at
                       WHEN $3 THEN COALESCE(disabled_at, now())
                       ELSE NULL
                   END
               WHERE id = $1
               RETURNING id, email, display_name, role, disabled_at IS NOT NULL AS "disabled!",
                         created_at, updated_at,
                         email_verified_at IS NOT NULL AS "email_verified!""#,
            id,
            change.role.map(Role::as_str),
            change.disabled,
        )
        .fetch_optional(&self.0)
        .await?
        .map(User::try_from)
        .transpose()
    }

    #[instrument(name = "users.delete", skip_all, fields(db.system.name = "postgresql"))]
    async fn delete(&self, id: Uuid) -> Result<bool, AppError> {
        let done = sqlx::query!("DELETE FROM users WHERE id = $1", id)
            .execute(&self.0)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    #[instrument(name = "users.set_role_by_email", skip_all, fields(db.system.name = "postgresql"))]
    async fn set_role_by_email(
        &self,
        email_key: &str,
        role: Role,
    ) -> Result<Option<User>, AppError> {
        sqlx::query_as!(
            UserRow,
            r#"UPDATE users SET role = $2 WHERE email_key = $1
               RETURNING id, email, display_name, role, disabled_at IS NOT NULL AS "disabled!",
                         created_at, updated_at,
                         email_verified_at IS NOT NULL AS "email_verified!""#,
            email_key,
            role.as_str(),
        )
        .fetch_optional(&self.0)
        .await?
        .map(User::try_from)
        .transpose()
    }

    #[instrument(name = "users.rename", skip_all, fields(db.system.name = "postgresql"))]
    async fn rename(&self, id: Uuid, display_name: &str) -> Result<Option<User>, AppError> {
        sqlx::query_as!(
            UserRow,
            r#"UPDATE users SET display_name = $2 WHERE id = $1
               RETURNING id, email, display_name, role, disabled_at IS NOT NULL AS "disabled!",
                         created_at, updated_at,
                         email_verified_at IS NOT NULL AS "email_verified!""#,
            id,
            display_name,
        )
        .fetch_optional(&self.0)
        .await?
        .map(User::try_from)
        .transpose()
    }

    // ANCHOR: store_verification
    #[instrument(name = "users.store_verification", skip_all, fields(db.system.name = "postgresql"))]
    async fn store_verification(&self, verification: NewVerification) -> Result<bool, AppError> {
        let done = sqlx::query!(
            "INSERT INTO email_verifications (user_id, email, token_hash, expires_at, requested_at)
             SELECT id, $2, $3, $4, $5 FROM users
             WHERE id = $1 AND disabled_at IS NULL AND CASE
                 WHEN $6::boolean THEN email_verified_at IS NULL OR email_verified_at < $5
                 ELSE email_key = $7 AND email_verified_at IS NULL
             END
             ON CONFLICT (user_id) DO UPDATE
             SET email = excluded.email, token_hash = excluded.token_hash,
                 expires_at = excluded.expires_at, requested_at = excluded.requested_at,
                 created_at = now()
             WHERE email_verifications.requested_at <= excluded.requested_at",
            verification.user_id,
            verification.email,
            verification.hash,
            verification.expires_at,
            verification.requested_at,
            verification.purpose == Purpose::Change,
            email_key(&verification.email),
        )
        .execute(&self.0)
        .await?;
        Ok(done.rows_affected() == 1)
    }
    // ANCHOR_END: store_verification

    // ANCHOR: verify_email
    #[instrument(name = "users.verify_email", skip_all, fields(db.system.name = "postgresql"))]
    async fn verify_email(&self, presented: &[u8]) -> Result<Option<User>, AppError> {
        let mut tx = self.0.begin().await?;
        let Some(found) = sqlx::query!(
            r#"SELECT v.user_id, v.email, v.expires_at > now() AS "live!", u.email_key
               FROM email_verifications v JOIN users u ON u.id = v.user_id
               WHERE v.token_hash = $1"#,
            presented,
        )
        .fetch_optional(&mut *tx)
        .await?
        else {
            return Ok(None);
        };
        // The account's row first, then the token's: the order a reset takes.
        let verified: Option<User> = if found.live {
            sqlx::query_as!(
                UserRow,
                r#"UPDATE users SET email = $2, email_key = $3, email_verified_at = now()
                   WHERE id = $1 AND disabled_at IS NULL
                   RETURNING id, email, display_name, role,
                             disabled_at IS NOT NULL AS "disabled!", created_at, updated_at,
                             email_verified_at IS NOT NULL AS "email_verified!""#,
                found.user_id,
                found.email,
                email_key(&found.email),
            )
            .fetch_optional(&mut *tx)
            .await
            .map_err(conflict_on(
                "users_email_key",
                "another account has this address now",
            ))?
            .map(User::try_from)
            .transpose()?
        } else {
            None
        };
        let consumed = sqlx::query!(
            "DELETE FROM email_verifications WHERE token_hash = $1",
            presented,
        )
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if !consumed {
            // Used or replaced meanwhile: nothing changes.
            tx.rollback().await?;
            return Ok(None);
        }
        if verified.is_some() && email_key(&found.email) != found.email_key {
            // A reset email went to the address the account has left.
            sqlx::query!(
                "DELETE FROM password_resets WHERE user_id = $1",
                found.user_id
            )
            .execute(&mut *tx)
            .await?;
        }
        // Or expired, or the account disabled: then only the token's deletion stands.
        tx.commit().await?;
        Ok(verified)
    }
    // ANCHOR_END: verify_email

    #[instrument(name = "users.purge_unverified", skip_all, fields(db.system.name = "postgresql"))]
    async fn purge_unverified(&self, created_before: DateTime<Utc>) -> Result<u64, AppError> {
        // In batches: each account takes everything it owns along (the foreign keys
        // cascade), and one statement must stay well inside the statement timeout.
        let accounts = sqlx::query!(
            "DELETE FROM users WHERE id IN (
                 SELECT id FROM users
                 WHERE email_verified_at IS NULL AND created_at < $1 AND role <> 'admin'
                 ORDER BY created_at LIMIT 1000)",
            created_before,
        )
        .execute(&self.0)
        .await?;
        let tokens = sqlx::query!("DELETE FROM email_verifications WHERE expires_at < now()")
            .execute(&self.0)
            .await?;
        Ok(accounts.rows_affected() + tokens.rows_affected())
    }
}
