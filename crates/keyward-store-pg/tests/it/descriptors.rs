//! The text keys share (role descriptors, limited-by, owner details), stored once per distinct
//! text and deleted with the last key referring to it, also under concurrent writers.

use std::sync::Arc;

use keyward_store::testsuite::sample_key;
use keyward_store::{ApiKeyFilter, ApiKeyRecord, Store};
use keyward_store_pg::PostgresStore;

use crate::support::TestDatabase;

async fn descriptors(database: &TestDatabase) -> i64 {
    let client = database.connect().await;
    client
        .query_one("SELECT COUNT(*) FROM descriptors", &[])
        .await
        .unwrap()
        .get(0)
}

fn owned_by(id: &str, owner: usize) -> ApiKeyRecord {
    let mut key = sample_key(id);
    key.limited_by = format!(r#"{{"owner-{owner}":{{"cluster":["all"]}}}}"#);
    key.creator.principal = format!("owner-{owner}");
    key.creator.full_name = Some(format!("Owner {owner}"));
    key
}

#[tokio::test]
async fn shared_texts_are_stored_once_and_go_with_their_last_key() {
    let database = TestDatabase::create().await;
    let store = PostgresStore::connect(database.options()).await.unwrap();
    let keys: Vec<ApiKeyRecord> = (0..200)
        .map(|n| owned_by(&format!("k{n:03}"), n % 2))
        .collect();
    store.import_api_keys(keys[..100].to_vec()).await.unwrap();
    for key in &keys[100..] {
        store.create_api_key(key.clone()).await.unwrap();
    }
    // One role descriptors text, two limited-by snapshots, two owners' details.
    assert_eq!(descriptors(&database).await, 5);
    let owner_1: Vec<String> = keys
        .iter()
        .skip(1)
        .step_by(2)
        .map(|key| key.id.clone())
        .collect();
    store.invalidate_api_keys(&owner_1[..99], 5).await.unwrap();
    assert_eq!(store.delete_inactive_api_keys(10, 1000).await.unwrap(), 99);
    assert_eq!(descriptors(&database).await, 5);
    store.invalidate_api_keys(&owner_1[99..], 5).await.unwrap();
    assert_eq!(store.delete_inactive_api_keys(10, 1000).await.unwrap(), 1);
    assert_eq!(descriptors(&database).await, 3);
    // An update moving a key to new texts lets go of the old ones.
    let mut moved = store.api_key("k000").await.unwrap().unwrap();
    moved.limited_by = r#"{"moved":{}}"#.to_owned();
    store.update_api_keys(vec![moved]).await.unwrap();
    assert_eq!(descriptors(&database).await, 4);
    for key in keys.iter().step_by(2).skip(1) {
        assert_eq!(store.api_key(&key.id).await.unwrap().as_ref(), Some(key));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_creates_and_deletes_of_one_text_stay_whole() {
    const TASKS: usize = 24;
    const ROUNDS: usize = 4;
    let database = TestDatabase::create().await;
    let store = Arc::new(PostgresStore::connect(database.options()).await.unwrap());
    for round in 0..ROUNDS {
        // Every key of a round shares one text that the round before created too, while the
        // round before's keys are deleted: inserts race each other for the text, and the
        // deletion's clean-up races the inserts.
        let mut tasks = tokio::task::JoinSet::new();
        for task in 0..TASKS {
            let store = Arc::clone(&store);
            tasks.spawn(async move {
                store
                    .create_api_key(owned_by(&format!("r{round}-{task:02}"), 7))
                    .await
                    .unwrap();
            });
        }
        if round > 0 {
            let store = Arc::clone(&store);
            tasks.spawn(async move {
                let previous: Vec<String> = (0..TASKS)
                    .map(|task| format!("r{}-{task:02}", round - 1))
                    .collect();
                store.invalidate_api_keys(&previous, 5).await.unwrap();
                store.delete_inactive_api_keys(10, 1000).await.unwrap();
            });
        }
        while let Some(joined) = tasks.join_next().await {
            joined.unwrap();
        }
        let found = store.find_api_keys(&ApiKeyFilter::default()).await.unwrap();
        assert_eq!(found.len(), TASKS, "round {round}");
        for key in found {
            let expected = owned_by(&key.id, 7);
            assert_eq!(key, expected);
        }
    }
    let all: Vec<String> = (0..TASKS)
        .map(|task| format!("r{}-{task:02}", ROUNDS - 1))
        .collect();
    store.invalidate_api_keys(&all, 5).await.unwrap();
    store.delete_inactive_api_keys(10, 1000).await.unwrap();
    assert_eq!(descriptors(&database).await, 0);
}
