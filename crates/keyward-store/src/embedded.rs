//! The embedded store: one SQLite database in WAL mode inside the data directory.
//!
//! Layout of the data directory:
//! - `node.lock`: held with an exclusive lock for as long as a store is open, so two processes
//!   never write the same database;
//! - `keyward.db` (plus SQLite's `-wal` and `-shm` files): the data.
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
use rusqlite::{Connection, OpenFlags, params, params_from_iter};
use tokio::sync::{Semaphore, oneshot};

mod query_sql;
mod rows;
mod schema;
mod writer;

use rows::{
    API_KEY_COLUMNS, TOKEN_COLUMNS, UPDATE_API_KEY, USER_COLUMNS, api_key_from_row, api_key_values,
    app_privilege_from_row, exists, insert_api_key, insert_token, names_json, role_from_row,
    select_all, select_meta, token_from_row, user_from_row,
};
use schema::migrate;
use writer::{MAX_QUEUED_WRITES, Op, WriteOp, run_writer};

use crate::{
    ApiKeyFilter, ApiKeyRecord, AppPrivilegeRecord, Error, NamePattern, RoleRecord, Store,
    TokenInvalidation, TokenRecord, TokenSelector, UpdateOutcome, UserChange, UserRecord,
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
    dir: PathBuf,
    // Never read: holding the open file holds the lock.
    _lock: File,
}

impl EmbeddedStore {
    /// Opens (creating when missing) the store in `options.dir`: locks the directory, opens the
    /// database, brings its schema up to date and starts the writer thread.
    ///
    /// This does blocking IO: call it at startup or inside `spawn_blocking`. It fails with
    /// [`Error::Locked`] when another store holds the directory, and with [`Error::Corrupt`] when
    /// the database was written by a newer keyward.
    pub fn open(options: EmbeddedStoreOptions) -> Result<EmbeddedStore, Error> {
        let dir = options.dir;
        std::fs::create_dir_all(&dir)?;
        let lock = lock_dir(&dir)?;
        let path = dir.join(DATABASE_FILE);

        let mut connection = open_writer(&path)?;
        migrate(&mut connection, &path)?;

        let read_connections = options.read_connections.max(1);
        let mut idle = Vec::with_capacity(read_connections);
        for _ in 0..read_connections {
            idle.push(open_reader(&path)?);
        }
        let readers = Arc::new(ReadPool {
            path,
            size: read_connections,
            permits: Arc::new(Semaphore::new(read_connections)),
            idle: Mutex::new(idle),
        });

        let (sender, receiver) = mpsc::channel();
        let writer = std::thread::Builder::new()
            .name("keyward-store-writer".to_owned())
            .spawn(move || run_writer(connection, receiver))?;

        Ok(EmbeddedStore {
            sender: Some(sender),
            writer: Some(writer),
            write_slots: Arc::new(Semaphore::new(MAX_QUEUED_WRITES)),
            readers,
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
        let Some((sql, values)) = find_query(filter)? else {
            return Ok(Vec::new());
        };
        self.read(move |connection| {
            let mut statement = connection.prepare_cached(&sql).db()?;
            let mut rows = statement.query(params_from_iter(values)).db()?;
            let mut records = Vec::new();
            while let Some(row) = rows.next().db()? {
                records.push(api_key_from_row(row)?);
            }
            Ok(records)
        })
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
            for record in records {
                let seq = record.seq;
                let mut values = api_key_values(record)?;
                values.push(Value::Integer(seq));
                let mut statement = connection.prepare_cached(UPDATE_API_KEY).db()?;
                let changed = statement.execute(params_from_iter(values)).db()?;
                outcomes.push(if changed == 1 {
                    UpdateOutcome::Updated
                } else {
                    UpdateOutcome::Conflict
                });
            }
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
            records
                .into_iter()
                .try_for_each(|record| insert_api_key(connection, record))
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

    async fn meta(&self, key: &str) -> Result<Option<String>, Error> {
        let key = key.to_owned();
        self.read(move |connection| select_meta(connection, &key))
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
            if corrupt {
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
fn lock_dir(dir: &Path) -> Result<File, Error> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(dir.join(LOCK_FILE))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(TryLockError::WouldBlock) => Err(Error::Locked {
            path: dir.display().to_string(),
        }),
        Err(TryLockError::Error(err)) => Err(Error::Io(err)),
    }
}

/// Opens the one read-write connection, set up for durable WAL writes.
fn open_writer(path: &Path) -> Result<Connection, Error> {
    let connection = Connection::open(path).db()?;
    connection.busy_timeout(BUSY_TIMEOUT).db()?;
    let journal_mode: String = connection
        .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
        .db()?;
    if !journal_mode.eq_ignore_ascii_case("wal") {
        return Err(Error::Database(format!(
            "cannot use write-ahead logging for [{}]: journal mode is [{journal_mode}]",
            path.display()
        )));
    }
    connection
        .execute_batch("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")
        .db()?;
    // An acknowledged write must be fsynced: check the setting took rather than trust it.
    let synchronous: i64 = connection
        .query_row("PRAGMA synchronous", [], |row| row.get(0))
        .db()?;
    if synchronous < 2 {
        return Err(Error::Database(format!(
            "cannot set synchronous=FULL for [{}]",
            path.display()
        )));
    }
    Ok(connection)
}

/// How much of the database file a read connection maps into memory: all of it, in practice.
/// A mapped page is read with no system call and no copy: each connection maps the file, and the
/// pages behind every mapping are the kernel's page cache, so a lookup among ten million keys
/// costs what one among ten thousand does once the pages it touches are cached (`bench/run`, P5).
/// The mapping is address space, not memory: the kernel can drop those pages at any time.
const READ_MMAP_BYTES: i64 = 1 << 40;

/// Opens a read-only connection; the database already exists and is in WAL mode.
fn open_reader(path: &Path) -> Result<Connection, Error> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let connection = Connection::open_with_flags(path, flags).db()?;
    connection.busy_timeout(BUSY_TIMEOUT).db()?;
    let mapped: i64 = connection
        .pragma_update_and_check(None, "mmap_size", READ_MMAP_BYTES, |row| row.get(0))
        .db()?;
    if mapped < READ_MMAP_BYTES {
        tracing::debug!(
            mapped,
            "SQLite caps memory-mapped reads below the whole store"
        );
    }
    Ok(connection)
}

/// Read-only connections, handed out one per read.
struct ReadPool {
    path: PathBuf,
    size: usize,
    /// Bounds concurrent reads to the number of connections, waiting asynchronously.
    permits: Arc<Semaphore>,
    idle: Mutex<Vec<Connection>>,
}

impl ReadPool {
    async fn run<R, F>(self: &Arc<ReadPool>, work: F) -> Result<R, Error>
    where
        R: Send + 'static,
        F: FnOnce(&Connection) -> Result<R, Error> + Send + 'static,
    {
        let permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .map_err(|_| Error::Closed)?;
        let pool = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            // A connection lost to a panicking read is replaced here.
            let connection = match pool.take() {
                Some(connection) => connection,
                None => open_reader(&pool.path)?,
            };
            let result = work(&connection);
            pool.put(connection);
            result
        })
        .await
        .map_err(|err| Error::Database(format!("read task failed: {err}")))?
    }

    fn take(&self) -> Option<Connection> {
        // A poisoned lock only means a reader panicked; the list of connections is still sound.
        self.idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .pop()
    }

    fn put(&self, connection: Connection) {
        self.idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(connection);
    }
}

/// The SQL and parameters selecting what `filter` selects, or `None` when it selects nothing.
fn find_query(filter: &ApiKeyFilter) -> Result<Option<(String, Vec<Value>)>, Error> {
    let mut conditions = Vec::new();
    let mut values = Vec::new();
    // Each criterion binds its values and refers to them by number.
    let mut bind = |value: Value| {
        values.push(value);
        values.len()
    };
    if let Some(ids) = &filter.ids {
        if ids.is_empty() {
            return Ok(None);
        }
        // One JSON array parameter, however many ids: no limit on bound variables to hit.
        let ids = serde_json::to_string(ids).map_err(|err| Error::Database(err.to_string()))?;
        let ids = bind(Value::Text(ids));
        conditions.push(format!("id IN (SELECT value FROM json_each(?{ids}))"));
    }
    match &filter.name {
        None | Some(NamePattern::All) => {}
        Some(NamePattern::Exact(name)) => {
            let name = bind(Value::Text(name.clone()));
            conditions.push(format!("name = ?{name}"));
        }
        Some(NamePattern::Prefix(prefix)) => {
            // `substr` compares literally (no wildcards to escape, case-sensitive) and counts
            // characters; the range condition only lets the name index narrow the scan.
            let length = i64::try_from(prefix.chars().count())
                .map_err(|_| Error::Database("name prefix too long".to_owned()))?;
            let prefix = bind(Value::Text(prefix.clone()));
            let length = bind(Value::Integer(length));
            conditions.push(format!(
                "name >= ?{prefix} AND substr(name, 1, ?{length}) = ?{prefix}"
            ));
        }
    }
    if let Some(username) = &filter.username {
        let username = bind(Value::Text(username.clone()));
        conditions.push(format!("principal = ?{username}"));
    }
    if let Some(realm) = &filter.realm {
        let realm = bind(Value::Text(realm.clone()));
        conditions.push(format!("realm = ?{realm}"));
    }
    if filter.exclude_invalidated {
        conditions.push("invalidated = 0".to_owned());
    }
    if let Some(instant) = filter.exclude_expired_at {
        let instant = bind(Value::Integer(instant));
        conditions.push(format!("(expiration IS NULL OR expiration > ?{instant})"));
    }
    if let Some(key_type) = filter.key_type {
        let key_type = bind(Value::Text(key_type.as_str().to_owned()));
        conditions.push(format!("key_type = ?{key_type}"));
    }
    let mut sql = format!("SELECT {API_KEY_COLUMNS} FROM api_keys");
    if !conditions.is_empty() {
        sql.push_str(" WHERE ");
        sql.push_str(&conditions.join(" AND "));
    }
    sql.push_str(" ORDER BY creation, id");
    Ok(Some((sql, values)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_connections_map_the_whole_store() {
        let dir = tempfile::tempdir().unwrap_or_else(|err| panic!("temp dir: {err}"));
        let store = EmbeddedStore::open(EmbeddedStoreOptions::new(dir.path().to_path_buf()))
            .unwrap_or_else(|err| panic!("open: {err}"));
        let reader =
            open_reader(&dir.path().join(DATABASE_FILE)).unwrap_or_else(|err| panic!("{err}"));
        let mapped: i64 = reader
            .query_row("PRAGMA mmap_size", [], |row| row.get(0))
            .unwrap_or_else(|err| panic!("{err}"));
        // Below this, SQLite was built without `.cargo/config.toml`'s raised cap.
        assert_eq!(mapped, READ_MMAP_BYTES);
        drop(store);
    }
}
