//! The authentication hot path on a cache hit: parse the `Authorization` header, look the id up,
//! hash the presented secret, compare in constant time, hand back the subject.

// Benchmark set-up: a failure there should stop the run loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::future::Future;
use std::hint::black_box;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use criterion::{Criterion, criterion_group, criterion_main};
use keyward_core::credential::parse_authorization;
use keyward_service::{ApiKeyService, BootstrapPassword, CreateApiKey, ServiceConfig, SystemClock};
use keyward_store::{EmbeddedStore, EmbeddedStoreOptions};
use zeroize::Zeroizing;

/// Polls a future that must complete without waiting (a cache hit never awaits IO).
fn ready<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("the cache hit path awaited"),
    }
}

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(EmbeddedStoreOptions::new(dir.path().to_path_buf())).unwrap();
    let service = ApiKeyService::new(
        Arc::new(store),
        ServiceConfig::default(),
        Arc::new(SystemClock),
    );
    let header = runtime.block_on(async {
        service
            .bootstrap(BootstrapPassword::Given(Zeroizing::new(
                "bench-password".to_owned(),
            )))
            .await
            .unwrap();
        let basic = parse_authorization(b"Basic ZWxhc3RpYzpiZW5jaC1wYXNzd29yZA==").unwrap();
        let admin = service.authenticate(basic).await.unwrap();
        let request = CreateApiKey {
            name: Some("bench".to_owned()),
            ..CreateApiKey::default()
        };
        let created = service.create_api_key(&admin, request).await.unwrap();
        format!("ApiKey {}", created.encoded.as_str())
    });
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
