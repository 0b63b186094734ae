//! A throwaway measurement, not part of CI: creates/s with 64 concurrent tasks calling
//! `create_api_key`, then the latency of one query-API-keys search at about 100 000 keys.
//!
//! ```text
//! cargo run --release -p keyward-store-pg --example pg_load [-- URL]
//! ```
//!
//! URL defaults to `postgres://postgres@127.0.0.1:5432/test`; the example works in a database
//! of its own (`keyward_bench_<pid>`), dropped at the end.

// A measuring tool: a failure ends it with the error.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use keyward_core::query::{ApiKeyQuery, parse_query};
use keyward_store::testsuite::sample_key;
use keyward_store::{ApiKeyRecord, Store};
use keyward_store_pg::{PostgresOptions, PostgresStore};

const TASKS: usize = 64;
const CREATES_PER_TASK: usize = 100;
const TOTAL_KEYS: usize = 100_000;
const IMPORT_BATCH: usize = 5_000;
const QUERIES: usize = 300;

#[tokio::main]
async fn main() {
    let url = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    let name = format!("keyward_bench_{}", std::process::id());
    let (admin, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    // Databases of earlier runs that died before dropping theirs (a closed pipe kills it).
    for row in admin
        .query(
            "SELECT datname::text FROM pg_database WHERE starts_with(datname, 'keyward_bench_')",
            &[],
        )
        .await
        .unwrap()
    {
        let old: String = row.get(0);
        let pid = old.trim_start_matches("keyward_bench_");
        if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            let _ = admin
                .batch_execute(&format!("DROP DATABASE IF EXISTS {old} WITH (FORCE)"))
                .await;
        }
    }
    admin
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .unwrap();
    let base = url.rsplit_once('/').map_or(url.as_str(), |(base, _)| base);
    let mut options = PostgresOptions::new(format!("{base}/{name}"));
    options.pool_size = 64;
    let store = Arc::new(PostgresStore::connect(options).await.unwrap());

    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for task in 0..TASKS {
        let store = Arc::clone(&store);
        tasks.spawn(async move {
            for n in 0..CREATES_PER_TASK {
                store
                    .create_api_key(key(task * CREATES_PER_TASK + n))
                    .await
                    .unwrap();
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
    let elapsed = started.elapsed();
    let created = TASKS * CREATES_PER_TASK;
    println!(
        "create_api_key, {TASKS} tasks: {created} keys in {:.2} s = {:.0} creates/s",
        elapsed.as_secs_f64(),
        created as f64 / elapsed.as_secs_f64()
    );

    let mut next = created;
    while next < TOTAL_KEYS {
        let batch: Vec<ApiKeyRecord> = (next..(next + IMPORT_BATCH).min(TOTAL_KEYS))
            .map(key)
            .collect();
        next += batch.len();
        store.import_api_keys(batch).await.unwrap();
    }
    let (client, connection) =
        tokio_postgres::connect(&format!("{base}/{name}"), tokio_postgres::NoTls)
            .await
            .unwrap();
    tokio::spawn(connection);
    client.batch_execute("VACUUM ANALYZE").await.unwrap();
    let bytes: i64 = client
        .query_one(
            "SELECT sum(pg_total_relation_size(c.oid))::int8 FROM pg_class AS c \
             WHERE c.relname IN ('api_keys', 'api_key_metadata', 'descriptors')",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    println!(
        "{TOTAL_KEYS} keys: {} bytes per key (keys, metadata rows, shared texts, their indexes)",
        bytes / TOTAL_KEYS as i64
    );
    let relations = client
        .query(
            "SELECT c.relname::text, pg_relation_size(c.oid)::int8 FROM pg_class AS c \
             JOIN pg_namespace AS n ON n.oid = c.relnamespace \
             WHERE n.nspname = 'public' AND c.relkind IN ('r', 'i') \
             ORDER BY pg_relation_size(c.oid) DESC LIMIT 12",
            &[],
        )
        .await
        .unwrap();
    for relation in relations {
        let size: i64 = relation.get(1);
        println!(
            "  {:<32} {:>5} bytes per key",
            relation.get::<_, String>(0),
            size / TOTAL_KEYS as i64
        );
    }

    let search = ApiKeyQuery {
        query: parse_query(&serde_json::json!({"term": {"username": "x"}}), 0).unwrap(),
        size: 10,
        ..ApiKeyQuery::default()
    };
    let mut times = Vec::with_capacity(QUERIES);
    let mut total = 0;
    for _ in 0..QUERIES {
        let started = Instant::now();
        let page = store.query_api_keys(&search).await.unwrap();
        times.push(started.elapsed());
        total = page.total;
        assert_eq!(page.records.len(), 10);
    }
    times.sort();
    let at = |quantile: f64| -> Duration { times[((times.len() - 1) as f64 * quantile) as usize] };
    println!(
        "query {{\"term\":{{\"username\":\"x\"}}}} size 10 at {TOTAL_KEYS} keys ({total} match): \
         p50 {:?}, p99 {:?}, max {:?} over {QUERIES} runs",
        at(0.5),
        at(0.99),
        at(1.0)
    );

    // The plans of the two statements the query runs (as `query_sql` writes them).
    for sql in [
        "SELECT COUNT(*) FROM api_keys WHERE principal = ($1::text COLLATE \"C\")",
        "SELECT id FROM api_keys WHERE principal = ($1::text COLLATE \"C\") \
         ORDER BY creation, id LIMIT 10",
    ] {
        let plan = client
            .query(&format!("EXPLAIN (ANALYZE, COSTS OFF) {sql}"), &[&"x"])
            .await
            .unwrap();
        for line in plan {
            println!("  {}", line.get::<_, String>(0));
        }
    }

    drop(store);
    admin
        .batch_execute(&format!("DROP DATABASE {name} WITH (FORCE)"))
        .await
        .unwrap();
}

/// Key `n`: one in a hundred owned by `x`, the others by a thousand other users.
fn key(n: usize) -> ApiKeyRecord {
    let mut key = sample_key(&format!("{n:020}"));
    key.name = format!("bench-{n}");
    key.creation += n as i64;
    key.hash = format!("{{SSHA256}}{n:012}{n:044}");
    key.creator.principal = if n.is_multiple_of(100) {
        "x".to_owned()
    } else {
        format!("user-{}", n % 1000)
    };
    key.metadata = Some(format!(r#"{{"team":"t{}","n":{n}}}"#, n % 10));
    key
}
