//! Storage for keyward: the [`Store`] trait every backend implements, its record types, the
//! embedded SQLite engine, and (feature `testsuite`) the contract tests every backend must pass.
//!
//! Stores know formats and transactions, nothing about HTTP or about the rules of the API key
//! service: they persist what the service has already validated. Every write method is one
//! transaction, acknowledged only once it is durable.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use keyward_core::EpochMillis;
use keyward_core::api_key::{ApiKeyType, Creator};

pub mod embedded;
#[cfg(feature = "testsuite")]
pub mod testsuite;

pub use embedded::{DataDirLock, EmbeddedStore, EmbeddedStoreOptions, lock_data_dir};

/// A stored API key: the fields of Elasticsearch's `api_key` document (reference §3.1).
#[derive(Clone, PartialEq)]
pub struct ApiKeyRecord {
    /// The key id (document `_id`).
    pub id: String,
    /// The key name.
    pub name: String,
    /// `rest` or `cross_cluster`.
    pub key_type: ApiKeyType,
    /// When the key was created.
    pub creation: EpochMillis,
    /// When the key expires; `None` for never.
    pub expiration: Option<EpochMillis>,
    /// Whether the key has been invalidated.
    pub invalidated: bool,
    /// When the key was invalidated.
    pub invalidation: Option<EpochMillis>,
    /// The self-describing hash of the secret (`{SSHA256}…`, `{PBKDF2}…`, `$2a$…`).
    pub hash: String,
    /// The key's own role descriptors, as the normalised JSON object text.
    pub role_descriptors: String,
    /// The owner's role descriptors at create/update time, as the normalised JSON object text.
    pub limited_by: String,
    /// The user metadata object as JSON text, `None` when the key has none.
    pub metadata: Option<String>,
    /// The owner.
    pub creator: Creator,
    /// The key format version (`keyward_core::api_key::API_KEY_FORMAT_VERSION` when written now).
    pub format_version: i64,
    /// The certificate identity pattern of a cross-cluster key.
    pub certificate_identity: Option<String>,
    /// Incremented by the store on every write; updates use it for optimistic concurrency.
    pub seq: i64,
}

impl std::fmt::Debug for ApiKeyRecord {
    // The hash is not a secret, but it is verification material: keep it out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiKeyRecord")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("key_type", &self.key_type)
            .field("creation", &self.creation)
            .field("expiration", &self.expiration)
            .field("invalidated", &self.invalidated)
            .field("invalidation", &self.invalidation)
            .field("creator", &self.creator.principal)
            .field("seq", &self.seq)
            .finish_non_exhaustive()
    }
}

/// Which keys a find or invalidate selects. Every criterion that is set must hold.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ApiKeyFilter {
    /// Only these ids.
    pub ids: Option<Vec<String>>,
    /// Only keys whose name matches.
    pub name: Option<NamePattern>,
    /// Only keys owned by this principal.
    pub username: Option<String>,
    /// Only keys whose owner was authenticated by this realm.
    pub realm: Option<String>,
    /// Leave out invalidated keys.
    pub exclude_invalidated: bool,
    /// Leave out keys expired at this instant (`expiration <= instant`).
    pub exclude_expired_at: Option<EpochMillis>,
    /// Only keys of this type.
    pub key_type: Option<ApiKeyType>,
}

/// A name criterion: Elasticsearch's get API accepts an exact name, `*`, or a trailing-`*` prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NamePattern {
    /// Any name.
    All,
    /// Exactly this name.
    Exact(String),
    /// Names starting with this prefix.
    Prefix(String),
}

/// Where a paged listing of keys stands: the creation time and id of the last key it returned.
/// The next page starts after it in (creation, id) order, the order every listing uses; both
/// fields never change once a key exists, so a key stored throughout a listing is returned
/// exactly once however many pages the listing takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyCursor {
    /// The creation time of the last key returned.
    pub creation: EpochMillis,
    /// The id of the last key returned.
    pub id: String,
}

impl ApiKeyCursor {
    /// The cursor after `record`.
    pub fn after(record: &ApiKeyRecord) -> ApiKeyCursor {
        ApiKeyCursor {
            creation: record.creation,
            id: record.id.clone(),
        }
    }
}

/// One page of a query over API keys.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QueryPage {
    /// How many keys match the query (regardless of paging and `search_after`).
    pub total: u64,
    /// The keys of this page, in order.
    pub records: Vec<ApiKeyRecord>,
    /// Each record's sort values, one per sort clause (empty lists when the query had no sort).
    pub sort_values: Vec<Vec<keyward_core::query::SortValue>>,
}

/// How many matching keys have each value of one field: what `terms`, `missing`, `value_count`
/// and exact `cardinality` aggregations need, counted by the store.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldCounts {
    /// Each value with the number of keys holding it, in ascending order of value (numbers
    /// numerically, text by bytes); a key with several values of a metadata key counts once
    /// under each. At most the `limit` asked for.
    pub values: Vec<(FieldCountValue, u64)>,
    /// Whether there were more values than `limit`.
    pub truncated: bool,
    /// How many matching keys have no value.
    pub missing: u64,
}

/// One value of a field in `FieldCounts`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum FieldCountValue {
    /// A date (epoch milliseconds) or a boolean (0 or 1).
    Long(i64),
    /// A keyword, or a metadata leaf as the keyword Elasticsearch indexes.
    Text(String),
}

/// A stored user: a native user, or the state of a reserved user (its password and whether it
/// is enabled).
#[derive(Clone, PartialEq)]
pub struct UserRecord {
    /// The username.
    pub username: String,
    /// Self-describing password hash (bcrypt or PBKDF2).
    pub password_hash: String,
    /// Role names.
    pub roles: Vec<String>,
    /// Full name.
    pub full_name: Option<String>,
    /// Email.
    pub email: Option<String>,
    /// User metadata object as JSON text.
    pub metadata: String,
    /// Disabled users cannot authenticate.
    pub enabled: bool,
    /// Incremented by the store on every write.
    pub seq: i64,
}

/// A change to some fields of a stored user; `None` leaves a field as it is.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct UserChange {
    /// A new self-describing password hash.
    pub password_hash: Option<String>,
    /// Enables or disables the user.
    pub enabled: Option<bool>,
}

impl std::fmt::Debug for UserChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserChange")
            .field(
                "password_hash",
                &self.password_hash.as_ref().map(|_| "<redacted>"),
            )
            .field("enabled", &self.enabled)
            .finish()
    }
}

impl std::fmt::Debug for UserRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserRecord")
            .field("username", &self.username)
            .field("roles", &self.roles)
            .field("enabled", &self.enabled)
            .field("seq", &self.seq)
            .finish_non_exhaustive()
    }
}

/// A stored role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleRecord {
    /// The role name.
    pub name: String,
    /// One role descriptor (description included) as normalised JSON object text.
    pub descriptor: String,
    /// Incremented by the store on every write.
    pub seq: i64,
}

/// A stored role mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleMappingRecord {
    /// The mapping name.
    pub name: String,
    /// The mapping (`enabled`, `roles`, `role_templates`, `rules`, `metadata`) as normalised
    /// JSON object text.
    pub mapping: String,
    /// Incremented by the store on every write.
    pub seq: i64,
}

/// A stored application privilege.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppPrivilegeRecord {
    /// The application name.
    pub application: String,
    /// The privilege name, unique within its application.
    pub name: String,
    /// The action patterns the privilege grants.
    pub actions: Vec<String>,
    /// The metadata object as JSON text.
    pub metadata: String,
    /// Incremented by the store on every write.
    pub seq: i64,
}

/// A stored access token and its refresh token. Only SHA-256 digests of the two secrets are
/// kept: the token strings themselves are never stored.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenRecord {
    /// Hex SHA-256 of the access token; the record's key.
    pub access_hash: String,
    /// Hex SHA-256 of the refresh token, `None` when none was issued.
    pub refresh_hash: Option<String>,
    /// The user the token authenticates as.
    pub username: String,
    /// The realm that authenticated that user.
    pub realm: String,
    /// That realm's type.
    pub realm_type: String,
    /// When the token was created.
    pub creation: EpochMillis,
    /// When the access token expires.
    pub expiration: EpochMillis,
    /// Whether the token (access and refresh) has been invalidated.
    pub invalidated: bool,
    /// Whether the refresh token has been exchanged for a new token.
    pub refreshed: bool,
    /// Incremented by the store on every write; refreshes use it for optimistic concurrency.
    pub seq: i64,
}

impl std::fmt::Debug for TokenRecord {
    // The digests identify live credentials: keep them out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenRecord")
            .field("username", &self.username)
            .field("realm", &self.realm)
            .field("creation", &self.creation)
            .field("expiration", &self.expiration)
            .field("invalidated", &self.invalidated)
            .field("refreshed", &self.refreshed)
            .field("seq", &self.seq)
            .finish_non_exhaustive()
    }
}

/// Which tokens an invalidation selects.
#[derive(Clone, PartialEq, Eq)]
pub enum TokenSelector {
    /// The token whose access token has this digest.
    Access(String),
    /// The token whose refresh token has this digest.
    Refresh(String),
    /// Every token of this user and/or realm (at least one is set).
    Owner {
        /// Only tokens of this user.
        username: Option<String>,
        /// Only tokens whose user was authenticated by this realm.
        realm: Option<String>,
    },
}

impl std::fmt::Debug for TokenSelector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TokenSelector::Access(_) => f.write_str("Access(..)"),
            TokenSelector::Refresh(_) => f.write_str("Refresh(..)"),
            TokenSelector::Owner { username, realm } => f
                .debug_struct("Owner")
                .field("username", username)
                .field("realm", realm)
                .finish(),
        }
    }
}

/// What an invalidation of tokens changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TokenInvalidation {
    /// Tokens invalidated now.
    pub invalidated: u64,
    /// Tokens selected that were already invalidated.
    pub previously_invalidated: u64,
}

/// A service account token kept in the store (an "index" token in Elasticsearch's words). Only
/// the self-describing hash of its secret is kept.
#[derive(Clone, PartialEq, Eq)]
pub struct ServiceTokenRecord {
    /// The service account, `namespace/service`.
    pub account: String,
    /// The token name, unique within its account.
    pub name: String,
    /// The self-describing hash of the secret.
    pub hash: String,
    /// When the token was created.
    pub creation: EpochMillis,
    /// The principal that created it.
    pub creator: String,
    /// The realm of that principal.
    pub creator_realm: String,
}

impl std::fmt::Debug for ServiceTokenRecord {
    // The hash is verification material: keep it out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceTokenRecord")
            .field("account", &self.account)
            .field("name", &self.name)
            .field("creation", &self.creation)
            .field("creator", &self.creator)
            .field("creator_realm", &self.creator_realm)
            .finish_non_exhaustive()
    }
}

/// A user profile (Elasticsearch's `.security-profile` document): the user it was activated
/// for, as of its last activation, and the labels and data applications keep on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileRecord {
    /// The profile uid (`u_…_0`); the record's key.
    pub uid: String,
    /// The user's username.
    pub username: String,
    /// The name of the realm that authenticated the user at the last activation.
    pub realm_name: String,
    /// That realm's type.
    pub realm_type: String,
    /// The user's roles at the last activation.
    pub roles: Vec<String>,
    /// The user's full name at the last activation.
    pub full_name: Option<String>,
    /// The user's email at the last activation.
    pub email: Option<String>,
    /// Whether the profile is enabled (suggest leaves disabled profiles out).
    pub enabled: bool,
    /// When the profile was last activated.
    pub last_synchronized: EpochMillis,
    /// The searchable labels object as JSON text.
    pub labels: String,
    /// The application data object as JSON text.
    pub data: String,
    /// Set to 1 by the store on creation, incremented on every write; conditional updates
    /// compare it (the profile's `_seq_no`).
    pub seq: i64,
}

/// What became of one conditional update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateOutcome {
    /// Written.
    Updated,
    /// The key changed (or vanished) since it was read: nothing written.
    Conflict,
}

/// Errors a store can raise. None of them is a client's mistake.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A record with this id already exists.
    #[error("document with id [{0}] already exists")]
    AlreadyExists(String),
    /// The data directory is used by another process.
    #[error("data directory [{path}] is locked by another keyward process")]
    Locked {
        /// The data directory.
        path: String,
    },
    /// The store is shutting down or its writer has stopped.
    #[error("the store is closed")]
    Closed,
    /// Stored data could not be read back.
    #[error("corrupt record: {0}")]
    Corrupt(String),
    /// The database engine failed.
    #[error("database error: {0}")]
    Database(String),
    /// Filesystem failure.
    #[error("io error: {0}")]
    Io(#[from] std::io::Error),
    /// A query is too large for this store to run (SQLite's expression depth or bound variables);
    /// the caller's query, not the store, is at fault.
    #[error("query too large for the store: {0}")]
    QueryTooLarge(String),
    /// The disk holding the store is full: the write was not made (its transaction rolled
    /// back); reads go on, and writes work again once there is space.
    #[error("the disk holding the store is full: {0}")]
    DiskFull(String),
    /// The store cannot be reached now (a database server down or restarting, a pool exhausted
    /// past its wait time); the same request may succeed later. Nothing was written.
    #[error("the store is unavailable: {0}")]
    Unavailable(String),
}

/// The acknowledgement of a [`Notice::Change`]: shared by every subscriber's copy of the notice,
/// it runs its action (a shared store tells the writing node "applied here") when the last copy
/// is dropped. Subscribers drop it once the change is applied, so that the writer, which waits
/// for every node's acknowledgement before it answers, answers only once every node's caches
/// are up to date.
#[derive(Clone, Default)]
pub struct Applied(Option<Arc<AppliedAction>>);

struct AppliedAction(Mutex<Option<Box<dyn FnOnce() + Send>>>);

impl Applied {
    /// A token that runs `action` once every copy of it is dropped.
    pub fn on_drop(action: impl FnOnce() + Send + 'static) -> Applied {
        Applied(Some(Arc::new(AppliedAction(Mutex::new(Some(Box::new(
            action,
        )))))))
    }

    /// A token nobody waits for.
    pub fn none() -> Applied {
        Applied(None)
    }
}

impl Drop for AppliedAction {
    fn drop(&mut self) {
        let action = match self.0.get_mut() {
            Ok(action) => action.take(),
            Err(poisoned) => poisoned.into_inner().take(),
        };
        if let Some(action) = action {
            action();
        }
    }
}

/// Tokens carry no data a subscriber could compare: any two are equal.
impl PartialEq for Applied {
    fn eq(&self, _other: &Applied) -> bool {
        true
    }
}

impl Eq for Applied {}

impl std::fmt::Debug for Applied {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "Applied(awaited)"
        } else {
            "Applied"
        })
    }
}

/// A change that can alter what a node's caches answer: an authentication or an authorization
/// decision. Stores shared by several nodes announce every such change to every node (the node
/// that made it included); see [`Store::changes`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// These API keys were updated, invalidated or deleted.
    ApiKeys(Vec<String>),
    /// Any API key may have changed (a clear-cache of every key, or more ids than one
    /// announcement carries).
    AllApiKeys,
    /// These users were changed (password, enabled, roles, details) or deleted.
    Users(Vec<String>),
    /// Any user may have changed (a realm clear-cache).
    AllUsers,
    /// Roles or application privileges changed: every resolved role and permission is stale.
    Roles,
    /// A service token was deleted, or the service token cache cleared: every verified service
    /// token is dropped.
    ServiceTokens,
}

/// What a store's change feed delivers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// A change some node made and committed, and the token that tells the writer, once every
    /// subscriber has dropped its copy, that this node has applied it: drop it after applying.
    Change(Change, Applied),
    /// The feed broke: changes may have been missed. A subscriber drops every cached decision
    /// and caches none until [`Notice::Restored`].
    Lost,
    /// The feed is back after [`Notice::Lost`]; caching may resume.
    Restored,
}

/// The persistence every keyward backend provides. All methods are safe to call from async code:
/// implementations never block the runtime.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Inserts a new key; `AlreadyExists` if the id is taken. Durable when it returns.
    async fn create_api_key(&self, record: ApiKeyRecord) -> Result<(), Error>;

    /// The key with this id, if any.
    async fn api_key(&self, id: &str) -> Result<Option<ApiKeyRecord>, Error>;

    /// Every key the filter selects, ordered by creation time then id.
    async fn find_api_keys(&self, filter: &ApiKeyFilter) -> Result<Vec<ApiKeyRecord>, Error>;

    /// Up to `limit` of the keys the filter selects, in the order of [`Store::find_api_keys`]
    /// (creation time, then id), starting after `after` when given: a listing of any size read
    /// in bounded pages, each found through the index rather than by skipping the keys before
    /// it. Each page is read on its own: keys written between pages may or may not be seen,
    /// and a page shows each key as it is when that page is read.
    async fn find_api_keys_page(
        &self,
        filter: &ApiKeyFilter,
        after: Option<&ApiKeyCursor>,
        limit: usize,
    ) -> Result<Vec<ApiKeyRecord>, Error>;

    /// Runs a query API keys search: the total number of matches and one page of them, ordered
    /// by `query.sort` (ties broken by id), missing sort values last.
    async fn query_api_keys(
        &self,
        query: &keyward_core::query::ApiKeyQuery,
    ) -> Result<QueryPage, Error>;

    /// Up to `limit` keys matching `query`, in id order, with ids after `after_id` when given: the
    /// way to walk every match in bounded batches (aggregations) without counting or sorting them
    /// all. Each batch is read on its own; keys written between batches may or may not be seen.
    async fn api_keys_after(
        &self,
        query: &keyward_core::query::Query,
        after_id: Option<&str>,
        limit: usize,
    ) -> Result<Vec<ApiKeyRecord>, Error>;

    /// Counts the keys matching `query` per value of `field` (at most `limit` values, the
    /// smallest), and, `with_missing`, those without a value (0 otherwise: counting them costs
    /// a pass over the matches), without reading the keys themselves. Metadata is flattened as
    /// for queries; an empty metadata path counts every scalar leaf of the object.
    async fn count_api_keys_by(
        &self,
        query: &keyward_core::query::Query,
        field: &keyward_core::query::ApiKeyField,
        limit: usize,
        with_missing: bool,
    ) -> Result<FieldCounts, Error>;

    /// Replaces each record whose stored `seq` still equals the given record's `seq` (the value
    /// it was read with), all in one transaction; the outcome of each, in order.
    async fn update_api_keys(
        &self,
        records: Vec<ApiKeyRecord>,
    ) -> Result<Vec<UpdateOutcome>, Error>;

    /// Marks the given keys invalidated at `now` unless already invalidated; the ids it changed.
    async fn invalidate_api_keys(
        &self,
        ids: &[String],
        now: EpochMillis,
    ) -> Result<Vec<String>, Error>;

    /// Deletes keys expired at or before `cutoff` and keys invalidated at or before `cutoff`
    /// (reference §4.4); how many were deleted.
    /// Deletes at most `limit` of them in one write, so that a large backlog never holds the
    /// writer for long: call again until it returns fewer than `limit`.
    async fn delete_inactive_api_keys(&self, cutoff: EpochMillis, limit: u64)
    -> Result<u64, Error>;

    /// Writes keys in one transaction: every key or, on a duplicate id (in the store or within
    /// the batch) or any other failure, none. Durable when it returns, like
    /// [`Store::create_api_key`]; bulk grant writes its keys with it, and fixtures and
    /// benchmarks load keys with it.
    async fn import_api_keys(&self, records: Vec<ApiKeyRecord>) -> Result<(), Error>;

    /// The user with this name, if any.
    async fn user(&self, username: &str) -> Result<Option<UserRecord>, Error>;

    /// Inserts or replaces a user; `true` when it was inserted.
    async fn put_user(&self, user: UserRecord) -> Result<bool, Error>;

    /// Replaces every field of a stored user but its password hash (which `user` need not
    /// carry), in one write: a password changed meanwhile is kept. `false` when no such user is
    /// stored (nothing is written then).
    async fn update_user_keeping_password(&self, user: UserRecord) -> Result<bool, Error>;

    /// Changes only the fields `change` sets, in one write, so that two concurrent changes of
    /// different fields (a password change and a disable) both hold. When no such user is
    /// stored, stores `missing` with the change applied (the never-stored state of a reserved
    /// user), or writes nothing for `None`. `true` when a user was changed or stored.
    async fn change_user(
        &self,
        username: &str,
        change: UserChange,
        missing: Option<UserRecord>,
    ) -> Result<bool, Error>;

    /// The users with these names (all users for `None`), sorted by username; unknown names
    /// are left out.
    async fn users(&self, names: Option<&[String]>) -> Result<Vec<UserRecord>, Error>;

    /// Deletes a user; `true` when there was one.
    async fn delete_user(&self, username: &str) -> Result<bool, Error>;

    /// The role with this name, if any.
    async fn role(&self, name: &str) -> Result<Option<RoleRecord>, Error>;

    /// The roles with these names (all roles for `None`), sorted by name; unknown names are
    /// left out.
    async fn roles(&self, names: Option<&[String]>) -> Result<Vec<RoleRecord>, Error>;

    /// Inserts or replaces a role; `true` when it was inserted.
    async fn put_role(&self, role: RoleRecord) -> Result<bool, Error>;

    /// Deletes a role; `true` when there was one.
    async fn delete_role(&self, name: &str) -> Result<bool, Error>;

    /// The role mappings with these names (all of them for `None`), sorted by name; unknown
    /// names are left out.
    async fn role_mappings(
        &self,
        names: Option<&[String]>,
    ) -> Result<Vec<RoleMappingRecord>, Error>;

    /// Inserts or replaces a role mapping; `true` when it was inserted.
    async fn put_role_mapping(&self, mapping: RoleMappingRecord) -> Result<bool, Error>;

    /// Deletes a role mapping; `true` when there was one.
    async fn delete_role_mapping(&self, name: &str) -> Result<bool, Error>;

    /// Inserts or replaces application privileges in one transaction; for each, in order, its
    /// application, name and whether it was inserted.
    async fn put_app_privileges(
        &self,
        privileges: Vec<AppPrivilegeRecord>,
    ) -> Result<Vec<(String, String, bool)>, Error>;

    /// Application privileges, sorted by application then name: all of them, those of one
    /// application, or the named ones of one application (`names` is ignored without an
    /// application).
    async fn app_privileges(
        &self,
        application: Option<&str>,
        names: Option<&[String]>,
    ) -> Result<Vec<AppPrivilegeRecord>, Error>;

    /// Deletes the named privileges of `application` in one transaction; the names it deleted,
    /// in the order given.
    async fn delete_app_privileges(
        &self,
        application: &str,
        names: &[String],
    ) -> Result<Vec<String>, Error>;

    /// Inserts a new token. Durable when it returns.
    async fn create_token(&self, record: TokenRecord) -> Result<(), Error>;

    /// The token whose access token has this digest, if any.
    async fn token(&self, access_hash: &str) -> Result<Option<TokenRecord>, Error>;

    /// The token whose refresh token has this digest, if any.
    async fn token_by_refresh(&self, refresh_hash: &str) -> Result<Option<TokenRecord>, Error>;

    /// In one transaction: marks the token with this refresh digest refreshed if its stored
    /// `seq` still equals `seq`, and then inserts `replacement`; `Conflict` (nothing written)
    /// when the token changed or vanished since it was read.
    async fn refresh_token(
        &self,
        refresh_hash: &str,
        seq: i64,
        replacement: TokenRecord,
    ) -> Result<UpdateOutcome, Error>;

    /// Marks the selected tokens invalidated; how many changed and how many already were.
    async fn invalidate_tokens(&self, selector: &TokenSelector)
    -> Result<TokenInvalidation, Error>;

    /// Deletes tokens created at or before `cutoff`; how many were deleted.
    async fn delete_tokens_created_before(&self, cutoff: EpochMillis) -> Result<u64, Error>;

    /// Inserts a new service token; `AlreadyExists` when its account already has a token of
    /// that name. Durable when it returns.
    async fn create_service_token(&self, record: ServiceTokenRecord) -> Result<(), Error>;

    /// The token of `account` named `name`, if any.
    async fn service_token(
        &self,
        account: &str,
        name: &str,
    ) -> Result<Option<ServiceTokenRecord>, Error>;

    /// Every token of `account`, sorted by name.
    async fn service_tokens(&self, account: &str) -> Result<Vec<ServiceTokenRecord>, Error>;

    /// Deletes the token of `account` named `name`; `true` when there was one. A deletion is
    /// announced as [`Change::ServiceTokens`].
    async fn delete_service_token(&self, account: &str, name: &str) -> Result<bool, Error>;

    /// Inserts a new user profile, its `seq` set to 1; `AlreadyExists` when its uid is taken.
    async fn create_profile(&self, record: ProfileRecord) -> Result<(), Error>;

    /// The profiles with these uids, sorted by uid; unknown uids are left out.
    async fn profiles(&self, uids: &[String]) -> Result<Vec<ProfileRecord>, Error>;

    /// The profiles of users with these usernames (whatever their realm), sorted by username
    /// then uid.
    async fn profiles_of_users(&self, usernames: &[String]) -> Result<Vec<ProfileRecord>, Error>;

    /// Up to `limit` profiles in uid order, starting after the uid `after` when given: every
    /// profile walked in bounded pages.
    async fn profiles_page(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<ProfileRecord>, Error>;

    /// Replaces the stored profile with `record` (every field but `uid`) if its stored `seq`
    /// still equals `record.seq`, incrementing the stored `seq`; `Conflict` (nothing written)
    /// when it changed or vanished since it was read.
    async fn update_profile(&self, record: ProfileRecord) -> Result<UpdateOutcome, Error>;

    /// A value from the store's own metadata table (cluster uuid, node name).
    async fn meta(&self, key: &str) -> Result<Option<String>, Error>;

    /// Sets a metadata value unless one is already there; the value now stored.
    async fn meta_init(&self, key: &str, value: &str) -> Result<String, Error>;

    /// Sets a metadata value, replacing any; durable when it returns.
    async fn meta_put(&self, key: &str, value: &str) -> Result<(), Error>;

    /// The feed of [`Change`]s committed through this store by every node sharing it, in commit
    /// order per node: the writes that change an authentication or authorization result
    /// (`update_api_keys`, `invalidate_api_keys`, `delete_inactive_api_keys`, every user, role and
    /// application privilege write, `delete_service_token`) and [`Store::announce`]. A write method that announces
    /// returns only once every other node sharing the store has applied it (dropped its
    /// [`Applied`] token; bounded by a timeout for a node that hangs), so the next request on
    /// any node sees the change. `None` for a store no other process writes (the embedded
    /// store): the node's own evictions are then the whole truth.
    fn changes(&self) -> Option<tokio::sync::broadcast::Receiver<Notice>> {
        None
    }

    /// Announces a change made without a store write (the clear-cache APIs) to every node
    /// sharing the store; returns once delivered back to this node's feed. Nothing to do for a
    /// store no other process writes.
    async fn announce(&self, _change: Change) -> Result<(), Error> {
        Ok(())
    }

    /// Whether this node leads the singleton job `job` (the inactive-key remover), taking the
    /// lead when nobody holds it: at most one node of those sharing the store leads a job at a
    /// time. Always `true` for a store only one process opens.
    async fn lead(&self, _job: &str) -> Result<bool, Error> {
        Ok(true)
    }
}
