//! The API key as the domain knows it: its type, its owner and the names of its parts.

use std::fmt;
use std::str::FromStr;

use serde_json::{Map, Value};

use crate::EpochMillis;

/// The version number written into every key record, in Elasticsearch's encoding of
/// `major_minor_patch_build` (9.4.0 build 99, the release `GET /` reports). Update no-op detection treats a key written by an
/// older version as changed, as Elasticsearch does.
pub const API_KEY_FORMAT_VERSION: i64 = 9_04_00_99;

/// Whether a key authenticates REST requests or remote-cluster connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ApiKeyType {
    /// A cross-cluster key (`cross_cluster`): valid only on the remote-cluster interface.
    CrossCluster,
    /// An ordinary key (`rest`).
    Rest,
}

impl ApiKeyType {
    /// The wire name: `rest` or `cross_cluster`.
    pub fn as_str(self) -> &'static str {
        match self {
            ApiKeyType::CrossCluster => "cross_cluster",
            ApiKeyType::Rest => "rest",
        }
    }
}

impl fmt::Display for ApiKeyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ApiKeyType {
    type Err = String;

    fn from_str(s: &str) -> Result<ApiKeyType, String> {
        match s {
            "rest" => Ok(ApiKeyType::Rest),
            "cross_cluster" => Ok(ApiKeyType::CrossCluster),
            other => Err(format!("unknown API key type [{other}]")),
        }
    }
}

/// The user that owns a key, captured when the key is created or updated.
#[derive(Debug, Clone, PartialEq)]
pub struct Creator {
    /// The owner's username (`creator.principal`).
    pub principal: String,
    /// The owner's full name, if it has one.
    pub full_name: Option<String>,
    /// The owner's email, if it has one.
    pub email: Option<String>,
    /// The owner's user metadata.
    pub metadata: Map<String, Value>,
    /// The name of the realm that authenticated the owner (`realm` on the wire).
    pub realm: String,
    /// The type of that realm (`realm_type` on the wire).
    pub realm_type: String,
}

/// True when a key with this expiration is no longer usable at `now`: Elasticsearch treats a key
/// as expired from the instant `expiration <= now`.
pub fn is_expired(expiration: Option<EpochMillis>, now: EpochMillis) -> bool {
    expiration.is_some_and(|expiration| expiration <= now)
}

/// The API key name rules of the create request (reference §8.1), as validation messages.
pub fn validate_name(name: Option<&str>, errors: &mut crate::ValidationErrors) {
    match name {
        None | Some("") => errors.add("api key name is required"),
        Some(name) => {
            if name.chars().count() > 256 {
                errors.add("api key name may not be more than 256 characters long");
            }
            if name != name.trim() {
                errors.add("api key name may not begin or end with whitespace");
            }
            if name.starts_with('_') {
                errors.add("api key name may not begin with an underscore");
            }
        }
    }
}

/// The metadata rule shared by every API key write: no top-level key may start with `_`.
pub fn validate_metadata(metadata: &Map<String, Value>, errors: &mut crate::ValidationErrors) {
    if metadata.keys().any(|key| key.starts_with('_')) {
        errors.add("API key metadata keys may not start with [_]");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ValidationErrors;

    fn name_errors(name: Option<&str>) -> Vec<String> {
        let mut errors = ValidationErrors::default();
        validate_name(name, &mut errors);
        errors.messages().to_vec()
    }

    #[test]
    fn name_rules() {
        assert_eq!(name_errors(Some("my-key")), Vec::<String>::new());
        assert_eq!(name_errors(None), ["api key name is required"]);
        assert_eq!(name_errors(Some("")), ["api key name is required"]);
        assert_eq!(
            name_errors(Some(" x")),
            ["api key name may not begin or end with whitespace"]
        );
        assert_eq!(
            name_errors(Some("_x")),
            ["api key name may not begin with an underscore"]
        );
        let long = "a".repeat(257);
        assert_eq!(
            name_errors(Some(&long)),
            ["api key name may not be more than 256 characters long"]
        );
        assert_eq!(name_errors(Some(&"é".repeat(256))), Vec::<String>::new());
    }

    #[test]
    fn expiry_is_inclusive_of_now() {
        assert!(!is_expired(None, 10));
        assert!(!is_expired(Some(11), 10));
        assert!(is_expired(Some(10), 10));
    }
}
