//! The whole request pipeline, without the network: `GET /_cluster/health` with a cached
//! `ApiKey` credential goes through negotiation, routing, authentication, the privilege check and
//! rendering, exactly as a request from hyper would. `bench/run` (P1) measures the same request
//! over TCP against a bare hyper server; this shows what keyward adds to each one. The second
//! benchmark is the same request with the audit log on (Elasticsearch's default events: one
//! `access_granted` line a request), so the difference is what the audit trail costs a request.

// Benchmark set-up: a failure there should stop the run loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../keyward-service/benches/support/mod.rs"]
mod support;

use std::hint::black_box;
use std::sync::Arc;

use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use http_body_util::Empty;
use keyward_http::{
    Api, AppState, Audit, AuditConfig, AuditFile, EventKind, EventSet, HttpLimits, NodeInfo,
};

use crate::support::{ready, service_with_cached_key};

// The server's allocator, so allocation costs are the server's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (service, header) = service_with_cached_key(&runtime, dir.path());
    let node = Arc::new(NodeInfo {
        node_name: "bench".to_owned(),
        node_id: "bench-node".to_owned(),
        cluster_name: "keyward".to_owned(),
        cluster_uuid: "bench-cluster".to_owned(),
    });
    let api = |audit: Audit| {
        Api::new(AppState {
            service: service.clone(),
            node: Arc::clone(&node),
            limits: HttpLimits::default(),
            audit,
            forward_auth: keyward_http::ForwardAuth::default(),
        })
    };
    let request = || {
        http::Request::get("/_cluster/health")
            .header(http::header::HOST, "localhost:9200")
            .header(http::header::AUTHORIZATION, header.as_str())
            .body(Empty::<Bytes>::new())
            .unwrap()
    };
    let _guard = runtime.enter();
    let plain = api(Audit::disabled());
    // The first request verifies the secret and fills the cache; the rest are hits.
    assert_eq!(
        ready(plain.handle(request())).status(),
        http::StatusCode::OK
    );
    c.bench_function("request/cluster_health_cached_api_key", |b| {
        b.iter_batched(
            request,
            |request| black_box(ready(plain.handle(request))),
            criterion::BatchSize::SmallInput,
        )
    });
    // The writer thread writes to /dev/null so that it keeps up with a million events a
    // second; what is measured is what the audit trail costs the request itself. `bench/run
    // --only p1audit` measures the whole, a real file included, over TCP.
    let (audit, writer) = Audit::start(AuditConfig {
        file: AuditFile {
            path: std::path::PathBuf::from("/dev/null"),
            // Not a regular file, so never rotated; no size limit besides.
            max_file_size: u64::MAX,
            max_files: 2,
        },
        events: EventSet::parse(EventKind::DEFAULT_INCLUDE).unwrap(),
        node_id: Some("bench-node".to_owned()),
        node_name: None,
    })
    .unwrap();
    let audited = api(audit);
    c.bench_function("request/cluster_health_cached_api_key_audited", |b| {
        b.iter_batched(
            request,
            |request| black_box(ready(audited.handle(request))),
            criterion::BatchSize::SmallInput,
        )
    });
    drop(writer);
}

criterion_group!(benches, bench);
criterion_main!(benches);
