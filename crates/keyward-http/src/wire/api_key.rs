//! Bodies of the API key endpoints: parsing requests into service commands and rendering
//! results in Elasticsearch's field order.

use keyward_core::ValidationErrors;
use keyward_core::duration::TimeValue;
use keyward_core::role::{DescriptorContext, RoleDescriptors};
use keyward_service::{
    ApiKeyInfo, Authentication, BULK_GRANT_LIMIT, BulkGrantApiKeys, CloneApiKey, CreateApiKey,
    CreatedApiKey, Grant, GrantApiKey, GrantType, InvalidateApiKeys, UpdateApiKey,
    too_many_to_grant,
};
use serde::Serialize;
use serde::ser::{SerializeMap, SerializeSeq};
use serde_json::{Map, Value, json};
use zeroize::Zeroizing;

use super::ObjectReader;
use crate::error::EsError;

/// `security.create_api_key` body (parser `api_key_request`).
pub(crate) fn create_request(body: &Value) -> Result<CreateApiKey, EsError> {
    let mut reader = ObjectReader::new(body, "api_key_request")?;
    let name = reader.string("name")?;
    let expiration = expiration(&mut reader, "api_key_request")?;
    let role_descriptors = role_descriptors(&mut reader)?;
    let metadata = reader.object("metadata")?.cloned();
    reader.finish()?;
    Ok(CreateApiKey {
        name,
        expiration,
        role_descriptors,
        metadata,
    })
}

/// `security.grant_api_key` body (parser `grant_api_key_request`).
pub(crate) fn grant_request(body: &Value) -> Result<GrantApiKey, EsError> {
    let mut reader = ObjectReader::new(body, "grant_api_key_request")?;
    let grant = grant_fields(&mut reader)?;
    let api_key = match reader.value("api_key") {
        Some(value) => create_request(value)?,
        None => CreateApiKey::default(),
    };
    reader.finish()?;
    Ok(GrantApiKey { grant, api_key })
}

/// `security.bulk_grant_api_key` body: the grant's fields and `api_keys`, each a create body.
pub(crate) fn bulk_grant_request(body: &Value) -> Result<BulkGrantApiKeys, EsError> {
    let mut reader = ObjectReader::new(body, "bulk_grant_api_key_request")?;
    let grant = grant_fields(&mut reader)?;
    let api_keys = match reader.value("api_keys") {
        None => Vec::new(),
        Some(Value::Array(items)) => {
            // Counted before anything is parsed: the limit bounds the parsing too.
            if items.len() > BULK_GRANT_LIMIT {
                let mut errors = ValidationErrors::default();
                errors.add(too_many_to_grant(items.len()));
                return Err(EsError::from(keyward_core::Error::Validation(errors)));
            }
            items
                .iter()
                .map(create_request)
                .collect::<Result<Vec<_>, _>>()?
        }
        Some(other) => return Err(reader.wrong_type("api_keys", other)),
    };
    reader.finish()?;
    Ok(BulkGrantApiKeys { grant, api_keys })
}

/// The grant type and the grantee's credentials: what every grant body (the grant and bulk grant
/// of API keys, a profile's activation) reads; `run_as` and `client_authentication` are left
/// to the bodies that take them.
pub(crate) fn grant_credentials(reader: &mut ObjectReader<'_>) -> Result<Grant, EsError> {
    let grant_type = reader
        .string("grant_type")?
        .map(|kind| match kind.as_str() {
            "password" => Ok(GrantType::Password),
            "access_token" => Ok(GrantType::AccessToken),
            _ => Err(kind),
        });
    let username = reader.string("username")?;
    let password = reader.string("password")?.map(Zeroizing::new);
    let access_token = reader.string("access_token")?.map(Zeroizing::new);
    Ok(Grant {
        grant_type,
        username,
        password,
        access_token,
        client_authentication: None,
        run_as: None,
    })
}

/// The grantee's credentials, common to both grant bodies.
fn grant_fields(reader: &mut ObjectReader<'_>) -> Result<Grant, EsError> {
    let grant = grant_credentials(reader)?;
    let run_as = reader.string("run_as")?;
    let client_authentication = reader.object("client_authentication")?.map(|object| {
        object
            .get("scheme")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    });
    Ok(Grant {
        client_authentication,
        run_as,
        ..grant
    })
}

/// `security.clone_api_key` body.
pub(crate) fn clone_request(body: &Value) -> Result<CloneApiKey, EsError> {
    const PARSER: &str = "clone_api_key_request";
    let mut reader = ObjectReader::new(body, PARSER)?;
    let api_key = reader.string("api_key")?.map(Zeroizing::new);
    let name = reader.string("name")?;
    let expiration = if reader.is_null("expiration") {
        reader.value("expiration");
        Some(None)
    } else {
        expiration(&mut reader, PARSER)?.map(Some)
    };
    let metadata = reader.object("metadata")?.cloned();
    reader.finish()?;
    Ok(CloneApiKey {
        api_key,
        name,
        expiration,
        metadata,
    })
}

/// The bulk grant response: every key created, in request order.
pub(crate) fn bulk_granted(keys: &[CreatedApiKey]) -> Value {
    json!({ "created": keys.iter().map(created).collect::<Vec<_>>() })
}

/// `security.update_api_key` body; an absent body is `{}`.
pub(crate) fn update_request(
    body: Option<&Value>,
    parser: &'static str,
) -> Result<(UpdateApiKey, Option<Vec<String>>), EsError> {
    let empty = Value::Object(Map::new());
    let mut reader = ObjectReader::new(body.unwrap_or(&empty), parser)?;
    let ids = if parser == "bulk_update_api_key_request" {
        reader.strings("ids")?
    } else {
        None
    };
    let role_descriptors = role_descriptors(&mut reader)?;
    let metadata = reader.object("metadata")?.cloned();
    let expiration = expiration(&mut reader, parser)?;
    reader.finish()?;
    Ok((
        UpdateApiKey {
            role_descriptors,
            metadata,
            expiration,
        },
        ids,
    ))
}

/// `security.invalidate_api_key` body (parser `invalidate_api_key`), with the id checks
/// Elasticsearch makes while parsing.
pub(crate) fn invalidate_request(body: &Value) -> Result<InvalidateApiKeys, EsError> {
    let mut reader = ObjectReader::new(body, "invalidate_api_key")?;
    // The singular `id` exists only for REST API version 7 compatibility, which Elasticsearch 9
    // (and keyward) no longer offer: here it is an unknown field like any other.
    let ids = reader.strings("ids")?;
    let name = reader
        .string("name")?
        .filter(|name| !name.trim().is_empty());
    let username = reader
        .string("username")?
        .filter(|name| !name.trim().is_empty());
    let realm_name = reader
        .string("realm_name")?
        .filter(|name| !name.trim().is_empty());
    let owner = reader.boolean("owner")?.unwrap_or(false);
    reader.finish()?;
    if let Some(ids) = &ids {
        check_ids(ids)?;
    }
    Ok(InvalidateApiKeys {
        ids,
        name,
        username,
        realm_name,
        owner,
    })
}

fn check_ids(ids: &[String]) -> Result<(), EsError> {
    if ids.is_empty() {
        return Err(EsError::illegal_argument(
            "Field [ids] cannot be an empty array",
        ));
    }
    let blank: Vec<String> = ids
        .iter()
        .enumerate()
        .filter(|(_, id)| id.trim().is_empty())
        .map(|(index, _)| index.to_string())
        .collect();
    match blank.as_slice() {
        [] => Ok(()),
        [one] => Err(EsError::illegal_argument(format!(
            "Field [ids] must not contain blank id, but got blank id at index position: [{one}]"
        ))),
        many => Err(EsError::illegal_argument(format!(
            "Field [ids] must not contain blank ids, but got blank ids at index positions: [{}]",
            many.join(", ")
        ))),
    }
}

/// The `expiration` field: a time value, or the parser's error wrapping the time value's.
pub(crate) fn expiration(
    reader: &mut ObjectReader<'_>,
    parser: &str,
) -> Result<Option<TimeValue>, EsError> {
    match reader.string("expiration")? {
        None => Ok(None),
        Some(text) => TimeValue::parse(&text, "expiration")
            .map(Some)
            .map_err(|err| {
                EsError::x_content(format!("[{parser}] failed to parse field [expiration]"))
                    .caused_by(EsError::from(err))
            }),
    }
}

fn role_descriptors(reader: &mut ObjectReader<'_>) -> Result<Option<RoleDescriptors>, EsError> {
    match reader.value("role_descriptors") {
        None => Ok(None),
        Some(value @ Value::Object(_)) => Ok(Some(RoleDescriptors::parse(
            value,
            DescriptorContext::ApiKey,
        )?)),
        // The request parser rejects the field's type before any descriptor is read.
        Some(other) => Err(reader.wrong_type("role_descriptors", other)),
    }
}

/// The create response: `id`, `name`, `expiration` (when set), `api_key`, `encoded`.
pub(crate) fn created(created: &CreatedApiKey) -> Value {
    let mut object = Map::new();
    object.insert(
        "id".to_owned(),
        Value::String(created.id.as_str().to_owned()),
    );
    object.insert("name".to_owned(), Value::String(created.name.clone()));
    if let Some(expiration) = created.expiration {
        object.insert("expiration".to_owned(), json!(expiration));
    }
    object.insert(
        "api_key".to_owned(),
        Value::String(created.secret.expose().to_owned()),
    );
    object.insert(
        "encoded".to_owned(),
        Value::String(created.encoded.as_str().to_owned()),
    );
    Value::Object(object)
}

/// A key as get and query render it, in Elasticsearch's field order (reference §8.3). Serializing it writes the
/// JSON straight from the key (the listings stream this way); [`api_key_info`] builds the same
/// document as a `Value`, for answers that are filtered or extended.
pub(crate) struct ApiKeyView<'a>(pub(crate) &'a ApiKeyInfo);

impl Serialize for ApiKeyView<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        /// `limited_by` is a list of one object: the owner's descriptors.
        struct One<'a>(&'a Map<String, Value>);
        impl Serialize for One<'_> {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                let mut list = serializer.serialize_seq(Some(1))?;
                list.serialize_element(self.0)?;
                list.end()
            }
        }
        let info = self.0;
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("id", &info.id)?;
        map.serialize_entry("name", &info.name)?;
        map.serialize_entry("type", info.key_type.as_str())?;
        map.serialize_entry("creation", &info.creation)?;
        if let Some(expiration) = info.expiration {
            map.serialize_entry("expiration", &expiration)?;
        }
        map.serialize_entry("invalidated", &info.invalidated)?;
        if let Some(invalidation) = info.invalidation {
            map.serialize_entry("invalidation", &invalidation)?;
        }
        map.serialize_entry("username", &info.username)?;
        map.serialize_entry("realm", &info.realm)?;
        if let Some(realm_type) = &info.realm_type {
            map.serialize_entry("realm_type", realm_type)?;
        }
        map.serialize_entry("metadata", &info.metadata)?;
        map.serialize_entry("role_descriptors", &info.role_descriptors)?;
        if let Some(access) = &info.access {
            map.serialize_entry("access", access)?;
        }
        if let Some(limited_by) = &info.limited_by {
            map.serialize_entry("limited_by", &One(limited_by))?;
        }
        if let Some(profile_uid) = &info.profile_uid {
            map.serialize_entry("profile_uid", profile_uid)?;
        }
        if let Some(identity) = &info.certificate_identity {
            map.serialize_entry("certificate_identity", identity)?;
        }
        map.end()
    }
}

/// A key as get and query render it, as a `Value` ([`ApiKeyView`] is the one definition).
pub(crate) fn api_key_info(info: &ApiKeyInfo) -> Value {
    // Serializing into a `Value` fails only for maps with non-string keys; this one has none.
    serde_json::to_value(ApiKeyView(info)).unwrap_or_else(|err| {
        tracing::error!(error = %err, "cannot render an API key");
        Value::Null
    })
}

/// The `_authenticate` response for users and API keys (reference §8.11).
pub(crate) fn authenticate(subject: &Authentication) -> Value {
    let user = &subject.user;
    let mut object = Map::new();
    object.insert("username".to_owned(), Value::String(user.username.clone()));
    object.insert("roles".to_owned(), json!(user.roles));
    object.insert("full_name".to_owned(), json!(user.full_name));
    object.insert("email".to_owned(), json!(user.email));
    // Elasticsearch shows a service token between the user's email and metadata.
    if let Some(token) = &subject.service_token {
        object.insert(
            "token".to_owned(),
            json!({"name": token.name, "type": token.source.type_name()}),
        );
    }
    object.insert("metadata".to_owned(), Value::Object(user.metadata.clone()));
    object.insert("enabled".to_owned(), Value::Bool(user.enabled));
    object.insert(
        "authentication_realm".to_owned(),
        json!({"name": subject.authentication_realm.name, "type": subject.authentication_realm.realm_type}),
    );
    object.insert(
        "lookup_realm".to_owned(),
        json!({"name": subject.lookup_realm.name, "type": subject.lookup_realm.realm_type}),
    );
    let authentication_type = if subject.is_api_key() {
        "api_key"
    } else if subject.token || subject.service_token.is_some() {
        "token"
    } else {
        "realm"
    };
    object.insert(
        "authentication_type".to_owned(),
        Value::String(authentication_type.to_owned()),
    );
    if let Some(key) = &subject.api_key {
        let mut api_key = Map::new();
        api_key.insert("id".to_owned(), Value::String(key.id.clone()));
        if !key.name.is_empty() {
            api_key.insert("name".to_owned(), Value::String(key.name.clone()));
        }
        api_key.insert(
            "managed_by".to_owned(),
            Value::String("elasticsearch".to_owned()),
        );
        object.insert("api_key".to_owned(), Value::Object(api_key));
    }
    Value::Object(object)
}
