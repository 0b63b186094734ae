//! Role mappings (`security.put_role_mapping`): which roles a user of an external realm gets,
//! decided by a rule over the user's name, DN, groups, realm and metadata.
//!
//! This module parses a mapping as Elasticsearch does (the `role-mapping` parser, its rule
//! language and its validation messages), renders it back in Elasticsearch's shape, and decides
//! a mapping for a user ([`RoleMapping::roles_for`]). Role templates are a small mustache subset
//! (`template`). keyward's own realms (native, reserved, API keys, tokens) do not use role
//! mappings, as in Elasticsearch; the evaluation is here for realms that will.

use std::fmt;

use serde_json::{Map, Number, Value};

use crate::automaton::{Automaton, REQUEST_WORK, with_request_budget};
use crate::error::{Error, ValidationErrors, json_token};

pub mod template;

pub use template::Template;

/// The name of Elasticsearch's parser for a mapping body, as its errors name it.
const PARSER: &str = "role-mapping";

/// A parsed, validated role mapping.
#[derive(Debug, Clone)]
pub struct RoleMapping {
    /// Disabled mappings grant nothing.
    pub enabled: bool,
    /// Role names granted when the rules match (empty when templates are used).
    pub roles: Vec<String>,
    /// Templates producing role names when the rules match (empty when roles are used).
    pub role_templates: Vec<RoleTemplate>,
    /// Which users the mapping applies to.
    pub rules: RuleExpression,
    /// The mapping's metadata object.
    pub metadata: Map<String, Value>,
}

impl RoleMapping {
    /// Parses and validates the body of `PUT /_security/role_mapping/{name}`: structure errors
    /// as `x_content_parse_exception` (with a `parse_exception` cause for the rules), then the
    /// request validation Elasticsearch does (`action_request_validation_exception`), then the
    /// templates compile.
    pub fn parse(body: &Value) -> Result<RoleMapping, Error> {
        let Value::Object(fields) = body else {
            return Err(Error::x_content(format!(
                "[{PARSER}] Expected START_OBJECT but was: {}",
                json_token(body)
            )));
        };
        let mut enabled = true;
        let mut roles = Vec::new();
        let mut role_templates = Vec::new();
        let mut rules = None;
        let mut metadata = Map::new();
        for (field, value) in fields {
            match field.as_str() {
                "enabled" => {
                    enabled = match value {
                        Value::Bool(flag) => *flag,
                        Value::String(text) if text == "true" => true,
                        Value::String(text) if text == "false" => false,
                        other => return Err(wrong_type(field, other)),
                    }
                }
                "roles" => roles = strings(field, value)?,
                "role_templates" => match value {
                    Value::Array(items) => {
                        for item in items {
                            role_templates.push(
                                RoleTemplate::parse(item)
                                    .map_err(|cause| field_error(field).with_cause(cause))?,
                            );
                        }
                    }
                    Value::Null => {}
                    other => return Err(wrong_type(field, other)),
                },
                "rules" => {
                    if !value.is_null() {
                        rules = Some(
                            parse_rules(value)
                                .map_err(|cause| field_error(field).with_cause(cause))?,
                        );
                    }
                }
                "metadata" => match value {
                    Value::Object(object) => metadata = object.clone(),
                    Value::Null => {}
                    other => return Err(wrong_type(field, other)),
                },
                // Elasticsearch skips these two (written into stored mappings by old versions).
                "doc_type" | "type" => match value {
                    Value::String(_) | Value::Null => {}
                    other => return Err(wrong_type(field, other)),
                },
                // The request specification lists `run_as`; no Elasticsearch mapping grants it,
                // so only an empty list is accepted.
                "run_as" => {
                    let names = strings(field, value)?;
                    if !names.is_empty() {
                        return Err(Error::illegal_argument(
                            "run_as is not supported in role mappings",
                        ));
                    }
                }
                unknown => {
                    return Err(Error::x_content(format!(
                        "[{PARSER}] unknown field [{unknown}]"
                    )));
                }
            }
        }
        let mut errors = ValidationErrors::default();
        if roles.is_empty() && role_templates.is_empty() {
            errors.add("role-mapping roles or role-templates are missing");
        }
        if !roles.is_empty() && !role_templates.is_empty() {
            errors.add("role-mapping cannot have both roles and role-templates");
        }
        if rules.is_none() {
            errors.add("role-mapping rules are missing");
        }
        if metadata.keys().any(|key| key.starts_with('_')) {
            errors.add("metadata keys may not start with [_]");
        }
        errors.into_result()?;
        let Some(rules) = rules else {
            // Unreachable: a missing rule is a validation error above.
            return Err(Error::validation("role-mapping rules are missing"));
        };
        Ok(RoleMapping {
            enabled,
            roles,
            role_templates,
            rules,
            metadata,
        })
    }

    /// The mapping as Elasticsearch renders it (get API, stored form): `enabled`, `roles`,
    /// `role_templates` when there are any, `rules`, `metadata`.
    pub fn to_json(&self) -> Value {
        let mut object = Map::new();
        object.insert("enabled".to_owned(), Value::Bool(self.enabled));
        object.insert(
            "roles".to_owned(),
            Value::Array(self.roles.iter().cloned().map(Value::String).collect()),
        );
        if !self.role_templates.is_empty() {
            object.insert(
                "role_templates".to_owned(),
                Value::Array(
                    self.role_templates
                        .iter()
                        .map(RoleTemplate::to_json)
                        .collect(),
                ),
            );
        }
        object.insert("rules".to_owned(), self.rules.to_json());
        object.insert("metadata".to_owned(), Value::Object(self.metadata.clone()));
        Value::Object(object)
    }

    /// The role names this mapping grants `user`: none when disabled or when the rules do not
    /// match; otherwise its roles, or what its templates produce for the user.
    pub fn roles_for(&self, user: &UserData) -> Result<Vec<String>, Error> {
        if !self.enabled || !self.rules.matches(user) {
            return Ok(Vec::new());
        }
        if self.role_templates.is_empty() {
            return Ok(self.roles.clone());
        }
        let model = user.template_model();
        let mut names = Vec::new();
        for role_template in &self.role_templates {
            names.extend(role_template.role_names(&model)?);
        }
        Ok(names)
    }
}

/// What a realm knows about a user, the facts role mapping rules test.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UserData {
    /// The principal.
    pub username: String,
    /// The user's distinguished name, when the realm has one (LDAP, PKI).
    pub dn: Option<String>,
    /// The user's groups (LDAP group DNs, SAML/OIDC/JWT group claims).
    pub groups: Vec<String>,
    /// Realm-specific metadata (`metadata.<key>` in rules).
    pub metadata: Map<String, Value>,
    /// The realm's name (`realm.name` in rules).
    pub realm_name: String,
}

impl UserData {
    /// The value of `field` in rules: `None` for a field the user has no value for.
    fn field(&self, field: &str) -> Option<ModelValue<'_>> {
        match field {
            "username" => Some(ModelValue::Plain(Value::String(self.username.clone()))),
            "dn" => self.dn.as_deref().map(ModelValue::Dn),
            "groups" => Some(ModelValue::Groups(&self.groups)),
            "realm.name" => Some(ModelValue::Plain(Value::String(self.realm_name.clone()))),
            _ => field
                .strip_prefix("metadata.")
                .and_then(|key| self.metadata.get(key))
                .map(|value| ModelValue::Plain(value.clone())),
        }
    }

    /// The variables of role templates: the fields by their dotted names (`realm.name`,
    /// `metadata.uid`) and as nested objects (`realm`, `metadata`), so both spellings resolve.
    fn template_model(&self) -> Map<String, Value> {
        let mut model = Map::new();
        model.insert("username".to_owned(), Value::String(self.username.clone()));
        model.insert(
            "dn".to_owned(),
            self.dn.clone().map_or(Value::Null, Value::String),
        );
        model.insert(
            "groups".to_owned(),
            Value::Array(self.groups.iter().cloned().map(Value::String).collect()),
        );
        let mut realm = Map::new();
        realm.insert("name".to_owned(), Value::String(self.realm_name.clone()));
        model.insert("realm".to_owned(), Value::Object(realm));
        model.insert(
            "realm.name".to_owned(),
            Value::String(self.realm_name.clone()),
        );
        for (key, value) in &self.metadata {
            model.insert(format!("metadata.{key}"), value.clone());
        }
        model.insert("metadata".to_owned(), Value::Object(self.metadata.clone()));
        model
    }
}

/// One value of the user's, as rules compare it.
enum ModelValue<'a> {
    /// A name, metadata value (an array holds several).
    Plain(Value),
    /// A distinguished name, compared as one.
    Dn(&'a str),
    /// Group names, each compared as a distinguished name.
    Groups(&'a [String]),
}

/// A rule of the role mapping language.
#[derive(Debug, Clone)]
pub enum RuleExpression {
    /// Every sub-rule matches (none: true).
    All(Vec<RuleExpression>),
    /// Some sub-rule matches (none: false).
    Any(Vec<RuleExpression>),
    /// The sub-rule does not match; only directly inside `all`, as Elasticsearch allows it.
    Except(Box<RuleExpression>),
    /// The user's `field` matches one of `values`.
    Field {
        /// The field name (`username`, `dn`, `groups`, `realm.name`, `metadata.<key>`; any
        /// other name has no value, so only `null` matches it).
        field: String,
        /// The values, any of which may match.
        values: Vec<FieldValue>,
    },
}

impl RuleExpression {
    /// Whether the rule holds for `user`.
    pub fn matches(&self, user: &UserData) -> bool {
        match self {
            RuleExpression::All(rules) => rules.iter().all(|rule| rule.matches(user)),
            RuleExpression::Any(rules) => rules.iter().any(|rule| rule.matches(user)),
            RuleExpression::Except(rule) => !rule.matches(user),
            RuleExpression::Field { field, values } => {
                let model = user.field(field);
                values.iter().any(|value| value.matches(model.as_ref()))
            }
        }
    }

    /// The rule as Elasticsearch renders it.
    pub fn to_json(&self) -> Value {
        let mut object = Map::new();
        match self {
            RuleExpression::All(rules) | RuleExpression::Any(rules) => {
                let name = if matches!(self, RuleExpression::All(_)) {
                    "all"
                } else {
                    "any"
                };
                object.insert(
                    name.to_owned(),
                    Value::Array(rules.iter().map(RuleExpression::to_json).collect()),
                );
            }
            RuleExpression::Except(rule) => {
                object.insert("except".to_owned(), rule.to_json());
            }
            RuleExpression::Field { field, values } => {
                let rendered = match values.as_slice() {
                    [single] => single.value.clone(),
                    _ => Value::Array(values.iter().map(|value| value.value.clone()).collect()),
                };
                let mut inner = Map::new();
                inner.insert(field.clone(), rendered);
                object.insert("field".to_owned(), Value::Object(inner));
            }
        }
        Value::Object(object)
    }
}

/// One value of a `field` rule: a string (exact, a wildcard pattern or a `/regex/`), a number,
/// a boolean or `null`.
#[derive(Clone)]
pub struct FieldValue {
    /// The value as given (numbers as Elasticsearch reads them: whole numbers).
    value: Value,
    /// For strings: the compiled pattern.
    pattern: Option<Automaton>,
}

impl FieldValue {
    /// Whether the user's value (`None`: the user has none) matches this one.
    fn matches(&self, model: Option<&ModelValue<'_>>) -> bool {
        match model {
            None => self.value.is_null(),
            Some(ModelValue::Plain(Value::Array(items))) => {
                items.iter().any(|item| self.matches_plain(item))
            }
            Some(ModelValue::Plain(value)) => self.matches_plain(value),
            Some(ModelValue::Dn(dn)) => self.matches_dn(dn),
            Some(ModelValue::Groups(groups)) => groups
                .iter()
                .filter(|group| !group.is_empty())
                .any(|group| self.matches_dn(group)),
        }
    }

    fn matches_plain(&self, model: &Value) -> bool {
        match (&self.pattern, model) {
            (Some(pattern), Value::String(text)) => pattern.matches(text),
            (Some(_), _) => false,
            (None, Value::Number(number)) => {
                number_as_long(number).is_some_and(|long| self.value.as_i64() == Some(long))
            }
            (None, other) => &self.value == other,
        }
    }

    /// Distinguished names match as the pattern does on the text as given, normalised,
    /// lower- or upper-cased; an exact value also matches an equal DN written differently
    /// (case, spaces), and `*,<dn>` matches every DN below `<dn>`.
    fn matches_dn(&self, dn: &str) -> bool {
        let Some(pattern) = &self.pattern else {
            return false;
        };
        let normalised = normalise_dn(dn);
        if pattern.matches(dn)
            || normalised
                .as_deref()
                .is_some_and(|text| pattern.matches(text))
            || pattern.matches(&dn.to_lowercase())
            || pattern.matches(&dn.to_uppercase())
        {
            return true;
        }
        let Some(text) = self.value.as_str() else {
            return false;
        };
        if text.eq_ignore_ascii_case(dn) {
            return true;
        }
        let Some(normalised) = normalised else {
            return false;
        };
        if let Some(parent) = text.strip_prefix("*,") {
            return normalise_dn(parent)
                .is_some_and(|parent| normalised.ends_with(&format!(",{parent}")));
        }
        normalise_dn(text).is_some_and(|other| other == normalised)
    }
}

impl fmt::Debug for FieldValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("FieldValue").field(&self.value).finish()
    }
}

/// A role template: a mustache script producing one role name (`string`) or a JSON string or
/// array of them (`json`).
#[derive(Debug, Clone)]
pub struct RoleTemplate {
    /// The script as stored and shown: the JSON text of `{"source": …}`.
    pub template: String,
    /// How the output becomes role names.
    pub format: TemplateFormat,
    /// The compiled source.
    compiled: Template,
    /// The script's own `params`, under the user's fields.
    params: Map<String, Value>,
}

impl RoleTemplate {
    fn parse(value: &Value) -> Result<RoleTemplate, Error> {
        const TEMPLATE_PARSER: &str = "role-mapping-template";
        let Value::Object(fields) = value else {
            return Err(Error::x_content(format!(
                "[{TEMPLATE_PARSER}] Expected START_OBJECT but was: {}",
                json_token(value)
            )));
        };
        let mut template = None;
        let mut format = TemplateFormat::String;
        for (field, value) in fields {
            match field.as_str() {
                "template" => {
                    template = Some(match value {
                        Value::String(text) => text.clone(),
                        other => other.to_string(),
                    })
                }
                "format" => {
                    format = match value {
                        Value::String(text) => match text.to_ascii_lowercase().as_str() {
                            "json" => TemplateFormat::Json,
                            "string" => TemplateFormat::String,
                            _ => {
                                return Err(Error::x_content(format!(
                                    "Invalid format [{text}] expected one of [json,string]"
                                )));
                            }
                        },
                        other => {
                            return Err(Error::x_content(format!(
                                "Expected [VALUE_STRING] but found [{}]",
                                json_token(other)
                            )));
                        }
                    }
                }
                unknown => {
                    return Err(Error::x_content(format!(
                        "[{TEMPLATE_PARSER}] unknown field [{unknown}]"
                    )));
                }
            }
        }
        let Some(template) = template else {
            return Err(Error::illegal_argument(
                "role template is missing its [template]",
            ));
        };
        let (compiled, params) = compile_script(&template)?;
        Ok(RoleTemplate {
            template,
            format,
            compiled,
            params,
        })
    }

    fn to_json(&self) -> Value {
        let mut object = Map::new();
        object.insert("template".to_owned(), Value::String(self.template.clone()));
        object.insert(
            "format".to_owned(),
            Value::String(self.format.name().to_owned()),
        );
        Value::Object(object)
    }

    /// The role names the template produces for the user's template model.
    fn role_names(&self, model: &Map<String, Value>) -> Result<Vec<String>, Error> {
        let mut scope = self.params.clone();
        scope.extend(
            model
                .iter()
                .map(|(key, value)| (key.clone(), value.clone())),
        );
        let output = self.compiled.render(&Value::Object(scope))?;
        match self.format {
            TemplateFormat::String => Ok(vec![output]),
            TemplateFormat::Json => match serde_json::from_str::<Value>(&output) {
                Ok(Value::String(name)) => Ok(vec![name]),
                Ok(Value::Array(items)) => items
                    .into_iter()
                    .filter(|item| !item.is_null())
                    .map(|item| match item {
                        Value::String(name) => Ok(name),
                        other => Err(Error::x_content(format!(
                            "Roles array may only contain strings but found [{other}]"
                        ))),
                    })
                    .collect(),
                Ok(other) => Err(Error::x_content(format!(
                    "Roles template must generate a string or an array of strings, but found [{}]",
                    json_token(&other)
                ))),
                Err(err) => Err(Error::x_content(format!(
                    "role template output is not JSON: {err}"
                ))),
            },
        }
    }
}

/// How a role template's output becomes role names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TemplateFormat {
    /// The output parsed as JSON: a string or an array of strings.
    Json,
    /// The output is one role name.
    String,
}

impl TemplateFormat {
    /// The name Elasticsearch renders.
    pub fn name(self) -> &'static str {
        match self {
            TemplateFormat::Json => "json",
            TemplateFormat::String => "string",
        }
    }
}

/// Reads the script of a role template (`{"source": …, "lang": "mustache", "params": {…},
/// "options": {…}}`, as JSON text) and compiles its source.
fn compile_script(text: &str) -> Result<(Template, Map<String, Value>), Error> {
    let script: Value = serde_json::from_str(text).map_err(|err| {
        Error::illegal_argument(format!("role template is not a valid script: {err}"))
    })?;
    let Value::Object(fields) = script else {
        return Err(Error::illegal_argument(format!(
            "role template must be a script object but found [{}]",
            json_token(&script)
        )));
    };
    let mut source = None;
    let mut params = Map::new();
    for (field, value) in &fields {
        match (field.as_str(), value) {
            ("source" | "inline", Value::String(text)) => source = Some(text.clone()),
            // A script source given as an object is that object's JSON text.
            ("source" | "inline", other @ Value::Object(_)) => source = Some(other.to_string()),
            ("lang", Value::String(lang)) if lang == "mustache" => {}
            ("lang", other) => {
                return Err(Error::illegal_argument(format!(
                    "role templates must use the [mustache] script language, not [{}]",
                    other.as_str().unwrap_or_default()
                )));
            }
            ("params", Value::Object(object)) => params = object.clone(),
            ("options", Value::Object(_)) => {}
            ("id", _) => {
                return Err(Error::illegal_argument(
                    "role templates must be inline scripts: stored scripts are not supported",
                ));
            }
            (unknown, _) => {
                return Err(Error::illegal_argument(format!(
                    "unexpected field [{unknown}] in role template script"
                )));
            }
        }
    }
    let Some(source) = source else {
        return Err(Error::illegal_argument(
            "role template script must have a [source]",
        ));
    };
    Ok((Template::compile(&source)?, params))
}

/// Parses the `rules` object: one of `all`, `any`, `field` (and `except`, only directly inside
/// `all`), with Elasticsearch's `parse_exception` messages. Patterns compile within one request
/// budget.
fn parse_rules(value: &Value) -> Result<RuleExpression, Error> {
    let (parsed, _) = with_request_budget(REQUEST_WORK, || rules_object("rules", value, false));
    parsed
}

fn rules_object(
    object_name: &str,
    value: &Value,
    allow_except: bool,
) -> Result<RuleExpression, Error> {
    let Value::Object(fields) = value else {
        return Err(parse_error(format!(
            "failed to parse rules expression. expected [{object_name}] to be an object but found [{}] instead",
            json_token(value)
        )));
    };
    let mut entries = fields.iter();
    let Some((field, inner)) = entries.next() else {
        return Err(parse_error(format!(
            "failed to parse rules expression. object [{object_name}] does not contain any fields"
        )));
    };
    let expression = match field.as_str() {
        "any" => RuleExpression::Any(rule_array("any", inner, false)?),
        "all" => RuleExpression::All(rule_array("all", inner, true)?),
        "field" => field_rule(inner)?,
        "except" if allow_except => {
            expect_object(inner)?;
            RuleExpression::Except(Box::new(rules_object("except", inner, false)?))
        }
        "except" => {
            return Err(parse_error(format!(
                "failed to parse rules expression. field [except] is not allowed within [{object_name}]"
            )));
        }
        other => {
            return Err(parse_error(format!(
                "failed to parse rules expression. field [{other}] is not recognised in object [{object_name}]"
            )));
        }
    };
    if entries.next().is_some() {
        return Err(parse_error(format!(
            "failed to parse rules expression. object [{object_name}] contains multiple fields"
        )));
    }
    Ok(expression)
}

fn rule_array(name: &str, value: &Value, allow_except: bool) -> Result<Vec<RuleExpression>, Error> {
    let Value::Array(items) = value else {
        return Err(parse_error(format!(
            "failed to parse rules expression. field [{name}] requires an array"
        )));
    };
    items
        .iter()
        .map(|item| rules_object(name, item, allow_except))
        .collect()
}

fn field_rule(value: &Value) -> Result<RuleExpression, Error> {
    let fields = expect_object(value)?;
    let mut entries = fields.iter();
    let Some((field, values)) = entries.next() else {
        return Err(parse_error(
            "failed to parse rules expression. object [field] does not contain any fields",
        ));
    };
    if entries.next().is_some() {
        return Err(parse_error(
            "failed to parse rules expression. object [field] contains multiple fields",
        ));
    }
    let values = match values {
        Value::Array(items) => items.iter().map(field_value).collect::<Result<_, _>>()?,
        single => vec![field_value(single)?],
    };
    Ok(RuleExpression::Field {
        field: field.clone(),
        values,
    })
}

fn field_value(value: &Value) -> Result<FieldValue, Error> {
    match value {
        Value::String(text) => {
            let pattern = Automaton::from_patterns([text.as_str()])
                .map_err(|err| Error::illegal_argument(format!("{err}: [{text}]")))?;
            Ok(FieldValue {
                value: value.clone(),
                pattern: Some(pattern),
            })
        }
        Value::Number(number) => {
            // Elasticsearch reads rule numbers as Java longs (fractions truncated).
            let long = number_as_long(number).ok_or_else(|| {
                parse_error(format!(
                    "failed to parse rules expression. numeric value [{number}] is out of range of long"
                ))
            })?;
            Ok(FieldValue {
                value: Value::Number(Number::from(long)),
                pattern: None,
            })
        }
        Value::Bool(_) | Value::Null => Ok(FieldValue {
            value: value.clone(),
            pattern: None,
        }),
        other => Err(parse_error(format!(
            "failed to parse rules expression. expected a field value but found [{}] instead",
            json_token(other)
        ))),
    }
}

fn number_as_long(number: &Number) -> Option<i64> {
    if let Some(long) = number.as_i64() {
        return Some(long);
    }
    if number.is_u64() {
        return None;
    }
    let float = number.as_f64()?;
    // `as` saturates; a value outside the range of a long is refused instead.
    (float.is_finite() && float >= i64::MIN as f64 && float < i64::MAX as f64)
        .then(|| float.trunc() as i64)
}

fn expect_object(value: &Value) -> Result<&Map<String, Value>, Error> {
    match value {
        Value::Object(fields) => Ok(fields),
        other => Err(parse_error(format!(
            "failed to parse rules expression. expected an object but found [{}] instead",
            json_token(other)
        ))),
    }
}

/// Normalises a distinguished name for comparison: attribute names and values trimmed and
/// lower-cased, RDNs joined by `,`. `None` when the text is not a DN (an RDN without `=`).
fn normalise_dn(text: &str) -> Option<String> {
    let mut rdns = Vec::new();
    let mut current = String::new();
    let mut escaped = false;
    for c in text.chars() {
        if escaped {
            current.push(c);
            escaped = false;
        } else if c == '\\' {
            current.push(c);
            escaped = true;
        } else if c == ',' || c == ';' {
            rdns.push(std::mem::take(&mut current));
        } else {
            current.push(c);
        }
    }
    rdns.push(current);
    let mut normalised = Vec::with_capacity(rdns.len());
    for rdn in rdns {
        let (attribute, value) = rdn.split_once('=')?;
        let attribute = attribute.trim();
        if attribute.is_empty() {
            return None;
        }
        normalised.push(format!(
            "{}={}",
            attribute.to_lowercase(),
            value.trim().to_lowercase()
        ));
    }
    Some(normalised.join(","))
}

fn parse_error(reason: impl Into<String>) -> Error {
    Error::Parse(reason.into())
}

/// `[role-mapping] failed to parse field [name]`, for a cause found inside the field.
fn field_error(field: &str) -> FieldError {
    FieldError(format!("[{PARSER}] failed to parse field [{field}]"))
}

struct FieldError(String);

impl FieldError {
    fn with_cause(self, cause: Error) -> Error {
        Error::XContentParse {
            reason: self.0,
            caused_by: Some(Box::new(cause)),
        }
    }
}

fn wrong_type(field: &str, value: &Value) -> Error {
    field_error(field).with_cause(Error::illegal_argument(format!(
        "[{field}] doesn't support values of type: {}",
        json_token(value)
    )))
}

fn strings(field: &str, value: &Value) -> Result<Vec<String>, Error> {
    match value {
        Value::Null => Ok(Vec::new()),
        Value::String(text) => Ok(vec![text.clone()]),
        Value::Array(items) => items
            .iter()
            .map(|item| match item {
                Value::String(text) => Ok(text.clone()),
                other => Err(wrong_type(field, other)),
            })
            .collect(),
        other => Err(wrong_type(field, other)),
    }
}

#[cfg(test)]
mod tests;
