//! Opening the configured store: the embedded one in the data directory, or a PostgreSQL
//! database several nodes share. Either way this node locks its data directory (one keyward per
//! directory: its admin socket and node id live there).

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use keyward_store::{DataDirLock, EmbeddedStore, EmbeddedStoreOptions, Store};
use keyward_store_pg::{PgTlsMode, PostgresOptions, PostgresStore};

use crate::config::{Backend, Config, PostgresqlConfig, redact_url};
use crate::data_dir;

/// The node's own identity file in a data directory shared with no other node.
const NODE_ID_FILE: &str = "node_id";

/// An open store and what this node holds while it runs on it.
pub(crate) struct OpenedStore {
    pub(crate) store: Arc<dyn Store>,
    /// This node's id: kept in the store for the embedded store (as ever), in the data
    /// directory for a shared store, where every node needs its own.
    pub(crate) node_id: String,
    // Held for the process's life: a second keyward on the same directory is refused.
    _lock: Option<DataDirLock>,
}

/// Opens the configured store, migrating its schema when needed.
pub(crate) async fn open(
    config: &Config,
    new_id: impl Fn() -> String,
) -> anyhow::Result<OpenedStore> {
    data_dir::prepare(&config.store.data_dir)?;
    match &config.store.backend {
        Backend::Embedded => {
            let mut options = EmbeddedStoreOptions::new(config.store.data_dir.clone());
            options.read_connections = config.store.read_connections;
            let dir = config.store.data_dir.clone();
            let store = tokio::task::spawn_blocking(move || EmbeddedStore::open(options))
                .await
                .context("cannot open the store")?
                .with_context(|| format!("cannot open the data directory [{}]", dir.display()))?;
            let node_id = store.meta_init("node_id", &new_id()).await?;
            Ok(OpenedStore {
                store: Arc::new(store),
                node_id,
                _lock: None,
            })
        }
        Backend::Postgresql(postgresql) => {
            let lock = keyward_store::lock_data_dir(&config.store.data_dir).with_context(|| {
                format!(
                    "cannot lock the data directory [{}]",
                    config.store.data_dir.display()
                )
            })?;
            let node_id = node_id_file(&config.store.data_dir, new_id)?;
            let store = connect(postgresql).await?;
            Ok(OpenedStore {
                store: Arc::new(store),
                node_id,
                _lock: Some(lock),
            })
        }
    }
}

/// Connects to the PostgreSQL store (migrating its schema).
pub(crate) async fn connect(postgresql: &PostgresqlConfig) -> anyhow::Result<PostgresStore> {
    PostgresStore::connect(options(postgresql)?)
        .await
        .with_context(|| {
            format!(
                "cannot open the PostgreSQL store [{}]",
                redact_url(&postgresql.url)
            )
        })
}

/// The store driver's options for these settings.
pub(crate) fn options(postgresql: &PostgresqlConfig) -> anyhow::Result<PostgresOptions> {
    let mut options = PostgresOptions::new(postgresql.url.clone());
    options.pool_size = postgresql.pool_size;
    options.connect_timeout = postgresql.connect_timeout;
    options.tls = match postgresql.ssl_mode.as_str() {
        "require" => PgTlsMode::Require,
        "verify-full" => PgTlsMode::VerifyFull,
        _ => PgTlsMode::Disable,
    };
    options.ca_file = postgresql.ssl_root_cert.clone();
    Ok(options)
}

/// The node id kept in the data directory, created on the first start.
fn node_id_file(dir: &Path, new_id: impl Fn() -> String) -> anyhow::Result<String> {
    let path = dir.join(NODE_ID_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) if !text.trim().is_empty() => return Ok(text.trim().to_owned()),
        Ok(_) => {}
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
        Err(err) => return Err(err).with_context(|| format!("cannot read [{}]", path.display())),
    }
    let id = new_id();
    std::fs::write(&path, &id).with_context(|| format!("cannot write [{}]", path.display()))?;
    Ok(id)
}
