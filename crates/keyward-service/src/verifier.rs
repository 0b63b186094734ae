//! Secret verification under load. `{SSHA256}` costs a microsecond and runs inline. PBKDF2 and
//! bcrypt hashes (keys imported from Elasticsearch, user passwords) cost milliseconds: they run on
//! a small pool of dedicated threads under Linux's `SCHED_IDLE` policy (elsewhere, or if that is
//! refused, at the lowest priority, nice 19), so they only get CPU that no request thread wants:
//! a request thread that wakes up takes the core from them at once, where a merely nicer thread
//! could finish its time slice first. A flood of wrong secrets thus runs on leftover CPU and
//! never delays requests that need no slow hash; beyond the pool's bounded queue the answer is 429
//! (`es_rejected_execution_exception`), never a 401 that would tell a client its correct secret
//! was wrong.
//!
//! Misses for one id are serialised ("single flight"): while one request verifies a key, the
//! others for the same key wait, then find the verified secret's digest in the cache and are
//! answered without hashing — right or wrong.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex, PoisonError};

use keyward_core::hash::verify_secret;
use tokio::sync::{OwnedMutexGuard, oneshot};
use zeroize::Zeroizing;

/// Slow verifications allowed to wait for the pool before new ones are refused.
const MAX_QUEUED: usize = 256;
/// Requests allowed to wait behind one id's verification before new ones are refused.
const MAX_WAITING_PER_ID: usize = 64;
/// Where `SCHED_IDLE` is not available, the pool's threads run this much nicer than the request
/// threads (the most there is).
const POOL_NICENESS: i32 = 19;

/// The verification is refused: the pool or one id's queue is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Overloaded;

/// One slow verification for the pool.
struct Job {
    secret: Zeroizing<Vec<u8>>,
    stored: String,
    answer: oneshot::Sender<bool>,
}

/// Bounded verification and per-id single flight.
pub(crate) struct Verifier {
    jobs: SyncSender<Job>,
    flights: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Slow verifications queued or running (the pool's threads count theirs down).
    depth: Arc<AtomicU64>,
    /// Verifications refused as [`Overloaded`].
    rejections: AtomicU64,
}

impl Verifier {
    /// A pool of half the cores (at least one) for slow hashes. Its threads stop when the
    /// verifier is dropped.
    pub(crate) fn new() -> Verifier {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        let (jobs, queue) = sync_channel(MAX_QUEUED);
        let queue = Arc::new(Mutex::new(queue));
        let depth = Arc::new(AtomicU64::new(0));
        for n in 0..(cores / 2).max(1) {
            let queue = queue.clone();
            let depth = Arc::clone(&depth);
            let spawned = std::thread::Builder::new()
                .name(format!("keyward-verify-{n}"))
                .spawn(move || run_pool_thread(&queue, &depth));
            if let Err(err) = spawned {
                tracing::error!(error = %err, "cannot start a verification thread");
            }
        }
        Verifier {
            jobs,
            flights: Mutex::new(HashMap::new()),
            depth,
            rejections: AtomicU64::new(0),
        }
    }

    /// Slow verifications queued or running now.
    pub(crate) fn queue_depth(&self) -> u64 {
        self.depth.load(Ordering::Relaxed)
    }

    /// Verifications refused so far because the pool or one key's queue was full.
    pub(crate) fn rejections(&self) -> u64 {
        self.rejections.load(Ordering::Relaxed)
    }

    fn reject(&self) -> Overloaded {
        self.rejections.fetch_add(1, Ordering::Relaxed);
        Overloaded
    }

    /// Whether `secret` matches the self-describing hash `stored`.
    pub(crate) async fn verify(&self, secret: &[u8], stored: &str) -> Result<bool, Overloaded> {
        if stored.starts_with("{SSHA256}") {
            return Ok(verify_secret(secret, stored));
        }
        let (answer, verified) = oneshot::channel();
        let job = Job {
            secret: Zeroizing::new(secret.to_vec()),
            stored: stored.to_owned(),
            answer,
        };
        // Counted before it is sent, so the pool's count-down never goes below zero.
        self.depth.fetch_add(1, Ordering::Relaxed);
        match self.jobs.try_send(job) {
            Ok(()) => verified.await.map_err(|_| Overloaded),
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.depth.fetch_sub(1, Ordering::Relaxed);
                Err(self.reject())
            }
        }
    }

    /// Waits until no other request is verifying `key`; the returned guard lets the next one in.
    pub(crate) async fn single_flight(&self, key: &str) -> Result<Flight<'_>, Overloaded> {
        let lock = {
            let mut flights = self.flights.lock().unwrap_or_else(PoisonError::into_inner);
            let lock = flights.entry(key.to_owned()).or_default();
            if Arc::strong_count(lock) > MAX_WAITING_PER_ID {
                return Err(self.reject());
            }
            lock.clone()
        };
        let guard = lock.lock_owned().await;
        Ok(Flight {
            verifier: self,
            key: key.to_owned(),
            guard: Some(guard),
        })
    }
}

/// One request's turn to verify a key.
pub(crate) struct Flight<'a> {
    verifier: &'a Verifier,
    key: String,
    guard: Option<OwnedMutexGuard<()>>,
}

impl Drop for Flight<'_> {
    fn drop(&mut self) {
        drop(self.guard.take());
        let mut flights = self
            .verifier
            .flights
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if flights
            .get(&self.key)
            .is_some_and(|lock| Arc::strong_count(lock) == 1)
        {
            flights.remove(&self.key);
        }
    }
}

/// One pool thread: lowers its own priority, then verifies until the verifier is gone.
fn run_pool_thread(queue: &Mutex<Receiver<Job>>, depth: &AtomicU64) {
    lower_priority();
    loop {
        let job = queue.lock().unwrap_or_else(PoisonError::into_inner).recv();
        let Ok(job) = job else { return };
        let verified = verify_secret(&job.secret, &job.stored);
        depth.fetch_sub(1, Ordering::Relaxed);
        // The request may have gone away meanwhile; nobody to tell then.
        let _ = job.answer.send(verified);
    }
}

/// Makes the calling thread yield the CPU to every request thread: `SCHED_IDLE` where the system
/// has it, else nice 19 (Linux sets priority per thread).
fn lower_priority() {
    #[cfg(target_os = "linux")]
    {
        use thread_priority::{
            NormalThreadSchedulePolicy, ThreadPriority, ThreadSchedulePolicy,
            set_thread_priority_and_policy, thread_native_id,
        };
        let idle = ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle);
        let Err(idle_err) =
            set_thread_priority_and_policy(thread_native_id(), ThreadPriority::Min, idle)
        else {
            return;
        };
        if let Err(err) =
            rustix::process::setpriority_process(Some(rustix::thread::gettid()), POOL_NICENESS)
        {
            tracing::warn!(
                error = %err,
                idle_error = ?idle_err,
                "cannot lower the verification threads' priority"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A PBKDF2 hash of `secret`: one that goes to the pool.
    fn slow_hash(secret: &[u8]) -> String {
        keyward_core::hash::hash_secret(
            keyward_core::hash::HashAlgorithm::Pbkdf2 { iterations: 1000 },
            secret,
            &mut crate::OsRandom,
        )
    }

    #[tokio::test]
    async fn flights_for_one_key_take_turns_and_leave_nothing_behind() {
        let verifier = Arc::new(Verifier::new());
        let first = verifier.single_flight("k").await.unwrap();
        let waiting = {
            let verifier = verifier.clone();
            tokio::spawn(async move {
                let _second = verifier.single_flight("k").await.unwrap();
            })
        };
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished());
        // Another key is not held up.
        drop(verifier.single_flight("other").await.unwrap());
        drop(first);
        waiting.await.unwrap();
        assert!(verifier.flights.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn slow_hashes_verify_on_the_pool() {
        let verifier = Verifier::new();
        let stored = slow_hash(b"secret");
        assert_eq!(verifier.verify(b"secret", &stored).await, Ok(true));
        assert_eq!(verifier.verify(b"wrong", &stored).await, Ok(false));
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn the_pool_runs_only_on_cpu_no_request_thread_wants() {
        let verifier = Verifier::new();
        // Run one job so the pool threads have certainly started and lowered their priority.
        let stored = slow_hash(b"secret");
        assert_eq!(verifier.verify(b"secret", &stored).await, Ok(true));
        let mut seen = 0;
        for task in std::fs::read_dir("/proc/self/task").unwrap() {
            let task = task.unwrap().path();
            let name = std::fs::read_to_string(task.join("comm")).unwrap_or_default();
            if !name.starts_with("keyward-verify") {
                continue;
            }
            // A thread of another test's verifier may have just exited.
            let Ok(stat) = std::fs::read_to_string(task.join("stat")) else {
                continue;
            };
            // Fields after the parenthesised name: state is field 3, the scheduling policy field
            // 41 (`SCHED_IDLE` is 5).
            let after_name = &stat[stat.rfind(')').unwrap() + 2..];
            let policy: i32 = after_name.split(' ').nth(38).unwrap().parse().unwrap();
            assert_eq!(policy, 5, "{name}: not SCHED_IDLE");
            seen += 1;
        }
        assert!(seen >= 1, "no verification thread found");
    }
}
