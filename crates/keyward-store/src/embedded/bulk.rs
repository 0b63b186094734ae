//! Loading many keys into a data directory no server has open: large transactions on one
//! connection with a large page cache, and, into an empty store, the secondary indexes of
//! `api_keys` dropped first and built once at the end (a sort, instead of one random B-tree
//! insert per key and index).

use std::path::Path;

use rusqlite::{Connection, TransactionBehavior};

use super::descriptors::{Interner, References, convert_existing_keys};
use super::rows::{api_key_values, insert_api_key_values, select_meta};
use super::schema::migrate;
use super::{DATABASE_FILE, SqlResultExt, lock_data_dir, open_writer};
use crate::{ApiKeyRecord, EmbeddedStore, Error};

/// The `meta` key holding the statements of the indexes a bulk import dropped, as a JSON array,
/// until they are built again: a store opened after a bulk import died builds them then.
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
        rebuild_dropped_indexes(&mut connection)?;
        connection
            .pragma_update(None, "cache_size", -BULK_CACHE_KIB)
            .db()?;
        let empty: bool = connection
            .query_row("SELECT NOT EXISTS (SELECT 1 FROM api_keys)", [], |row| {
                row.get(0)
            })
            .db()?;
        if empty {
            drop_indexes(&mut connection)?;
        }
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
        let mut count: u64 = 0;
        for record in records.by_ref().take(batch) {
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
        transaction.commit().db()?;
        written += count;
    }
}

/// Drops the secondary indexes of `api_keys`, recording their statements first (one
/// transaction).
fn drop_indexes(connection: &mut Connection) -> Result<(), Error> {
    let transaction = connection
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .db()?;
    let mut indexes = Vec::new();
    {
        // Indexes with a statement: not the primary key's, which the table itself needs.
        let mut statement = transaction
            .prepare(
                "SELECT name, sql FROM sqlite_schema \
                 WHERE type = 'index' AND tbl_name = 'api_keys' AND sql IS NOT NULL ORDER BY name",
            )
            .db()?;
        let mut rows = statement.query([]).db()?;
        while let Some(row) = rows.next().db()? {
            let name: String = row.get(0).db()?;
            let sql: String = row.get(1).db()?;
            indexes.push((name, sql));
        }
    }
    let statements: Vec<&str> = indexes.iter().map(|(_, sql)| sql.as_str()).collect();
    let recorded =
        serde_json::to_string(&statements).map_err(|err| Error::Database(err.to_string()))?;
    transaction
        .execute(
            "INSERT INTO meta (key, value) VALUES (?1, ?2)",
            [DROPPED_INDEXES, recorded.as_str()],
        )
        .db()?;
    for (name, _) in &indexes {
        // The name comes from the schema; quoted as an identifier all the same.
        let quoted = name.replace('"', "\"\"");
        transaction
            .execute_batch(&format!("DROP INDEX \"{quoted}\""))
            .db()?;
    }
    transaction.commit().db()
}

/// Builds the indexes a bulk import dropped, if any (one transaction).
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
        transaction.execute_batch(&sql).db()?;
    }
    transaction
        .execute("DELETE FROM meta WHERE key = ?1", [DROPPED_INDEXES])
        .db()?;
    transaction.commit().db()?;
    tracing::info!("built the key indexes a bulk import had dropped");
    Ok(())
}
