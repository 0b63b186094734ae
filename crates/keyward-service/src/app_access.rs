//! Application-privilege decisions for requests a reverse proxy forwards: whether a subject
//! holds an application's privileges on one resource, answered from caches on the hot path.
//!
//! Two caches, one rule ([`Generation`]): the stored application privileges of each
//! application asked about, and the decisions themselves, keyed by the permissions that made
//! them. Any change to roles or application privileges (on this node or, through the store's
//! change feed, on another) bumps the generation and empties both, so a privilege taken away is
//! refused on the very next request.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use keyward_core::authz::{ApplicationPrivileges, Permission, RolePermission};
use keyward_core::automaton::{REQUEST_WORK, with_request_budget};

use crate::authn::Authentication;
use crate::cache::Generation;
use crate::{Error, SecurityService};

/// The most decisions kept; beyond it the least used are made again.
const DECISIONS: usize = 16 * 1024;

/// The stored application privileges and the decisions made with them.
pub(crate) struct AppAccessCache {
    generation: Generation,
    stored: Mutex<HashMap<String, Arc<ApplicationPrivileges>>>,
    decisions: quick_cache::sync::Cache<DecisionKey, Decision>,
}

/// A decision's question: the permissions asked (by address: the decision keeps them alive, so
/// no other permission can take their address while it is cached) and what was asked of them.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct DecisionKey {
    first: usize,
    second: usize,
    /// Application, privileges and resource, NUL-separated (none of them may hold a NUL).
    question: String,
}

/// The permissions a decision keeps alive.
type Pins = (Arc<RolePermission>, Option<Arc<RolePermission>>);

#[derive(Clone)]
struct Decision {
    generation: u64,
    held: bool,
    _pins: Pins,
}

impl AppAccessCache {
    pub(crate) fn new() -> AppAccessCache {
        AppAccessCache {
            generation: Generation::default(),
            stored: Mutex::default(),
            decisions: quick_cache::sync::Cache::new(DECISIONS),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<ApplicationPrivileges>>> {
        self.stored
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Forgets everything (roles or application privileges changed).
    pub(crate) fn clear(&self) {
        self.generation.bump();
        self.lock().clear();
        self.decisions.clear();
    }

    /// Forgets everything and keeps nothing until [`AppAccessCache::resume`].
    pub(crate) fn suspend(&self) {
        self.generation.suspend();
        self.lock().clear();
        self.decisions.clear();
    }

    /// Caches again, from empty.
    pub(crate) fn resume(&self) {
        self.lock().clear();
        self.decisions.clear();
        self.generation.resume();
    }
}

impl SecurityService {
    /// Whether `subject` holds every one of `privileges` (names or action patterns) of
    /// `application` on the resource named `resource` (a name, never a pattern, whatever it
    /// holds), with Elasticsearch's application-privilege semantics: for an API key, both the
    /// key's own descriptors and its owner's snapshot must grant it.
    pub async fn holds_application_privileges(
        &self,
        subject: &Authentication,
        application: &str,
        privileges: &[String],
        resource: &str,
    ) -> Result<bool, Error> {
        if privileges.is_empty()
            || [application, resource]
                .iter()
                .any(|text| text.contains('\0'))
        {
            return Ok(false);
        }
        let cache = &self.inner.app_access;
        let (pins, first, second) = pins(&subject.permission);
        let mut question = String::with_capacity(application.len() + resource.len() + 32);
        question.push_str(application);
        for privilege in privileges {
            if privilege.contains('\0') {
                return Ok(false);
            }
            question.push('\0');
            question.push_str(privilege);
        }
        question.push('\0');
        question.push_str(resource);
        let key = DecisionKey {
            first,
            second,
            question,
        };
        let generation = cache.generation.current();
        if cache.generation.usable()
            && let Some(decision) = cache.decisions.get(&key)
            && decision.generation == generation
        {
            return Ok(decision.held);
        }
        let stored = self.stored_app_privileges(application, generation).await?;
        let requested: Vec<&str> = privileges.iter().map(String::as_str).collect();
        let (held, exhausted) = with_request_budget(REQUEST_WORK, || {
            subject.permission.holds_application_privileges(
                application,
                resource,
                &requested,
                &stored,
            )
        });
        // A question too costly to answer is answered no.
        let held = held && !exhausted;
        cache.generation.insert_unless_removed(
            generation,
            || {
                cache.decisions.insert(
                    key.clone(),
                    Decision {
                        generation,
                        held,
                        _pins: pins,
                    },
                );
            },
            || {
                cache.decisions.remove(&key);
            },
        );
        Ok(held)
    }

    /// The stored privileges of `application`, from the cache when it holds them.
    pub(crate) async fn cached_app_privileges(
        &self,
        application: &str,
    ) -> Result<Arc<ApplicationPrivileges>, Error> {
        let generation = self.inner.app_access.generation.current();
        self.stored_app_privileges(application, generation).await
    }

    /// [`SecurityService::cached_app_privileges`] for a caller that read the generation first.
    async fn stored_app_privileges(
        &self,
        application: &str,
        generation: u64,
    ) -> Result<Arc<ApplicationPrivileges>, Error> {
        let cache = &self.inner.app_access;
        if cache.generation.usable()
            && let Some(stored) = cache.lock().get(application)
        {
            return Ok(Arc::clone(stored));
        }
        let mut stored = ApplicationPrivileges::new();
        for record in self
            .inner
            .store
            .app_privileges(Some(application), None)
            .await?
        {
            stored.insert(&record.application, &record.name, &record.actions);
        }
        let stored = Arc::new(stored);
        cache.generation.insert_unless_removed(
            generation,
            || {
                cache
                    .lock()
                    .insert(application.to_owned(), Arc::clone(&stored));
            },
            || {
                cache.lock().remove(application);
            },
        );
        Ok(stored)
    }
}

/// The permissions a decision rests on, and their addresses.
fn pins(permission: &Permission) -> (Pins, usize, usize) {
    let (first, second) = match permission {
        Permission::Roles(roles) => (Arc::clone(roles), None),
        Permission::Limited {
            assigned,
            limited_by,
        } => (Arc::clone(limited_by), assigned.clone()),
    };
    let first_address = Arc::as_ptr(&first) as usize;
    let second_address = second
        .as_ref()
        .map_or(0, |second| Arc::as_ptr(second) as usize);
    ((first, second), first_address, second_address)
}
