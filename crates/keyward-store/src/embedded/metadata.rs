//! The flattened metadata of schema migration 7: `api_key_metadata` filled again from the keys'
//! `metadata`, with each key's creation, a batch of rowids at a time.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, params};

use super::SqlResultExt;
use super::rows::select_meta;
use crate::Error;

/// The `meta` key holding the last rowid of `api_keys` whose metadata is flattened into
/// migration 7's `api_key_metadata`, present while keys are left.
pub(super) const METADATA_PROGRESS: &str = "migration_7_after_rowid";

/// Keys flattened per transaction: a crash loses at most one batch's work.
pub(super) const METADATA_BATCH: i64 = 50_000;

/// Flattens the metadata of the keys written before migration 7, [`METADATA_BATCH`] keys per
/// transaction, each recording how far it got, so an interrupted conversion resumes where its
/// last commit left it. Returns at once when nothing is left.
pub(super) fn convert_metadata(connection: &mut Connection, path: &Path) -> Result<(), Error> {
    convert_metadata_batches(connection, path, u64::MAX, METADATA_BATCH)
}

/// [`convert_metadata`] in batches of `batch` keys, stopping (as a crash would) after `batches`
/// committed batches.
pub(super) fn convert_metadata_batches(
    connection: &mut Connection,
    path: &Path,
    batches: u64,
    batch: i64,
) -> Result<(), Error> {
    for done in 0..batches {
        let transaction = connection
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .db()?;
        let Some(after) = select_meta(&transaction, METADATA_PROGRESS)? else {
            return Ok(());
        };
        let after: i64 = after.parse().map_err(|_| {
            Error::Corrupt(format!(
                "[{}]: the progress of migration 7 [{after}] is not a rowid",
                path.display()
            ))
        })?;
        let last: Option<i64> = transaction
            .query_row(
                "SELECT max(rowid) FROM (SELECT rowid FROM api_keys WHERE rowid > ?1 \
                 ORDER BY rowid LIMIT ?2)",
                params![after, batch],
                |row| row.get(0),
            )
            .optional()
            .db()?
            .flatten();
        let Some(last) = last else {
            transaction
                .execute("DELETE FROM meta WHERE key = ?1", [METADATA_PROGRESS])
                .db()?;
            transaction.commit().db()?;
            if done > 0 {
                tracing::info!(database = %path.display(), batches = done, "flattened the keys' metadata with their creation");
            }
            return Ok(());
        };
        // The statement of migration 7's insert trigger, over a range of rowids; a key already
        // flattened (a batch run again) adds nothing.
        transaction
            .execute(
                "INSERT OR IGNORE INTO api_key_metadata (path, value, creation, id)
                 SELECT CASE WHEN typeof(j.key) = 'integer' THEN j.path ELSE j.fullkey END,
                     CASE j.type WHEN 'true' THEN 'true' WHEN 'false' THEN 'false'
                         ELSE CAST(j.atom AS TEXT) END,
                     api_keys.creation, api_keys.id
                 FROM api_keys, json_tree(api_keys.metadata) AS j
                 WHERE api_keys.rowid > ?1 AND api_keys.rowid <= ?2
                     AND api_keys.metadata IS NOT NULL
                     AND j.type IN ('text', 'integer', 'real', 'true', 'false')
                     AND (typeof(j.key) = 'text'
                         OR (typeof(j.key) = 'integer' AND j.path NOT LIKE '%]'))",
                params![after, last],
            )
            .db()?;
        transaction
            .execute(
                "UPDATE meta SET value = ?2 WHERE key = ?1",
                params![METADATA_PROGRESS, last.to_string()],
            )
            .db()?;
        transaction.commit().db()?;
    }
    Ok(())
}

#[cfg(test)]
#[path = "metadata_tests.rs"]
mod tests;
