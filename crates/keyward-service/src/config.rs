//! The service's settings, already parsed into real types by the binary.

use std::time::Duration;

use keyward_core::hash::HashAlgorithm;

/// Settings of the API key service (Elasticsearch's `xpack.security.authc.api_key.*`).
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    /// `enabled`: when false every API key API fails and `ApiKey` headers are ignored.
    pub enabled: bool,
    /// `hashing.algorithm`: how new keys' secrets are hashed.
    pub hashing_algorithm: HashAlgorithm,
    /// `cache.ttl`: how long a verified key stays in the authentication cache after its last
    /// use; zero disables the cache.
    pub cache_ttl: Duration,
    /// `cache.max_keys`: the most keys the authentication cache holds.
    pub cache_max_keys: usize,
    /// `delete.retention_period`: how long invalidated and expired keys stay visible.
    pub delete_retention_period: Duration,
    /// `delete.interval`: the least time between two runs of the expired-key remover.
    pub delete_interval: Duration,
    /// `xpack.security.authc.password_hashing.algorithm`: how new user passwords are hashed,
    /// and the only algorithm a given `password_hash` may use.
    pub password_hashing_algorithm: HashAlgorithm,
    /// How long a verified password stays cached (the native realm's `cache.ttl`).
    pub user_cache_ttl: Duration,
    /// `xpack.security.authc.token.timeout`: how long an access token is valid.
    pub token_timeout: Duration,
    /// `search.max_buckets`: the most buckets the aggregations of one query may create.
    pub max_buckets: usize,
    /// The cluster name shown by `GET /` and the clear-cache response.
    pub cluster_name: String,
    /// This node's name.
    pub node_name: String,
}

impl Default for ServiceConfig {
    fn default() -> ServiceConfig {
        ServiceConfig {
            enabled: true,
            hashing_algorithm: HashAlgorithm::Ssha256,
            cache_ttl: Duration::from_secs(24 * 60 * 60),
            cache_max_keys: 25_000,
            delete_retention_period: Duration::from_secs(7 * 24 * 60 * 60),
            delete_interval: Duration::from_secs(24 * 60 * 60),
            password_hashing_algorithm: HashAlgorithm::Bcrypt { cost: 10 },
            user_cache_ttl: Duration::from_secs(20 * 60),
            token_timeout: Duration::from_secs(20 * 60),
            max_buckets: 65_536,
            cluster_name: "keyward".to_owned(),
            node_name: "keyward-0".to_owned(),
        }
    }
}
