//! Accounts and sessions: register, log in, refresh, log out, and authenticate a request.
//! What an account's owner does to it (passwords, the display name, deletion) is in
//! [`account`].
//!
//! Sessions are a short-lived access token (a JWT checked on every request) plus a refresh
//! token. Each refresh replaces the refresh token; the replaced one is remembered, and if it
//! is ever presented again (a stolen token being replayed, or the real client after the thief
//! used it first) the whole family of tokens descended from that login is revoked.

mod account;

use std::sync::Arc;

use uuid::Uuid;

use super::{
    audit::{AuditLog, Origin, SecurityEvent},
    jobs::{Job, Jobs},
    limits::{Action, AuthLimiter},
    passwords::{Passwords, Verified},
    sessions::{NewRefreshToken, Rotation, SessionRepository},
    tokens::{RefreshSecret, Tokens, hash_refresh},
    users::{NewUser, UserRepository},
    welcome::{AccountExistsEmail, WelcomeEmail},
};
use crate::{
    domain::user::{Caller, DisplayName, Email, NewPassword, Password, Role, User, email_key},
    error::AppError,
};

/// What a client gets from login and refresh.
#[derive(Debug, Clone)]
pub struct Session {
    pub access_token: String,
    pub access_expires_in: i64,
    pub refresh_token: String,
    pub refresh_expires_in: i64,
}

pub struct Registration {
    pub email: Email,
    pub display_name: DisplayName,
    pub password: NewPassword,
}

const BAD_CREDENTIALS: &str = "the email or the password is wrong";

#[derive(Clone)]
pub struct AuthService {
    pub users: Arc<dyn UserRepository>,
    pub sessions: Arc<dyn SessionRepository>,
    pub passwords: Passwords,
    pub tokens: Tokens,
    pub limiter: AuthLimiter,
    pub audit: AuditLog,
    /// Poked after a registration commits its welcome email.
    pub jobs: Jobs,
}

impl AuthService {
    // ANCHOR: auth_register
    pub async fn register(&self, origin: &Origin, form: Registration) -> Result<User, AppError> {
        let email = String::from(form.email.clone());
        self.limit(origin, Some(&form.email.key()), Action::Register)
            .await?;
        let password = self.passwords.hash(form.password.secret()).await?;
        let id = Uuid::now_v7();
        let display_name = String::from(form.display_name);
        // The welcome email is queued in the account's own transaction (an outbox): it is
        // sent exactly when the account exists.
        let welcome = Job::new(&WelcomeEmail {
            user_id: id,
            email: email.clone(),
            display_name: display_name.clone(),
        });
        let created = self
            .users
            .create(
                NewUser {
                    id,
                    email: email.clone(),
                    display_name: display_name.clone(),
                    password,
                    role: Role::User,
                },
                &[welcome],
            )
            .await;
        let user = match created {
            Ok(user) => user,
            // The address has an account (the only conflict an insert can meet).
            Err(AppError::Conflict(_)) => {
                return self.answer_as_new(origin, id, email, display_name).await;
            }
            Err(err) => return Err(err),
        };
        self.jobs.notify();
        self.audit.record(
            SecurityEvent::new("user_registered")
                .user(user.id)
                .origin(origin),
        );
        Ok(user)
    }
    // ANCHOR_END: auth_register

    // ANCHOR: answer_as_new
    /// A registration of an address that has an account gets the answer a new account gets
    /// (after the same password hashing), so it cannot be used to learn who has an account
    /// here. The owner is told by email instead, at most once an hour.
    async fn answer_as_new(
        &self,
        origin: &Origin,
        id: Uuid,
        email: String,
        display_name: String,
    ) -> Result<User, AppError> {
        if let Some(existing) = self.users.credentials(&email_key(&email)).await? {
            let owner = existing.user;
            let notice = AccountExistsEmail {
                user_id: owner.id,
                email: owner.email,
                display_name: owner.display_name,
                hour: chrono::Utc::now().format("%Y-%m-%dT%H").to_string(),
            };
            // A failure here must not answer differently from a new account.
            match self.jobs.queue.enqueue(&Job::new(&notice)).await {
                Ok(true) => self.jobs.notify(),
                Ok(false) => {}
                Err(err) => {
                    tracing::warn!(error = %err, "could not queue an account-exists notice")
                }
            }
            self.audit.record(
                SecurityEvent::new("registration_of_existing_account")
                    .user(owner.id)
                    .origin(origin),
            );
        }
        // Microseconds, as Postgres stores a new account's: nanoseconds would give it away.
        let now = chrono::SubsecRound::trunc_subsecs(chrono::Utc::now(), 6);
        Ok(User {
            id,
            email,
            display_name,
            role: Role::User,
            disabled: false,
            created_at: now,
            updated_at: now,
            email_verified: false,
        })
    }
    // ANCHOR_END: answer_as_new

    /// Unknown emails, wrong passwords and disabled accounts get the same answer after the
    /// same amount of work (a hash verification), so the response does not tell which.
    pub async fn login(
        &self,
        origin: &Origin,
        email: &Email,
        password: Password,
    ) -> Result<Session, AppError> {
        let key = email.key();
        self.limit(origin, Some(&key), Action::Login).await?;
        let credentials = self.users.credentials(&key).await?;
        let stored = credentials.as_ref().map(|c| c.password.clone());
        let verified = self.passwords.verify(password.secret(), stored).await?;
        let failure = |reason: &str, user: Option<Uuid>| {
            let mut event = SecurityEvent::new("login_failed")
                .email(&key)
                .origin(origin)
                .detail(serde_json::json!({ "reason": reason }));
            event.user_id = user;
            self.audit.record(event);
            AppError::Unauthorized(BAD_CREDENTIALS.into())
        };
        let credentials = match (credentials, verified) {
            (None, _) => return Err(failure("unknown_email", None)),
            (Some(c), Verified::No) => return Err(failure("wrong_password", Some(c.user.id))),
            (Some(c), _) if c.user.disabled => return Err(failure("disabled", Some(c.user.id))),
            (Some(c), _) => c,
        };
        let user_id = credentials.user.id;
        if verified == Verified::YesButRehash {
            // The pepper or the parameters changed since this hash was made: upgrade it now,
            // while we hold the password. A failure here must not fail the login.
            match self.passwords.hash(password.secret()).await {
                Ok(fresh) => {
                    if let Err(err) = self.users.set_password(user_id, fresh).await {
                        tracing::warn!(error = %err, "could not store the re-hashed password");
                    }
                }
                Err(err) => tracing::warn!(error = %err, "could not re-hash the password"),
            }
        }
        let session = self
            .start_session(user_id, Uuid::now_v7(), credentials.session_epoch)
            .await?;
        self.audit.record(
            SecurityEvent::new("login_succeeded")
                .user(user_id)
                .origin(origin),
        );
        Ok(session)
    }

    pub async fn refresh(&self, origin: &Origin, refresh_token: &str) -> Result<Session, AppError> {
        self.limit(origin, None, Action::Refresh).await?;
        let presented = hash_refresh(refresh_token);
        let next = RefreshSecret::generate()?;
        let expires_at = self.tokens.refresh_expiry();
        let stored_next = NewRefreshToken {
            id: Uuid::now_v7(),
            family_id: Uuid::nil(),
            user_id: Uuid::nil(),
            hash: next.hash,
            expires_at,
        };
        match self
            .sessions
            .rotate_refresh(&presented, stored_next, self.tokens.family_max_age())
            .await?
        {
            Rotation::Rotated {
                user_id,
                session_epoch,
                expires_at,
                ..
            } => {
                let access = self.tokens.issue_access(user_id, session_epoch)?;
                Ok(self.session(access.token, next.value, expires_at))
            }
            Rotation::Reused { user_id, family_id } => {
                tracing::warn!(%user_id, %family_id, "a used refresh token was presented again: family revoked");
                // The family's access tokens are as suspect as its refresh tokens, and cannot
                // be told from the account's others: all of them end now, and the account's
                // other sessions get theirs back with their next refresh.
                self.sessions.void_access_tokens(user_id).await?;
                self.audit.record(
                    SecurityEvent::new("refresh_token_reused")
                        .user(user_id)
                        .origin(origin)
                        .detail(serde_json::json!({ "family_id": family_id })),
                );
                Err(AppError::Unauthorized(
                    "the refresh token was already used: this login's sessions are revoked, log in again".into(),
                ))
            }
            Rotation::Dead | Rotation::Unknown => Err(AppError::Unauthorized(
                "the refresh token is not valid".into(),
            )),
        }
    }

    /// Revokes the caller's access token and, when given, the refresh token's family.
    pub async fn logout(
        &self,
        origin: &Origin,
        caller: &Caller,
        refresh_token: Option<&str>,
    ) -> Result<(), AppError> {
        // Kept until the token could no longer pass validation, leeway included.
        self.sessions
            .deny_access(
                caller.token_id,
                caller.token_expires_at + self.tokens.leeway(),
            )
            .await?;
        if let Some(token) = refresh_token {
            self.sessions
                .revoke_family_of(caller.id, &hash_refresh(token))
                .await?;
        }
        self.audit
            .record(SecurityEvent::new("logout").user(caller.id).origin(origin));
        Ok(())
    }

    /// Ends every session of the caller: all refresh tokens, and all access tokens issued so
    /// far (through the session epoch they carry).
    pub async fn logout_everywhere(
        &self,
        origin: &Origin,
        caller: &Caller,
    ) -> Result<(), AppError> {
        self.sessions.end_all_sessions(caller.id).await?;
        self.audit.record(
            SecurityEvent::new("logout_everywhere")
                .user(caller.id)
                .origin(origin),
        );
        Ok(())
    }

    /// Turns a bearer token into the caller, or 401. One query checks that the account still
    /// exists and is enabled, the token's epoch is current and its id is not revoked.
    pub async fn authenticate(&self, token: &str) -> Result<Caller, AppError> {
        let claims = self.tokens.validate_access(token)?;
        let state = self
            .users
            .access_state(claims.sub, claims.jti)
            .await?
            .ok_or_else(|| AppError::Unauthorized("the account no longer exists".into()))?;
        if state.disabled {
            return Err(AppError::Unauthorized("the account is disabled".into()));
        }
        if state.token_revoked || state.session_epoch != claims.sep {
            return Err(AppError::Unauthorized(
                "the access token has been revoked".into(),
            ));
        }
        Ok(Caller {
            id: claims.sub,
            role: state.role,
            token_id: claims.jti,
            token_expires_at: claims.expires_at(),
        })
    }

    async fn start_session(
        &self,
        user_id: Uuid,
        family_id: Uuid,
        epoch: i32,
    ) -> Result<Session, AppError> {
        let access = self.tokens.issue_access(user_id, epoch)?;
        let refresh = RefreshSecret::generate()?;
        let expires_at = self.tokens.refresh_expiry();
        let stored = self
            .sessions
            .insert_refresh(
                NewRefreshToken {
                    id: Uuid::now_v7(),
                    family_id,
                    user_id,
                    hash: refresh.hash,
                    expires_at,
                },
                epoch,
            )
            .await?;
        if !stored {
            // The account was disabled, or all its sessions ended, while this login ran.
            return Err(AppError::Unauthorized(BAD_CREDENTIALS.into()));
        }
        Ok(self.session(access.token, refresh.value, expires_at))
    }

    fn session(
        &self,
        access_token: String,
        refresh_token: String,
        refresh_expires_at: chrono::DateTime<chrono::Utc>,
    ) -> Session {
        Session {
            access_token,
            access_expires_in: self.tokens.access_ttl_secs(),
            refresh_token,
            refresh_expires_in: (refresh_expires_at - chrono::Utc::now()).num_seconds(),
        }
    }

    async fn limit(
        &self,
        origin: &Origin,
        account: Option<&str>,
        action: Action,
    ) -> Result<(), AppError> {
        let checked = self.limiter.check(action, origin.client_ip, account).await;
        self.audit_refusal(checked, origin, account, action)
    }

    /// Charges only `address`'s budget: a second address a request names, after [`Self::limit`]
    /// charged the client and the caller.
    async fn limit_address(
        &self,
        origin: &Origin,
        address: &str,
        action: Action,
    ) -> Result<(), AppError> {
        let checked = self.limiter.check_account(action, address).await;
        self.audit_refusal(checked, origin, Some(address), action)
    }

    fn audit_refusal(
        &self,
        checked: Result<(), AppError>,
        origin: &Origin,
        account: Option<&str>,
        action: Action,
    ) -> Result<(), AppError> {
        checked.inspect_err(|_| {
            let mut event = SecurityEvent::new("rate_limited")
                .origin(origin)
                .detail(serde_json::json!({ "action": format!("{action:?}").to_lowercase() }));
            event.email = account.map(str::to_owned);
            self.audit.record(event);
        })
    }
}
