//! What an account's owner does to it: verify its address, reset a forgotten password, change
//! it, rename the account, change its address, delete it. Another `impl` block of
//! [`AuthService`], in a module of its own.

use uuid::Uuid;

use super::{
    Action, AuthService, Caller, DisplayName, Email, Job, NewPassword, Origin, Password,
    SecurityEvent, Session, User, Verified, email_key, hash_refresh,
};
use crate::{
    app::{password_reset::PasswordResetEmail, verification::VerificationEmail},
    error::AppError,
};

impl AuthService {
    // ANCHOR: forgot_password
    /// Queues the reset email for `email` and answers the same whether or not the address has
    /// an account: this path reads no account (the job does), so neither the answer nor its
    /// timing tells.
    pub async fn forgot_password(&self, origin: &Origin, email: &Email) -> Result<(), AppError> {
        let key = email.key();
        self.limit(origin, Some(&key), Action::Password).await?;
        let job = Job::new(&PasswordResetEmail::requested(
            key.clone(),
            chrono::Utc::now(),
        ));
        if self.jobs.queue.enqueue(&job).await? {
            self.jobs.notify();
        }
        self.audit.record(
            SecurityEvent::new("password_reset_requested")
                .email(&key)
                .origin(origin),
        );
        Ok(())
    }
    // ANCHOR_END: forgot_password

    // ANCHOR: reset_password
    /// Sets a new password with a reset token (single use: it is consumed whatever happens)
    /// and ends every session of the account.
    pub async fn reset_password(
        &self,
        origin: &Origin,
        token: &str,
        password: NewPassword,
    ) -> Result<(), AppError> {
        self.limit(origin, None, Action::Password).await?;
        let hash = self.passwords.hash(password.secret()).await?;
        let Some(user_id) = self
            .sessions
            .reset_password(&hash_refresh(token), hash)
            .await?
        else {
            self.audit
                .record(SecurityEvent::new("password_reset_failed").origin(origin));
            return Err(AppError::Unauthorized(
                "the reset token is not valid: unknown, used or expired".into(),
            ));
        };
        self.audit.record(
            SecurityEvent::new("password_reset")
                .user(user_id)
                .origin(origin),
        );
        Ok(())
    }
    // ANCHOR_END: reset_password

    // ANCHOR: change_password
    /// Changes the caller's password, given the current one. Every session of the account
    /// ends (a thief's included) and the caller gets a new one, so only this client stays
    /// signed in.
    pub async fn change_password(
        &self,
        origin: &Origin,
        caller: &Caller,
        current: Password,
        new: NewPassword,
    ) -> Result<Session, AppError> {
        self.check_password(origin, caller, current, "password_change_failed")
            .await?;
        let gone = || AppError::Unauthorized("the account no longer exists".into());
        let hash = self.passwords.hash(new.secret()).await?;
        let epoch = self
            .sessions
            .change_password(caller.id, hash)
            .await?
            .ok_or_else(gone)?;
        self.audit.record(
            SecurityEvent::new("password_changed")
                .user(caller.id)
                .origin(origin),
        );
        // Only a logout-all or a disable landing in between can refuse the new session.
        self.start_session(caller.id, Uuid::now_v7(), epoch)
            .await
            .map_err(|err| match err {
                AppError::Unauthorized(_) => AppError::Unauthorized(
                    "the password changed, but the sessions ended meanwhile: log in again".into(),
                ),
                other => other,
            })
    }
    // ANCHOR_END: change_password

    // ANCHOR: verify_email
    /// Verifies an address with the token mailed to it (single use: an unknown, expired or
    /// disabled account's token is consumed; only a 409 leaves it). For an email change, this
    /// is when the account's address changes. No budget
    /// of its own: it hashes no password, and 2^256 tokens cannot be guessed at the API-wide
    /// rate either.
    pub async fn verify_email(&self, origin: &Origin, token: &str) -> Result<User, AppError> {
        let Some(user) = self.users.verify_email(&hash_refresh(token)).await? else {
            self.audit
                .record(SecurityEvent::new("email_verification_failed").origin(origin));
            return Err(AppError::Unauthorized(
                "the verification token is not valid: unknown, used or expired".into(),
            ));
        };
        self.audit.record(
            SecurityEvent::new("email_verified")
                .user(user.id)
                .origin(origin),
        );
        Ok(user)
    }
    // ANCHOR_END: verify_email

    /// Mails the caller a new verification token for the account's address. 409 when it is
    /// verified already.
    pub async fn resend_verification(
        &self,
        origin: &Origin,
        caller: &Caller,
    ) -> Result<(), AppError> {
        let user = self
            .users
            .by_id(caller.id)
            .await?
            .ok_or_else(|| AppError::Unauthorized("the account no longer exists".into()))?;
        if user.email_verified {
            return Err(AppError::Conflict("the address is verified already".into()));
        }
        self.limit(origin, Some(&email_key(&user.email)), Action::Password)
            .await?;
        let job = VerificationEmail::again(user.id, user.email, chrono::Utc::now());
        self.queue_verification(job).await
    }

    // ANCHOR: change_email
    /// Starts moving the caller's account to a new address, given the password: a token goes
    /// to the new address, and the account keeps its old one until the token comes back
    /// ([`Self::verify_email`]). Whether another account has the new address is not checked
    /// here, so the answer tells nothing about it; the verification is refused then (409).
    pub async fn change_email(
        &self,
        origin: &Origin,
        caller: &Caller,
        email: Email,
        password: Password,
    ) -> Result<(), AppError> {
        self.check_password(origin, caller, password, "email_change_failed")
            .await?;
        // The new address's budget too: no address gets more of these than of reset emails,
        // however many accounts ask.
        self.limit_address(origin, &email.key(), Action::Password)
            .await?;
        let job = VerificationEmail::change(caller.id, email.into(), chrono::Utc::now());
        self.queue_verification(job).await?;
        self.audit.record(
            SecurityEvent::new("email_change_requested")
                .user(caller.id)
                .origin(origin),
        );
        Ok(())
    }
    // ANCHOR_END: change_email

    async fn queue_verification(&self, email: VerificationEmail) -> Result<(), AppError> {
        if self.jobs.queue.enqueue(&Job::new(&email)).await? {
            self.jobs.notify();
        }
        Ok(())
    }

    /// Sets the caller's display name.
    pub async fn rename(
        &self,
        origin: &Origin,
        caller: &Caller,
        display_name: DisplayName,
    ) -> Result<User, AppError> {
        let user = self
            .users
            .rename(caller.id, &String::from(display_name))
            .await?
            .ok_or_else(|| AppError::Unauthorized("the account no longer exists".into()))?;
        self.audit.record(
            SecurityEvent::new("display_name_changed")
                .user(caller.id)
                .origin(origin),
        );
        Ok(user)
    }

    // ANCHOR: delete_account
    /// Deletes the caller's account, given its password. Everything it owns (tasks, sessions,
    /// a reset token, webhook endpoints where the service has them) goes with it in the same
    /// statement: the foreign keys cascade.
    pub async fn delete_account(
        &self,
        origin: &Origin,
        caller: &Caller,
        password: Password,
    ) -> Result<(), AppError> {
        self.check_password(origin, caller, password, "account_deletion_failed")
            .await?;
        if !self.users.delete(caller.id).await? {
            return Err(AppError::Unauthorized(
                "the account no longer exists".into(),
            ));
        }
        self.audit.record(
            SecurityEvent::new("account_deleted")
                .user(caller.id)
                .origin(origin),
        );
        Ok(())
    }
    // ANCHOR_END: delete_account

    /// Checks the caller's own password before a change only its owner may make: a stolen
    /// access token alone is not enough. A wrong one is 403 (audited as `failure`): the token
    /// is fine, and a 401 would make the client drop it.
    async fn check_password(
        &self,
        origin: &Origin,
        caller: &Caller,
        password: Password,
        failure: &'static str,
    ) -> Result<(), AppError> {
        let gone = || AppError::Unauthorized("the account no longer exists".into());
        let user = self.users.by_id(caller.id).await?.ok_or_else(gone)?;
        let key = email_key(&user.email);
        self.limit(origin, Some(&key), Action::Password).await?;
        let stored = self.users.credentials(&key).await?.map(|c| c.password);
        if self.passwords.verify(password.secret(), stored).await? == Verified::No {
            self.audit
                .record(SecurityEvent::new(failure).user(caller.id).origin(origin));
            return Err(AppError::Forbidden("the password is wrong".into()));
        }
        Ok(())
    }
}
