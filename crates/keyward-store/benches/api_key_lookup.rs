//! A point lookup of one API key among many: what a cold authentication (`bench/run`, P5) reads
//! from the store. Keys share their owner's limited-by snapshot, as the keys of one user do.

// Benchmark set-up: a failure there should stop the run loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use keyward_core::api_key::{API_KEY_FORMAT_VERSION, ApiKeyType, Creator};
use keyward_store::{ApiKeyRecord, EmbeddedStore, EmbeddedStoreOptions, Store};

const KEYS: usize = 200_000;

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(EmbeddedStoreOptions::new(dir.path())).unwrap();
    let limited_by = format!(
        r#"{{"superuser":{{"cluster":["all"],"indices":[{}],"run_as":["*"]}}}}"#,
        (0..8)
            .map(|n| format!(r#"{{"names":["index-{n}-*"],"privileges":["all"],"allow_restricted_indices":false}}"#))
            .collect::<Vec<_>>()
            .join(",")
    );
    let ids: Vec<String> = (0..KEYS)
        .map(|n| format!("{:020}", n * 7919 % KEYS))
        .collect();
    for chunk in ids.chunks(50_000) {
        let records = chunk
            .iter()
            .map(|id| ApiKeyRecord {
                id: id.clone(),
                name: format!("key-{id}"),
                key_type: ApiKeyType::Rest,
                creation: 1_700_000_000_000,
                expiration: None,
                invalidated: false,
                invalidation: None,
                hash: "{SSHA256}AAECAwQFBgc=hFkFgY4klx8/OzDjO3yaxTvxUP3XclsX0V9SQZWYW5Y="
                    .to_owned(),
                role_descriptors: "{}".to_owned(),
                limited_by: limited_by.clone(),
                metadata: None,
                creator: Creator {
                    principal: "elastic".to_owned(),
                    full_name: None,
                    email: None,
                    metadata: serde_json::Map::new(),
                    realm: "reserved".to_owned(),
                    realm_type: "reserved".to_owned(),
                },
                format_version: API_KEY_FORMAT_VERSION,
                certificate_identity: None,
                seq: 1,
            })
            .collect();
        runtime.block_on(store.import_api_keys(records)).unwrap();
    }
    let mut next = 0;
    c.bench_function("store/api_key", |b| {
        b.iter(|| {
            next = (next + 4099) % KEYS;
            black_box(
                runtime
                    .block_on(store.api_key(&ids[next]))
                    .unwrap()
                    .unwrap(),
            )
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
