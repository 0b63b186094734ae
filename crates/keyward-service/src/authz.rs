//! Questions a subject asks about itself (`has_privileges`, `get_user_privileges`), clearing the
//! application privileges cache, and run-as: acting as another user through the
//! `es-security-runas-user` header.
//!
//! Every answer comes from the subject's pre-built [`keyward_core::authz::Permission`] and the
//! stored application privileges of the applications asked about, cached until any privilege or
//! role changes.

use std::collections::HashMap;
use std::sync::Arc;

use keyward_core::authz::{ApplicationPrivileges, IndexGroup, Permission, RolePermission};
use keyward_core::automaton::{REQUEST_WORK, with_request_budget};
use keyward_core::privilege::{
    actions, index_privilege_automaton, validate_cluster_privilege, validate_index_privilege,
};
use keyward_core::reserved::reserved_user;
use keyward_store::Change;
use serde_json::{Map, Value, json};

use crate::authn::Authentication;
use crate::{Error, SecurityService, Unauthorized};

/// A `security.has_privileges` request.
#[derive(Debug, Clone, Default)]
pub struct HasPrivileges {
    /// Cluster privilege names or action patterns.
    pub cluster: Vec<String>,
    /// Index privileges to check.
    pub index: Vec<IndexPrivilegesCheck>,
    /// Application privileges to check.
    pub application: Vec<ApplicationPrivilegesCheck>,
}

/// One `index` entry of a has-privileges request.
#[derive(Debug, Clone, Default)]
pub struct IndexPrivilegesCheck {
    /// Index names or patterns.
    pub names: Vec<String>,
    /// Index privilege names or action patterns.
    pub privileges: Vec<String>,
    /// Whether patterns should also cover restricted indices.
    pub allow_restricted_indices: bool,
}

/// One `application` entry of a has-privileges request.
#[derive(Debug, Clone, Default)]
pub struct ApplicationPrivilegesCheck {
    /// The application name.
    pub application: String,
    /// Privilege names or action patterns.
    pub privileges: Vec<String>,
    /// Resource names or patterns.
    pub resources: Vec<String>,
}

/// The answer to `security.has_privileges`, maps in request order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HasPrivilegesResult {
    /// The effective user.
    pub username: String,
    /// Whether every requested privilege is held.
    pub has_all_requested: bool,
    /// Per cluster privilege.
    pub cluster: PrivilegeAnswers,
    /// Per index name, per privilege.
    pub index: Vec<(String, PrivilegeAnswers)>,
    /// Per application, per resource, per privilege.
    pub application: Vec<(String, Vec<(String, PrivilegeAnswers)>)>,
}

/// Whether each named privilege is held, in request order.
pub type PrivilegeAnswers = Vec<(String, bool)>;

impl SecurityService {
    /// Which of the requested privileges `subject` holds. `username` is the user named in the
    /// path, if any: Elasticsearch only lets subjects ask about themselves.
    pub async fn has_privileges(
        &self,
        subject: &Authentication,
        username: Option<&str>,
        request: HasPrivileges,
    ) -> Result<HasPrivilegesResult, Error> {
        if let Some(username) = username
            && username != subject.user.username
        {
            return Err(Error::illegal_argument(
                "users may only check the privileges of their own account",
            ));
        }
        if request.cluster.is_empty() && request.index.is_empty() && request.application.is_empty()
        {
            return Err(Error::Domain(keyward_core::Error::validation(
                "must specify at least one privilege",
            )));
        }
        for privilege in &request.cluster {
            validate_cluster_privilege(privilege).map_err(Error::illegal_argument)?;
        }
        for entry in &request.index {
            for privilege in &entry.privileges {
                validate_index_privilege(privilege).map_err(Error::illegal_argument)?;
            }
        }
        let permission = &subject.permission;
        let mut result = HasPrivilegesResult {
            username: subject.user.username.clone(),
            has_all_requested: true,
            ..HasPrivilegesResult::default()
        };
        for privilege in &request.cluster {
            let held = permission.has_cluster_privilege(privilege);
            result.has_all_requested &= held;
            insert(&mut result.cluster, privilege, held);
        }
        // Requested patterns are compiled and compared here: all of it under one budget.
        let ((), exhausted) = with_request_budget(REQUEST_WORK, || {
            for entry in &request.index {
                let requested: Vec<_> = entry
                    .privileges
                    .iter()
                    .map(|privilege| {
                        index_privilege_automaton(privilege)
                            .unwrap_or_else(keyward_core::automaton::Automaton::empty)
                    })
                    .collect();
                for name in &entry.names {
                    let answers = permission.index_privileges(
                        name,
                        entry.allow_restricted_indices,
                        &requested,
                    );
                    let per_index = entry_for(&mut result.index, name);
                    for (privilege, held) in entry.privileges.iter().zip(answers) {
                        result.has_all_requested &= held;
                        insert(per_index, privilege, held);
                    }
                }
            }
        });
        if exhausted {
            return Err(too_complex());
        }
        if !request.application.is_empty() {
            let stored = self
                .stored_application_privileges(&request.application)
                .await?;
            let no_privileges = ApplicationPrivileges::new();
            let ((), exhausted) = with_request_budget(REQUEST_WORK, || {
                for entry in &request.application {
                    let privileges: Vec<&str> =
                        entry.privileges.iter().map(String::as_str).collect();
                    let per_application = entry_for(&mut result.application, &entry.application);
                    let stored = stored
                        .get(entry.application.as_str())
                        .map_or(&no_privileges, |stored| &**stored);
                    for resource in &entry.resources {
                        let answers = permission.application_privileges(
                            &entry.application,
                            resource,
                            &privileges,
                            stored,
                        );
                        let per_resource = entry_for(per_application, resource);
                        for (privilege, held) in entry.privileges.iter().zip(answers) {
                            result.has_all_requested &= held;
                            insert(per_resource, privilege, held);
                        }
                    }
                }
            });
            if exhausted {
                return Err(too_complex());
            }
        }
        Ok(result)
    }

    /// The stored privileges of each application `checks` asks about, from the cache forward
    /// auth keeps ([`crate::app_access`]), which every privilege or role change empties.
    async fn stored_application_privileges<'c>(
        &self,
        checks: &'c [ApplicationPrivilegesCheck],
    ) -> Result<HashMap<&'c str, Arc<ApplicationPrivileges>>, Error> {
        let mut stored = HashMap::new();
        for check in checks {
            let application = check.application.as_str();
            if !stored.contains_key(application) {
                stored.insert(application, self.cached_app_privileges(application).await?);
            }
        }
        Ok(stored)
    }

    /// `security.get_user_privileges`: the subject's privileges in Elasticsearch's merged
    /// shape. API keys with descriptors of their own are refused, as Elasticsearch does.
    pub fn user_privileges(&self, subject: &Authentication) -> Result<Value, Error> {
        let permission = match &subject.permission {
            Permission::Roles(roles) => roles,
            Permission::Limited {
                assigned: None,
                limited_by,
            } => limited_by,
            Permission::Limited {
                assigned: Some(_), ..
            } => {
                return Err(Error::illegal_argument(
                    "Cannot retrieve privileges for API keys with assigned role descriptors. \
                     Please use the Get API key information API https://ela.st/es-api-get-api-key",
                ));
            }
        };
        Ok(user_privileges_json(permission))
    }

    /// `security.clear_cached_privileges`: drops the cached application privileges (and the
    /// decisions made with them) here and on every node sharing the store. Any name clears them
    /// all, as a role clear does.
    pub async fn clear_cached_privileges(&self, subject: &Authentication) -> Result<(), Error> {
        self.require_full(subject, actions::CLEAR_PRIVILEGES_CACHE)?;
        self.apply_change(&Change::Roles);
        self.inner.store.announce(Change::Roles).await?;
        Ok(())
    }

    /// Switches `subject` to `target` for the `es-security-runas-user` header: the subject's
    /// permission must cover the name and the target must be a known, enabled user. The result
    /// keeps the original authentication realm; the lookup realm is the target's. `action`
    /// names the request in the 403, as Elasticsearch does.
    pub async fn run_as(
        &self,
        subject: &Authentication,
        target: &str,
        action: &str,
    ) -> Result<Arc<Authentication>, Error> {
        let denied = || {
            let mut denial = self.denial(subject, action);
            denial.run_as = Some(target.to_owned());
            denial.granted_by = Vec::new();
            Error::Unauthorized(Box::new(denial))
        };
        if target.is_empty() || !subject.permission.can_run_as(target) {
            return Err(denied());
        }
        let record = match self.inner.store.user(target).await? {
            Some(record) => record,
            None if reserved_user(target).is_some() => crate::users::reserved_record(target),
            None => return Err(denied()),
        };
        if !record.enabled {
            return Err(denied());
        }
        let target = self.authentication_for_user(&record).await?;
        Ok(Arc::new(Authentication {
            authentication_realm: subject.authentication_realm.clone(),
            token: subject.token,
            ..target
        }))
    }

    /// The 403 details for `action` by `subject`, before any run-as.
    pub(crate) fn denial(&self, subject: &Authentication, action: &str) -> Unauthorized {
        let (roles, missing_roles) = match &subject.permission {
            Permission::Roles(permission) if subject.api_key.is_none() => {
                effective_roles(&subject.user.roles, permission)
            }
            _ => (subject.user.roles.clone(), Vec::new()),
        };
        Unauthorized {
            action: action.to_owned(),
            username: subject.user.username.clone(),
            api_key_id: subject.api_key.as_ref().map(|key| key.id.clone()),
            roles,
            granted_by: keyward_core::privilege::privileges_granting(action),
            missing_roles,
            run_as: None,
            service_account: subject.service_token.is_some(),
        }
    }
}

/// The user's roles that resolved, in the user's order, and those that did not (sorted).
fn effective_roles(declared: &[String], permission: &RolePermission) -> (Vec<String>, Vec<String>) {
    let resolved = |name: &String| {
        permission
            .descriptors()
            .0
            .iter()
            .any(|(resolved, _)| resolved == name)
    };
    let effective = declared
        .iter()
        .filter(|name| resolved(name))
        .cloned()
        .collect();
    let mut missing: Vec<String> = declared
        .iter()
        .filter(|name| !resolved(name))
        .cloned()
        .collect();
    missing.sort_unstable();
    missing.dedup();
    (effective, missing)
}

fn insert(entries: &mut Vec<(String, bool)>, privilege: &str, held: bool) {
    match entries.iter_mut().find(|(name, _)| name == privilege) {
        Some((_, existing)) => *existing &= held,
        None => entries.push((privilege.to_owned(), held)),
    }
}

fn entry_for<'a, T: Default>(entries: &'a mut Vec<(String, T)>, key: &str) -> &'a mut T {
    let position = match entries.iter().position(|(name, _)| name == key) {
        Some(position) => position,
        None => {
            entries.push((key.to_owned(), T::default()));
            entries.len() - 1
        }
    };
    &mut entries[position].1
}

/// The `security.get_user_privileges` body for one role permission.
fn user_privileges_json(permission: &RolePermission) -> Value {
    let descriptors = &permission.descriptors().0;
    let mut object = Map::new();
    object.insert("cluster".to_owned(), json!(permission.cluster_privileges()));
    let global: Vec<Value> = descriptors
        .iter()
        .filter_map(|(_, descriptor)| descriptor.global.clone())
        .flat_map(|global| match global {
            Value::Array(items) => items,
            other => vec![other],
        })
        .collect();
    object.insert("global".to_owned(), Value::Array(global));
    let indices: Vec<Value> = permission
        .index_groups()
        .iter()
        .map(index_group_json)
        .collect();
    object.insert("indices".to_owned(), Value::Array(indices));
    let applications: Vec<Value> = permission
        .application_grants()
        .iter()
        .map(|grant| {
            json!({
                "application": grant.application,
                "privileges": grant.privileges,
                "resources": grant.resources,
            })
        })
        .collect();
    object.insert("applications".to_owned(), Value::Array(applications));
    object.insert("run_as".to_owned(), json!(permission.run_as_names()));
    let remote_indices: Vec<Value> = descriptors
        .iter()
        .filter_map(|(_, descriptor)| descriptor.remote_indices.clone())
        .flatten()
        .collect();
    if !remote_indices.is_empty() {
        object.insert("remote_indices".to_owned(), Value::Array(remote_indices));
    }
    let remote_cluster: Vec<Value> = descriptors
        .iter()
        .filter_map(|(_, descriptor)| descriptor.remote_cluster.clone())
        .flatten()
        .collect();
    if !remote_cluster.is_empty() {
        object.insert("remote_cluster".to_owned(), Value::Array(remote_cluster));
    }
    Value::Object(object)
}

fn index_group_json(group: &IndexGroup) -> Value {
    let mut object = Map::new();
    object.insert("names".to_owned(), json!(group.names));
    let privileges: std::collections::BTreeSet<&String> = group.privileges.iter().collect();
    object.insert("privileges".to_owned(), json!(privileges));
    if !group.field_security.is_empty() {
        object.insert(
            "field_security".to_owned(),
            Value::Array(group.field_security.clone()),
        );
    }
    if !group.queries.is_empty() {
        object.insert("query".to_owned(), json!(group.queries));
    }
    object.insert(
        "allow_restricted_indices".to_owned(),
        Value::Bool(group.allow_restricted_indices),
    );
    Value::Object(object)
}

/// A has-privileges request whose patterns take more automaton work than one request may.
fn too_complex() -> Error {
    Error::Domain(keyward_core::Error::TooComplexToDeterminize(
        "The set of requested patterns is too complex to evaluate".to_owned(),
    ))
}
