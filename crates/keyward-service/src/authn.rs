//! Authentication: who is calling, and how. `ApiKey` credentials are checked against the store
//! (through the cache), `Basic` credentials against the stored users.

use std::sync::Arc;

use keyward_core::EpochMillis;
use keyward_core::api_key::{ApiKeyType, Creator, is_expired};
use keyward_core::authz::Permission;
use keyward_core::credential::{ApiKeyCredential, BasicCredential, Credential};
use keyward_store::ApiKeyRecord;
use serde_json::{Map, Value};

use crate::SecurityService;
use crate::cache::SecretDigest;
use crate::key_cache::{KeyEntry, NEVER};

/// The realm name and type Elasticsearch reports for API key authentication.
pub(crate) const API_KEY_REALM: &str = "_es_api_key";

/// An authenticated subject: the user it acts as, how it authenticated, and what it may do.
#[derive(Debug)]
pub struct Authentication {
    /// The effective user: for an API key, the key's owner (shared by all its cached keys).
    pub user: Arc<User>,
    /// The realm that authenticated the credential (`_es_api_key` for keys).
    pub authentication_realm: Arc<Realm>,
    /// The realm the user was looked up in.
    pub lookup_realm: Arc<Realm>,
    /// The realm that owns the user's keys: for a user its own realm, for an API key the realm of
    /// the key's owner. Ownership checks compare this.
    pub owner_realm: Arc<Realm>,
    /// Set when the subject authenticated with an API key.
    pub api_key: Option<ApiKeyRef>,
    /// True when the subject authenticated with an access token (`Bearer`).
    pub token: bool,
    /// Set when the subject authenticated with a service account token.
    pub service_token: Option<crate::service_accounts::ServiceTokenRef>,
    /// What the subject may do.
    pub permission: Permission,
}

/// A user as `_authenticate` shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    /// The username.
    pub username: String,
    /// Role names (always empty for API keys).
    pub roles: Vec<String>,
    /// Full name.
    pub full_name: Option<String>,
    /// Email.
    pub email: Option<String>,
    /// User metadata.
    pub metadata: Map<String, Value>,
    /// Whether the user is enabled.
    pub enabled: bool,
}

/// A realm's name and type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Realm {
    /// The realm name.
    pub name: String,
    /// The realm type.
    pub realm_type: String,
}

/// The API key a subject authenticated with.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiKeyRef {
    /// The key id.
    pub id: String,
    /// The key name.
    pub name: String,
    /// The key type.
    pub key_type: ApiKeyType,
    /// The key's metadata object as stored JSON text, `None` when it has none.
    pub metadata: Option<Arc<String>>,
}

/// Why a credential did not authenticate, with Elasticsearch's messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthenticationFailure {
    /// No credential was presented.
    Missing,
    /// An `ApiKey` credential was well-formed but did not authenticate; the message is the API
    /// key service's (`api key is expired`, …).
    ApiKey(String),
    /// Authentication must stop with exactly this reason (e.g. a cross-cluster key on REST).
    Terminated(String),
    /// The credential could not be decoded; the cause as the decoder words it.
    Malformed(String),
    /// A username and password did not authenticate.
    User(String),
    /// A bearer token keyward does not know.
    Unsupported,
    /// A bearer token that expired or was invalidated.
    TokenExpired,
    /// Too many slow verifications are in progress: the credential was not checked (429).
    Overloaded,
    /// The store could not be reached to check the credential (503, retryable): a valid
    /// credential must not look rejected because a database restarts.
    Unavailable(String),
}

impl AuthenticationFailure {
    /// The failure for a store error met while checking a credential: `Unavailable` when the
    /// store could not be reached, else `otherwise`.
    pub(crate) fn from_store(err: &keyward_store::Error, otherwise: AuthenticationFailure) -> Self {
        match err {
            keyward_store::Error::Unavailable(cause) => {
                AuthenticationFailure::Unavailable(cause.clone())
            }
            _ => otherwise,
        }
    }
}

impl std::fmt::Display for AuthenticationFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AuthenticationFailure::Missing => f.write_str("missing authentication credentials"),
            AuthenticationFailure::ApiKey(message) => write!(f, "API key: {message}"),
            AuthenticationFailure::Terminated(message) => f.write_str(message),
            AuthenticationFailure::Malformed(cause) => {
                write!(f, "error attempting to authenticate request: {cause}")
            }
            AuthenticationFailure::User(username) => {
                write!(f, "unable to authenticate user [{username}]")
            }
            AuthenticationFailure::Unsupported => f.write_str("unsupported credential"),
            AuthenticationFailure::TokenExpired => f.write_str("token expired"),
            AuthenticationFailure::Overloaded => {
                f.write_str("too many credential verifications are in progress")
            }
            AuthenticationFailure::Unavailable(cause) => {
                write!(f, "the security store is unavailable: {cause}")
            }
        }
    }
}

impl Authentication {
    /// True when the subject authenticated with an API key.
    pub fn is_api_key(&self) -> bool {
        self.api_key.is_some()
    }

    /// True when `creator` is this subject's effective user in this subject's owner realm.
    pub fn owns(&self, creator: &Creator) -> bool {
        creator.principal == self.user.username && creator.realm == self.owner_realm.name
    }
}

impl SecurityService {
    /// Authenticates a decoded `Authorization` credential.
    pub async fn authenticate(
        &self,
        credential: Credential,
    ) -> Result<Arc<Authentication>, AuthenticationFailure> {
        match credential {
            Credential::ApiKey(credential) if self.inner.config.enabled => {
                self.authenticate_api_key(credential).await
            }
            Credential::ApiKey(_) => Err(AuthenticationFailure::Missing),
            Credential::Basic(credential) => self.authenticate_user(credential).await,
            // Service tokens and access tokens are told apart by format, as Elasticsearch does.
            Credential::Bearer(token) => {
                match keyward_core::service_account::ServiceToken::parse(token.expose()) {
                    Some(service_token) => self.authenticate_service_token(service_token).await,
                    None => self.authenticate_token(token.expose()).await,
                }
            }
            // No authenticator takes the scheme, so the request carries no credentials.
            Credential::Other => Err(AuthenticationFailure::Missing),
        }
    }

    pub(crate) async fn authenticate_api_key(
        &self,
        credential: ApiKeyCredential,
    ) -> Result<Arc<Authentication>, AuthenticationFailure> {
        let id = credential.id.as_str();
        let secret = credential.secret.expose().as_bytes();
        let now = self.now();
        let cache = &self.inner.keys;
        let digest = cache.digest(secret);
        if let Some((authentication, expiration)) = cache.hot(id, &digest, now) {
            cache.counters().hit();
            return accept(authentication, expiration, now);
        }
        let generation = cache.generation();
        if let Some(hit) = self.cached_api_key(generation, id, digest, now) {
            cache.counters().hit();
            return hit;
        }

        // One verification per key at a time; whoever waited may find the key verified.
        let _flight = self
            .inner
            .verifier
            .single_flight(id)
            .await
            .map_err(|_| AuthenticationFailure::Overloaded)?;
        let generation = cache.generation();
        if let Some(hit) = self.cached_api_key(generation, id, digest, now) {
            // Verified by the request this one waited for.
            cache.counters().hit();
            return hit;
        }
        cache.counters().miss();
        let record = match self.inner.store.api_key(id).await {
            Ok(Some(record)) => record,
            Ok(None) => {
                return Err(AuthenticationFailure::ApiKey(format!(
                    "unable to find apikey with id {id}"
                )));
            }
            Err(err) => {
                tracing::warn!(api_key_id = id, error = %err, "api key lookup failed");
                return Err(AuthenticationFailure::from_store(
                    &err,
                    AuthenticationFailure::ApiKey(format!(
                        "apikey authentication for id {id} encountered a failure"
                    )),
                ));
            }
        };
        if record.invalidated {
            return Err(AuthenticationFailure::ApiKey(format!(
                "api key [{id}] has been invalidated"
            )));
        }
        let verified = self
            .inner
            .verifier
            .verify(secret, &record.hash)
            .await
            .map_err(|_| AuthenticationFailure::Overloaded)?;
        if !verified {
            return Err(AuthenticationFailure::ApiKey(format!(
                "invalid credentials for API key [{id}]"
            )));
        }
        let entry = match self.key_entry(&record) {
            Ok(entry) => entry,
            Err(err) => {
                tracing::error!(api_key_id = id, error = %err, "stored api key cannot be read");
                return Err(AuthenticationFailure::ApiKey(format!(
                    "apikey authentication for id {id} encountered a failure"
                )));
            }
        };
        cache.insert(generation, &record.id, digest, entry.clone(), now);
        let authentication = Arc::new(entry.into_authentication(&record.id));
        accept(authentication, record.expiration, now)
    }

    /// Authenticates `id` from the shared key cache, `None` when it holds no live entry. One key
    /// has one secret: a different one than the verified one is wrong without any need to hash
    /// it slowly.
    fn cached_api_key(
        &self,
        generation: u64,
        id: &str,
        digest: SecretDigest,
        now: EpochMillis,
    ) -> Option<Result<Arc<Authentication>, AuthenticationFailure>> {
        let cache = &self.inner.keys;
        let cached = cache.get(id, now)?;
        if !cached.matches(&digest) {
            return Some(Err(AuthenticationFailure::ApiKey(format!(
                "invalid credentials for API key [{id}]"
            ))));
        }
        let expiration = cached.entry.expiration();
        let authentication = Arc::new(cached.entry.into_authentication(id));
        cache.keep_hot(generation, id, digest, &authentication, expiration, now);
        Some(accept(authentication, expiration, now))
    }
}

/// The checks that follow a verified secret: the key type (terminating) then expiry.
fn accept(
    authentication: Arc<Authentication>,
    expiration: Option<i64>,
    now: i64,
) -> Result<Arc<Authentication>, AuthenticationFailure> {
    if let Some(key) = &authentication.api_key
        && key.key_type != ApiKeyType::Rest
    {
        return Err(AuthenticationFailure::Terminated(format!(
            "authentication expected API key type of [rest], but API key [{}] has type [{}]",
            key.id, key.key_type
        )));
    }
    if is_expired(expiration, now) {
        return Err(AuthenticationFailure::ApiKey(
            "api key is expired".to_owned(),
        ));
    }
    Ok(authentication)
}

impl SecurityService {
    /// Builds the subject an API key authenticates as, from its stored record. The permissions
    /// come from the shared [`crate::permissions::PermissionCache`]: no JSON is parsed for
    /// descriptors this process has seen before.
    /// What a stored key authenticates as, in the cache's shape: permissions come from the
    /// shared [`crate::permissions::PermissionCache`] (no JSON is parsed for descriptors this
    /// process has seen before) and the owner from the shared owner cache.
    pub(crate) fn key_entry(&self, record: &ApiKeyRecord) -> Result<KeyEntry, keyward_core::Error> {
        let permissions = &self.inner.permissions;
        let assigned = permissions.get(&record.role_descriptors)?;
        let assigned = (!assigned.descriptors().is_empty()).then_some(assigned);
        let limited_by = permissions.get(&record.limited_by)?;
        let (user, owner_realm) = self.owner(&record.creator);
        Ok(KeyEntry {
            name: Box::from(record.name.as_str()),
            key_type: record.key_type,
            expires_at: record.expiration.unwrap_or(NEVER),
            user,
            owner_realm,
            assigned,
            limited_by,
            metadata: record
                .metadata
                .as_ref()
                .filter(|metadata| *metadata != "{}")
                .map(|metadata| Arc::new(metadata.clone())),
        })
    }
}

/// The realm every API key authenticates in, built once.
static API_KEY_REALM_VALUE: std::sync::LazyLock<Arc<Realm>> = std::sync::LazyLock::new(|| {
    Arc::new(Realm {
        name: API_KEY_REALM.to_owned(),
        realm_type: API_KEY_REALM.to_owned(),
    })
});

/// The realm every API key authenticates in.
pub(crate) fn api_key_realm() -> Arc<Realm> {
    API_KEY_REALM_VALUE.clone()
}

/// Owners of cached keys, shared: a million keys of one service account hold one `User`.
pub(crate) struct OwnerCache {
    entries: quick_cache::sync::Cache<(String, String), (Arc<User>, Arc<Realm>)>,
}

impl OwnerCache {
    pub(crate) fn new() -> OwnerCache {
        OwnerCache {
            entries: quick_cache::sync::Cache::new(4096),
        }
    }
}

impl SecurityService {
    /// The user and realm a key's creator stands for, shared with every other key of theirs whose
    /// snapshot of the owner is the same.
    fn owner(&self, creator: &Creator) -> (Arc<User>, Arc<Realm>) {
        let key = (creator.principal.clone(), creator.realm.clone());
        if let Some((user, realm)) = self.inner.owners.entries.get(&key)
            && user.full_name == creator.full_name
            && user.email == creator.email
            && user.metadata == creator.metadata
            && realm.realm_type == creator.realm_type
        {
            return (user, realm);
        }
        let user = Arc::new(User {
            username: creator.principal.clone(),
            roles: Vec::new(),
            full_name: creator.full_name.clone(),
            email: creator.email.clone(),
            metadata: creator.metadata.clone(),
            enabled: true,
        });
        let realm = Arc::new(Realm {
            name: creator.realm.clone(),
            realm_type: creator.realm_type.clone(),
        });
        self.inner
            .owners
            .entries
            .insert(key, (user.clone(), realm.clone()));
        (user, realm)
    }
}

/// Parses JSON text the service itself stored.
pub(crate) fn parse_stored(text: &str) -> Result<Value, keyward_core::Error> {
    serde_json::from_str(text)
        .map_err(|err| keyward_core::Error::Parse(format!("stored document is not JSON: {err}")))
}

impl SecurityService {
    async fn authenticate_user(
        &self,
        credential: BasicCredential,
    ) -> Result<Arc<Authentication>, AuthenticationFailure> {
        self.authenticate_password(&credential.username, credential.password.as_bytes())
            .await
    }
}
