//! The fields each query API may name: API keys', users' and roles' closed field sets, and
//! how metadata paths flatten.

use serde_json::{Map, Value};

use super::*;

/// A public field of an API key that queries, sorts and aggregations may name (reference §3.4).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ApiKeyField {
    /// `creation` (date).
    Creation,
    /// `expiration` (date).
    Expiration,
    /// The key id; reachable through the `ids` query only.
    Id,
    /// `invalidated` (boolean).
    Invalidated,
    /// `invalidation` (date).
    Invalidation,
    /// `metadata` (every leaf) or `metadata.<path>` (the leaves at that path); keyword values.
    Metadata(Vec<String>),
    /// `name` (keyword).
    Name,
    /// `realm_name`: the owner's realm (keyword).
    RealmName,
    /// `type`: `rest` or `cross_cluster` (keyword).
    Type,
    /// `username`: the owner's principal (keyword).
    Username,
}

/// The value type of a field, which decides how query values parse and how it sorts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    /// Epoch milliseconds.
    Date,
    /// `true` / `false`.
    Boolean,
    /// Exact strings.
    Keyword,
}

/// The closed set of fields one query API (API keys, users, roles) allows.
pub trait QueryField: Clone + std::fmt::Debug + PartialEq + Eq + Sized {
    /// The field names an unqualified `simple_query_string` searches (and field patterns expand
    /// over).
    const NAMES: &'static [&'static str];

    /// Resolves a public field name; `None` when it is not allowed.
    fn from_name(name: &str) -> Option<Self>;

    /// The value type.
    fn kind(&self) -> FieldKind;

    /// The public name, for error messages.
    fn public_name(&self) -> String;

    /// Whether this API accepts the query type (`term`, `bool`, …).
    fn allows_query_type(query_type: &str) -> bool;
}

impl QueryField for ApiKeyField {
    const NAMES: &'static [&'static str] = ApiKeyField::NAMES;

    fn from_name(name: &str) -> Option<ApiKeyField> {
        ApiKeyField::from_name(name)
    }

    fn kind(&self) -> FieldKind {
        ApiKeyField::kind(self)
    }

    fn public_name(&self) -> String {
        field_name(self)
    }

    fn allows_query_type(_query_type: &str) -> bool {
        true
    }
}

impl ApiKeyField {
    /// Every queryable field name except `metadata.<path>`, in the order Elasticsearch expands an
    /// unqualified `simple_query_string`.
    pub const NAMES: &'static [&'static str] = &[
        "name",
        "type",
        "creation",
        "expiration",
        "invalidated",
        "invalidation",
        "username",
        "realm_name",
        "metadata",
    ];

    /// Resolves a public field name; `None` when it is not allowed.
    pub fn from_name(name: &str) -> Option<ApiKeyField> {
        Some(match name {
            "name" => ApiKeyField::Name,
            "type" => ApiKeyField::Type,
            "creation" => ApiKeyField::Creation,
            "expiration" => ApiKeyField::Expiration,
            "invalidated" => ApiKeyField::Invalidated,
            "invalidation" => ApiKeyField::Invalidation,
            "username" => ApiKeyField::Username,
            "realm_name" => ApiKeyField::RealmName,
            "metadata" => ApiKeyField::Metadata(Vec::new()),
            _ => {
                let path = name.strip_prefix("metadata.")?;
                if path.is_empty() || path.split('.').any(str::is_empty) {
                    return None;
                }
                ApiKeyField::Metadata(path.split('.').map(str::to_owned).collect())
            }
        })
    }

    /// The value type.
    pub fn kind(&self) -> FieldKind {
        match self {
            ApiKeyField::Creation | ApiKeyField::Expiration | ApiKeyField::Invalidation => {
                FieldKind::Date
            }
            ApiKeyField::Invalidated => FieldKind::Boolean,
            ApiKeyField::Id
            | ApiKeyField::Metadata(_)
            | ApiKeyField::Name
            | ApiKeyField::RealmName
            | ApiKeyField::Type
            | ApiKeyField::Username => FieldKind::Keyword,
        }
    }
}

/// A field of `security.query_user` (native users).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum UserField {
    /// `email`.
    Email,
    /// `enabled` (boolean).
    Enabled,
    /// `full_name`.
    FullName,
    /// `roles`: the role names (multi-valued).
    Roles,
    /// `username`.
    Username,
}

impl QueryField for UserField {
    const NAMES: &'static [&'static str] = &["username", "roles", "full_name", "email", "enabled"];

    fn from_name(name: &str) -> Option<UserField> {
        Some(match name {
            "username" => UserField::Username,
            "roles" => UserField::Roles,
            "full_name" => UserField::FullName,
            "email" => UserField::Email,
            "enabled" => UserField::Enabled,
            _ => return None,
        })
    }

    fn kind(&self) -> FieldKind {
        match self {
            UserField::Enabled => FieldKind::Boolean,
            UserField::Email | UserField::FullName | UserField::Roles | UserField::Username => {
                FieldKind::Keyword
            }
        }
    }

    fn public_name(&self) -> String {
        match self {
            UserField::Email => "email",
            UserField::Enabled => "enabled",
            UserField::FullName => "full_name",
            UserField::Roles => "roles",
            UserField::Username => "username",
        }
        .to_owned()
    }

    // Elasticsearch documents these query types for users.
    fn allows_query_type(query_type: &str) -> bool {
        matches!(
            query_type,
            "match_all" | "bool" | "term" | "terms" | "prefix" | "wildcard" | "exists"
        )
    }
}

/// A field of `security.query_role` (stored roles).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RoleField {
    /// `applications.application`.
    ApplicationsApplication,
    /// `applications.privileges`.
    ApplicationsPrivileges,
    /// `applications.resources`.
    ApplicationsResources,
    /// `description`.
    Description,
    /// `metadata` (every leaf) or `metadata.<path>`; keyword values.
    Metadata(Vec<String>),
    /// `name`.
    Name,
}

impl QueryField for RoleField {
    const NAMES: &'static [&'static str] = &[
        "name",
        "description",
        "metadata",
        "applications.application",
        "applications.privileges",
        "applications.resources",
    ];

    fn from_name(name: &str) -> Option<RoleField> {
        Some(match name {
            "name" => RoleField::Name,
            "description" => RoleField::Description,
            "applications.application" => RoleField::ApplicationsApplication,
            "applications.privileges" => RoleField::ApplicationsPrivileges,
            "applications.resources" => RoleField::ApplicationsResources,
            other => match ApiKeyField::from_name(other)? {
                ApiKeyField::Metadata(path) => RoleField::Metadata(path),
                _ => return None,
            },
        })
    }

    fn kind(&self) -> FieldKind {
        FieldKind::Keyword
    }

    fn public_name(&self) -> String {
        match self {
            RoleField::ApplicationsApplication => "applications.application".to_owned(),
            RoleField::ApplicationsPrivileges => "applications.privileges".to_owned(),
            RoleField::ApplicationsResources => "applications.resources".to_owned(),
            RoleField::Description => "description".to_owned(),
            RoleField::Metadata(path) => field_name(&ApiKeyField::Metadata(path.clone())),
            RoleField::Name => "name".to_owned(),
        }
    }

    fn allows_query_type(_query_type: &str) -> bool {
        true
    }
}

/// The flattened keyword values of a JSON metadata object at `path` (every leaf for an empty
/// path), as Elasticsearch's `flattened` field type indexes them.
pub fn flattened_values(metadata: &Map<String, Value>, path: &[String]) -> Vec<String> {
    let mut leaves = Vec::new();
    if path.is_empty() {
        metadata
            .values()
            .for_each(|value| collect_leaves(value, &mut leaves, true));
        return leaves;
    }
    let mut node = metadata.get(&path[0]);
    for segment in &path[1..] {
        node = node.and_then(|value| value.get(segment));
    }
    if let Some(node) = node {
        collect_leaves(node, &mut leaves, false);
    }
    leaves
}

/// Flattened leaves: scalars as keywords; arrays hold several; objects only when `deep`.
pub(super) fn collect_leaves(value: &Value, leaves: &mut Vec<String>, deep: bool) {
    match value {
        Value::String(text) => leaves.push(text.clone()),
        Value::Number(number) => leaves.push(number.to_string()),
        Value::Bool(flag) => leaves.push(flag.to_string()),
        Value::Null => {}
        Value::Array(items) => items
            .iter()
            .filter(|item| deep || !item.is_object())
            .for_each(|item| collect_leaves(item, leaves, deep)),
        Value::Object(members) if deep => members
            .values()
            .for_each(|member| collect_leaves(member, leaves, deep)),
        Value::Object(_) => {}
    }
}
