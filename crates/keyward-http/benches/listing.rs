//! `GET /_security/api_key` over 10 000 keys through `Api`, without the network: the store's
//! keyset pages, the service's listing and the incremental rendering, with the body collected
//! as hyper would send it. `bench/run` (listing) measures the same over TCP at a million keys.

// Benchmark set-up: a failure there should stop the run loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::sync::Arc;

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use http_body_util::{BodyExt, Empty};
use keyward_core::credential::parse_authorization;
use keyward_http::{Api, AppState, HttpLimits, NodeInfo};
use keyward_service::{BootstrapPassword, SecurityService, ServiceConfig, SystemClock};
use keyward_store::testsuite::{CREATED, sample_key};
use keyward_store::{EmbeddedStore, EmbeddedStoreOptions, Store};
use zeroize::Zeroizing;

// The server's allocator, so allocation costs are the server's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const KEYS: usize = 10_000;

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(EmbeddedStoreOptions::new(dir.path().to_path_buf())).unwrap();
    let records = (0..KEYS)
        .map(|n| {
            let mut record = sample_key(&format!("key-{n:08}"));
            record.creation = CREATED + i64::try_from(n).unwrap();
            record
        })
        .collect();
    runtime.block_on(store.import_api_keys(records)).unwrap();
    let service = SecurityService::new(
        Arc::new(store),
        ServiceConfig::default(),
        Arc::new(SystemClock),
    );
    runtime.block_on(async {
        service
            .bootstrap(BootstrapPassword::Given(Zeroizing::new(
                "bench-password".to_owned(),
            )))
            .await
            .unwrap();
        // Verified once here, cached for the measured requests.
        let basic = parse_authorization(b"Basic ZWxhc3RpYzpiZW5jaC1wYXNzd29yZA==").unwrap();
        service.authenticate(basic).await.unwrap();
    });
    let api = Api::new(AppState {
        service,
        node: Arc::new(NodeInfo {
            node_name: "bench".to_owned(),
            node_id: "bench-node".to_owned(),
            cluster_name: "keyward".to_owned(),
            cluster_uuid: "bench-cluster".to_owned(),
        }),
        limits: HttpLimits::default(),
        audit: keyward_http::Audit::disabled(),
        forward_auth: keyward_http::ForwardAuth::default(),
    });
    let list = || async {
        let request = http::Request::get("/_security/api_key")
            .header(http::header::HOST, "localhost:9200")
            .header(
                http::header::AUTHORIZATION,
                "Basic ZWxhc3RpYzpiZW5jaC1wYXNzd29yZA==",
            )
            .body(Empty::<Bytes>::new())
            .unwrap();
        let response = api.handle(request).await;
        assert_eq!(response.status(), http::StatusCode::OK);
        response.into_body().collect().await.unwrap().to_bytes()
    };
    let length = runtime.block_on(list()).len();
    let mut group = c.benchmark_group("listing");
    group.throughput(Throughput::Bytes(length as u64));
    group.sample_size(20);
    group.bench_function("get_api_key_10k_keys", |b| {
        b.iter(|| black_box(runtime.block_on(list())))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
