//! Role descriptors: parsing Elasticsearch's role format, validating it, and rendering the
//! normalised form get and query responses show (reference §7).

use serde_json::{Map, Value, json};

use crate::automaton::{Automaton, PatternError, REQUEST_WORK, with_request_budget};
use crate::error::{Error, ValidationErrors, json_token};
use crate::privilege::{validate_cluster_privilege, validate_index_privilege};

/// Where a descriptor comes from; API key descriptors reject `description` and accept
/// `restriction`, role descriptors the other way round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DescriptorContext {
    /// Inside an API key request's `role_descriptors`.
    ApiKey,
    /// A role definition (and descriptors keyward stored itself).
    Role,
}

/// One entry of a descriptor's `indices`.
#[derive(Debug, Clone, PartialEq)]
pub struct IndicesPrivileges {
    /// Index names or patterns.
    pub names: Vec<String>,
    /// Index privileges.
    pub privileges: Vec<String>,
    /// Field-level security (`{"grant": [...], "except": [...]}`), as given.
    pub field_security: Option<Value>,
    /// Document-level security query, always as JSON text (an object is serialised).
    pub query: Option<String>,
    /// Whether patterns also cover restricted indices.
    pub allow_restricted_indices: bool,
}

/// A role descriptor.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RoleDescriptor {
    /// Cluster privileges and action patterns.
    pub cluster: Vec<String>,
    /// Index privileges.
    pub indices: Vec<IndicesPrivileges>,
    /// Application privileges, as given.
    pub applications: Vec<Value>,
    /// Users this role may run as.
    pub run_as: Vec<String>,
    /// Role metadata.
    pub metadata: Map<String, Value>,
    /// Transient metadata, `{"enabled": true}` unless given.
    pub transient_metadata: Option<Map<String, Value>>,
    /// Configurable global privileges, as given.
    pub global: Option<Value>,
    /// Remote index privileges, as given (normalised on output).
    pub remote_indices: Option<Vec<Value>>,
    /// Remote cluster privileges, as given.
    pub remote_cluster: Option<Vec<Value>>,
    /// Workflow restriction (API keys only).
    pub restriction: Option<Value>,
    /// Free-text description (roles only).
    pub description: Option<String>,
}

/// Known workflow names for `restriction.workflows`.
const WORKFLOWS: &[&str] = &["search_application_query"];

/// The privileges a remote cluster entry may name.
const REMOTE_CLUSTER_PRIVILEGES: &[&str] = crate::privilege::REMOTE_CLUSTER_PRIVILEGE_NAMES;

fn parse_error(message: String) -> Error {
    Error::Parse(message)
}

/// Reads a string or an array of strings.
fn strings(value: &Value, describe: impl Fn(&Value) -> String) -> Result<Vec<String>, Error> {
    match value {
        Value::String(text) => Ok(vec![text.clone()]),
        Value::Array(items) => items
            .iter()
            .map(|item| match item {
                Value::String(text) => Ok(text.clone()),
                other => Err(parse_error(describe(other))),
            })
            .collect(),
        other => Err(parse_error(describe(other))),
    }
}

fn string_array(role: &str, field: &str, value: &Value) -> Result<Vec<String>, Error> {
    match value {
        Value::Array(_) => strings(value, |found| {
            format!(
                "failed to parse role [{role}]. expected field [{field}] value to be an array of strings, but found [{}] instead",
                json_token(found)
            )
        }),
        other => Err(parse_error(format!(
            "failed to parse role [{role}]. expected field [{field}] value to be an array, but found [{}] instead",
            json_token(other)
        ))),
    }
}

fn object_array(role: &str, field: &str, value: &Value) -> Result<Vec<Value>, Error> {
    match value {
        Value::Array(items) => {
            for item in items {
                if !item.is_object() {
                    return Err(parse_error(format!(
                        "failed to parse role [{role}]. expected field [{field}] value to be an array of objects, but found [{}] instead",
                        json_token(item)
                    )));
                }
            }
            Ok(items.clone())
        }
        other => Err(parse_error(format!(
            "failed to parse role [{role}]. expected field [{field}] value to be an array, but found [{}] instead",
            json_token(other)
        ))),
    }
}

fn object(role: &str, field: &str, value: &Value) -> Result<Map<String, Value>, Error> {
    match value {
        Value::Object(map) => Ok(map.clone()),
        other => Err(parse_error(format!(
            "failed to parse role [{role}]. expected field [{field}] value to be an object, but found [{}] instead",
            json_token(other)
        ))),
    }
}

/// The document- and field-level security fields an indices entry may carry, read the same way
/// wherever an entry is parsed (role descriptors, cross-cluster access).
#[derive(Debug, Default)]
pub(crate) struct EntrySecurity {
    pub(crate) field_security: Option<Value>,
    pub(crate) query: Option<String>,
    pub(crate) allow_restricted_indices: bool,
}

impl EntrySecurity {
    /// Reads `field` when it is `field_security`, `query` or `allow_restricted_indices`:
    /// `Ok(true)` when it was one of them, `Ok(false)` when it is another field, and the end of
    /// Elasticsearch's message (the caller puts the entry's prefix before it) when the value has
    /// the wrong type.
    pub(crate) fn read(&mut self, field: &str, value: &Value) -> Result<bool, String> {
        let wrong = |expected: &str| {
            format!(
                "expected field [{field}] value to be {expected}, but found [{}] instead",
                json_token(value)
            )
        };
        match (field, value) {
            ("field_security" | "query", Value::Null) => {}
            ("field_security", Value::Object(_)) => self.field_security = Some(value.clone()),
            ("field_security", _) => return Err(wrong("an object")),
            ("query", Value::String(text)) => self.query = Some(text.clone()),
            ("query", Value::Object(_)) => self.query = Some(value.to_string()),
            ("query", _) => return Err(wrong("null, a string, an array, or an object")),
            ("allow_restricted_indices", Value::Bool(flag)) => {
                self.allow_restricted_indices = *flag
            }
            ("allow_restricted_indices", _) => return Err(wrong("a boolean")),
            _ => return Ok(false),
        }
        Ok(true)
    }
}

fn parse_indices_entry(
    role: &str,
    value: &Value,
    remote: bool,
) -> Result<(IndicesPrivileges, Vec<String>), Error> {
    let what = if remote { "remote indices" } else { "indices" };
    let Value::Object(entry) = value else {
        return Err(parse_error(format!(
            "failed to parse {what} privileges for role [{role}]. expected field [{}] value to be an array of objects, but found [{}] instead",
            if remote { "remote_indices" } else { "indices" },
            json_token(value)
        )));
    };
    let mut names = None;
    let mut privileges = None;
    let mut security = EntrySecurity::default();
    let mut clusters = None;
    for (field, value) in entry {
        match security.read(field, value) {
            Ok(true) => continue,
            Ok(false) => {}
            Err(tail) => {
                return Err(parse_error(format!(
                    "failed to parse {what} privileges for role [{role}]. {tail}"
                )));
            }
        }
        let describe = |found: &Value| {
            format!(
                "failed to parse {what} privileges for role [{role}]. expected field [{field}] value to be a string or an array of strings, but found [{}] instead",
                json_token(found)
            )
        };
        match field.as_str() {
            "names" => names = Some(strings(value, describe)?),
            "privileges" => privileges = Some(strings(value, describe)?),
            "clusters" if remote => clusters = Some(strings(value, describe)?),
            other => {
                return Err(parse_error(format!(
                    "failed to parse {what} privileges for role [{role}]. unexpected field [{other}]"
                )));
            }
        }
    }
    let Some(names) = names else {
        return Err(parse_error(format!(
            "failed to parse {what} privileges for role [{role}]. missing required [names] field"
        )));
    };
    let Some(privileges) = privileges else {
        return Err(parse_error(format!(
            "failed to parse {what} privileges for role [{role}]. missing required [privileges] field"
        )));
    };
    if remote && clusters.is_none() {
        return Err(parse_error(format!(
            "failed to parse {what} privileges for role [{role}]. missing required [clusters] field"
        )));
    }
    Ok((
        IndicesPrivileges {
            names,
            privileges,
            field_security: security.field_security,
            query: security.query,
            allow_restricted_indices: security.allow_restricted_indices,
        },
        clusters.unwrap_or_default(),
    ))
}

/// Parses one descriptor in Elasticsearch's role format.
pub fn parse_role_descriptor(
    name: &str,
    value: &Value,
    context: DescriptorContext,
) -> Result<RoleDescriptor, Error> {
    let Value::Object(fields) = value else {
        return Err(parse_error(format!(
            "failed to parse role [{name}]. expected an object but found [{}] instead",
            json_token(value)
        )));
    };
    let mut descriptor = RoleDescriptor::default();
    for (field, value) in fields {
        match field.as_str() {
            "cluster" => descriptor.cluster = string_array(name, field, value)?,
            "indices" | "index" => {
                let Value::Array(entries) = value else {
                    return Err(parse_error(format!(
                        "failed to parse indices privileges for role [{name}]. expected field [{field}] value to be an array, but found [{}] instead",
                        json_token(value)
                    )));
                };
                for entry in entries {
                    descriptor
                        .indices
                        .push(parse_indices_entry(name, entry, false)?.0);
                }
            }
            "applications" | "application" => {
                descriptor.applications = object_array(name, field, value)?
            }
            "run_as" => descriptor.run_as = string_array(name, field, value)?,
            "metadata" => descriptor.metadata = object(name, field, value)?,
            "transient_metadata" => {
                descriptor.transient_metadata = Some(object(name, field, value)?)
            }
            "global" => descriptor.global = Some(Value::Object(object(name, field, value)?)),
            "remote_indices" => {
                let entries = object_array(name, field, value)?;
                let mut normalised = Vec::with_capacity(entries.len());
                for entry in &entries {
                    let (indices, clusters) = parse_indices_entry(name, entry, true)?;
                    normalised.push(remote_indices_json(&indices, &clusters));
                }
                descriptor.remote_indices = Some(normalised);
            }
            "remote_cluster" => descriptor.remote_cluster = Some(object_array(name, field, value)?),
            "restriction" if context == DescriptorContext::ApiKey => {
                descriptor.restriction = Some(Value::Object(object(name, field, value)?));
            }
            "description" if context == DescriptorContext::Role => match value {
                Value::String(text) => descriptor.description = Some(text.clone()),
                Value::Null => {}
                other => {
                    return Err(parse_error(format!(
                        "failed to parse role [{name}]. expected field [description] value to be a string, but found [{}] instead",
                        json_token(other)
                    )));
                }
            },
            other => {
                return Err(parse_error(format!(
                    "failed to parse role [{name}]. unexpected field [{other}]"
                )));
            }
        }
    }
    // The default transient metadata is the absence of any: keep one representation of it.
    if descriptor
        .transient_metadata
        .as_ref()
        .is_some_and(|transient| {
            transient.len() == 1 && transient.get("enabled") == Some(&Value::Bool(true))
        })
    {
        descriptor.transient_metadata = None;
    }
    Ok(descriptor)
}

fn indices_json(indices: &IndicesPrivileges) -> Map<String, Value> {
    let mut object = Map::new();
    object.insert("names".to_owned(), json!(indices.names));
    object.insert("privileges".to_owned(), json!(indices.privileges));
    if let Some(field_security) = &indices.field_security {
        object.insert("field_security".to_owned(), field_security.clone());
    }
    if let Some(query) = &indices.query {
        object.insert("query".to_owned(), Value::String(query.clone()));
    }
    object.insert(
        "allow_restricted_indices".to_owned(),
        Value::Bool(indices.allow_restricted_indices),
    );
    object
}

fn remote_indices_json(indices: &IndicesPrivileges, clusters: &[String]) -> Value {
    let mut object = indices_json(indices);
    object.insert("clusters".to_owned(), json!(clusters));
    Value::Object(object)
}

impl RoleDescriptor {
    /// The normalised rendering of get and query responses (reference §7.3).
    pub fn to_json(&self) -> Map<String, Value> {
        let mut object = Map::new();
        object.insert("cluster".to_owned(), json!(self.cluster));
        object.insert(
            "indices".to_owned(),
            Value::Array(
                self.indices
                    .iter()
                    .map(|entry| Value::Object(indices_json(entry)))
                    .collect(),
            ),
        );
        object.insert(
            "applications".to_owned(),
            Value::Array(self.applications.clone()),
        );
        object.insert("run_as".to_owned(), json!(self.run_as));
        object.insert("metadata".to_owned(), Value::Object(self.metadata.clone()));
        let transient = self.transient_metadata.clone().unwrap_or_else(|| {
            let mut enabled = Map::new();
            enabled.insert("enabled".to_owned(), Value::Bool(true));
            enabled
        });
        object.insert("transient_metadata".to_owned(), Value::Object(transient));
        if let Some(global) = &self.global {
            object.insert("global".to_owned(), global.clone());
        }
        if let Some(remote_indices) = &self.remote_indices {
            object.insert(
                "remote_indices".to_owned(),
                Value::Array(remote_indices.clone()),
            );
        }
        if let Some(remote_cluster) = &self.remote_cluster {
            object.insert(
                "remote_cluster".to_owned(),
                Value::Array(remote_cluster.clone()),
            );
        }
        if let Some(restriction) = &self.restriction {
            object.insert("restriction".to_owned(), restriction.clone());
        }
        if let Some(description) = &self.description {
            object.insert("description".to_owned(), Value::String(description.clone()));
        }
        object
    }

    /// Whether the descriptor grants anything at all.
    pub fn grants_any_privilege(&self) -> bool {
        !self.cluster.is_empty()
            || !self.indices.is_empty()
            || !self.applications.is_empty()
            || !self.run_as.is_empty()
            || self
                .remote_indices
                .as_ref()
                .is_some_and(|entries| !entries.is_empty())
            || self
                .remote_cluster
                .as_ref()
                .is_some_and(|entries| !entries.is_empty())
            || self
                .global
                .as_ref()
                .and_then(Value::as_object)
                .is_some_and(|global| !global.is_empty())
    }

    /// Compiles each set of patterns the descriptor's permission holds, adding Elasticsearch's
    /// message for each that cannot be.
    fn compile_patterns(&self, errors: &mut ValidationErrors) {
        for entry in &self.indices {
            compile_patterns(&entry.names, "index", errors);
        }
        compile_patterns(&self.run_as, "run_as", errors);
        for application in &self.applications {
            let strings = |field: &str| string_list(application.get(field));
            compile_patterns(&strings("application"), "application", errors);
            compile_patterns(&strings("resources"), "resource", errors);
        }
    }

    fn validate(&self, errors: &mut ValidationErrors) {
        for privilege in &self.cluster {
            if let Err(message) = validate_cluster_privilege(privilege) {
                errors.add(message);
            }
        }
        for entry in &self.indices {
            validate_indices(entry, errors);
        }
        if let Some(remote_indices) = &self.remote_indices {
            for entry in remote_indices {
                if let Some(clusters) = entry.get("clusters").and_then(Value::as_array)
                    && clusters
                        .iter()
                        .any(|cluster| cluster.as_str().is_some_and(str::is_empty))
                {
                    errors.add("remote index cluster alias cannot be an empty string");
                }
                for privilege in entry
                    .get("privileges")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    if let Some(privilege) = privilege.as_str()
                        && let Err(message) = validate_index_privilege(privilege)
                    {
                        errors.add(message);
                    }
                }
            }
        }
        for entry in self.remote_cluster.iter().flatten() {
            for privilege in entry
                .get("privileges")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let name = privilege.as_str().unwrap_or_default();
                if !REMOTE_CLUSTER_PRIVILEGES.contains(&name) {
                    errors.add(format!(
                        "Invalid remote_cluster permissions found. Please remove the following: [{name}] Only [{}] are allowed",
                        REMOTE_CLUSTER_PRIVILEGES.join(", ")
                    ));
                }
            }
        }
        if self.metadata.keys().any(|key| key.starts_with('_')) {
            errors.add("role descriptor metadata keys may not start with [_]");
        }
        if let Some(workflows) = self
            .restriction
            .as_ref()
            .and_then(|restriction| restriction.get("workflows"))
            .and_then(Value::as_array)
        {
            for workflow in workflows {
                let name = workflow.as_str().unwrap_or_default();
                if !WORKFLOWS.contains(&name) {
                    errors.add(format!("unknown workflow [{name}]"));
                }
            }
        }
    }
}

/// Compiles one set of patterns; its failure as a validation message. Only index names are
/// refused for an invalid regular expression, as Elasticsearch's role validation does; elsewhere
/// such a pattern just grants nothing, as it does there.
fn compile_patterns(patterns: &[String], kind: &str, errors: &mut ValidationErrors) {
    match Automaton::from_patterns(patterns) {
        Ok(_) => {}
        Err(PatternError::InvalidRegex { .. }) => {
            if kind == "index" {
                // Each regular expression that does not compile, in order, as Elasticsearch
                // reports them (the set stops at the first).
                for pattern in patterns {
                    if let Err(error @ PatternError::InvalidRegex { .. }) =
                        Automaton::from_patterns([pattern])
                    {
                        errors.add(error.to_string());
                    }
                }
            }
        }
        Err(PatternError::TooComplex) => {
            // Elasticsearch names the patterns, cut to 80 characters.
            let mut description = patterns.join(",");
            if description.chars().count() > 80 {
                description = description.chars().take(80).collect::<String>() + "...";
            }
            errors.add(format!(
                "The set of permitted {kind} patterns [{description}] is too complex to evaluate"
            ));
        }
    }
}

fn validate_indices(entry: &IndicesPrivileges, errors: &mut ValidationErrors) {
    for privilege in &entry.privileges {
        if let Err(message) = validate_index_privilege(privilege) {
            errors.add(message);
        }
    }
    for name in &entry.names {
        if name.contains("::") {
            errors.add(format!(
                "selectors [::] are not allowed in the index name expression [{name}]"
            ));
        } else if name.is_empty() {
            errors.add(format!("invalid index name expression [{name}]"));
        } else if name.len() > 1 && name.starts_with('/') && name.ends_with('/') {
            // A regular expression: compiled with the descriptor's other patterns, under the
            // request's budget (`compile_patterns`), which reports one that does not compile.
        } else if name.chars().any(char::is_uppercase) {
            errors.add(format!("index name must be lowercase [{name}]"));
        }
    }
}

/// A named set of descriptors, in the order given (`role_descriptors`, `limited_by`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RoleDescriptors(pub Vec<(String, RoleDescriptor)>);

impl RoleDescriptors {
    /// Parses a `role_descriptors` object.
    pub fn parse(value: &Value, context: DescriptorContext) -> Result<RoleDescriptors, Error> {
        let Value::Object(roles) = value else {
            return Err(parse_error(format!(
                "failed to parse role descriptors. expected an object but found [{}] instead",
                json_token(value)
            )));
        };
        roles
            .iter()
            .map(|(name, descriptor)| {
                Ok((
                    name.clone(),
                    parse_role_descriptor(name, descriptor, context)?,
                ))
            })
            .collect::<Result<Vec<_>, Error>>()
            .map(RoleDescriptors)
    }

    /// Reads descriptors keyward stored itself (normalised form; descriptions allowed).
    pub fn from_stored(value: &Value) -> Result<RoleDescriptors, Error> {
        let Value::Object(roles) = value else {
            return Err(parse_error(
                "stored role descriptors are not an object".to_owned(),
            ));
        };
        let mut descriptors = Vec::with_capacity(roles.len());
        for (name, descriptor) in roles {
            let mut descriptor_value = descriptor.clone();
            // Restrictions live in key descriptors; read them back whatever the context.
            let restriction = descriptor_value
                .as_object_mut()
                .and_then(|fields| fields.remove("restriction"));
            let mut parsed =
                parse_role_descriptor(name, &descriptor_value, DescriptorContext::Role)?;
            parsed.restriction = restriction;
            descriptors.push((name.clone(), parsed));
        }
        Ok(RoleDescriptors(descriptors))
    }

    /// Adds every validation failure of every descriptor, plus the restriction rules across them.
    ///
    /// Every pattern a permission will compile (index names, run-as names, application names and
    /// resources) is compiled here, all under one request budget
    /// ([`crate::automaton::with_request_budget`]): an invalid regular expression, or patterns
    /// too complex to evaluate, are refused before anything is stored, and no request can make
    /// keyward do more automaton work than that budget.
    pub fn validate(&self, errors: &mut ValidationErrors) {
        for (_, descriptor) in &self.0 {
            descriptor.validate(errors);
        }
        let ((), _) = with_request_budget(REQUEST_WORK, || {
            for (_, descriptor) in &self.0 {
                descriptor.compile_patterns(errors);
            }
        });
        let restricted = self
            .0
            .iter()
            .filter(|(_, descriptor)| descriptor.restriction.is_some())
            .count();
        if restricted > 1 {
            errors.add("more than one role descriptor with restriction is not supported");
        } else if restricted == 1 && self.0.len() > 1 {
            errors.add("combining role descriptors with and without restriction is not supported");
        }
    }

    /// The normalised JSON object, keyed by role name.
    pub fn to_json(&self) -> Map<String, Value> {
        self.0
            .iter()
            .map(|(name, descriptor)| (name.clone(), Value::Object(descriptor.to_json())))
            .collect()
    }

    /// True when there are no descriptors.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether any descriptor grants anything.
    pub fn grants_any_privilege(&self) -> bool {
        self.0
            .iter()
            .any(|(_, descriptor)| descriptor.grants_any_privilege())
    }

    /// Equality regardless of order.
    pub fn set_equal(&self, other: &RoleDescriptors) -> bool {
        self.0.len() == other.0.len() && self.0.iter().all(|entry| other.0.contains(entry))
    }

    /// The same descriptors with descriptions dropped (owner snapshots carry none).
    pub fn without_descriptions(&self) -> RoleDescriptors {
        RoleDescriptors(
            self.0
                .iter()
                .map(|(name, descriptor)| {
                    (
                        name.clone(),
                        RoleDescriptor {
                            description: None,
                            ..descriptor.clone()
                        },
                    )
                })
                .collect(),
        )
    }
}

/// The built-in `superuser` role.
pub fn superuser_role() -> RoleDescriptor {
    let all_indices = IndicesPrivileges {
        names: vec!["*".to_owned()],
        privileges: vec!["all".to_owned()],
        field_security: None,
        query: None,
        allow_restricted_indices: false,
    };
    let restricted_indices = IndicesPrivileges {
        names: vec!["*".to_owned()],
        privileges: [
            "monitor",
            "read",
            "view_index_metadata",
            "read_cross_cluster",
        ]
        .map(str::to_owned)
        .to_vec(),
        field_security: None,
        query: None,
        allow_restricted_indices: true,
    };
    let everywhere = ["*".to_owned()];
    let mut metadata = Map::new();
    metadata.insert("_reserved".to_owned(), Value::Bool(true));
    RoleDescriptor {
        cluster: vec!["all".to_owned()],
        remote_indices: Some(vec![
            remote_indices_json(&all_indices, &everywhere),
            remote_indices_json(&restricted_indices, &everywhere),
        ]),
        indices: vec![all_indices, restricted_indices],
        applications: vec![json!({"application": "*", "privileges": ["*"], "resources": ["*"]})],
        run_as: vec!["*".to_owned()],
        metadata,
        transient_metadata: None,
        global: None,
        remote_cluster: Some(vec![
            json!({"privileges": ["monitor_enrich", "monitor_stats"], "clusters": ["*"]}),
        ]),
        restriction: None,
        description: Some("Grants full access to cluster management and data indices.".to_owned()),
    }
}

/// The strings of a field that takes one string or an array of them (`application`,
/// `resources`, `privileges` of an application entry); anything else holds none.
pub(crate) fn string_list(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|item| item.as_str().map(str::to_owned))
            .collect(),
        Some(Value::String(single)) => vec![single.clone()],
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(value: Value) -> Result<RoleDescriptors, Error> {
        RoleDescriptors::parse(&value, DescriptorContext::ApiKey)
    }

    #[test]
    fn normalises_like_get_api_key_shows_it() {
        let descriptors = parse(json!({"role-a": {"cluster": ["all"], "index": [{"names": "index-a", "privileges": ["read"]}]}}))
            .unwrap();
        assert_eq!(
            Value::Object(descriptors.to_json()).to_string(),
            r#"{"role-a":{"cluster":["all"],"indices":[{"names":["index-a"],"privileges":["read"],"allow_restricted_indices":false}],"applications":[],"run_as":[],"metadata":{},"transient_metadata":{"enabled":true}}}"#
        );
    }

    #[test]
    fn query_objects_become_strings_and_survive_storage() {
        let descriptors = parse(json!({"r": {"indices": [{"names": ["a"], "privileges": ["read"], "query": {"match_all": {}}}]}}))
            .unwrap();
        assert_eq!(
            descriptors.0[0].1.indices[0].query.as_deref(),
            Some(r#"{"match_all":{}}"#)
        );
        let stored = RoleDescriptors::from_stored(&Value::Object(descriptors.to_json())).unwrap();
        assert_eq!(stored, descriptors);
    }

    #[test]
    fn descriptions_are_rejected_in_api_key_descriptors() {
        let error = parse(json!({"r": {"description": "x"}})).unwrap_err();
        assert_eq!(
            error.to_string(),
            "failed to parse role [r]. unexpected field [description]"
        );
        let error = parse(json!({"r": {"cluster": "all"}})).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("expected field [cluster] value to be an array")
        );
        let error = parse(json!({"r": {"indices": [{"privileges": ["read"]}]}})).unwrap_err();
        assert!(
            error
                .to_string()
                .ends_with("missing required [names] field")
        );
    }

    #[test]
    fn index_name_regexes_must_compile() {
        let descriptors = parse(json!({
            "r": {"indices": [{"names": ["/[/", "/(/", "/logs-[a-z]+/", "/UPPER/", "/"], "privileges": ["read"]}]}
        }))
        .unwrap();
        let mut errors = ValidationErrors::default();
        descriptors.validate(&mut errors);
        assert_eq!(
            errors.messages(),
            [
                "invalid regular expression pattern [/[/]",
                "invalid regular expression pattern [/(/]",
                // A lone slash opens a regular expression it never closes, as in Elasticsearch's
                // automata.
                "invalid regular expression pattern [/]",
            ]
        );
    }

    #[test]
    fn validation_collects_every_problem() {
        let descriptors = parse(json!({
            "r": {"cluster": ["bogus"], "indices": [{"names": ["Upper"], "privileges": ["reed"]}], "metadata": {"_x": 1}}
        }))
        .unwrap();
        let mut errors = ValidationErrors::default();
        descriptors.validate(&mut errors);
        let messages = errors.messages();
        assert_eq!(messages.len(), 4, "{messages:?}");
        assert!(messages[0].starts_with("unknown cluster privilege [bogus]"));
        assert!(messages[1].starts_with("unknown index privilege [reed]"));
        assert_eq!(messages[2], "index name must be lowercase [Upper]");
        assert_eq!(
            messages[3],
            "role descriptor metadata keys may not start with [_]"
        );
    }

    #[test]
    fn restriction_rules_hold_across_descriptors() {
        let restricted = json!({"restriction": {"workflows": ["search_application_query"]}});
        let mut errors = ValidationErrors::default();
        parse(json!({"a": restricted, "b": {}}))
            .unwrap()
            .validate(&mut errors);
        assert_eq!(
            errors.messages(),
            ["combining role descriptors with and without restriction is not supported"]
        );
        let mut errors = ValidationErrors::default();
        parse(json!({"a": restricted, "b": restricted}))
            .unwrap()
            .validate(&mut errors);
        assert_eq!(
            errors.messages(),
            ["more than one role descriptor with restriction is not supported"]
        );
        let mut errors = ValidationErrors::default();
        parse(json!({"a": restricted}))
            .unwrap()
            .validate(&mut errors);
        assert!(errors.is_empty());
    }

    #[test]
    fn empty_descriptors_grant_nothing_and_order_does_not_matter() {
        assert!(!parse(json!({"a": {}})).unwrap().grants_any_privilege());
        assert!(
            parse(json!({"a": {"run_as": ["x"]}}))
                .unwrap()
                .grants_any_privilege()
        );
        let one = parse(json!({"a": {"cluster": ["all"]}, "b": {}})).unwrap();
        let two = parse(json!({"b": {}, "a": {"cluster": ["all"]}})).unwrap();
        assert!(one.set_equal(&two));
        assert!(!one.set_equal(&parse(json!({"a": {}})).unwrap()));
    }

    #[test]
    fn superuser_round_trips_through_storage() {
        let roles = RoleDescriptors(vec![("superuser".to_owned(), superuser_role())])
            .without_descriptions();
        let stored = RoleDescriptors::from_stored(&Value::Object(roles.to_json())).unwrap();
        assert_eq!(stored, roles);
        assert!(roles.grants_any_privilege());
    }
}
