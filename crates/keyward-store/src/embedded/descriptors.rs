//! Text many keys share, stored once: the `descriptors` table (schema migration 5).
//!
//! A key's role descriptors, its owner's limited-by snapshot, and its owner's details that are
//! not queried (realm type, full name, email, metadata: the "creator text") are each one row of
//! `descriptors`, found by the SHA-256 digest of the text; `api_keys` holds the row ids. Thousands
//! of keys of one owner share one limited-by row, so a key costs a few bytes for them instead of
//! a kilobyte.
//!
//! Rows are counted, not swept: `refs` is the number of references key rows hold. Writes that
//! set ids count them ([`References`]: inserts, updates, the conversion, each aggregated over its
//! keys so a bulk write touches each row once); the delete trigger of migration 5 counts every
//! deleted key, whatever statement deletes it. A row is deleted when its count reaches zero, in
//! the same transaction. All writes run on the one writer thread, and a write interns its texts
//! and stores the key inside one savepoint, so no row can be deleted between being found and
//! being referenced. (Inserts and updates are not counted by triggers: a trigger makes SQLite
//! journal every page each statement touches for the enclosing savepoint, which made a bulk
//! import write ten times the data.)

use std::collections::HashMap;
use std::path::Path;

use keyward_core::api_key::Creator;
use rusqlite::{Connection, OptionalExtension, params};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::SqlResultExt;
use super::rows::{pack_hash, select_meta};
use crate::Error;

/// The `meta` key holding the last rowid of `api_keys` converted to descriptor ids, present
/// while migration 5 still has keys to convert.
pub(super) const CONVERSION_PROGRESS: &str = "migration_5_after_rowid";

/// Keys converted per transaction: a crash loses at most one batch's work, never a key.
pub(super) const CONVERSION_BATCH: i64 = 10_000;

/// The row holding `text`, inserted (with no references yet) when there is none. The caller
/// references it in the same savepoint.
pub(super) fn intern(connection: &Connection, text: &str) -> Result<i64, Error> {
    let digest = Sha256::digest(text.as_bytes());
    let digest = digest.as_slice();
    let found = connection
        .prepare_cached("SELECT descriptor_id FROM descriptors WHERE digest = ?1")
        .db()?
        .query_row([digest], |row| row.get(0))
        .optional()
        .db()?;
    if let Some(id) = found {
        return Ok(id);
    }
    connection
        .prepare_cached("INSERT INTO descriptors (digest, text, refs) VALUES (?1, ?2, 0) RETURNING descriptor_id")
        .db()?
        .query_row(params![digest, text], |row| row.get(0))
        .db()
}

/// Changes to reference counts, gathered over a write and applied once per row at its end.
#[derive(Default)]
pub(super) struct References(HashMap<i64, i64>);

impl References {
    /// A key now refers to these rows.
    pub(super) fn add(&mut self, ids: [i64; 3]) {
        for id in ids {
            *self.0.entry(id).or_default() += 1;
        }
    }

    /// A key no longer refers to these rows.
    pub(super) fn remove(&mut self, ids: [Option<i64>; 3]) {
        for id in ids.into_iter().flatten() {
            *self.0.entry(id).or_default() -= 1;
        }
    }

    /// Writes the counts, deleting the rows nothing refers to any more.
    pub(super) fn apply(self, connection: &Connection) -> Result<(), Error> {
        let mut count = connection
            .prepare_cached("UPDATE descriptors SET refs = refs + ?2 WHERE descriptor_id = ?1")
            .db()?;
        let mut delete = connection
            .prepare_cached("DELETE FROM descriptors WHERE descriptor_id = ?1 AND refs <= 0")
            .db()?;
        for (id, delta) in self.0 {
            if delta != 0 {
                count.execute([id, delta]).db()?;
            }
            if delta < 0 {
                delete.execute([id]).db()?;
            }
        }
        Ok(())
    }
}

/// [`intern`] with a memory of what it interned, for many keys written in one operation (an
/// import, the conversion): the keys of a batch mostly share their texts, so most lookups
/// compare with the previous key's text and touch neither the digest nor the database. Valid
/// within one operation only (nothing deletes descriptor rows while it runs).
#[derive(Default)]
pub(super) struct Interner {
    last: [(String, i64); 3],
    seen: HashMap<String, i64>,
    seen_bytes: usize,
}

/// The most text an [`Interner`] remembers besides each slot's last.
const INTERNER_BYTES: usize = 4 << 20;

/// Which of a key's texts: each slot remembers the previous key's text of that kind.
#[derive(Clone, Copy)]
pub(super) enum Slot {
    RoleDescriptors = 0,
    LimitedBy = 1,
    Creator = 2,
}

impl Interner {
    /// The id of the row holding `text`, inserting it when there is none.
    pub(super) fn intern(
        &mut self,
        connection: &Connection,
        slot: Slot,
        text: &str,
    ) -> Result<i64, Error> {
        let last = &mut self.last[slot as usize];
        if last.1 != 0 && last.0 == text {
            return Ok(last.1);
        }
        let id = match self.seen.get(text) {
            Some(id) => *id,
            None => {
                let id = intern(connection, text)?;
                // Bounded: an import of all-distinct texts keeps no more than this many bytes.
                if self.seen_bytes.saturating_add(text.len()) <= INTERNER_BYTES {
                    self.seen_bytes += text.len();
                    self.seen.insert(text.to_owned(), id);
                }
                id
            }
        };
        text.clone_into(&mut last.0);
        last.1 = id;
        Ok(id)
    }
}

/// The owner's details stored as one shared text: `[realm_type, full_name, email, metadata]`.
/// The principal and realm stay columns of `api_keys`: queries select and sort by them.
pub(super) fn creator_text(creator: &Creator) -> Result<String, Error> {
    serde_json::to_string(&(
        &creator.realm_type,
        &creator.full_name,
        &creator.email,
        &creator.metadata,
    ))
    .map_err(|err| Error::Database(err.to_string()))
}

/// The creator text of a key written before migration 5, from its columns; `metadata` is the
/// stored JSON text, kept as it is (a key whose metadata does not parse reads as corrupt, as it
/// did before).
fn creator_text_from_columns(
    realm_type: String,
    full_name: Option<String>,
    email: Option<String>,
    metadata: &str,
) -> String {
    let optional = |value: Option<String>| value.map_or(Value::Null, Value::String);
    format!(
        "[{},{},{},{metadata}]",
        Value::String(realm_type),
        optional(full_name),
        optional(email)
    )
}

/// The owner's principal, realm and [`creator_text`] back as a [`Creator`].
pub(super) fn creator_from_text(
    id: &str,
    principal: String,
    realm: String,
    text: &str,
) -> Result<Creator, Error> {
    let corrupt = |what: &str| Error::Corrupt(format!("api key [{id}]: {what}"));
    let value: Value = serde_json::from_str(text)
        .map_err(|err| corrupt(&format!("creator metadata is not a JSON object: {err}")))?;
    let Value::Array(fields) = value else {
        return Err(corrupt("the stored creator is not a JSON array"));
    };
    let [realm_type, full_name, email, metadata]: [Value; 4] = fields
        .try_into()
        .map_err(|_| corrupt("the stored creator does not have four fields"))?;
    let optional = |value: Value, what: &str| match value {
        Value::Null => Ok(None),
        Value::String(text) => Ok(Some(text)),
        _ => Err(corrupt(&format!("the creator's {what} is not a string"))),
    };
    let Value::String(realm_type) = realm_type else {
        return Err(corrupt("the creator's realm type is not a string"));
    };
    let Value::Object(metadata): Value = metadata else {
        return Err(corrupt("creator metadata is not a JSON object"));
    };
    let metadata: Map<String, Value> = metadata;
    Ok(Creator {
        principal,
        full_name: optional(full_name, "full name")?,
        email: optional(email, "email")?,
        metadata,
        realm,
        realm_type,
    })
}

/// Converts the keys written before migration 5 to descriptor ids, [`CONVERSION_BATCH`] keys per
/// transaction, each recording how far it got: a conversion interrupted by a crash resumes where
/// its last commit left it. Returns at once when there is nothing (left) to convert.
pub(super) fn convert_existing_keys(connection: &mut Connection, path: &Path) -> Result<(), Error> {
    convert_batches(connection, path, u64::MAX)
}

/// [`convert_existing_keys`], stopping (as a crash would) after `batches` committed batches.
pub(super) fn convert_batches(
    connection: &mut Connection,
    path: &Path,
    batches: u64,
) -> Result<(), Error> {
    let mut converted: u64 = 0;
    for _ in 0..batches {
        let transaction = connection
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .db()?;
        let Some(after) = select_meta(&transaction, CONVERSION_PROGRESS)? else {
            return Ok(());
        };
        let after: i64 = after.parse().map_err(|_| {
            Error::Corrupt(format!(
                "[{}]: the progress of migration 5 [{after}] is not a rowid",
                path.display()
            ))
        })?;
        let Some((last, count)) = convert_batch(&transaction, after, CONVERSION_BATCH)? else {
            drop(transaction);
            return finish_conversion(connection, path, converted);
        };
        transaction
            .execute(
                "UPDATE meta SET value = ?2 WHERE key = ?1",
                params![CONVERSION_PROGRESS, last.to_string()],
            )
            .db()?;
        transaction.commit().db()?;
        converted = converted.saturating_add(count);
        if converted.is_multiple_of(1_000_000) {
            tracing::info!(database = %path.display(), keys = converted, "converting keys to shared descriptors");
        }
    }
    Ok(())
}

/// Compacts the converted database, then deletes the progress record.
fn finish_conversion(connection: &Connection, path: &Path, converted: u64) -> Result<(), Error> {
    // The converted rows are a fraction of their old size: give the emptied space back to the
    // file system before the progress record goes, so a crash in here compacts again. `VACUUM`
    // is atomic: a crash leaves the converted database as it was.
    if converted > 0 {
        tracing::info!(database = %path.display(), keys = converted, "stored the keys' shared descriptors once each; compacting the store");
    }
    connection.execute_batch("VACUUM").db()?;
    connection
        .execute("DELETE FROM meta WHERE key = ?1", [CONVERSION_PROGRESS])
        .db()?;
    Ok(())
}

/// Converts up to `limit` keys after rowid `after`; the last rowid converted and how many, or
/// `None` when no key is left.
pub(super) fn convert_batch(
    connection: &Connection,
    after: i64,
    limit: i64,
) -> Result<Option<(i64, u64)>, Error> {
    let mut select = connection
        .prepare_cached(
            "SELECT rowid, role_descriptors, limited_by, realm_type, full_name, email, creator_metadata, hash \
             FROM api_keys WHERE rowid > ?1 ORDER BY rowid LIMIT ?2",
        )
        .db()?;
    let mut update = connection
        .prepare_cached(
            "UPDATE api_keys SET role_descriptors_id = ?2, limited_by_id = ?3, creator_id = ?4, \
             role_descriptors = '', limited_by = '', realm_type = '', full_name = NULL, email = NULL, \
             creator_metadata = '', hash = CASE WHEN ?5 IS NULL THEN hash ELSE '' END, hash_packed = ?5 \
             WHERE rowid = ?1 AND role_descriptors_id IS NULL",
        )
        .db()?;
    // Read first, then write: the batch's rows are not changed under the statement reading them.
    let mut keys = Vec::new();
    let mut rows = select.query(params![after, limit]).db()?;
    while let Some(row) = rows.next().db()? {
        let rowid: i64 = row.get(0).db()?;
        let role_descriptors: String = row.get(1).db()?;
        let limited_by: String = row.get(2).db()?;
        let creator_metadata: String = row.get(6).db()?;
        let creator = creator_text_from_columns(
            row.get(3).db()?,
            row.get(4).db()?,
            row.get(5).db()?,
            &creator_metadata,
        );
        let hash: String = row.get(7).db()?;
        keys.push((
            rowid,
            role_descriptors,
            limited_by,
            creator,
            pack_hash(&hash),
        ));
    }
    drop(rows);
    let mut interner = Interner::default();
    let mut references = References::default();
    let mut last = None;
    let mut count: u64 = 0;
    for (rowid, role_descriptors, limited_by, creator, hash_packed) in keys {
        let ids = [
            interner.intern(connection, Slot::RoleDescriptors, &role_descriptors)?,
            interner.intern(connection, Slot::LimitedBy, &limited_by)?,
            interner.intern(connection, Slot::Creator, &creator)?,
        ];
        // A key that already has ids (none should, before the conversion ends) is left alone:
        // converting it again would store its emptied columns as its descriptors.
        if update
            .execute(params![rowid, ids[0], ids[1], ids[2], hash_packed])
            .db()?
            == 1
        {
            references.add(ids);
        }
        last = Some(rowid);
        count += 1;
    }
    // Rows interned for keys that turned out to be converted already are referenced by nothing.
    references.apply(connection)?;
    connection
        .prepare_cached("DELETE FROM descriptors WHERE refs <= 0")
        .db()?
        .execute([])
        .db()?;
    Ok(last.map(|last| (last, count)))
}

#[cfg(test)]
#[path = "conversion_tests.rs"]
mod tests;
