//! Accounts and sessions in memory.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Memory, RefreshRow, StoredUser};
use crate::{
    app::{
        jobs::Job,
        passwords::StoredHash,
        sessions::{NewRefreshToken, NewResetToken, Rotation, SessionRepository},
        users::{AccessState, Credentials, NewUser, UserChange, UserRepository},
        verification::NewVerification,
    },
    domain::user::{Role, User, email_key},
    error::AppError,
};

impl Memory {
    fn credentials_of(stored: &StoredUser) -> Credentials {
        Credentials {
            user: stored.user.clone(),
            password: stored.password.clone(),
            session_epoch: stored.session_epoch,
        }
    }
}

#[async_trait]
impl UserRepository for Memory {
    // ANCHOR: memory_create
    async fn create(&self, user: NewUser, outbox: &[Job]) -> Result<User, AppError> {
        let mut state = self.state();
        if state
            .users
            .iter()
            .any(|stored| email_key(&stored.user.email) == email_key(&user.email))
        {
            return Err(AppError::Conflict(
                "an account with this email already exists".into(),
            ));
        }
        let now = Utc::now();
        let created = User {
            id: user.id,
            email: user.email,
            display_name: user.display_name,
            role: user.role,
            disabled: false,
            created_at: now,
            updated_at: now,
            email_verified: false,
        };
        state.users.push(StoredUser {
            user: created.clone(),
            password: user.password,
            session_epoch: 0,
            reset: None,
            verified_at: None,
            verification: None,
        });
        state.enqueue_all(outbox);
        Ok(created)
    }
    // ANCHOR_END: memory_create

    async fn credentials(&self, email_key: &str) -> Result<Option<Credentials>, AppError> {
        let state = self.state();
        Ok(state
            .users
            .iter()
            .find(|stored| crate::domain::user::email_key(&stored.user.email) == email_key)
            .map(Memory::credentials_of))
    }

    async fn access_state(&self, id: Uuid, jti: Uuid) -> Result<Option<AccessState>, AppError> {
        let state = self.state();
        Ok(state.user(id).map(|stored| AccessState {
            role: stored.user.role,
            disabled: stored.user.disabled,
            session_epoch: stored.session_epoch,
            token_revoked: state.denied.contains_key(&jti),
        }))
    }

    async fn by_id(&self, id: Uuid) -> Result<Option<User>, AppError> {
        Ok(self.state().user(id).map(|stored| stored.user.clone()))
    }

    async fn set_password(&self, id: Uuid, hash: StoredHash) -> Result<(), AppError> {
        if let Some(stored) = self.state().user_mut(id) {
            stored.password = hash;
        }
        Ok(())
    }

    async fn list(&self, limit: i64, offset: i64) -> Result<(Vec<User>, i64), AppError> {
        let state = self.state();
        let mut users: Vec<User> = state.users.iter().map(|s| s.user.clone()).collect();
        users.sort_by_key(|user| (user.created_at, user.id));
        let total = i64::try_from(users.len()).unwrap_or(i64::MAX);
        let page = users
            .into_iter()
            .skip(usize::try_from(offset).unwrap_or(usize::MAX))
            .take(usize::try_from(limit).unwrap_or(0))
            .collect();
        Ok((page, total))
    }

    async fn update(&self, id: Uuid, change: &UserChange) -> Result<Option<User>, AppError> {
        let mut state = self.state();
        let Some(stored) = state.user_mut(id) else {
            return Ok(None);
        };
        if let Some(role) = change.role {
            stored.user.role = role;
        }
        if let Some(disabled) = change.disabled {
            stored.user.disabled = disabled;
        }
        stored.user.updated_at = Utc::now();
        Ok(Some(stored.user.clone()))
    }

    async fn delete(&self, id: Uuid) -> Result<bool, AppError> {
        let mut state = self.state();
        Ok(state.remove_user(id))
    }

    async fn set_role_by_email(
        &self,
        email_key: &str,
        role: Role,
    ) -> Result<Option<User>, AppError> {
        let mut state = self.state();
        let found = state
            .users
            .iter_mut()
            .find(|stored| crate::domain::user::email_key(&stored.user.email) == email_key);
        Ok(found.map(|stored| {
            stored.user.role = role;
            stored.user.clone()
        }))
    }
    async fn rename(&self, id: Uuid, display_name: &str) -> Result<Option<User>, AppError> {
        let mut state = self.state();
        Ok(state.user_mut(id).map(|stored| {
            stored.user.display_name = display_name.to_owned();
            stored.user.updated_at = Utc::now();
            stored.user.clone()
        }))
    }

    async fn store_verification(&self, verification: NewVerification) -> Result<bool, AppError> {
        Ok(self.state().store_verification(verification))
    }

    async fn verify_email(&self, presented: &[u8]) -> Result<Option<User>, AppError> {
        self.state().verify_email(presented)
    }

    async fn purge_unverified(&self, created_before: DateTime<Utc>) -> Result<u64, AppError> {
        Ok(self.state().purge_unverified(created_before))
    }
}

#[async_trait]
impl SessionRepository for Memory {
    async fn insert_refresh(
        &self,
        token: NewRefreshToken,
        session_epoch: i32,
    ) -> Result<bool, AppError> {
        let mut state = self.state();
        let live = state
            .user(token.user_id)
            .is_some_and(|stored| stored.session_epoch == session_epoch && !stored.user.disabled);
        if live {
            state.refresh_tokens.push(RefreshRow {
                family_id: token.family_id,
                user_id: token.user_id,
                hash: token.hash,
                expires_at: token.expires_at,
                family_started_at: Utc::now(),
                used: false,
                revoked: false,
            });
        }
        Ok(live)
    }

    async fn rotate_refresh(
        &self,
        presented: &[u8],
        next: NewRefreshToken,
        family_max_age: chrono::Duration,
    ) -> Result<Rotation, AppError> {
        let mut state = self.state();
        let Some(index) = state
            .refresh_tokens
            .iter()
            .position(|t| t.hash == presented)
        else {
            return Ok(Rotation::Unknown);
        };
        let (user_id, family_id) = {
            let token = &state.refresh_tokens[index];
            (token.user_id, token.family_id)
        };
        let Some((epoch, disabled)) = state
            .user(user_id)
            .map(|stored| (stored.session_epoch, stored.user.disabled))
        else {
            return Ok(Rotation::Dead);
        };
        let token = &state.refresh_tokens[index];
        if token.used || disabled {
            state.revoke_family(family_id);
            return Ok(if disabled {
                Rotation::Dead
            } else {
                Rotation::Reused { user_id, family_id }
            });
        }
        let now = Utc::now();
        let family_started_at = token.family_started_at;
        let family_ends = family_started_at + family_max_age;
        if token.revoked || token.expires_at <= now || family_ends <= now {
            return Ok(Rotation::Dead);
        }
        let expires_at = next.expires_at.min(family_ends);
        state.refresh_tokens[index].used = true;
        state.refresh_tokens.push(RefreshRow {
            family_id,
            user_id,
            hash: next.hash,
            expires_at,
            family_started_at,
            used: false,
            revoked: false,
        });
        Ok(Rotation::Rotated {
            user_id,
            family_id,
            session_epoch: epoch,
            expires_at,
        })
    }

    async fn revoke_family_of(&self, user_id: Uuid, presented: &[u8]) -> Result<(), AppError> {
        let mut state = self.state();
        let family = state
            .refresh_tokens
            .iter()
            .find(|t| t.hash == presented && t.user_id == user_id)
            .map(|t| t.family_id);
        if let Some(family) = family {
            state.revoke_family(family);
        }
        Ok(())
    }

    async fn void_access_tokens(&self, user_id: Uuid) -> Result<(), AppError> {
        if let Some(stored) = self.state().user_mut(user_id) {
            stored.session_epoch += 1;
        }
        Ok(())
    }

    async fn end_all_sessions(&self, user_id: Uuid) -> Result<(), AppError> {
        self.state().end_sessions(user_id);
        Ok(())
    }

    async fn deny_access(&self, jti: Uuid, expires_at: DateTime<Utc>) -> Result<(), AppError> {
        self.state().denied.entry(jti).or_insert(expires_at);
        Ok(())
    }

    async fn purge_expired(&self) -> Result<u64, AppError> {
        let now = Utc::now();
        let mut state = self.state();
        let before = state.denied.len() + state.refresh_tokens.len();
        state.denied.retain(|_, expires_at| *expires_at >= now);
        state.refresh_tokens.retain(|token| token.expires_at >= now);
        let mut resets = 0;
        for stored in &mut state.users {
            if stored
                .reset
                .as_ref()
                .is_some_and(|(_, expires_at)| *expires_at < now)
            {
                stored.reset = None;
                resets += 1;
            }
        }
        let after = state.denied.len() + state.refresh_tokens.len();
        Ok(u64::try_from(before - after + resets).unwrap_or(u64::MAX))
    }

    async fn store_reset_token(&self, reset: NewResetToken) -> Result<bool, AppError> {
        let mut state = self.state();
        match state.user_mut(reset.user_id) {
            Some(stored) if !stored.user.disabled => {
                stored.reset = Some((reset.hash, reset.expires_at));
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn reset_password(
        &self,
        presented: &[u8],
        password: StoredHash,
    ) -> Result<Option<Uuid>, AppError> {
        let mut state = self.state();
        let Some(stored) = state.users.iter_mut().find(|stored| {
            stored
                .reset
                .as_ref()
                .is_some_and(|(hash, _)| hash == presented)
        }) else {
            return Ok(None);
        };
        // Single use: taken whatever its state.
        let live = stored
            .reset
            .take()
            .is_some_and(|(_, expires_at)| expires_at > Utc::now());
        if !live || stored.user.disabled {
            return Ok(None);
        }
        stored.password = password;
        stored.user.updated_at = Utc::now();
        // The token came by mail: the address is the owner's.
        stored.mark_verified();
        let user_id = stored.user.id;
        state.end_sessions(user_id);
        Ok(Some(user_id))
    }

    async fn change_password(
        &self,
        user_id: Uuid,
        password: StoredHash,
    ) -> Result<Option<i32>, AppError> {
        let mut state = self.state();
        let Some(stored) = state.user_mut(user_id).filter(|s| !s.user.disabled) else {
            return Ok(None);
        };
        stored.password = password;
        stored.user.updated_at = Utc::now();
        stored.reset = None;
        state.end_sessions(user_id);
        Ok(state.user(user_id).map(|stored| stored.session_epoch))
    }
}

impl super::State {
    fn user(&self, id: Uuid) -> Option<&StoredUser> {
        self.users.iter().find(|stored| stored.user.id == id)
    }

    pub(super) fn user_mut(&mut self, id: Uuid) -> Option<&mut StoredUser> {
        self.users.iter_mut().find(|stored| stored.user.id == id)
    }

    /// Bumps the session epoch and revokes every refresh token of the user.
    fn end_sessions(&mut self, user_id: Uuid) {
        if let Some(stored) = self.user_mut(user_id) {
            stored.session_epoch += 1;
        }
        for token in self
            .refresh_tokens
            .iter_mut()
            .filter(|t| t.user_id == user_id)
        {
            token.revoked = true;
        }
    }

    fn revoke_family(&mut self, family_id: Uuid) {
        for token in self
            .refresh_tokens
            .iter_mut()
            .filter(|t| t.family_id == family_id)
        {
            token.revoked = true;
        }
    }
}
