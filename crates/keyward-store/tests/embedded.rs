//! The embedded store: the store contract, plus what only a local database has to promise
//! (durability across reopen, the directory lock, group commit under concurrency, schema versions).

// The contract suite and its helpers live behind the feature.
#![cfg(feature = "testsuite")]

use std::collections::BTreeSet;
use std::sync::Arc;

use keyward_core::query::{ApiKeyQuery, parse_query};
use keyward_store::testsuite::{sample_key, temp_embedded_store};
use keyward_store::{ApiKeyFilter, EmbeddedStore, EmbeddedStoreOptions, Error, Store};
use serde_json::json;

keyward_store::store_contract_tests!(temp_embedded_store());

mod single_read_connection {
    //! The contract again with one read connection, so that reads queue for it.
    use keyward_store::testsuite::temp_embedded_store_with;

    keyward_store::store_contract_tests!(temp_embedded_store_with(|options| options
        .read_connections =
        1));
}

#[tokio::test]
async fn data_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(EmbeddedStoreOptions::new(dir.path())).unwrap();
    store.create_api_key(sample_key("kept")).await.unwrap();
    store
        .invalidate_api_keys(&["kept".to_owned()], 5)
        .await
        .unwrap();
    store.meta_init("cluster_uuid", "u1").await.unwrap();
    let written = store.api_key("kept").await.unwrap().unwrap();
    drop(store);

    let reopened = EmbeddedStore::open(EmbeddedStoreOptions::new(dir.path())).unwrap();
    assert_eq!(reopened.api_key("kept").await.unwrap(), Some(written));
    assert_eq!(
        reopened.meta("cluster_uuid").await.unwrap().as_deref(),
        Some("u1")
    );
    // Migrations ran once: the reopened store writes as before.
    reopened.create_api_key(sample_key("after")).await.unwrap();
}

#[tokio::test]
async fn open_creates_missing_directories() {
    let dir = tempfile::tempdir().unwrap();
    let nested = dir.path().join("a").join("b");
    let store = EmbeddedStore::open(EmbeddedStoreOptions::new(&nested)).unwrap();
    store.create_api_key(sample_key("k")).await.unwrap();
    assert!(nested.join("keyward.db").is_file());
    assert!(nested.join("node.lock").is_file());
}

#[test]
fn second_open_of_a_locked_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let first = EmbeddedStore::open(EmbeddedStoreOptions::new(dir.path())).unwrap();
    match EmbeddedStore::open(EmbeddedStoreOptions::new(dir.path())) {
        Err(Error::Locked { path }) => assert_eq!(path, dir.path().display().to_string()),
        other => panic!("expected Locked, got {other:?}"),
    }
    // The refused open left the first store's lock in place.
    assert!(matches!(
        EmbeddedStore::open(EmbeddedStoreOptions::new(dir.path())),
        Err(Error::Locked { .. })
    ));
    drop(first);
    EmbeddedStore::open(EmbeddedStoreOptions::new(dir.path())).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn concurrent_creates_all_land() {
    const TASKS: usize = 16;
    const KEYS: usize = 200;
    let (store, _dir) = temp_embedded_store().await;
    let store = Arc::new(store);
    let mut tasks = tokio::task::JoinSet::new();
    for task in 0..TASKS {
        let store = Arc::clone(&store);
        tasks.spawn(async move {
            for n in (task..KEYS).step_by(TASKS) {
                store
                    .create_api_key(sample_key(&format!("key-{n:03}")))
                    .await
                    .unwrap();
                // Read-your-writes: an acknowledged create is visible at once.
                assert!(
                    store
                        .api_key(&format!("key-{n:03}"))
                        .await
                        .unwrap()
                        .is_some()
                );
            }
        });
    }
    while let Some(joined) = tasks.join_next().await {
        joined.unwrap();
    }
    let found = store.find_api_keys(&ApiKeyFilter::default()).await.unwrap();
    let expected: Vec<String> = (0..KEYS).map(|n| format!("key-{n:03}")).collect();
    assert_eq!(
        found
            .into_iter()
            .map(|record| record.id)
            .collect::<Vec<_>>(),
        expected
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn a_failing_write_does_not_fail_the_rest_of_its_batch() {
    // Many tasks race to create the same ten ids plus one id each: whatever the writer batches
    // together, exactly one create per shared id wins and every unique id lands.
    const TASKS: usize = 64;
    let (store, _dir) = temp_embedded_store().await;
    let store = Arc::new(store);
    let mut tasks = tokio::task::JoinSet::new();
    for task in 0..TASKS {
        let store = Arc::clone(&store);
        tasks.spawn(async move {
            let shared = store
                .create_api_key(sample_key(&format!("shared-{}", task % 10)))
                .await;
            let unique = store
                .create_api_key(sample_key(&format!("unique-{task:02}")))
                .await;
            (shared, unique)
        });
    }
    let mut won = BTreeSet::new();
    while let Some(joined) = tasks.join_next().await {
        let (shared, unique) = joined.unwrap();
        unique.unwrap();
        match shared {
            Ok(()) => {}
            Err(Error::AlreadyExists(id)) => {
                won.insert(id);
            }
            Err(err) => panic!("unexpected error: {err}"),
        }
    }
    assert_eq!(won.len(), 10, "every shared id was refused at least once");
    let found = store.find_api_keys(&ApiKeyFilter::default()).await.unwrap();
    assert_eq!(found.len(), TASKS + 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_reads_share_the_pool() {
    let dir = tempfile::tempdir().unwrap();
    let options = EmbeddedStoreOptions {
        read_connections: 2,
        ..EmbeddedStoreOptions::new(dir.path())
    };
    let store = Arc::new(EmbeddedStore::open(options).unwrap());
    store.create_api_key(sample_key("k")).await.unwrap();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..50 {
        let store = Arc::clone(&store);
        tasks.spawn(async move { store.api_key("k").await.unwrap().unwrap().id });
    }
    while let Some(joined) = tasks.join_next().await {
        assert_eq!(joined.unwrap(), "k");
    }
}

#[tokio::test]
async fn a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    drop(EmbeddedStore::open(EmbeddedStoreOptions::new(dir.path())).unwrap());
    let connection = rusqlite::Connection::open(dir.path().join("keyward.db")).unwrap();
    let current: i64 = connection
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .unwrap();
    connection.pragma_update(None, "user_version", 99).unwrap();
    drop(connection);
    match EmbeddedStore::open(EmbeddedStoreOptions::new(dir.path())) {
        Err(Error::Corrupt(message)) => {
            assert!(message.contains("schema version 99"), "{message}");
            assert!(message.contains("newer keyward"), "{message}");
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
    // The refusal released the lock.
    let connection = rusqlite::Connection::open(dir.path().join("keyward.db")).unwrap();
    connection
        .pragma_update(None, "user_version", current)
        .unwrap();
    drop(connection);
    EmbeddedStore::open(EmbeddedStoreOptions::new(dir.path())).unwrap();
}

/// Schema version 1 as the first release wrote it (frozen here: the fixture must not follow the
/// migrations it is there to test).
const SCHEMA_VERSION_1: &str = "CREATE TABLE api_keys (
        id TEXT NOT NULL PRIMARY KEY, name TEXT NOT NULL, key_type TEXT NOT NULL,
        creation INTEGER NOT NULL, expiration INTEGER,
        invalidated INTEGER NOT NULL CHECK (invalidated IN (0, 1)), invalidation INTEGER,
        hash TEXT NOT NULL, role_descriptors TEXT NOT NULL, limited_by TEXT NOT NULL, metadata TEXT,
        principal TEXT NOT NULL, full_name TEXT, email TEXT, creator_metadata TEXT NOT NULL,
        realm TEXT NOT NULL, realm_type TEXT NOT NULL, format_version INTEGER NOT NULL,
        certificate_identity TEXT, seq INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX api_keys_creation ON api_keys (creation, id);
    CREATE INDEX api_keys_name ON api_keys (name);
    CREATE INDEX api_keys_owner ON api_keys (principal, realm);
    CREATE INDEX api_keys_expiration ON api_keys (expiration);
    CREATE INDEX api_keys_invalidation ON api_keys (invalidation);
    CREATE TABLE users (
        username TEXT NOT NULL PRIMARY KEY, password_hash TEXT NOT NULL, roles TEXT NOT NULL,
        full_name TEXT, email TEXT, metadata TEXT NOT NULL,
        enabled INTEGER NOT NULL CHECK (enabled IN (0, 1)), seq INTEGER NOT NULL
    ) STRICT;
    CREATE TABLE meta (key TEXT NOT NULL PRIMARY KEY, value TEXT NOT NULL) STRICT;
    PRAGMA user_version = 1;";

#[tokio::test]
async fn a_version_1_database_upgrades_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let connection = rusqlite::Connection::open(dir.path().join("keyward.db")).unwrap();
    connection.execute_batch(SCHEMA_VERSION_1).unwrap();
    let old = sample_key("old");
    connection
        .execute(
            "INSERT INTO api_keys (id, name, key_type, creation, invalidated, hash, role_descriptors, \
             limited_by, principal, creator_metadata, realm, realm_type, format_version, seq) \
             VALUES (?1, ?2, 'rest', ?3, 0, ?4, ?5, ?6, 'elastic', '{}', 'reserved', 'reserved', ?7, 1)",
            rusqlite::params![
                old.id,
                old.name,
                old.creation,
                old.hash,
                old.role_descriptors,
                old.limited_by,
                old.format_version
            ],
        )
        .unwrap();
    drop(connection);

    let store = EmbeddedStore::open(EmbeddedStoreOptions::new(dir.path())).unwrap();
    assert_eq!(store.api_key("old").await.unwrap(), Some(old));
    let role = keyward_store::RoleRecord {
        name: "r".to_owned(),
        descriptor: "{}".to_owned(),
        seq: 0,
    };
    assert!(store.put_role(role).await.unwrap());
    assert_eq!(store.token("missing").await.unwrap(), None);
    assert!(store.role_mappings(None).await.unwrap().is_empty());
    assert!(
        store
            .profiles(&["u_missing_0".to_owned()])
            .await
            .unwrap()
            .is_empty()
    );
    drop(store);
    let connection = rusqlite::Connection::open(dir.path().join("keyward.db")).unwrap();
    let version: i64 = connection
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .unwrap();
    assert_eq!(version, 10);
}

#[tokio::test]
async fn a_file_that_is_not_a_database_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("keyward.db"), vec![b'x'; 4096]).unwrap();
    match EmbeddedStore::open(EmbeddedStoreOptions::new(dir.path())) {
        Err(Error::Corrupt(_)) => {}
        other => panic!("expected Corrupt, got {other:?}"),
    }
}

#[tokio::test]
async fn unreadable_records_are_corrupt() {
    let (store, dir) = temp_embedded_store().await;
    store.create_api_key(sample_key("bad-type")).await.unwrap();
    // An owner of its own, so that its stored creator is its own too.
    let mut bad_creator = sample_key("bad-creator");
    bad_creator.creator.principal = "other".to_owned();
    bad_creator.creator.full_name = Some("Other".to_owned());
    store.create_api_key(bad_creator).await.unwrap();
    let connection = rusqlite::Connection::open(dir.path().join("keyward.db")).unwrap();
    connection
        .execute(
            "UPDATE api_keys SET key_type = 'bogus' WHERE id = 'bad-type'",
            [],
        )
        .unwrap();
    connection
        .execute(
            "UPDATE descriptors SET text = '[\"native\",\"Other\",null,[1]]' \
             WHERE descriptor_id = (SELECT creator_id FROM api_keys WHERE id = 'bad-creator')",
            [],
        )
        .unwrap();
    drop(connection);
    for id in ["bad-type", "bad-creator"] {
        match store.api_key(id).await {
            Err(Error::Corrupt(message)) => assert!(message.contains(id), "{message}"),
            other => panic!("expected Corrupt for [{id}], got {other:?}"),
        }
    }
    assert!(matches!(
        store.find_api_keys(&ApiKeyFilter::default()).await,
        Err(Error::Corrupt(_))
    ));
}

#[tokio::test]
async fn debug_output_names_the_directory() {
    let (store, dir) = temp_embedded_store().await;
    let debug = format!("{store:?}");
    assert!(debug.contains(&dir.path().display().to_string()), "{debug}");
    let _: &dyn Store = &store;
}

/// How many rows `sql` counts, read straight from the database file.
#[allow(clippy::unwrap_used)] // test support: a failure is the test's
fn count(dir: &std::path::Path, sql: &str) -> i64 {
    let connection = rusqlite::Connection::open(dir.join("keyward.db")).unwrap();
    connection.query_row(sql, [], |row| row.get(0)).unwrap()
}

/// The statements of the secondary indexes of `api_keys`, sorted.
#[allow(clippy::unwrap_used)] // test support: a failure is the test's
fn key_indexes(dir: &std::path::Path) -> Vec<String> {
    let connection = rusqlite::Connection::open(dir.join("keyward.db")).unwrap();
    let mut statement = connection
        .prepare(
            "SELECT sql FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'api_keys' \
             AND sql IS NOT NULL ORDER BY name",
        )
        .unwrap();
    statement
        .query_map([], |row| row.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// A limited-by snapshot as large as a superuser's.
fn large_limited_by(owner: usize) -> String {
    let indices: Vec<String> = (0..12)
        .map(|n| {
            format!(
                r#"{{"names":["logs-{owner}-{n}-*"],"privileges":["read","view_index_metadata"]}}"#
            )
        })
        .collect();
    format!(
        r#"{{"owner-{owner}":{{"cluster":["all"],"indices":[{}],"run_as":["*"]}}}}"#,
        indices.join(",")
    )
}

#[tokio::test]
async fn shared_texts_are_stored_once_and_go_with_their_last_key() {
    let (store, dir) = temp_embedded_store().await;
    let keys: Vec<_> = (0..2000)
        .map(|n| {
            let mut key = sample_key(&format!("k{n:04}"));
            key.limited_by = large_limited_by(n % 2);
            key.creator.principal = format!("owner-{}", n % 2);
            key.creator.full_name = Some(format!("Owner {}", n % 2));
            key
        })
        .collect();
    store.import_api_keys(keys.clone()).await.unwrap();
    // One role descriptors text, two limited-by snapshots, two owners' details.
    assert_eq!(count(dir.path(), "SELECT COUNT(*) FROM descriptors"), 5);
    let text_bytes = count(
        dir.path(),
        "SELECT SUM(length(role_descriptors) + length(limited_by) + length(creator_metadata)) FROM api_keys",
    );
    assert_eq!(text_bytes, 0, "no key row holds a shared text");

    // Owner 1's keys go (invalidated, then removed); its texts go with the last of them.
    let owner_1: Vec<String> = keys
        .iter()
        .skip(1)
        .step_by(2)
        .map(|key| key.id.clone())
        .collect();
    store.invalidate_api_keys(&owner_1[..999], 5).await.unwrap();
    assert_eq!(
        store.delete_inactive_api_keys(10, 10_000).await.unwrap(),
        999
    );
    assert_eq!(count(dir.path(), "SELECT COUNT(*) FROM descriptors"), 5);
    store.invalidate_api_keys(&owner_1[999..], 5).await.unwrap();
    assert_eq!(store.delete_inactive_api_keys(10, 10_000).await.unwrap(), 1);
    assert_eq!(count(dir.path(), "SELECT COUNT(*) FROM descriptors"), 3);
    assert_eq!(
        count(dir.path(), "SELECT SUM(refs) FROM descriptors"),
        3 * 1000
    );

    // An update moving a key to new texts takes one reference off the old ones.
    let mut moved = store.api_key("k0000").await.unwrap().unwrap();
    moved.limited_by = large_limited_by(7);
    store.update_api_keys(vec![moved]).await.unwrap();
    assert_eq!(count(dir.path(), "SELECT COUNT(*) FROM descriptors"), 4);
    assert_eq!(
        count(dir.path(), "SELECT SUM(refs) FROM descriptors"),
        3 * 1000
    );
    for key in keys.iter().step_by(2).skip(1) {
        assert_eq!(store.api_key(&key.id).await.unwrap().as_ref(), Some(key));
    }
}

#[tokio::test]
async fn keys_sharing_a_large_limited_by_cost_a_few_hundred_bytes() {
    const KEYS: usize = 20_000;
    let dir = tempfile::tempdir().unwrap();
    let limited_by = large_limited_by(0);
    assert!(limited_by.len() > 700);
    let keys = (0..KEYS).map(|n| {
        let mut key = sample_key(&format!("{n:020}"));
        key.name = format!("bench-{n}");
        key.hash = format!("{{SSHA256}}{n:012}{n:044}");
        key.limited_by = limited_by.clone();
        key
    });
    assert_eq!(
        EmbeddedStore::bulk_import(dir.path(), keys, 5_000).unwrap(),
        KEYS as u64
    );
    let bytes = std::fs::metadata(dir.path().join("keyward.db"))
        .unwrap()
        .len();
    let per_key = bytes / KEYS as u64;
    assert!(per_key < 400, "{per_key} bytes per key");
}

#[tokio::test]
async fn bulk_import_into_an_empty_store_builds_the_indexes_once() {
    let dir = tempfile::tempdir().unwrap();
    drop(EmbeddedStore::open(EmbeddedStoreOptions::new(dir.path())).unwrap());
    let indexes = key_indexes(dir.path());
    assert!(indexes.len() >= 5, "{indexes:?}");
    let keys: Vec<_> = (0..1000).map(|n| sample_key(&format!("k{n:04}"))).collect();
    assert_eq!(
        EmbeddedStore::bulk_import(dir.path(), keys.clone(), 300).unwrap(),
        1000
    );
    assert_eq!(key_indexes(dir.path()), indexes);
    assert_eq!(
        count(
            dir.path(),
            "SELECT COUNT(*) FROM meta WHERE key = 'bulk_import_dropped_indexes'"
        ),
        0
    );
    // Into a store that has keys: the indexes stay, the keys join the others.
    let more: Vec<_> = (1000..1100)
        .map(|n| sample_key(&format!("k{n:04}")))
        .collect();
    assert_eq!(
        EmbeddedStore::bulk_import(dir.path(), more.clone(), 300).unwrap(),
        100
    );
    assert_eq!(key_indexes(dir.path()), indexes);
    let store = EmbeddedStore::open(EmbeddedStoreOptions::new(dir.path())).unwrap();
    let found = store.find_api_keys(&ApiKeyFilter::default()).await.unwrap();
    assert_eq!(found, [keys, more].concat());
}

/// A bulk import counts its keys into `api_key_counts` itself (its counting triggers dropped
/// meanwhile), into an empty store and into one with keys, and leaves the triggers as they were:
/// the counts equal a count of the keys, and a key created afterwards is counted.
#[tokio::test]
async fn bulk_import_counts_its_keys_and_restores_the_counting_triggers() {
    let dir = tempfile::tempdir().unwrap();
    drop(EmbeddedStore::open(EmbeddedStoreOptions::new(dir.path())).unwrap());
    let triggers = "SELECT COUNT(*) FROM sqlite_schema WHERE type = 'trigger' \
                    AND name LIKE 'api_keys_counts_%'";
    assert_eq!(count(dir.path(), triggers), 3);
    let key = |n: usize| {
        let mut key = sample_key(&format!("k{n:04}"));
        key.creator.principal = format!("user-{}", n % 3);
        key.invalidated = n.is_multiple_of(4);
        key
    };
    assert_eq!(
        EmbeddedStore::bulk_import(dir.path(), (0..500).map(key), 128).unwrap(),
        500
    );
    assert_eq!(
        EmbeddedStore::bulk_import(dir.path(), (500..700).map(key), 64).unwrap(),
        200
    );
    assert_eq!(count(dir.path(), triggers), 3);
    let store = EmbeddedStore::open(EmbeddedStoreOptions::new(dir.path())).unwrap();
    store.create_api_key(key(700)).await.unwrap();
    drop(store);
    let mismatched = "SELECT COUNT(*) FROM (
            SELECT 'principal' AS field, principal AS value, COUNT(*) AS keys FROM api_keys GROUP BY principal
            UNION ALL SELECT 'realm', realm, COUNT(*) FROM api_keys GROUP BY realm
            UNION ALL SELECT 'key_type', key_type, COUNT(*) FROM api_keys GROUP BY key_type
            UNION ALL SELECT 'invalidated', invalidated, COUNT(*) FROM api_keys GROUP BY invalidated
        ) AS counted FULL JOIN api_key_counts AS kept
            ON kept.field = counted.field AND kept.value = counted.value
        WHERE kept.keys IS NOT counted.keys";
    assert_eq!(count(dir.path(), mismatched), 0);
    assert_eq!(
        count(
            dir.path(),
            "SELECT keys FROM api_key_counts WHERE field = 'principal' AND value = 'user-1'"
        ),
        234
    );
}

#[tokio::test]
async fn a_failed_bulk_import_keeps_its_earlier_batches_and_the_indexes() {
    let dir = tempfile::tempdir().unwrap();
    let keys = (0..10).map(|n| sample_key(&format!("k{}", n % 7)));
    match EmbeddedStore::bulk_import(dir.path(), keys, 4) {
        Err(Error::AlreadyExists(id)) => assert_eq!(id, "k0"),
        other => panic!("expected AlreadyExists, got {other:?}"),
    }
    assert!(key_indexes(dir.path()).len() >= 5);
    let store = EmbeddedStore::open(EmbeddedStoreOptions::new(dir.path())).unwrap();
    let found = store.find_api_keys(&ApiKeyFilter::default()).await.unwrap();
    let ids: Vec<_> = found.into_iter().map(|key| key.id).collect();
    assert_eq!(ids, ["k0", "k1", "k2", "k3"]);
}

#[tokio::test]
async fn indexes_a_dead_bulk_import_dropped_are_built_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(EmbeddedStoreOptions::new(dir.path())).unwrap();
    store.create_api_key(sample_key("k")).await.unwrap();
    drop(store);
    let indexes = key_indexes(dir.path());
    // What a bulk import leaves when it dies between dropping and building the indexes: their
    // statements recorded, the indexes gone.
    let dropped = ["api_keys_creation", "api_keys_name", "api_keys_owner"];
    let recorded: Vec<&String> = indexes
        .iter()
        .filter(|sql| dropped.iter().any(|name| sql.contains(&format!("{name} "))))
        .collect();
    assert_eq!(recorded.len(), dropped.len());
    let connection = rusqlite::Connection::open(dir.path().join("keyward.db")).unwrap();
    connection
        .execute(
            "INSERT INTO meta (key, value) VALUES ('bulk_import_dropped_indexes', ?1)",
            [serde_json::to_string(&recorded).unwrap()],
        )
        .unwrap();
    for name in dropped {
        connection
            .execute_batch(&format!("DROP INDEX {name}"))
            .unwrap();
    }
    drop(connection);
    assert_eq!(key_indexes(dir.path()).len(), indexes.len() - dropped.len());

    let store = EmbeddedStore::open(EmbeddedStoreOptions::new(dir.path())).unwrap();
    assert!(store.api_key("k").await.unwrap().is_some());
    drop(store);
    assert_eq!(key_indexes(dir.path()), indexes);
}

/// A data directory written before metadata had its own index (schema version 5) is brought up
/// to date in place: the metadata of the keys already stored is found by queries afterwards.
#[tokio::test]
async fn metadata_of_keys_stored_before_the_metadata_index_is_queryable() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(EmbeddedStoreOptions::new(dir.path())).unwrap();
    let mut key = sample_key("old");
    key.metadata = Some(r#"{"team":"blue","tags":["x","y"]}"#.to_owned());
    store.create_api_key(key).await.unwrap();
    store.create_api_key(sample_key("plain")).await.unwrap();
    drop(store);
    // Undo migrations 10 to 6, as a keyward of schema version 5 left the database.
    let connection = rusqlite::Connection::open(dir.path().join("keyward.db")).unwrap();
    connection
        .execute_batch(
            "DROP TABLE profiles;
             DROP TABLE role_mappings;
             DROP TABLE service_tokens;
             DROP TRIGGER api_keys_counts_insert;
             DROP TRIGGER api_keys_counts_delete;
             DROP TRIGGER api_keys_counts_update;
             DROP TABLE api_key_counts;
             DROP INDEX api_keys_invalidation;
             CREATE INDEX api_keys_invalidation ON api_keys (invalidation);
             DROP TRIGGER api_keys_metadata_insert;
             DROP TRIGGER api_keys_metadata_update;
             DROP TRIGGER api_keys_metadata_delete;
             DROP TABLE api_key_metadata;
             DROP INDEX api_keys_realm;
             DROP INDEX api_keys_type;
             DROP INDEX api_keys_invalidated;
             DROP INDEX api_keys_owner;
             CREATE INDEX api_keys_owner ON api_keys (principal, realm);
             PRAGMA user_version = 5;",
        )
        .unwrap();
    drop(connection);

    let reopened = EmbeddedStore::open(EmbeddedStoreOptions::new(dir.path())).unwrap();
    for (query, expected) in [
        (json!({"term": {"metadata.team": "blue"}}), vec!["old"]),
        (json!({"term": {"metadata.tags": "y"}}), vec!["old"]),
        (json!({"exists": {"field": "metadata.team"}}), vec!["old"]),
        (
            json!({"bool": {"must_not": {"exists": {"field": "metadata.team"}}}}),
            vec!["plain"],
        ),
    ] {
        let search = ApiKeyQuery {
            query: parse_query(&query, 0).unwrap(),
            ..ApiKeyQuery::default()
        };
        let page = reopened.query_api_keys(&search).await.unwrap();
        let ids: Vec<&str> = page.records.iter().map(|key| key.id.as_str()).collect();
        assert_eq!(ids, expected, "{query}");
    }
}
