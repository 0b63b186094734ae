//! The PostgreSQL schema: its migrations, appended and never edited, and bringing a database up
//! to date under an advisory lock, so that several nodes starting at once apply each migration
//! exactly once.

use tokio_postgres::Client;

use crate::error::{PgResultExt, pg_error};
use keyward_store::Error;

/// What [`migrate`](crate::migrate) did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MigrationReport {
    /// The versions applied now, in order (empty when the schema was up to date).
    pub applied: Vec<i32>,
    /// The schema version after the migration.
    pub version: i32,
}

/// The schema, one migration per version: migration `n` (1-based) is recorded as version `n` in
/// `keyward_schema_migrations`. Never edit a released migration; append a new one.
///
/// Every text column compares with `COLLATE "C"` (byte order), as the embedded store's SQLite
/// compares (`BINARY`): sorts, ranges and `search_after` agree between the two backends.
pub(crate) const MIGRATIONS: &[&str] = &[
    // 1: API keys, their flattened metadata, the text keys share, users, roles, application
    // privileges, tokens, store metadata.
    //
    // `doc` is the storage order `_doc` sorts by (SQLite's rowid). The indexes pair every field
    // a query filters on with the default order (creation, id), so a page reads a page of
    // entries. `api_key_metadata` holds one row per scalar leaf of a key's metadata (see
    // `rows::flatten_metadata`), written by the store in the statement that writes the key and
    // deleted with it by the foreign key. `descriptors` holds the text many keys share (role
    // descriptors, the limited-by snapshot, the owner's details) once per distinct text, found
    // by its SHA-256 digest (see `rows::INSERT_API_KEY`). The store deletes the texts no key
    // refers to any more after the write that let go of them (`store::collect_descriptors`),
    // under a table lock every writer of references conflicts with (no foreign key: its checks
    // lock the few shared rows for every key written, which halved concurrent creates).
    r#"CREATE TABLE descriptors (
        descriptor_id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        digest BYTEA NOT NULL UNIQUE,
        text TEXT COLLATE "C" NOT NULL
    );
    CREATE TABLE api_keys (
        doc BIGINT GENERATED ALWAYS AS IDENTITY,
        id TEXT COLLATE "C" NOT NULL PRIMARY KEY,
        name TEXT COLLATE "C" NOT NULL,
        key_type TEXT COLLATE "C" NOT NULL,
        creation BIGINT NOT NULL,
        expiration BIGINT,
        invalidated BIGINT NOT NULL CHECK (invalidated IN (0, 1)),
        invalidation BIGINT,
        hash TEXT COLLATE "C" NOT NULL,
        metadata TEXT COLLATE "C",
        principal TEXT COLLATE "C" NOT NULL,
        realm TEXT COLLATE "C" NOT NULL,
        format_version BIGINT NOT NULL,
        certificate_identity TEXT COLLATE "C",
        role_descriptors_id BIGINT NOT NULL,
        limited_by_id BIGINT NOT NULL,
        creator_id BIGINT NOT NULL,
        seq BIGINT NOT NULL
    );
    CREATE INDEX api_keys_role_descriptors ON api_keys (role_descriptors_id);
    CREATE INDEX api_keys_limited_by ON api_keys (limited_by_id);
    CREATE INDEX api_keys_creator ON api_keys (creator_id);
    CREATE UNIQUE INDEX api_keys_doc ON api_keys (doc);
    CREATE INDEX api_keys_creation ON api_keys (creation, id);
    CREATE INDEX api_keys_owner ON api_keys (principal, creation, id);
    CREATE INDEX api_keys_realm ON api_keys (realm, creation, id);
    CREATE INDEX api_keys_type ON api_keys (key_type, creation, id);
    CREATE INDEX api_keys_invalidated ON api_keys (invalidated, creation, id);
    CREATE INDEX api_keys_name ON api_keys (name);
    CREATE INDEX api_keys_expiration ON api_keys (expiration);
    CREATE INDEX api_keys_invalidation ON api_keys (invalidation);
    CREATE INDEX api_keys_invalidated_untimed ON api_keys (id)
        WHERE invalidated = 1 AND invalidation IS NULL;
    CREATE TABLE api_key_metadata (
        path TEXT COLLATE "C" NOT NULL,
        value TEXT COLLATE "C" NOT NULL,
        id TEXT COLLATE "C" NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
        PRIMARY KEY (path, value, id)
    );
    CREATE INDEX api_key_metadata_id ON api_key_metadata (id, path);
    CREATE TABLE users (
        username TEXT COLLATE "C" NOT NULL PRIMARY KEY,
        password_hash TEXT COLLATE "C" NOT NULL,
        roles TEXT COLLATE "C" NOT NULL,
        full_name TEXT COLLATE "C",
        email TEXT COLLATE "C",
        metadata TEXT COLLATE "C" NOT NULL,
        enabled BOOLEAN NOT NULL,
        seq BIGINT NOT NULL
    );
    CREATE TABLE roles (
        name TEXT COLLATE "C" NOT NULL PRIMARY KEY,
        descriptor TEXT COLLATE "C" NOT NULL,
        seq BIGINT NOT NULL
    );
    CREATE TABLE app_privileges (
        application TEXT COLLATE "C" NOT NULL,
        name TEXT COLLATE "C" NOT NULL,
        actions TEXT COLLATE "C" NOT NULL,
        metadata TEXT COLLATE "C" NOT NULL,
        seq BIGINT NOT NULL,
        PRIMARY KEY (application, name)
    );
    CREATE TABLE tokens (
        access_hash TEXT COLLATE "C" NOT NULL PRIMARY KEY,
        refresh_hash TEXT COLLATE "C" UNIQUE,
        username TEXT COLLATE "C" NOT NULL,
        realm TEXT COLLATE "C" NOT NULL,
        realm_type TEXT COLLATE "C" NOT NULL,
        creation BIGINT NOT NULL,
        expiration BIGINT NOT NULL,
        invalidated BOOLEAN NOT NULL,
        refreshed BOOLEAN NOT NULL,
        seq BIGINT NOT NULL
    );
    CREATE INDEX tokens_owner ON tokens (username, realm);
    CREATE INDEX tokens_creation ON tokens (creation);
    CREATE TABLE meta (
        key TEXT COLLATE "C" NOT NULL PRIMARY KEY,
        value TEXT COLLATE "C" NOT NULL
    );"#,
    // 2: role mappings, each one JSON document by name.
    r#"CREATE TABLE role_mappings (
        name TEXT COLLATE "C" NOT NULL PRIMARY KEY,
        mapping TEXT COLLATE "C" NOT NULL,
        seq BIGINT NOT NULL
    );"#,
    // 3: service account tokens kept in the store (index tokens): the hash of the secret only.
    r#"CREATE TABLE service_tokens (
        account TEXT COLLATE "C" NOT NULL,
        name TEXT COLLATE "C" NOT NULL,
        hash TEXT COLLATE "C" NOT NULL,
        creation BIGINT NOT NULL,
        creator TEXT COLLATE "C" NOT NULL,
        creator_realm TEXT COLLATE "C" NOT NULL,
        PRIMARY KEY (account, name)
    );"#,
    // 4: user profiles, by uid, found by username too (a key's or user's `profile_uid`).
    r#"CREATE TABLE profiles (
        uid TEXT COLLATE "C" NOT NULL PRIMARY KEY,
        username TEXT COLLATE "C" NOT NULL,
        realm_name TEXT COLLATE "C" NOT NULL,
        realm_type TEXT COLLATE "C" NOT NULL,
        roles TEXT COLLATE "C" NOT NULL,
        full_name TEXT COLLATE "C",
        email TEXT COLLATE "C",
        enabled BOOLEAN NOT NULL,
        last_synchronized BIGINT NOT NULL,
        labels TEXT COLLATE "C" NOT NULL,
        data TEXT COLLATE "C" NOT NULL,
        seq BIGINT NOT NULL
    );
    CREATE INDEX profiles_username ON profiles (username, uid);"#,
];

/// The advisory lock key migrations run under (`keyward` in ASCII, padded): any value works as
/// long as every keyward uses the same one.
const MIGRATION_LOCK: i64 = 0x6b65_7977_6172_6400;

/// Brings the schema up to the newest version this binary knows, in one transaction under a
/// transaction-level advisory lock: a node that starts while another migrates waits for it, then
/// finds the schema up to date.
pub(crate) async fn migrate(client: &mut Client) -> Result<MigrationReport, Error> {
    let transaction = client.transaction().await.pg()?;
    transaction
        .execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await
        .pg()?;
    transaction
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS keyward_schema_migrations (
                version INTEGER NOT NULL PRIMARY KEY,
                applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
            )",
        )
        .await
        .pg()?;
    let row = transaction
        .query_one(
            "SELECT coalesce(max(version), 0) FROM keyward_schema_migrations",
            &[],
        )
        .await
        .pg()?;
    let current: i32 = row.try_get(0).map_err(pg_error)?;
    let known = i32::try_from(MIGRATIONS.len()).unwrap_or(i32::MAX);
    if current > known {
        return Err(Error::Corrupt(format!(
            "the database has schema version {current}, newer than the versions this keyward \
             knows (up to {known}): it was written by a newer keyward"
        )));
    }
    let mut report = MigrationReport {
        applied: Vec::new(),
        version: current,
    };
    for (version, migration) in (1..)
        .zip(MIGRATIONS)
        .skip(usize::try_from(current).unwrap_or(0))
    {
        transaction.batch_execute(migration).await.pg()?;
        transaction
            .execute(
                "INSERT INTO keyward_schema_migrations (version) VALUES ($1)",
                &[&version],
            )
            .await
            .pg()?;
        report.applied.push(version);
        report.version = version;
    }
    transaction.commit().await.pg()?;
    for version in &report.applied {
        tracing::info!(version, "migrated the PostgreSQL store schema");
    }
    Ok(report)
}
