//! The hashing queue: served round-robin across clients, and bounded by the wait it implies.
//!
//! A plain FIFO lets one client's flood push everyone else's sign-in to the back (300 queued
//! sign-ins delayed a legitimate one by 4.5 s). Here every client (the rate-limit bucket of its
//! address) has its own FIFO, and the hashing threads take one job from each client in turn. A
//! job is admitted only if the wait it implies — the jobs that will run before it, times the
//! estimated cost of one hash, divided by the threads — is within the bound; otherwise it is
//! refused at once and never runs. A client's jobs all queue behind the ones it already has, so
//! a flooding client hits the bound itself while a client with nothing queued waits about one
//! hash per other waiting client.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// A unit of work for a hashing thread; returns how long its hash took, or `None` when it did no
/// hashing to learn from (its caller was gone, or it only held the thread).
pub(super) type Job = Box<dyn FnOnce() -> Option<Duration> + Send>;

/// How the cost of one hash is estimated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HashCost {
    /// A moving average of the hashes' measured times (on the hashing threads, waits for the
    /// CPU included, so a busy host lowers the queue's length), starting from
    /// [`INITIAL_COST_ESTIMATE`].
    Measured,
    /// A fixed estimate: for tests, which need the queue's decisions not to depend on the host.
    Fixed(Duration),
}

/// The estimate before the first hash has been measured: about what Argon2id (19 MiB, t = 2)
/// takes on one thread sharing a CPU with requests, so a burst at start-up is not all admitted
/// on the strength of a guess far below the truth.
pub const INITIAL_COST_ESTIMATE: Duration = Duration::from_millis(50);

/// The weight of a new measurement in the moving average (1/8: a few dozen hashes to follow a
/// change of load, without one slow hash swinging the bound).
const EWMA_SHIFT: u32 = 3;

/// The hashing queue behind every [`super::PasswordHasher`].
pub(super) struct Queue {
    state: Mutex<State>,
    /// Signalled when a job is queued or the queue closes.
    work: Condvar,
    threads: usize,
    max_wait: Duration,
    cost: HashCost,
    shed: AtomicU64,
}

/// Why a job was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Refused {
    /// It would wait longer than the bound; in about this many seconds it would not.
    Busy {
        /// Whole seconds, at least 1.
        retry_after_secs: u64,
    },
    /// The hasher is shutting down.
    Closed,
}

#[derive(Default)]
struct State {
    /// Each client's jobs, oldest first; a client with none has no entry.
    waiting: HashMap<String, VecDeque<Job>>,
    /// Clients with waiting jobs, in the order they are served next.
    turns: VecDeque<String>,
    queued: usize,
    running: usize,
    peak: usize,
    /// The moving average of measured hashes, in nanoseconds (0: none measured yet).
    measured_ns: u64,
    closed: bool,
}

impl State {
    /// How many jobs run before a new one of `client`: its own waiting jobs, the running ones,
    /// and, from each other client, the jobs the round-robin serves first — one more than
    /// `client` has waiting for those whose turn comes before it, as many for those after it.
    fn ahead_of_new_job(&self, client: &str) -> usize {
        let own = self.waiting.get(client).map_or(0, VecDeque::len);
        let mut before_client = true;
        let mut ahead = own + self.running;
        for other in &self.turns {
            if other == client {
                before_client = false;
                continue;
            }
            let theirs = self.waiting.get(other).map_or(0, VecDeque::len);
            ahead += theirs.min(if before_client { own + 1 } else { own });
        }
        ahead
    }

    fn push(&mut self, client: &str, job: Job) {
        let jobs = self.waiting.entry(client.to_owned()).or_default();
        if jobs.is_empty() {
            self.turns.push_back(client.to_owned());
        }
        jobs.push_back(job);
        self.queued += 1;
    }

    /// The next job: the oldest of the client whose turn it is, who then goes to the back.
    fn pop(&mut self) -> Option<Job> {
        let client = self.turns.pop_front()?;
        let jobs = self.waiting.get_mut(&client)?;
        let job = jobs.pop_front();
        if jobs.is_empty() {
            self.waiting.remove(&client);
        } else {
            self.turns.push_back(client);
        }
        if job.is_some() {
            self.queued -= 1;
            self.running += 1;
            self.peak = self.peak.max(self.running);
        }
        job
    }

    fn record(&mut self, took: Duration) {
        let sample = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX).max(1);
        self.measured_ns = moving_average(self.measured_ns, sample);
    }
}

/// The next moving average after `sample` (the first sample is taken as it is).
fn moving_average(average: u64, sample: u64) -> u64 {
    if average == 0 {
        return sample;
    }
    let delta = i128::from(sample) - i128::from(average);
    let next = i128::from(average) + (delta >> EWMA_SHIFT);
    u64::try_from(next.max(1)).unwrap_or(u64::MAX)
}

impl Queue {
    /// A queue for `threads` hashing threads, admitting jobs that would wait at most `max_wait`.
    pub(super) fn new(threads: usize, max_wait: Duration, cost: HashCost) -> Self {
        Self {
            state: Mutex::new(State::default()),
            work: Condvar::new(),
            threads: threads.max(1),
            max_wait,
            cost,
            shed: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves the queue's counts as they were: still usable.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The estimated cost of one hash now.
    fn cost_estimate(&self, state: &State) -> Duration {
        match self.cost {
            HashCost::Fixed(cost) => cost,
            HashCost::Measured if state.measured_ns == 0 => INITIAL_COST_ESTIMATE,
            HashCost::Measured => Duration::from_nanos(state.measured_ns),
        }
    }

    /// Queues `job` for `client` if the wait it implies is within the bound; refuses it (and
    /// counts the refusal) otherwise, without running it.
    pub(super) fn admit(&self, client: &str, job: Job) -> Result<(), Refused> {
        let mut state = self.lock();
        if state.closed {
            return Err(Refused::Closed);
        }
        let ahead = u32::try_from(state.ahead_of_new_job(client)).unwrap_or(u32::MAX);
        let threads = u32::try_from(self.threads).unwrap_or(u32::MAX);
        let wait = self
            .cost_estimate(&state)
            .saturating_mul(ahead)
            .checked_div(threads)
            .unwrap_or(Duration::MAX);
        if wait > self.max_wait {
            drop(state);
            self.shed.fetch_add(1, Ordering::Relaxed);
            let excess = wait.saturating_sub(self.max_wait);
            let retry_after_secs = excess.as_secs() + u64::from(excess.subsec_nanos() > 0);
            return Err(Refused::Busy {
                retry_after_secs: retry_after_secs.max(1),
            });
        }
        state.push(client, job);
        drop(state);
        self.work.notify_one();
        Ok(())
    }

    /// Queues `job` whatever the wait (a hold on the threads, which must not be refused).
    pub(super) fn push_unchecked(&self, client: &str, job: Job) {
        self.lock().push(client, job);
        self.work.notify_one();
    }

    /// Jobs refused so far.
    pub(super) fn shed_count(&self) -> u64 {
        self.shed.load(Ordering::Relaxed)
    }

    /// Jobs waiting for a thread.
    pub(super) fn queued(&self) -> usize {
        self.lock().queued
    }

    /// The most jobs that have run at the same time.
    pub(super) fn peak(&self) -> usize {
        self.lock().peak
    }

    /// Lets the threads finish what is queued, then end.
    pub(super) fn close(&self) {
        self.lock().closed = true;
        self.work.notify_all();
    }

    /// A hashing thread's loop: runs jobs until the queue is closed and empty; `idle` is called
    /// after each `idle_after` without a job.
    pub(super) fn serve(&self, idle_after: Duration, idle: impl Fn()) {
        let mut state = self.lock();
        loop {
            if let Some(job) = state.pop() {
                drop(state);
                let took = job();
                state = self.lock();
                state.running -= 1;
                if let Some(took) = took {
                    state.record(took);
                }
                continue;
            }
            if state.closed {
                return;
            }
            let (next, waited) = self
                .work
                .wait_timeout(state, idle_after)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            state = next;
            if waited.timed_out() && state.queued == 0 {
                drop(state);
                idle();
                state = self.lock();
            }
        }
    }
}

/// Runs `work` and reports how long it took.
pub(super) fn timed<T>(work: impl FnOnce() -> T) -> (T, Duration) {
    let started = Instant::now();
    let out = work();
    (out, started.elapsed())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn noop() -> Job {
        Box::new(|| None)
    }

    /// A queue with one busy thread (as if a hash were running) and a cost of 100 ms.
    fn busy_queue(max_wait: Duration) -> Queue {
        let queue = Queue::new(1, max_wait, HashCost::Fixed(Duration::from_millis(100)));
        queue.lock().running = 1;
        queue
    }

    #[test]
    fn a_job_is_refused_once_the_wait_it_implies_exceeds_the_bound_and_never_runs() {
        let queue = busy_queue(Duration::from_secs(1));
        // Job k waits for the running hash and the k before it: (k + 1) × 100 ms.
        for _ in 0..10 {
            queue.admit("198.51.100.1", noop()).unwrap();
        }
        let ran = Arc::new(Mutex::new(false));
        let flag = Arc::clone(&ran);
        let refused = queue.admit(
            "198.51.100.1",
            Box::new(move || {
                *flag.lock().unwrap() = true;
                None
            }),
        );
        assert_eq!(
            refused,
            Err(Refused::Busy {
                retry_after_secs: 1
            })
        );
        assert_eq!(queue.queued(), 10);
        assert_eq!(queue.shed_count(), 1);
        // Drain what was admitted: the refused job is not among it.
        while let Some(job) = queue.lock().pop() {
            job();
        }
        assert!(!*ran.lock().unwrap());
    }

    #[test]
    fn another_client_is_admitted_while_one_floods_and_served_next() {
        let queue = busy_queue(Duration::from_secs(1));
        // Bounded, so a queue that never refuses fails the count below instead of looping.
        let admitted = (0..100)
            .take_while(|_| queue.admit("flood", noop()).is_ok())
            .count();
        assert_eq!(admitted, 10, "the flood is cut off at the 1 s bound");
        assert_eq!(queue.queued(), 10);
        // Ahead of a newcomer: the running hash and one of the flood's: 200 ms.
        assert_eq!(queue.lock().ahead_of_new_job("newcomer"), 2);
        let order = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&order);
        queue
            .admit(
                "newcomer",
                Box::new(move || {
                    seen.lock().unwrap().push("newcomer");
                    None
                }),
            )
            .unwrap();
        let mut served = 0;
        while let Some(job) = queue.lock().pop() {
            served += 1;
            job();
            if !order.lock().unwrap().is_empty() {
                break;
            }
        }
        assert_eq!(served, 2, "one of the flood's, then the newcomer's");
    }

    #[test]
    fn clients_are_served_in_turn_and_each_in_its_own_order() {
        let queue = Queue::new(1, Duration::MAX, HashCost::Fixed(Duration::from_millis(1)));
        let order = Arc::new(Mutex::new(Vec::new()));
        for (client, n) in [("a", 3), ("b", 1), ("c", 2)] {
            for i in 0..n {
                let seen = Arc::clone(&order);
                let job: Job = Box::new(move || {
                    seen.lock().unwrap().push(format!("{client}{i}"));
                    None
                });
                queue.admit(client, job).unwrap();
            }
        }
        // b has one job waiting, so a new one of b's runs in the second round: after a0, b0, c0
        // and a1 (a's turns come before b's, c's after).
        assert_eq!(queue.lock().ahead_of_new_job("b"), 4);
        loop {
            // The guard must be gone before the job ends (it locks again).
            let next = queue.lock().pop();
            let Some(job) = next else { break };
            job();
            queue.lock().running -= 1;
        }
        assert_eq!(*order.lock().unwrap(), ["a0", "b0", "c0", "a1", "c1", "a2"]);
    }

    #[test]
    fn the_estimate_follows_measured_hashes_and_starts_from_the_initial_one() {
        let queue = Queue::new(2, Duration::from_secs(2), HashCost::Measured);
        assert_eq!(queue.cost_estimate(&queue.lock()), INITIAL_COST_ESTIMATE);
        queue.lock().record(Duration::from_millis(80));
        assert_eq!(
            queue.cost_estimate(&queue.lock()),
            Duration::from_millis(80)
        );
        queue.lock().record(Duration::from_millis(160));
        assert_eq!(
            queue.cost_estimate(&queue.lock()),
            Duration::from_millis(90)
        );
        assert_eq!(moving_average(100, 20), 90);
    }
}
