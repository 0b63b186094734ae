//! The embedded store's schema: its migrations, appended and never edited, and bringing a
//! database up to date.

use std::path::Path;

use rusqlite::Connection;

use super::SqlResultExt;
use crate::Error;

/// The schema, one migration per version: after migration `n` (1-based), `user_version` is `n`.
/// Never edit a released migration; append a new one.
pub(super) const MIGRATIONS: &[&str] = &[
    // 1: API keys, users, store metadata.
    "CREATE TABLE api_keys (
        id TEXT NOT NULL PRIMARY KEY,
        name TEXT NOT NULL,
        key_type TEXT NOT NULL,
        creation INTEGER NOT NULL,
        expiration INTEGER,
        invalidated INTEGER NOT NULL CHECK (invalidated IN (0, 1)),
        invalidation INTEGER,
        hash TEXT NOT NULL,
        role_descriptors TEXT NOT NULL,
        limited_by TEXT NOT NULL,
        metadata TEXT,
        principal TEXT NOT NULL,
        full_name TEXT,
        email TEXT,
        creator_metadata TEXT NOT NULL,
        realm TEXT NOT NULL,
        realm_type TEXT NOT NULL,
        format_version INTEGER NOT NULL,
        certificate_identity TEXT,
        seq INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX api_keys_creation ON api_keys (creation, id);
    CREATE INDEX api_keys_name ON api_keys (name);
    CREATE INDEX api_keys_owner ON api_keys (principal, realm);
    CREATE INDEX api_keys_expiration ON api_keys (expiration);
    CREATE INDEX api_keys_invalidation ON api_keys (invalidation);
    CREATE TABLE users (
        username TEXT NOT NULL PRIMARY KEY,
        password_hash TEXT NOT NULL,
        roles TEXT NOT NULL,
        full_name TEXT,
        email TEXT,
        metadata TEXT NOT NULL,
        enabled INTEGER NOT NULL CHECK (enabled IN (0, 1)),
        seq INTEGER NOT NULL
    ) STRICT;
    CREATE TABLE meta (
        key TEXT NOT NULL PRIMARY KEY,
        value TEXT NOT NULL
    ) STRICT;",
    // 2: roles and application privileges.
    "CREATE TABLE roles (
        name TEXT NOT NULL PRIMARY KEY,
        descriptor TEXT NOT NULL,
        seq INTEGER NOT NULL
    ) STRICT;
    CREATE TABLE app_privileges (
        application TEXT NOT NULL,
        name TEXT NOT NULL,
        actions TEXT NOT NULL,
        metadata TEXT NOT NULL,
        seq INTEGER NOT NULL,
        PRIMARY KEY (application, name)
    ) STRICT;",
    // 3: access tokens, stored as digests of the access and refresh tokens.
    "CREATE TABLE tokens (
        access_hash TEXT NOT NULL PRIMARY KEY,
        refresh_hash TEXT UNIQUE,
        username TEXT NOT NULL,
        realm TEXT NOT NULL,
        realm_type TEXT NOT NULL,
        creation INTEGER NOT NULL,
        expiration INTEGER NOT NULL,
        invalidated INTEGER NOT NULL CHECK (invalidated IN (0, 1)),
        refreshed INTEGER NOT NULL CHECK (refreshed IN (0, 1)),
        seq INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX tokens_owner ON tokens (username, realm);
    CREATE INDEX tokens_creation ON tokens (creation);",
    // 4: keys invalidated without an invalidation time (imported from before Elasticsearch
    // recorded one), so the remover finds them without reading every valid key.
    "CREATE INDEX api_keys_invalidated_untimed ON api_keys (id)
        WHERE invalidated = 1 AND invalidation IS NULL;",
    // 5: text many keys share (role descriptors, the owner's limited-by snapshot, the owner's
    // full name, email, metadata and realm type) stored once per distinct value in
    // `descriptors`, found by its SHA-256 digest; keys hold the ids. `refs` counts the keys'
    // references: writes that set ids count them (`descriptors::References`), the trigger
    // counts deletes, whatever statement deletes. An `{SSHA256}` hash is stored as its 40
    // bytes in `hash_packed` (`hash` '') rather than as 65 characters of text.
    // The old columns stay (SQLite cannot drop a column without rewriting the table) but hold
    // '' or NULL once a key is converted: `descriptors::convert_existing_keys` converts the keys
    // written before this migration, in batches, from the rowid recorded under
    // `migration_5_after_rowid` in `meta` (deleted when done).
    "CREATE TABLE descriptors (
        descriptor_id INTEGER PRIMARY KEY,
        digest BLOB NOT NULL UNIQUE,
        text TEXT NOT NULL,
        refs INTEGER NOT NULL
    ) STRICT;
    ALTER TABLE api_keys ADD COLUMN role_descriptors_id INTEGER;
    ALTER TABLE api_keys ADD COLUMN limited_by_id INTEGER;
    ALTER TABLE api_keys ADD COLUMN creator_id INTEGER;
    ALTER TABLE api_keys ADD COLUMN hash_packed BLOB;
    CREATE TRIGGER api_keys_descriptors_delete AFTER DELETE ON api_keys BEGIN
        UPDATE descriptors SET refs = refs - (descriptor_id IS old.role_descriptors_id)
            - (descriptor_id IS old.limited_by_id) - (descriptor_id IS old.creator_id)
            WHERE descriptor_id IN (old.role_descriptors_id, old.limited_by_id, old.creator_id);
        DELETE FROM descriptors WHERE refs <= 0
            AND descriptor_id IN (old.role_descriptors_id, old.limited_by_id, old.creator_id);
    END;
    INSERT INTO meta (key, value) VALUES ('migration_5_after_rowid', '0')
        ON CONFLICT (key) DO NOTHING;",
    // 6: query API keys from indexes. Each field a query filters on gets an index that also
    // yields the default order (creation; ties, rare, sorted by id), so a page of ten reads about
    // ten entries; the owner index gains that order too. Metadata is flattened into
    // `api_key_metadata`, one row per scalar leaf (an array's scalar elements each count), under
    // the path SQLite's `json_tree` renders for it (`$.team`, `$."a b".c`), kept in step with
    // `api_keys` by triggers; existing keys are flattened here. A key's rows are removed through
    // the primary key by flattening its old metadata again (no second index on `id`: it would
    // cost more bytes per key than the rows themselves), which relies on `json_tree` rendering a
    // path the same way each time: a SQLite upgrade that changed it would need this table rebuilt.
    // Written to run again harmlessly over its own result.
    "DROP INDEX IF EXISTS api_keys_owner;
    CREATE INDEX IF NOT EXISTS api_keys_owner ON api_keys (principal, creation);
    CREATE INDEX IF NOT EXISTS api_keys_realm ON api_keys (realm, creation);
    CREATE INDEX IF NOT EXISTS api_keys_type ON api_keys (key_type, creation);
    CREATE INDEX IF NOT EXISTS api_keys_invalidated ON api_keys (invalidated, creation);
    CREATE TABLE IF NOT EXISTS api_key_metadata (
        path TEXT NOT NULL,
        value TEXT NOT NULL,
        id TEXT NOT NULL,
        PRIMARY KEY (path, value, id)
    ) STRICT, WITHOUT ROWID;
    CREATE TRIGGER IF NOT EXISTS api_keys_metadata_insert AFTER INSERT ON api_keys
        WHEN NEW.metadata IS NOT NULL
    BEGIN
        INSERT OR IGNORE INTO api_key_metadata (path, value, id)
        SELECT CASE WHEN typeof(j.key) = 'integer' THEN j.path ELSE j.fullkey END,
            CASE j.type WHEN 'true' THEN 'true' WHEN 'false' THEN 'false'
                ELSE CAST(j.atom AS TEXT) END,
            NEW.id
        FROM json_tree(NEW.metadata) AS j
        WHERE j.type IN ('text', 'integer', 'real', 'true', 'false')
            AND (typeof(j.key) = 'text' OR (typeof(j.key) = 'integer' AND j.path NOT LIKE '%]'));
    END;
    CREATE TRIGGER IF NOT EXISTS api_keys_metadata_update AFTER UPDATE OF metadata ON api_keys
    BEGIN
        DELETE FROM api_key_metadata WHERE (path, value, id) IN (
            SELECT CASE WHEN typeof(j.key) = 'integer' THEN j.path ELSE j.fullkey END,
                CASE j.type WHEN 'true' THEN 'true' WHEN 'false' THEN 'false'
                    ELSE CAST(j.atom AS TEXT) END,
                OLD.id
            FROM json_tree(coalesce(OLD.metadata, 'null')) AS j
            WHERE j.type IN ('text', 'integer', 'real', 'true', 'false')
                AND (typeof(j.key) = 'text' OR (typeof(j.key) = 'integer' AND j.path NOT LIKE '%]')));
        INSERT OR IGNORE INTO api_key_metadata (path, value, id)
        SELECT CASE WHEN typeof(j.key) = 'integer' THEN j.path ELSE j.fullkey END,
            CASE j.type WHEN 'true' THEN 'true' WHEN 'false' THEN 'false'
                ELSE CAST(j.atom AS TEXT) END,
            NEW.id
        FROM json_tree(coalesce(NEW.metadata, 'null')) AS j
        WHERE j.type IN ('text', 'integer', 'real', 'true', 'false')
            AND (typeof(j.key) = 'text' OR (typeof(j.key) = 'integer' AND j.path NOT LIKE '%]'));
    END;
    CREATE TRIGGER IF NOT EXISTS api_keys_metadata_delete AFTER DELETE ON api_keys
        WHEN OLD.metadata IS NOT NULL
    BEGIN
        DELETE FROM api_key_metadata WHERE (path, value, id) IN (
            SELECT CASE WHEN typeof(j.key) = 'integer' THEN j.path ELSE j.fullkey END,
                CASE j.type WHEN 'true' THEN 'true' WHEN 'false' THEN 'false'
                    ELSE CAST(j.atom AS TEXT) END,
                OLD.id
            FROM json_tree(OLD.metadata) AS j
            WHERE j.type IN ('text', 'integer', 'real', 'true', 'false')
                AND (typeof(j.key) = 'text' OR (typeof(j.key) = 'integer' AND j.path NOT LIKE '%]')));
    END;
    INSERT OR IGNORE INTO api_key_metadata (path, value, id)
    SELECT CASE WHEN typeof(j.key) = 'integer' THEN j.path ELSE j.fullkey END,
        CASE j.type WHEN 'true' THEN 'true' WHEN 'false' THEN 'false'
            ELSE CAST(j.atom AS TEXT) END,
        api_keys.id
    FROM api_keys, json_tree(api_keys.metadata) AS j
    WHERE api_keys.metadata IS NOT NULL
        AND j.type IN ('text', 'integer', 'real', 'true', 'false')
        AND (typeof(j.key) = 'text' OR (typeof(j.key) = 'integer' AND j.path NOT LIKE '%]'));",
    // 7: a smaller store, and a single-condition query's total and page from an index.
    // - Indexes on fields most keys share one value of hold only the keys with another: an
    //   invalidation time, a cross-cluster type, an invalidated key. A query for the common
    //   value walks the creation index (nearly every key matches) and takes its total from
    //   `api_key_counts`; about 45 bytes a key less. (A sort on `invalidation` reads every key;
    //   `expiration` keeps its full index, whose order serves a sort by expiry.)
    // - `api_key_counts`: how many keys have each principal, realm, type and invalidated value,
    //   so the total of a `term` on one of them is one lookup, not a count of thousands of index
    //   entries. Kept by triggers whatever statement writes (`EmbeddedStore::bulk_import` drops
    //   them for its duration and counts its keys itself, in the same transactions).
    // - `api_key_metadata` gains the key's creation, in its primary key after path and value,
    //   so the keys with one metadata value come out of the index in the default order. The
    //   table is rebuilt: dropped and created again here, filled by
    //   `metadata::convert_metadata` from `api_keys` in batches of rowids, each recording its
    //   progress under `migration_7_after_rowid` in `meta` (deleted when done), at open, before
    //   anything reads it.
    "DROP INDEX IF EXISTS api_keys_invalidation;
    CREATE INDEX api_keys_invalidation ON api_keys (invalidation) WHERE invalidation IS NOT NULL;
    DROP INDEX IF EXISTS api_keys_type;
    CREATE INDEX api_keys_type ON api_keys (key_type, creation) WHERE key_type = 'cross_cluster';
    DROP INDEX IF EXISTS api_keys_invalidated;
    CREATE INDEX api_keys_invalidated ON api_keys (invalidated, creation) WHERE invalidated = 1;
    CREATE TABLE api_key_counts (
        field TEXT NOT NULL,
        value ANY NOT NULL,
        keys INTEGER NOT NULL,
        PRIMARY KEY (field, value)
    ) STRICT, WITHOUT ROWID;
    INSERT INTO api_key_counts (field, value, keys)
        SELECT 'principal', principal, COUNT(*) FROM api_keys GROUP BY principal
        UNION ALL SELECT 'realm', realm, COUNT(*) FROM api_keys GROUP BY realm
        UNION ALL SELECT 'key_type', key_type, COUNT(*) FROM api_keys GROUP BY key_type
        UNION ALL SELECT 'invalidated', invalidated, COUNT(*) FROM api_keys GROUP BY invalidated;
    CREATE TRIGGER api_keys_counts_insert AFTER INSERT ON api_keys BEGIN
        INSERT INTO api_key_counts (field, value, keys) VALUES ('principal', NEW.principal, 1),
            ('realm', NEW.realm, 1), ('key_type', NEW.key_type, 1),
            ('invalidated', NEW.invalidated, 1)
            ON CONFLICT (field, value) DO UPDATE SET keys = keys + 1;
    END;
    CREATE TRIGGER api_keys_counts_delete AFTER DELETE ON api_keys BEGIN
        UPDATE api_key_counts SET keys = keys - 1 WHERE (field, value) IN (VALUES
            ('principal', OLD.principal), ('realm', OLD.realm), ('key_type', OLD.key_type),
            ('invalidated', OLD.invalidated));
        DELETE FROM api_key_counts WHERE keys <= 0 AND (field, value) IN (VALUES
            ('principal', OLD.principal), ('realm', OLD.realm), ('key_type', OLD.key_type),
            ('invalidated', OLD.invalidated));
    END;
    CREATE TRIGGER api_keys_counts_update AFTER UPDATE OF principal, realm, key_type, invalidated
        ON api_keys
        WHEN OLD.principal IS NOT NEW.principal OR OLD.realm IS NOT NEW.realm
            OR OLD.key_type IS NOT NEW.key_type OR OLD.invalidated IS NOT NEW.invalidated
    BEGIN
        UPDATE api_key_counts SET keys = keys - 1 WHERE (field, value) IN (VALUES
            ('principal', OLD.principal), ('realm', OLD.realm), ('key_type', OLD.key_type),
            ('invalidated', OLD.invalidated));
        DELETE FROM api_key_counts WHERE keys <= 0 AND (field, value) IN (VALUES
            ('principal', OLD.principal), ('realm', OLD.realm), ('key_type', OLD.key_type),
            ('invalidated', OLD.invalidated));
        INSERT INTO api_key_counts (field, value, keys) VALUES ('principal', NEW.principal, 1),
            ('realm', NEW.realm, 1), ('key_type', NEW.key_type, 1),
            ('invalidated', NEW.invalidated, 1)
            ON CONFLICT (field, value) DO UPDATE SET keys = keys + 1;
    END;
    DROP TRIGGER IF EXISTS api_keys_metadata_insert;
    DROP TRIGGER IF EXISTS api_keys_metadata_update;
    DROP TRIGGER IF EXISTS api_keys_metadata_delete;
    DROP TABLE IF EXISTS api_key_metadata;
    CREATE TABLE api_key_metadata (
        path TEXT NOT NULL,
        value TEXT NOT NULL,
        creation INTEGER NOT NULL,
        id TEXT NOT NULL,
        PRIMARY KEY (path, value, creation, id)
    ) STRICT, WITHOUT ROWID;
    CREATE TRIGGER api_keys_metadata_insert AFTER INSERT ON api_keys
        WHEN NEW.metadata IS NOT NULL
    BEGIN
        INSERT OR IGNORE INTO api_key_metadata (path, value, creation, id)
        SELECT CASE WHEN typeof(j.key) = 'integer' THEN j.path ELSE j.fullkey END,
            CASE j.type WHEN 'true' THEN 'true' WHEN 'false' THEN 'false'
                ELSE CAST(j.atom AS TEXT) END,
            NEW.creation, NEW.id
        FROM json_tree(NEW.metadata) AS j
        WHERE j.type IN ('text', 'integer', 'real', 'true', 'false')
            AND (typeof(j.key) = 'text' OR (typeof(j.key) = 'integer' AND j.path NOT LIKE '%]'));
    END;
    CREATE TRIGGER api_keys_metadata_update AFTER UPDATE OF metadata, creation ON api_keys
    BEGIN
        DELETE FROM api_key_metadata WHERE (path, value, creation, id) IN (
            SELECT CASE WHEN typeof(j.key) = 'integer' THEN j.path ELSE j.fullkey END,
                CASE j.type WHEN 'true' THEN 'true' WHEN 'false' THEN 'false'
                    ELSE CAST(j.atom AS TEXT) END,
                OLD.creation, OLD.id
            FROM json_tree(coalesce(OLD.metadata, 'null')) AS j
            WHERE j.type IN ('text', 'integer', 'real', 'true', 'false')
                AND (typeof(j.key) = 'text' OR (typeof(j.key) = 'integer' AND j.path NOT LIKE '%]')));
        INSERT OR IGNORE INTO api_key_metadata (path, value, creation, id)
        SELECT CASE WHEN typeof(j.key) = 'integer' THEN j.path ELSE j.fullkey END,
            CASE j.type WHEN 'true' THEN 'true' WHEN 'false' THEN 'false'
                ELSE CAST(j.atom AS TEXT) END,
            NEW.creation, NEW.id
        FROM json_tree(coalesce(NEW.metadata, 'null')) AS j
        WHERE j.type IN ('text', 'integer', 'real', 'true', 'false')
            AND (typeof(j.key) = 'text' OR (typeof(j.key) = 'integer' AND j.path NOT LIKE '%]'));
    END;
    CREATE TRIGGER api_keys_metadata_delete AFTER DELETE ON api_keys
        WHEN OLD.metadata IS NOT NULL
    BEGIN
        DELETE FROM api_key_metadata WHERE (path, value, creation, id) IN (
            SELECT CASE WHEN typeof(j.key) = 'integer' THEN j.path ELSE j.fullkey END,
                CASE j.type WHEN 'true' THEN 'true' WHEN 'false' THEN 'false'
                    ELSE CAST(j.atom AS TEXT) END,
                OLD.creation, OLD.id
            FROM json_tree(OLD.metadata) AS j
            WHERE j.type IN ('text', 'integer', 'real', 'true', 'false')
                AND (typeof(j.key) = 'text' OR (typeof(j.key) = 'integer' AND j.path NOT LIKE '%]')));
    END;
    INSERT INTO meta (key, value) VALUES ('migration_7_after_rowid', '0')
        ON CONFLICT (key) DO UPDATE SET value = '0';",
    // 8: role mappings, each one JSON document by name.
    "CREATE TABLE role_mappings (
        name TEXT NOT NULL PRIMARY KEY,
        mapping TEXT NOT NULL,
        seq INTEGER NOT NULL
    ) STRICT;",
    // 9: service account tokens kept in the store (index tokens): the hash of the secret only.
    "CREATE TABLE service_tokens (
        account TEXT NOT NULL,
        name TEXT NOT NULL,
        hash TEXT NOT NULL,
        creation INTEGER NOT NULL,
        creator TEXT NOT NULL,
        creator_realm TEXT NOT NULL,
        PRIMARY KEY (account, name)
    ) STRICT;",
    // 10: user profiles, by uid, found by username too (a key's or user's `profile_uid`).
    "CREATE TABLE profiles (
        uid TEXT NOT NULL PRIMARY KEY,
        username TEXT NOT NULL,
        realm_name TEXT NOT NULL,
        realm_type TEXT NOT NULL,
        roles TEXT NOT NULL,
        full_name TEXT,
        email TEXT,
        enabled INTEGER NOT NULL,
        last_synchronized INTEGER NOT NULL,
        labels TEXT NOT NULL,
        data TEXT NOT NULL,
        seq INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX profiles_username ON profiles (username, uid);",
];

/// Brings the schema up to the newest version this binary knows, one transaction per migration.
pub(super) fn migrate(connection: &mut Connection, path: &Path) -> Result<(), Error> {
    let version: i64 = connection
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .db()?;
    let known = MIGRATIONS.len();
    let current = usize::try_from(version).ok().filter(|version| *version <= known).ok_or_else(|| {
        Error::Corrupt(format!(
            "the database [{}] has schema version {version}, newer than the versions this keyward knows \
             (up to {known}): it was written by a newer keyward",
            path.display()
        ))
    })?;
    for (index, migration) in MIGRATIONS.iter().enumerate().skip(current) {
        let next = index + 1;
        let transaction = connection
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .db()?;
        transaction.execute_batch(migration).db()?;
        transaction.pragma_update(None, "user_version", next).db()?;
        transaction.commit().db()?;
        tracing::info!(database = %path.display(), version = next, "migrated the store schema");
    }
    Ok(())
}
