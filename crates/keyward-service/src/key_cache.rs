//! The cache of verified API keys, shaped to cost little per key: a million cached keys must fit
//! in a couple of hundred megabytes at most (target: ≤ 200 bytes a key).
//!
//! An entry lives inline in the cache table: the key id as a fixed inline array (no allocation),
//! a 128-bit salted digest of the verified secret (never the secret), the expiry, and shared
//! handles (`Arc`) to what many keys have in common — the owner, their realm and the built
//! permissions. The only per-key allocation is the key's name. A hit clones those handles and
//! assembles the [`Authentication`] handed to the request.
//!
//! Entries expire a TTL after their last use; the last-use time is refreshed at most once a
//! second, by re-inserting the entry.

use std::sync::Arc;

use keyward_core::EpochMillis;
use keyward_core::api_key::ApiKeyType;
use keyward_core::authz::{Permission, RolePermission};
use subtle::ConstantTimeEq;

use crate::authn::{ApiKeyRef, Authentication, Realm, User, api_key_realm};
use crate::cache::{SecretSalt, cache_bounds};

/// A salted digest of a secret, truncated to 128 bits (collisions are out of reach at that size).
pub(crate) type SecretDigest = [u8; 16];

/// Ids longer than this are not cached (Elasticsearch's and keyward's ids have 20 characters).
const MAX_ID_LEN: usize = 23;

/// A key id stored inline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct InlineId {
    len: u8,
    bytes: [u8; MAX_ID_LEN],
}

impl InlineId {
    fn new(id: &str) -> Option<InlineId> {
        let raw = id.as_bytes();
        let len = u8::try_from(raw.len())
            .ok()
            .filter(|len| usize::from(*len) <= MAX_ID_LEN)?;
        let mut bytes = [0u8; MAX_ID_LEN];
        bytes[..raw.len()].copy_from_slice(raw);
        Some(InlineId { len, bytes })
    }
}

/// What a verified key authenticates as, minus its id.
#[derive(Clone)]
pub(crate) struct KeyEntry {
    pub(crate) name: Arc<str>,
    pub(crate) key_type: ApiKeyType,
    pub(crate) expiration: Option<EpochMillis>,
    pub(crate) user: Arc<User>,
    pub(crate) owner_realm: Arc<Realm>,
    pub(crate) assigned: Option<Arc<RolePermission>>,
    pub(crate) limited_by: Arc<RolePermission>,
}

impl KeyEntry {
    /// The subject this key authenticates as.
    pub(crate) fn authentication(&self, id: &str) -> Authentication {
        let realm = api_key_realm();
        Authentication {
            user: self.user.clone(),
            authentication_realm: realm.clone(),
            lookup_realm: realm,
            owner_realm: self.owner_realm.clone(),
            api_key: Some(ApiKeyRef {
                id: id.to_owned(),
                name: self.name.as_ref().to_owned(),
                key_type: self.key_type,
            }),
            token: false,
            permission: Permission::Limited {
                assigned: self.assigned.clone(),
                limited_by: self.limited_by.clone(),
            },
        }
    }
}

/// One cached key.
#[derive(Clone)]
pub(crate) struct CachedKey {
    digest: SecretDigest,
    last_use: EpochMillis,
    pub(crate) entry: KeyEntry,
}

impl CachedKey {
    /// Whether `digest` is the digest of the secret this entry verified (constant time).
    pub(crate) fn matches(&self, digest: &SecretDigest) -> bool {
        self.digest.ct_eq(digest).into()
    }
}

/// Verified API keys by id.
pub(crate) struct KeyCache {
    entries: Option<quick_cache::sync::Cache<InlineId, CachedKey>>,
    ttl_ms: i64,
    salt: SecretSalt,
}

impl KeyCache {
    /// At most `capacity` keys, each valid `ttl` after its last use; a zero `ttl` or capacity
    /// disables caching.
    pub(crate) fn new(capacity: usize, ttl: std::time::Duration) -> KeyCache {
        let (capacity, ttl_ms) = cache_bounds(capacity, ttl);
        KeyCache {
            entries: capacity.map(quick_cache::sync::Cache::new),
            ttl_ms,
            salt: SecretSalt::new(),
        }
    }

    /// The salted digest of `secret`, truncated to 128 bits.
    pub(crate) fn digest(&self, secret: &[u8]) -> SecretDigest {
        let full = self.salt.digest(secret);
        let mut digest = [0u8; 16];
        digest.copy_from_slice(&full[..16]);
        digest
    }

    /// The live entry for `id`, if any.
    pub(crate) fn get(&self, id: &str, now: EpochMillis) -> Option<CachedKey> {
        let entries = self.entries.as_ref()?;
        let key = InlineId::new(id)?;
        let cached = entries.get(&key)?;
        if cached.last_use.saturating_add(self.ttl_ms) <= now {
            entries.remove(&key);
            return None;
        }
        if now - cached.last_use > 1000 {
            let mut refreshed = cached.clone();
            refreshed.last_use = now;
            entries.insert(key, refreshed);
        }
        Some(cached)
    }

    /// Remembers a successful verification of `secret` for `id`.
    pub(crate) fn insert(&self, id: &str, secret: &[u8], entry: KeyEntry, now: EpochMillis) {
        if let (Some(entries), Some(key)) = (&self.entries, InlineId::new(id)) {
            let cached = CachedKey {
                digest: self.digest(secret),
                last_use: now,
                entry,
            };
            entries.insert(key, cached);
        }
    }

    /// Forgets `id`.
    pub(crate) fn remove(&self, id: &str) {
        if let (Some(entries), Some(key)) = (&self.entries, InlineId::new(id)) {
            entries.remove(&key);
        }
    }

    /// Forgets everything.
    pub(crate) fn clear(&self) {
        if let Some(entries) = &self.entries {
            entries.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stored_inline_when_they_fit() {
        assert!(InlineId::new("abcdefghijklmnopqrst").is_some());
        assert!(InlineId::new(&"x".repeat(MAX_ID_LEN)).is_some());
        assert!(InlineId::new(&"x".repeat(MAX_ID_LEN + 1)).is_none());
        assert_ne!(InlineId::new("ab"), InlineId::new("ab\0"));
    }

    #[test]
    fn entries_stay_small() {
        // The inline part of one cached key: id, digest, expiry and shared handles.
        assert!(std::mem::size_of::<(InlineId, CachedKey)>() <= 128);
    }
}
