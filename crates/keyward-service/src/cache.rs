//! The cache of verified user passwords (API keys have their own, smaller entries:
//! `key_cache`).
//!
//! An entry holds a salted SHA-256 digest of the secret that was verified, never the secret, and
//! the ready-built [`Authentication`], so a cache hit costs one hash, one constant-time compare
//! and an `Arc` clone. Entries are evicted on invalidate, update and clear-cache, and expire a
//! `ttl` after their last use.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use keyward_core::EpochMillis;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::authn::Authentication;

/// A digest of a secret under this process's cache salt.
pub(crate) type SecretDigest = [u8; 32];

/// One verified credential.
pub(crate) struct Verified {
    pub(crate) authentication: Arc<Authentication>,
    digest: SecretDigest,
    expires_at: AtomicI64,
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

    /// SHA-256 of the salt followed by `secret`.
    pub(crate) fn digest(&self, secret: &[u8]) -> [u8; 32] {
        let mut hasher = Sha256::new();
        hasher.update(self.0);
        hasher.update(secret);
        hasher.finalize().into()
    }
}

/// A cache's bound and time to live as the cache wants them: `None` when caching is off (zero
/// `ttl` or capacity), else the capacity and the TTL in milliseconds.
pub(crate) fn cache_bounds(capacity: usize, ttl: Duration) -> (Option<usize>, i64) {
    let ttl_ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
    ((ttl_ms > 0 && capacity > 0).then_some(capacity), ttl_ms)
}

/// A bounded cache of verified passwords keyed by username.
pub(crate) struct VerifiedCache {
    entries: Option<quick_cache::sync::Cache<String, Arc<Verified>>>,
    ttl_ms: i64,
    salt: SecretSalt,
}

/// Verified user passwords.
pub(crate) type UserCache = VerifiedCache;

impl VerifiedCache {
    /// A cache of at most `capacity` entries, each valid `ttl` after its last use; a zero `ttl`
    /// disables caching altogether.
    pub(crate) fn new(capacity: usize, ttl: Duration) -> VerifiedCache {
        let (capacity, ttl_ms) = cache_bounds(capacity, ttl);
        VerifiedCache {
            entries: capacity.map(quick_cache::sync::Cache::new),
            ttl_ms,
            salt: SecretSalt::new(),
        }
    }

    /// The salted digest of `secret`.
    pub(crate) fn digest(&self, secret: &[u8]) -> SecretDigest {
        self.salt.digest(secret)
    }

    /// The live entry for `key`, if any; refreshes its expiry.
    pub(crate) fn get(&self, key: &str, now: EpochMillis) -> Option<Arc<Verified>> {
        let entries = self.entries.as_ref()?;
        let entry = entries.get(key)?;
        let expires_at = entry.expires_at.load(Ordering::Relaxed);
        if expires_at <= now {
            entries.remove(key);
            return None;
        }
        // Refresh at most once a second so hits on one hot key do not all write the same line.
        let refreshed = now.saturating_add(self.ttl_ms);
        if refreshed - expires_at > 1000 {
            entry.expires_at.store(refreshed, Ordering::Relaxed);
        }
        Some(entry)
    }

    /// Remembers a successful verification of `secret` for `key`.
    pub(crate) fn insert(
        &self,
        key: String,
        secret: &[u8],
        authentication: Arc<Authentication>,
        now: EpochMillis,
    ) {
        if let Some(entries) = &self.entries {
            let entry = Verified {
                authentication,
                digest: self.digest(secret),
                expires_at: AtomicI64::new(now.saturating_add(self.ttl_ms)),
            };
            entries.insert(key, Arc::new(entry));
        }
    }

    /// Forgets `key`.
    pub(crate) fn remove(&self, key: &str) {
        if let Some(entries) = &self.entries {
            entries.remove(key);
        }
    }

    /// Forgets everything.
    pub(crate) fn clear(&self) {
        if let Some(entries) = &self.entries {
            entries.clear();
        }
    }
}

impl Verified {
    /// Whether `digest` is the digest of the secret this entry verified (constant time).
    pub(crate) fn matches(&self, digest: &SecretDigest) -> bool {
        self.digest.ct_eq(digest).into()
    }
}
