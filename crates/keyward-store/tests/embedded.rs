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
    connection.pragma_update(None, "user_version", 4).unwrap();
    drop(connection);
    EmbeddedStore::open(EmbeddedStoreOptions::new(dir.path())).unwrap();
}

#[tokio::test]
async fn a_version_1_database_upgrades_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(EmbeddedStoreOptions::new(dir.path())).unwrap();
    store.create_api_key(sample_key("old")).await.unwrap();
    drop(store);
    // Back to what version 1 wrote: no roles, no application privileges, no tokens, no index of
    // undated invalidations.
    let connection = rusqlite::Connection::open(dir.path().join("keyward.db")).unwrap();
    connection
        .execute_batch(
            "DROP TABLE roles; DROP TABLE app_privileges; DROP TABLE tokens; \
             DROP INDEX api_keys_invalidated_untimed; PRAGMA user_version = 1;",
        )
        .unwrap();
    drop(connection);

    let store = EmbeddedStore::open(EmbeddedStoreOptions::new(dir.path())).unwrap();
    assert!(store.api_key("old").await.unwrap().is_some());
    let role = keyward_store::RoleRecord {
        name: "r".to_owned(),
        descriptor: "{}".to_owned(),
        seq: 0,
    };
    assert!(store.put_role(role).await.unwrap());
    assert_eq!(store.token("missing").await.unwrap(), None);
    drop(store);
    let connection = rusqlite::Connection::open(dir.path().join("keyward.db")).unwrap();
    let version: i64 = connection
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .unwrap();
    assert_eq!(version, 6);
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
    store
        .create_api_key(sample_key("bad-creator"))
        .await
        .unwrap();
    let connection = rusqlite::Connection::open(dir.path().join("keyward.db")).unwrap();
    connection
        .execute(
            "UPDATE api_keys SET key_type = 'bogus' WHERE id = 'bad-type'",
            [],
        )
        .unwrap();
    connection
        .execute(
            "UPDATE api_keys SET creator_metadata = '[1]' WHERE id = 'bad-creator'",
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
    // Undo migration 6, as a keyward of schema version 5 left the database.
    let connection = rusqlite::Connection::open(dir.path().join("keyward.db")).unwrap();
    connection
        .execute_batch(
            "DROP TRIGGER api_keys_metadata_insert;
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
