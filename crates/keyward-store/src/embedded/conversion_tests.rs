//! Migration 5 on a database written by the release before it (schema 1–4, every text in its
//! key's row): every key reads back identical, also when the conversion was interrupted.

#![allow(clippy::unwrap_used)]

use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use keyward_core::api_key::{ApiKeyType, Creator};
use rusqlite::{Connection, params};
use serde_json::{Map, json};

use super::{CONVERSION_BATCH, CONVERSION_PROGRESS, convert_batches};
use crate::embedded::schema::{MIGRATIONS, migrate};
use crate::{ApiKeyFilter, ApiKeyRecord, EmbeddedStore, EmbeddedStoreOptions, Store};

/// More keys than one conversion batch holds, so that the conversion takes several.
const KEYS: i64 = 2 * CONVERSION_BATCH + 123;

/// Key `n` of the old store: owners with and without names, emails and metadata, a few
/// limited-by snapshots and role descriptors, cross-cluster keys, expired and invalidated ones.
fn old_key(n: i64) -> ApiKeyRecord {
    let owner = n % 7;
    let metadata = if owner == 3 {
        Map::new()
    } else {
        json!({"team": format!("t{owner}"), "nested": {"n": owner}})
            .as_object()
            .cloned()
            .unwrap()
    };
    ApiKeyRecord {
        id: format!("id-{n:06}"),
        name: format!("key-{}", n % 1000),
        key_type: if n % 11 == 0 {
            ApiKeyType::CrossCluster
        } else {
            ApiKeyType::Rest
        },
        creation: 1_700_000_000_000 + n,
        expiration: (n % 5 == 0).then_some(1_800_000_000_000 + n),
        invalidated: n % 13 == 0,
        invalidation: (n % 13 == 0 && n % 2 == 0).then_some(1_750_000_000_000),
        hash: match n % 4 {
            // Packed from now on.
            0 | 2 => format!(
                "{{SSHA256}}{}{}",
                STANDARD.encode(n.to_be_bytes()),
                STANDARD.encode([(n % 251) as u8; 32])
            ),
            // An `{SSHA256}` hash whose salt decodes to 9 bytes: kept as text.
            1 => "{SSHA256}AAECAwQFBgcI6VS0C142yL/pnMBhio5F/gRK9keLzcBNBZCAdduogsI=".to_owned(),
            _ => format!("{{PBKDF2}}10000$c2FsdA==$aGFzaC1vZi{n}"),
        },
        role_descriptors: if n % 3 == 0 {
            "{}".to_owned()
        } else {
            format!(r#"{{"r{}":{{"cluster":["monitor"]}}}}"#, n % 3)
        },
        limited_by: format!(
            r#"{{"owner-{owner}":{{"cluster":["all"],"indices":[{{"names":["logs-{owner}-*"],"privileges":["read"]}}]}}}}"#
        ),
        metadata: (n % 4 != 0).then(|| format!(r#"{{"n":{n}}}"#)),
        creator: Creator {
            principal: format!("user-{owner}"),
            full_name: (owner % 2 == 0).then(|| format!("User Number {owner}")),
            email: (owner > 2).then(|| format!("user{owner}@example.com")),
            metadata,
            realm: if owner == 0 { "reserved" } else { "native" }.to_owned(),
            realm_type: if owner == 0 { "reserved" } else { "native" }.to_owned(),
        },
        format_version: 8_000_099 + n % 2,
        certificate_identity: (n % 11 == 0).then(|| "CN=remote-.*".to_owned()),
        seq: 1 + n % 3,
    }
}

/// A database as the release before migration 5 wrote it, holding [`KEYS`] keys.
fn write_old_store(dir: &Path) -> Vec<ApiKeyRecord> {
    let mut connection = Connection::open(dir.join("keyward.db")).unwrap();
    connection
        .pragma_update_and_check(None, "journal_mode", "WAL", |_| Ok(()))
        .unwrap();
    let transaction = connection.transaction().unwrap();
    for migration in &MIGRATIONS[..4] {
        transaction.execute_batch(migration).unwrap();
    }
    transaction.pragma_update(None, "user_version", 4).unwrap();
    let mut records = Vec::new();
    {
        let mut insert = transaction
            .prepare(
                "INSERT INTO api_keys (id, name, key_type, creation, expiration, invalidated, invalidation, \
                 hash, role_descriptors, limited_by, metadata, principal, full_name, email, creator_metadata, \
                 realm, realm_type, format_version, certificate_identity, seq) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20)",
            )
            .unwrap();
        for n in 0..KEYS {
            let record = old_key(n);
            insert
                .execute(params![
                    record.id,
                    record.name,
                    record.key_type.as_str(),
                    record.creation,
                    record.expiration,
                    record.invalidated,
                    record.invalidation,
                    record.hash,
                    record.role_descriptors,
                    record.limited_by,
                    record.metadata,
                    record.creator.principal,
                    record.creator.full_name,
                    record.creator.email,
                    serde_json::to_string(&record.creator.metadata).unwrap(),
                    record.creator.realm,
                    record.creator.realm_type,
                    record.format_version,
                    record.certificate_identity,
                    record.seq,
                ])
                .unwrap();
            records.push(record);
        }
    }
    transaction.commit().unwrap();
    records
}

/// Opens the store, checks every key reads back as written, and that the texts are stored once.
async fn check_converted(dir: &Path, expected: &[ApiKeyRecord]) {
    let store = EmbeddedStore::open(EmbeddedStoreOptions::new(dir)).unwrap();
    let found = store.find_api_keys(&ApiKeyFilter::default()).await.unwrap();
    assert_eq!(found.len(), expected.len());
    for (found, expected) in found.iter().zip(expected) {
        assert_eq!(found, expected, "key [{}]", expected.id);
    }
    assert_eq!(store.meta(CONVERSION_PROGRESS).await.unwrap(), None);
    drop(store);

    let connection = Connection::open(dir.join("keyward.db")).unwrap();
    let (rows, refs): (i64, i64) = connection
        .query_row("SELECT COUNT(*), SUM(refs) FROM descriptors", [], |row| {
            Ok((row.get(0)?, row.get(1)?))
        })
        .unwrap();
    // 3 role descriptors, 7 limited-by snapshots, 7 creators.
    assert_eq!(rows, 3 + 7 + 7);
    assert_eq!(refs, 3 * KEYS);
    let packed: i64 = connection
        .query_row(
            "SELECT COUNT(*) FROM api_keys WHERE hash_packed IS NOT NULL AND hash = ''",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(packed, (KEYS + 1) / 2);
    let unconverted: i64 = connection
        .query_row(
            "SELECT COUNT(*) FROM api_keys WHERE role_descriptors_id IS NULL OR limited_by <> ''",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(unconverted, 0);
}

fn file_size(dir: &Path) -> u64 {
    std::fs::metadata(dir.join("keyward.db")).unwrap().len()
}

#[tokio::test]
async fn a_version_4_store_converts_in_place_and_shrinks() {
    let dir = tempfile::tempdir().unwrap();
    let expected = write_old_store(dir.path());
    let before = file_size(dir.path());
    check_converted(dir.path(), &expected).await;
    let after = file_size(dir.path());
    // Without the compaction the file would not shrink at all (freed pages stay in the file).
    assert!(
        after * 4 < before * 3,
        "the converted store is {after} bytes, {before} before"
    );

    // The converted store writes and reads as a new one does.
    let store = EmbeddedStore::open(EmbeddedStoreOptions::new(dir.path())).unwrap();
    let mut new_key = old_key(KEYS + 1);
    new_key.seq = 1;
    store.create_api_key(new_key.clone()).await.unwrap();
    assert_eq!(store.api_key(&new_key.id).await.unwrap(), Some(new_key));
}

#[tokio::test]
async fn an_interrupted_conversion_resumes_where_it_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let expected = write_old_store(dir.path());
    let path = dir.path().join("keyward.db");

    // Schema 5 and one batch converted, then the process dies.
    let mut connection = Connection::open(&path).unwrap();
    migrate(&mut connection, &path).unwrap();
    convert_batches(&mut connection, &path, 1).unwrap();
    let progress: String = connection
        .query_row(
            "SELECT value FROM meta WHERE key = ?1",
            [CONVERSION_PROGRESS],
            |row| row.get(0),
        )
        .unwrap();
    let converted: i64 = connection
        .query_row(
            "SELECT COUNT(*) FROM api_keys WHERE role_descriptors_id IS NOT NULL",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(converted, CONVERSION_BATCH);
    assert_eq!(progress, format!("{CONVERSION_BATCH}"));
    // Half of the next batch, never committed.
    let transaction = connection.transaction().unwrap();
    transaction
        .execute(
            "UPDATE api_keys SET limited_by = '' WHERE rowid > ?1 AND rowid <= ?1 + 50",
            [CONVERSION_BATCH],
        )
        .unwrap();
    drop(transaction);
    drop(connection);

    check_converted(dir.path(), &expected).await;
}

#[tokio::test]
async fn a_conversion_that_died_before_compacting_compacts_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let expected = write_old_store(dir.path());
    let path = dir.path().join("keyward.db");
    let before = file_size(dir.path());

    // Every key converted, then the process dies before the compaction and the end of the
    // progress record.
    let mut connection = Connection::open(&path).unwrap();
    migrate(&mut connection, &path).unwrap();
    let batches = u64::try_from(KEYS / CONVERSION_BATCH + 1).unwrap();
    convert_batches(&mut connection, &path, batches).unwrap();
    let left: i64 = connection
        .query_row(
            "SELECT COUNT(*) FROM api_keys WHERE role_descriptors_id IS NULL",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(left, 0);
    let progress: Option<String> = connection
        .query_row(
            "SELECT value FROM meta WHERE key = ?1",
            [CONVERSION_PROGRESS],
            |row| row.get(0),
        )
        .ok();
    assert!(
        progress.is_some(),
        "the conversion has not recorded its end"
    );
    drop(connection);
    assert!(file_size(dir.path()) >= before);

    check_converted(dir.path(), &expected).await;
    assert!(file_size(dir.path()) * 4 < before * 3);
}
