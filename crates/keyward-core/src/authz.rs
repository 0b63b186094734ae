//! What an authenticated subject may do: a permission built from role descriptors, and for API
//! keys the intersection of the key's own descriptors with its owner's snapshot (`limited_by`).
//!
//! This is the seam the full users-and-roles model plugs into: callers ask a [`Permission`]
//! whether it grants an action and never look at descriptors themselves.

use std::sync::Arc;

use crate::privilege::{ClusterGrant, ClusterPermission};
use crate::role::RoleDescriptors;

/// The privileges of one set of role descriptors, pre-built for checks on the request path.
#[derive(Debug)]
pub struct RolePermission {
    descriptors: RoleDescriptors,
    cluster: ClusterPermission,
}

impl RolePermission {
    /// Builds the permission granted by the union of `descriptors`.
    pub fn new(descriptors: RoleDescriptors) -> RolePermission {
        let cluster = ClusterPermission::from_privileges(
            descriptors
                .0
                .iter()
                .flat_map(|(_, descriptor)| descriptor.cluster.iter().map(String::as_str)),
        );
        RolePermission {
            descriptors,
            cluster,
        }
    }

    /// The descriptors this permission was built from.
    pub fn descriptors(&self) -> &RoleDescriptors {
        &self.descriptors
    }

    /// How far this permission grants a cluster action.
    pub fn check_cluster(&self, action: &str) -> ClusterGrant {
        self.cluster.check(action)
    }
}

/// The effective permission of an authenticated subject.
#[derive(Debug, Clone)]
pub enum Permission {
    /// A user's roles.
    Roles(Arc<RolePermission>),
    /// An API key: what both the key's own descriptors and its owner's snapshot grant. A key
    /// without descriptors of its own has `assigned: None` and is exactly its owner's snapshot.
    Limited {
        /// The key's own role descriptors, if it has any.
        assigned: Option<Arc<RolePermission>>,
        /// The owner's role descriptors when the key was created or last updated.
        limited_by: Arc<RolePermission>,
    },
}

impl Permission {
    /// How far this permission grants a cluster action: for a limited permission, the weaker of
    /// the two grants.
    pub fn check_cluster(&self, action: &str) -> ClusterGrant {
        match self {
            Permission::Roles(roles) => roles.check_cluster(action),
            Permission::Limited {
                assigned,
                limited_by,
            } => {
                let owner = limited_by.check_cluster(action);
                match assigned {
                    Some(assigned) => owner.min(assigned.check_cluster(action)),
                    None => owner,
                }
            }
        }
    }

    /// The descriptors a new API key created by this subject is limited by: a user's own roles.
    /// `None` for API keys, which Elasticsearch does not let pass their own privileges on.
    pub fn role_descriptors(&self) -> Option<&RoleDescriptors> {
        match self {
            Permission::Roles(roles) => Some(roles.descriptors()),
            Permission::Limited { .. } => None,
        }
    }
}
