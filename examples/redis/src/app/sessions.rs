//! What the auth service needs from session storage: refresh-token families and the
//! access-token deny list. `infra::sessions` implements it in Postgres.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::passwords::StoredHash;
use crate::error::AppError;

/// A refresh token to store: only the hash of its value.
#[derive(Debug, Clone)]
pub struct NewRefreshToken {
    pub id: Uuid,
    pub family_id: Uuid,
    pub user_id: Uuid,
    pub hash: Vec<u8>,
    pub expires_at: DateTime<Utc>,
}

/// What presenting a refresh token led to. Decided atomically, under a row lock, so two
/// concurrent uses of one token cannot both succeed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rotation {
    /// The token was live and its account enabled: it is now used, and `next` (same family)
    /// is stored. `session_epoch` is the account's, read under the same lock. `expires_at` is
    /// the successor's: `next.expires_at`, or the family's end if that comes first.
    Rotated {
        user_id: Uuid,
        family_id: Uuid,
        session_epoch: i32,
        expires_at: DateTime<Utc>,
    },
    /// The token had been used before: someone replayed it. The whole family is revoked.
    Reused { user_id: Uuid, family_id: Uuid },
    /// Revoked (logout, or an earlier reuse), expired, past its family's maximum age, or its
    /// account is disabled.
    Dead,
    /// No such token.
    Unknown,
}

#[async_trait]
pub trait SessionRepository: Send + Sync {
    /// Stores the first token of a new family, unless the account was disabled or its
    /// sessions ended since `session_epoch` was read: then `false`, and nothing is stored.
    async fn insert_refresh(
        &self,
        token: NewRefreshToken,
        session_epoch: i32,
    ) -> Result<bool, AppError>;

    /// Marks the token with hash `presented` used and stores `next` in its family; see
    /// [`Rotation`] for the other outcomes. `next.family_id` and `next.user_id` are ignored:
    /// the successor inherits them (and the family's start) from the presented token. A
    /// family older than `family_max_age` is dead.
    async fn rotate_refresh(
        &self,
        presented: &[u8],
        next: NewRefreshToken,
        family_max_age: chrono::Duration,
    ) -> Result<Rotation, AppError>;

    /// Revokes the family of the token with hash `presented`, if `user_id` owns it.
    async fn revoke_family_of(&self, user_id: Uuid, presented: &[u8]) -> Result<(), AppError>;

    /// Ends every session of the user at once: bumps the session epoch (voiding all access
    /// tokens) and revokes every refresh token, in one transaction holding the user's row, so
    /// no refresh or login running concurrently can slip a live token past it.
    async fn end_all_sessions(&self, user_id: Uuid) -> Result<(), AppError>;

    /// Voids every access token of the user at once (bumps the session epoch) and leaves the
    /// refresh tokens alone: each live family gets access tokens again at its next rotation.
    /// For refresh-token reuse, where the stolen family's access tokens cannot be told apart.
    async fn void_access_tokens(&self, user_id: Uuid) -> Result<(), AppError>;

    /// Puts an access token on the deny list until it would have expired anyway.
    async fn deny_access(&self, jti: Uuid, expires_at: DateTime<Utc>) -> Result<(), AppError>;

    /// Deletes deny-list entries, refresh tokens and reset tokens past their expiry; returns
    /// how many.
    async fn purge_expired(&self) -> Result<u64, AppError>;

    /// Stores the hash of the account's password reset token, replacing any earlier one, if
    /// the account exists and is enabled; `false` (nothing stored) otherwise.
    async fn store_reset_token(&self, reset: NewResetToken) -> Result<bool, AppError>;

    /// Sets a new password in one transaction: it consumes the reset token with hash
    /// `presented` (whether or not it is still live: single use), and if it was live and its
    /// account enabled, stores `password` and ends every session as
    /// [`Self::end_all_sessions`] does. The account's id, or `None` when nothing changed.
    async fn reset_password(
        &self,
        presented: &[u8],
        password: StoredHash,
    ) -> Result<Option<Uuid>, AppError>;

    /// Stores the user's new password, ends every session (as [`Self::end_all_sessions`]
    /// does) and drops any outstanding reset token, in one transaction; returns the new
    /// session epoch, or `None` when the account is gone or disabled.
    async fn change_password(
        &self,
        user_id: Uuid,
        password: StoredHash,
    ) -> Result<Option<i32>, AppError>;
}

/// A password reset token to store: only the hash of its value.
#[derive(Debug, Clone)]
pub struct NewResetToken {
    pub user_id: Uuid,
    pub hash: Vec<u8>,
    pub expires_at: DateTime<Utc>,
}
