//! Application privileges: named sets of application actions that roles refer to, stored and
//! served here; `has_privileges` and forward auth (`app_access`) evaluate them.

use keyward_core::ValidationErrors;
use keyward_core::native::validate_app_privilege;
use keyward_core::privilege::{
    CLUSTER_PRIVILEGE_NAMES, INDEX_PRIVILEGE_NAMES, REMOTE_CLUSTER_PRIVILEGE_NAMES, actions,
};
use keyward_store::{AppPrivilegeRecord, Change};
use serde_json::{Map, Value};

use crate::authn::{Authentication, parse_stored};
use crate::{Error, SecurityService};

/// One application privilege.
#[derive(Debug, Clone, PartialEq)]
pub struct AppPrivilege {
    /// The application name.
    pub application: String,
    /// The privilege name.
    pub name: String,
    /// The actions it grants.
    pub actions: Vec<String>,
    /// Its metadata.
    pub metadata: Map<String, Value>,
}

/// The privileges Elasticsearch predefines, as `security.get_builtin_privileges` lists them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuiltinPrivileges {
    /// Cluster privilege names, sorted.
    pub cluster: Vec<&'static str>,
    /// Index privilege names, sorted.
    pub index: Vec<&'static str>,
    /// Remote cluster privilege names, sorted.
    pub remote_cluster: Vec<&'static str>,
}

impl SecurityService {
    /// Creates or replaces application privileges in one write; for each, in order, its
    /// application, name and whether it was created.
    pub async fn put_app_privileges(
        &self,
        subject: &Authentication,
        privileges: Vec<AppPrivilege>,
    ) -> Result<Vec<(String, String, bool)>, Error> {
        let mut errors = ValidationErrors::default();
        if privileges.is_empty() {
            errors.add("At least one application privilege must be provided");
        }
        for privilege in &privileges {
            validate_app_privilege(
                &privilege.application,
                &privilege.name,
                &privilege.actions,
                &privilege.metadata,
                &mut errors,
            );
        }
        errors.into_result()?;
        self.require_full(subject, actions::PUT_PRIVILEGES)?;
        let records = privileges
            .into_iter()
            .map(|privilege| AppPrivilegeRecord {
                application: privilege.application,
                name: privilege.name,
                actions: privilege.actions,
                metadata: Value::Object(privilege.metadata).to_string(),
                seq: 0,
            })
            .collect();
        // Decisions made with the old definitions are stale the moment the write commits,
        // even when the caller hangs up then.
        self.write_unit(move |service| async move {
            let written = service.inner.store.put_app_privileges(records).await?;
            service.apply_change(&Change::Roles);
            Ok(written)
        })
        .await
    }

    /// Application privileges: all, those of one application, or the named ones of one
    /// application.
    pub async fn get_app_privileges(
        &self,
        subject: &Authentication,
        application: Option<&str>,
        names: Option<Vec<String>>,
    ) -> Result<Vec<AppPrivilege>, Error> {
        self.require_full(subject, actions::GET_PRIVILEGES)?;
        // `*` or `_all` as a name means every privilege of the application.
        let names = names.filter(|names| !names.iter().any(|name| name == "*" || name == "_all"));
        let application =
            application.filter(|application| *application != "*" && *application != "_all");
        let records = self
            .inner
            .store
            .app_privileges(application, names.as_deref())
            .await?;
        records
            .into_iter()
            .map(|record| {
                let metadata = match parse_stored(&record.metadata)? {
                    Value::Object(metadata) => metadata,
                    _ => Map::new(),
                };
                Ok(AppPrivilege {
                    application: record.application,
                    name: record.name,
                    actions: record.actions,
                    metadata,
                })
            })
            .collect()
    }

    /// Deletes the named privileges of `application`; the names it found.
    pub async fn delete_app_privileges(
        &self,
        subject: &Authentication,
        application: &str,
        names: &[String],
    ) -> Result<Vec<String>, Error> {
        self.require_full(subject, actions::DELETE_PRIVILEGES)?;
        let application = application.to_owned();
        let names = names.to_vec();
        self.write_unit(move |service| async move {
            let deleted = service
                .inner
                .store
                .delete_app_privileges(&application, &names)
                .await?;
            service.apply_change(&Change::Roles);
            Ok(deleted)
        })
        .await
    }

    /// The predefined cluster, index and remote cluster privileges.
    pub fn builtin_privileges(&self, subject: &Authentication) -> Result<BuiltinPrivileges, Error> {
        self.require_full(subject, actions::GET_BUILTIN_PRIVILEGES)?;
        let sorted = |names: &[&'static str]| {
            let mut names = names.to_vec();
            names.sort_unstable();
            names
        };
        Ok(BuiltinPrivileges {
            cluster: sorted(CLUSTER_PRIVILEGE_NAMES),
            index: sorted(INDEX_PRIVILEGE_NAMES),
            remote_cluster: sorted(REMOTE_CLUSTER_PRIVILEGE_NAMES),
        })
    }
}
