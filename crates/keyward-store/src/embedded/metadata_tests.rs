//! Migration 7 on a database written by the release before it (schema 6): every key reads back
//! identical, metadata queries and per-value totals answer as before, also when the conversion
//! was interrupted.

#![allow(clippy::unwrap_used)]

use std::path::Path;

use keyward_core::api_key::ApiKeyType;
use keyward_core::query::{ApiKeyField, ApiKeyQuery, FieldValue, Query};
use rusqlite::Connection;

use super::{METADATA_PROGRESS, convert_metadata_batches};
use crate::embedded::rows::insert_api_key;
use crate::embedded::schema::{MIGRATIONS, migrate};
use crate::testsuite::sample_key;
use crate::{
    ApiKeyFilter, ApiKeyRecord, EmbeddedStore, EmbeddedStoreOptions, FieldCountValue, Store,
};

/// Keys in the old store, and the batch the interrupted conversion takes: several batches.
const KEYS: i64 = 2_345;
const BATCH: i64 = 1_000;

/// Key `n`: seven owners in two realms, a cross-cluster key in eleven, an invalidated one in
/// thirteen, metadata with a team (seven values), an array, a nested key, or none.
fn old_key(n: i64) -> ApiKeyRecord {
    let mut key = sample_key(&format!("id-{n:06}"));
    let owner = n % 7;
    key.creator.principal = format!("user-{owner}");
    key.creator.realm = if owner % 2 == 0 { "native1" } else { "file" }.to_owned();
    // Not in id order, with ties.
    key.creation = 1_700_000_000_000 + (n * 7919) % 1_000;
    if n % 11 == 0 {
        key.key_type = ApiKeyType::CrossCluster;
    }
    key.invalidated = n % 13 == 0;
    key.metadata = match n % 4 {
        0 => None,
        1 => Some(format!(r#"{{"team":"t{}"}}"#, n % 7)),
        2 => Some(format!(r#"{{"team":"t{}","tags":["x","y","x"]}}"#, n % 7)),
        _ => Some(format!(r#"{{"team":"t{}","nested":{{"n":{n}}}}}"#, n % 7)),
    };
    key
}

/// A database as the release before migration 7 wrote it, holding [`KEYS`] keys.
fn write_old_store(dir: &Path) -> Vec<ApiKeyRecord> {
    let mut connection = Connection::open(dir.join("keyward.db")).unwrap();
    connection
        .pragma_update_and_check(None, "journal_mode", "WAL", |_| Ok(()))
        .unwrap();
    let transaction = connection.transaction().unwrap();
    for migration in &MIGRATIONS[..6] {
        transaction.execute_batch(migration).unwrap();
    }
    transaction.pragma_update(None, "user_version", 6).unwrap();
    let records: Vec<ApiKeyRecord> = (0..KEYS).map(old_key).collect();
    for record in &records {
        insert_api_key(&transaction, record.clone()).unwrap();
    }
    transaction.commit().unwrap();
    records
}

fn in_default_order(mut records: Vec<ApiKeyRecord>) -> Vec<String> {
    records.sort_by(|a, b| (a.creation, &a.id).cmp(&(b.creation, &b.id)));
    records.into_iter().map(|record| record.id).collect()
}

/// Opens the store and checks every key, the metadata queries and the totals.
async fn check_converted(dir: &Path, expected: &[ApiKeyRecord]) {
    let store = EmbeddedStore::open(EmbeddedStoreOptions::new(dir)).unwrap();
    let found = store.find_api_keys(&ApiKeyFilter::default()).await.unwrap();
    assert_eq!(found.len(), expected.len());
    let mut found = found;
    found.sort_by(|a, b| a.id.cmp(&b.id));
    for (found, expected) in found.iter().zip(expected) {
        assert_eq!(found, expected, "key [{}]", expected.id);
    }
    assert_eq!(store.meta(METADATA_PROGRESS).await.unwrap(), None);

    let query = |path: &str, value: &str| ApiKeyQuery {
        query: Query::Term {
            field: ApiKeyField::Metadata(vec![path.to_owned()]),
            value: FieldValue::Keyword(value.to_owned()),
            case_insensitive: false,
        },
        size: 10_000,
        ..ApiKeyQuery::default()
    };
    for (path, value, matches) in [
        (
            "team",
            "t3",
            &(|key: &ApiKeyRecord| {
                key.metadata
                    .as_deref()
                    .is_some_and(|text| text.contains(r#""team":"t3""#))
            }) as &dyn Fn(&ApiKeyRecord) -> bool,
        ),
        ("tags", "x", &|key: &ApiKeyRecord| {
            key.metadata
                .as_deref()
                .is_some_and(|text| text.contains("tags"))
        }),
    ] {
        let wanted = in_default_order(
            expected
                .iter()
                .filter(|key| matches(key))
                .cloned()
                .collect(),
        );
        let page = store.query_api_keys(&query(path, value)).await.unwrap();
        let ids: Vec<String> = page.records.into_iter().map(|record| record.id).collect();
        assert_eq!(page.total, wanted.len() as u64, "metadata.{path} = {value}");
        assert_eq!(ids, wanted, "metadata.{path} = {value}");
    }
    let nested = Query::Term {
        field: ApiKeyField::Metadata(vec!["nested".to_owned(), "n".to_owned()]),
        value: FieldValue::Keyword("7".to_owned()),
        case_insensitive: false,
    };
    let page = store
        .query_api_keys(&ApiKeyQuery {
            query: nested,
            ..ApiKeyQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(page.total, 1);

    let invalidated = expected.iter().filter(|key| key.invalidated).count() as u64;
    let counts = store
        .count_api_keys_by(&Query::MatchAll, &ApiKeyField::Invalidated, 10, false)
        .await
        .unwrap();
    assert_eq!(
        counts.values,
        [
            (FieldCountValue::Long(0), KEYS as u64 - invalidated),
            (FieldCountValue::Long(1), invalidated),
        ]
    );
    let total = store
        .query_api_keys(&ApiKeyQuery {
            query: Query::Term {
                field: ApiKeyField::Username,
                value: FieldValue::Keyword("user-3".to_owned()),
                case_insensitive: false,
            },
            size: 0,
            ..ApiKeyQuery::default()
        })
        .await
        .unwrap()
        .total;
    let owned = expected
        .iter()
        .filter(|key| key.creator.principal == "user-3")
        .count() as u64;
    assert_eq!(total, owned);
}

#[tokio::test]
async fn a_version_6_store_converts_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let expected = write_old_store(dir.path());
    check_converted(dir.path(), &expected).await;

    // The converted store writes and reads as a new one does.
    let store = EmbeddedStore::open(EmbeddedStoreOptions::new(dir.path())).unwrap();
    let mut new_key = old_key(KEYS + 1);
    new_key.seq = 1;
    store.create_api_key(new_key.clone()).await.unwrap();
    assert_eq!(store.api_key(&new_key.id).await.unwrap(), Some(new_key));
}

#[tokio::test]
async fn an_interrupted_metadata_conversion_resumes_where_it_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let expected = write_old_store(dir.path());
    let path = dir.path().join("keyward.db");

    // Schema 7 and one batch flattened, then the process dies.
    let mut connection = Connection::open(&path).unwrap();
    migrate(&mut connection, &path).unwrap();
    convert_metadata_batches(&mut connection, &path, 1, BATCH).unwrap();
    let progress: String = connection
        .query_row(
            "SELECT value FROM meta WHERE key = ?1",
            [METADATA_PROGRESS],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(progress, format!("{BATCH}"));
    let flattened: i64 = connection
        .query_row(
            "SELECT COUNT(DISTINCT id) FROM api_key_metadata",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(flattened, BATCH / 4 * 3);
    // Half of the next batch, never committed.
    let transaction = connection.transaction().unwrap();
    transaction
        .execute(
            "INSERT INTO api_key_metadata (path, value, creation, id) \
             SELECT '$.team', 'partial', creation, id FROM api_keys WHERE rowid > ?1 AND rowid <= ?1 + 50",
            [BATCH],
        )
        .unwrap();
    drop(transaction);
    drop(connection);

    check_converted(dir.path(), &expected).await;
}
