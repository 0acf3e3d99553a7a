//! Password hashing: Argon2id with a versioned server-side pepper, run off the async workers.
//!
//! Hashing costs tens of milliseconds of CPU on purpose. Each hash runs on a blocking thread,
//! at most `PASSWORD_HASH_CONCURRENCY` at once, and at most `PASSWORD_HASH_QUEUE` more may
//! wait: past that the caller gets 503 with `Retry-After` at once, so a login flood degrades
//! into quick refusals instead of an unbounded queue, and health checks keep answering.

use std::{sync::Arc, time::Duration};

use anyhow::Context;
use argon2::{
    Algorithm, Argon2, Params, PasswordHash, PasswordHasher as _, PasswordVerifier as _, Version,
};
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Semaphore;

use crate::{
    config::{AuthConfig, Peppers},
    error::AppError,
};

/// A stored hash and the id of the pepper that made it.
#[derive(Debug, Clone)]
pub struct StoredHash {
    pub phc: String,
    pub pepper_id: i16,
}

/// The outcome of checking a password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verified {
    No,
    Yes,
    /// Correct, but made with an old pepper or old parameters: store a fresh hash.
    YesButRehash,
}

#[derive(Clone)]
pub struct Passwords {
    inner: Arc<Inner>,
}

struct Inner {
    peppers: Peppers,
    params: Params,
    /// Hashes running now.
    running: Arc<Semaphore>,
    /// Hashes running or waiting; `try_acquire` on it is the admission check.
    admitted: Arc<Semaphore>,
    /// Verified against when an email is unknown, so that answer costs the same time.
    decoy: StoredHash,
}

impl Passwords {
    /// Builds the hasher; computes the decoy hash, which takes one hash's time.
    pub async fn new(config: &AuthConfig) -> anyhow::Result<Self> {
        let params = Params::new(
            config.hash_memory_kib,
            config.hash_iterations,
            config.hash_parallelism,
            None,
        )
        .map_err(|err| anyhow::anyhow!("invalid Argon2 parameters: {err}"))?;
        let concurrency = config.hash_concurrency.max(1);
        let mut inner = Inner {
            peppers: config.peppers.clone(),
            params,
            running: Arc::new(Semaphore::new(concurrency)),
            admitted: Arc::new(Semaphore::new(concurrency + config.hash_queue)),
            decoy: StoredHash {
                phc: String::new(),
                pepper_id: 0,
            },
        };
        let decoy_password = uuid::Uuid::new_v4().to_string();
        let (peppers, params) = (inner.peppers.clone(), inner.params.clone());
        inner.decoy = tokio::task::spawn_blocking(move || {
            hash_with(&peppers, &params, &SecretString::from(decoy_password))
        })
        .await
        .context("the decoy hash task failed")??;
        Ok(Self {
            inner: Arc::new(inner),
        })
    }

    /// Hashes a new password with the current pepper.
    pub async fn hash(&self, password: SecretString) -> Result<StoredHash, AppError> {
        let inner = self.inner.clone();
        self.run(move || hash_with(&inner.peppers, &inner.params, &password))
            .await?
            .map_err(AppError::Internal)
    }

    /// Checks `password` against a stored hash; `None` (unknown account) checks it against the
    /// decoy, which always fails but takes the same time.
    pub async fn verify(
        &self,
        password: SecretString,
        stored: Option<StoredHash>,
    ) -> Result<Verified, AppError> {
        let inner = self.inner.clone();
        self.run(move || {
            let Some(stored) = stored else {
                verify_with(&inner.peppers, &inner.decoy, &password);
                return Verified::No;
            };
            if !verify_with(&inner.peppers, &stored, &password) {
                return Verified::No;
            }
            let (current_pepper, _) = inner.peppers.current();
            let same_params = PasswordHash::new(&stored.phc)
                .ok()
                .and_then(|hash| Params::try_from(&hash).ok())
                .is_some_and(|params| {
                    params.m_cost() == inner.params.m_cost()
                        && params.t_cost() == inner.params.t_cost()
                        && params.p_cost() == inner.params.p_cost()
                });
            if stored.pepper_id == current_pepper && same_params {
                Verified::Yes
            } else {
                Verified::YesButRehash
            }
        })
        .await
    }

    /// Runs `work` on a blocking thread once a slot is free, or refuses at once when too
    /// many hashes are already running or waiting.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, AppError> {
        let admitted = self
            .inner
            .admitted
            .clone()
            .try_acquire_owned()
            .map_err(|_| AppError::Unavailable {
                detail: "the server is busy checking passwords, try again shortly".into(),
                retry_after: Some(Duration::from_secs(1)),
            })?;
        let running = self
            .inner
            .running
            .clone()
            .acquire_owned()
            .await
            .context("the hashing semaphore closed")?;
        // The permits move into the blocking task: even if the request is dropped meanwhile,
        // the slot stays taken until the hash is done.
        tokio::task::spawn_blocking(move || {
            let _permits = (admitted, running);
            work()
        })
        .await
        .map_err(|err| AppError::Internal(anyhow::anyhow!("password hashing task failed: {err}")))
    }
}

fn argon2<'a>(pepper: &'a [u8], params: &Params) -> anyhow::Result<Argon2<'a>> {
    Argon2::new_with_secret(pepper, Algorithm::Argon2id, Version::V0x13, params.clone())
        .map_err(|err| anyhow::anyhow!("invalid pepper for Argon2: {err}"))
}

fn hash_with(
    peppers: &Peppers,
    params: &Params,
    password: &SecretString,
) -> anyhow::Result<StoredHash> {
    let (pepper_id, pepper) = peppers.current();
    let phc = argon2(pepper, params)?
        .hash_password(password.expose_secret().as_bytes())
        .map_err(|err| anyhow::anyhow!("hashing failed: {err}"))?
        .to_string();
    Ok(StoredHash { phc, pepper_id })
}

/// Verification takes its parameters from the stored hash, and its pepper by the stored id.
fn verify_with(peppers: &Peppers, stored: &StoredHash, password: &SecretString) -> bool {
    let Some(pepper) = peppers.get(stored.pepper_id) else {
        tracing::error!(
            pepper_id = stored.pepper_id,
            "a password hash names a pepper that is no longer configured (PASSWORD_PEPPERS)"
        );
        return false;
    };
    let Ok(hash) = PasswordHash::new(&stored.phc) else {
        return false;
    };
    let Ok(params) = Params::try_from(&hash) else {
        return false;
    };
    argon2(pepper, &params).is_ok_and(|argon2| {
        argon2
            .verify_password(password.expose_secret().as_bytes(), &hash)
            .is_ok()
    })
}
