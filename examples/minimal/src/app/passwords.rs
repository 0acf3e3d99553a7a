//! Password hashing: Argon2id with a versioned server-side pepper, run off the async workers.
//!
//! Hashing costs tens of milliseconds of CPU on purpose. Hashes run on
//! `PASSWORD_HASH_CONCURRENCY` dedicated threads, and at most `PASSWORD_HASH_QUEUE` more may
//! wait: past that the caller gets 503 with `Retry-After` at once, so a login flood degrades
//! into quick refusals instead of an unbounded queue, and health checks keep answering.
//!
//! Each hashing thread allocates Argon2's working memory (`PASSWORD_HASH_MEMORY_KIB`, 19 MiB
//! by default) once and reuses it. Letting every hash allocate its own, on whichever blocking
//! thread was free, made glibc's allocator keep the freed blocks (its mmap threshold rises
//! after the first large free): resident memory grew by about 1 MiB per login, to 371 MiB
//! after about 300 logins in the benchmark. Now it is the idle size plus one buffer per thread.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, mpsc};
use std::time::Duration;

use anyhow::Context;
use argon2::password_hash::phc::{Output, ParamsString, Salt};
use argon2::password_hash::try_generate_salt;
use argon2::{ARGON2ID_IDENT, Algorithm, Argon2, Block, Params, PasswordHash, Version};
use secrecy::{ExposeSecret, SecretString};
use thread_priority::{ThreadPriority, ThreadPriorityValue, set_current_thread_priority};
use tokio::sync::{Semaphore, oneshot};

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
    /// Feeds the hashing threads; dropping it (with the last `Passwords`) ends them.
    jobs: mpsc::Sender<Job>,
    /// Hashes running or waiting; `try_acquire` on it is the admission check.
    admitted: Arc<Semaphore>,
    /// Verified against when an email is unknown, so that answer costs the same time.
    decoy: StoredHash,
    /// The work of every hash computed so far.
    work: Arc<AtomicU64>,
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
        let work = Arc::default();
        let jobs = start_hashers(concurrency, &work)?;
        let decoy_password = SecretString::from(uuid::Uuid::new_v4().to_string());
        let (peppers, decoy_params) = (config.peppers.clone(), params.clone());
        // With memory of its own, freed at once: an idle service keeps no hashing buffer.
        let decoy = submit(&jobs, move |_| {
            hash_with(
                &peppers,
                &decoy_params,
                &decoy_password,
                &mut Memory::default(),
            )
        })
        .await
        .context("the decoy hash failed")??;
        Ok(Self {
            inner: Arc::new(Inner {
                peppers: config.peppers.clone(),
                params,
                jobs,
                admitted: Arc::new(Semaphore::new(concurrency + config.hash_queue)),
                decoy,
                work,
            }),
        })
    }

    /// The Argon2 work done so far, in KiB × passes summed over every hash computed (the
    /// decoy's at start-up aside). Two requests cost the same hashing when they add the same:
    /// how the tests show that an unknown email costs what a wrong password costs.
    pub fn work_done(&self) -> u64 {
        self.inner.work.load(Ordering::Relaxed)
    }

    /// Hashes a new password with the current pepper.
    pub async fn hash(&self, password: SecretString) -> Result<StoredHash, AppError> {
        let inner = self.inner.clone();
        self.run(move |memory| hash_with(&inner.peppers, &inner.params, &password, memory))
            .await?
            .map_err(AppError::Internal)
    }

    // ANCHOR: verify
    /// Checks `password` against a stored hash; `None` (unknown account) checks it against the
    /// decoy, which always fails but takes the same time. A wrong password against a hash made
    /// with a retired pepper or other parameters (cheaper to check, or not checked at all)
    /// also costs a decoy check: how long a refusal takes tells nothing about the stored hash.
    pub async fn verify(
        &self,
        password: SecretString,
        stored: Option<StoredHash>,
    ) -> Result<Verified, AppError> {
        let inner = self.inner.clone();
        self.run(move |memory| {
            let Some(stored) = stored else {
                verify_with(&inner.peppers, &inner.decoy, &password, memory);
                return Verified::No;
            };
            let (current_pepper, _) = inner.peppers.current();
            let same_params = PasswordHash::new(&stored.phc)
                .ok()
                .and_then(|hash| Params::try_from(&hash).ok())
                .is_some_and(|params| {
                    params.m_cost() == inner.params.m_cost()
                        && params.t_cost() == inner.params.t_cost()
                        && params.p_cost() == inner.params.p_cost()
                });
            let current = stored.pepper_id == current_pepper && same_params;
            match (
                verify_with(&inner.peppers, &stored, &password, memory),
                current,
            ) {
                (true, true) => Verified::Yes,
                (true, false) => Verified::YesButRehash,
                (false, true) => Verified::No,
                (false, false) => {
                    verify_with(&inner.peppers, &inner.decoy, &password, memory);
                    Verified::No
                }
            }
        })
        .await
    }
    // ANCHOR_END: verify

    // ANCHOR: admission
    /// Hands `work` to the hashing threads, or refuses at once when too many hashes are
    /// already running or waiting.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Memory) -> T + Send + 'static,
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
        // The permit moves into the job: even if the request is dropped meanwhile, the slot
        // stays taken until the hash is done.
        submit(&self.inner.jobs, move |memory| {
            let _admitted = admitted;
            work(memory)
        })
        .await
        .map_err(AppError::Internal)
    }
    // ANCHOR_END: admission
}

type Job = Box<dyn FnOnce(&mut Memory) + Send>;

/// Argon2's working memory, kept by one hashing thread for all its hashes.
#[derive(Default)]
struct Memory {
    blocks: Vec<Block>,
    /// Adds up the work of every hash computed in this memory (see [`Passwords::work_done`]).
    work: Arc<AtomicU64>,
}

impl Memory {
    /// The blocks `params` needs, for one hash about to be computed; grows once if a stored
    /// hash was made with more memory. `None` when that much cannot be had: a corrupt hash
    /// asking for terabytes fails the check instead of aborting the process.
    fn blocks(&mut self, params: &Params) -> Option<&mut [Block]> {
        let count = params.block_count();
        if self.blocks.len() < count {
            self.blocks
                .try_reserve_exact(count - self.blocks.len())
                .ok()?;
            self.blocks.resize(count, Block::new());
        }
        let work = u64::from(params.m_cost()) * u64::from(params.t_cost());
        self.work.fetch_add(work, Ordering::Relaxed);
        self.blocks.get_mut(..count)
    }
}

fn start_hashers(threads: usize, work: &Arc<AtomicU64>) -> anyhow::Result<mpsc::Sender<Job>> {
    let (jobs, queue) = mpsc::channel::<Job>();
    let queue = Arc::new(Mutex::new(queue));
    for n in 0..threads {
        let queue = queue.clone();
        let work = work.clone();
        std::thread::Builder::new()
            .name(format!("password-hasher-{n}"))
            .spawn(move || {
                lower_priority();
                let mut memory = Memory {
                    blocks: Vec::new(),
                    work,
                };
                loop {
                    // The lock is held only while waiting for the next job, never while hashing.
                    let next = queue.lock().unwrap_or_else(PoisonError::into_inner).recv();
                    let Ok(job) = next else { return };
                    // A panicking job drops its reply (the caller gets a 500); the thread lives on.
                    let _ = catch_unwind(AssertUnwindSafe(|| job(&mut memory)));
                }
            })
            .context("could not start a password hashing thread")?;
    }
    Ok(jobs)
}

/// Hashing threads run at a lower priority (niceness 10 on Linux) than the async workers: a
/// login flood then takes the CPU the requests leave, rather than the other way round, and
/// `/healthz` keeps answering in milliseconds (the benchmark's saturated-login scenario, day
/// 20). Not starved: at niceness 10 a thread still gets about a tenth of a busy core.
fn lower_priority() {
    // Crossplatform 22 of 99 maps to niceness 10 for the normal Linux scheduling policy.
    let lowered = ThreadPriorityValue::try_from(22u8)
        .map_err(|err| format!("{err:?}"))
        .and_then(|value| {
            set_current_thread_priority(ThreadPriority::Crossplatform(value))
                .map_err(|err| format!("{err:?}"))
        });
    if let Err(err) = lowered {
        tracing::debug!(error = %err, "could not lower the priority of a password hashing thread");
    }
}

async fn submit<T: Send + 'static>(
    jobs: &mpsc::Sender<Job>,
    work: impl FnOnce(&mut Memory) -> T + Send + 'static,
) -> anyhow::Result<T> {
    let (reply, answer) = oneshot::channel();
    jobs.send(Box::new(move |memory| {
        let _ = reply.send(work(memory));
    }))
    .map_err(|_| anyhow::anyhow!("the password hashing threads have stopped"))?;
    answer
        .await
        .map_err(|_| anyhow::anyhow!("a password hashing job failed"))
}

fn argon2<'a>(pepper: &'a [u8], params: &Params) -> anyhow::Result<Argon2<'a>> {
    Argon2::new_with_secret(pepper, Algorithm::Argon2id, Version::V0x13, params.clone())
        .map_err(|err| anyhow::anyhow!("invalid pepper for Argon2: {err}"))
}

fn hash_with(
    peppers: &Peppers,
    params: &Params,
    password: &SecretString,
    memory: &mut Memory,
) -> anyhow::Result<StoredHash> {
    let (pepper_id, pepper) = peppers.current();
    let fail = |err: &dyn std::fmt::Display| anyhow::anyhow!("hashing failed: {err}");
    let salt = try_generate_salt().map_err(|err| fail(&err))?;
    let mut output = [0u8; Params::DEFAULT_OUTPUT_LEN];
    let blocks = memory
        .blocks(params)
        .ok_or_else(|| anyhow::anyhow!("hashing failed: no memory for {params:?}"))?;
    argon2(pepper, params)?
        .hash_password_into_with_memory(
            password.expose_secret().as_bytes(),
            &salt,
            &mut output,
            blocks,
        )
        .map_err(|err| fail(&err))?;
    let phc = PasswordHash {
        algorithm: ARGON2ID_IDENT,
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(params).map_err(|err| fail(&err))?,
        salt: Some(Salt::new(&salt).map_err(|err| fail(&err))?),
        hash: Some(Output::new(&output).map_err(|err| fail(&err))?),
    }
    .to_string();
    Ok(StoredHash { phc, pepper_id })
}

/// Verification takes its parameters from the stored hash, and its pepper by the stored id.
fn verify_with(
    peppers: &Peppers,
    stored: &StoredHash,
    password: &SecretString,
    memory: &mut Memory,
) -> bool {
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
    let (Some(salt), Some(expected), Ok(params)) =
        (&hash.salt, &hash.hash, Params::try_from(&hash))
    else {
        return false;
    };
    let (Ok(algorithm), Ok(version)) = (
        Algorithm::try_from(hash.algorithm.as_str()),
        Version::try_from(hash.version.unwrap_or(Version::V0x13.into())),
    ) else {
        return false;
    };
    let Ok(argon2) = Argon2::new_with_secret(pepper, algorithm, version, params.clone()) else {
        return false;
    };
    let Some(blocks) = memory.blocks(&params) else {
        return false;
    };
    let mut output = vec![0u8; expected.len()];
    argon2
        .hash_password_into_with_memory(
            password.expose_secret().as_bytes(),
            salt.as_ref(),
            &mut output,
            blocks,
        )
        .is_ok()
        // `Output`'s equality is constant-time.
        && Output::new(&output).is_ok_and(|computed| computed == *expected)
}
