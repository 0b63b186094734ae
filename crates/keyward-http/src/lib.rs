//! keyward's HTTP face: Elasticsearch's REST API for API keys, on the wire exactly as
//! Elasticsearch answers it.
//!
//! This crate owns routing, the wire types, content negotiation (`compat`), authentication of
//! the `Authorization` header (`authn`) and the error envelope (`error`). It is the only crate
//! that knows status codes and headers; everything it decides about keys it asks
//! `keyward-service`.

mod audit;
mod authn;
mod compat;
mod console;
mod error;
mod forward_auth;
mod metrics;
mod routes;
mod server;
mod stream;
mod wire;

use std::sync::Arc;
use std::time::Duration;

use keyward_service::SecurityService;

pub use audit::{Audit, AuditConfig, AuditFile, AuditWriter, EventKind, EventSet};
pub use compat::ResponseBody;
pub use error::EsError;
pub use forward_auth::{ForwardAuth, ForwardAuthConfig, IdentityHeaders, ProxyKind};
pub use routes::{Api, BoxError, RemoteAddr};
pub use server::{TlsConfig, serve};

/// What the HTTP layer serves from: the service and this node's identity.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The API key service.
    pub service: SecurityService,
    /// This node's identity, shown by `GET /` and the clear-cache response.
    pub node: Arc<NodeInfo>,
    /// What one request or connection may cost.
    pub limits: HttpLimits,
    /// The audit trail ([`Audit::disabled`] for none).
    pub audit: Audit,
    /// Forward authentication for reverse proxies (refuses everything until configured).
    pub forward_auth: ForwardAuth,
}

/// Bounds on what a client, authenticated or not, can make the server read, hold or wait for.
#[derive(Debug, Clone)]
pub struct HttpLimits {
    /// The largest request body accepted (`http.max_content_length`).
    pub max_content_length: usize,
    /// The longest request line (`http.max_initial_line_length`).
    pub max_initial_line_length: usize,
    /// The most header bytes a request may carry (`http.max_header_size`).
    pub max_header_size: usize,
    /// How long a client has to send a request's headers, and how long a kept-alive
    /// connection may stay idle (`keyward.http.header_read_timeout`).
    pub header_read_timeout: Duration,
    /// How long a client has to send a request's body once it is authenticated
    /// (`keyward.http.body_read_timeout`).
    pub body_read_timeout: Duration,
    /// The most connections served at once; further ones wait in the listen backlog
    /// (`keyward.http.max_connections`).
    pub max_connections: usize,
}

impl Default for HttpLimits {
    /// Elasticsearch's defaults where it has the setting, keyward's own otherwise.
    fn default() -> HttpLimits {
        HttpLimits {
            max_content_length: 100 * 1024 * 1024,
            max_initial_line_length: 4 * 1024,
            max_header_size: 16 * 1024,
            header_read_timeout: Duration::from_secs(30),
            body_read_timeout: Duration::from_secs(30),
            max_connections: 4096,
        }
    }
}

/// A node's identity as Elasticsearch reports it.
#[derive(Debug, Clone)]
pub struct NodeInfo {
    /// `name` in `GET /`.
    pub node_name: String,
    /// The node id (clear-cache `nodes` keys).
    pub node_id: String,
    /// `cluster_name`.
    pub cluster_name: String,
    /// `cluster_uuid`, persistent in the store.
    pub cluster_uuid: String,
}

/// The Elasticsearch release whose behaviour keyward follows, reported as `version.number` of
/// `GET /`: 9.4 is the release that added `security.clone_api_key`, the newest API served
/// (bulk grant is newer still, not in a release yet).
pub const ES_VERSION: &str = "9.4.0";
