//! The cache of verified user passwords (API keys have their own, smaller entries:
//! `key_cache`).
//!
//! An entry holds a salted SHA-256 digest of the secret that was verified, never the secret, and
//! the ready-built [`Authentication`], so a cache hit costs one hash, one constant-time compare
//! and an `Arc` clone. Entries are evicted on every change to the user or its roles and on
//! clear-cache, and expire a `ttl` after they were written.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use keyward_core::EpochMillis;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::authn::Authentication;
use crate::metrics::{CacheCounters, CacheStats, CountedCache, counted_cache};

/// A salted digest of a secret, truncated to 128 bits (collisions are out of reach at that
/// size): what both caches keep and compare instead of the secret. Compared in constant time;
/// its `Debug` shows nothing.
#[derive(Clone, Copy)]
pub(crate) struct SecretDigest([u8; 16]);

impl SecretDigest {
    /// Whether `other` is the same digest, in constant time.
    pub(crate) fn matches(&self, other: &SecretDigest) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl std::fmt::Debug for SecretDigest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretDigest(<redacted>)")
    }
}

/// One verified credential.
pub(crate) struct Verified {
    pub(crate) authentication: Arc<Authentication>,
    digest: SecretDigest,
    /// Written once: entries expire a TTL after they were written.
    expires_at: EpochMillis,
}

/// A per-process random salt, and the digest of a secret under it: what the caches compare
/// instead of keeping secrets.
pub(crate) struct SecretSalt([u8; 16]);

impl SecretSalt {
    /// A fresh salt from the operating system.
    pub(crate) fn new() -> SecretSalt {
        let mut salt = [0u8; 16];
        keyward_core::SecretSource::fill(&mut crate::OsRandom, &mut salt);
        SecretSalt(salt)
    }

    /// SHA-256 of the salt followed by `secret`, truncated to 128 bits.
    pub(crate) fn digest(&self, secret: &[u8]) -> SecretDigest {
        let mut hasher = Sha256::new();
        hasher.update(self.0);
        hasher.update(secret);
        let full: [u8; 32] = hasher.finalize().into();
        let mut digest = [0u8; 16];
        digest.copy_from_slice(&full[..16]);
        SecretDigest(digest)
    }
}

/// A cache's bound and time to live as the cache wants them: `None` when caching is off (zero
/// `ttl` or capacity), else the capacity and the TTL in milliseconds.
pub(crate) fn cache_bounds(capacity: usize, ttl: Duration) -> (Option<usize>, i64) {
    let ttl_ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
    ((ttl_ms > 0 && capacity > 0).then_some(capacity), ttl_ms)
}

/// The rule every cache of decisions follows so that a removal always wins: every removal bumps
/// the generation *before* it removes; whoever read the store (or the cache) at an older
/// generation may still insert, but checks the generation again *after* inserting and undoes its
/// insert when it moved. Either the removal saw the entry and removed it, or the inserter sees
/// the bump and removes it itself.
///
/// A generation can also be suspended (a store shared by several nodes lost its change feed, so
/// removals other nodes announce may be missed): while suspended, nothing may be read from the
/// cache or kept in it.
#[derive(Debug, Default)]
pub(crate) struct Generation {
    counter: AtomicU64,
    suspended: AtomicBool,
}

impl Generation {
    /// The current generation: read it before reading what will be inserted.
    pub(crate) fn current(&self) -> u64 {
        self.counter.load(Ordering::SeqCst)
    }

    /// Marks a removal; call before removing.
    pub(crate) fn bump(&self) {
        self.counter.fetch_add(1, Ordering::SeqCst);
    }

    /// Whether the cache may be read and written: not while suspended.
    pub(crate) fn usable(&self) -> bool {
        !self.suspended.load(Ordering::SeqCst)
    }

    /// Suspends the cache (call before clearing it): whatever is being inserted now is undone.
    pub(crate) fn suspend(&self) {
        self.suspended.store(true, Ordering::SeqCst);
        self.bump();
    }

    /// Lets the cache be used again (call after clearing it once more).
    pub(crate) fn resume(&self) {
        self.bump();
        self.suspended.store(false, Ordering::SeqCst);
    }

    /// Runs `insert`, then `undo` when a removal happened since `seen` or the cache is suspended.
    pub(crate) fn insert_unless_removed(
        &self,
        seen: u64,
        insert: impl FnOnce(),
        undo: impl FnOnce(),
    ) {
        insert();
        if self.current() != seen || !self.usable() {
            undo();
        }
    }
}

/// A bounded cache of verified passwords keyed by username.
///
/// As in Elasticsearch's realm cache, an entry expires a `ttl` after it was written, not after
/// its last use, and a removal while a password was being verified wins over the verification.
pub(crate) struct VerifiedCache {
    entries: Option<CountedCache<String, Arc<Verified>>>,
    counters: Arc<CacheCounters>,
    ttl_ms: i64,
    salt: SecretSalt,
    generation: Generation,
}

/// Verified user passwords.
pub(crate) type UserCache = VerifiedCache;

impl VerifiedCache {
    /// A cache of at most `capacity` entries, each valid `ttl` after it was written; a zero
    /// `ttl` disables caching altogether.
    pub(crate) fn new(capacity: usize, ttl: Duration) -> VerifiedCache {
        let (capacity, ttl_ms) = cache_bounds(capacity, ttl);
        let counters = Arc::new(CacheCounters::new());
        VerifiedCache {
            entries: capacity.map(|capacity| counted_cache(capacity, &counters)),
            counters,
            ttl_ms,
            salt: SecretSalt::new(),
            generation: Generation::default(),
        }
    }

    /// Hits, misses and evictions.
    pub(crate) fn counters(&self) -> &CacheCounters {
        &self.counters
    }

    /// Hits, misses and evictions, with the number of entries held.
    pub(crate) fn stats(&self) -> CacheStats {
        self.counters
            .stats(self.entries.as_ref().map_or(0, |entries| entries.len()))
    }

    /// The salted digest of `secret`.
    pub(crate) fn digest(&self, secret: &[u8]) -> SecretDigest {
        self.salt.digest(secret)
    }

    /// The current generation: read it before reading the user from the store, and hand it
    /// to [`VerifiedCache::insert`].
    pub(crate) fn generation(&self) -> u64 {
        self.generation.current()
    }

    /// The live entry for `key`, if any.
    pub(crate) fn get(&self, key: &str, now: EpochMillis) -> Option<Arc<Verified>> {
        let entries = self.entries.as_ref()?;
        if !self.generation.usable() {
            return None;
        }
        let entry = entries.get(key)?;
        if entry.expires_at <= now {
            if entries.remove(key).is_some() {
                self.counters.evicted();
            }
            return None;
        }
        Some(entry)
    }

    /// Remembers a successful verification of `secret` for `key`, of a user read from the store
    /// at `generation`: a removal since then (the user disabled, deleted, its password or roles
    /// changed while the password was being verified) wins, and the entry does not stay.
    pub(crate) fn insert(
        &self,
        generation: u64,
        key: &str,
        secret: &[u8],
        authentication: Arc<Authentication>,
        now: EpochMillis,
    ) {
        let Some(entries) = &self.entries else {
            return;
        };
        let entry = Arc::new(Verified {
            authentication,
            digest: self.digest(secret),
            expires_at: now.saturating_add(self.ttl_ms),
        });
        self.generation.insert_unless_removed(
            generation,
            || entries.insert(key.to_owned(), entry),
            || {
                entries.remove(key);
            },
        );
    }

    /// Forgets `key`.
    pub(crate) fn remove(&self, key: &str) {
        self.generation.bump();
        if let Some(entries) = &self.entries {
            entries.remove(key);
        }
    }

    /// Forgets everything.
    pub(crate) fn clear(&self) {
        self.generation.bump();
        if let Some(entries) = &self.entries {
            entries.clear();
        }
    }

    /// Forgets everything and keeps nothing until [`VerifiedCache::resume`].
    pub(crate) fn suspend(&self) {
        self.generation.suspend();
        self.clear();
    }

    /// Caches again, from empty.
    pub(crate) fn resume(&self) {
        self.clear();
        self.generation.resume();
    }
}

impl Verified {
    /// Whether `digest` is the digest of the secret this entry verified (constant time).
    pub(crate) fn matches(&self, digest: &SecretDigest) -> bool {
        self.digest.matches(digest)
    }
}

/// A value computed at most once per `period`: callers within it share the last one, and
/// callers that arrive while it is being computed wait for that one computation. What bounds the
/// store reads of requests that anyone may send as often as they like (readiness, metrics).
pub(crate) struct Recent<T> {
    period: Duration,
    last: tokio::sync::Mutex<Option<(std::time::Instant, T)>>,
}

impl<T: Copy> Recent<T> {
    pub(crate) fn new(period: Duration) -> Recent<T> {
        Recent {
            period,
            last: tokio::sync::Mutex::new(None),
        }
    }

    /// The last value if computed within `period`, else the one `compute` makes now (an error is
    /// not kept: the next caller computes again).
    pub(crate) async fn get<E, F>(&self, compute: impl FnOnce() -> F) -> Result<T, E>
    where
        F: std::future::Future<Output = Result<T, E>>,
    {
        let mut last = self.last.lock().await;
        if let Some((at, value)) = *last
            && at.elapsed() < self.period
        {
            return Ok(value);
        }
        let value = compute().await?;
        *last = Some((std::time::Instant::now(), value));
        Ok(value)
    }
}
