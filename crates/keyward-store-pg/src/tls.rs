//! How connections are made: plain TCP or (planned) TLS, for the pool and the listener alike.

use keyward_store::Error;
use tokio::sync::mpsc;
use tokio_postgres::{Client, Config, Notification};

use crate::error::PgResultExt;
use crate::feed::{AbortOnDrop, drive};

/// Whether and how connections to the server are encrypted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PgTlsMode {
    /// Plain TCP (or a Unix socket).
    #[default]
    Disable,
}

/// The connector of one [`PgTlsMode`].
#[derive(Clone)]
pub(crate) enum Tls {
    Disable,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Tls::Disable => f.write_str("Disable"),
        }
    }
}

impl Tls {
    /// The connector for `mode`, setting the matching `sslmode` on `config`.
    pub(crate) fn new(mode: PgTlsMode, config: &mut Config) -> Result<Tls, Error> {
        match mode {
            PgTlsMode::Disable => {
                config.ssl_mode(tokio_postgres::config::SslMode::Disable);
                Ok(Tls::Disable)
            }
        }
    }

    /// A session of its own (not from the pool), its notifications, and the task driving it.
    pub(crate) async fn connect(
        &self,
        config: &Config,
    ) -> Result<(Client, mpsc::UnboundedReceiver<Notification>, AbortOnDrop), Error> {
        match self {
            Tls::Disable => {
                let (client, connection) = config.connect(tokio_postgres::NoTls).await.pg()?;
                let (notifications, driver) = drive(connection);
                Ok((client, notifications, driver))
            }
        }
    }

    /// The pool's connection manager.
    pub(crate) fn manager(&self, config: Config) -> deadpool_postgres::Manager {
        let manager_config = deadpool_postgres::ManagerConfig {
            recycling_method: deadpool_postgres::RecyclingMethod::Fast,
        };
        match self {
            Tls::Disable => deadpool_postgres::Manager::from_config(
                config,
                tokio_postgres::NoTls,
                manager_config,
            ),
        }
    }
}
