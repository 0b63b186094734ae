//! keyward's HTTP face: Elasticsearch's REST API for API keys, on the wire exactly as
//! Elasticsearch answers it.
//!
//! This crate owns routing, the wire types, content negotiation (`compat`), authentication of
//! the `Authorization` header (`authn`) and the error envelope (`error`). It is the only crate
//! that knows status codes and headers; everything it decides about keys it asks
//! `keyward-service`.

mod authn;
mod compat;
mod error;
mod routes;
mod server;
mod wire;

use std::sync::Arc;

use keyward_service::ApiKeyService;

pub use error::EsError;
pub use routes::{Api, BoxError};
pub use server::serve;

/// What the HTTP layer serves from: the service and this node's identity.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The API key service.
    pub service: ApiKeyService,
    /// This node's identity, shown by `GET /` and the clear-cache response.
    pub node: Arc<NodeInfo>,
    /// The largest request body accepted (`http.max_content_length`).
    pub max_content_length: usize,
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

/// The version keyward reports as Elasticsearch's (`version.number` of `GET /`).
pub const ES_VERSION: &str = "9.1.0";
