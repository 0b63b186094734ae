//! The `security_config_change` payloads, in the shapes Elasticsearch logs: built from the
//! request that succeeded, field by field from an allow-list, so a password, password hash,
//! access token or key secret in a body can never reach the audit log.

use serde_json::{Map, Value, json};

use crate::routes::Action;

/// The configuration changes a successful request of `action` made: the `event.action` and
/// its payload for each (bulk requests log one event per role).
///
/// `body` is the request body as JSON (`Value::Null` when absent), `param` reads path
/// parameters, `reply` is the response body, `caller` the authenticated user's name.
pub(crate) fn config_changes(
    action: Action,
    body: &Value,
    param: &dyn Fn(&str) -> Option<String>,
    reply: &Value,
    caller: &str,
) -> Vec<(&'static str, Value)> {
    let name_param = |name: &str| Value::String(param(name).unwrap_or_default());
    match action {
        // Elasticsearch's events name the token, never its value.
        Action::SecurityCreateServiceToken | Action::SecurityDeleteServiceToken => {
            let event = if action == Action::SecurityCreateServiceToken {
                "create_service_token"
            } else {
                "delete_service_token"
            };
            let name = reply
                .pointer("/token/name")
                .cloned()
                .unwrap_or_else(|| name_param("name"));
            let token = json!({
                "namespace": name_param("namespace"),
                "service": name_param("service"),
                "name": name,
            });
            let verb = if action == Action::SecurityCreateServiceToken {
                "create"
            } else {
                "delete"
            };
            vec![(event, json!({ verb: { "service_token": token } }))]
        }
        Action::SecurityCreateApiKey | Action::SecurityCreateCrossClusterApiKey => {
            vec![(
                "create_apikey",
                json!({ "create": { "apikey": apikey(body, reply) } }),
            )]
        }
        Action::SecurityGrantApiKey => {
            let key = apikey(body.get("api_key").unwrap_or(&Value::Null), reply);
            vec![("create_apikey", json!({ "create": granted(body, key) }))]
        }
        Action::SecurityBulkGrantApiKey => {
            // One event per key created, in request order (the reply lists them so).
            let requested = body.get("api_keys").and_then(Value::as_array);
            let created = reply.get("created").and_then(Value::as_array);
            created
                .into_iter()
                .flatten()
                .enumerate()
                .map(|(index, reply)| {
                    let key_body = requested
                        .and_then(|keys| keys.get(index))
                        .unwrap_or(&Value::Null);
                    let key = apikey(key_body, reply);
                    ("create_apikey", json!({ "create": granted(body, key) }))
                })
                .collect()
        }
        Action::SecurityCloneApiKey => {
            // The body's `api_key` is the source key's credential: only the clone's own fields
            // are named.
            let mut key = Map::new();
            copy(reply, "id", &mut key, "id");
            copy(reply, "name", &mut key, "name");
            copy(body, "expiration", &mut key, "expiration");
            copy(body, "metadata", &mut key, "metadata");
            vec![("create_apikey", json!({ "create": { "apikey": key } }))]
        }
        Action::SecurityUpdateApiKey | Action::SecurityUpdateCrossClusterApiKey => {
            let mut key = Map::new();
            key.insert("id".to_owned(), name_param("id"));
            update_fields(body, &mut key);
            vec![("change_apikey", json!({ "change": { "apikey": key } }))]
        }
        Action::SecurityBulkUpdateApiKeys => {
            let mut keys = Map::new();
            copy(body, "ids", &mut keys, "ids");
            update_fields(body, &mut keys);
            vec![("change_apikeys", json!({ "change": { "apikeys": keys } }))]
        }
        Action::SecurityInvalidateApiKey => {
            let mut keys = Map::new();
            let mut ids: Vec<Value> = Vec::new();
            if let Some(id) = body.get("id").filter(|id| id.is_string()) {
                ids.push(id.clone());
            }
            if let Some(Value::Array(more)) = body.get("ids") {
                ids.extend(more.iter().cloned());
            }
            if !ids.is_empty() {
                keys.insert("ids".to_owned(), Value::Array(ids));
            }
            copy(body, "name", &mut keys, "name");
            keys.insert(
                "owned_by_authenticated_user".to_owned(),
                Value::Bool(body.get("owner").and_then(Value::as_bool).unwrap_or(false)),
            );
            let mut user = Map::new();
            copy(body, "username", &mut user, "name");
            copy(body, "realm_name", &mut user, "realm");
            if !user.is_empty() {
                keys.insert("user".to_owned(), Value::Object(user));
            }
            vec![(
                "invalidate_apikeys",
                json!({ "invalidate": { "apikeys": keys } }),
            )]
        }
        Action::SecurityPutUser => {
            let mut user = Map::new();
            user.insert("name".to_owned(), name_param("username"));
            user.insert(
                "enabled".to_owned(),
                Value::Bool(body.get("enabled").and_then(Value::as_bool).unwrap_or(true)),
            );
            copy(body, "roles", &mut user, "roles");
            copy_non_empty(body, "full_name", &mut user);
            copy_non_empty(body, "email", &mut user);
            let has_password = ["password", "password_hash"]
                .iter()
                .any(|field| body.get(field).is_some_and(|value| !value.is_null()));
            user.insert("has_password".to_owned(), Value::Bool(has_password));
            copy_non_empty(body, "metadata", &mut user);
            vec![("put_user", json!({ "put": { "user": user } }))]
        }
        Action::SecurityDeleteUser => vec![(
            "delete_user",
            json!({ "delete": { "user": { "name": name_param("username") } } }),
        )],
        Action::SecurityChangePassword => {
            let name = param("username").unwrap_or_else(|| caller.to_owned());
            vec![(
                "change_password",
                json!({ "change": { "password": { "user": { "name": name } } } }),
            )]
        }
        Action::SecurityEnableUser => vec![(
            "change_enable_user",
            json!({ "change": { "enable": { "user": { "name": name_param("username") } } } }),
        )],
        Action::SecurityDisableUser => vec![(
            "change_disable_user",
            json!({ "change": { "disable": { "user": { "name": name_param("username") } } } }),
        )],
        Action::SecurityPutRole => {
            vec![("put_role", put_role(name_param("name"), body))]
        }
        Action::SecurityBulkPutRole => match body.get("roles") {
            Some(Value::Object(roles)) => roles
                .iter()
                .map(|(name, role)| ("put_role", put_role(Value::String(name.clone()), role)))
                .collect(),
            _ => Vec::new(),
        },
        Action::SecurityDeleteRole => vec![(
            "delete_role",
            json!({ "delete": { "role": { "name": name_param("name") } } }),
        )],
        Action::SecurityBulkDeleteRole => match body.get("names") {
            Some(Value::Array(names)) => names
                .iter()
                .map(|name| {
                    (
                        "delete_role",
                        json!({ "delete": { "role": { "name": name } } }),
                    )
                })
                .collect(),
            _ => Vec::new(),
        },
        Action::SecurityPutRoleMapping => {
            let mut mapping = Map::new();
            mapping.insert("name".to_owned(), name_param("name"));
            for field in ["roles", "role_templates", "rules", "enabled", "metadata"] {
                copy(body, field, &mut mapping, field);
            }
            vec![(
                "put_role_mapping",
                json!({ "put": { "role_mapping": mapping } }),
            )]
        }
        Action::SecurityDeleteRoleMapping => vec![(
            "delete_role_mapping",
            json!({ "delete": { "role_mapping": { "name": name_param("name") } } }),
        )],
        Action::SecurityPutPrivileges => {
            let mut privileges = Vec::new();
            if let Value::Object(applications) = body {
                for (application, named) in applications {
                    let Value::Object(named) = named else {
                        continue;
                    };
                    for (name, privilege) in named {
                        let mut entry = Map::new();
                        entry.insert("application".to_owned(), Value::String(application.clone()));
                        entry.insert("name".to_owned(), Value::String(name.clone()));
                        copy(privilege, "actions", &mut entry, "actions");
                        copy(privilege, "metadata", &mut entry, "metadata");
                        privileges.push(Value::Object(entry));
                    }
                }
            }
            vec![(
                "put_privileges",
                json!({ "put": { "privileges": privileges } }),
            )]
        }
        Action::SecurityDeletePrivileges => {
            let names: Vec<Value> = param("name")
                .unwrap_or_default()
                .split(',')
                .map(|name| Value::String(name.trim().to_owned()))
                .collect();
            vec![(
                "delete_privileges",
                json!({ "delete": { "privileges": {
                    "application": name_param("application"),
                    "privileges": names,
                } } }),
            )]
        }
        Action::ClusterHealth
        | Action::Info
        | Action::KeywardCrossClusterAuthenticate
        | Action::KeywardForwardAuth
        | Action::KeywardReady
        | Action::KeywardMetrics
        | Action::KeywardOpenApi
        | Action::SecurityAuthenticate
        | Action::SecurityClearApiKeyCache
        | Action::SecurityClearCachedPrivileges
        | Action::SecurityClearCachedRealms
        | Action::SecurityClearCachedRoles
        | Action::SecurityClearCachedServiceTokens
        | Action::SecurityGetServiceAccounts
        | Action::SecurityGetServiceCredentials
        | Action::SecurityGetApiKey
        | Action::SecurityGetBuiltinPrivileges
        | Action::SecurityGetPrivileges
        | Action::SecurityGetRole
        | Action::SecurityGetRoleMapping
        | Action::SecurityGetSettings
        | Action::SecurityGetStats
        | Action::SecurityUpdateSettings
        | Action::SecuritySamlPrepareAuthentication
        | Action::SecuritySamlAuthenticate
        | Action::SecuritySamlLogout
        | Action::SecuritySamlInvalidate
        | Action::SecuritySamlCompleteLogout
        | Action::SecuritySamlServiceProviderMetadata
        | Action::SecurityOidcPrepareAuthentication
        | Action::SecurityOidcAuthenticate
        | Action::SecurityOidcLogout
        | Action::SecurityDelegatePki
        | Action::SecurityEnrollNode
        | Action::SecurityEnrollKibana
        | Action::SecurityGetToken
        | Action::SecurityGetUser
        | Action::SecurityGetUserPrivileges
        | Action::SecurityHasPrivileges
        | Action::SecurityInvalidateToken
        | Action::SecurityQueryApiKeys
        | Action::SecurityQueryRole
        | Action::SecurityQueryUser
        // Profiles change no security configuration: their writes are not audited as such.
        | Action::SecurityActivateUserProfile
        | Action::SecurityDisableUserProfile
        | Action::SecurityEnableUserProfile
        | Action::SecurityGetUserProfile
        | Action::SecurityHasPrivilegesUserProfile
        | Action::SecuritySuggestUserProfiles
        | Action::SecurityUpdateUserProfileData => Vec::new(),
    }
}

/// Whether a successful `action` changes the security configuration.
pub(crate) fn changes_config(action: Action) -> bool {
    matches!(
        action,
        Action::SecurityCreateApiKey
            | Action::SecurityCreateCrossClusterApiKey
            | Action::SecurityGrantApiKey
            | Action::SecurityBulkGrantApiKey
            | Action::SecurityCloneApiKey
            | Action::SecurityUpdateApiKey
            | Action::SecurityUpdateCrossClusterApiKey
            | Action::SecurityBulkUpdateApiKeys
            | Action::SecurityInvalidateApiKey
            | Action::SecurityPutUser
            | Action::SecurityDeleteUser
            | Action::SecurityChangePassword
            | Action::SecurityEnableUser
            | Action::SecurityDisableUser
            | Action::SecurityPutRole
            | Action::SecurityBulkPutRole
            | Action::SecurityDeleteRole
            | Action::SecurityBulkDeleteRole
            | Action::SecurityPutRoleMapping
            | Action::SecurityDeleteRoleMapping
            | Action::SecurityPutPrivileges
            | Action::SecurityDeletePrivileges
            | Action::SecurityCreateServiceToken
            | Action::SecurityDeleteServiceToken
    )
}

/// `{"id", "name", "expiration", "role_descriptors": [...], "metadata"}` of a created key;
/// role descriptors as a list without their names, as Elasticsearch logs them.
/// A `create` object for a key granted on someone's behalf: the key and who it was granted to,
/// without their password or token.
fn granted(body: &Value, key: Value) -> Value {
    let mut create = Map::new();
    create.insert("apikey".to_owned(), key);
    let has = |field: &str| body.get(field).is_some_and(|value| !value.is_null());
    let mut user = Map::new();
    copy(body, "username", &mut user, "name");
    user.insert("has_password".to_owned(), Value::Bool(has("password")));
    let mut grant = Map::new();
    copy(body, "grant_type", &mut grant, "type");
    grant.insert("user".to_owned(), Value::Object(user));
    grant.insert(
        "has_access_token".to_owned(),
        Value::Bool(has("access_token")),
    );
    create.insert("grant".to_owned(), Value::Object(grant));
    Value::Object(create)
}

fn apikey(body: &Value, reply: &Value) -> Value {
    let mut key = Map::new();
    copy(reply, "id", &mut key, "id");
    copy(body, "name", &mut key, "name");
    copy(body, "expiration", &mut key, "expiration");
    if let Some(Value::Object(descriptors)) = body.get("role_descriptors") {
        key.insert(
            "role_descriptors".to_owned(),
            Value::Array(descriptors.values().cloned().collect()),
        );
    }
    copy(body, "access", &mut key, "access");
    copy(body, "metadata", &mut key, "metadata");
    Value::Object(key)
}

/// The fields an update may change.
fn update_fields(body: &Value, into: &mut Map<String, Value>) {
    if let Some(Value::Object(descriptors)) = body.get("role_descriptors") {
        into.insert(
            "role_descriptors".to_owned(),
            Value::Array(descriptors.values().cloned().collect()),
        );
    }
    copy(body, "access", into, "access");
    copy(body, "metadata", into, "metadata");
    copy(body, "expiration", into, "expiration");
}

/// A role's name and descriptor. Role bodies carry no secrets; only the descriptor's own
/// fields are kept.
fn put_role(name: Value, role: &Value) -> Value {
    let mut descriptor = Map::new();
    for field in [
        "cluster",
        "global",
        "indices",
        "applications",
        "run_as",
        "metadata",
        "remote_indices",
        "remote_cluster",
        "description",
    ] {
        copy(role, field, &mut descriptor, field);
    }
    json!({ "put": { "role": { "name": name, "role_descriptor": descriptor } } })
}

fn copy(from: &Value, field: &str, into: &mut Map<String, Value>, as_name: &str) {
    if let Some(value) = from.get(field).filter(|value| !value.is_null()) {
        into.insert(as_name.to_owned(), value.clone());
    }
}

/// Copies a field unless it is empty, as Elasticsearch omits empty `full_name`, `email` and
/// `metadata`.
fn copy_non_empty(from: &Value, field: &str, into: &mut Map<String, Value>) {
    let empty = |value: &Value| match value {
        Value::Null => true,
        Value::String(text) => text.is_empty(),
        Value::Object(map) => map.is_empty(),
        _ => false,
    };
    if let Some(value) = from.get(field).filter(|value| !empty(value)) {
        into.insert(field.to_owned(), value.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_password_reaches_a_payload() {
        let body = json!({"password": "s3cret-pw", "password_hash": "$2a$10$x", "roles": ["r"], "full_name": "", "metadata": {}});
        let param = |name: &str| (name == "username").then(|| "jack".to_owned());
        let changes = config_changes(
            Action::SecurityPutUser,
            &body,
            &param,
            &Value::Null,
            "elastic",
        );
        let text = serde_json::to_string(&changes[0].1).unwrap();
        assert_eq!(
            text,
            r#"{"put":{"user":{"name":"jack","enabled":true,"roles":["r"],"has_password":true}}}"#
        );
        let grant = json!({"grant_type": "password", "username": "u", "password": "s3cret-pw", "api_key": {"name": "k"}});
        let changes = config_changes(
            Action::SecurityGrantApiKey,
            &grant,
            &param,
            &json!({"id": "i", "api_key": "sec", "encoded": "enc"}),
            "elastic",
        );
        let text = serde_json::to_string(&changes[0].1).unwrap();
        assert!(
            !text.contains("s3cret-pw") && !text.contains("sec\"") && !text.contains("enc"),
            "{text}"
        );
    }

    #[test]
    fn role_mapping_changes_name_the_mapping() {
        let body = json!({"roles": ["r"], "rules": {"field": {"username": "*"}}, "enabled": true, "other": 1});
        let param = |name: &str| (name == "name").then(|| "everyone".to_owned());
        let put = config_changes(
            Action::SecurityPutRoleMapping,
            &body,
            &param,
            &Value::Null,
            "elastic",
        );
        assert_eq!(put[0].0, "put_role_mapping");
        assert_eq!(
            serde_json::to_string(&put[0].1).unwrap(),
            r#"{"put":{"role_mapping":{"name":"everyone","roles":["r"],"rules":{"field":{"username":"*"}},"enabled":true}}}"#
        );
        let delete = config_changes(
            Action::SecurityDeleteRoleMapping,
            &Value::Null,
            &param,
            &Value::Null,
            "elastic",
        );
        assert_eq!(delete[0].0, "delete_role_mapping");
        assert_eq!(
            serde_json::to_string(&delete[0].1).unwrap(),
            r#"{"delete":{"role_mapping":{"name":"everyone"}}}"#
        );
        assert!(changes_config(Action::SecurityPutRoleMapping));
        assert!(!changes_config(Action::SecurityGetRoleMapping));
    }
}
