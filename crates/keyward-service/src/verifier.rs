//! Secret verification under load. `{SSHA256}` costs a microsecond and runs inline. PBKDF2 and
//! bcrypt hashes (keys imported from Elasticsearch, user passwords) cost milliseconds: they run on
//! a small bounded pool, so a flood of wrong secrets can take at most that pool's share of the
//! CPU, and beyond its queue the answer is 429 (`es_rejected_execution_exception`), never a 401
//! that would tell a client its correct secret was wrong.
//!
//! Misses for one id are serialised ("single flight"): while one request verifies a key, the
//! others for the same key wait, then find the verified secret's digest in the cache and are
//! answered without hashing — right or wrong.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use keyward_core::hash::verify_secret;
use tokio::sync::{OwnedMutexGuard, Semaphore};
use zeroize::Zeroizing;

/// Slow verifications allowed to wait for the pool before new ones are refused.
const MAX_QUEUED: usize = 256;
/// Requests allowed to wait behind one id's verification before new ones are refused.
const MAX_WAITING_PER_ID: usize = 64;

/// The verification is refused: the pool or one id's queue is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Overloaded;

/// Bounded verification and per-id single flight.
pub(crate) struct Verifier {
    permits: Arc<Semaphore>,
    queued: AtomicUsize,
    flights: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl Verifier {
    /// A pool of half the cores (at least one) for slow hashes.
    pub(crate) fn new() -> Verifier {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        Verifier {
            permits: Arc::new(Semaphore::new((cores / 2).max(1))),
            queued: AtomicUsize::new(0),
            flights: Mutex::new(HashMap::new()),
        }
    }

    /// Whether `secret` matches the self-describing hash `stored`.
    pub(crate) async fn verify(&self, secret: &[u8], stored: &str) -> Result<bool, Overloaded> {
        if stored.starts_with("{SSHA256}") {
            return Ok(verify_secret(secret, stored));
        }
        if self.queued.fetch_add(1, Ordering::AcqRel) >= MAX_QUEUED {
            self.queued.fetch_sub(1, Ordering::AcqRel);
            return Err(Overloaded);
        }
        let permit = self.permits.clone().acquire_owned().await;
        self.queued.fetch_sub(1, Ordering::AcqRel);
        let Ok(permit) = permit else {
            return Err(Overloaded);
        };
        let secret = Zeroizing::new(secret.to_vec());
        let stored = stored.to_owned();
        let verified = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            verify_secret(&secret, &stored)
        })
        .await;
        Ok(verified.unwrap_or(false))
    }

    /// Waits until no other request is verifying `key`; the returned guard lets the next one in.
    pub(crate) async fn single_flight(&self, key: &str) -> Result<Flight<'_>, Overloaded> {
        let lock = {
            let mut flights = self
                .flights
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let lock = flights.entry(key.to_owned()).or_default();
            if Arc::strong_count(lock) > MAX_WAITING_PER_ID {
                return Err(Overloaded);
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
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if flights
            .get(&self.key)
            .is_some_and(|lock| Arc::strong_count(lock) == 1)
        {
            flights.remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let stored = keyward_core::hash::hash_secret(
            keyward_core::hash::HashAlgorithm::Pbkdf2 { iterations: 1000 },
            b"secret",
            &mut crate::OsRandom,
        );
        assert_eq!(verifier.verify(b"secret", &stored).await, Ok(true));
        assert_eq!(verifier.verify(b"wrong", &stored).await, Ok(false));
    }
}
