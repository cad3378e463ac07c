//! The email-and-password feature's settings: how passwords are hashed, and how many hashes
//! may run or wait.

use crate::password::{HashFormat, HashPriority, QueueLimits};

/// Password hashing for sign-up, sign-in and change-password.
#[derive(Clone, Copy, Debug)]
pub struct EmailPasswordSettings {
    /// Format of new password hashes (Argon2id; Better Auth's scrypt is read and rehashed).
    pub password_hash: HashFormat,
    /// How many password hashes may run at once: by default one per CPU the process may use,
    /// at most two ([`hashing_threads_for`]).
    pub hash_concurrency: usize,
    /// Where the hashing threads sit in the CPU scheduler.
    pub hash_priority: HashPriority,
    /// When a hash is refused rather than queued (sign-in and sign-up then answer 503): by
    /// default when it would wait more than 2 s, by the measured cost of a hash.
    pub hash_queue: QueueLimits,
}

impl Default for EmailPasswordSettings {
    fn default() -> Self {
        Self {
            password_hash: HashFormat::Argon2id,
            hash_concurrency: hashing_threads_for(
                std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
            ),
            hash_priority: HashPriority::default(),
            hash_queue: QueueLimits::default(),
        }
    }
}

/// Hashing threads for a process allowed `cpus` CPUs: one each, at most two (each holds 19 MiB
/// of Argon2 memory while it hashes).
///
/// On one CPU a second thread cannot hash in parallel; it only holds a second buffer, doubles
/// the time slices a request may wait behind when a sign-in burst meets other traffic (the storm
/// in BENCHMARKS.md: GET p99 4.5 ms with two threads, 1.9 ms with one), and doubles the share
/// of a saturated CPU that hashing takes from requests.
pub fn hashing_threads_for(cpus: usize) -> usize {
    cpus.clamp(1, 2)
}

#[cfg(test)]
mod tests {
    use super::hashing_threads_for;

    #[test]
    fn one_hashing_thread_per_cpu_and_never_more_than_two() {
        assert_eq!(hashing_threads_for(0), 1);
        assert_eq!(hashing_threads_for(1), 1);
        assert_eq!(hashing_threads_for(2), 2);
        assert_eq!(hashing_threads_for(64), 2);
    }
}
