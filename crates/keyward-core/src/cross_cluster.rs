//! Cross-cluster API keys: the `access` object of the create and update requests, its validation,
//! its conversion to the single `cross_cluster` role descriptor the key stores, and the way back
//! from that descriptor to the `access` get and query show (reference §9).
//!
//! A cross-cluster key's permission is exactly its access: it carries no owner snapshot.

use serde_json::{Map, Value, json};

use crate::error::{Error, json_token};
use crate::java_regex::JavaRegexError;
use crate::role::{EntrySecurity, IndicesPrivileges, RoleDescriptor, RoleDescriptors};

/// The name of the one role descriptor a cross-cluster key holds.
pub const ROLE_DESCRIPTOR_NAME: &str = "cross_cluster";

/// The index privileges every `search` entry is given.
pub const SEARCH_INDEX_PRIVILEGES: [&str; 3] =
    ["read", "read_cross_cluster", "view_index_metadata"];

/// The index privileges every `replication` entry is given.
pub const REPLICATION_INDEX_PRIVILEGES: [&str; 2] = [
    "cross_cluster_replication",
    "cross_cluster_replication_internal",
];

/// The cluster privilege a key with search access gets (with `monitor_enrich`, for ES|QL
/// `ENRICH`, as Elasticsearch adds it since 8.14).
const SEARCH_CLUSTER_PRIVILEGES: [&str; 2] = ["cross_cluster_search", "monitor_enrich"];

/// The cluster privilege a key with replication access gets.
const REPLICATION_CLUSTER_PRIVILEGE: &str = "cross_cluster_replication";

/// keyward's own action for `POST /_keyward/cross_cluster/_authenticate`: resolving a
/// cross-cluster credential to its role descriptors. It lies under the security actions, so
/// `manage_security` (and `all`) grant it, and a role can grant exactly it by naming the action.
pub const AUTHENTICATE_ACTION: &str =
    "cluster:admin/xpack/security/cross_cluster/api_key/authenticate";

/// The role name Elasticsearch's entry parser reports errors under.
const ENTRY_ROLE: &str = ROLE_DESCRIPTOR_NAME;

/// One entry of `access.search` or `access.replication`.
#[derive(Debug, Clone, PartialEq)]
pub struct AccessEntry {
    /// Index names or patterns (never empty).
    pub names: Vec<String>,
    /// Field-level security, as given (search only).
    pub field_security: Option<Value>,
    /// Document-level security query as JSON text (search only).
    pub query: Option<String>,
    /// Whether the patterns also cover restricted (system) indices.
    pub allow_restricted_indices: bool,
}

impl AccessEntry {
    fn uses_document_or_field_level_security(&self) -> bool {
        self.field_security.is_some() || self.query.is_some()
    }

    fn to_indices(&self, privileges: &[&str]) -> IndicesPrivileges {
        IndicesPrivileges {
            names: self.names.clone(),
            privileges: privileges.iter().map(|name| (*name).to_owned()).collect(),
            field_security: self.field_security.clone(),
            query: self.query.clone(),
            allow_restricted_indices: self.allow_restricted_indices,
        }
    }

    fn from_indices(indices: &IndicesPrivileges) -> AccessEntry {
        AccessEntry {
            names: indices.names.clone(),
            field_security: indices.field_security.clone(),
            query: indices.query.clone(),
            allow_restricted_indices: indices.allow_restricted_indices,
        }
    }

    /// The entry as `access` renders it: `names`, `field_security`?, `query`? (a JSON string),
    /// `allow_restricted_indices`.
    pub fn to_json(&self) -> Map<String, Value> {
        let mut object = Map::new();
        object.insert("names".to_owned(), json!(self.names));
        if let Some(field_security) = &self.field_security {
            object.insert("field_security".to_owned(), field_security.clone());
        }
        if let Some(query) = &self.query {
            object.insert("query".to_owned(), Value::String(query.clone()));
        }
        object.insert(
            "allow_restricted_indices".to_owned(),
            Value::Bool(self.allow_restricted_indices),
        );
        object
    }
}

/// The `access` of a cross-cluster key: what the querying cluster may search and replicate.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CrossClusterAccess {
    /// Cross-cluster search entries.
    pub search: Vec<AccessEntry>,
    /// Cross-cluster replication entries.
    pub replication: Vec<AccessEntry>,
}

impl CrossClusterAccess {
    /// Parses an `access` object strictly: only `search` and `replication`, entries with `names`
    /// (required, non-empty), `field_security`, `query` and `allow_restricted_indices`, and no
    /// `privileges` (they are assigned, never given). Structure only; [`Self::validate`] applies
    /// the rules across entries.
    pub fn parse(value: &Value) -> Result<CrossClusterAccess, Error> {
        const PARSER: &str = "cross_cluster_api_key_request_access";
        let Value::Object(fields) = value else {
            return Err(Error::x_content(format!(
                "[{PARSER}] Expected START_OBJECT but was: {}",
                json_token(value)
            )));
        };
        let mut access = CrossClusterAccess::default();
        for (field, value) in fields {
            let target = match field.as_str() {
                "search" => &mut access.search,
                "replication" => &mut access.replication,
                other => {
                    return Err(Error::x_content(format!(
                        "[{PARSER}] unknown field [{other}]"
                    )));
                }
            };
            match value {
                Value::Null => {}
                Value::Array(entries) => {
                    for entry in entries {
                        target.push(parse_entry(field, entry)?);
                    }
                }
                other => {
                    return Err(Error::XContentParse {
                        reason: format!("[{PARSER}] failed to parse field [{field}]"),
                        caused_by: Some(Box::new(Error::illegal_argument(format!(
                            "[{field}] doesn't support values of type: {}",
                            json_token(other)
                        )))),
                    });
                }
            }
        }
        Ok(access)
    }

    /// The rules of reference §9.2 that span entries, with Elasticsearch's messages
    /// (`illegal_argument_exception`).
    pub fn validate(&self) -> Result<(), Error> {
        if self.search.is_empty() && self.replication.is_empty() {
            return Err(Error::illegal_argument(
                "must specify non-empty access for either [search] or [replication]",
            ));
        }
        if !self.replication.is_empty()
            && self
                .search
                .iter()
                .any(AccessEntry::uses_document_or_field_level_security)
        {
            return Err(Error::illegal_argument(
                "search does not support document or field level security if replication is assigned",
            ));
        }
        if self
            .replication
            .iter()
            .any(AccessEntry::uses_document_or_field_level_security)
        {
            return Err(Error::illegal_argument(
                "replication does not support document or field level security",
            ));
        }
        Ok(())
    }

    /// The `cross_cluster` role descriptor this access converts to (reference §9.1): cluster
    /// privileges by which lists are present, search entries first, then replication entries.
    pub fn to_role_descriptor(&self) -> RoleDescriptor {
        let mut cluster = Vec::new();
        if !self.search.is_empty() {
            cluster.extend(
                SEARCH_CLUSTER_PRIVILEGES
                    .iter()
                    .map(|name| (*name).to_owned()),
            );
        }
        if !self.replication.is_empty() {
            cluster.push(REPLICATION_CLUSTER_PRIVILEGE.to_owned());
        }
        let indices = self
            .search
            .iter()
            .map(|entry| entry.to_indices(&SEARCH_INDEX_PRIVILEGES))
            .chain(
                self.replication
                    .iter()
                    .map(|entry| entry.to_indices(&REPLICATION_INDEX_PRIVILEGES)),
            )
            .collect();
        RoleDescriptor {
            cluster,
            indices,
            ..RoleDescriptor::default()
        }
    }

    /// The key's `role_descriptors`: exactly one, named `cross_cluster`.
    pub fn to_role_descriptors(&self) -> RoleDescriptors {
        RoleDescriptors(vec![(
            ROLE_DESCRIPTOR_NAME.to_owned(),
            self.to_role_descriptor(),
        )])
    }

    /// Rebuilds the access from a stored key's descriptors (reference §9.3), checking the sanity
    /// rules a stored cross-cluster descriptor obeys. Keys written before `monitor_enrich` was
    /// added read back the same way.
    pub fn from_role_descriptors(
        descriptors: &RoleDescriptors,
    ) -> Result<CrossClusterAccess, Error> {
        let invalid = |why: &str| {
            Error::illegal_argument(format!("invalid cross-cluster role descriptor: {why}"))
        };
        let [(name, descriptor)] = descriptors.0.as_slice() else {
            return Err(invalid("expected exactly one role descriptor"));
        };
        if name != ROLE_DESCRIPTOR_NAME {
            return Err(invalid("the role descriptor must be named [cross_cluster]"));
        }
        if !descriptor.applications.is_empty()
            || !descriptor.run_as.is_empty()
            || descriptor.global.is_some()
            || descriptor.remote_indices.is_some()
            || descriptor.remote_cluster.is_some()
        {
            return Err(invalid("it grants more than index and cluster privileges"));
        }
        let has = |privilege: &str| descriptor.cluster.iter().any(|name| name == privilege);
        if !has(SEARCH_CLUSTER_PRIVILEGES[0]) && !has(REPLICATION_CLUSTER_PRIVILEGE) {
            return Err(invalid(
                "it grants neither cross-cluster search nor replication",
            ));
        }
        if descriptor.indices.is_empty() {
            return Err(invalid("it has no index privileges"));
        }
        let mut access = CrossClusterAccess::default();
        for indices in &descriptor.indices {
            if indices.privileges == SEARCH_INDEX_PRIVILEGES {
                access.search.push(AccessEntry::from_indices(indices));
            } else if indices.privileges == REPLICATION_INDEX_PRIVILEGES {
                access.replication.push(AccessEntry::from_indices(indices));
            } else {
                return Err(invalid(
                    "an index entry has privileges of neither search nor replication",
                ));
            }
        }
        Ok(access)
    }

    /// The `access` object of get and query responses; an empty list is left out.
    pub fn to_json(&self) -> Map<String, Value> {
        let mut object = Map::new();
        let render = |entries: &[AccessEntry]| {
            Value::Array(
                entries
                    .iter()
                    .map(|entry| Value::Object(entry.to_json()))
                    .collect(),
            )
        };
        if !self.search.is_empty() {
            object.insert("search".to_owned(), render(&self.search));
        }
        if !self.replication.is_empty() {
            object.insert("replication".to_owned(), render(&self.replication));
        }
        object
    }
}

/// The rule keyward applies to a certificate identity (a Java regular expression over the
/// distinguished name of the querying cluster's TLS client certificate): non-blank, valid in
/// Java's syntax (Elasticsearch's error otherwise), and within the subset keyward evaluates
/// exactly (see [`crate::java_regex`]).
pub fn validate_certificate_identity(identity: &str) -> Result<(), Error> {
    if identity.trim().is_empty() {
        return Err(Error::illegal_argument(
            "certificate_identity must not be blank",
        ));
    }
    match certificate_pattern(identity) {
        Ok(_) => Ok(()),
        Err(JavaRegexError::Invalid) => Err(Error::illegal_argument(format!(
            "Invalid certificate_identity format: [{identity}]. Must be a valid regex."
        ))),
        Err(JavaRegexError::Unsupported(feature)) => Err(Error::illegal_argument(format!(
            "certificate_identity [{identity}] uses regular expression syntax keyward does not support: {feature}"
        ))),
    }
}

/// Whether a certificate identity pattern matches a distinguished name: as in Elasticsearch, the
/// pattern is a Java regular expression that must match the whole DN. A pattern keyward cannot
/// evaluate matches nothing (fail closed).
pub fn certificate_identity_matches(pattern: &str, distinguished_name: &str) -> bool {
    certificate_pattern(pattern).is_ok_and(|regex| regex.is_match(distinguished_name))
}

/// Translates a certificate identity from Java's syntax and compiles it anchored at both ends,
/// with a size bound so a hostile pattern cannot take unbounded memory.
fn certificate_pattern(pattern: &str) -> Result<regex::Regex, JavaRegexError> {
    let translated = crate::java_regex::translate(pattern)?;
    regex::RegexBuilder::new(&format!("^(?:{translated})$"))
        .size_limit(1 << 20)
        .build()
        .map_err(|_| JavaRegexError::Unsupported("a pattern this large"))
}

fn entry_error(message: String) -> Error {
    Error::Parse(format!(
        "failed to parse indices privileges for role [{ENTRY_ROLE}]. {message}"
    ))
}

fn string_list(field: &str, value: &Value) -> Result<Vec<String>, Error> {
    let wrong = |found: &Value| {
        entry_error(format!(
            "expected field [{field}] value to be a string or an array of strings, but found [{}] instead",
            json_token(found)
        ))
    };
    match value {
        Value::String(text) => Ok(vec![text.clone()]),
        Value::Array(items) => items
            .iter()
            .map(|item| match item {
                Value::String(text) => Ok(text.clone()),
                other => Err(wrong(other)),
            })
            .collect(),
        other => Err(wrong(other)),
    }
}

/// One entry, as Elasticsearch's index-privileges parser reads it with predefined privileges.
fn parse_entry(list: &str, value: &Value) -> Result<AccessEntry, Error> {
    let Value::Object(fields) = value else {
        return Err(entry_error(format!(
            "expected field [{list}] value to be an array of objects, but found [{}] instead",
            json_token(value)
        )));
    };
    let mut names = None;
    let mut security = EntrySecurity::default();
    for (field, value) in fields {
        match security.read(field, value) {
            Ok(true) => continue,
            Ok(false) => {}
            Err(tail) => return Err(entry_error(tail)),
        }
        match field.as_str() {
            "names" => names = Some(string_list(field, value)?),
            // Privileges are assigned by the access list an entry is in, never given.
            "privileges" => {
                return Err(entry_error(format!("field [{field}] must not present")));
            }
            other => return Err(entry_error(format!("unexpected field [{other}]"))),
        }
    }
    let Some(names) = names else {
        return Err(entry_error("missing required [names] field".to_owned()));
    };
    if names.is_empty() {
        return Err(entry_error("[names] cannot be an empty array".to_owned()));
    }
    Ok(AccessEntry {
        names,
        field_security: security.field_security,
        query: security.query,
        allow_restricted_indices: security.allow_restricted_indices,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn access(value: Value) -> CrossClusterAccess {
        let access = CrossClusterAccess::parse(&value).unwrap();
        access.validate().unwrap();
        access
    }

    fn invalid(value: Value) -> String {
        match CrossClusterAccess::parse(&value) {
            Ok(access) => access.validate().unwrap_err().to_string(),
            Err(err) => err.to_string(),
        }
    }

    fn descriptor_json(access: &CrossClusterAccess) -> Value {
        Value::Object(access.to_role_descriptors().to_json())
    }

    #[test]
    fn search_and_replication_convert_as_elasticsearch_does() {
        let both = access(json!({
            "search": [{"names": ["logs*"]}],
            "replication": [{"names": ["archive*"]}]
        }));
        assert_eq!(
            descriptor_json(&both),
            json!({"cross_cluster": {
                "cluster": ["cross_cluster_search", "monitor_enrich", "cross_cluster_replication"],
                "indices": [
                    {"names": ["logs*"], "privileges": ["read", "read_cross_cluster", "view_index_metadata"], "allow_restricted_indices": false},
                    {"names": ["archive*"], "privileges": ["cross_cluster_replication", "cross_cluster_replication_internal"], "allow_restricted_indices": false}
                ],
                "applications": [], "run_as": [], "metadata": {}, "transient_metadata": {"enabled": true}
            }})
        );
        let search = access(json!({"search": [{"names": "*", "allow_restricted_indices": true}]}));
        assert_eq!(
            search.to_role_descriptor().cluster,
            ["cross_cluster_search", "monitor_enrich"]
        );
        let replication = access(json!({"replication": [{"names": ["a"]}], "search": null}));
        assert_eq!(
            replication.to_role_descriptor().cluster,
            ["cross_cluster_replication"]
        );
    }

    #[test]
    fn access_round_trips_through_the_stored_descriptor() {
        let cases = [
            json!({"search": [{"names": ["logs*"], "query": {"term": {"category": "shared"}}, "field_security": {"grant": ["*"], "except": ["private"]}}]}),
            json!({"search": [{"names": ["a", "b"]}, {"names": ["c"], "allow_restricted_indices": true}], "replication": [{"names": ["d"]}]}),
            json!({"replication": [{"names": ["archive"]}]}),
        ];
        for case in cases {
            let original = access(case);
            let stored = Value::Object(original.to_role_descriptors().to_json());
            let read = RoleDescriptors::from_stored(&stored).unwrap();
            let rebuilt = CrossClusterAccess::from_role_descriptors(&read).unwrap();
            assert_eq!(rebuilt, original);
            // The rendered access is valid input again and means the same.
            assert_eq!(access(Value::Object(rebuilt.to_json())), original);
        }
    }

    #[test]
    fn access_renders_queries_as_strings_and_omits_empty_lists() {
        let dls = access(
            json!({"search": [{"names": ["logs*"], "field_security": {"grant": ["*"], "except": ["private"]}, "query": {"term": {"category": "shared"}}}]}),
        );
        assert_eq!(
            Value::Object(dls.to_json()),
            json!({"search": [{"names": ["logs*"], "field_security": {"grant": ["*"], "except": ["private"]},
                               "query": "{\"term\":{\"category\":\"shared\"}}", "allow_restricted_indices": false}]})
        );
    }

    #[test]
    fn validation_matches_reference_section_9_2() {
        let empty = "must specify non-empty access for either [search] or [replication]";
        for case in [
            json!({}),
            json!({"search": []}),
            json!({"replication": []}),
            json!({"search": [], "replication": []}),
        ] {
            assert_eq!(invalid(case), empty);
        }
        assert_eq!(
            invalid(json!({"replication": [{"names": ["a"], "query": {"match_all": {}}}]})),
            "replication does not support document or field level security"
        );
        assert_eq!(
            invalid(json!({"replication": [{"names": ["a"], "field_security": {"grant": ["*"]}}]})),
            "replication does not support document or field level security"
        );
        assert_eq!(
            invalid(
                json!({"search": [{"names": ["a"], "query": "{}"}], "replication": [{"names": ["a"]}]})
            ),
            "search does not support document or field level security if replication is assigned"
        );
        assert_eq!(
            invalid(json!({"search": [{"names": ["a"], "privileges": ["read"]}]})),
            "failed to parse indices privileges for role [cross_cluster]. field [privileges] must not present"
        );
        assert_eq!(
            invalid(json!({"search": [{"query": "{}"}]})),
            "failed to parse indices privileges for role [cross_cluster]. missing required [names] field"
        );
        assert_eq!(
            invalid(json!({"search": [{"names": []}]})),
            "failed to parse indices privileges for role [cross_cluster]. [names] cannot be an empty array"
        );
        assert_eq!(
            invalid(json!({"search": [{"names": ["a"], "clusters": ["x"]}]})),
            "failed to parse indices privileges for role [cross_cluster]. unexpected field [clusters]"
        );
        assert_eq!(
            invalid(json!({"other": []})),
            "[cross_cluster_api_key_request_access] unknown field [other]"
        );
        assert_eq!(
            invalid(json!({"search": {}})),
            "[cross_cluster_api_key_request_access] failed to parse field [search]"
        );
        assert_eq!(
            invalid(json!([])),
            "[cross_cluster_api_key_request_access] Expected START_OBJECT but was: START_ARRAY"
        );
    }

    #[test]
    fn stored_descriptors_that_are_not_cross_cluster_are_refused() {
        let read = |value: Value| {
            CrossClusterAccess::from_role_descriptors(
                &RoleDescriptors::from_stored(&value).unwrap(),
            )
        };
        assert!(read(json!({})).is_err());
        assert!(read(json!({"other": {"cluster": ["cross_cluster_search"], "indices": [{"names": ["a"], "privileges": ["read", "read_cross_cluster", "view_index_metadata"]}]}})).is_err());
        assert!(read(json!({"cross_cluster": {"cluster": ["monitor"], "indices": [{"names": ["a"], "privileges": ["read", "read_cross_cluster", "view_index_metadata"]}]}})).is_err());
        assert!(
            read(json!({"cross_cluster": {"cluster": ["cross_cluster_search"], "indices": []}}))
                .is_err()
        );
        assert!(read(json!({"cross_cluster": {"cluster": ["cross_cluster_search"], "indices": [{"names": ["a"], "privileges": ["all"]}]}})).is_err());
        // The pre-8.14 shape without monitor_enrich still reads.
        let legacy = read(json!({"cross_cluster": {"cluster": ["cross_cluster_search"], "indices": [{"names": ["a"], "privileges": ["read", "read_cross_cluster", "view_index_metadata"]}]}})).unwrap();
        assert_eq!(legacy.search.len(), 1);
    }

    #[test]
    fn certificate_identities() {
        assert!(validate_certificate_identity("CN=remote,OU=.*").is_ok());
        assert_eq!(
            validate_certificate_identity(" ").unwrap_err().to_string(),
            "certificate_identity must not be blank"
        );
        assert!(certificate_identity_matches("CN=remote", "CN=remote"));
        assert!(!certificate_identity_matches("CN=remote", "CN=other"));
        // Patterns are regular expressions over the whole DN.
        assert!(certificate_identity_matches("CN=remote.*", "CN=remote"));
        assert!(certificate_identity_matches(
            "CN=.*,O=example",
            "CN=node-1,O=example"
        ));
        assert!(!certificate_identity_matches(
            "CN=.*,O=example",
            "CN=node-1,O=example,C=US"
        ));
        assert!(!certificate_identity_matches(
            "O=example",
            "CN=node-1,O=example"
        ));
        assert!(certificate_identity_matches(r"CN=a\.b", "CN=a.b"));
        assert!(!certificate_identity_matches(r"CN=a\.b", "CN=axb"));
        assert!(validate_certificate_identity("CN=(unclosed").is_err());
        assert!(!certificate_identity_matches(
            "CN=(unclosed",
            "CN=(unclosed"
        ));
    }
}
