//! `GET /_keyward/openapi.json`: an OpenAPI 3.1 description of every route keyward serves,
//! built from the route table at start-up, so its paths, methods and query parameters are the
//! ones the dispatcher serves and accepts. Request bodies and responses are described loosely
//! (types and the fields keyward reads), errors by Elasticsearch's envelope.

use http::Method;
use serde_json::{Map, Value, json};

use super::{Action, Route, parameter_name};

/// The document for `routes`.
pub(super) fn document(routes: &[Route]) -> Value {
    let mut paths = Map::new();
    let mut operation_ids: Vec<String> = Vec::new();
    for route in routes {
        let mut item = Map::new();
        for (method, action) in route.methods {
            let base = action.api_name().to_owned();
            let mut id = base.clone();
            let mut n = 1;
            while operation_ids.contains(&id) {
                n += 1;
                id = format!("{base}_{n}");
            }
            operation_ids.push(id.clone());
            item.insert(
                method.as_str().to_ascii_lowercase(),
                operation(route, method, *action, &id),
            );
        }
        paths.insert(path_text(route), Value::Object(item));
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "keyward",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Elasticsearch's security REST API (API keys, users, roles, \
                application privileges, tokens) as keyward serves it. Every operation also \
                takes `filter_path` (it filters error bodies too); `HEAD` is served wherever \
                `GET` is. Errors use Elasticsearch's envelope."
        },
        "paths": paths,
        "components": components(),
        "security": [{"basic": []}, {"apiKey": []}, {"bearer": []}],
    })
}

/// `/_security/api_key/{id}` for a route's segments.
pub(super) fn path_text(route: &Route) -> String {
    format!("/{}", route.path.join("/"))
}

fn operation(route: &Route, method: &Method, action: Action, id: &str) -> Value {
    let mut parameters: Vec<Value> = route
        .path
        .iter()
        .filter_map(|segment| parameter_name(segment))
        .map(|name| {
            json!({
                "name": name,
                "in": "path",
                "required": true,
                "schema": {"type": "string", "minLength": 1},
            })
        })
        .collect();
    for name in action
        .params()
        .iter()
        .chain(["pretty", "human", "error_trace"].iter())
    {
        parameters.push(json!({
            "name": name,
            "in": "query",
            "required": false,
            "schema": param_schema(name),
        }));
    }
    let namespace = action.api_name().split('.').next().unwrap_or("info");
    let mut operation = json!({
        "operationId": id,
        "summary": action.api_name(),
        "tags": [namespace],
        "parameters": parameters,
        "responses": responses(action),
    });
    if let Some((schema, required)) = body(action)
        && *method != Method::GET
        && let Some(object) = operation.as_object_mut()
    {
        object.insert(
            "requestBody".to_owned(),
            json!({
                "required": required,
                "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{schema}")}}},
            }),
        );
    }
    if matches!(action, Action::KeywardOpenApi | Action::KeywardReady)
        && let Some(object) = operation.as_object_mut()
    {
        // Served without credentials.
        object.insert("security".to_owned(), json!([]));
    }
    operation
}

/// The schema of a query parameter, from its rest-api-spec type.
fn param_schema(name: &str) -> Value {
    match name {
        "refresh" => json!({"type": "string", "enum": ["true", "false", "wait_for"]}),
        "active_only"
        | "error_trace"
        | "human"
        | "local"
        | "owner"
        | "pretty"
        | "typed_keys"
        | "wait_for_no_initializing_shards"
        | "wait_for_no_relocating_shards"
        | "with_limited_by"
        | "with_profile_uid" => json!({"type": "boolean"}),
        "level" => json!({"type": "string", "enum": ["cluster", "indices", "shards"]}),
        "wait_for_status" => json!({"type": "string", "enum": ["green", "yellow", "red"]}),
        "wait_for_events" => json!({
            "type": "string",
            "enum": ["immediate", "urgent", "high", "normal", "low", "languid"]
        }),
        "timeout" | "master_timeout" => {
            json!({"type": "string", "pattern": "^(-1|0|[0-9]+(nanos|micros|ms|s|m|h|d))$"})
        }
        _ => json!({"type": "string"}),
    }
}

/// The request body schema of an action and whether the body is required.
fn body(action: Action) -> Option<(&'static str, bool)> {
    match action {
        Action::KeywardCrossClusterAuthenticate => Some(("CrossClusterAuthenticateRequest", true)),
        Action::SecurityBulkDeleteRole => Some(("BulkDeleteRoleRequest", true)),
        Action::SecurityBulkPutRole => Some(("BulkPutRoleRequest", true)),
        Action::SecurityBulkUpdateApiKeys => Some(("BulkUpdateApiKeysRequest", true)),
        Action::SecurityChangePassword => Some(("ChangePasswordRequest", true)),
        Action::SecurityCreateApiKey => Some(("CreateApiKeyRequest", true)),
        Action::SecurityCreateCrossClusterApiKey => Some(("CreateCrossClusterApiKeyRequest", true)),
        Action::SecurityGetToken => Some(("GetTokenRequest", true)),
        Action::SecurityGrantApiKey => Some(("GrantApiKeyRequest", true)),
        Action::SecurityBulkGrantApiKey => Some(("BulkGrantApiKeyRequest", true)),
        Action::SecurityCloneApiKey => Some(("CloneApiKeyRequest", true)),
        Action::SecurityUpdateSettings => Some(("UpdateSecuritySettingsRequest", true)),
        Action::SecuritySamlPrepareAuthentication => {
            Some(("SamlPrepareAuthenticationRequest", true))
        }
        Action::SecuritySamlAuthenticate => Some(("SamlAuthenticateRequest", true)),
        Action::SecuritySamlLogout => Some(("SamlLogoutRequest", true)),
        Action::SecuritySamlInvalidate => Some(("SamlInvalidateRequest", true)),
        Action::SecuritySamlCompleteLogout => Some(("SamlCompleteLogoutRequest", true)),
        Action::SecurityOidcPrepareAuthentication => {
            Some(("OidcPrepareAuthenticationRequest", true))
        }
        Action::SecurityOidcAuthenticate => Some(("OidcAuthenticateRequest", true)),
        Action::SecurityOidcLogout => Some(("OidcLogoutRequest", true)),
        Action::SecurityDelegatePki => Some(("DelegatePkiRequest", true)),
        Action::SecurityHasPrivileges => Some(("HasPrivilegesRequest", true)),
        Action::SecurityActivateUserProfile => Some(("ActivateUserProfileRequest", true)),
        Action::SecurityHasPrivilegesUserProfile => Some(("HasPrivilegesUserProfileRequest", true)),
        Action::SecuritySuggestUserProfiles => Some(("SuggestUserProfilesRequest", false)),
        Action::SecurityUpdateUserProfileData => Some(("UpdateUserProfileDataRequest", true)),
        Action::SecurityInvalidateApiKey => Some(("InvalidateApiKeyRequest", true)),
        Action::SecurityInvalidateToken => Some(("InvalidateTokenRequest", true)),
        Action::SecurityPutPrivileges => Some(("PutPrivilegesRequest", true)),
        Action::SecurityPutRole => Some(("RoleDescriptor", true)),
        Action::SecurityPutRoleMapping => Some(("RoleMapping", true)),
        Action::SecurityPutUser => Some(("PutUserRequest", true)),
        Action::SecurityQueryApiKeys | Action::SecurityQueryRole | Action::SecurityQueryUser => {
            Some(("QueryRequest", false))
        }
        Action::SecurityUpdateApiKey => Some(("UpdateApiKeyRequest", false)),
        Action::SecurityUpdateCrossClusterApiKey => Some(("UpdateCrossClusterApiKeyRequest", true)),
        Action::ClusterHealth
        | Action::Info
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
        | Action::SecurityCreateServiceToken
        | Action::SecurityDeleteServiceToken
        | Action::SecurityGetServiceAccounts
        | Action::SecurityGetServiceCredentials
        | Action::SecurityDeletePrivileges
        | Action::SecurityDeleteRole
        | Action::SecurityDeleteRoleMapping
        | Action::SecurityDeleteUser
        | Action::SecurityDisableUser
        | Action::SecurityEnableUser
        | Action::SecurityGetApiKey
        | Action::SecurityGetBuiltinPrivileges
        | Action::SecurityGetPrivileges
        | Action::SecurityGetRole
        | Action::SecurityGetRoleMapping
        | Action::SecurityGetSettings
        | Action::SecurityGetStats
        | Action::SecurityGetUser
        | Action::SecurityGetUserPrivileges
        | Action::SecurityDisableUserProfile
        | Action::SecurityEnableUserProfile
        | Action::SecurityGetUserProfile
        | Action::SecuritySamlServiceProviderMetadata
        | Action::SecurityEnrollNode
        | Action::SecurityEnrollKibana => None,
    }
}

/// The success schema of an action.
fn success(action: Action) -> Value {
    let schema = |name: &str| json!({"$ref": format!("#/components/schemas/{name}")});
    if action == Action::KeywardMetrics {
        return json!({
            "description": "Prometheus text exposition format 0.0.4",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        });
    }
    json!({
        "description": "success",
        "content": {"application/json": {"schema": match action {
            Action::SecurityCreateApiKey | Action::SecurityGrantApiKey | Action::SecurityCloneApiKey
            | Action::SecurityCreateCrossClusterApiKey => schema("CreateApiKeyResponse"),
            Action::SecurityInvalidateApiKey => schema("InvalidateApiKeyResponse"),
            Action::SecurityBulkGrantApiKey => schema("BulkGrantApiKeyResponse"),
            Action::SecurityGetApiKey => schema("GetApiKeyResponse"),
            Action::SecurityQueryApiKeys => schema("QueryApiKeysResponse"),
            _ => json!({"type": "object"}),
        }}},
    })
}

fn responses(action: Action) -> Value {
    let error = |description: &str| {
        json!({
            "description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}},
        })
    };
    let mut responses = Map::new();
    responses.insert("200".to_owned(), success(action));
    for (status, description) in [
        (
            "400",
            "bad request (validation, parsing, unknown parameter)",
        ),
        (
            "401",
            "missing or wrong credentials (`WWW-Authenticate` says which schemes)",
        ),
        ("403", "the caller lacks the privilege"),
        ("409", "conflict (the resource exists or changed)"),
        ("413", "body larger than http.max_content_length"),
        ("429", "too many slow verifications in progress"),
        ("503", "the store is unavailable (retry)"),
        ("default", "any other error"),
    ] {
        responses.insert(status.to_owned(), error(description));
    }
    responses.insert(
        "404".to_owned(),
        json!({
            "description": "not found: the error envelope, or for the get APIs the answer without the missing items",
            "content": {"application/json": {"schema": {"anyOf": [
                {"$ref": "#/components/schemas/ErrorResponse"},
                {"type": "object"},
            ]}}},
        }),
    );
    Value::Object(responses)
}

/// Security schemes and the shared schemas.
fn components() -> Value {
    let strings = json!({"type": "array", "items": {"type": "string"}});
    let string_or_strings = json!({"anyOf": [{"type": "string"}, strings]});
    let role_descriptors = json!({
        "type": "object",
        "additionalProperties": {"$ref": "#/components/schemas/RoleDescriptor"},
    });
    let mut components = json!({
        "securitySchemes": {
            "basic": {"type": "http", "scheme": "basic"},
            "apiKey": {
                "type": "apiKey",
                "in": "header",
                "name": "Authorization",
                "description": "`ApiKey <base64(id:api_key)>`, the `encoded` value of the create response",
            },
            "bearer": {"type": "http", "scheme": "bearer", "description": "an access token from security.get_token"},
        },
        "schemas": {
            "ErrorCause": {
                "type": "object",
                "required": ["type"],
                "properties": {
                    "type": {"type": "string"},
                    "reason": {"type": ["string", "null"]},
                    "caused_by": {"$ref": "#/components/schemas/ErrorCause"},
                    "root_cause": {"type": "array", "items": {"$ref": "#/components/schemas/ErrorCause"}},
                },
            },
            "ErrorResponse": {
                "type": "object",
                "required": ["error", "status"],
                "properties": {
                    "error": {"anyOf": [
                        {"type": "string"},
                        {
                            "allOf": [{"$ref": "#/components/schemas/ErrorCause"}],
                            "required": ["type", "reason", "root_cause"],
                        },
                    ]},
                    "status": {"type": "integer"},
                },
            },
            "RoleMapping": {
                "type": "object",
                "required": ["rules"],
                "properties": {
                    "enabled": {"type": "boolean"},
                    "roles": {"type": "array", "items": {"type": "string"}},
                    "role_templates": {"type": "array", "items": {
                        "type": "object",
                        "required": ["template"],
                        "properties": {
                            "template": {"oneOf": [{"type": "object"}, {"type": "string"}]},
                            "format": {"type": "string", "enum": ["string", "json"]},
                        },
                    }},
                    "rules": {"type": "object"},
                    "metadata": {"type": "object"},
                    "run_as": {"type": "array", "items": {"type": "string"}},
                },
            },
            "RoleDescriptor": {
                "type": "object",
                "properties": {
                    "cluster": strings,
                    "indices": {"type": "array", "items": {
                        "type": "object",
                        "properties": {
                            "names": string_or_strings,
                            "privileges": strings,
                            "field_security": {"type": "object"},
                            "query": {"anyOf": [{"type": "string"}, {"type": "object"}]},
                            "allow_restricted_indices": {"type": "boolean"},
                        },
                    }},
                    "applications": {"type": "array", "items": {
                        "type": "object",
                        "properties": {
                            "application": {"type": "string"},
                            "privileges": strings,
                            "resources": strings,
                        },
                    }},
                    "run_as": strings,
                    "metadata": {"type": "object"},
                    "description": {"type": "string"},
                    "remote_indices": {"type": "array", "items": {"type": "object"}},
                    "remote_cluster": {"type": "array", "items": {"type": "object"}},
                },
            },
            "CreateApiKeyRequest": {
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "expiration": {"type": "string"},
                    "role_descriptors": role_descriptors,
                    "metadata": {"type": "object"},
                },
            },
            "CreateApiKeyResponse": {
                "type": "object",
                "required": ["id", "name", "api_key", "encoded"],
                "properties": {
                    "id": {"type": "string"},
                    "name": {"type": "string"},
                    "api_key": {"type": "string"},
                    "encoded": {"type": "string"},
                    "expiration": {"type": "integer"},
                },
            },
            "UpdateApiKeyRequest": {
                "type": "object",
                "properties": {
                    "role_descriptors": role_descriptors,
                    "metadata": {"type": "object"},
                    "expiration": {"type": "string"},
                },
            },
            "BulkUpdateApiKeysRequest": {
                "type": "object",
                "required": ["ids"],
                "properties": {
                    "ids": string_or_strings,
                    "role_descriptors": role_descriptors,
                    "metadata": {"type": "object"},
                    "expiration": {"type": "string"},
                },
            },
            "InvalidateApiKeyRequest": {
                "type": "object",
                "properties": {
                    "id": {"type": "string"},
                    "ids": strings,
                    "name": {"type": "string"},
                    "owner": {"type": "boolean"},
                    "realm_name": {"type": "string"},
                    "username": {"type": "string"},
                },
            },
            "InvalidateApiKeyResponse": {
                "type": "object",
                "required": ["invalidated_api_keys", "previously_invalidated_api_keys", "error_count"],
                "properties": {
                    "invalidated_api_keys": strings,
                    "previously_invalidated_api_keys": strings,
                    "error_count": {"type": "integer"},
                    "error_details": {"type": "array", "items": {"$ref": "#/components/schemas/ErrorCause"}},
                },
            },
            "ApiKey": {
                "type": "object",
                "required": ["id", "name", "creation", "invalidated", "username", "realm"],
                "properties": {
                    "id": {"type": "string"},
                    "name": {"type": ["string", "null"]},
                    "type": {"type": "string", "enum": ["rest", "cross_cluster"]},
                    "creation": {"type": "integer"},
                    "expiration": {"type": "integer"},
                    "invalidated": {"type": "boolean"},
                    "invalidation": {"type": "integer"},
                    "username": {"type": "string"},
                    "realm": {"type": "string"},
                    "metadata": {"type": "object"},
                    "role_descriptors": {"type": "object"},
                    "limited_by": {"type": "array", "items": {"type": "object"}},
                },
            },
            "GetApiKeyResponse": {
                "type": "object",
                "required": ["api_keys"],
                "properties": {"api_keys": {"type": "array", "items": {"$ref": "#/components/schemas/ApiKey"}}},
            },
            "QueryApiKeysResponse": {
                "type": "object",
                "required": ["total", "count", "api_keys"],
                "properties": {
                    "total": {"type": "integer"},
                    "count": {"type": "integer"},
                    "api_keys": {"type": "array", "items": {"$ref": "#/components/schemas/ApiKey"}},
                    "aggregations": {"type": "object"},
                },
            },
            "QueryRequest": {
                "type": "object",
                "properties": {
                    "query": {"type": "object"},
                    "from": {"type": "integer"},
                    "size": {"type": "integer"},
                    "sort": {},
                    "search_after": {"type": "array"},
                    "aggs": {"type": "object"},
                    "aggregations": {"type": "object"},
                },
            },
            "CreateCrossClusterApiKeyRequest": {
                "type": "object",
                "required": ["name", "access"],
                "properties": {
                    "name": {"type": "string"},
                    "access": {"$ref": "#/components/schemas/CrossClusterAccess"},
                    "expiration": {"type": "string"},
                    "metadata": {"type": "object"},
                    "certificate_identity": {"type": "string"},
                },
            },
            "UpdateCrossClusterApiKeyRequest": {
                "type": "object",
                "properties": {
                    "access": {"$ref": "#/components/schemas/CrossClusterAccess"},
                    "expiration": {"type": "string"},
                    "metadata": {"type": "object"},
                    "certificate_identity": {"type": "string"},
                },
            },
            "CrossClusterAccess": {
                "type": "object",
                "properties": {
                    "search": {"type": "array", "items": {"type": "object"}},
                    "replication": {"type": "array", "items": {"type": "object"}},
                },
            },
            "CrossClusterAuthenticateRequest": {
                "type": "object",
                "required": ["api_key"],
                "properties": {
                    "api_key": {"type": "string"},
                    "certificate_dn": {"type": "string"},
                },
            },
            "PutUserRequest": {
                "type": "object",
                "properties": {
                    "password": {"type": "string"},
                    "password_hash": {"type": "string"},
                    "roles": strings,
                    "full_name": {"type": ["string", "null"]},
                    "email": {"type": ["string", "null"]},
                    "metadata": {"type": "object"},
                    "enabled": {"type": "boolean"},
                },
            },
            "ChangePasswordRequest": {
                "type": "object",
                "properties": {
                    "password": {"type": "string"},
                    "password_hash": {"type": "string"},
                },
            },
            "BulkPutRoleRequest": {
                "type": "object",
                "required": ["roles"],
                "properties": {"roles": role_descriptors},
            },
            "BulkDeleteRoleRequest": {
                "type": "object",
                "required": ["names"],
                "properties": {"names": strings},
            },
            "PutPrivilegesRequest": {
                "type": "object",
                "additionalProperties": {
                    "type": "object",
                    "additionalProperties": {
                        "type": "object",
                        "properties": {"actions": strings, "metadata": {"type": "object"}},
                    },
                },
            },
            "HasPrivilegesRequest": {
                "type": "object",
                "properties": {
                    "cluster": strings,
                    "index": {"type": "array", "items": {
                        "type": "object",
                        "properties": {
                            "names": string_or_strings,
                            "privileges": strings,
                            "allow_restricted_indices": {"type": "boolean"},
                        },
                    }},
                    "application": {"type": "array", "items": {
                        "type": "object",
                        "properties": {
                            "application": {"type": "string"},
                            "privileges": strings,
                            "resources": strings,
                        },
                    }},
                },
            },
            "GetTokenRequest": {
                "type": "object",
                "required": ["grant_type"],
                "properties": {
                    "grant_type": {"type": "string", "enum": ["password", "client_credentials", "refresh_token", "_kerberos"]},
                    "kerberos_ticket": {"type": "string"},
                    "username": {"type": "string"},
                    "password": {"type": "string"},
                    "refresh_token": {"type": "string"},
                    "scope": {"type": "string"},
                },
            },
            "InvalidateTokenRequest": {
                "type": "object",
                "properties": {
                    "token": {"type": "string"},
                    "refresh_token": {"type": "string"},
                    "realm_name": {"type": "string"},
                    "username": {"type": "string"},
                },
            },
        },
    });
    // The bulk grant and clone schemas, in a second literal: one would pass the macro's
    // recursion limit.
    let more = json!({
        "UpdateSecuritySettingsRequest": {
            "type": "object",
            "properties": {
                "security": {"type": "object"},
                "security-tokens": {"type": "object"},
                "security-profile": {"type": "object"},
            },
        },
        "SamlPrepareAuthenticationRequest": {"type": "object", "properties": {
            "acs": {"type": "string"}, "realm": {"type": "string"}, "relay_state": {"type": "string"},
        }},
        "SamlAuthenticateRequest": {"type": "object", "required": ["content", "ids"], "properties": {
            "content": {"type": "string"}, "ids": {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]},
            "realm": {"type": "string"},
        }},
        "SamlLogoutRequest": {"type": "object", "required": ["token"], "properties": {
            "token": {"type": "string"}, "refresh_token": {"type": "string"},
        }},
        "SamlInvalidateRequest": {"type": "object", "required": ["query_string"], "properties": {
            "query_string": {"type": "string"}, "acs": {"type": "string"}, "realm": {"type": "string"},
        }},
        "SamlCompleteLogoutRequest": {"type": "object", "required": ["realm", "ids"], "properties": {
            "realm": {"type": "string"}, "ids": {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]},
            "query_string": {"type": "string"}, "content": {"type": "string"},
        }},
        "OidcPrepareAuthenticationRequest": {"type": "object", "properties": {
            "realm": {"type": "string"}, "iss": {"type": "string"}, "login_hint": {"type": "string"},
            "state": {"type": "string"}, "nonce": {"type": "string"},
        }},
        "OidcAuthenticateRequest": {"type": "object", "required": ["redirect_uri", "state", "nonce"], "properties": {
            "redirect_uri": {"type": "string"}, "state": {"type": "string"}, "nonce": {"type": "string"},
            "realm": {"type": "string"},
        }},
        "OidcLogoutRequest": {"type": "object", "required": ["token"], "properties": {
            "token": {"type": "string"}, "refresh_token": {"type": "string"},
        }},
        "DelegatePkiRequest": {"type": "object", "required": ["x509_certificate_chain"], "properties": {
            "x509_certificate_chain": {"type": "array", "items": {"type": "string"}},
        }},
        "BulkGrantApiKeyResponse": {
            "type": "object",
            "required": ["created"],
            "properties": {
                "created": {
                    "type": "array",
                    "items": {"$ref": "#/components/schemas/CreateApiKeyResponse"},
                },
            },
        },
        "CloneApiKeyRequest": {
            "type": "object",
            "required": ["api_key", "name"],
            "properties": {
                "api_key": {"type": "string"},
                "name": {"type": "string"},
                "expiration": {"type": ["string", "null"]},
                "metadata": {"type": "object"},
            },
        }
    });
    if let (Some(schemas), Value::Object(more)) = (
        components.get_mut("schemas").and_then(Value::as_object_mut),
        more,
    ) {
        schemas.extend(more);
        schemas.extend(profile_schemas());
        let key = json!({"$ref": "#/components/schemas/CreateApiKeyRequest"});
        schemas.insert(
            "GrantApiKeyRequest".to_owned(),
            grant_schema("api_key", key.clone()),
        );
        schemas.insert(
            "BulkGrantApiKeyRequest".to_owned(),
            grant_schema("api_keys", json!({"type": "array", "items": key})),
        );
    }
    components
}

/// The user profile request schemas (a literal of their own: the macro's recursion limit).
fn profile_schemas() -> Map<String, Value> {
    let strings = json!({"type": "array", "items": {"type": "string"}});
    let string_or_strings = json!({"anyOf": [{"type": "string"}, strings]});
    let schemas = json!({
            "ActivateUserProfileRequest": {
                "type": "object",
                "required": ["grant_type"],
                "properties": {
                    "grant_type": {"type": "string", "enum": ["password", "access_token"]},
                    "username": {"type": "string"},
                    "password": {"type": "string"},
                    "access_token": {"type": "string"},
                },
            },
            "HasPrivilegesUserProfileRequest": {
                "type": "object",
                "required": ["uids", "privileges"],
                "properties": {
                    "uids": strings,
                    "privileges": {"$ref": "#/components/schemas/HasPrivilegesRequest"},
                },
            },
            "SuggestUserProfilesRequest": {
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "size": {"type": "integer", "minimum": 0},
                    "data": string_or_strings,
                    "hint": {"type": "object", "properties": {
                        "uids": strings,
                        "labels": {"type": "object"},
                    }},
                },
            },
            "UpdateUserProfileDataRequest": {
                "type": "object",
                "properties": {
                    "labels": {"type": "object"},
                    "data": {"type": "object"},
                },
            }
    });
    match schemas {
        Value::Object(schemas) => schemas,
        _ => Map::new(),
    }
}

/// A grant request: the grantee's credentials, and `field` (the key, or the keys of a bulk
/// grant) as `keys` describes it.
fn grant_schema(field: &str, keys: Value) -> Value {
    let mut schema = json!({
        "type": "object",
        "required": ["grant_type", field],
        "properties": {
            "grant_type": {"type": "string", "enum": ["password", "access_token"]},
            "username": {"type": "string"},
            "password": {"type": "string"},
            "access_token": {"type": "string"},
            "run_as": {"type": "string"},
            "client_authentication": {
                "type": "object",
                "properties": {"scheme": {"type": "string"}, "value": {"type": "string"}},
            },
        },
    });
    if let Some(properties) = schema.get_mut("properties").and_then(Value::as_object_mut) {
        properties.insert(field.to_owned(), keys);
    }
    schema
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::routes::ROUTES;

    /// Every path and method of the route table is in the document, and nothing else.
    #[test]
    fn the_document_describes_exactly_the_route_table() {
        let document = document(ROUTES);
        let described: BTreeSet<(String, String)> = document["paths"]
            .as_object()
            .unwrap()
            .iter()
            .flat_map(|(path, item)| {
                item.as_object()
                    .unwrap()
                    .keys()
                    .map(move |method| (path.clone(), method.to_ascii_uppercase()))
            })
            .collect();
        let served: BTreeSet<(String, String)> = ROUTES
            .iter()
            .flat_map(|route| {
                route
                    .methods
                    .iter()
                    .map(move |(method, _)| (path_text(route), method.as_str().to_owned()))
            })
            .collect();
        assert_eq!(described, served);
        // Every reference resolves.
        let text = document.to_string();
        for reference in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
            let name = reference.split('"').next().unwrap();
            assert!(
                document["components"]["schemas"][name].is_object(),
                "{name}"
            );
        }
    }

    /// The query parameters of each Elasticsearch API are among those its rest-api-spec
    /// entry lists, and a body the spec requires is required here too.
    #[test]
    fn parameters_and_bodies_agree_with_the_rest_api_spec() {
        let spec = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/spec/rest-api-spec");
        let mut checked = 0;
        for action in Action::ALL {
            let name = action.api_name();
            if name.starts_with("keyward.") {
                continue;
            }
            let file = spec.join(format!("{name}.json"));
            let Ok(text) = std::fs::read_to_string(&file) else {
                // `info` and `cluster.health` are not in the security spec folder.
                continue;
            };
            let entry: Value = serde_json::from_str(&text).unwrap();
            let entry = &entry[name];
            // `source` and `source_content_type` are among the parameters every API shares
            // (Elasticsearch's `_common.json`), not in each API's file.
            for param in action
                .params()
                .iter()
                .filter(|param| !matches!(**param, "source" | "source_content_type"))
            {
                assert!(entry["params"][param].is_object(), "{name} {param}");
            }
            let spec_required = entry["body"]["required"].as_bool().unwrap_or(false);
            let required = body(action).is_some_and(|(_, required)| required);
            assert_eq!(spec_required, required, "{name}");
            checked += 1;
        }
        assert!(
            checked > 30,
            "rest-api-spec not found at {}",
            spec.display()
        );
    }
}
