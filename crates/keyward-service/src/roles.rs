//! Resolves role names to descriptors. Today that is the built-in roles; the native role store
//! plugs in here without touching the API key code.

use std::sync::Arc;

use keyward_core::authz::RolePermission;
use keyward_core::role::{RoleDescriptors, superuser_role};

/// Turns a user's role names into the permission they grant.
#[derive(Debug)]
pub(crate) struct RoleResolver {
    superuser: Arc<RolePermission>,
}

impl Default for RoleResolver {
    fn default() -> RoleResolver {
        let superuser = RoleDescriptors(vec![("superuser".to_owned(), superuser_role())]);
        RoleResolver {
            superuser: Arc::new(RolePermission::new(superuser)),
        }
    }
}

impl RoleResolver {
    /// The permission of the union of `roles`. Unknown role names grant nothing, as in
    /// Elasticsearch, which only logs them.
    pub(crate) fn resolve(&self, roles: &[String]) -> Arc<RolePermission> {
        if roles.len() == 1 && roles[0] == "superuser" {
            return Arc::clone(&self.superuser);
        }
        let mut descriptors = Vec::new();
        for role in roles {
            if role == "superuser" {
                descriptors.push((role.clone(), superuser_role()));
            } else {
                tracing::debug!(role, "unknown role ignored");
            }
        }
        Arc::new(RolePermission::new(RoleDescriptors(descriptors)))
    }
}
