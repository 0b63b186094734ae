//! The embedded store: one SQLite database in WAL mode inside the data directory.
//!
//! Layout of the data directory:
//! - `node.lock`: held with an exclusive lock for as long as a store is open, so two processes
//!   never write the same database;
//! - `keyward.db` (plus SQLite's `-wal` and `-shm` files): the data.
//!
//! Text many keys share (role descriptors, limited-by snapshots, owner details) is stored once
//! (`descriptors`); [`EmbeddedStore::bulk_import`] loads many keys into a closed store fast.
//!
//! Writes go through one writer thread that owns the only read-write connection. It takes
//! whatever operations are queued (group commit), runs each inside its own savepoint so that one
//! failing operation does not fail the others, commits once and only then answers: with
//! `synchronous=FULL` in WAL mode the commit is fsynced, so an answer means the write is durable.
//! Reads use a small pool of read-only connections on tokio's blocking pool; in WAL mode they
//! never wait for the writer and always see the last commit.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::JoinHandle;
use std::time::Duration;

use async_trait::async_trait;
use keyward_core::EpochMillis;
use rusqlite::types::Value;
use rusqlite::{Connection, OpenFlags, OptionalExtension, params, params_from_iter};
use tokio::sync::{Semaphore, oneshot};

mod bulk;
mod connections;
mod descriptors;
mod find_sql;
mod inspect;
mod metadata;
mod profiles;
mod query_sql;
mod rows;
mod schema;
mod service_tokens;
mod writer;

use connections::*;
use descriptors::{Interner, References, convert_existing_keys};
use find_sql::*;
use rows::{
    API_KEY_COLUMNS, TOKEN_COLUMNS, UPDATE_API_KEY, USER_COLUMNS, api_key_from_row, api_key_values,
    app_privilege_from_row, exists, insert_api_key, insert_api_key_values, insert_token,
    names_json, role_from_row, role_mapping_from_row, select_all, select_meta, token_from_row,
    user_from_row,
};
use schema::migrate;
use writer::{MAX_QUEUED_WRITES, Op, WriteOp, run_writer};

use crate::{
    ApiKeyCursor, ApiKeyFilter, ApiKeyRecord, AppPrivilegeRecord, Error, NamePattern,
    ProfileRecord, RoleMappingRecord, RoleRecord, ServiceTokenRecord, Store, TokenInvalidation,
    TokenRecord, TokenSelector, UpdateOutcome, UserChange, UserRecord,
};

/// How to open an [`EmbeddedStore`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmbeddedStoreOptions {
    /// The data directory; created when missing.
    pub dir: PathBuf,
    /// How many read-only connections serve reads at the same time (at least one is used).
    pub read_connections: usize,
}

impl EmbeddedStoreOptions {
    /// Options for the data directory `dir`, with the default number of read connections.
    pub fn new(dir: impl Into<PathBuf>) -> EmbeddedStoreOptions {
        EmbeddedStoreOptions {
            dir: dir.into(),
            read_connections: DEFAULT_READ_CONNECTIONS,
        }
    }
}

/// The SQLite store. Dropping it waits for the queued writes to finish, then releases the data
/// directory.
pub struct EmbeddedStore {
    // Declared before `lock`: the writer must be gone before the directory lock is released.
    sender: Option<mpsc::Sender<Box<dyn WriteOp>>>,
    writer: Option<JoinHandle<()>>,
    /// Places in the write queue ([`MAX_QUEUED_WRITES`]).
    write_slots: Arc<Semaphore>,
    readers: Arc<ReadPool>,
    /// Connections for reads that walk a large part of the store (listings), which do not
    /// map the file: see [`SCAN_CONNECTIONS`].
    scanners: Arc<ReadPool>,
    dir: PathBuf,
    _lock: DataDirLock,
}

impl EmbeddedStore {
    /// Opens (creating when missing) the store in `options.dir`: locks the directory, opens the
    /// database, brings its schema up to date and starts the writer thread.
    ///
    /// This does blocking IO: call it at startup or inside `spawn_blocking`. It fails with
    /// [`Error::Locked`] when another store holds the directory, and with [`Error::Corrupt`] when
    /// the database is not a keyward store, cannot be read, or was written by a newer keyward
    /// (then nothing in it is changed).
    pub fn open(options: EmbeddedStoreOptions) -> Result<EmbeddedStore, Error> {
        let dir = options.dir;
        std::fs::create_dir_all(&dir)?;
        let path = dir.join(DATABASE_FILE);
        // Before the lock file is made: a directory refused is left exactly as it was.
        inspect::inspect(&path)?;
        let lock = lock_data_dir(&dir)?;

        let mut connection = open_writer(&path)?;
        migrate(&mut connection, &path)?;
        convert_existing_keys(&mut connection, &path)?;
        metadata::convert_metadata(&mut connection, &path)?;
        bulk::rebuild_dropped_indexes(&mut connection)?;

        let read_connections = options.read_connections.max(1);
        let readers = ReadPool::open(&path, read_connections, true)?;
        let scanners = ReadPool::open(&path, SCAN_CONNECTIONS, false)?;

        let (sender, receiver) = mpsc::channel();
        let writer = std::thread::Builder::new()
            .name("keyward-store-writer".to_owned())
            .spawn(move || run_writer(connection, receiver))?;

        Ok(EmbeddedStore {
            sender: Some(sender),
            writer: Some(writer),
            write_slots: Arc::new(Semaphore::new(MAX_QUEUED_WRITES)),
            readers,
            scanners,
            dir,
            _lock: lock,
        })
    }

    /// Queues `work` for the writer thread and waits until it is committed.
    async fn write<R, F>(&self, work: F) -> Result<R, Error>
    where
        R: Send + 'static,
        F: FnOnce(&Connection) -> Result<R, Error> + Send + 'static,
    {
        // Backpressure: past MAX_QUEUED_WRITES writers wait here, in the async runtime, rather
        // than growing the queue without bound while the disk is slower than the callers.
        let slot = Arc::clone(&self.write_slots)
            .acquire_owned()
            .await
            .map_err(|_| Error::Closed)?;
        let (reply, answer) = oneshot::channel();
        let op = Op::boxed(work, reply, slot);
        let sender = self.sender.as_ref().ok_or(Error::Closed)?;
        sender.send(op).map_err(|_| Error::Closed)?;
        answer.await.map_err(|_| Error::Closed)?
    }

    /// Runs `work` on a read-only connection on the blocking pool.
    async fn read<R, F>(&self, work: F) -> Result<R, Error>
    where
        R: Send + 'static,
        F: FnOnce(&Connection) -> Result<R, Error> + Send + 'static,
    {
        self.readers.run(work).await
    }

    /// Runs `work`, a read that walks many keys, on a connection that does not map the file.
    async fn scan<R, F>(&self, work: F) -> Result<R, Error>
    where
        R: Send + 'static,
        F: FnOnce(&Connection) -> Result<R, Error> + Send + 'static,
    {
        self.scanners.run(work).await
    }
}

impl std::fmt::Debug for EmbeddedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedStore")
            .field("dir", &self.dir)
            .field("read_connections", &self.readers.size)
            .finish_non_exhaustive()
    }
}

impl Drop for EmbeddedStore {
    fn drop(&mut self) {
        // Closing the channel lets the writer finish what is queued and exit; waiting for it keeps
        // the directory locked until the last write is done.
        self.sender.take();
        if let Some(writer) = self.writer.take()
            && writer.join().is_err()
        {
            tracing::error!(dir = %self.dir.display(), "the store writer thread panicked");
        }
    }
}

#[async_trait]
impl Store for EmbeddedStore {
    async fn create_api_key(&self, record: ApiKeyRecord) -> Result<(), Error> {
        self.write(move |connection| insert_api_key(connection, record))
            .await
    }

    async fn api_key(&self, id: &str) -> Result<Option<ApiKeyRecord>, Error> {
        let id = id.to_owned();
        self.read(move |connection| {
            let sql = format!("SELECT {API_KEY_COLUMNS} FROM api_keys WHERE id = ?1");
            let mut statement = connection.prepare_cached(&sql).db()?;
            let mut rows = statement.query([&id]).db()?;
            rows.next().db()?.map(api_key_from_row).transpose()
        })
        .await
    }

    async fn find_api_keys(&self, filter: &ApiKeyFilter) -> Result<Vec<ApiKeyRecord>, Error> {
        let Some(find) = FindSql::new(filter)? else {
            return Ok(Vec::new());
        };
        self.read(move |connection| {
            select_api_keys(connection, &find.select(false, None), find.values)
        })
        .await
    }

    async fn find_api_keys_page(
        &self,
        filter: &ApiKeyFilter,
        after: Option<&ApiKeyCursor>,
        limit: usize,
    ) -> Result<Vec<ApiKeyRecord>, Error> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let Some(mut find) = FindSql::new(filter)? else {
            return Ok(Vec::new());
        };
        if let Some(after) = after {
            find.after(after);
        }
        self.scan(move |connection| select_page(connection, &find, limit))
            .await
    }

    async fn query_api_keys(
        &self,
        query: &keyward_core::query::ApiKeyQuery,
    ) -> Result<crate::QueryPage, Error> {
        let statements = query_sql::translate(query, API_KEY_COLUMNS)?;
        self.read(move |connection| query_sql::run(connection, &statements, api_key_from_row))
            .await
    }

    async fn api_keys_after(
        &self,
        query: &keyward_core::query::Query,
        after_id: Option<&str>,
        limit: usize,
    ) -> Result<Vec<ApiKeyRecord>, Error> {
        let (sql, values) = query_sql::translate_batch(query, API_KEY_COLUMNS, after_id, limit)?;
        self.read(move |connection| {
            let mut statement = connection.prepare(&sql).db()?;
            let mut rows = statement.query(params_from_iter(values.iter())).db()?;
            let mut records = Vec::new();
            while let Some(row) = rows.next().db()? {
                records.push(api_key_from_row(row)?);
            }
            Ok(records)
        })
        .await
    }

    async fn count_api_keys_by(
        &self,
        query: &keyward_core::query::Query,
        field: &keyward_core::query::ApiKeyField,
        limit: usize,
        with_missing: bool,
    ) -> Result<crate::FieldCounts, Error> {
        let mut statements = query_sql::translate_counts(query, field, limit)?;
        if !with_missing {
            statements.skip_missing();
        }
        self.read(move |connection| query_sql::run_counts(connection, &statements))
            .await
    }

    async fn update_api_keys(
        &self,
        records: Vec<ApiKeyRecord>,
    ) -> Result<Vec<UpdateOutcome>, Error> {
        if records.is_empty() {
            return Ok(Vec::new());
        }
        self.write(move |connection| {
            let mut outcomes = Vec::with_capacity(records.len());
            let mut interner = Interner::default();
            let mut references = References::default();
            for record in records {
                let seq = record.seq;
                let mut current = connection
                    .prepare_cached(
                        "SELECT role_descriptors_id, limited_by_id, creator_id FROM api_keys \
                         WHERE id = ?1 AND seq = ?2",
                    )
                    .db()?;
                let held: Option<[Option<i64>; 3]> = current
                    .query_row(params![record.id, seq], |row| {
                        Ok([row.get(0)?, row.get(1)?, row.get(2)?])
                    })
                    .optional()
                    .db()?;
                let Some(held) = held else {
                    outcomes.push(UpdateOutcome::Conflict);
                    continue;
                };
                let (values, interned) = api_key_values(connection, &mut interner, record)?;
                let mut statement = connection.prepare_cached(UPDATE_API_KEY).db()?;
                let changed = statement
                    .execute(params_from_iter(
                        values.into_iter().chain([Value::Integer(seq)]),
                    ))
                    .db()?;
                if changed != 1 {
                    return Err(Error::Database(
                        "a key changed while it was being updated".to_owned(),
                    ));
                }
                references.add(interned);
                references.remove(held);
                outcomes.push(UpdateOutcome::Updated);
            }
            references.apply(connection)?;
            Ok(outcomes)
        })
        .await
    }

    async fn invalidate_api_keys(
        &self,
        ids: &[String],
        now: EpochMillis,
    ) -> Result<Vec<String>, Error> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let ids = ids.to_vec();
        self.write(move |connection| {
            let mut statement = connection
                .prepare_cached(
                    "UPDATE api_keys SET invalidated = 1, invalidation = ?2, seq = seq + 1 \
                     WHERE id = ?1 AND invalidated = 0",
                )
                .db()?;
            let mut changed = Vec::new();
            // One statement per id keeps the answer in the order asked, and a repeated id is
            // reported once: the second time it is already invalidated.
            for id in ids {
                if statement.execute(params![id, now]).db()? == 1 {
                    changed.push(id);
                }
            }
            Ok(changed)
        })
        .await
    }

    async fn delete_inactive_api_keys(
        &self,
        cutoff: EpochMillis,
        limit: u64,
    ) -> Result<u64, Error> {
        self.write(move |connection| {
            // One statement per index, each reading only the keys it deletes: as one `OR`, SQLite
            // walks every valid key (their `invalidation` is NULL too). Like Elasticsearch's
            // remover, an invalidated key without an invalidation time (written before that field
            // existed) counts as invalidated long ago. Each takes what is left of `limit`.
            let statements = [
                "DELETE FROM api_keys WHERE rowid IN \
                 (SELECT rowid FROM api_keys WHERE expiration <= :cutoff LIMIT :limit)",
                "DELETE FROM api_keys WHERE rowid IN \
                 (SELECT rowid FROM api_keys WHERE invalidation <= :cutoff LIMIT :limit)",
                "DELETE FROM api_keys WHERE rowid IN \
                 (SELECT rowid FROM api_keys INDEXED BY api_keys_invalidated_untimed \
                 WHERE invalidated = 1 AND invalidation IS NULL LIMIT :limit)",
            ];
            let mut deleted: u64 = 0;
            for sql in statements {
                let left = limit.saturating_sub(deleted);
                if left == 0 {
                    break;
                }
                let left = i64::try_from(left).unwrap_or(i64::MAX);
                let mut statement = connection.prepare_cached(sql).db()?;
                let mut bind = |name: &str, value: i64| -> Result<(), Error> {
                    if let Some(index) = statement.parameter_index(name).db()? {
                        statement.raw_bind_parameter(index, value).db()?;
                    }
                    Ok(())
                };
                bind(":cutoff", cutoff)?;
                bind(":limit", left)?;
                let count = statement.raw_execute().db()?;
                deleted = deleted.saturating_add(count as u64);
            }
            Ok(deleted)
        })
        .await
    }

    async fn import_api_keys(&self, records: Vec<ApiKeyRecord>) -> Result<(), Error> {
        if records.is_empty() {
            return Ok(());
        }
        self.write(move |connection| {
            let mut interner = Interner::default();
            let mut references = References::default();
            for record in records {
                let id = record.id.clone();
                let (values, interned) = api_key_values(connection, &mut interner, record)?;
                insert_api_key_values(connection, id, values)?;
                references.add(interned);
            }
            references.apply(connection)
        })
        .await
    }

    async fn user(&self, username: &str) -> Result<Option<UserRecord>, Error> {
        let username = username.to_owned();
        self.read(move |connection| {
            let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE username = ?1");
            let mut statement = connection.prepare_cached(&sql).db()?;
            let mut rows = statement.query([&username]).db()?;
            rows.next().db()?.map(user_from_row).transpose()
        })
        .await
    }

    async fn put_user(&self, user: UserRecord) -> Result<bool, Error> {
        let roles =
            serde_json::to_string(&user.roles).map_err(|err| Error::Database(err.to_string()))?;
        self.write(move |connection| {
            let existed = exists(connection, "SELECT 1 FROM users WHERE username = ?1", &[&user.username])?;
            connection
                .prepare_cached(
                    "INSERT INTO users (username, password_hash, roles, full_name, email, metadata, enabled, seq) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 1) \
                     ON CONFLICT (username) DO UPDATE SET \
                     password_hash = excluded.password_hash, roles = excluded.roles, \
                     full_name = excluded.full_name, email = excluded.email, \
                     metadata = excluded.metadata, enabled = excluded.enabled, seq = users.seq + 1",
                )
                .db()?
                .execute(params![
                    user.username,
                    user.password_hash,
                    roles,
                    user.full_name,
                    user.email,
                    user.metadata,
                    user.enabled,
                ])
                .db()?;
            Ok(!existed)
        })
        .await
    }

    async fn update_user_keeping_password(&self, user: UserRecord) -> Result<bool, Error> {
        let roles =
            serde_json::to_string(&user.roles).map_err(|err| Error::Database(err.to_string()))?;
        self.write(move |connection| {
            let updated = connection
                .prepare_cached(
                    "UPDATE users SET roles = ?2, full_name = ?3, email = ?4, metadata = ?5, \
                     enabled = ?6, seq = seq + 1 WHERE username = ?1",
                )
                .db()?
                .execute(params![
                    user.username,
                    roles,
                    user.full_name,
                    user.email,
                    user.metadata,
                    user.enabled,
                ])
                .db()?;
            Ok(updated > 0)
        })
        .await
    }

    async fn change_user(
        &self,
        username: &str,
        change: UserChange,
        missing: Option<UserRecord>,
    ) -> Result<bool, Error> {
        let username = username.to_owned();
        let missing = match missing {
            Some(record) => {
                let roles = serde_json::to_string(&record.roles)
                    .map_err(|err| Error::Database(err.to_string()))?;
                Some((record, roles))
            }
            None => None,
        };
        self.write(move |connection| {
            let updated = connection
                .prepare_cached(
                    "UPDATE users SET password_hash = coalesce(?2, password_hash), \
                     enabled = coalesce(?3, enabled), seq = seq + 1 WHERE username = ?1",
                )
                .db()?
                .execute(params![username, change.password_hash, change.enabled])
                .db()?;
            if updated > 0 {
                return Ok(true);
            }
            let Some((record, roles)) = missing else {
                return Ok(false);
            };
            connection
                .prepare_cached(
                    "INSERT INTO users (username, password_hash, roles, full_name, email, metadata, enabled, seq) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 1)",
                )
                .db()?
                .execute(params![
                    username,
                    change.password_hash.unwrap_or(record.password_hash),
                    roles,
                    record.full_name,
                    record.email,
                    record.metadata,
                    change.enabled.unwrap_or(record.enabled),
                ])
                .db()?;
            Ok(true)
        })
        .await
    }

    async fn users(&self, names: Option<&[String]>) -> Result<Vec<UserRecord>, Error> {
        let names = names_json(names)?;
        self.read(move |connection| {
            select_all(
                connection,
                &format!(
                    "SELECT {USER_COLUMNS} FROM users \
                     WHERE ?1 IS NULL OR username IN (SELECT value FROM json_each(?1)) \
                     ORDER BY username"
                ),
                params![names],
                user_from_row,
            )
        })
        .await
    }

    async fn delete_user(&self, username: &str) -> Result<bool, Error> {
        let username = username.to_owned();
        self.write(move |connection| {
            let deleted = connection
                .prepare_cached("DELETE FROM users WHERE username = ?1")
                .db()?
                .execute([&username])
                .db()?;
            Ok(deleted > 0)
        })
        .await
    }

    async fn role(&self, name: &str) -> Result<Option<RoleRecord>, Error> {
        let name = name.to_owned();
        self.read(move |connection| {
            let mut statement = connection
                .prepare_cached("SELECT name, descriptor, seq FROM roles WHERE name = ?1")
                .db()?;
            let mut rows = statement.query([&name]).db()?;
            rows.next().db()?.map(role_from_row).transpose()
        })
        .await
    }

    async fn roles(&self, names: Option<&[String]>) -> Result<Vec<RoleRecord>, Error> {
        let names = names_json(names)?;
        self.read(move |connection| {
            select_all(
                connection,
                "SELECT name, descriptor, seq FROM roles \
                 WHERE ?1 IS NULL OR name IN (SELECT value FROM json_each(?1)) ORDER BY name",
                params![names],
                role_from_row,
            )
        })
        .await
    }

    async fn put_role(&self, role: RoleRecord) -> Result<bool, Error> {
        self.write(move |connection| {
            let existed = exists(connection, "SELECT 1 FROM roles WHERE name = ?1", &[&role.name])?;
            connection
                .prepare_cached(
                    "INSERT INTO roles (name, descriptor, seq) VALUES (?1, ?2, 1) \
                     ON CONFLICT (name) DO UPDATE SET descriptor = excluded.descriptor, seq = roles.seq + 1",
                )
                .db()?
                .execute(params![role.name, role.descriptor])
                .db()?;
            Ok(!existed)
        })
        .await
    }

    async fn delete_role(&self, name: &str) -> Result<bool, Error> {
        let name = name.to_owned();
        self.write(move |connection| {
            let deleted = connection
                .prepare_cached("DELETE FROM roles WHERE name = ?1")
                .db()?
                .execute([&name])
                .db()?;
            Ok(deleted > 0)
        })
        .await
    }

    async fn role_mappings(
        &self,
        names: Option<&[String]>,
    ) -> Result<Vec<RoleMappingRecord>, Error> {
        let names = names_json(names)?;
        self.read(move |connection| {
            select_all(
                connection,
                "SELECT name, mapping, seq FROM role_mappings \
                 WHERE ?1 IS NULL OR name IN (SELECT value FROM json_each(?1)) ORDER BY name",
                params![names],
                role_mapping_from_row,
            )
        })
        .await
    }

    async fn put_role_mapping(&self, mapping: RoleMappingRecord) -> Result<bool, Error> {
        self.write(move |connection| {
            let existed = exists(
                connection,
                "SELECT 1 FROM role_mappings WHERE name = ?1",
                &[&mapping.name],
            )?;
            connection
                .prepare_cached(
                    "INSERT INTO role_mappings (name, mapping, seq) VALUES (?1, ?2, 1) \
                     ON CONFLICT (name) DO UPDATE SET mapping = excluded.mapping, \
                     seq = role_mappings.seq + 1",
                )
                .db()?
                .execute(params![mapping.name, mapping.mapping])
                .db()?;
            Ok(!existed)
        })
        .await
    }

    async fn delete_role_mapping(&self, name: &str) -> Result<bool, Error> {
        let name = name.to_owned();
        self.write(move |connection| {
            let deleted = connection
                .prepare_cached("DELETE FROM role_mappings WHERE name = ?1")
                .db()?
                .execute([&name])
                .db()?;
            Ok(deleted > 0)
        })
        .await
    }

    async fn put_app_privileges(
        &self,
        privileges: Vec<AppPrivilegeRecord>,
    ) -> Result<Vec<(String, String, bool)>, Error> {
        if privileges.is_empty() {
            return Ok(Vec::new());
        }
        self.write(move |connection| {
            let mut outcomes = Vec::with_capacity(privileges.len());
            for privilege in privileges {
                let actions = serde_json::to_string(&privilege.actions)
                    .map_err(|err| Error::Database(err.to_string()))?;
                let existed = exists(
                    connection,
                    "SELECT 1 FROM app_privileges WHERE application = ?1 AND name = ?2",
                    &[&privilege.application, &privilege.name],
                )?;
                connection
                    .prepare_cached(
                        "INSERT INTO app_privileges (application, name, actions, metadata, seq) \
                         VALUES (?1, ?2, ?3, ?4, 1) \
                         ON CONFLICT (application, name) DO UPDATE SET actions = excluded.actions, \
                         metadata = excluded.metadata, seq = app_privileges.seq + 1",
                    )
                    .db()?
                    .execute(params![
                        privilege.application,
                        privilege.name,
                        actions,
                        privilege.metadata
                    ])
                    .db()?;
                outcomes.push((privilege.application, privilege.name, !existed));
            }
            Ok(outcomes)
        })
        .await
    }

    async fn app_privileges(
        &self,
        application: Option<&str>,
        names: Option<&[String]>,
    ) -> Result<Vec<AppPrivilegeRecord>, Error> {
        let application = application.map(str::to_owned);
        let names = if application.is_some() {
            names_json(names)?
        } else {
            None
        };
        self.read(move |connection| {
            select_all(
                connection,
                "SELECT application, name, actions, metadata, seq FROM app_privileges \
                 WHERE (?1 IS NULL OR application = ?1) \
                 AND (?2 IS NULL OR name IN (SELECT value FROM json_each(?2))) \
                 ORDER BY application, name",
                params![application, names],
                app_privilege_from_row,
            )
        })
        .await
    }

    async fn delete_app_privileges(
        &self,
        application: &str,
        names: &[String],
    ) -> Result<Vec<String>, Error> {
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let application = application.to_owned();
        let names = names.to_vec();
        self.write(move |connection| {
            let mut statement = connection
                .prepare_cached("DELETE FROM app_privileges WHERE application = ?1 AND name = ?2")
                .db()?;
            let mut deleted = Vec::new();
            for name in names {
                if statement.execute(params![application, name]).db()? > 0 {
                    deleted.push(name);
                }
            }
            Ok(deleted)
        })
        .await
    }

    async fn create_token(&self, record: TokenRecord) -> Result<(), Error> {
        self.write(move |connection| insert_token(connection, &record))
            .await
    }

    async fn token(&self, access_hash: &str) -> Result<Option<TokenRecord>, Error> {
        let access_hash = access_hash.to_owned();
        self.read(move |connection| {
            let sql = format!("SELECT {TOKEN_COLUMNS} FROM tokens WHERE access_hash = ?1");
            let mut statement = connection.prepare_cached(&sql).db()?;
            let mut rows = statement.query([&access_hash]).db()?;
            rows.next().db()?.map(token_from_row).transpose()
        })
        .await
    }

    async fn token_by_refresh(&self, refresh_hash: &str) -> Result<Option<TokenRecord>, Error> {
        let refresh_hash = refresh_hash.to_owned();
        self.read(move |connection| {
            let sql = format!("SELECT {TOKEN_COLUMNS} FROM tokens WHERE refresh_hash = ?1");
            let mut statement = connection.prepare_cached(&sql).db()?;
            let mut rows = statement.query([&refresh_hash]).db()?;
            rows.next().db()?.map(token_from_row).transpose()
        })
        .await
    }

    async fn refresh_token(
        &self,
        refresh_hash: &str,
        seq: i64,
        replacement: TokenRecord,
    ) -> Result<UpdateOutcome, Error> {
        let refresh_hash = refresh_hash.to_owned();
        self.write(move |connection| {
            let changed = connection
                .prepare_cached(
                    "UPDATE tokens SET refreshed = 1, seq = seq + 1 \
                     WHERE refresh_hash = ?1 AND seq = ?2",
                )
                .db()?
                .execute(params![refresh_hash, seq])
                .db()?;
            if changed != 1 {
                return Ok(UpdateOutcome::Conflict);
            }
            insert_token(connection, &replacement)?;
            Ok(UpdateOutcome::Updated)
        })
        .await
    }

    async fn invalidate_tokens(
        &self,
        selector: &TokenSelector,
    ) -> Result<TokenInvalidation, Error> {
        let (condition, values): (&str, Vec<Value>) = match selector {
            TokenSelector::Access(hash) => ("access_hash = ?1", vec![Value::Text(hash.clone())]),
            TokenSelector::Refresh(hash) => ("refresh_hash = ?1", vec![Value::Text(hash.clone())]),
            TokenSelector::Owner { username, realm } => (
                "(?1 IS NULL OR username = ?1) AND (?2 IS NULL OR realm = ?2)",
                vec![
                    username.clone().map_or(Value::Null, Value::Text),
                    realm.clone().map_or(Value::Null, Value::Text),
                ],
            ),
        };
        self.write(move |connection| {
            let previously: i64 = connection
                .prepare_cached(&format!(
                    "SELECT COUNT(*) FROM tokens WHERE invalidated = 1 AND {condition}"
                ))
                .db()?
                .query_row(params_from_iter(values.iter()), |row| row.get(0))
                .db()?;
            let invalidated = connection
                .prepare_cached(&format!(
                    "UPDATE tokens SET invalidated = 1, seq = seq + 1 \
                     WHERE invalidated = 0 AND {condition}"
                ))
                .db()?
                .execute(params_from_iter(values.iter()))
                .db()?;
            Ok(TokenInvalidation {
                invalidated: invalidated as u64,
                previously_invalidated: u64::try_from(previously).unwrap_or(0),
            })
        })
        .await
    }

    async fn delete_tokens_created_before(&self, cutoff: EpochMillis) -> Result<u64, Error> {
        self.write(move |connection| {
            let deleted = connection
                .prepare_cached("DELETE FROM tokens WHERE creation <= ?1")
                .db()?
                .execute([cutoff])
                .db()?;
            Ok(deleted as u64)
        })
        .await
    }

    async fn create_service_token(&self, record: ServiceTokenRecord) -> Result<(), Error> {
        self.write(move |connection| service_tokens::insert(connection, &record))
            .await
    }

    async fn service_token(
        &self,
        account: &str,
        name: &str,
    ) -> Result<Option<ServiceTokenRecord>, Error> {
        let (account, name) = (account.to_owned(), name.to_owned());
        self.read(move |connection| service_tokens::select_one(connection, &account, &name))
            .await
    }

    async fn service_tokens(&self, account: &str) -> Result<Vec<ServiceTokenRecord>, Error> {
        let account = account.to_owned();
        self.read(move |connection| service_tokens::select_account(connection, &account))
            .await
    }

    async fn delete_service_token(&self, account: &str, name: &str) -> Result<bool, Error> {
        let (account, name) = (account.to_owned(), name.to_owned());
        self.write(move |connection| service_tokens::delete(connection, &account, &name))
            .await
    }

    async fn create_profile(&self, record: ProfileRecord) -> Result<(), Error> {
        self.write(move |connection| profiles::insert(connection, &record))
            .await
    }

    async fn profiles(&self, uids: &[String]) -> Result<Vec<ProfileRecord>, Error> {
        if uids.is_empty() {
            return Ok(Vec::new());
        }
        let uids = serde_json::to_string(uids).map_err(|err| Error::Database(err.to_string()))?;
        self.read(move |connection| profiles::select_uids(connection, &uids))
            .await
    }

    async fn profiles_of_users(&self, usernames: &[String]) -> Result<Vec<ProfileRecord>, Error> {
        if usernames.is_empty() {
            return Ok(Vec::new());
        }
        let usernames =
            serde_json::to_string(usernames).map_err(|err| Error::Database(err.to_string()))?;
        self.read(move |connection| profiles::select_usernames(connection, &usernames))
            .await
    }

    async fn profiles_page(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<ProfileRecord>, Error> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let after = after.map(str::to_owned);
        self.read(move |connection| profiles::select_page(connection, after.as_deref(), limit))
            .await
    }

    async fn update_profile(&self, record: ProfileRecord) -> Result<UpdateOutcome, Error> {
        self.write(move |connection| profiles::update(connection, &record))
            .await
    }

    async fn meta(&self, key: &str) -> Result<Option<String>, Error> {
        let key = key.to_owned();
        self.read(move |connection| select_meta(connection, &key))
            .await
    }

    async fn meta_put(&self, key: &str, value: &str) -> Result<(), Error> {
        let key = key.to_owned();
        let value = value.to_owned();
        self.write(move |connection| {
            connection
                .prepare_cached(
                    "INSERT INTO meta (key, value) VALUES (?1, ?2) \
                     ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                )
                .db()?
                .execute([&key, &value])
                .db()?;
            Ok(())
        })
        .await
    }

    async fn meta_init(&self, key: &str, value: &str) -> Result<String, Error> {
        let key = key.to_owned();
        let value = value.to_owned();
        self.write(move |connection| {
            connection
                .prepare_cached(
                    "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO NOTHING",
                )
                .db()?
                .execute([&key, &value])
                .db()?;
            select_meta(connection, &key)?.ok_or_else(|| {
                Error::Database(format!(
                    "metadata [{key}] vanished right after it was written"
                ))
            })
        })
        .await
    }
}

/// The read connections a store opens unless told otherwise.
const DEFAULT_READ_CONNECTIONS: usize = 4;

/// The database file inside the data directory.
const DATABASE_FILE: &str = "keyward.db";

/// The lock file inside the data directory.
const LOCK_FILE: &str = "node.lock";

/// How long a connection waits for a lock held by another connection before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Maps engine errors into the store's: unreadable data is `Corrupt`, anything else `Database`.
trait SqlResultExt<T> {
    fn db(self) -> Result<T, Error>;
}

impl<T> SqlResultExt<T> for rusqlite::Result<T> {
    fn db(self) -> Result<T, Error> {
        self.map_err(|err| {
            let corrupt = matches!(
                err,
                rusqlite::Error::FromSqlConversionFailure(..)
                    | rusqlite::Error::InvalidColumnType(..)
                    | rusqlite::Error::IntegralValueOutOfRange(..)
                    | rusqlite::Error::Utf8Error(..)
            ) || matches!(
                err.sqlite_error_code(),
                Some(rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase)
            );
            let too_large = matches!(err.sqlite_error_code(), Some(rusqlite::ErrorCode::TooBig))
                || {
                    // SQLite reports these limits as plain errors, by message only.
                    let message = err.to_string();
                    message.contains("Expression tree is too large")
                        || message.contains("too many SQL variables")
                        || message.contains("parser stack overflow")
                };
            if err.sqlite_error_code() == Some(rusqlite::ErrorCode::DiskFull) {
                Error::DiskFull(err.to_string())
            } else if corrupt {
                Error::Corrupt(err.to_string())
            } else if too_large {
                Error::QueryTooLarge(err.to_string())
            } else {
                Error::Database(err.to_string())
            }
        })
    }
}

/// Takes the exclusive lock on the data directory, held until the returned file is closed.
/// An exclusive lock on a data directory (its `node.lock` file), held until dropped: one keyward
/// process per directory, whichever store it runs on.
#[derive(Debug)]
pub struct DataDirLock {
    // Never read: holding the open file holds the lock.
    _file: File,
}

/// Locks `dir` for this process; [`Error::Locked`] when another process holds it.
pub fn lock_data_dir(dir: &Path) -> Result<DataDirLock, Error> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(dir.join(LOCK_FILE))?;
    match file.try_lock() {
        Ok(()) => Ok(DataDirLock { _file: file }),
        Err(TryLockError::WouldBlock) => Err(Error::Locked {
            path: dir.display().to_string(),
        }),
        Err(TryLockError::Error(err)) => Err(Error::Io(err)),
    }
}

#[cfg(test)]
mod tests;
