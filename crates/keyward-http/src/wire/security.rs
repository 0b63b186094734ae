//! Bodies of the users, roles and application privileges endpoints: strict parsing into
//! service commands, and rendering in Elasticsearch's field order.

use keyward_core::json_token;
use keyward_core::role::{DescriptorContext, RoleDescriptor, parse_role_descriptor};
use keyward_service::{AppPrivilege, NewPassword, PutUser, User};
use serde_json::{Map, Value, json};
use zeroize::Zeroizing;

use super::ObjectReader;
use crate::error::EsError;

/// `security.put_user` body. Elasticsearch parses it by hand: any problem is a
/// `parse_exception` naming the request.
pub(crate) fn put_user_request(username: &str, body: &Value) -> Result<PutUser, EsError> {
    const WHAT: &str = "add user";
    let Value::Object(fields) = body else {
        return Err(EsError::parse(format!(
            "failed to parse {WHAT} request. expected an object but found [{}] instead",
            json_token(body)
        )));
    };
    let mut request = PutUser {
        username: username.to_owned(),
        ..PutUser::default()
    };
    let mut clear = None;
    let mut hashed = None;
    for (field, value) in fields {
        match field.as_str() {
            "username" => {
                let given = string(WHAT, field, value)?;
                if given.as_deref().is_some_and(|given| given != username) {
                    return Err(EsError::parse(format!(
                        "failed to parse {WHAT} request. username in the body [{}] does not match the username in the path [{username}]",
                        given.unwrap_or_default()
                    )));
                }
            }
            "password" => clear = string(WHAT, field, value)?.map(Zeroizing::new),
            "password_hash" => hashed = string(WHAT, field, value)?.map(Zeroizing::new),
            "roles" => request.roles = Some(strings(WHAT, field, value)?),
            "full_name" => request.full_name = string(WHAT, field, value)?,
            "email" => request.email = string(WHAT, field, value)?,
            "metadata" => match value {
                Value::Object(metadata) => request.metadata = Some(metadata.clone()),
                Value::Null => {}
                other => return Err(wrong_type(WHAT, field, "an object", other)),
            },
            "enabled" => match value {
                Value::Bool(enabled) => request.enabled = Some(*enabled),
                Value::Null => {}
                other => return Err(wrong_type(WHAT, field, "a boolean", other)),
            },
            other => {
                return Err(EsError::parse(format!(
                    "failed to parse {WHAT} request. unexpected field [{other}]"
                )));
            }
        }
    }
    request.password = new_password(WHAT, clear, hashed)?;
    Ok(request)
}

/// `security.change_password` body: `password` or `password_hash`.
pub(crate) fn change_password_request(body: &Value) -> Result<NewPassword, EsError> {
    const WHAT: &str = "change password";
    let Value::Object(fields) = body else {
        return Err(EsError::parse(format!(
            "failed to parse {WHAT} request. expected an object but found [{}] instead",
            json_token(body)
        )));
    };
    let mut clear = None;
    let mut hashed = None;
    for (field, value) in fields {
        match field.as_str() {
            "password" => clear = string(WHAT, field, value)?.map(Zeroizing::new),
            "password_hash" => hashed = string(WHAT, field, value)?.map(Zeroizing::new),
            other => {
                return Err(EsError::parse(format!(
                    "failed to parse {WHAT} request. unexpected field [{other}]"
                )));
            }
        }
    }
    new_password(WHAT, clear, hashed)?
        .ok_or_else(|| EsError::from(keyward_core::Error::validation("password is missing")))
}

/// A user as get shows it.
pub(crate) fn user(user: &User) -> Value {
    let mut object = Map::new();
    object.insert("username".to_owned(), Value::String(user.username.clone()));
    object.insert("roles".to_owned(), json!(user.roles));
    object.insert("full_name".to_owned(), json!(user.full_name));
    object.insert("email".to_owned(), json!(user.email));
    object.insert("metadata".to_owned(), Value::Object(user.metadata.clone()));
    object.insert("enabled".to_owned(), Value::Bool(user.enabled));
    Value::Object(object)
}

/// A `security.put_role` body: one descriptor in role format, `description` allowed.
pub(crate) fn role_request(name: &str, body: &Value) -> Result<RoleDescriptor, EsError> {
    Ok(parse_role_descriptor(name, body, DescriptorContext::Role)?)
}

/// A `security.bulk_put_role` body: `{"roles": {"<name>": <descriptor>, ...}}`.
pub(crate) fn bulk_put_role_request(
    body: &Value,
) -> Result<Vec<(String, RoleDescriptor)>, EsError> {
    let mut reader = ObjectReader::new(body, "bulk_put_roles_request")?;
    let roles = reader.object("roles")?;
    reader.finish()?;
    let roles = roles.ok_or_else(|| EsError::x_content("Required [roles]"))?;
    roles
        .iter()
        .map(|(name, value)| Ok((name.clone(), role_request(name, value)?)))
        .collect()
}

/// A `security.bulk_delete_role` body: `{"names": [...]}`.
pub(crate) fn bulk_delete_role_request(body: &Value) -> Result<Vec<String>, EsError> {
    let mut reader = ObjectReader::new(body, "bulk_delete_roles_request")?;
    let names = reader.strings("names")?;
    reader.finish()?;
    names.ok_or_else(|| EsError::x_content("Required [names]"))
}

/// A `security.put_privileges` body: applications, each an object of privileges by name.
pub(crate) fn put_privileges_request(body: &Value) -> Result<Vec<AppPrivilege>, EsError> {
    let Value::Object(applications) = body else {
        return Err(EsError::parse(format!(
            "failed to parse privileges. expected an object but found [{}] instead",
            json_token(body)
        )));
    };
    let mut privileges = Vec::new();
    for (application, value) in applications {
        let Value::Object(named) = value else {
            return Err(EsError::parse(format!(
                "failed to parse privileges for application [{application}]. expected an object but found [{}] instead",
                json_token(value)
            )));
        };
        for (name, value) in named {
            let mut reader = ObjectReader::new(value, "application_privilege")?;
            let given_application = reader.string("application")?;
            let given_name = reader.string("name")?;
            let actions = reader.strings("actions")?.unwrap_or_default();
            let metadata = reader.object("metadata")?.cloned().unwrap_or_default();
            reader.finish()?;
            if let Some(given) = given_application.filter(|given| given != application) {
                return Err(EsError::illegal_argument(format!(
                    "privilege application [{given}] in source does not match the provided application [{application}]"
                )));
            }
            if let Some(given) = given_name.filter(|given| given != name) {
                return Err(EsError::illegal_argument(format!(
                    "privilege name [{given}] in source does not match the provided name [{name}]"
                )));
            }
            privileges.push(AppPrivilege {
                application: application.clone(),
                name: name.clone(),
                actions,
                metadata,
            });
        }
    }
    Ok(privileges)
}

/// Application privileges grouped by application then name, as get shows them.
pub(crate) fn privileges(privileges: &[AppPrivilege]) -> Value {
    let mut applications = Map::new();
    for privilege in privileges {
        let entry = applications
            .entry(privilege.application.clone())
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(named) = entry {
            named.insert(
                privilege.name.clone(),
                json!({
                    "application": privilege.application,
                    "name": privilege.name,
                    "actions": privilege.actions,
                    "metadata": privilege.metadata,
                }),
            );
        }
    }
    Value::Object(applications)
}

/// A comma-separated list from a path parameter, blanks dropped.
pub(crate) fn names(param: &str) -> Vec<String> {
    param
        .split(',')
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .map(str::to_owned)
        .collect()
}

fn new_password(
    what: &str,
    clear: Option<Zeroizing<String>>,
    hashed: Option<Zeroizing<String>>,
) -> Result<Option<NewPassword>, EsError> {
    match (clear, hashed) {
        (Some(_), Some(_)) => Err(EsError::parse(format!(
            "failed to parse {what} request. only one of [password, password_hash] can be provided"
        ))),
        (Some(clear), None) => Ok(Some(NewPassword::Clear(clear))),
        (None, Some(hashed)) => Ok(Some(NewPassword::Hash(hashed))),
        (None, None) => Ok(None),
    }
}

fn string(what: &str, field: &str, value: &Value) -> Result<Option<String>, EsError> {
    match value {
        Value::String(text) => Ok(Some(text.clone())),
        Value::Null => Ok(None),
        other => Err(wrong_type(what, field, "a string", other)),
    }
}

fn strings(what: &str, field: &str, value: &Value) -> Result<Vec<String>, EsError> {
    match value {
        Value::String(text) => Ok(vec![text.clone()]),
        Value::Array(items) => items
            .iter()
            .map(|item| match item {
                Value::String(text) => Ok(text.clone()),
                other => Err(wrong_type(what, field, "an array of strings", other)),
            })
            .collect(),
        other => Err(wrong_type(
            what,
            field,
            "a string or an array of strings",
            other,
        )),
    }
}

fn wrong_type(what: &str, field: &str, expected: &str, found: &Value) -> EsError {
    EsError::parse(format!(
        "failed to parse {what} request. expected field [{field}] to be {expected}, but found [{}] instead",
        json_token(found)
    ))
}
