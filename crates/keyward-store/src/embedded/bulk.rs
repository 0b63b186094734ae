//! Loading many keys into a data directory no server has open: large transactions on one
//! connection with a large page cache, and, into an empty store, the secondary indexes of
//! `api_keys` dropped first and built once at the end (a sort, instead of one random B-tree
//! insert per key and index). The triggers keeping `api_key_counts` are dropped for the import
//! too: each batch counts its keys itself and adds the counts in its own transaction, once per
//! value instead of four upserts per key.

use std::collections::HashMap;
use std::path::Path;

use rusqlite::types::Value;
use rusqlite::{Connection, TransactionBehavior, params};

use super::descriptors::{Interner, References, convert_existing_keys};
use super::metadata::convert_metadata;
use super::rows::{api_key_values, insert_api_key_values, select_meta};
use super::schema::migrate;
use super::{DATABASE_FILE, SqlResultExt, lock_data_dir, open_writer};
use crate::{ApiKeyRecord, EmbeddedStore, Error};

/// The `meta` key holding the statements of the indexes and triggers a bulk import dropped, as
/// a JSON array, until they are created again: a store opened after a bulk import died creates
/// them then.
const DROPPED_INDEXES: &str = "bulk_import_dropped_indexes";

/// The page cache of a bulk import, KiB: enough for the id index of ten million keys, so that
/// its random inserts stay in memory within a transaction. Allocated as it fills; the process is
/// a loader that exits afterwards.
const BULK_CACHE_KIB: i64 = 1 << 20;

impl EmbeddedStore {
    /// Writes `records` into the store in `dir` (created when missing), `batch` keys per
    /// transaction, and returns how many it wrote: for loading fixtures and benchmarks into a
    /// data directory no server has open (it takes the directory's lock, so it fails with
    /// [`Error::Locked`] while one has). Into an empty store, the secondary indexes of the keys
    /// are dropped first and built once at the end.
    ///
    /// Each batch is committed on its own: when a key fails (an id already stored, or repeated),
    /// its batch is rolled back, the batches before it stay, and the error is returned. Stored
    /// keys start at `seq` 1. This does blocking IO.
    pub fn bulk_import(
        dir: &Path,
        records: impl IntoIterator<Item = ApiKeyRecord>,
        batch: usize,
    ) -> Result<u64, Error> {
        std::fs::create_dir_all(dir)?;
        let _lock = lock_data_dir(dir)?;
        let path = dir.join(DATABASE_FILE);
        let mut connection = open_writer(&path)?;
        migrate(&mut connection, &path)?;
        convert_existing_keys(&mut connection, &path)?;
        convert_metadata(&mut connection, &path)?;
        rebuild_dropped_indexes(&mut connection)?;
        connection
            .pragma_update(None, "cache_size", -BULK_CACHE_KIB)
            .db()?;
        let empty: bool = connection
            .query_row("SELECT NOT EXISTS (SELECT 1 FROM api_keys)", [], |row| {
                row.get(0)
            })
            .db()?;
        drop_for_import(&mut connection, empty)?;
        let written = insert_batches(&mut connection, records.into_iter(), batch.max(1));
        // Built again whether or not every batch went in, sorting on several threads.
        let threads = std::thread::available_parallelism().map_or(1, usize::from);
        connection
            .pragma_update(None, "threads", i64::try_from(threads).unwrap_or(1))
            .db()?;
        rebuild_dropped_indexes(&mut connection)?;
        written
    }
}

fn insert_batches(
    connection: &mut Connection,
    mut records: impl Iterator<Item = ApiKeyRecord>,
    batch: usize,
) -> Result<u64, Error> {
    let mut written: u64 = 0;
    loop {
        let transaction = connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .db()?;
        let mut interner = Interner::default();
        let mut references = References::default();
        let mut counts = KeyCounts::default();
        let mut count: u64 = 0;
        for record in records.by_ref().take(batch) {
            counts.add(&record);
            let id = record.id.clone();
            let (values, interned) = api_key_values(&transaction, &mut interner, record)?;
            insert_api_key_values(&transaction, id, values)?;
            references.add(interned);
            count += 1;
        }
        if count == 0 {
            return Ok(written);
        }
        references.apply(&transaction)?;
        counts.apply(&transaction)?;
        transaction.commit().db()?;
        written += count;
    }
}

/// What the triggers of `api_key_counts` would have added for the keys of one batch.
#[derive(Default)]
struct KeyCounts(HashMap<(&'static str, CountedValue), i64>);

/// A value `api_key_counts` counts: text, or the 0 or 1 of `invalidated`.
#[derive(PartialEq, Eq, Hash)]
enum CountedValue {
    Integer(i64),
    Text(String),
}

impl KeyCounts {
    fn add(&mut self, record: &ApiKeyRecord) {
        for (field, value) in [
            (
                "principal",
                CountedValue::Text(record.creator.principal.clone()),
            ),
            ("realm", CountedValue::Text(record.creator.realm.clone())),
            (
                "key_type",
                CountedValue::Text(record.key_type.as_str().to_owned()),
            ),
            (
                "invalidated",
                CountedValue::Integer(i64::from(record.invalidated)),
            ),
        ] {
            *self.0.entry((field, value)).or_default() += 1;
        }
    }

    fn apply(self, connection: &Connection) -> Result<(), Error> {
        let mut upsert = connection
            .prepare_cached(
                "INSERT INTO api_key_counts (field, value, keys) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (field, value) DO UPDATE SET keys = keys + excluded.keys",
            )
            .db()?;
        for ((field, value), keys) in self.0 {
            let value = match value {
                CountedValue::Integer(number) => Value::Integer(number),
                CountedValue::Text(text) => Value::Text(text),
            };
            upsert.execute(params![field, value, keys]).db()?;
        }
        Ok(())
    }
}

/// Drops the triggers counting keys and, into an empty store (`indexes`), the secondary indexes
/// of `api_keys`, recording their statements first (one transaction).
fn drop_for_import(connection: &mut Connection, indexes: bool) -> Result<(), Error> {
    let transaction = connection
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .db()?;
    let mut dropped = Vec::new();
    {
        // Indexes with a statement: not the primary key's, which the table itself needs.
        let mut statement = transaction
            .prepare(
                "SELECT type, name, sql FROM sqlite_schema \
                 WHERE tbl_name = 'api_keys' AND sql IS NOT NULL \
                 AND ((type = 'index' AND ?1) OR (type = 'trigger' AND name LIKE 'api\\_keys\\_counts\\_%' ESCAPE '\\')) \
                 ORDER BY type, name",
            )
            .db()?;
        let mut rows = statement.query([indexes]).db()?;
        while let Some(row) = rows.next().db()? {
            let kind: String = row.get(0).db()?;
            let name: String = row.get(1).db()?;
            let sql: String = row.get(2).db()?;
            dropped.push((kind, name, sql));
        }
    }
    if dropped.is_empty() {
        return transaction.commit().db();
    }
    let statements: Vec<&str> = dropped.iter().map(|(_, _, sql)| sql.as_str()).collect();
    let recorded =
        serde_json::to_string(&statements).map_err(|err| Error::Database(err.to_string()))?;
    transaction
        .execute(
            "INSERT INTO meta (key, value) VALUES (?1, ?2)",
            [DROPPED_INDEXES, recorded.as_str()],
        )
        .db()?;
    for (kind, name, _) in &dropped {
        // The name comes from the schema; quoted as an identifier all the same.
        let quoted = name.replace('"', "\"\"");
        let kind = if kind == "trigger" {
            "TRIGGER"
        } else {
            "INDEX"
        };
        transaction
            .execute_batch(&format!("DROP {kind} \"{quoted}\""))
            .db()?;
    }
    transaction.commit().db()
}

/// Creates the indexes and triggers a bulk import dropped, if any (one transaction). One that
/// exists already (a later migration made it anew) is left as it is.
pub(super) fn rebuild_dropped_indexes(connection: &mut Connection) -> Result<(), Error> {
    let transaction = connection
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .db()?;
    let Some(recorded) = select_meta(&transaction, DROPPED_INDEXES)? else {
        return Ok(());
    };
    let statements: Vec<String> = serde_json::from_str(&recorded).map_err(|err| {
        Error::Corrupt(format!(
            "the indexes a bulk import dropped are not recorded as a JSON array: {err}"
        ))
    })?;
    for sql in statements {
        let sql = if_not_exists(&sql);
        transaction.execute_batch(&sql).db()?;
    }
    transaction
        .execute("DELETE FROM meta WHERE key = ?1", [DROPPED_INDEXES])
        .db()?;
    transaction.commit().db()?;
    tracing::info!("built the key indexes a bulk import had dropped");
    Ok(())
}

/// `CREATE INDEX …` or `CREATE TRIGGER …` as `CREATE … IF NOT EXISTS …`.
fn if_not_exists(sql: &str) -> String {
    for kind in ["CREATE INDEX ", "CREATE TRIGGER "] {
        if let Some(rest) = sql.strip_prefix(kind)
            && !rest.starts_with("IF NOT EXISTS")
        {
            return format!("{kind}IF NOT EXISTS {rest}");
        }
    }
    sql.to_owned()
}
