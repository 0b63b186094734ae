//! Built permissions, shared: every key created by the same owner with the same role descriptors
//! stores the same descriptor text, so the text is parsed and turned into a [`RolePermission`]
//! once per process, not once per key. Cold authentications then cost a lookup instead of a JSON
//! parse, and a million cached keys share a handful of permissions instead of holding a million
//! copies.

use std::sync::Arc;

use keyward_core::authz::RolePermission;
use keyward_core::role::RoleDescriptors;

use crate::authn::parse_stored;

/// At most this many distinct descriptor texts are kept; beyond it the least used are rebuilt.
const CAPACITY: usize = 4096;

/// Permissions by the stored JSON text of their role descriptors.
pub(crate) struct PermissionCache {
    entries: quick_cache::sync::Cache<String, Arc<RolePermission>>,
}

impl PermissionCache {
    pub(crate) fn new() -> PermissionCache {
        PermissionCache {
            entries: quick_cache::sync::Cache::new(CAPACITY),
        }
    }

    /// The permission of stored descriptors, built on first use.
    pub(crate) fn get(&self, stored: &str) -> Result<Arc<RolePermission>, keyward_core::Error> {
        if let Some(permission) = self.entries.get(stored) {
            return Ok(permission);
        }
        let descriptors = RoleDescriptors::from_stored(&parse_stored(stored)?)?;
        let permission = Arc::new(RolePermission::new(descriptors));
        self.entries.insert(stored.to_owned(), permission.clone());
        Ok(permission)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_texts_share_one_permission() {
        let cache = PermissionCache::new();
        let text = r#"{"r":{"cluster":["monitor"]}}"#;
        let first = cache.get(text).unwrap();
        let second = cache.get(text).unwrap();
        assert!(Arc::ptr_eq(&first, &second));
        assert!(!Arc::ptr_eq(&first, &cache.get("{}").unwrap()));
        assert!(cache.get("not json").is_err());
    }
}
