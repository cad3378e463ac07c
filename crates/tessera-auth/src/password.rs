//! Password hashing on a bounded set of dedicated threads.
//!
//! New hashes are Argon2id (m = 19 MiB, t = 2, p = 1, PHC string). Better Auth's scrypt hashes
//! (`<salt hex>:<key hex>`, docs/better-auth-protocol.md §7) verify too and are flagged for
//! rehashing. Every hash runs on a fixed set of hashing threads behind a semaphore, so a burst of
//! sign-ins can neither starve the async executor nor allocate more than `cap × 19 MiB` at once.

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock, mpsc};
use std::time::Duration;

use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use ring::rand::{SecureRandom, SystemRandom};
use subtle::ConstantTimeEq;
use tokio::sync::Semaphore;
use unicode_normalization::UnicodeNormalization;

use crate::domain::Password;

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

/// Why hashing failed: only the hashing threads or the platform RNG can make it fail.
#[derive(Debug, thiserror::Error)]
#[error("password hashing failed: {0}")]
pub struct HashError(String);

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

/// The bounded password hasher, shared by every request.
#[derive(Clone)]
pub struct PasswordHasher {
    inner: Arc<Inner>,
}

struct Inner {
    format: HashFormat,
    cap: usize,
    permits: Semaphore,
    jobs: mpsc::Sender<Job>,
    in_flight: AtomicUsize,
    peak: AtomicUsize,
}

impl std::fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordHasher")
            .field("format", &self.inner.format)
            .field("cap", &self.cap())
            .finish()
    }
}

const SCRYPT_LOG_N: u8 = 14;
const SCRYPT_R: u32 = 16;
const SCRYPT_P: u32 = 1;
const SCRYPT_KEY_LEN: usize = 64;

impl PasswordHasher {
    /// A hasher writing `format` that runs at most `cap` hashes at once, on threads at
    /// [`HashPriority::default`].
    pub fn new(format: HashFormat, cap: usize) -> Self {
        Self::with_priority(format, cap, HashPriority::default())
    }

    /// A hasher writing `format` that runs at most `cap` hashes at once, on threads at `priority`.
    pub fn with_priority(format: HashFormat, cap: usize, priority: HashPriority) -> Self {
        let cap = cap.max(1);
        Self {
            inner: Arc::new(Inner {
                format,
                cap,
                permits: Semaphore::new(cap),
                jobs: spawn_workers(cap, priority),
                in_flight: AtomicUsize::new(0),
                peak: AtomicUsize::new(0),
            }),
        }
    }

    /// The concurrency cap.
    pub fn cap(&self) -> usize {
        self.inner.cap
    }

    /// The most hashes that have ever run at the same time; lets tests prove the cap by counting.
    pub fn peak_concurrency(&self) -> usize {
        self.inner.peak.load(Ordering::SeqCst)
    }

    /// Hashes a new password in the configured format.
    pub async fn hash(&self, password: &Password) -> Result<String, HashError> {
        let plain = password.expose().to_owned();
        let format = self.inner.format;
        self.run(move || match format {
            HashFormat::Argon2id => hash_argon2id(&plain),
            HashFormat::Scrypt => hash_scrypt(&plain),
        })
        .await?
    }

    /// Checks a password against a stored hash. With no stored hash (unknown user, no
    /// credential account) a dummy hash is checked instead, so the time taken reveals nothing.
    pub async fn verify(
        &self,
        password: &Password,
        stored: Option<String>,
    ) -> Result<Verified, HashError> {
        let plain = password.expose().to_owned();
        let format = self.inner.format;
        self.run(move || {
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

    /// Runs `work` on the hashing threads once a permit is free, counting concurrency.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, HashError> {
        let _permit = self
            .inner
            .permits
            .acquire()
            .await
            .map_err(|_| HashError("hasher closed".into()))?;
        let inner = Arc::clone(&self.inner);
        let (done, result) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let now = inner.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            inner.peak.fetch_max(now, Ordering::SeqCst);
            let out = work();
            inner.in_flight.fetch_sub(1, Ordering::SeqCst);
            let _ = done.send(out);
        });
        self.inner
            .jobs
            .send(job)
            .map_err(|_| HashError("hashing threads stopped".into()))?;
        result
            .await
            .map_err(|_| HashError("hashing thread dropped the job".into()))
    }
}

type Job = Box<dyn FnOnce() + Send>;

/// Starts exactly `cap` hashing threads sharing one job queue.
///
/// Dedicated threads rather than tokio's blocking pool: Argon2 allocates 19 MiB per hash, and
/// glibc keeps freed blocks in per-thread arenas, so hashing on whichever of the (up to 512)
/// blocking threads happens to be free lets resident memory grow with every new thread. With a
/// fixed set of threads at most `cap` such blocks stay resident. The threads end when the hasher
/// (the queue's sender) is dropped.
fn spawn_workers(cap: usize, priority: HashPriority) -> mpsc::Sender<Job> {
    let (jobs, queue) = mpsc::channel::<Job>();
    let queue = Arc::new(Mutex::new(queue));
    for index in 0..cap {
        let queue = Arc::clone(&queue);
        let spawned = std::thread::Builder::new()
            .name(format!("tessera-hash-{index}"))
            .spawn(move || {
                yield_to_requests(priority);
                loop {
                    let job = {
                        let queue = queue
                            .lock()
                            .unwrap_or_else(|poisoned| poisoned.into_inner());
                        queue.recv_timeout(IDLE_RELEASE)
                    };
                    match job {
                        Ok(job) => job(),
                        // Idle: give this thread's Argon2 memory back to the system.
                        Err(mpsc::RecvTimeoutError::Timeout) => release_argon2_memory(),
                        Err(mpsc::RecvTimeoutError::Disconnected) => break,
                    }
                }
            });
        if let Err(err) = spawned {
            tracing::error!(error = %err, "could not start a password-hashing thread");
        }
    }
    jobs
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
        .map_err(|_| HashError("random generator failed".into()))?;
    Ok(bytes)
}

fn hash_argon2id(plain: &str) -> Result<String, HashError> {
    let salt =
        SaltString::encode_b64(&random_bytes::<16>()?).map_err(|e| HashError(e.to_string()))?;
    let mut salt_bytes = [0u8; 64];
    let salt_bytes = salt
        .as_salt()
        .decode_b64(&mut salt_bytes)
        .map_err(|e| HashError(e.to_string()))?;
    let argon = argon2();
    let output = argon2_output(&argon, plain, salt_bytes, Params::DEFAULT_OUTPUT_LEN)
        .ok_or_else(|| HashError("argon2 failed".into()))?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(argon.params()).map_err(|e| HashError(e.to_string()))?,
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
    let key = scrypt_key(plain, &salt_hex).ok_or_else(|| HashError("scrypt failed".into()))?;
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
        let on_hasher = hasher.run(thread_schedule_policy).await.unwrap().unwrap();
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
            .run(move || (thread_schedule_policy().unwrap(), niceness().unwrap()))
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
