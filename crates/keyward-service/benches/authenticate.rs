//! The authentication hot path on a cache hit: parse the `Authorization` header, look the id up,
//! hash the presented secret, compare in constant time, hand back the subject.

// Benchmark set-up: a failure there should stop the run loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use keyward_core::credential::parse_authorization;

use crate::support::{ready, service_with_cached_key};

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (service, header) = service_with_cached_key(&runtime, dir.path());
    let _guard = runtime.enter();
    c.bench_function("authenticate/cache_hit", |b| {
        b.iter(|| {
            let credential = parse_authorization(black_box(header.as_bytes())).unwrap();
            black_box(ready(service.authenticate(credential)).unwrap())
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
