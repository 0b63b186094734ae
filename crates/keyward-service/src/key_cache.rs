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
//!
//! In front of the shared cache, each thread keeps a few ready-made subjects ([`Authentication`])
//! of the keys it served in the last second. A hit there touches nothing another core writes: no
//! shard lock, no reference count of the owner's shared handles, which on a busy key would
//! bounce between cores on every request. Those copies are only trusted while the cache's
//! generation is unchanged; every removal bumps it, so an invalidated key is refused by every
//! thread at once.

use std::cell::RefCell;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use keyward_core::EpochMillis;
use keyward_core::api_key::ApiKeyType;
use keyward_core::authz::{Permission, RolePermission};

use crate::authn::{ApiKeyRef, Authentication, Realm, User, api_key_realm};
use crate::cache::{Generation, SecretDigest, SecretSalt, cache_bounds};
use crate::metrics::{CacheCounters, CacheStats, CountedCache, counted_cache};

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
    /// Owned, not shared: a hit hands it to the subject without copying it again.
    pub(crate) name: Box<str>,
    pub(crate) key_type: ApiKeyType,
    /// The expiry, [`NEVER`] for none: eight bytes where an `Option` takes sixteen.
    pub(crate) expires_at: EpochMillis,
    pub(crate) user: Arc<User>,
    pub(crate) owner_realm: Arc<Realm>,
    pub(crate) assigned: Option<Arc<RolePermission>>,
    pub(crate) limited_by: Arc<RolePermission>,
    /// The key's metadata as stored (JSON text); `None`, eight bytes, for the many keys without.
    pub(crate) metadata: Option<Arc<String>>,
}

/// [`KeyEntry::expires_at`] of a key without expiry (no real expiry is that far away).
pub(crate) const NEVER: EpochMillis = EpochMillis::MAX;

impl KeyEntry {
    /// When the key expires, if it does.
    pub(crate) fn expiration(&self) -> Option<EpochMillis> {
        (self.expires_at != NEVER).then_some(self.expires_at)
    }

    /// The subject this key authenticates as. It takes the entry's handles over rather than
    /// cloning them: on a cache hit the entry is already a copy, and every clone of a shared
    /// handle is an atomic write to a cache line all cores serving that owner contend for.
    pub(crate) fn into_authentication(self, id: &str) -> Authentication {
        let realm = api_key_realm();
        Authentication {
            user: self.user,
            authentication_realm: realm.clone(),
            lookup_realm: realm,
            owner_realm: self.owner_realm,
            api_key: Some(ApiKeyRef {
                id: id.to_owned(),
                name: String::from(self.name),
                key_type: self.key_type,
                metadata: self.metadata,
            }),
            token: false,
            service_token: None,
            permission: Permission::Limited {
                assigned: self.assigned,
                limited_by: self.limited_by,
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
        self.digest.matches(digest)
    }
}

/// Verified API keys by id.
pub(crate) struct KeyCache {
    entries: Option<CountedCache<InlineId, CachedKey>>,
    counters: Arc<CacheCounters>,
    ttl_ms: i64,
    salt: SecretSalt,
    /// Tells this cache's per-thread copies from another cache's in the same process.
    instance: u64,
    /// Bumped by every removal: per-thread copies taken at an older generation are not used.
    generation: Generation,
}

/// Source of [`KeyCache::instance`].
static NEXT_INSTANCE: AtomicU64 = AtomicU64::new(1);

/// Per-thread copies per thread (a direct-mapped table).
const HOT_SLOTS: usize = 64;

/// How long a per-thread copy is used before the shared cache is consulted again, which also
/// refreshes the entry's last use there.
const HOT_FOR_MS: EpochMillis = 1000;

/// A subject one thread built from the shared cache, ready to hand out again.
struct HotKey {
    instance: u64,
    generation: u64,
    id: InlineId,
    digest: SecretDigest,
    copied_at: EpochMillis,
    expiration: Option<EpochMillis>,
    authentication: Arc<Authentication>,
}

thread_local! {
    static HOT_KEYS: RefCell<Vec<Option<HotKey>>> =
        RefCell::new(std::iter::repeat_with(|| None).take(HOT_SLOTS).collect());
}

/// The per-thread slot of `id`: ids are random, so their first bytes spread them.
fn hot_slot(id: &InlineId) -> usize {
    let mut head = [0u8; 8];
    head.copy_from_slice(&id.bytes[..8]);
    // Truncation is the point: the remainder is below HOT_SLOTS.
    (u64::from_le_bytes(head) % HOT_SLOTS as u64) as usize
}

impl KeyCache {
    /// At most `capacity` keys, each valid `ttl` after its last use; a zero `ttl` or capacity
    /// disables caching.
    pub(crate) fn new(capacity: usize, ttl: std::time::Duration) -> KeyCache {
        let (capacity, ttl_ms) = cache_bounds(capacity, ttl);
        let counters = Arc::new(CacheCounters::new());
        KeyCache {
            entries: capacity.map(|capacity| counted_cache(capacity, &counters)),
            counters,
            ttl_ms,
            salt: SecretSalt::new(),
            instance: NEXT_INSTANCE.fetch_add(1, Ordering::Relaxed),
            generation: Generation::default(),
        }
    }

    /// The current generation: read it before looking a key up, and hand it to
    /// [`KeyCache::insert`] and [`KeyCache::keep_hot`], so that what was read before a removal
    /// is not kept after it.
    pub(crate) fn generation(&self) -> u64 {
        self.generation.current()
    }

    /// The subject this thread built for `id` within the last second, when `digest` is the
    /// verified secret's and nothing was removed from the cache since.
    pub(crate) fn hot(
        &self,
        id: &str,
        digest: &SecretDigest,
        now: EpochMillis,
    ) -> Option<(Arc<Authentication>, Option<EpochMillis>)> {
        self.entries.as_ref()?;
        if !self.generation.usable() {
            return None;
        }
        let key = InlineId::new(id)?;
        let generation = self.generation();
        HOT_KEYS.with(|slots| {
            let slots = slots.borrow();
            let hot = slots.get(hot_slot(&key))?.as_ref()?;
            let fresh = hot.instance == self.instance
                && hot.generation == generation
                && hot.id == key
                && (0..HOT_FOR_MS).contains(&(now - hot.copied_at));
            (fresh && hot.digest.matches(digest))
                .then(|| (Arc::clone(&hot.authentication), hot.expiration))
        })
    }

    /// Keeps `authentication`, built from the shared cache at `generation`, for this thread.
    pub(crate) fn keep_hot(
        &self,
        generation: u64,
        id: &str,
        digest: SecretDigest,
        authentication: &Arc<Authentication>,
        expiration: Option<EpochMillis>,
        now: EpochMillis,
    ) {
        let (Some(_), Some(key)) = (&self.entries, InlineId::new(id)) else {
            return;
        };
        HOT_KEYS.with(|slots| {
            if let Some(slot) = slots.borrow_mut().get_mut(hot_slot(&key)) {
                *slot = Some(HotKey {
                    instance: self.instance,
                    generation,
                    id: key,
                    digest,
                    copied_at: now,
                    expiration,
                    authentication: Arc::clone(authentication),
                });
            }
        });
    }

    /// Hits, misses and evictions.
    pub(crate) fn counters(&self) -> &CacheCounters {
        &self.counters
    }

    /// Hits, misses and evictions, with the number of keys held.
    pub(crate) fn stats(&self) -> CacheStats {
        self.counters
            .stats(self.entries.as_ref().map_or(0, |entries| entries.len()))
    }

    /// The salted digest of `secret`, truncated to 128 bits.
    pub(crate) fn digest(&self, secret: &[u8]) -> SecretDigest {
        self.salt.digest(secret)
    }

    /// The live entry for `id`, if any.
    pub(crate) fn get(&self, id: &str, now: EpochMillis) -> Option<CachedKey> {
        let entries = self.entries.as_ref()?;
        if !self.generation.usable() {
            return None;
        }
        let key = InlineId::new(id)?;
        let generation = self.generation();
        let cached = entries.get(&key)?;
        if cached.last_use.saturating_add(self.ttl_ms) <= now {
            if entries.remove(&key).is_some() {
                self.counters.evicted();
            }
            return None;
        }
        if now - cached.last_use > 1000 {
            // The refresh writes the entry again: a removal since it was read must still win.
            let mut refreshed = cached.clone();
            refreshed.last_use = now;
            self.generation.insert_unless_removed(
                generation,
                || entries.insert(key, refreshed),
                || {
                    entries.remove(&key);
                },
            );
        }
        Some(cached)
    }

    /// Remembers a successful verification of the secret with `digest` for `id`, from a record
    /// read at `generation`. A removal since then (the key invalidated or updated while it was
    /// being verified) wins: the entry does not stay.
    pub(crate) fn insert(
        &self,
        generation: u64,
        id: &str,
        digest: SecretDigest,
        entry: KeyEntry,
        now: EpochMillis,
    ) {
        if let (Some(entries), Some(key)) = (&self.entries, InlineId::new(id)) {
            let cached = CachedKey {
                digest,
                last_use: now,
                entry,
            };
            self.generation.insert_unless_removed(
                generation,
                || entries.insert(key, cached),
                || {
                    entries.remove(&key);
                },
            );
        }
    }

    /// Forgets `id`, here and in every thread's copies.
    pub(crate) fn remove(&self, id: &str) {
        self.generation.bump();
        if let (Some(entries), Some(key)) = (&self.entries, InlineId::new(id)) {
            entries.remove(&key);
        }
    }

    /// Forgets everything, here and in every thread's copies.
    pub(crate) fn clear(&self) {
        self.generation.bump();
        if let Some(entries) = &self.entries {
            entries.clear();
        }
    }

    /// Forgets everything and keeps nothing until [`KeyCache::resume`].
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
        // The inline part of one cached key: id, digest, expiry and shared handles (112 bytes,
        // and 8 more since the key's metadata rides along for forward auth's identity headers).
        assert!(
            std::mem::size_of::<(InlineId, CachedKey)>() <= 120,
            "{}",
            std::mem::size_of::<(InlineId, CachedKey)>()
        );
    }
}
