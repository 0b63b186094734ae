//! Counters and histograms for the metrics endpoint, on plain atomics.
//!
//! Every count is kept once per shard, and a thread always adds to the same shard: two request
//! threads never write the same cache line, so counting costs one uncontended atomic add. A
//! scrape sums the shards. Nothing here takes a lock.

use std::cell::Cell;
use std::fmt;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

/// How many shards each set of counters keeps: enough that the request threads of a small
/// machine each get their own.
const SHARDS: usize = 8;

/// Counters (`u64`) per cache line.
const PER_LINE: usize = 8;

/// Source of each thread's shard.
static NEXT_SHARD: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static SHARD: Cell<usize> = const { Cell::new(usize::MAX) };
}

/// This thread's shard, assigned round-robin on first use.
fn shard() -> usize {
    SHARD.with(|shard| {
        let mut index = shard.get();
        if index == usize::MAX {
            index = NEXT_SHARD.fetch_add(1, Ordering::Relaxed) % SHARDS;
            shard.set(index);
        }
        index
    })
}

/// A fixed number of monotonic counters, indexed from 0.
pub struct Counters {
    width: usize,
    /// Cells between the starts of two shards: the width rounded up to whole cache lines, plus
    /// one line, so no line holds cells of two shards whatever the allocation's alignment.
    stride: usize,
    cells: Box<[AtomicU64]>,
}

impl Counters {
    /// `width` counters, all 0.
    pub fn new(width: usize) -> Counters {
        let stride = width.div_ceil(PER_LINE) * PER_LINE + PER_LINE;
        Counters {
            width,
            stride,
            cells: std::iter::repeat_with(|| AtomicU64::new(0))
                .take(stride * SHARDS)
                .collect(),
        }
    }

    /// Adds `amount` to counter `index`; an index past the width is ignored.
    #[inline]
    pub fn add(&self, index: usize, amount: u64) {
        if index < self.width
            && let Some(cell) = self.cells.get(shard() * self.stride + index)
        {
            cell.fetch_add(amount, Ordering::Relaxed);
        }
    }

    /// Adds 1 to counter `index`.
    #[inline]
    pub fn increment(&self, index: usize) {
        self.add(index, 1);
    }

    /// The value of counter `index`: the sum over the shards.
    pub fn get(&self, index: usize) -> u64 {
        if index >= self.width {
            return 0;
        }
        (0..SHARDS)
            .filter_map(|shard| self.cells.get(shard * self.stride + index))
            .map(|cell| cell.load(Ordering::Relaxed))
            .fold(0u64, u64::wrapping_add)
    }

    /// How many counters there are.
    pub fn width(&self) -> usize {
        self.width
    }
}

impl fmt::Debug for Counters {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Counters")
            .field("width", &self.width)
            .finish_non_exhaustive()
    }
}

/// Upper bounds of latency buckets, in seconds: from 50 µs (a cached request) to 10 s.
pub const LATENCY_BUCKETS: &[f64] = &[
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0, 2.5, 5.0, 10.0,
];

/// Latency histograms for a fixed number of series (one per API, one per operation kind) over
/// [`LATENCY_BUCKETS`].
pub struct Histograms {
    series: usize,
    /// [`LATENCY_BUCKETS`] in nanoseconds.
    bounds_nanos: Vec<u64>,
    /// Per series: one counter per bucket, one for beyond the last, and the sum in nanoseconds.
    counters: Counters,
}

/// One histogram as a scrape shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct HistogramSnapshot {
    /// Cumulative counts per upper bound (seconds), [`LATENCY_BUCKETS`] in order.
    pub buckets: Vec<(f64, u64)>,
    /// Every observation (the `+Inf` bucket).
    pub count: u64,
    /// The sum of the observations, in seconds.
    pub sum_seconds: f64,
}

impl Histograms {
    /// `series` empty histograms.
    pub fn new(series: usize) -> Histograms {
        let bounds_nanos = LATENCY_BUCKETS
            .iter()
            .map(|seconds| Duration::from_secs_f64(*seconds).as_nanos())
            .map(|nanos| u64::try_from(nanos).unwrap_or(u64::MAX))
            .collect();
        Histograms {
            series,
            bounds_nanos,
            counters: Counters::new(series * (LATENCY_BUCKETS.len() + 2)),
        }
    }

    /// Records one observation of `elapsed` in `series`.
    #[inline]
    pub fn observe(&self, series: usize, elapsed: Duration) {
        if series >= self.series {
            return;
        }
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        let bucket = self
            .bounds_nanos
            .iter()
            .position(|bound| nanos <= *bound)
            .unwrap_or(self.bounds_nanos.len());
        let base = series * (LATENCY_BUCKETS.len() + 2);
        self.counters.increment(base + bucket);
        self.counters
            .add(base + LATENCY_BUCKETS.len() + 1, nanos.min(u64::MAX >> 8));
    }

    /// The histogram of `series` as it is now.
    pub fn snapshot(&self, series: usize) -> HistogramSnapshot {
        let base = series * (LATENCY_BUCKETS.len() + 2);
        let mut cumulative = 0u64;
        let mut buckets = Vec::with_capacity(LATENCY_BUCKETS.len());
        for (bucket, bound) in LATENCY_BUCKETS.iter().enumerate() {
            cumulative = cumulative.wrapping_add(self.counters.get(base + bucket));
            buckets.push((*bound, cumulative));
        }
        let count = cumulative.wrapping_add(self.counters.get(base + LATENCY_BUCKETS.len()));
        let sum_nanos = self.counters.get(base + LATENCY_BUCKETS.len() + 1);
        HistogramSnapshot {
            buckets,
            count,
            // Precision loss is fine for a sum shown in seconds.
            #[allow(clippy::cast_precision_loss)]
            sum_seconds: sum_nanos as f64 / 1e9,
        }
    }

    /// Whether any observation was made in `series`.
    pub fn is_empty(&self, series: usize) -> bool {
        self.snapshot(series).count == 0
    }
}

impl fmt::Debug for Histograms {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Histograms")
            .field("series", &self.series)
            .finish_non_exhaustive()
    }
}

/// Hits, misses and evictions of one cache.
#[derive(Debug)]
pub(crate) struct CacheCounters {
    counters: Counters,
}

const HITS: usize = 0;
const MISSES: usize = 1;
const EVICTIONS: usize = 2;

impl CacheCounters {
    pub(crate) fn new() -> CacheCounters {
        CacheCounters {
            counters: Counters::new(3),
        }
    }

    #[inline]
    pub(crate) fn hit(&self) {
        self.counters.increment(HITS);
    }

    #[inline]
    pub(crate) fn miss(&self) {
        self.counters.increment(MISSES);
    }

    pub(crate) fn evicted(&self) {
        self.counters.increment(EVICTIONS);
    }

    pub(crate) fn evicted_many(&self, count: u64) {
        self.counters.add(EVICTIONS, count);
    }

    /// The counts with the cache's current `size`.
    pub(crate) fn stats(&self, size: usize) -> CacheStats {
        CacheStats {
            hits: self.counters.get(HITS),
            misses: self.counters.get(MISSES),
            evictions: self.counters.get(EVICTIONS),
            size: u64::try_from(size).unwrap_or(u64::MAX),
        }
    }
}

/// A bounded cache whose capacity evictions are counted.
pub(crate) type CountedCache<K, V> = quick_cache::sync::Cache<
    K,
    V,
    quick_cache::UnitWeighter,
    quick_cache::DefaultHashBuilder,
    CountEvictions,
>;

/// A cache of at most `capacity` entries that counts what it evicts into `counters`.
pub(crate) fn counted_cache<K, V>(
    capacity: usize,
    counters: &std::sync::Arc<CacheCounters>,
) -> CountedCache<K, V>
where
    K: Eq + std::hash::Hash,
    V: Clone,
{
    quick_cache::sync::Cache::with(
        capacity,
        u64::try_from(capacity).unwrap_or(u64::MAX),
        quick_cache::UnitWeighter,
        quick_cache::DefaultHashBuilder::default(),
        CountEvictions(std::sync::Arc::clone(counters)),
    )
}

/// Counts a cache's capacity evictions.
#[derive(Debug, Clone)]
pub(crate) struct CountEvictions(std::sync::Arc<CacheCounters>);

impl<K, V> quick_cache::Lifecycle<K, V> for CountEvictions {
    type RequestState = ();

    fn begin_request(&self) {}

    fn on_evict(&self, _state: &mut (), _key: K, _value: V) {
        self.0.evicted();
    }
}

/// One cache as a scrape shows it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Lookups answered from the cache.
    pub hits: u64,
    /// Lookups the cache could not answer.
    pub misses: u64,
    /// Entries dropped because they expired or to make room (not the removals that
    /// invalidations and changes cause).
    pub evictions: u64,
    /// Entries held now.
    pub size: u64,
}

/// The kinds of store operation timed separately.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreOperation {
    /// A lookup by id or name.
    Read,
    /// A write (create, update, invalidate, delete, put).
    Write,
    /// A search, listing, count or scan.
    Query,
}

impl StoreOperation {
    /// Every kind, in the order of their series.
    pub const ALL: [StoreOperation; 3] = [
        StoreOperation::Read,
        StoreOperation::Write,
        StoreOperation::Query,
    ];

    /// The `operation` label.
    pub fn label(self) -> &'static str {
        match self {
            StoreOperation::Query => "query",
            StoreOperation::Read => "read",
            StoreOperation::Write => "write",
        }
    }

    pub(crate) fn series(self) -> usize {
        match self {
            StoreOperation::Read => 0,
            StoreOperation::Write => 1,
            StoreOperation::Query => 2,
        }
    }
}

/// Keys by state, counted from the store at scrape time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KeyCounts {
    /// Neither expired nor invalidated.
    pub active: u64,
    /// Expired and not invalidated.
    pub expired: u64,
    /// Invalidated (whether or not also expired).
    pub invalidated: u64,
}

/// What the service reports to a scrape.
#[derive(Debug, Clone)]
pub struct ServiceStats {
    /// Verified API keys.
    pub api_keys: CacheStats,
    /// Verified user passwords.
    pub users: CacheStats,
    /// Resolved role sets.
    pub roles: CacheStats,
    /// Slow verifications waiting for a verifier thread or running.
    pub verifier_queue_depth: u64,
    /// Verifications refused because the queue was full (the 429s).
    pub verifier_rejections: u64,
    /// Store latency per [`StoreOperation::ALL`].
    pub store_latency: Vec<(StoreOperation, HistogramSnapshot)>,
}

/// How long a count of keys by state is reused: scrapes more frequent than this cost nothing.
pub(crate) const KEY_COUNTS_FOR: std::time::Duration = std::time::Duration::from_secs(1);

impl crate::SecurityService {
    /// The caches, the verifier and the store latency as they are now.
    pub fn stats(&self) -> ServiceStats {
        let inner = &self.inner;
        ServiceStats {
            api_keys: inner.keys.stats(),
            users: inner.users.stats(),
            roles: inner.roles.stats(),
            verifier_queue_depth: inner.verifier.queue_depth(),
            verifier_rejections: inner.verifier.rejections(),
            store_latency: StoreOperation::ALL
                .iter()
                .map(|operation| (*operation, inner.store_latency.snapshot(operation.series())))
                .collect(),
        }
    }

    /// The stored API keys by state, counted from the store's per-value counts and one indexed
    /// count of the expired ones, and reused for a second so that frequent scrapes cost one
    /// count a second whatever the number of keys.
    pub async fn api_key_counts(&self) -> Result<KeyCounts, crate::Error> {
        self.inner
            .key_counts
            .get(|| self.count_api_keys_by_state())
            .await
    }

    async fn count_api_keys_by_state(&self) -> Result<KeyCounts, crate::Error> {
        use keyward_core::query::{ApiKeyField, ApiKeyQuery, FieldValue, Query};
        use keyward_store::FieldCountValue;

        let store = &self.inner.store;
        let by_invalidated = store
            .count_api_keys_by(&Query::MatchAll, &ApiKeyField::Invalidated, 2, false)
            .await?;
        let count_of = |wanted: i64| {
            by_invalidated
                .values
                .iter()
                .filter(|(value, _)| *value == FieldCountValue::Long(wanted))
                .map(|(_, count)| *count)
                .sum::<u64>()
        };
        let (valid, invalidated) = (count_of(0), count_of(1));
        let expired_query = ApiKeyQuery {
            query: Query::Bool {
                must: Vec::new(),
                filter: vec![
                    Query::Term {
                        field: ApiKeyField::Invalidated,
                        value: FieldValue::Boolean(false),
                        case_insensitive: false,
                    },
                    Query::Range {
                        field: ApiKeyField::Expiration,
                        gt: None,
                        gte: None,
                        lt: None,
                        lte: Some(FieldValue::Date(self.now())),
                    },
                ],
                should: Vec::new(),
                must_not: Vec::new(),
                minimum_should_match: 0,
            },
            size: 0,
            ..ApiKeyQuery::default()
        };
        let expired = store.query_api_keys(&expired_query).await?.total;
        let counts = KeyCounts {
            active: valid.saturating_sub(expired),
            expired,
            invalidated,
        };
        Ok(counts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_sum_over_threads() {
        let counters = std::sync::Arc::new(Counters::new(3));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let counters = std::sync::Arc::clone(&counters);
                std::thread::spawn(move || {
                    for _ in 0..1000 {
                        counters.increment(1);
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        assert_eq!((counters.get(0), counters.get(1)), (0, 4000));
        counters.increment(7);
        assert_eq!(counters.get(7), 0);
    }

    #[test]
    fn histograms_are_cumulative() {
        let histograms = Histograms::new(2);
        histograms.observe(1, Duration::from_micros(40));
        histograms.observe(1, Duration::from_millis(3));
        histograms.observe(1, Duration::from_secs(60));
        let snapshot = histograms.snapshot(1);
        assert_eq!(snapshot.count, 3);
        assert_eq!(snapshot.buckets[0], (0.000_05, 1));
        assert_eq!(snapshot.buckets[6], (0.005, 2));
        assert_eq!(snapshot.buckets.last(), Some(&(10.0, 2)));
        assert!((snapshot.sum_seconds - 60.003_04).abs() < 1e-9);
        assert!(histograms.is_empty(0));
    }
}
