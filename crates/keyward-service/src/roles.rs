//! Roles: resolving role names to the permission they grant (built-in roles plus the roles in
//! the store, cached per set of names), and the roles API (put, get, delete, bulk, clear cache).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use keyward_core::ValidationErrors;
use keyward_core::authz::RolePermission;
use keyward_core::native::validate_role_name;
use keyward_core::privilege::actions;
use keyward_core::reserved::{RESERVED_ROLE_NAMES, is_reserved_role, reserved_role};
use keyward_core::role::{RoleDescriptor, RoleDescriptors};
use keyward_store::{Change, RoleRecord, Store};
use serde_json::Value;

use crate::authn::{Authentication, parse_stored};
use crate::cache::Generation;
use crate::metrics::{CacheCounters, CacheStats};
use crate::{Error, SecurityService};

/// The most role-name sets the resolver remembers before it starts over.
const MAX_CACHED_ROLE_SETS: usize = 10_000;

/// Turns role names into the permission they grant, caching one permission per sorted set of
/// names. Every change to a role clears the cache.
#[derive(Debug)]
pub(crate) struct RoleResolver {
    cache: Mutex<HashMap<Vec<String>, Arc<RolePermission>>>,
    /// Bumped by every clear, so that a resolution that read the store before a change does not
    /// put its stale answer in the cache after it (the caches' one rule, [`Generation`]; here
    /// the check and the insert happen under the map's lock, which a clear takes too).
    generation: Generation,
    /// Hits, misses and evictions (a full cache starts over: each set it held is evicted).
    counters: CacheCounters,
}

impl Default for RoleResolver {
    fn default() -> RoleResolver {
        RoleResolver {
            cache: Mutex::default(),
            generation: Generation::default(),
            counters: CacheCounters::new(),
        }
    }
}

impl RoleResolver {
    /// Hits, misses and evictions, with the number of role sets held.
    pub(crate) fn stats(&self) -> CacheStats {
        let size = self.lock().len();
        self.counters.stats(size)
    }

    /// The permission of the union of `roles`. Unknown role names grant nothing, as in
    /// Elasticsearch, which only logs them.
    pub(crate) async fn resolve(
        &self,
        store: &dyn Store,
        roles: &[String],
    ) -> Result<Arc<RolePermission>, Error> {
        let mut names = roles.to_vec();
        names.sort_unstable();
        names.dedup();
        if self.generation.usable()
            && let Some(permission) = self.lock().get(&names)
        {
            self.counters.hit();
            return Ok(Arc::clone(permission));
        }
        self.counters.miss();
        let generation = self.generation.current();
        let stored_names: Vec<String> = names
            .iter()
            .filter(|name| !is_reserved_role(name))
            .cloned()
            .collect();
        let mut stored: HashMap<String, RoleRecord> = if stored_names.is_empty() {
            HashMap::new()
        } else {
            store
                .roles(Some(&stored_names))
                .await?
                .into_iter()
                .map(|record| (record.name.clone(), record))
                .collect()
        };
        let mut descriptors = Vec::with_capacity(names.len());
        for name in &names {
            if let Some(descriptor) = reserved_role(name) {
                descriptors.push((name.clone(), descriptor));
            } else if let Some(record) = stored.remove(name) {
                descriptors.push((name.clone(), stored_descriptor(&record)?));
            } else {
                tracing::debug!(role = %name, "unknown role ignored");
            }
        }
        let permission = Arc::new(RolePermission::new(RoleDescriptors(descriptors)));
        let mut cache = self.lock();
        if self.generation.current() == generation && self.generation.usable() {
            if cache.len() >= MAX_CACHED_ROLE_SETS {
                self.counters
                    .evicted_many(u64::try_from(cache.len()).unwrap_or(u64::MAX));
                cache.clear();
            }
            cache.insert(names, Arc::clone(&permission));
        }
        Ok(permission)
    }

    /// Forgets every resolved permission.
    pub(crate) fn clear(&self) {
        let mut cache = self.lock();
        self.generation.bump();
        cache.clear();
    }

    /// Forgets every resolved permission and keeps none until [`RoleResolver::resume`].
    pub(crate) fn suspend(&self) {
        let mut cache = self.lock();
        self.generation.suspend();
        cache.clear();
    }

    /// Caches again, from empty.
    pub(crate) fn resume(&self) {
        let mut cache = self.lock();
        cache.clear();
        self.generation.resume();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Vec<String>, Arc<RolePermission>>> {
        // A poisoned lock only means a thread panicked while holding it; the map is still sound.
        self.cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// What `security.bulk_put_role` did, per role in request order.
#[derive(Debug, Default)]
pub struct BulkPutRolesResult {
    /// Roles that did not exist.
    pub created: Vec<String>,
    /// Roles that changed.
    pub updated: Vec<String>,
    /// Roles that were already exactly so.
    pub noop: Vec<String>,
    /// Roles that failed, with why.
    pub errors: Vec<(String, Error)>,
}

/// What `security.bulk_delete_role` did, per role in request order.
#[derive(Debug, Default)]
pub struct BulkDeleteRolesResult {
    /// Roles deleted.
    pub deleted: Vec<String>,
    /// Roles that did not exist.
    pub not_found: Vec<String>,
    /// Roles that could not be deleted, with why.
    pub errors: Vec<(String, Error)>,
}

impl SecurityService {
    /// Creates or replaces a role; `true` when it was created.
    pub async fn put_role(
        &self,
        subject: &Authentication,
        name: &str,
        descriptor: RoleDescriptor,
    ) -> Result<bool, Error> {
        check_role(name, &descriptor)?;
        self.require_full(subject, actions::PUT_ROLE)?;
        let record = role_record(name, &descriptor);
        self.write_unit(move |service| async move {
            let created = service.inner.store.put_role(record).await?;
            service.roles_changed();
            Ok(created)
        })
        .await
    }

    /// Creates or replaces several roles, reporting each.
    pub async fn bulk_put_roles(
        &self,
        subject: &Authentication,
        roles: Vec<(String, RoleDescriptor)>,
    ) -> Result<BulkPutRolesResult, Error> {
        if roles.is_empty() {
            return Err(Error::Domain(keyward_core::Error::validation(
                "At least one role must be specified",
            )));
        }
        self.require_full(subject, actions::BULK_PUT_ROLE)?;
        let mut result = BulkPutRolesResult::default();
        for (name, descriptor) in roles {
            if let Err(err) = check_role(&name, &descriptor) {
                result.errors.push((name, err));
                continue;
            }
            let record = role_record(&name, &descriptor);
            match self.inner.store.role(&name).await? {
                Some(stored) if stored.descriptor == record.descriptor => result.noop.push(name),
                _ => {
                    let created = self
                        .write_unit(move |service| async move {
                            let created = service.inner.store.put_role(record).await?;
                            service.roles_changed();
                            Ok(created)
                        })
                        .await?;
                    if created {
                        result.created.push(name);
                    } else {
                        result.updated.push(name);
                    }
                }
            }
        }
        Ok(result)
    }

    /// The named roles (built-in or stored; unknown names left out), or every role for `None`:
    /// the built-in ones first, then the stored ones, each sorted by name.
    pub async fn get_roles(
        &self,
        subject: &Authentication,
        names: Option<Vec<String>>,
    ) -> Result<Vec<(String, RoleDescriptor)>, Error> {
        self.require_full(subject, actions::GET_ROLE)?;
        let mut roles = Vec::new();
        match names {
            None => {
                for name in RESERVED_ROLE_NAMES {
                    if let Some(descriptor) = reserved_role(name) {
                        roles.push(((*name).to_owned(), descriptor));
                    }
                }
                for record in self.inner.store.roles(None).await? {
                    let descriptor = stored_descriptor(&record)?;
                    roles.push((record.name, descriptor));
                }
            }
            Some(names) => {
                let mut stored_names = Vec::new();
                for name in &names {
                    if let Some(descriptor) = reserved_role(name) {
                        if !roles.iter().any(|(known, _)| known == name) {
                            roles.push((name.clone(), descriptor));
                        }
                    } else {
                        stored_names.push(name.clone());
                    }
                }
                if !stored_names.is_empty() {
                    for record in self.inner.store.roles(Some(&stored_names)).await? {
                        let descriptor = stored_descriptor(&record)?;
                        roles.push((record.name, descriptor));
                    }
                }
            }
        }
        Ok(roles)
    }

    /// Deletes a stored role; `false` when there was none.
    pub async fn delete_role(&self, subject: &Authentication, name: &str) -> Result<bool, Error> {
        check_deletable(name)?;
        self.require_full(subject, actions::DELETE_ROLE)?;
        self.delete_stored_role(name).await
    }

    /// Deletes several stored roles, reporting each.
    pub async fn bulk_delete_roles(
        &self,
        subject: &Authentication,
        names: Vec<String>,
    ) -> Result<BulkDeleteRolesResult, Error> {
        if names.is_empty() {
            return Err(Error::Domain(keyward_core::Error::validation(
                "role names are missing",
            )));
        }
        self.require_full(subject, actions::BULK_DELETE_ROLE)?;
        let mut result = BulkDeleteRolesResult::default();
        for name in names {
            if let Err(err) = check_deletable(&name) {
                result.errors.push((name, err));
            } else if self.delete_stored_role(&name).await? {
                result.deleted.push(name);
            } else {
                result.not_found.push(name);
            }
        }
        Ok(result)
    }

    /// Deletes a stored role and clears what was resolved from it, as one unit.
    async fn delete_stored_role(&self, name: &str) -> Result<bool, Error> {
        let name = name.to_owned();
        self.write_unit(move |service| async move {
            let found = service.inner.store.delete_role(&name).await?;
            service.roles_changed();
            Ok(found)
        })
        .await
    }

    /// Drops resolved roles from the caches. Any name clears them all: a resolved permission
    /// may combine several roles, so there is nothing narrower to drop.
    pub async fn clear_cached_roles(&self, subject: &Authentication) -> Result<(), Error> {
        self.require_full(subject, actions::CLEAR_ROLES_CACHE)?;
        self.apply_change(&Change::Roles);
        self.inner.store.announce(Change::Roles).await?;
        Ok(())
    }

    /// `security.clear_cached_realms`: drops the cached users of the named realms (`*` for all),
    /// only `usernames` when given, here and on every node.
    pub async fn clear_cached_realms(
        &self,
        subject: &Authentication,
        realms: &[String],
        usernames: Option<Vec<String>>,
    ) -> Result<(), Error> {
        self.require_full(subject, actions::CLEAR_REALM_CACHE)?;
        // Users are cached by the native and reserved realms; API keys and tokens have caches
        // of their own, cleared by their own APIs.
        const REALMS: &[&str] = &[crate::NATIVE_REALM, crate::RESERVED_REALM];
        if let Some(unknown) = realms
            .iter()
            .find(|realm| *realm != "*" && !REALMS.contains(&realm.as_str()))
        {
            return Err(Error::illegal_argument(format!(
                "could not find active realm [{unknown}]"
            )));
        }
        let change = match usernames {
            Some(names) if !names.is_empty() => Change::Users(names),
            _ => Change::AllUsers,
        };
        self.apply_change(&change);
        self.inner.store.announce(change).await?;
        Ok(())
    }

    /// `security.get_stats`: authorizes the caller (`monitor`).
    pub fn security_stats(&self, subject: &Authentication) -> Result<(), Error> {
        self.require_full(subject, actions::SECURITY_STATS)
    }

    /// `security.query_role`: stored roles matching a query, sorted and paged.
    pub async fn query_roles(
        &self,
        subject: &Authentication,
        request: crate::QuerySearch,
    ) -> Result<crate::QueryHits<crate::NamedRole>, Error> {
        let search = crate::query::parse_generic(&request, self.now())?;
        self.require_full(subject, actions::QUERY_ROLE)?;
        // Like Elasticsearch, only stored roles: the built-in ones are left out.
        let mut roles = Vec::new();
        for record in self.inner.store.roles(None).await? {
            let descriptor = stored_descriptor(&record)?;
            roles.push(crate::NamedRole {
                name: record.name,
                descriptor,
            });
        }
        Ok(crate::query::run_in_memory(roles, &search))
    }

    /// The permission of a user with these role names.
    pub(crate) async fn resolve_roles(
        &self,
        roles: &[String],
    ) -> Result<Arc<RolePermission>, Error> {
        self.inner
            .roles
            .resolve(self.inner.store.as_ref(), roles)
            .await
    }

    /// After any role change: resolved permissions and the users authenticated with them are
    /// stale.
    fn roles_changed(&self) {
        self.apply_change(&Change::Roles);
    }
}

/// A role name and descriptor fit to store.
fn check_role(name: &str, descriptor: &RoleDescriptor) -> Result<(), Error> {
    let mut errors = ValidationErrors::default();
    if is_reserved_role(name) {
        errors.add(format!("Role [{name}] is reserved and may not be used."));
    } else {
        validate_role_name(name, &mut errors);
    }
    RoleDescriptors(vec![(name.to_owned(), descriptor.clone())]).validate(&mut errors);
    Ok(errors.into_result()?)
}

fn check_deletable(name: &str) -> Result<(), Error> {
    if is_reserved_role(name) {
        return Err(Error::illegal_argument(format!(
            "role [{name}] is reserved and cannot be deleted"
        )));
    }
    Ok(())
}

fn role_record(name: &str, descriptor: &RoleDescriptor) -> RoleRecord {
    RoleRecord {
        name: name.to_owned(),
        descriptor: Value::Object(descriptor.to_json()).to_string(),
        seq: 0,
    }
}

fn stored_descriptor(record: &RoleRecord) -> Result<RoleDescriptor, Error> {
    let value = parse_stored(&record.descriptor)?;
    let wrapped = Value::Object([(record.name.clone(), value)].into_iter().collect());
    let mut descriptors = RoleDescriptors::from_stored(&wrapped)?;
    descriptors
        .0
        .pop()
        .map(|(_, descriptor)| descriptor)
        .ok_or_else(|| Error::Internal(format!("stored role [{}] is empty", record.name)))
}
