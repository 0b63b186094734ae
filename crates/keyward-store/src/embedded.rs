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
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::JoinHandle;
use std::time::Duration;

use async_trait::async_trait;
use keyward_core::EpochMillis;
use keyward_core::api_key::{ApiKeyType, Creator};
use rusqlite::types::Value;
use rusqlite::{Connection, OpenFlags, Row, params, params_from_iter};
use serde_json::Map;
use tokio::sync::{Semaphore, oneshot};

mod query_sql;

use crate::{
    ApiKeyFilter, ApiKeyRecord, AppPrivilegeRecord, Error, NamePattern, RoleRecord, Store,
    TokenInvalidation, TokenRecord, TokenSelector, UpdateOutcome, UserRecord,
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
        let (reply, answer) = oneshot::channel();
        let op = Box::new(Op {
            work: Some(work),
            result: None,
            reply,
        });
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

    async fn delete_inactive_api_keys(&self, cutoff: EpochMillis) -> Result<u64, Error> {
        self.write(move |connection| {
            // One statement per index, each reading only the keys it deletes: as one `OR`, SQLite
            // walks every valid key (their `invalidation` is NULL too). Like Elasticsearch's
            // remover, an invalidated key without an invalidation time (written before that field
            // existed) counts as invalidated long ago.
            let expired = connection
                .prepare_cached("DELETE FROM api_keys WHERE expiration <= ?1")
                .db()?
                .execute([cutoff])
                .db()?;
            let invalidated = connection
                .prepare_cached("DELETE FROM api_keys WHERE invalidation <= ?1")
                .db()?
                .execute([cutoff])
                .db()?;
            let untimed = connection
                .prepare_cached(
                    "DELETE FROM api_keys INDEXED BY api_keys_invalidated_untimed \
                     WHERE invalidated = 1 AND invalidation IS NULL",
                )
                .db()?
                .execute([])
                .db()?;
            Ok((expired + invalidated + untimed) as u64)
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

/// The most operations one group commit takes.
const MAX_BATCH: usize = 256;

/// The schema, one migration per version: after migration `n` (1-based), `user_version` is `n`.
/// Never edit a released migration; append a new one.
const MIGRATIONS: &[&str] = &[
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
];

/// The `tokens` columns in the order [`token_from_row`] reads them.
const TOKEN_COLUMNS: &str = "access_hash, refresh_hash, username, realm, realm_type, creation, \
     expiration, invalidated, refreshed, seq";

/// The `users` columns in the order [`user_from_row`] reads them.
const USER_COLUMNS: &str =
    "username, password_hash, roles, full_name, email, metadata, enabled, seq";

/// The `api_keys` columns in the order [`api_key_from_row`] and [`api_key_values`] use.
const API_KEY_COLUMNS: &str = "id, name, key_type, creation, expiration, invalidated, invalidation, hash, \
     role_descriptors, limited_by, metadata, principal, full_name, email, creator_metadata, realm, realm_type, \
     format_version, certificate_identity, seq";

/// Parameters `?1`..`?19` are [`api_key_values`]; a new key starts at `seq` 1. A taken id changes
/// nothing, which [`insert_api_key`] reports as `AlreadyExists`.
const INSERT_API_KEY: &str = "INSERT INTO api_keys (id, name, key_type, creation, expiration, invalidated, \
     invalidation, hash, role_descriptors, limited_by, metadata, principal, full_name, email, creator_metadata, \
     realm, realm_type, format_version, certificate_identity, seq) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, 1) \
     ON CONFLICT (id) DO NOTHING";

/// Parameters `?1`..`?19` are [`api_key_values`], `?20` the `seq` the record was read with.
const UPDATE_API_KEY: &str = "UPDATE api_keys SET name = ?2, key_type = ?3, creation = ?4, expiration = ?5, \
     invalidated = ?6, invalidation = ?7, hash = ?8, role_descriptors = ?9, limited_by = ?10, metadata = ?11, \
     principal = ?12, full_name = ?13, email = ?14, creator_metadata = ?15, realm = ?16, realm_type = ?17, \
     format_version = ?18, certificate_identity = ?19, seq = seq + 1 \
     WHERE id = ?1 AND seq = ?20";

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
            if corrupt {
                Error::Corrupt(err.to_string())
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
    connection
        .execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;",
        )
        .db()?;
    // An acknowledged write must be fsynced: check the settings took rather than trust them.
    require_durable(&connection, path)?;
    Ok(connection)
}

/// Fails unless `connection` commits durably: write-ahead logging with `synchronous=FULL` (or
/// the stricter `EXTRA`), so that a commit returns only after the log is fsynced. With `NORMAL`
/// a commit in WAL mode is not fsynced, and a power loss forgets acknowledged writes, which no
/// kill -9 test can show: the store refuses to open instead.
fn require_durable(connection: &Connection, path: &Path) -> Result<(), Error> {
    let journal_mode: String = connection
        .query_row("PRAGMA journal_mode", [], |row| row.get(0))
        .db()?;
    if !journal_mode.eq_ignore_ascii_case("wal") {
        return Err(Error::Database(format!(
            "the store [{}] must use write-ahead logging, but its journal mode is [{journal_mode}]",
            path.display()
        )));
    }
    let synchronous: i64 = connection
        .query_row("PRAGMA synchronous", [], |row| row.get(0))
        .db()?;
    // SQLite's levels: 0 OFF, 1 NORMAL, 2 FULL, 3 EXTRA.
    if synchronous < 2 {
        let level = match synchronous {
            0 => "OFF",
            1 => "NORMAL",
            _ => "unknown",
        };
        return Err(Error::Database(format!(
            "the store [{}] must run with synchronous=FULL so that every acknowledged write is fsynced, \
             but it runs with synchronous={level}",
            path.display()
        )));
    }
    Ok(())
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

/// Brings the schema up to the newest version this binary knows, one transaction per migration.
fn migrate(connection: &mut Connection, path: &Path) -> Result<(), Error> {
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

/// One queued write: runs on the writer thread, answers once its batch is committed.
trait WriteOp: Send {
    /// Runs the operation inside the current transaction; whether it succeeded.
    fn run(&mut self, connection: &Connection) -> bool;

    /// Answers the caller: the operation's own error, the batch's error, or its result.
    fn answer(self: Box<Self>, batch: Result<(), &str>);
}

struct Op<R, F> {
    work: Option<F>,
    result: Option<Result<R, Error>>,
    reply: oneshot::Sender<Result<R, Error>>,
}

impl<R, F> WriteOp for Op<R, F>
where
    R: Send,
    F: FnOnce(&Connection) -> Result<R, Error> + Send,
{
    fn run(&mut self, connection: &Connection) -> bool {
        let Some(work) = self.work.take() else {
            return false;
        };
        // A bug in one operation must not take the writer, and every later write, down with it.
        let result = std::panic::catch_unwind(AssertUnwindSafe(|| work(connection)))
            .unwrap_or_else(|_| Err(Error::Database("a write operation panicked".to_owned())));
        let succeeded = result.is_ok();
        self.result = Some(result);
        succeeded
    }

    fn answer(self: Box<Self>, batch: Result<(), &str>) {
        let result = match (self.result, batch) {
            (Some(Err(err)), _) => Err(err),
            (Some(Ok(value)), Ok(())) => Ok(value),
            (Some(Ok(_)) | None, Err(reason)) => Err(Error::Database(reason.to_owned())),
            (None, Ok(())) => Err(Error::Database(
                "the write operation did not run".to_owned(),
            )),
        };
        // The caller may have stopped waiting; the write stands either way.
        let _ = self.reply.send(result);
    }
}

/// The writer thread: group commits until every sender is gone and the queue is empty.
fn run_writer(connection: Connection, receiver: mpsc::Receiver<Box<dyn WriteOp>>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while let Ok(first) = receiver.recv() {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match receiver.try_recv() {
                Ok(op) => batch.push(op),
                Err(_) => break,
            }
        }
        let outcome = run_batch(&connection, &mut batch);
        if let Err(reason) = &outcome {
            tracing::error!(operations = batch.len(), error = %reason, "a store transaction failed");
        }
        for op in batch.drain(..) {
            op.answer(outcome.as_ref().copied().map_err(String::as_str));
        }
    }
    if let Err((_, err)) = connection.close() {
        tracing::warn!(error = %err, "cannot close the store's write connection");
    }
}

/// One transaction for the whole batch, one savepoint per operation.
fn run_batch(connection: &Connection, batch: &mut [Box<dyn WriteOp>]) -> Result<(), String> {
    connection
        .execute_batch("BEGIN IMMEDIATE")
        .map_err(|err| format!("cannot begin a transaction: {err}"))?;
    let result = run_ops(connection, batch).and_then(|()| {
        connection
            .execute_batch("COMMIT")
            .map_err(|err| format!("cannot commit a transaction: {err}"))
    });
    if result.is_err()
        && !connection.is_autocommit()
        && let Err(err) = connection.execute_batch("ROLLBACK")
    {
        tracing::error!(error = %err, "cannot roll back a failed store transaction");
    }
    result
}

fn run_ops(connection: &Connection, batch: &mut [Box<dyn WriteOp>]) -> Result<(), String> {
    for op in batch.iter_mut() {
        connection
            .execute_batch("SAVEPOINT op")
            .map_err(|err| format!("cannot start an operation: {err}"))?;
        let undo = if op.run(connection) {
            "RELEASE op"
        } else {
            "ROLLBACK TO op; RELEASE op"
        };
        connection
            .execute_batch(undo)
            .map_err(|err| format!("cannot finish an operation: {err}"))?;
        // Some errors (disk full, I/O) make SQLite roll back the whole transaction by itself:
        // then the operations before this one are gone too, and none of them may be acknowledged.
        if connection.is_autocommit() {
            return Err("the transaction was rolled back by the database".to_owned());
        }
    }
    Ok(())
}

fn insert_api_key(connection: &Connection, record: ApiKeyRecord) -> Result<(), Error> {
    let id = record.id.clone();
    let values = api_key_values(record)?;
    let inserted = connection
        .prepare_cached(INSERT_API_KEY)
        .db()?
        .execute(params_from_iter(values))
        .db()?;
    if inserted == 0 {
        return Err(Error::AlreadyExists(id));
    }
    Ok(())
}

/// The record's columns `id` to `certificate_identity`, in [`API_KEY_COLUMNS`] order.
fn api_key_values(record: ApiKeyRecord) -> Result<Vec<Value>, Error> {
    let creator_metadata = serde_json::to_string(&record.creator.metadata)
        .map_err(|err| Error::Database(err.to_string()))?;
    let text = |value: Option<String>| value.map_or(Value::Null, Value::Text);
    let integer = |value: Option<i64>| value.map_or(Value::Null, Value::Integer);
    Ok(vec![
        Value::Text(record.id),
        Value::Text(record.name),
        Value::Text(record.key_type.as_str().to_owned()),
        Value::Integer(record.creation),
        integer(record.expiration),
        Value::Integer(i64::from(record.invalidated)),
        integer(record.invalidation),
        Value::Text(record.hash),
        Value::Text(record.role_descriptors),
        Value::Text(record.limited_by),
        text(record.metadata),
        Value::Text(record.creator.principal),
        text(record.creator.full_name),
        text(record.creator.email),
        Value::Text(creator_metadata),
        Value::Text(record.creator.realm),
        Value::Text(record.creator.realm_type),
        Value::Integer(record.format_version),
        text(record.certificate_identity),
    ])
}

fn api_key_from_row(row: &Row<'_>) -> Result<ApiKeyRecord, Error> {
    let id: String = row.get(0).db()?;
    let key_type: String = row.get(2).db()?;
    let key_type = key_type
        .parse::<ApiKeyType>()
        .map_err(|err| Error::Corrupt(format!("api key [{id}]: {err}")))?;
    let creator_metadata: String = row.get(14).db()?;
    let creator_metadata = serde_json::from_str::<Map<String, serde_json::Value>>(
        &creator_metadata,
    )
    .map_err(|err| {
        Error::Corrupt(format!(
            "api key [{id}]: creator metadata is not a JSON object: {err}"
        ))
    })?;
    Ok(ApiKeyRecord {
        name: row.get(1).db()?,
        key_type,
        creation: row.get(3).db()?,
        expiration: row.get(4).db()?,
        invalidated: row.get(5).db()?,
        invalidation: row.get(6).db()?,
        hash: row.get(7).db()?,
        role_descriptors: row.get(8).db()?,
        limited_by: row.get(9).db()?,
        metadata: row.get(10).db()?,
        creator: Creator {
            principal: row.get(11).db()?,
            full_name: row.get(12).db()?,
            email: row.get(13).db()?,
            metadata: creator_metadata,
            realm: row.get(15).db()?,
            realm_type: row.get(16).db()?,
        },
        format_version: row.get(17).db()?,
        certificate_identity: row.get(18).db()?,
        seq: row.get(19).db()?,
        id,
    })
}

fn insert_token(connection: &Connection, record: &TokenRecord) -> Result<(), Error> {
    let sql = format!(
        "INSERT INTO tokens ({TOKEN_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 1)"
    );
    connection
        .prepare_cached(&sql)
        .db()?
        .execute(params![
            record.access_hash,
            record.refresh_hash,
            record.username,
            record.realm,
            record.realm_type,
            record.creation,
            record.expiration,
            record.invalidated,
            record.refreshed,
        ])
        .db()?;
    Ok(())
}

fn token_from_row(row: &Row<'_>) -> Result<TokenRecord, Error> {
    Ok(TokenRecord {
        access_hash: row.get(0).db()?,
        refresh_hash: row.get(1).db()?,
        username: row.get(2).db()?,
        realm: row.get(3).db()?,
        realm_type: row.get(4).db()?,
        creation: row.get(5).db()?,
        expiration: row.get(6).db()?,
        invalidated: row.get(7).db()?,
        refreshed: row.get(8).db()?,
        seq: row.get(9).db()?,
    })
}

fn user_from_row(row: &Row<'_>) -> Result<UserRecord, Error> {
    let username: String = row.get(0).db()?;
    let roles: String = row.get(2).db()?;
    let roles = serde_json::from_str::<Vec<String>>(&roles).map_err(|err| {
        Error::Corrupt(format!(
            "user [{username}]: roles are not a JSON array of strings: {err}"
        ))
    })?;
    Ok(UserRecord {
        password_hash: row.get(1).db()?,
        roles,
        full_name: row.get(3).db()?,
        email: row.get(4).db()?,
        metadata: row.get(5).db()?,
        enabled: row.get(6).db()?,
        seq: row.get(7).db()?,
        username,
    })
}

fn role_from_row(row: &Row<'_>) -> Result<RoleRecord, Error> {
    Ok(RoleRecord {
        name: row.get(0).db()?,
        descriptor: row.get(1).db()?,
        seq: row.get(2).db()?,
    })
}

fn app_privilege_from_row(row: &Row<'_>) -> Result<AppPrivilegeRecord, Error> {
    let application: String = row.get(0).db()?;
    let name: String = row.get(1).db()?;
    let actions: String = row.get(2).db()?;
    let actions = serde_json::from_str::<Vec<String>>(&actions).map_err(|err| {
        Error::Corrupt(format!(
            "application privilege [{application}/{name}]: actions are not a JSON array of strings: {err}"
        ))
    })?;
    Ok(AppPrivilegeRecord {
        actions,
        metadata: row.get(3).db()?,
        seq: row.get(4).db()?,
        application,
        name,
    })
}

/// A name list as one JSON array parameter (`None` selects everything).
fn names_json(names: Option<&[String]>) -> Result<Option<String>, Error> {
    names
        .map(|names| serde_json::to_string(names).map_err(|err| Error::Database(err.to_string())))
        .transpose()
}

/// Whether `sql` finds a row.
fn exists(connection: &Connection, sql: &str, values: &[&String]) -> Result<bool, Error> {
    let mut statement = connection.prepare_cached(sql).db()?;
    let mut rows = statement.query(params_from_iter(values.iter())).db()?;
    Ok(rows.next().db()?.is_some())
}

/// Every row `sql` selects, read by `read`.
fn select_all<T>(
    connection: &Connection,
    sql: &str,
    values: impl rusqlite::Params,
    read: fn(&Row<'_>) -> Result<T, Error>,
) -> Result<Vec<T>, Error> {
    let mut statement = connection.prepare_cached(sql).db()?;
    let mut rows = statement.query(values).db()?;
    let mut records = Vec::new();
    while let Some(row) = rows.next().db()? {
        records.push(read(row)?);
    }
    Ok(records)
}

fn select_meta(connection: &Connection, key: &str) -> Result<Option<String>, Error> {
    let mut statement = connection
        .prepare_cached("SELECT value FROM meta WHERE key = ?1")
        .db()?;
    let mut rows = statement.query([key]).db()?;
    rows.next().db()?.map(|row| row.get(0).db()).transpose()
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

    fn temp_dir() -> tempfile::TempDir {
        tempfile::tempdir().unwrap_or_else(|err| panic!("temp dir: {err}"))
    }

    #[test]
    fn the_writer_commits_with_wal_and_synchronous_full() {
        let dir = temp_dir();
        let path = dir.path().join(DATABASE_FILE);
        let writer = open_writer(&path).unwrap_or_else(|err| panic!("{err}"));
        let synchronous: i64 = writer
            .query_row("PRAGMA synchronous", [], |row| row.get(0))
            .unwrap_or_else(|err| panic!("{err}"));
        assert_eq!(synchronous, 2);
        let mode: String = writer
            .query_row("PRAGMA journal_mode", [], |row| row.get(0))
            .unwrap_or_else(|err| panic!("{err}"));
        assert_eq!(mode, "wal");
        require_durable(&writer, &path).unwrap_or_else(|err| panic!("{err}"));
    }

    #[test]
    fn a_connection_that_would_not_fsync_every_commit_is_refused() {
        let dir = temp_dir();
        let path = dir.path().join(DATABASE_FILE);
        let connection = Connection::open(&path).unwrap_or_else(|err| panic!("{err}"));
        let refused = |setup: &str| {
            connection
                .execute_batch(setup)
                .unwrap_or_else(|err| panic!("{err}"));
            match require_durable(&connection, &path) {
                Err(Error::Database(message)) => message,
                other => panic!("{setup}: not refused: {other:?}"),
            }
        };
        let message = refused("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;");
        assert!(
            message.ends_with("but it runs with synchronous=NORMAL"),
            "{message}"
        );
        assert!(
            message.contains("must run with synchronous=FULL"),
            "{message}"
        );
        let message = refused("PRAGMA synchronous = OFF;");
        assert!(message.ends_with("synchronous=OFF"), "{message}");
        let message = refused("PRAGMA journal_mode = DELETE; PRAGMA synchronous = FULL;");
        assert!(
            message.ends_with("its journal mode is [delete]"),
            "{message}"
        );
        connection
            .execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = EXTRA;")
            .unwrap_or_else(|err| panic!("{err}"));
        require_durable(&connection, &path).unwrap_or_else(|err| panic!("{err}"));
    }

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
