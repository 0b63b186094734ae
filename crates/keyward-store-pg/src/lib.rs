//! keyward's PostgreSQL store: the [`keyward_store::Store`] trait on a database several keyward
//! nodes share, with the embedded store's semantics (orderings, ties by id, missing sort values
//! last, metadata flattening, exact totals, errors), and a change feed (`LISTEN`/`NOTIFY`) that
//! tells every node what another one changed.
//!
//! The store knows formats and transactions, nothing about HTTP or the API key service's rules.
//! Every write method is one transaction; a write that can change an authentication or
//! authorization result announces itself in that transaction and returns once its announcement
//! came back to this node (see `feed`). Connections come from a pool (`deadpool-postgres`); the
//! listener has a session of its own, which also holds the advisory locks of [`Store::lead`].
//!
//! [`Store::lead`]: keyward_store::Store::lead

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use keyward_store::Error;

mod error;
mod feed;
pub use feed::LISTENER_NAME;
mod query_sql;
mod rows;
mod schema;
mod store;
mod tls;

pub use schema::MigrationReport;
pub use tls::PgTlsMode;

use error::{PgResultExt, pool_error};
use feed::{AbortOnDrop, Feed};
use tls::Tls;

/// How to reach the database of a [`PostgresStore`].
#[derive(Clone, PartialEq, Eq)]
pub struct PostgresOptions {
    /// A libpq-style URL or key=value string
    /// (`postgres://keyward@db.example.com:5432/keyward`); its `sslmode` is overridden by
    /// [`PostgresOptions::tls`].
    pub url: String,
    /// The most pooled connections (the listener's session comes on top).
    pub pool_size: usize,
    /// How long connecting, and waiting for a pooled connection, may take before the store
    /// answers [`Error::Unavailable`].
    pub connect_timeout: Duration,
    /// Whether connections are encrypted.
    pub tls: PgTlsMode,
    /// A PEM file of certificates trusted, besides the system's roots, to sign the server's
    /// certificate under [`PgTlsMode::VerifyFull`].
    pub ca_file: Option<PathBuf>,
    /// How often the change feed's session is probed: a node learns that its feed broke within
    /// this plus the probe's timeout (as long again, at least 1 s): 1.5 s by default.
    pub notify_keepalive: Duration,
}

impl PostgresOptions {
    /// Options for `url` with the defaults: 16 connections, 5 s connect timeout, no TLS, feed
    /// probed every 500 ms.
    pub fn new(url: impl Into<String>) -> PostgresOptions {
        PostgresOptions {
            url: url.into(),
            pool_size: 16,
            connect_timeout: Duration::from_secs(5),
            tls: PgTlsMode::default(),
            ca_file: None,
            notify_keepalive: Duration::from_millis(500),
        }
    }

    /// The driver configuration and connector these options describe.
    fn connection(&self) -> Result<(tokio_postgres::Config, Tls), Error> {
        let mut config: tokio_postgres::Config = self
            .url
            .parse()
            .map_err(|err| Error::Database(format!("invalid PostgreSQL connection url: {err}")))?;
        config.connect_timeout(self.connect_timeout);
        config.application_name("keyward");
        config.keepalives(true);
        config.keepalives_idle(Duration::from_secs(30));
        let tls = Tls::new(self.tls, self.ca_file.as_deref(), &mut config)?;
        Ok((config, tls))
    }
}

impl std::fmt::Debug for PostgresOptions {
    // The URL may carry a password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresOptions")
            .field("url", &"<redacted>")
            .field("pool_size", &self.pool_size)
            .field("connect_timeout", &self.connect_timeout)
            .field("tls", &self.tls)
            .field("ca_file", &self.ca_file)
            .field("notify_keepalive", &self.notify_keepalive)
            .finish()
    }
}

/// The PostgreSQL store. Dropping it closes its connections; its leads end with them.
pub struct PostgresStore {
    pool: deadpool_postgres::Pool,
    feed: Arc<Feed>,
    // Dropped with the store: stops the listener and closes its session.
    _listener: AbortOnDrop,
}

impl PostgresStore {
    /// Connects, brings the schema up to date (see [`migrate`]) and starts the change feed.
    /// Fails with [`Error::Unavailable`] when the server cannot be reached in
    /// `options.connect_timeout`, and with [`Error::Corrupt`] when the database was written by
    /// a newer keyward.
    pub async fn connect(options: PostgresOptions) -> Result<PostgresStore, Error> {
        let (mut config, tls) = options.connection()?;
        let mut pool = build_pool(&options, &config, &tls)?;
        let weak = {
            let client = pool.get().await.map_err(pool_error)?;
            let setting = synchronous_commit(&client).await?;
            matches!(setting.as_str(), "off" | "local")
        };
        if weak {
            // An acknowledged write must survive a crash of the server: keyward's own sessions
            // wait for the local flush at least, whatever the server or database default.
            tracing::warn!(
                "PostgreSQL's synchronous_commit is off or local for this database: keyward's \
                 sessions run with synchronous_commit = on"
            );
            let session_options = match config.get_options() {
                Some(given) => format!("{given} -c synchronous_commit=on"),
                None => "-c synchronous_commit=on".to_owned(),
            };
            config.options(&session_options);
            pool = build_pool(&options, &config, &tls)?;
        }
        {
            let mut client = pool.get().await.map_err(pool_error)?;
            schema::migrate(&mut client).await?;
        }
        let feed = Arc::new(Feed::new()?);
        let listener = feed::listen(&config, &tls).await?;
        let listener = feed::spawn_listener(
            Arc::clone(&feed),
            listener,
            config,
            tls,
            options.notify_keepalive,
        );
        Ok(PostgresStore {
            pool,
            feed,
            _listener: listener,
        })
    }

    /// A pooled connection.
    async fn client(&self) -> Result<deadpool_postgres::Object, Error> {
        self.pool.get().await.map_err(pool_error)
    }

    /// The `synchronous_commit` this store's sessions commit with: `on` or stronger (`off` and
    /// `local` are raised to `on` at connect).
    pub async fn synchronous_commit(&self) -> Result<String, Error> {
        let client = self.client().await?;
        synchronous_commit(&client).await
    }
}

/// The connection pool for these options.
fn build_pool(
    options: &PostgresOptions,
    config: &tokio_postgres::Config,
    tls: &Tls,
) -> Result<deadpool_postgres::Pool, Error> {
    deadpool_postgres::Pool::builder(tls.manager(config.clone()))
        .max_size(options.pool_size.max(1))
        .runtime(deadpool_postgres::Runtime::Tokio1)
        .wait_timeout(Some(options.connect_timeout))
        .create_timeout(Some(options.connect_timeout))
        .recycle_timeout(Some(options.connect_timeout))
        .build()
        .map_err(|err| Error::Database(format!("cannot build the connection pool: {err}")))
}

/// The session's `synchronous_commit`.
async fn synchronous_commit(client: &tokio_postgres::Client) -> Result<String, Error> {
    let row = client
        .query_one("SHOW synchronous_commit", &[])
        .await
        .pg()?;
    row.try_get(0)
        .map_err(|err| Error::Database(format!("cannot read synchronous_commit: {err}")))
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("pool", &self.pool.status())
            .field("feed", &self.feed)
            .finish_non_exhaustive()
    }
}

/// Brings the schema of the database `options` names up to date, on a connection of its own, and
/// reports what it applied: for `keyward migrate`. Safe while other nodes run or start: the
/// migrations run under an advisory lock, each applied once.
pub async fn migrate(options: &PostgresOptions) -> Result<MigrationReport, Error> {
    let (config, tls) = options.connection()?;
    let (mut client, _notifications, _driver) = tls.connect(&config).await?;
    let report = schema::migrate(&mut client).await;
    // Closing is best effort: the connection goes with the driver either way.
    let _ = client.batch_execute("SELECT 1").await.pg();
    report
}
