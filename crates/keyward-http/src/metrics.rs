//! `GET /_keyward/metrics`: request counts and latencies per API, authentication outcomes per
//! scheme, and the service's caches, verifier, store latency and keys, in Prometheus' text
//! exposition format (0.0.4).
//!
//! Counting is lock-free: a request adds to sharded atomic counters indexed by its action
//! (`keyward_service::metrics`). Labels come from closed sets (the route table's API names,
//! status classes, schemes, outcomes, caches, operation kinds, key states): never from a path,
//! a key id or a user name.

use std::fmt::Write as _;
use std::time::Duration;

use http::StatusCode;
use keyward_service::metrics::{
    CacheStats, Counters, HistogramSnapshot, Histograms, KeyCounts, ServiceStats,
};

/// The `Content-Type` of the exposition format.
pub(crate) const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The `api` label of requests refused before a route was found (bad request line or
/// headers, no such path, wrong method).
pub(crate) const UNROUTED: &str = "none";

/// Status classes, in the order of their counters.
const STATUS_CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];

/// How a request presented its credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scheme {
    ApiKey,
    Basic,
    Bearer,
    /// No `Authorization` header, or a scheme keyward does not take.
    Missing,
}

impl Scheme {
    const ALL: [Scheme; 4] = [
        Scheme::ApiKey,
        Scheme::Basic,
        Scheme::Bearer,
        Scheme::Missing,
    ];

    fn label(self) -> &'static str {
        match self {
            Scheme::ApiKey => "api_key",
            Scheme::Basic => "basic",
            Scheme::Bearer => "bearer",
            Scheme::Missing => "missing",
        }
    }
}

/// How an authentication ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Failure,
    /// Refused with 429: too many slow verifications.
    Overloaded,
    Success,
    /// The store could not be reached (503).
    Unavailable,
}

impl Outcome {
    const ALL: [Outcome; 4] = [
        Outcome::Failure,
        Outcome::Overloaded,
        Outcome::Success,
        Outcome::Unavailable,
    ];

    fn label(self) -> &'static str {
        match self {
            Outcome::Failure => "failure",
            Outcome::Overloaded => "overloaded",
            Outcome::Success => "success",
            Outcome::Unavailable => "unavailable",
        }
    }
}

/// What the HTTP layer counts: requests and their latency per API, authentications.
pub(crate) struct RequestMetrics {
    /// The `api` label of each series; the last is [`UNROUTED`].
    apis: Vec<&'static str>,
    /// Per series, one counter per status class.
    requests: Counters,
    latency: Histograms,
    /// Per scheme, one counter per outcome.
    authentications: Counters,
}

impl RequestMetrics {
    /// Metrics for the APIs named `apis` (indexed as the dispatcher indexes its actions) and
    /// one more series for unrouted requests.
    pub(crate) fn new(mut apis: Vec<&'static str>) -> RequestMetrics {
        apis.push(UNROUTED);
        RequestMetrics {
            requests: Counters::new(apis.len() * STATUS_CLASSES.len()),
            latency: Histograms::new(apis.len()),
            authentications: Counters::new(Scheme::ALL.len() * Outcome::ALL.len()),
            apis,
        }
    }

    /// The series of unrouted requests.
    pub(crate) fn unrouted(&self) -> usize {
        self.apis.len() - 1
    }

    /// Counts one answered request of series `api`.
    #[inline]
    pub(crate) fn record(&self, api: usize, status: StatusCode, elapsed: Duration) {
        let class = usize::from(status.as_u16() / 100)
            .saturating_sub(1)
            .min(STATUS_CLASSES.len() - 1);
        self.requests.increment(api * STATUS_CLASSES.len() + class);
        self.latency.observe(api, elapsed);
    }

    /// Counts one authentication.
    #[inline]
    pub(crate) fn authenticated(&self, scheme: Scheme, outcome: Outcome) {
        let scheme = Scheme::ALL.iter().position(|s| *s == scheme).unwrap_or(0);
        let outcome = Outcome::ALL.iter().position(|o| *o == outcome).unwrap_or(0);
        self.authentications
            .increment(scheme * Outcome::ALL.len() + outcome);
    }
}

impl std::fmt::Debug for RequestMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestMetrics").finish_non_exhaustive()
    }
}

/// This process's resident memory and open descriptors, where `/proc` tells them.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ProcessStats {
    resident_bytes: Option<u64>,
    open_fds: Option<u64>,
}

impl ProcessStats {
    /// Read from `/proc/self` (Linux); nothing elsewhere.
    pub(crate) fn read() -> ProcessStats {
        let resident_bytes = std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|status| {
                status
                    .lines()
                    .find_map(|line| line.strip_prefix("VmRSS:"))
                    .and_then(|rest| rest.trim().strip_suffix("kB"))
                    .and_then(|kib| kib.trim().parse::<u64>().ok())
            })
            .map(|kib| kib.saturating_mul(1024));
        let open_fds = std::fs::read_dir("/proc/self/fd")
            .ok()
            .map(|entries| u64::try_from(entries.count()).unwrap_or(u64::MAX));
        ProcessStats {
            resident_bytes,
            open_fds,
        }
    }
}

/// Everything one scrape shows.
pub(crate) struct Scrape<'a> {
    pub(crate) requests: &'a RequestMetrics,
    pub(crate) service: ServiceStats,
    /// `None` when the store could not count them (the family is left out).
    pub(crate) keys: Option<KeyCounts>,
    pub(crate) process: ProcessStats,
}

impl Scrape<'_> {
    /// The exposition text.
    pub(crate) fn render(&self) -> String {
        let mut out = Exposition::default();
        self.render_requests(&mut out);
        self.render_service(&mut out);
        if let Some(keys) = self.keys {
            out.family(
                "keyward_api_keys",
                "gauge",
                "Stored API keys by state (invalidated first, then expired).",
            );
            for (state, count) in [
                ("active", keys.active),
                ("expired", keys.expired),
                ("invalidated", keys.invalidated),
            ] {
                out.sample("keyward_api_keys", &[("state", state)], count);
            }
        }
        out.family(
            "keyward_build_info",
            "gauge",
            "The running build; always 1.",
        );
        out.sample(
            "keyward_build_info",
            &[
                ("version", env!("CARGO_PKG_VERSION")),
                ("elasticsearch_version", crate::ES_VERSION),
            ],
            1,
        );
        if let Some(bytes) = self.process.resident_bytes {
            out.family(
                "keyward_process_resident_memory_bytes",
                "gauge",
                "Resident memory of the process.",
            );
            out.sample("keyward_process_resident_memory_bytes", &[], bytes);
        }
        if let Some(fds) = self.process.open_fds {
            out.family(
                "keyward_process_open_fds",
                "gauge",
                "Open file descriptors of the process.",
            );
            out.sample("keyward_process_open_fds", &[], fds);
        }
        out.text
    }

    fn render_requests(&self, out: &mut Exposition) {
        let requests = self.requests;
        out.family(
            "keyward_http_requests_total",
            "counter",
            "HTTP requests answered, by API (rest-api-spec name) and status class.",
        );
        for (series, api) in requests.apis.iter().enumerate() {
            for (index, class) in STATUS_CLASSES.iter().enumerate() {
                let count = requests.requests.get(series * STATUS_CLASSES.len() + index);
                if count > 0 {
                    out.sample(
                        "keyward_http_requests_total",
                        &[("api", api), ("status_class", class)],
                        count,
                    );
                }
            }
        }
        out.family(
            "keyward_http_request_duration_seconds",
            "histogram",
            "Time from a request's head to its response's head, by API.",
        );
        for (series, api) in requests.apis.iter().enumerate() {
            let snapshot = requests.latency.snapshot(series);
            if snapshot.count > 0 {
                out.histogram(
                    "keyward_http_request_duration_seconds",
                    &[("api", api)],
                    &snapshot,
                );
            }
        }
        out.family(
            "keyward_authentications_total",
            "counter",
            "Authentications by credential scheme and outcome.",
        );
        for (scheme_index, scheme) in Scheme::ALL.iter().enumerate() {
            for (outcome_index, outcome) in Outcome::ALL.iter().enumerate() {
                let count = requests
                    .authentications
                    .get(scheme_index * Outcome::ALL.len() + outcome_index);
                out.sample(
                    "keyward_authentications_total",
                    &[("scheme", scheme.label()), ("outcome", outcome.label())],
                    count,
                );
            }
        }
    }

    fn render_service(&self, out: &mut Exposition) {
        let service = &self.service;
        let caches: [(&str, &CacheStats); 3] = [
            ("api_keys", &service.api_keys),
            ("users", &service.users),
            ("roles", &service.roles),
        ];
        let families: [CacheFamily; 4] = [
            (
                "keyward_cache_hits_total",
                "counter",
                "Lookups answered from a cache.",
                |stats| stats.hits,
            ),
            (
                "keyward_cache_misses_total",
                "counter",
                "Lookups a cache could not answer (the store was read).",
                |stats| stats.misses,
            ),
            (
                "keyward_cache_evictions_total",
                "counter",
                "Entries dropped because they expired or to make room.",
                |stats| stats.evictions,
            ),
            (
                "keyward_cache_entries",
                "gauge",
                "Entries a cache holds now.",
                |stats| stats.size,
            ),
        ];
        for (name, kind, help, value) in families {
            out.family(name, kind, help);
            for (cache, stats) in caches {
                out.sample(name, &[("cache", cache)], value(stats));
            }
        }
        out.family(
            "keyward_verifier_queue_depth",
            "gauge",
            "Slow (PBKDF2, bcrypt) verifications queued or running.",
        );
        out.sample(
            "keyward_verifier_queue_depth",
            &[],
            service.verifier_queue_depth,
        );
        out.family(
            "keyward_verifier_rejections_total",
            "counter",
            "Verifications refused because the verifier was full (answered 429).",
        );
        out.sample(
            "keyward_verifier_rejections_total",
            &[],
            service.verifier_rejections,
        );
        out.family(
            "keyward_store_operation_duration_seconds",
            "histogram",
            "Store operation latency by kind (read: lookups; write; query: searches, listings, counts).",
        );
        for (operation, snapshot) in &service.store_latency {
            out.histogram(
                "keyward_store_operation_duration_seconds",
                &[("operation", operation.label())],
                snapshot,
            );
        }
    }
}

/// One per-cache family: name, type, help and the figure it shows.
type CacheFamily = (
    &'static str,
    &'static str,
    &'static str,
    fn(&CacheStats) -> u64,
);

/// The exposition text being written.
#[derive(Default)]
struct Exposition {
    text: String,
}

impl Exposition {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        // Writing to a String cannot fail.
        let _ = write!(self.text, "# HELP {name} {help}\n# TYPE {name} {kind}\n");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: impl std::fmt::Display) {
        self.text.push_str(name);
        self.labels(labels, None);
        let _ = writeln!(self.text, " {value}");
    }

    fn histogram(&mut self, name: &str, labels: &[(&str, &str)], snapshot: &HistogramSnapshot) {
        for (bound, count) in &snapshot.buckets {
            let _ = write!(self.text, "{name}_bucket");
            self.labels(labels, Some(&bound.to_string()));
            let _ = writeln!(self.text, " {count}");
        }
        let _ = write!(self.text, "{name}_bucket");
        self.labels(labels, Some("+Inf"));
        let _ = writeln!(self.text, " {}", snapshot.count);
        let _ = write!(self.text, "{name}_sum");
        self.labels(labels, None);
        let _ = writeln!(self.text, " {}", snapshot.sum_seconds);
        let _ = write!(self.text, "{name}_count");
        self.labels(labels, None);
        let _ = writeln!(self.text, " {}", snapshot.count);
    }

    fn labels(&mut self, labels: &[(&str, &str)], le: Option<&str>) {
        if labels.is_empty() && le.is_none() {
            return;
        }
        self.text.push('{');
        let mut first = true;
        for (name, value) in labels.iter().copied().chain(le.map(|le| ("le", le))) {
            if !first {
                self.text.push(',');
            }
            first = false;
            self.text.push_str(name);
            self.text.push_str("=\"");
            for c in value.chars() {
                match c {
                    '\\' => self.text.push_str("\\\\"),
                    '"' => self.text.push_str("\\\""),
                    '\n' => self.text.push_str("\\n"),
                    c => self.text.push(c),
                }
            }
            self.text.push('"');
        }
        self.text.push('}');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scrape_renders_families_with_help_and_type() {
        let requests = RequestMetrics::new(vec!["cluster.health"]);
        requests.record(0, StatusCode::OK, Duration::from_micros(80));
        requests.record(requests.unrouted(), StatusCode::NOT_FOUND, Duration::ZERO);
        requests.authenticated(Scheme::ApiKey, Outcome::Success);
        let scrape = Scrape {
            requests: &requests,
            service: ServiceStats {
                api_keys: CacheStats::default(),
                users: CacheStats::default(),
                roles: CacheStats::default(),
                verifier_queue_depth: 0,
                verifier_rejections: 0,
                store_latency: Vec::new(),
            },
            keys: Some(KeyCounts {
                active: 3,
                expired: 2,
                invalidated: 1,
            }),
            process: ProcessStats::default(),
        };
        let text = scrape.render();
        for line in [
            "keyward_http_requests_total{api=\"cluster.health\",status_class=\"2xx\"} 1",
            "keyward_http_requests_total{api=\"none\",status_class=\"4xx\"} 1",
            "keyward_http_request_duration_seconds_bucket{api=\"cluster.health\",le=\"0.00005\"} 0",
            "keyward_http_request_duration_seconds_bucket{api=\"cluster.health\",le=\"0.0001\"} 1",
            "keyward_http_request_duration_seconds_bucket{api=\"cluster.health\",le=\"+Inf\"} 1",
            "keyward_http_request_duration_seconds_count{api=\"cluster.health\"} 1",
            "keyward_authentications_total{scheme=\"api_key\",outcome=\"success\"} 1",
            "keyward_api_keys{state=\"expired\"} 2",
            "# TYPE keyward_cache_hits_total counter",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "{line} missing from\n{text}"
            );
        }
    }
}
