//! Email verifications in memory, and the removal of an account with what it owns.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{State, StoredUser};
use crate::{
    app::verification::{NewVerification, Purpose},
    domain::user::{Role, User, email_key},
    error::AppError,
};

/// An account's outstanding verification: the address, the token's hash, its expiry.
pub(super) struct Pending {
    email: String,
    hash: Vec<u8>,
    expires_at: DateTime<Utc>,
    requested_at: DateTime<Utc>,
}

impl StoredUser {
    /// Marks the address verified, as a completed reset does (keeping an earlier time).
    pub(super) fn mark_verified(&mut self) {
        self.verified_at.get_or_insert_with(Utc::now);
        self.user.email_verified = true;
    }
}

impl State {
    /// Removes the account and what the foreign keys cascade to in Postgres.
    pub(super) fn remove_user(&mut self, id: Uuid) -> bool {
        let before = self.users.len();
        self.users.retain(|stored| stored.user.id != id);
        self.refresh_tokens.retain(|token| token.user_id != id);
        self.tasks.retain(|task| task.owner_id != id);
        self.idempotency.retain(|(user, _), _| *user != id);
        self.webhooks.forget_owner(id);
        self.users.len() < before
    }

    pub(super) fn store_verification(&mut self, verification: NewVerification) -> bool {
        let Some(stored) = self
            .user_mut(verification.user_id)
            .filter(|stored| !stored.user.disabled)
        else {
            return false;
        };
        let holds = match verification.purpose {
            Purpose::Own => {
                email_key(&stored.user.email) == email_key(&verification.email)
                    && stored.verified_at.is_none()
            }
            Purpose::Change => stored
                .verified_at
                .is_none_or(|at| at < verification.requested_at),
        };
        let newer = stored
            .verification
            .as_ref()
            .is_none_or(|pending| pending.requested_at <= verification.requested_at);
        if !(holds && newer) {
            return false;
        }
        stored.verification = Some(Pending {
            email: verification.email,
            hash: verification.hash,
            expires_at: verification.expires_at,
            requested_at: verification.requested_at,
        });
        true
    }

    pub(super) fn verify_email(&mut self, presented: &[u8]) -> Result<Option<User>, AppError> {
        let Some(index) = self.users.iter().position(|stored| {
            stored
                .verification
                .as_ref()
                .is_some_and(|pending| pending.hash == presented)
        }) else {
            return Ok(None);
        };
        let pending = self.users[index]
            .verification
            .take()
            .expect("found by its verification");
        let key = email_key(&pending.email);
        let taken = self
            .users
            .iter()
            .enumerate()
            .any(|(other, stored)| other != index && email_key(&stored.user.email) == key);
        let stored = &mut self.users[index];
        if pending.expires_at <= Utc::now() || stored.user.disabled {
            return Ok(None);
        }
        if taken {
            // As the Postgres transaction rolls back: the token stays.
            stored.verification = Some(pending);
            return Err(AppError::Conflict(
                "another account has this address now".into(),
            ));
        }
        if email_key(&pending.email) != email_key(&stored.user.email) {
            // A reset email went to the address the account has left.
            stored.reset = None;
        }
        stored.user.email = pending.email;
        stored.user.email_verified = true;
        stored.verified_at = Some(Utc::now());
        stored.user.updated_at = Utc::now();
        Ok(Some(stored.user.clone()))
    }

    pub(super) fn purge_unverified(&mut self, created_before: DateTime<Utc>) -> u64 {
        let now = Utc::now();
        let mut purged = 0;
        for stored in &mut self.users {
            if stored
                .verification
                .as_ref()
                .is_some_and(|pending| pending.expires_at < now)
            {
                stored.verification = None;
                purged += 1;
            }
        }
        let unverified: Vec<Uuid> = self
            .users
            .iter()
            .filter(|stored| {
                stored.verified_at.is_none()
                    && stored.user.created_at < created_before
                    && stored.user.role != Role::Admin
            })
            .map(|stored| stored.user.id)
            .take(1000)
            .collect();
        for id in unverified {
            purged += u64::from(self.remove_user(id));
        }
        purged
    }
}
