//! Accounts: the storage port, and the admin use cases (list, change role or status, delete).

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{
    audit::{AuditLog, Origin, SecurityEvent},
    jobs::Job,
    passwords::StoredHash,
    sessions::SessionRepository,
    verification::NewVerification,
};
use crate::{
    domain::user::{Caller, Role, User, email_key},
    error::AppError,
};

/// A user to create; the email is stored as given and unique regardless of case.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub id: Uuid,
    pub email: String,
    pub display_name: String,
    pub password: StoredHash,
    pub role: Role,
}

/// What login needs: the account and its stored hash.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub user: User,
    pub password: StoredHash,
    pub session_epoch: i32,
}

/// What authenticating a request needs, read fresh from the database on every request, so a
/// role change, a disabled account or a logout takes effect at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccessState {
    pub role: Role,
    pub disabled: bool,
    pub session_epoch: i32,
    /// The token's `jti` is on the deny list.
    pub token_revoked: bool,
}

/// A change an admin makes to an account; `None` leaves the field alone.
#[derive(Debug, Clone, Default)]
pub struct UserChange {
    pub role: Option<Role>,
    pub disabled: Option<bool>,
}

#[async_trait]
pub trait UserRepository: Send + Sync {
    /// Creates the account and enqueues `outbox` in the same transaction. Fails with 409
    /// when the email is taken.
    async fn create(&self, user: NewUser, outbox: &[Job]) -> Result<User, AppError>;
    async fn credentials(&self, email_key: &str) -> Result<Option<Credentials>, AppError>;
    async fn access_state(&self, id: Uuid, jti: Uuid) -> Result<Option<AccessState>, AppError>;
    async fn by_id(&self, id: Uuid) -> Result<Option<User>, AppError>;
    async fn set_password(&self, id: Uuid, hash: StoredHash) -> Result<(), AppError>;
    /// A page in creation order, and the total count.
    async fn list(&self, limit: i64, offset: i64) -> Result<(Vec<User>, i64), AppError>;
    async fn update(&self, id: Uuid, change: &UserChange) -> Result<Option<User>, AppError>;
    async fn delete(&self, id: Uuid) -> Result<bool, AppError>;
    async fn set_role_by_email(
        &self,
        email_key: &str,
        role: Role,
    ) -> Result<Option<User>, AppError>;
    /// Sets the account's display name; `None` when there is no such account.
    async fn rename(&self, id: Uuid, display_name: &str) -> Result<Option<User>, AppError>;
    /// Stores the hash of the account's verification token and the address it verifies, if
    /// the account exists and is enabled, the request is newer than the stored one, and its
    /// purpose still holds: an own-address verification needs the address to be the
    /// account's and unverified, a change to be asked for after the last verification.
    /// `false` when it was not stored.
    async fn store_verification(&self, verification: NewVerification) -> Result<bool, AppError>;
    /// Consumes the verification token with hash `presented` (whether or not it is still
    /// live: single use); if it was live and its account is enabled, sets the account's email
    /// to the address it verifies and marks it verified, and when the address moved, drops any
    /// reset token (mailed to the old one). The account as it is now, or `None` when nothing
    /// changed. 409 when another account took the address meanwhile (the token stays).
    async fn verify_email(&self, presented: &[u8]) -> Result<Option<User>, AppError>;
    /// Deletes accounts created before `created_before` that never verified their address
    /// (everything they own goes with them; admins are kept, and at most 1000 go per call)
    /// and the verifications past their expiry; returns how many rows went.
    async fn purge_unverified(&self, created_before: DateTime<Utc>) -> Result<u64, AppError>;
}

/// Admin-only account management. The role check happens at the edge (the handlers take
/// `Authorized<Admin>`); the rules here protect admins from locking themselves out.
#[derive(Clone)]
pub struct UserAdmin {
    pub users: Arc<dyn UserRepository>,
    pub sessions: Arc<dyn SessionRepository>,
    pub audit: AuditLog,
}

impl UserAdmin {
    pub async fn list(&self, limit: i64, offset: i64) -> Result<(Vec<User>, i64), AppError> {
        self.users.list(limit, offset).await
    }

    // ANCHOR: admin_update
    pub async fn update(
        &self,
        origin: &Origin,
        caller: &Caller,
        id: Uuid,
        change: UserChange,
    ) -> Result<User, AppError> {
        if id == caller.id && (change.role.is_some() || change.disabled == Some(true)) {
            return Err(AppError::Conflict(
                "admins cannot change their own role or disable themselves".into(),
            ));
        }
        let before = self
            .users
            .by_id(id)
            .await?
            .ok_or_else(|| AppError::NotFound("no such user".into()))?;
        let after = self
            .users
            .update(id, &change)
            .await?
            .ok_or_else(|| AppError::NotFound("no such user".into()))?;
        if after.disabled && !before.disabled {
            // A disabled account keeps no session: refresh tokens die now, access tokens
            // fail their next check (the extractor reads `disabled` on every request).
            self.sessions.end_all_sessions(id).await?;
        }
        if before.role != after.role || before.disabled != after.disabled {
            self.audit.record(
                SecurityEvent::new("user_changed")
                    .user(id)
                    .origin(origin)
                    .detail(serde_json::json!({
                        "by": caller.id,
                        "role": { "from": before.role, "to": after.role },
                        "disabled": { "from": before.disabled, "to": after.disabled },
                    })),
            );
        }
        Ok(after)
    }
    // ANCHOR_END: admin_update

    /// Makes the account with `email` an admin: how the first admin is made, since only
    /// admins change roles through the API (`grant-admin`, run by an operator).
    pub async fn grant_admin(&self, email: &str) -> Result<User, AppError> {
        let user = self
            .users
            .set_role_by_email(&email_key(email), Role::Admin)
            .await?
            .ok_or_else(|| {
                AppError::NotFound(format!(
                    "no account has the email {email:?}: register it first"
                ))
            })?;
        self.audit.record(
            SecurityEvent::new("admin_granted")
                .user(user.id)
                .detail(serde_json::json!({ "by": "grant-admin command" })),
        );
        Ok(user)
    }

    /// The id of the account with `email`.
    pub async fn id_of(&self, email: &str) -> Result<Uuid, AppError> {
        Ok(self
            .users
            .credentials(&email_key(email))
            .await?
            .ok_or_else(|| {
                AppError::NotFound(format!(
                    "no account has the email {email:?}: register it first"
                ))
            })?
            .user
            .id)
    }

    pub async fn delete(&self, origin: &Origin, caller: &Caller, id: Uuid) -> Result<(), AppError> {
        if id == caller.id {
            return Err(AppError::Conflict("admins cannot delete themselves".into()));
        }
        if !self.users.delete(id).await? {
            return Err(AppError::NotFound("no such user".into()));
        }
        self.audit.record(
            SecurityEvent::new("user_deleted")
                .user(id)
                .origin(origin)
                .detail(serde_json::json!({ "by": caller.id })),
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests;
