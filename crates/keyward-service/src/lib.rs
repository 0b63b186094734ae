//! The security service (API keys first): authenticates credentials, authorizes each call, and
//! creates, reads, updates and invalidates keys, one store transaction per write.
//!
//! It sees storage only through [`keyward_store::Store`] and knows nothing about HTTP: it speaks
//! in commands and domain results, and its [`Error`] says *what* went wrong, leaving status codes
//! to the HTTP layer. It owns the users, roles and application privileges APIs, the caches
//! (authentication, users, resolved roles), the expired-key remover and the [`Clock`]. No state is global: two services on two nodes share only their store.

mod aggregations;
mod api_keys;
mod app_access;
mod app_privileges;
mod authn;
mod authz;
mod cache;
mod clone_key;
mod coherence;
mod config;
mod cross_cluster;
mod error;
mod grant;
mod key_cache;
mod metered_store;
pub mod metrics;
mod permissions;
mod profiles;
mod query;
#[cfg(test)]
mod race_tests;
mod remover;
mod role_mappings;
mod roles;
mod service_accounts;
mod settings;
mod tokens;
mod users;
mod verifier;

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use keyward_core::{EpochMillis, SecretSource};
use keyward_store::Store;

pub use api_keys::{
    ApiKeyInfo, ApiKeyListing, BulkUpdateResult, ClearCacheTarget, CreateApiKey, CreatedApiKey,
    GetApiKeys, InvalidateApiKeys, InvalidateResult, UpdateApiKey,
};
pub use app_privileges::{AppPrivilege, BuiltinPrivileges};
pub use authn::{ApiKeyRef, Authentication, AuthenticationFailure, Realm, User};
pub use authz::{
    ApplicationPrivilegesCheck, HasPrivileges, HasPrivilegesResult, IndexPrivilegesCheck,
    PrivilegeAnswers,
};
pub use clone_key::{CLONED_FROM, CloneApiKey};
pub use config::ServiceConfig;
pub use cross_cluster::{
    CreateCrossClusterApiKey, CrossClusterAuthentication, UpdateCrossClusterApiKey,
};
pub use error::{Error, Unauthorized};
pub use grant::{
    BULK_GRANT_LIMIT, BulkGrantApiKeys, Grant, GrantApiKey, GrantType, too_many_to_grant,
};
pub use profiles::{
    MAX_SUGGEST_SIZE, PRIMARY_TERM, Profile, ProfilePrivileges, SuggestProfiles, SuggestedProfiles,
    UpdateProfileData,
};
pub use query::{NamedRole, QueryApiKeys, QueryApiKeysResult, QueryHits, QuerySearch};
pub use roles::{BulkDeleteRolesResult, BulkPutRolesResult};
pub use service_accounts::{
    CreateServiceToken, CreatedServiceToken, FileTokens, SERVICE_ACCOUNT_REALM, ServiceCredentials,
    ServiceTokenRef, ServiceTokenSource, hash_service_token_secret, new_service_token_secret,
};
pub use settings::{IndexSettings, SECURITY_SETTINGS_INDICES};
pub use tokens::{CreateToken, CreatedToken, InvalidateTokens, InvalidateTokensResult, TokenRealm};
pub use users::{BootstrapPassword, NATIVE_REALM, NewPassword, PutUser, RESERVED_REALM};

/// How long a readiness answer is reused.
const READINESS_FOR: std::time::Duration = std::time::Duration::from_secs(1);

/// The security service: API keys, users, roles, privileges, tokens and the caches over them.
/// Cheap to clone: clones share caches and the store.
#[derive(Clone)]
pub struct SecurityService {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn Store>,
    config: ServiceConfig,
    clock: Arc<dyn Clock>,
    keys: key_cache::KeyCache,
    users: cache::UserCache,
    roles: roles::RoleResolver,
    /// Stored application privileges and forward-auth decisions.
    app_access: app_access::AppAccessCache,
    permissions: permissions::PermissionCache,
    verifier: verifier::Verifier,
    owners: authn::OwnerCache,
    /// Verified service tokens, by `namespace/service/name`.
    service_tokens: cache::VerifiedCache,
    /// The tokens of the `service_tokens` file, swapped whole on reload.
    file_tokens: service_accounts::FileTokenSlot,
    last_removal: AtomicI64,
    /// Store latency per kind of operation (timed by the `MeteredStore` around `store`).
    store_latency: Arc<metrics::Histograms>,
    /// The keys by state, counted at most once a second.
    key_counts: cache::Recent<metrics::KeyCounts>,
    /// Whether the store answered, checked at most once a second: readiness is asked without
    /// credentials, as often as anyone likes.
    readiness: cache::Recent<bool>,
}

impl std::fmt::Debug for SecurityService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecurityService")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl SecurityService {
    /// A service over `store` with the given settings and clock.
    pub fn new(
        store: Arc<dyn Store>,
        config: ServiceConfig,
        clock: Arc<dyn Clock>,
    ) -> SecurityService {
        let keys = key_cache::KeyCache::new(config.cache_max_keys, config.cache_ttl);
        let service_tokens = cache::VerifiedCache::new(10_000, config.cache_ttl);
        let users = cache::UserCache::new(10_000, config.user_cache_ttl);
        let store_latency = Arc::new(metrics::Histograms::new(metrics::StoreOperation::ALL.len()));
        let store: Arc<dyn Store> = Arc::new(metered_store::MeteredStore::new(
            store,
            Arc::clone(&store_latency),
        ));
        let service = SecurityService {
            inner: Arc::new(Inner {
                store,
                config,
                clock,
                keys,
                users,
                roles: roles::RoleResolver::default(),
                app_access: app_access::AppAccessCache::new(),
                permissions: permissions::PermissionCache::new(),
                verifier: verifier::Verifier::new(),
                owners: authn::OwnerCache::new(),
                service_tokens,
                file_tokens: std::sync::RwLock::default(),
                last_removal: AtomicI64::new(i64::MIN),
                store_latency,
                key_counts: cache::Recent::new(metrics::KEY_COUNTS_FOR),
                readiness: cache::Recent::new(READINESS_FOR),
            }),
        };
        service.follow_changes();
        service
    }

    /// The settings this service runs with.
    pub fn config(&self) -> &ServiceConfig {
        &self.inner.config
    }

    /// The store behind the service.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    /// Whether the store answers: one small read (the cluster's id) at most once a second, for
    /// a load balancer's readiness check, so that a flood of unauthenticated checks costs the
    /// store nothing more. The cause of a failure is logged, never returned.
    pub async fn ready(&self) -> bool {
        let checked = self
            .inner
            .readiness
            .get(|| async {
                Ok::<bool, std::convert::Infallible>(
                    match self.inner.store.meta("cluster_uuid").await {
                        Ok(_) => true,
                        Err(err) => {
                            tracing::warn!(error = %err, "not ready: the store does not answer");
                            false
                        }
                    },
                )
            })
            .await;
        checked.unwrap_or(false)
    }

    fn now(&self) -> EpochMillis {
        self.inner.clock.now()
    }

    fn mark_removal(&self, now: EpochMillis) {
        self.inner.last_removal.store(now, Ordering::Relaxed);
    }

    /// Runs a store write together with the cache evictions that make it take effect, as one
    /// unit that finishes even when the caller stops waiting: an HTTP client that hangs up
    /// mid-request drops the request's future, and a write committed without its eviction would
    /// leave a revoked key or a disabled user authenticating from the cache. `unit` gets its own
    /// handle to the service and runs on the runtime as a task of its own.
    pub(crate) async fn write_unit<T, Unit>(
        &self,
        unit: impl FnOnce(SecurityService) -> Unit,
    ) -> Result<T, Error>
    where
        Unit: Future<Output = Result<T, Error>> + Send + 'static,
        T: Send + 'static,
    {
        match tokio::spawn(unit(self.clone())).await {
            Ok(result) => result,
            Err(err) => Err(Error::Internal(format!("a store write failed: {err}"))),
        }
    }
}

/// The source of "now" for every decision about expiry and retention.
pub trait Clock: Send + Sync + 'static {
    /// Milliseconds since the Unix epoch.
    fn now(&self) -> EpochMillis;
}

/// The wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> EpochMillis {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|elapsed| i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(0)
    }
}

/// Randomness from the operating system's CSPRNG, for key material and salts.
#[derive(Debug, Clone, Copy, Default)]
pub struct OsRandom;

impl SecretSource for OsRandom {
    fn fill(&mut self, buf: &mut [u8]) {
        // The OS generator failing is not something a request can recover from; without it no
        // key may be created, so aborting the request thread is the only safe answer.
        #[allow(clippy::expect_used)]
        // invariant: getrandom only fails when the OS has no entropy source
        getrandom::fill(buf).expect("the operating system's random number generator failed");
    }
}
