//! User profiles: the uid a user's profile gets, and the rules for the labels and data
//! applications keep on it (top-level keys, nesting, size), the merge an update makes, and the
//! `data` filters of get and suggest.
//!
//! A profile uid is Elasticsearch's: `u_`, the unpadded base64url SHA-256 of the username, `_`,
//! and a differentiator (0 to 9) that tells apart users of the same name in different realms.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::ValidationErrors;

/// How many profiles may share one base uid (users of one name in different realms).
pub const MAX_DIFFERENTIATOR: u32 = 10;

/// The most nested levels labels or data may have (objects and arrays alike).
pub const MAX_DEPTH: usize = 20;

/// The most bytes labels and data together may take once an update is merged
/// (Elasticsearch's `xpack.security.profile.max_size` default, 10 MiB).
pub const MAX_SIZE: usize = 10 * 1024 * 1024;

/// The uid of the profile of the `differentiator`th user named `username`.
pub fn uid(username: &str, differentiator: u32) -> String {
    let digest = Sha256::digest(username.as_bytes());
    format!("u_{}_{differentiator}", URL_SAFE_NO_PAD.encode(digest))
}

/// Checks the `labels` or `data` object of an update (`field` names which): top-level keys
/// neither start with `_` nor contain `.`, and nothing nests deeper than [`MAX_DEPTH`].
pub fn validate_update(field: &str, object: &Map<String, Value>, errors: &mut ValidationErrors) {
    for key in object.keys() {
        if key.starts_with('_') {
            errors.add(format!("{field} field key [{key}] cannot start with [_]"));
        }
        if key.contains('.') {
            errors.add(format!("{field} field key [{key}] cannot contain [.]"));
        }
    }
    if object.values().any(|value| too_deep(value, 1)) {
        errors.add(format!(
            "[{field}] must not nest deeper than [{MAX_DEPTH}] levels"
        ));
    }
}

/// Merges `update` into `target` as a partial document update does: objects merge key by key,
/// recursively; any other value replaces what was there.
pub fn merge(target: &mut Map<String, Value>, update: Map<String, Value>) {
    for (key, value) in update {
        match (target.get_mut(&key), value) {
            (Some(Value::Object(existing)), Value::Object(incoming)) => merge(existing, incoming),
            (_, value) => {
                target.insert(key, value);
            }
        }
    }
}

/// The parts of `data` the `data` parameter asks for: `*` (or any wildcard pattern) selects
/// top-level keys by pattern, `a.b` the value at that path; no filter selects nothing, as
/// Elasticsearch returns no data unless asked.
pub fn filter_data(data: &Map<String, Value>, filters: &[String]) -> Map<String, Value> {
    let mut selected = Map::new();
    for filter in filters {
        let mut path = filter.split('.');
        let Some(first) = path.next() else { continue };
        let rest: Vec<&str> = path.collect();
        for (key, value) in data {
            if !crate::wildcard::matches(first, key) {
                continue;
            }
            if rest.is_empty() {
                selected.insert(key.clone(), value.clone());
            } else if let Some(found) = at_path(value, &rest) {
                insert_at(&mut selected, key, &rest, found.clone());
            }
        }
    }
    selected
}

fn too_deep(value: &Value, depth: usize) -> bool {
    if depth > MAX_DEPTH {
        return true;
    }
    match value {
        Value::Object(object) => object.values().any(|value| too_deep(value, depth + 1)),
        Value::Array(items) => items.iter().any(|value| too_deep(value, depth + 1)),
        _ => false,
    }
}

fn at_path<'v>(value: &'v Value, path: &[&str]) -> Option<&'v Value> {
    path.iter()
        .try_fold(value, |value, key| value.as_object()?.get(*key))
}

fn insert_at(target: &mut Map<String, Value>, key: &str, path: &[&str], value: Value) {
    let entry = target
        .entry(key.to_owned())
        .or_insert_with(|| Value::Object(Map::new()));
    let Value::Object(object) = entry else { return };
    match path.split_first() {
        Some((last, [])) => {
            object.insert((*last).to_owned(), value);
        }
        Some((next, rest)) => insert_at(object, next, rest, value),
        None => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn object(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(object) => object,
            _ => panic!("not an object"),
        }
    }

    #[test]
    fn uid_is_hash_of_username_with_differentiator() {
        let uid = uid("juan", 0);
        assert!(uid.starts_with("u_") && uid.ends_with("_0"), "{uid}");
        // 32 bytes of SHA-256, base64url without padding: 43 characters.
        assert_eq!(uid.len(), 2 + 43 + 2);
        assert_ne!(super::uid("juan", 1), uid);
        assert_ne!(super::uid("juana", 0), uid);
    }

    #[test]
    fn update_keys_and_depth_are_checked() {
        let check = |value: Value| {
            let mut errors = ValidationErrors::default();
            validate_update("labels", &object(value), &mut errors);
            errors.messages().to_vec()
        };
        assert!(check(json!({"kibana": {"_a.b": 1}})).is_empty());
        assert_eq!(
            check(json!({"_x": 1, "a.b": 2})),
            [
                "labels field key [_x] cannot start with [_]",
                "labels field key [a.b] cannot contain [.]"
            ]
        );
        let mut deep = json!(1);
        for _ in 0..MAX_DEPTH {
            deep = json!({ "k": deep });
        }
        // MAX_DEPTH levels are allowed; one more is not.
        assert!(check(deep.clone()).is_empty());
        assert_eq!(check(json!({ "a": deep })).len(), 1);
    }

    #[test]
    fn merge_is_recursive_for_objects_only() {
        let mut target = object(json!({"app": {"a": 1, "b": [1]}, "x": 1}));
        merge(
            &mut target,
            object(json!({"app": {"b": [2], "c": null}, "y": {"z": 1}})),
        );
        assert_eq!(
            Value::Object(target),
            json!({"app": {"a": 1, "b": [2], "c": null}, "x": 1, "y": {"z": 1}})
        );
    }

    #[test]
    fn data_filters_select_keys_and_paths() {
        let data = object(json!({"app1": {"k": 1, "j": 2}, "app2": {"k": 3}}));
        let filter = |filters: &[&str]| {
            let filters: Vec<String> = filters.iter().map(|f| (*f).to_owned()).collect();
            Value::Object(filter_data(&data, &filters))
        };
        assert_eq!(filter(&[]), json!({}));
        assert_eq!(filter(&["*"]), Value::Object(data.clone()));
        assert_eq!(filter(&["app1"]), json!({"app1": {"k": 1, "j": 2}}));
        assert_eq!(
            filter(&["app*.k"]),
            json!({"app1": {"k": 1}, "app2": {"k": 3}})
        );
        assert_eq!(filter(&["missing", "app2.none"]), json!({}));
    }
}
