//! Password hashing on a bounded set of dedicated threads.
//!
//! New hashes are Argon2id (m = 19 MiB, t = 2, p = 1, PHC string). Better Auth's scrypt hashes
//! (`<salt hex>:<key hex>`, docs/better-auth-protocol.md §7) verify too and are flagged for
//! rehashing. Every hash runs on a fixed set of hashing threads, so a burst of sign-ins can
//! neither starve the async executor nor allocate more than `cap × 19 MiB` at once. The threads
//! serve a queue that is fair across clients and refuses a hash that would wait longer than a
//! bound (`queue`): beyond it, sign-in and sign-up answer 503 at once (`shed`).

mod queue;
mod shed;

use std::str::FromStr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use ring::rand::{SecureRandom, SystemRandom};
use subtle::ConstantTimeEq;
use unicode_normalization::UnicodeNormalization;

pub use queue::{HashCost, INITIAL_COST_ESTIMATE};

use crate::domain::Password;
use crate::rate_limit::ClientIp;
use queue::{Job, Queue, Refused};

/// Which format new hashes are written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HashFormat {
    /// Argon2id PHC strings (the default).
    Argon2id,
    /// Better Auth's scrypt format, for running side by side with a Better Auth server.
    Scrypt,
}

impl FromStr for HashFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "argon2id" | "argon2" => Ok(Self::Argon2id),
            "scrypt" => Ok(Self::Scrypt),
            other => Err(format!(
                "unknown password hash format {other:?} (argon2id or scrypt)"
            )),
        }
    }
}

/// What checking a password against a stored hash found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    /// The password matched.
    pub matches: bool,
    /// The stored hash is in an older format and should be replaced now that the plain text is known.
    pub needs_rehash: bool,
}

/// Why a hash was not computed.
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    /// The queue is full for this client: the hash would have waited longer than the bound, so
    /// it was refused without running.
    #[error("password hashing is too busy; retry in {retry_after_secs} s")]
    Busy {
        /// When a retry would likely be admitted, in whole seconds (at least 1).
        retry_after_secs: u64,
    },
    /// The hashing threads or the platform RNG failed.
    #[error("password hashing failed: {0}")]
    Failed(String),
}

/// Where the hashing threads sit in the CPU scheduler, below the request handlers either way.
///
/// A trade-off for when a CPU is saturated, measured in BENCHMARKS.md ("The storm"):
/// - [`HashPriority::Low`] (default): nice 10. Hashing keeps about a tenth of a contended CPU,
///   so sign-ins go on (about 6/s per hashing thread) under a request flood or a busy
///   neighbour, but a running hash keeps its time slice when a request arrives: during a
///   sign-in burst other requests' p99 grows by a millisecond or two (with one thread per CPU).
/// - [`HashPriority::Idle`]: `SCHED_IDLE`. A request handler preempts a hash at once, so a
///   sign-in burst leaves other requests' latency alone; but anything else saturating the CPU
///   (a request flood, another process) leaves hashing the idle class's sliver: sign-ins slow to
///   seconds each. For a host that runs nothing else, behind a rate limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HashPriority {
    /// Nice 10.
    #[default]
    Low,
    /// `SCHED_IDLE` on Linux (nice 10 where it cannot be set).
    Idle,
}

impl FromStr for HashPriority {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "idle" => Ok(Self::Idle),
            "low" => Ok(Self::Low),
            other => Err(format!("unknown hashing priority {other:?} (idle or low)")),
        }
    }
}

/// How long a hash may wait for a thread before it is refused, by default: 2 s.
pub const DEFAULT_MAX_QUEUE_WAIT: Duration = Duration::from_secs(2);

/// How the hashing queue admits jobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueLimits {
    /// The longest wait a new hash may imply (its jobs ahead × the cost of one ÷ the threads);
    /// a hash that would wait longer is refused.
    pub max_wait: Duration,
    /// How the cost of one hash is estimated.
    pub cost: HashCost,
}

impl Default for QueueLimits {
    fn default() -> Self {
        Self {
            max_wait: DEFAULT_MAX_QUEUE_WAIT,
            cost: HashCost::Measured,
        }
    }
}

/// The bounded password hasher, shared by every request.
#[derive(Clone)]
pub struct PasswordHasher {
    inner: Arc<Inner>,
}

struct Inner {
    format: HashFormat,
    cap: usize,
    queue: Arc<Queue>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // The last handle is gone: the threads finish what is queued, then end.
        self.queue.close();
    }
}

impl std::fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordHasher")
            .field("format", &self.inner.format)
            .field("cap", &self.cap())
            .finish()
    }
}

/// The queue's bucket for hashes no client is named for (see [`PasswordHasher::hash`]).
const UNNAMED_CLIENT: &str = "unnamed";
/// The queue's bucket for [`PasswordHasher::hold`]'s jobs.
const HOLD_CLIENT: &str = "hold";

const SCRYPT_LOG_N: u8 = 14;
const SCRYPT_R: u32 = 16;
const SCRYPT_P: u32 = 1;
const SCRYPT_KEY_LEN: usize = 64;

impl PasswordHasher {
    /// A hasher writing `format` that runs at most `cap` hashes at once, on threads at
    /// [`HashPriority::default`], with the default [`QueueLimits`].
    pub fn new(format: HashFormat, cap: usize) -> Self {
        Self::with_priority(format, cap, HashPriority::default())
    }

    /// A hasher writing `format` that runs at most `cap` hashes at once, on threads at `priority`,
    /// with the default [`QueueLimits`].
    pub fn with_priority(format: HashFormat, cap: usize, priority: HashPriority) -> Self {
        Self::with_limits(format, cap, priority, QueueLimits::default())
    }

    /// A hasher writing `format` that runs at most `cap` hashes at once, on threads at
    /// `priority`, admitting hashes within `limits`.
    pub fn with_limits(
        format: HashFormat,
        cap: usize,
        priority: HashPriority,
        limits: QueueLimits,
    ) -> Self {
        let cap = cap.max(1);
        let queue = Arc::new(Queue::new(cap, limits.max_wait, limits.cost));
        spawn_workers(&queue, cap, priority);
        Self {
            inner: Arc::new(Inner { format, cap, queue }),
        }
    }

    /// The concurrency cap.
    pub fn cap(&self) -> usize {
        self.inner.cap
    }

    /// The most hashes that have ever run at the same time; lets tests prove the cap by counting.
    pub fn peak_concurrency(&self) -> usize {
        self.inner.queue.peak()
    }

    /// How many hashes have been refused because the queue was full (for metrics).
    pub fn shed_count(&self) -> u64 {
        self.inner.queue.shed_count()
    }

    /// How many hashes are waiting for a thread.
    pub fn queued(&self) -> usize {
        self.inner.queue.queued()
    }

    /// This hasher, queueing in `client`'s turn (its rate-limit bucket: the address, or its /64):
    /// clients are served in turn, so one address's flood cannot delay everyone else's sign-ins.
    pub fn for_client(&self, client: &ClientIp) -> ClientHasher<'_> {
        ClientHasher {
            hasher: self,
            client: client.bucket(),
        }
    }

    /// Hashes a new password in the configured format, queued in a turn shared by every caller
    /// that names no client.
    pub async fn hash(&self, password: &Password) -> Result<String, HashError> {
        self.hash_for(UNNAMED_CLIENT, password).await
    }

    /// Checks a password against a stored hash (see [`ClientHasher::verify`]), queued in a turn
    /// shared by every caller that names no client.
    pub async fn verify(
        &self,
        password: &Password,
        stored: Option<String>,
    ) -> Result<Verified, HashError> {
        self.verify_for(UNNAMED_CLIENT, password, stored).await
    }

    /// Occupies every hashing thread until the returned guard is dropped, so that hashes queue
    /// behind it: puts the queue in a known state, for tests of admission and for drills.
    /// Resolves once every thread is held.
    pub async fn hold(&self) -> HashingHold {
        let gate = Arc::new((Mutex::new(false), std::sync::Condvar::new()));
        let (started, mut held) = tokio::sync::mpsc::unbounded_channel();
        for _ in 0..self.inner.cap {
            let gate = Arc::clone(&gate);
            let started = started.clone();
            self.inner.queue.push_unchecked(
                HOLD_CLIENT,
                Box::new(move || {
                    let _ = started.send(());
                    let (released, signal) = &*gate;
                    let mut released = released.lock().unwrap_or_else(|p| p.into_inner());
                    while !*released {
                        released = signal.wait(released).unwrap_or_else(|p| p.into_inner());
                    }
                    None
                }),
            );
        }
        drop(started);
        for _ in 0..self.inner.cap {
            if held.recv().await.is_none() {
                break;
            }
        }
        HashingHold { gate }
    }

    async fn hash_for(&self, client: &str, password: &Password) -> Result<String, HashError> {
        let plain = password.expose().to_owned();
        let format = self.inner.format;
        self.run(client, move || match format {
            HashFormat::Argon2id => hash_argon2id(&plain),
            HashFormat::Scrypt => hash_scrypt(&plain),
        })
        .await?
    }

    async fn verify_for(
        &self,
        client: &str,
        password: &Password,
        stored: Option<String>,
    ) -> Result<Verified, HashError> {
        let plain = password.expose().to_owned();
        let format = self.inner.format;
        // Admission is decided before this runs and never looks at `stored`: an unknown user's
        // dummy hash queues, costs and is refused exactly as a real one.
        self.run(client, move || {
            let Some(stored) = stored else {
                let _ = verify_argon2id(&plain, dummy_hash());
                return Verified {
                    matches: false,
                    needs_rehash: false,
                };
            };
            if stored.starts_with("$argon2") {
                let matches = verify_argon2id(&plain, &stored);
                Verified {
                    matches,
                    needs_rehash: matches && format == HashFormat::Scrypt,
                }
            } else {
                let matches = verify_scrypt(&plain, &stored);
                Verified {
                    matches,
                    needs_rehash: matches && format == HashFormat::Argon2id,
                }
            }
        })
        .await
    }

    /// Runs `work` on the hashing threads in `client`'s turn, or refuses it at once when the
    /// queue is full for that client.
    async fn run<T: Send + 'static>(
        &self,
        client: &str,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, HashError> {
        let (done, result) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            // The request was dropped (its client hung up) while queued: nobody waits for this
            // hash, so it is not worth a thread's time.
            if done.is_closed() {
                return None;
            }
            let (out, took) = queue::timed(work);
            let _ = done.send(out);
            Some(took)
        });
        self.inner
            .queue
            .admit(client, job)
            .map_err(|refused| match refused {
                Refused::Busy { retry_after_secs } => HashError::Busy { retry_after_secs },
                Refused::Closed => HashError::Failed("hashing threads stopped".into()),
            })?;
        result
            .await
            .map_err(|_| HashError::Failed("hashing thread dropped the job".into()))
    }
}

/// A [`PasswordHasher`] queueing in one client's turn (from [`PasswordHasher::for_client`]).
#[derive(Debug)]
pub struct ClientHasher<'a> {
    hasher: &'a PasswordHasher,
    client: String,
}

impl ClientHasher<'_> {
    /// Hashes a new password in the configured format.
    pub async fn hash(&self, password: &Password) -> Result<String, HashError> {
        self.hasher.hash_for(&self.client, password).await
    }

    /// Checks a password against a stored hash. With no stored hash (unknown user, no
    /// credential account) a dummy hash is checked instead, so the time taken reveals nothing.
    pub async fn verify(
        &self,
        password: &Password,
        stored: Option<String>,
    ) -> Result<Verified, HashError> {
        self.hasher.verify_for(&self.client, password, stored).await
    }
}

/// Keeps every hashing thread occupied until dropped (from [`PasswordHasher::hold`]).
#[derive(Debug)]
#[must_use = "the threads are released when the hold is dropped"]
pub struct HashingHold {
    gate: Arc<(Mutex<bool>, std::sync::Condvar)>,
}

impl Drop for HashingHold {
    fn drop(&mut self) {
        let (released, signal) = &*self.gate;
        *released.lock().unwrap_or_else(|p| p.into_inner()) = true;
        signal.notify_all();
    }
}

/// Starts exactly `cap` hashing threads serving `queue`.
///
/// Dedicated threads rather than tokio's blocking pool: Argon2 allocates 19 MiB per hash, and
/// glibc keeps freed blocks in per-thread arenas, so hashing on whichever of the (up to 512)
/// blocking threads happens to be free lets resident memory grow with every new thread. With a
/// fixed set of threads at most `cap` such blocks stay resident. The threads end when the hasher
/// is dropped and the queue is empty.
fn spawn_workers(queue: &Arc<Queue>, cap: usize, priority: HashPriority) {
    for index in 0..cap {
        let queue = Arc::clone(queue);
        let spawned = std::thread::Builder::new()
            .name(format!("tessera-hash-{index}"))
            .spawn(move || {
                yield_to_requests(priority);
                // Idle: give this thread's Argon2 memory back to the system.
                queue.serve(IDLE_RELEASE, release_argon2_memory);
            });
        if let Err(err) = spawned {
            tracing::error!(error = %err, "could not start a password-hashing thread");
        }
    }
}

/// Puts the calling (hashing) thread below every request handler (see [`HashPriority`]).
fn yield_to_requests(priority: HashPriority) {
    #[cfg(target_os = "linux")]
    {
        use thread_priority::unix::{
            NormalThreadSchedulePolicy, ThreadSchedulePolicy, set_thread_priority_and_policy,
            thread_native_id, thread_schedule_policy,
        };
        let idle = ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle);
        if priority == HashPriority::Idle {
            // The policy first: thread-priority then resets nice to 0, which only works before
            // nice is raised. Its result can be an error once the policy is already set, so
            // success is judged by reading the policy back.
            let _ = set_thread_priority_and_policy(
                thread_native_id(),
                thread_priority::ThreadPriority::Min,
                idle,
            );
            if thread_schedule_policy().ok() != Some(idle) {
                tracing::warn!("could not move the hashing thread to SCHED_IDLE; nice 10 instead");
            }
        }
        // Nice 10: the priority itself, or the fallback (it changes nothing in SCHED_IDLE).
        if let Err(err) = rustix::process::setpriority_process(Some(rustix::thread::gettid()), 10) {
            tracing::warn!(error = %err, "could not lower the hashing thread's priority");
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = priority;
}

/// How long the hashing threads wait for a job before the Argon2 memory goes back to the system.
const IDLE_RELEASE: Duration = Duration::from_secs(1);

/// Argon2 memory not in use: reused from hash to hash while sign-ins keep coming, and dropped
/// by whichever hashing thread has waited [`IDLE_RELEASE`] without a job (at most `cap` buffers,
/// since at most `cap` hashes run at once).
static SPARE_MEMORY: Mutex<Vec<Vec<Block>>> = Mutex::new(Vec::new());

/// Fresh Argon2 memory of `blocks` blocks (19 MiB at m = 19456 KiB).
///
/// The capacity is deliberately above glibc's largest dynamic mmap threshold (32 MiB), so the
/// allocation is always its own mmap and dropping it really returns it to the system; only the
/// blocks used are touched. Allocated at its real size, the first buffer would be mmapped, its
/// free would raise glibc's threshold to 19 MiB, and later ones would come from the thread's
/// malloc arena, which keeps two or three of them resident (measured: ~57 MiB per thread that
/// ever hashed).
fn argon2_memory(blocks: usize) -> Vec<Block> {
    const OVER_MMAP_THRESHOLD: usize = (33 << 20) / size_of::<Block>();
    let mut memory = Vec::with_capacity(blocks.max(OVER_MMAP_THRESHOLD));
    memory.resize(blocks, Block::default());
    memory
}

fn release_argon2_memory() {
    let spare = std::mem::take(&mut *SPARE_MEMORY.lock().unwrap_or_else(|p| p.into_inner()));
    drop(spare);
}

/// The raw Argon2 output for `plain` and `salt`, computed in spare or fresh memory.
fn argon2_output(argon: &Argon2<'_>, plain: &str, salt: &[u8], len: usize) -> Option<Output> {
    let blocks = argon.params().block_count();
    let reused = SPARE_MEMORY
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .pop()
        .filter(|memory| memory.capacity() >= blocks);
    let mut memory = reused.unwrap_or_else(|| argon2_memory(blocks));
    memory.resize(blocks, Block::default());
    let output = Output::init_with(len, |out| {
        argon
            .hash_password_into_with_memory(plain.as_bytes(), salt, out, &mut memory)
            .map_err(|_| argon2::password_hash::Error::Password)
    })
    .ok();
    SPARE_MEMORY
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(memory);
    output
}

fn argon2() -> Argon2<'static> {
    // OWASP's minimum for Argon2id: 19 MiB, two passes, one lane.
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

fn random_bytes<const N: usize>() -> Result<[u8; N], HashError> {
    let mut bytes = [0u8; N];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| HashError::Failed("random generator failed".into()))?;
    Ok(bytes)
}

fn hash_argon2id(plain: &str) -> Result<String, HashError> {
    let salt = SaltString::encode_b64(&random_bytes::<16>()?)
        .map_err(|e| HashError::Failed(e.to_string()))?;
    let mut salt_bytes = [0u8; 64];
    let salt_bytes = salt
        .as_salt()
        .decode_b64(&mut salt_bytes)
        .map_err(|e| HashError::Failed(e.to_string()))?;
    let argon = argon2();
    let output = argon2_output(&argon, plain, salt_bytes, Params::DEFAULT_OUTPUT_LEN)
        .ok_or_else(|| HashError::Failed("argon2 failed".into()))?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(argon.params())
            .map_err(|e| HashError::Failed(e.to_string()))?,
        salt: Some(salt.as_salt()),
        hash: Some(output),
    };
    Ok(phc.to_string())
}

/// What `PasswordVerifier::verify_password` does (algorithm, version, parameters and output
/// length from the PHC string; constant-time comparison of the outputs), in reused memory.
fn verify_argon2id(plain: &str, stored: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(stored) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return false;
    };
    let (Ok(algorithm), Ok(version), Ok(params)) = (
        Algorithm::try_from(parsed.algorithm),
        parsed
            .version
            .map(Version::try_from)
            .transpose()
            .map(Option::unwrap_or_default),
        Params::try_from(&parsed),
    ) else {
        return false;
    };
    let mut salt_bytes = [0u8; 64];
    let Ok(salt_bytes) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    let argon = Argon2::new(algorithm, version, params);
    #[cfg(test)]
    tests::record_verification(plain, &argon);
    // `Output`'s equality is constant-time.
    argon2_output(&argon, plain, salt_bytes, expected.len()).is_some_and(|out| out == expected)
}

/// A fixed Argon2id hash of a random password, checked when there is no real hash to check.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let plain = hex::encode(random_bytes::<16>().unwrap_or([7; 16]));
        hash_argon2id(&plain).unwrap_or_default()
    })
}

fn scrypt_key(plain: &str, salt_hex: &str) -> Option<[u8; SCRYPT_KEY_LEN]> {
    let params = scrypt::Params::new(SCRYPT_LOG_N, SCRYPT_R, SCRYPT_P, SCRYPT_KEY_LEN).ok()?;
    let normalized: String = plain.nfkc().collect();
    let mut key = [0u8; SCRYPT_KEY_LEN];
    // Better Auth passes the hex *string* as the salt, not the bytes it spells.
    scrypt::scrypt(
        normalized.as_bytes(),
        salt_hex.as_bytes(),
        &params,
        &mut key,
    )
    .ok()?;
    Some(key)
}

fn hash_scrypt(plain: &str) -> Result<String, HashError> {
    let salt_hex = hex::encode(random_bytes::<16>()?);
    let key =
        scrypt_key(plain, &salt_hex).ok_or_else(|| HashError::Failed("scrypt failed".into()))?;
    Ok(format!("{salt_hex}:{}", hex::encode(key)))
}

fn verify_scrypt(plain: &str, stored: &str) -> bool {
    let Some((salt_hex, key_hex)) = stored.split_once(':') else {
        return false;
    };
    let Ok(expected) = hex::decode(key_hex) else {
        return false;
    };
    scrypt_key(plain, salt_hex).is_some_and(|key| key.ct_eq(expected.as_slice()).into())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every Argon2id verification this test binary ran, as (password, m, t, p). Tests look up
    /// only their own password, so they can run in parallel.
    static VERIFICATIONS: Mutex<Vec<(String, u32, u32, u32)>> = Mutex::new(Vec::new());

    /// Called by `verify_argon2id` just before it computes the Argon2id output.
    pub(super) fn record_verification(plain: &str, argon: &Argon2<'_>) {
        let params = argon.params();
        VERIFICATIONS
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((
                plain.to_owned(),
                params.m_cost(),
                params.t_cost(),
                params.p_cost(),
            ));
    }

    /// The (m, t, p) of every Argon2id verification of `plain` so far.
    fn verifications_of(plain: &str) -> Vec<(u32, u32, u32)> {
        VERIFICATIONS
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .filter(|(password, ..)| password == plain)
            .map(|&(_, m, t, p)| (m, t, p))
            .collect()
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn idle_priority_hashing_threads_run_in_the_idle_class() {
        use thread_priority::unix::{
            NormalThreadSchedulePolicy, ThreadSchedulePolicy, thread_schedule_policy,
        };
        let hasher = PasswordHasher::with_priority(HashFormat::Argon2id, 2, HashPriority::Idle);
        let caller = thread_schedule_policy().unwrap();
        let on_hasher = hasher
            .run(UNNAMED_CLIENT, thread_schedule_policy)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            on_hasher,
            ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle)
        );
        assert_eq!(
            thread_schedule_policy().unwrap(),
            caller,
            "the caller's thread is left alone"
        );
    }

    #[test]
    fn hashing_priorities_parse_from_their_setting_names() {
        assert_eq!("idle".parse(), Ok(HashPriority::Idle));
        assert_eq!("LOW".parse(), Ok(HashPriority::Low));
        assert!("realtime".parse::<HashPriority>().is_err());
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn hashing_threads_run_at_nice_10_in_the_normal_class_by_default() {
        use thread_priority::unix::{
            NormalThreadSchedulePolicy, ThreadSchedulePolicy, thread_schedule_policy,
        };
        let hasher = PasswordHasher::new(HashFormat::Argon2id, 2);
        let niceness = || rustix::process::getpriority_process(Some(rustix::thread::gettid()));
        let caller = niceness().unwrap();
        let (policy, nice) = hasher
            .run(UNNAMED_CLIENT, move || {
                (thread_schedule_policy().unwrap(), niceness().unwrap())
            })
            .await
            .unwrap();
        assert_eq!(
            policy,
            ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Other)
        );
        // An unprivileged process can only raise niceness: already above 10, it stays there.
        assert_eq!(nice, caller.max(10));
    }

    #[test]
    fn hashes_written_by_the_argon2_crate_verify_and_vice_versa() {
        use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
        let salt = SaltString::encode_b64(&[7u8; 16]).unwrap();
        let theirs = argon2()
            .hash_password(b"correct horse", &salt)
            .unwrap()
            .to_string();
        assert!(verify_argon2id("correct horse", &theirs));
        assert!(!verify_argon2id("correct horsf", &theirs));
        let ours = hash_argon2id("correct horse").unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(argon2().verify_password(b"correct horse", &parsed).is_ok());
        assert!(argon2().verify_password(b"correct horsf", &parsed).is_err());
        // Other parameters in the PHC string are honoured, as the crate's verifier does.
        let light = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(8, 1, 1, None).unwrap(),
        );
        let light = light
            .hash_password(b"pw-123456", &salt)
            .unwrap()
            .to_string();
        assert!(verify_argon2id("pw-123456", &light));
        assert!(!verify_argon2id("pw-123457", &light));
        release_argon2_memory();
    }

    const VECTOR: &str = "0123456789abcdef0123456789abcdef:e8b256b6f9f4b1641136a66d4a26ba41a47b6c8c9bad6aa4145559ffda45ece1f0f16dec8482a3e5545feada0ba62f2b05eeb943b750c9396874e1762c78d27d";

    #[test]
    fn the_better_auth_scrypt_test_vector_reproduces() {
        let key = scrypt_key("password123", "0123456789abcdef0123456789abcdef").unwrap();
        assert_eq!(
            format!("0123456789abcdef0123456789abcdef:{}", hex::encode(key)),
            VECTOR
        );
        assert!(verify_scrypt("password123", VECTOR));
        assert!(!verify_scrypt("password124", VECTOR));
        assert!(!verify_scrypt("password123", "not-a-hash"));
    }

    #[tokio::test]
    async fn a_better_auth_hash_verifies_and_asks_to_be_rehashed_to_argon2id() {
        let hasher = PasswordHasher::new(HashFormat::Argon2id, 2);
        let found = hasher
            .verify(
                &Password::candidate("password123".into()),
                Some(VECTOR.into()),
            )
            .await
            .unwrap();
        assert_eq!(
            found,
            Verified {
                matches: true,
                needs_rehash: true
            }
        );
        let wrong = hasher
            .verify(
                &Password::candidate("password12".into()),
                Some(VECTOR.into()),
            )
            .await
            .unwrap();
        assert_eq!(
            wrong,
            Verified {
                matches: false,
                needs_rehash: false
            }
        );
    }

    #[tokio::test]
    async fn new_hashes_are_argon2id_with_owasp_parameters_and_verify() {
        let hasher = PasswordHasher::new(HashFormat::Argon2id, 2);
        let password = Password::candidate("correct horse".into());
        let hash = hasher.hash(&password).await.unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        let found = hasher.verify(&password, Some(hash)).await.unwrap();
        assert_eq!(
            found,
            Verified {
                matches: true,
                needs_rehash: false
            }
        );
    }

    #[tokio::test]
    async fn scrypt_mode_writes_better_auth_hashes_that_normalise_with_nfkc() {
        let hasher = PasswordHasher::new(HashFormat::Scrypt, 2);
        // U+FB01 (the "fi" ligature) is NFKC-equivalent to "fi".
        let hash = hasher
            .hash(&Password::candidate("ﬁnancial1".into()))
            .await
            .unwrap();
        assert_eq!(hash.len(), 32 + 1 + 128);
        let found = hasher
            .verify(&Password::candidate("financial1".into()), Some(hash))
            .await
            .unwrap();
        assert!(found.matches);
    }

    /// Far longer than any step here takes: a step still waiting then is a failure, not a hang.
    const BOUND: Duration = Duration::from_secs(30);

    /// Waits until `ready` holds, failing after [`BOUND`].
    async fn until(ready: impl Fn() -> bool) {
        let wait = async {
            while !ready() {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        };
        tokio::time::timeout(BOUND, wait)
            .await
            .expect("the queue reached the expected state");
    }

    /// `work`'s outcome, which must come without waiting for the held hashing thread.
    async fn at_once<T>(work: impl std::future::Future<Output = T>) -> T {
        tokio::time::timeout(BOUND, work)
            .await
            .expect("answered at once, not queued behind the held hashing thread")
    }

    #[tokio::test]
    async fn beyond_the_bound_a_known_and_an_unknown_user_are_refused_alike_and_at_once() {
        // One thread, held: each queued hash adds 100 ms to the next one's wait; 1 s allowed.
        let limits = QueueLimits {
            max_wait: Duration::from_secs(1),
            cost: HashCost::Fixed(Duration::from_millis(100)),
        };
        let hasher =
            PasswordHasher::with_limits(HashFormat::Argon2id, 1, HashPriority::Low, limits);
        let stored = hash_argon2id("correct horse").unwrap();
        let flood = ClientIp::new("198.51.100.1".parse().unwrap());
        let hold = hasher.hold().await;
        let mut admitted = Vec::new();
        for i in 0..10 {
            let (queued, flood) = (hasher.clone(), flood.clone());
            admitted.push(tokio::spawn(async move {
                let wrong = Password::candidate("wrong horse".into());
                queued.for_client(&flood).verify(&wrong, None).await
            }));
            until(|| hasher.queued() == i + 1).await;
        }
        // The only thread is held, so these answers cannot have waited for a hash.
        let password = Password::candidate("correct horse".into());
        let unknown = at_once(hasher.for_client(&flood).verify(&password, None)).await;
        let known = at_once(
            hasher
                .for_client(&flood)
                .verify(&password, Some(stored.clone())),
        )
        .await;
        let new_hash = at_once(hasher.for_client(&flood).hash(&password)).await;
        for refused in [unknown.map(|_| ()), known.map(|_| ()), new_hash.map(|_| ())] {
            assert!(
                matches!(
                    refused,
                    Err(HashError::Busy {
                        retry_after_secs: 1
                    })
                ),
                "{refused:?}"
            );
        }
        assert_eq!(hasher.shed_count(), 3);
        assert_eq!(hasher.queued(), 10);
        // Another address is still admitted, and served before the rest of the flood.
        let other = ClientIp::new("203.0.113.9".parse().unwrap());
        let waiting = {
            let queued = hasher.clone();
            tokio::spawn(async move {
                queued
                    .for_client(&other)
                    .verify(&password, Some(stored))
                    .await
            })
        };
        until(|| hasher.queued() == 11).await;
        drop(hold);
        assert!(waiting.await.unwrap().unwrap().matches);
        for flooded in admitted {
            assert!(!flooded.await.unwrap().unwrap().matches);
        }
        assert_eq!(hasher.shed_count(), 3);
    }

    #[tokio::test]
    async fn a_hash_whose_caller_is_gone_is_skipped() {
        use std::sync::atomic::{AtomicBool, Ordering};
        let hasher = PasswordHasher::new(HashFormat::Argon2id, 1);
        let ran = Arc::new(AtomicBool::new(false));
        let hold = hasher.hold().await;
        let abandoned = {
            let (queued, ran) = (hasher.clone(), Arc::clone(&ran));
            tokio::spawn(async move {
                queued
                    .run(UNNAMED_CLIENT, move || ran.store(true, Ordering::SeqCst))
                    .await
            })
        };
        until(|| hasher.queued() == 1).await;
        abandoned.abort();
        assert!(abandoned.await.unwrap_err().is_cancelled());
        drop(hold);
        // One thread, one client: this runs only after the abandoned job has had its turn.
        hasher.run(UNNAMED_CLIENT, || ()).await.unwrap();
        assert!(!ran.load(Ordering::SeqCst));
    }

    #[tokio::test]
    async fn an_unknown_user_still_costs_a_hash_and_never_matches() {
        let hasher = PasswordHasher::new(HashFormat::Argon2id, 1);
        let probe = "unknown-user-probe-5c1e";
        let found = hasher
            .verify(&Password::candidate(probe.into()), None)
            .await
            .unwrap();
        assert!(!found.matches);
        assert_eq!(hasher.peak_concurrency(), 1);
        // Exactly one real Argon2id verification, at the parameters new hashes are written
        // with (19 MiB, t = 2, p = 1), so an unknown email costs what a wrong password costs.
        assert_eq!(verifications_of(probe), vec![(19 * 1024, 2, 1)]);
    }
}
