//! The API key operations: create, get, invalidate, update, bulk update, clear cache.
//!
//! Each one validates its command fully, then authorizes (Elasticsearch validates requests before
//! its security filter runs), then touches the store exactly once per write.

use std::sync::Arc;

use keyward_core::api_key::{
    API_KEY_FORMAT_VERSION, ApiKeyType, Creator, is_expired, validate_metadata, validate_name,
};
use keyward_core::authz::Permission;
use keyward_core::credential::{ApiKeyId, ApiKeySecret, encode_api_key};
use keyward_core::duration::TimeValue;
use keyward_core::hash::{HashAlgorithm, hash_secret};
use keyward_core::privilege::{ClusterGrant, actions};
use keyward_core::role::RoleDescriptors;
use keyward_core::{EpochMillis, ValidationErrors};
use keyward_store::{
    ApiKeyCursor, ApiKeyFilter, ApiKeyRecord, Change, NamePattern, Store, UpdateOutcome,
};
use serde_json::{Map, Value};
use zeroize::Zeroizing;

use crate::authn::{Authentication, parse_stored};
use crate::{Error, OsRandom, SecurityService};

/// `security.create_api_key`.
#[derive(Debug, Clone, Default)]
pub struct CreateApiKey {
    /// The key name (required; `None` and `""` fail validation).
    pub name: Option<String>,
    /// How long until the key expires; `None` for never.
    pub expiration: Option<TimeValue>,
    /// The key's own privileges; `None` or empty means the owner's snapshot alone.
    pub role_descriptors: Option<RoleDescriptors>,
    /// User metadata.
    pub metadata: Option<Map<String, Value>>,
}

/// A new key: the only time its secret is seen.
pub struct CreatedApiKey {
    /// The key id.
    pub id: ApiKeyId,
    /// The key name.
    pub name: String,
    /// When it expires.
    pub expiration: Option<EpochMillis>,
    /// The secret (`api_key` in the response).
    pub secret: ApiKeySecret,
    /// base64 of `id:secret`.
    pub encoded: Zeroizing<String>,
}

impl std::fmt::Debug for CreatedApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedApiKey")
            .field("id", &self.id)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// `security.get_api_key`.
#[derive(Debug, Clone, Default)]
pub struct GetApiKeys {
    /// One key id.
    pub id: Option<String>,
    /// A name, `*`, or a prefix ending in `*`.
    pub name: Option<String>,
    /// Owner username.
    pub username: Option<String>,
    /// Owner realm.
    pub realm_name: Option<String>,
    /// Only the caller's own keys.
    pub owner: bool,
    /// Include the owner snapshot.
    pub with_limited_by: bool,
    /// Leave out invalidated and expired keys.
    pub active_only: bool,
    /// Show the `profile_uid` of each key whose owner has a profile.
    pub with_profile_uid: bool,
}

/// A key as get and query show it.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiKeyInfo {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// `rest` or `cross_cluster`.
    pub key_type: ApiKeyType,
    /// Creation instant.
    pub creation: EpochMillis,
    /// Expiration instant.
    pub expiration: Option<EpochMillis>,
    /// Whether invalidated.
    pub invalidated: bool,
    /// Invalidation instant.
    pub invalidation: Option<EpochMillis>,
    /// Owner username.
    pub username: String,
    /// Owner realm name.
    pub realm: String,
    /// Owner realm type.
    pub realm_type: Option<String>,
    /// User metadata (`{}` when none).
    pub metadata: Map<String, Value>,
    /// The key's own descriptors, normalised.
    pub role_descriptors: Map<String, Value>,
    /// The owner snapshot, when asked for and the key is a REST key.
    pub limited_by: Option<Map<String, Value>>,
    /// A cross-cluster key's `access`, rebuilt from its descriptor (reference §9.3).
    pub access: Option<Map<String, Value>>,
    /// A cross-cluster key's certificate identity pattern, if it has one.
    pub certificate_identity: Option<String>,
    /// The uid of the owner's profile, when asked for and the owner has one.
    pub profile_uid: Option<String>,
}

/// How many keys a listing reads from the store at a time: enough that the per-read cost
/// (a seek in the creation index, a trip to the blocking pool) vanishes next to the rows, few
/// enough that a page of keys with large descriptors stays a few megabytes.
const LISTING_PAGE_SIZE: usize = 1000;

/// The keys a retrieval selects, read from the store a page at a time in (creation, id) order
/// ([`SecurityService::list_api_keys`]). Pages are separate reads: a key written while the
/// listing runs may or may not be in it, but a key stored throughout is returned exactly once.
pub struct ApiKeyListing {
    store: Arc<dyn Store>,
    filter: ApiKeyFilter,
    /// The username and realm whose keys alone the caller may see, when it may not see all.
    owner: Option<(String, String)>,
    with_limited_by: bool,
    with_profile_uid: bool,
    after: Option<ApiKeyCursor>,
    page_size: usize,
    done: bool,
}

impl ApiKeyListing {
    /// Whether every key has been returned: [`Self::next_page`] has nothing more to give.
    pub fn is_finished(&self) -> bool {
        self.done
    }

    /// The next keys of the listing, at most one page of them and never an empty list; `None`
    /// once every key has been returned.
    pub async fn next_page(&mut self) -> Result<Option<Vec<ApiKeyInfo>>, Error> {
        while !self.done {
            let records = self
                .store
                .find_api_keys_page(&self.filter, self.after.as_ref(), self.page_size)
                .await?;
            self.done = records.len() < self.page_size;
            let Some(last) = records.last() else {
                break;
            };
            self.after = Some(ApiKeyCursor::after(last));
            let page = records
                .into_iter()
                .filter(|record| match &self.owner {
                    Some((username, realm)) => {
                        record.creator.principal == *username && record.creator.realm == *realm
                    }
                    None => true,
                })
                .map(|record| api_key_info(record, self.with_limited_by))
                .collect::<Result<Vec<_>, Error>>()?;
            let mut page = page;
            if self.with_profile_uid {
                crate::profiles::fill_profile_uids(self.store.as_ref(), &mut page).await?;
            }
            if !page.is_empty() {
                return Ok(Some(page));
            }
        }
        Ok(None)
    }
}

impl std::fmt::Debug for ApiKeyListing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiKeyListing")
            .field("filter", &self.filter)
            .field("after", &self.after)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

/// `security.invalidate_api_key`.
#[derive(Debug, Clone, Default)]
pub struct InvalidateApiKeys {
    /// Key ids.
    pub ids: Option<Vec<String>>,
    /// A name, `*`, or a prefix ending in `*`.
    pub name: Option<String>,
    /// Owner username.
    pub username: Option<String>,
    /// Owner realm.
    pub realm_name: Option<String>,
    /// Only the caller's own keys.
    pub owner: bool,
}

/// What an invalidation did.
#[derive(Debug, Default)]
pub struct InvalidateResult {
    /// Keys invalidated by this call.
    pub invalidated: Vec<String>,
    /// Keys selected but invalidated concurrently by someone else.
    pub previously_invalidated: Vec<String>,
    /// Keys that could not be invalidated, with why.
    pub errors: Vec<Error>,
}

/// `security.update_api_key` and `security.bulk_update_api_keys`.
#[derive(Debug, Clone, Default)]
pub struct UpdateApiKey {
    /// Replacement descriptors (`Some(empty)` removes them all).
    pub role_descriptors: Option<RoleDescriptors>,
    /// Replacement metadata.
    pub metadata: Option<Map<String, Value>>,
    /// New expiration, from now.
    pub expiration: Option<TimeValue>,
}

/// What a bulk update did, per id in request order.
#[derive(Debug, Default)]
pub struct BulkUpdateResult {
    /// Ids written.
    pub updated: Vec<String>,
    /// Ids that needed no change.
    pub noops: Vec<String>,
    /// Ids that failed, with why.
    pub errors: Vec<(String, Error)>,
}

/// What a new REST key is made of, before it has an id and a secret.
pub(crate) struct KeyTemplate {
    pub(crate) name: String,
    pub(crate) expiration: Option<EpochMillis>,
    /// The key's own role descriptors, as stored.
    pub(crate) role_descriptors: String,
    /// The owner's snapshot, as stored.
    pub(crate) limited_by: String,
    pub(crate) metadata: Option<String>,
    pub(crate) creator: Creator,
}

impl KeyTemplate {
    /// A key as a create request for `owner` describes it.
    fn of_request(owner: &Authentication, request: CreateApiKey, now: EpochMillis) -> KeyTemplate {
        let role_descriptors = request.role_descriptors.unwrap_or_default();
        KeyTemplate {
            name: request.name.unwrap_or_default(),
            expiration: request
                .expiration
                .map(|duration| expiration_from(now, duration)),
            role_descriptors: Value::Object(role_descriptors.to_json()).to_string(),
            limited_by: Value::Object(limited_by_snapshot(owner).to_json()).to_string(),
            metadata: request
                .metadata
                .map(|metadata| Value::Object(metadata).to_string()),
            creator: creator_of(owner),
        }
    }
}

/// A key made and not written yet: its secret is handed out once the write is durable.
pub(crate) struct NewKey {
    id: ApiKeyId,
    secret: ApiKeySecret,
    record: ApiKeyRecord,
    entry: crate::key_cache::KeyEntry,
}

/// Which cache entries `security.clear_api_key_cache` drops.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClearCacheTarget {
    /// Every entry (`*`).
    All,
    /// These ids.
    Ids(Vec<String>),
}

/// How often an update retries when the key changes under it.
const UPDATE_ATTEMPTS: usize = 3;

impl SecurityService {
    /// Creates a REST API key owned by `subject`.
    pub async fn create_api_key(
        &self,
        subject: &Authentication,
        request: CreateApiKey,
    ) -> Result<CreatedApiKey, Error> {
        self.require_enabled()?;
        let mut errors = ValidationErrors::default();
        validate_create(&request, &mut errors);
        errors.into_result()?;
        self.authorize(subject, actions::CREATE_API_KEY)?;
        self.create_owned_by(subject, request).await
    }

    /// Creates a REST key owned by `subject` from a validated request; the caller has
    /// authorized it (create, or grant on someone else's behalf).
    pub(crate) async fn create_owned_by(
        &self,
        subject: &Authentication,
        request: CreateApiKey,
    ) -> Result<CreatedApiKey, Error> {
        if subject.is_api_key()
            && request.role_descriptors.as_ref().is_none_or(|descriptors| {
                descriptors.is_empty() || descriptors.grants_any_privilege()
            })
        {
            return Err(Error::illegal_argument(
                "creating derived api keys requires an explicit role descriptor that is empty (has no privileges)",
            ));
        }
        let now = self.now();
        let template = KeyTemplate::of_request(subject, request, now);
        self.create_from_template(template, now).await
    }

    /// Creates the REST key `template` describes; the caller has validated and authorized it.
    pub(crate) async fn create_from_template(
        &self,
        template: KeyTemplate,
        now: EpochMillis,
    ) -> Result<CreatedApiKey, Error> {
        let new_key = self.new_key(template, now).await?;
        let keys = &self.inner.keys;
        // Read before the write: an invalidation (by name or owner) right after it must win.
        let generation = keys.generation();
        self.inner
            .store
            .create_api_key(new_key.record.clone())
            .await?;
        Ok(self.cache_created(generation, new_key, now))
    }

    /// Creates REST keys owned by `owner` from validated requests, in one store write: every
    /// key or, when it fails, none. The caller has authorized it (bulk grant).
    pub(crate) async fn create_many_owned_by(
        &self,
        owner: &Authentication,
        requests: Vec<CreateApiKey>,
    ) -> Result<Vec<CreatedApiKey>, Error> {
        let now = self.now();
        let mut new_keys = Vec::with_capacity(requests.len());
        for request in requests {
            let template = KeyTemplate::of_request(owner, request, now);
            new_keys.push(self.new_key(template, now).await?);
        }
        let keys = &self.inner.keys;
        let generation = keys.generation();
        let records = new_keys.iter().map(|key| key.record.clone()).collect();
        self.inner.store.import_api_keys(records).await?;
        Ok(new_keys
            .into_iter()
            .map(|key| self.cache_created(generation, key, now))
            .collect())
    }

    /// A key with a fresh id and secret made from `template`, not written yet.
    async fn new_key(&self, template: KeyTemplate, now: EpochMillis) -> Result<NewKey, Error> {
        let mut rng = OsRandom;
        let id = ApiKeyId::generate(&mut rng);
        let secret = ApiKeySecret::generate(&mut rng);
        let hash = self.hash_secret(&secret).await?;
        let record = ApiKeyRecord {
            id: id.as_str().to_owned(),
            name: template.name,
            key_type: ApiKeyType::Rest,
            creation: now,
            expiration: template.expiration,
            invalidated: false,
            invalidation: None,
            hash,
            role_descriptors: template.role_descriptors,
            limited_by: template.limited_by,
            metadata: template.metadata,
            creator: template.creator,
            format_version: API_KEY_FORMAT_VERSION,
            certificate_identity: None,
            seq: 1,
        };
        let entry = self.key_entry(&record)?;
        Ok(NewKey {
            id,
            secret,
            record,
            entry,
        })
    }

    /// Fills the cache with a key just written, so that its first use costs no slow hash
    /// (Elasticsearch does the same), and hands out its secret.
    fn cache_created(&self, generation: u64, key: NewKey, now: EpochMillis) -> CreatedApiKey {
        let keys = &self.inner.keys;
        let digest = keys.digest(key.secret.expose().as_bytes());
        keys.insert(generation, key.id.as_str(), digest, key.entry, now);
        let encoded = Zeroizing::new(encode_api_key(&key.id, &key.secret));
        CreatedApiKey {
            id: key.id,
            name: key.record.name,
            expiration: key.record.expiration,
            secret: key.secret,
            encoded,
        }
    }

    /// Retrieves keys, all at once. An empty result for a given `id` is Elasticsearch's 404;
    /// the caller decides the status. For listings that may be large, [`Self::list_api_keys`]
    /// reads the same keys a page at a time.
    pub async fn get_api_keys(
        &self,
        subject: &Authentication,
        request: GetApiKeys,
    ) -> Result<Vec<ApiKeyInfo>, Error> {
        let mut listing = self.list_api_keys(subject, request).await?;
        let mut keys = Vec::new();
        while let Some(page) = listing.next_page().await? {
            keys.extend(page);
        }
        Ok(keys)
    }

    /// Validates and authorizes a retrieval of keys, and returns the listing, read from the
    /// store a page at a time as [`ApiKeyListing::next_page`] is called: memory is bounded by
    /// the page size, not by the number of keys. Every error of the request itself (validation,
    /// authorization) comes from this call, before any key is read.
    pub async fn list_api_keys(
        &self,
        subject: &Authentication,
        request: GetApiKeys,
    ) -> Result<ApiKeyListing, Error> {
        self.require_enabled()?;
        let mut errors = ValidationErrors::default();
        let by_key = request.id.is_some() || request.name.is_some();
        let by_owner = request.username.is_some() || request.realm_name.is_some();
        if by_key && by_owner {
            errors.add("username or realm name must not be specified when the api key id or api key name is specified");
        }
        if request.owner && by_owner {
            errors.add(
                "neither username nor realm-name may be specified when retrieving owned API keys",
            );
        }
        if request.id.is_some() && request.name.is_some() {
            errors.add("only one of [api key id, api key name] can be specified");
        }
        errors.into_result()?;

        let grant = self.authorize(subject, actions::GET_API_KEY)?;
        let own_only = grant == ClusterGrant::OwnApiKeys;
        if own_only {
            let allowed = match &subject.api_key {
                // An API key owns no other key, not even its siblings: only itself, by its id.
                Some(key) => {
                    request.id.as_deref() == Some(key.id.as_str()) && !request.with_limited_by
                }
                None => self.own_key_request(
                    subject,
                    request.owner,
                    &request.username,
                    &request.realm_name,
                ),
            };
            if !allowed {
                return Err(self.deny(subject, actions::GET_API_KEY));
            }
        }

        let now = self.now();
        let mut filter = ApiKeyFilter {
            ids: request.id.map(|id| vec![id]),
            name: request.name.as_deref().map(name_pattern),
            username: request.username,
            realm: request.realm_name,
            ..ApiKeyFilter::default()
        };
        if request.owner {
            filter.username = Some(subject.user.username.clone());
            filter.realm = Some(subject.owner_realm.name.clone());
        }
        if request.active_only {
            filter.exclude_invalidated = true;
            filter.exclude_expired_at = Some(now);
        }
        Ok(ApiKeyListing {
            store: Arc::clone(&self.inner.store),
            filter,
            owner: own_only.then(|| {
                (
                    subject.user.username.clone(),
                    subject.owner_realm.name.clone(),
                )
            }),
            with_limited_by: request.with_limited_by,
            with_profile_uid: request.with_profile_uid,
            after: None,
            page_size: LISTING_PAGE_SIZE,
            done: false,
        })
    }

    /// Invalidates keys.
    pub async fn invalidate_api_keys(
        &self,
        subject: &Authentication,
        request: InvalidateApiKeys,
    ) -> Result<InvalidateResult, Error> {
        self.require_enabled()?;
        let mut errors = ValidationErrors::default();
        let by_key = request.ids.is_some() || request.name.is_some();
        let by_owner = request.username.is_some() || request.realm_name.is_some();
        if !by_key && !by_owner && !request.owner {
            errors.add("One of [api key id(s), api key name, username, realm name] must be specified if [owner] flag is false");
        }
        if by_key && by_owner {
            errors.add("username or realm name must not be specified when the api key id(s) or api key name are specified");
        }
        if request.owner && by_owner {
            errors.add(
                "neither username nor realm-name may be specified when invalidating owned API keys",
            );
        }
        if request.ids.is_some() && request.name.is_some() {
            errors.add("only one of [api key id(s), api key name] can be specified");
        }
        errors.into_result()?;

        let grant = self.authorize(subject, actions::INVALIDATE_API_KEY)?;
        let own_only = grant == ClusterGrant::OwnApiKeys;
        if own_only {
            let allowed = match &subject.api_key {
                // An API key may invalidate itself, by its one id, and nothing else.
                Some(key) => {
                    matches!(&request.ids, Some(ids) if ids.len() == 1 && ids[0] == key.id)
                }
                None => self.own_key_request(
                    subject,
                    request.owner,
                    &request.username,
                    &request.realm_name,
                ),
            };
            if !allowed {
                return Err(self.deny(subject, actions::INVALIDATE_API_KEY));
            }
        }

        let mut filter = ApiKeyFilter {
            ids: request.ids,
            name: request.name.as_deref().map(name_pattern),
            username: request.username,
            realm: request.realm_name,
            exclude_invalidated: true,
            ..ApiKeyFilter::default()
        };
        if request.owner {
            filter.username = Some(subject.user.username.clone());
            filter.realm = Some(subject.owner_realm.name.clone());
        }
        let records = self.inner.store.find_api_keys(&filter).await?;
        let may_invalidate_cross_cluster = subject
            .permission
            .check_cluster(actions::CREATE_CROSS_CLUSTER_API_KEY)
            == ClusterGrant::Full;
        let mut result = InvalidateResult::default();
        let mut selected = Vec::new();
        for record in records {
            if own_only && !subject.owns(&record.creator) {
                continue;
            }
            if record.key_type == ApiKeyType::CrossCluster && !may_invalidate_cross_cluster {
                result.errors.push(Error::Forbidden(format!(
                    "Cannot invalidate cross-cluster API key [{}]. This requires [manage_security] cluster privilege or higher",
                    record.id
                )));
                continue;
            }
            selected.push(record.id);
        }
        if selected.is_empty() {
            return Ok(result);
        }
        let now = self.now();
        let (selected, changed) = self
            .write_unit(move |service| async move {
                let changed = service
                    .inner
                    .store
                    .invalidate_api_keys(&selected, now)
                    .await?;
                for id in &selected {
                    service.inner.keys.remove(id);
                }
                Ok((selected, changed))
            })
            .await?;
        result.previously_invalidated = selected
            .into_iter()
            .filter(|id| !changed.contains(id))
            .collect();
        result.invalidated = changed;
        self.after_invalidation(now);
        Ok(result)
    }

    /// Updates one of the caller's own keys; `Ok(false)` when nothing needed changing.
    pub async fn update_api_key(
        &self,
        subject: &Authentication,
        id: &str,
        request: UpdateApiKey,
    ) -> Result<bool, Error> {
        self.require_enabled()?;
        validate_update(&request)?;
        self.authorize(subject, actions::UPDATE_API_KEY)?;
        require_user_caller(subject)?;
        self.update_one(subject, id, ApiKeyType::Rest, |stored, now| {
            updated_record(subject, stored, &request, now)
        })
        .await
    }

    /// Applies one update to many keys, reporting each.
    pub async fn bulk_update_api_keys(
        &self,
        subject: &Authentication,
        ids: Vec<String>,
        request: UpdateApiKey,
    ) -> Result<BulkUpdateResult, Error> {
        self.require_enabled()?;
        let mut errors = ValidationErrors::default();
        if ids.is_empty() {
            errors.add("Field [ids] cannot be empty");
        }
        if let Err(Error::Domain(keyward_core::Error::Validation(more))) = validate_update(&request)
        {
            for message in more.messages() {
                errors.add(message.clone());
            }
        }
        errors.into_result()?;
        self.authorize(subject, actions::BULK_UPDATE_API_KEY)?;
        require_user_caller(subject)?;
        let mut result = BulkUpdateResult::default();
        let mut seen = std::collections::HashSet::new();
        for id in ids {
            if !seen.insert(id.clone()) {
                continue;
            }
            match self
                .update_one(subject, &id, ApiKeyType::Rest, |stored, now| {
                    updated_record(subject, stored, &request, now)
                })
                .await
            {
                Ok(true) => result.updated.push(id),
                Ok(false) => result.noops.push(id),
                Err(err @ Error::Store(_)) => return Err(err),
                Err(err) => result.errors.push((id, err)),
            }
        }
        Ok(result)
    }

    /// Drops cache entries so the next use of those keys is checked against the store.
    pub async fn clear_api_key_cache(
        &self,
        subject: &Authentication,
        target: ClearCacheTarget,
    ) -> Result<(), Error> {
        self.require_enabled()?;
        self.require_full(subject, actions::CLEAR_SECURITY_CACHE)?;
        let change = match target {
            ClearCacheTarget::All => Change::AllApiKeys,
            ClearCacheTarget::Ids(ids) => Change::ApiKeys(ids),
        };
        // Here at once, and on every other node sharing the store before the answer.
        self.apply_change(&change);
        self.inner.store.announce(change).await?;
        Ok(())
    }

    /// Checks that `subject` may perform a cluster action unconditionally.
    pub fn require_full(&self, subject: &Authentication, action: &str) -> Result<(), Error> {
        match subject.permission.check_cluster(action) {
            ClusterGrant::Full => Ok(()),
            ClusterGrant::OwnApiKeys | ClusterGrant::None => Err(self.deny(subject, action)),
        }
    }

    /// Updates the key `id` of type `key_type` owned by `subject`, retrying when the key changed
    /// between read and write; `false` when the request changes nothing.
    pub(crate) async fn update_one(
        &self,
        subject: &Authentication,
        id: &str,
        key_type: ApiKeyType,
        updated_record: impl Fn(&ApiKeyRecord, EpochMillis) -> Result<Option<ApiKeyRecord>, Error>,
    ) -> Result<bool, Error> {
        let not_found = || {
            Error::NotFound(format!(
                "no API key owned by requesting user found for ID [{id}]"
            ))
        };
        for _ in 0..UPDATE_ATTEMPTS {
            let Some(stored) = self.inner.store.api_key(id).await? else {
                return Err(not_found());
            };
            if !subject.owns(&stored.creator) {
                return Err(not_found());
            }
            let now = self.now();
            check_updatable(&stored, key_type, now)?;
            let Some(updated) = updated_record(&stored, now)? else {
                return Ok(false);
            };
            // The updated key must be readable back before it is written.
            self.key_entry(&updated)?;
            let key = id.to_owned();
            let outcome = self
                .write_unit(move |service| async move {
                    let outcome = service.inner.store.update_api_keys(vec![updated]).await?;
                    let outcome = outcome.first().copied();
                    if outcome == Some(UpdateOutcome::Updated) {
                        service.inner.keys.remove(&key);
                    }
                    Ok(outcome)
                })
                .await?;
            match outcome {
                Some(UpdateOutcome::Updated) => return Ok(true),
                Some(UpdateOutcome::Conflict) | None => continue,
            }
        }
        Err(Error::Internal(format!(
            "api key [{id}] kept changing during the update"
        )))
    }

    fn own_key_request(
        &self,
        subject: &Authentication,
        owner: bool,
        username: &Option<String>,
        realm: &Option<String>,
    ) -> bool {
        owner
            || (username.as_deref() == Some(subject.user.username.as_str())
                && realm.as_deref() == Some(subject.owner_realm.name.as_str()))
    }

    fn authorize(&self, subject: &Authentication, action: &str) -> Result<ClusterGrant, Error> {
        match subject.permission.check_cluster(action) {
            ClusterGrant::None => Err(self.deny(subject, action)),
            grant => Ok(grant),
        }
    }

    /// The 403 for `action`, naming the subject as Elasticsearch does.
    pub fn deny(&self, subject: &Authentication, action: &str) -> Error {
        Error::Unauthorized(Box::new(self.denial(subject, action)))
    }

    pub(crate) fn require_enabled(&self) -> Result<(), Error> {
        if self.inner.config.enabled {
            Ok(())
        } else {
            Err(Error::FeatureNotEnabled)
        }
    }

    pub(crate) async fn hash_secret(&self, secret: &ApiKeySecret) -> Result<String, Error> {
        let algorithm = self.inner.config.hashing_algorithm;
        if algorithm == HashAlgorithm::Ssha256 {
            return Ok(hash_secret(
                algorithm,
                secret.expose().as_bytes(),
                &mut OsRandom,
            ));
        }
        let material = Zeroizing::new(secret.expose().as_bytes().to_vec());
        tokio::task::spawn_blocking(move || hash_secret(algorithm, &material, &mut OsRandom))
            .await
            .map_err(|err| Error::Internal(format!("hashing task failed: {err}")))
    }
}

/// Elasticsearch's expiration instant: now plus the whole seconds of the duration.
pub(crate) fn expiration_from(now: EpochMillis, duration: TimeValue) -> EpochMillis {
    now.saturating_add(duration.whole_seconds().saturating_mul(1000))
}

fn name_pattern(name: &str) -> NamePattern {
    if name == "*" {
        NamePattern::All
    } else if let Some(prefix) = name.strip_suffix('*') {
        NamePattern::Prefix(prefix.to_owned())
    } else {
        NamePattern::Exact(name.to_owned())
    }
}

pub(crate) fn creator_of(subject: &Authentication) -> Creator {
    Creator {
        principal: subject.user.username.clone(),
        full_name: subject.user.full_name.clone(),
        email: subject.user.email.clone(),
        metadata: subject.user.metadata.clone(),
        realm: subject.owner_realm.name.clone(),
        realm_type: subject.owner_realm.realm_type.clone(),
    }
}

/// The owner snapshot a new or updated key is limited by: the user's roles without descriptions;
/// for a key creating a derived key, the creating key's own privileges.
fn limited_by_snapshot(subject: &Authentication) -> RoleDescriptors {
    match &subject.permission {
        Permission::Roles(roles) => roles.descriptors().without_descriptions(),
        Permission::Limited {
            assigned,
            limited_by,
        } => assigned
            .as_ref()
            .unwrap_or(limited_by)
            .descriptors()
            .without_descriptions(),
    }
}

/// The validation of a create request's fields (also the `api_key` of a grant).
pub(crate) fn validate_create(request: &CreateApiKey, errors: &mut ValidationErrors) {
    validate_name(request.name.as_deref(), errors);
    if let Some(metadata) = &request.metadata {
        validate_metadata(metadata, errors);
    }
    if let Some(descriptors) = &request.role_descriptors {
        descriptors.validate(errors);
    }
}

pub(crate) fn require_user_caller(subject: &Authentication) -> Result<(), Error> {
    if subject.is_api_key() {
        return Err(Error::illegal_argument(
            "authentication via API key not supported: only the owner user can update an API key",
        ));
    }
    Ok(())
}

fn validate_update(request: &UpdateApiKey) -> Result<(), Error> {
    let mut errors = ValidationErrors::default();
    if let Some(metadata) = &request.metadata {
        validate_metadata(metadata, &mut errors);
    }
    if let Some(descriptors) = &request.role_descriptors {
        descriptors.validate(&mut errors);
    }
    if let Some(expiration) = request.expiration
        && expiration.whole_seconds() <= 0
        && expiration.millis() <= 0
    {
        errors.add("API key expiration must be in the future");
    }
    Ok(errors.into_result()?)
}

pub(crate) fn check_updatable(
    stored: &ApiKeyRecord,
    expected: ApiKeyType,
    now: EpochMillis,
) -> Result<(), Error> {
    if stored.key_type != expected {
        return Err(Error::illegal_argument(format!(
            "cannot update API key of type [{}] while expected type is [{}]",
            stored.key_type, expected
        )));
    }
    if stored.invalidated {
        return Err(Error::illegal_argument(format!(
            "cannot update invalidated API key [{}]",
            stored.id
        )));
    }
    if is_expired(stored.expiration, now) {
        return Err(Error::illegal_argument(format!(
            "cannot update expired API key [{}]",
            stored.id
        )));
    }
    if stored.name.is_empty() {
        return Err(Error::illegal_argument(format!(
            "cannot update legacy API key [{}] without name",
            stored.id
        )));
    }
    Ok(())
}

/// The record after `request`, or `None` when it would change nothing (Elasticsearch's no-op
/// rules, reference §8.6).
fn updated_record(
    subject: &Authentication,
    stored: &ApiKeyRecord,
    request: &UpdateApiKey,
    now: EpochMillis,
) -> Result<Option<ApiKeyRecord>, Error> {
    let creator = creator_of(subject);
    let limited_by = limited_by_snapshot(subject);
    let stored_limited_by = RoleDescriptors::from_stored(&parse_stored(&stored.limited_by)?)?;
    let stored_descriptors =
        RoleDescriptors::from_stored(&parse_stored(&stored.role_descriptors)?)?;
    let stored_metadata = match &stored.metadata {
        Some(text) => match parse_stored(text)? {
            Value::Object(map) => Some(map),
            _ => None,
        },
        None => None,
    };
    let noop = stored.format_version == API_KEY_FORMAT_VERSION
        && request.expiration.is_none()
        && stored.creator == creator
        && request
            .metadata
            .as_ref()
            .is_none_or(|metadata| Some(metadata) == stored_metadata.as_ref())
        && request
            .role_descriptors
            .as_ref()
            .is_none_or(|descriptors| descriptors.set_equal(&stored_descriptors))
        && limited_by.set_equal(&stored_limited_by);
    if noop {
        return Ok(None);
    }
    let mut updated = stored.clone();
    if let Some(expiration) = request.expiration {
        updated.expiration = Some(expiration_from(now, expiration));
    }
    if let Some(descriptors) = &request.role_descriptors {
        updated.role_descriptors = Value::Object(descriptors.to_json()).to_string();
    }
    if let Some(metadata) = &request.metadata {
        updated.metadata = Some(Value::Object(metadata.clone()).to_string());
    }
    updated.limited_by = Value::Object(limited_by.to_json()).to_string();
    updated.creator = creator;
    updated.format_version = API_KEY_FORMAT_VERSION;
    Ok(Some(updated))
}

pub(crate) fn object(text: &str) -> Result<Map<String, Value>, Error> {
    match parse_stored(text)? {
        Value::Object(map) => Ok(map),
        _ => Err(Error::Internal("stored JSON is not an object".to_owned())),
    }
}

pub(crate) fn api_key_info(
    record: ApiKeyRecord,
    with_limited_by: bool,
) -> Result<ApiKeyInfo, Error> {
    // Elasticsearch never shows `limited_by` for cross-cluster keys: they have none.
    let limited_by = if with_limited_by && record.key_type == ApiKeyType::Rest {
        Some(object(&record.limited_by)?)
    } else {
        None
    };
    let access = match record.key_type {
        ApiKeyType::CrossCluster => Some(crate::cross_cluster::stored_access(&record)?.to_json()),
        ApiKeyType::Rest => None,
    };
    Ok(ApiKeyInfo {
        access,
        certificate_identity: record.certificate_identity.clone(),
        metadata: match &record.metadata {
            Some(text) => object(text)?,
            None => Map::new(),
        },
        role_descriptors: object(&record.role_descriptors)?,
        limited_by,
        realm_type: Some(record.creator.realm_type).filter(|realm_type| !realm_type.is_empty()),
        username: record.creator.principal,
        realm: record.creator.realm,
        id: record.id,
        name: record.name,
        key_type: record.key_type,
        creation: record.creation,
        expiration: record.expiration,
        invalidated: record.invalidated,
        invalidation: record.invalidation,
        profile_uid: None,
    })
}
