//! Bodies of the cross-cluster API key endpoints and of keyward's internal cross-cluster
//! authenticate API.

use keyward_core::cross_cluster::CrossClusterAccess;
use keyward_service::{
    CreateCrossClusterApiKey, CrossClusterAuthentication, UpdateCrossClusterApiKey,
};
use serde_json::{Map, Value, json};

use super::{ObjectReader, api_key::expiration};
use crate::error::EsError;

/// `security.create_cross_cluster_api_key` body (parser `cross_cluster_api_key_request`).
pub(crate) fn create_request(body: &Value) -> Result<CreateCrossClusterApiKey, EsError> {
    const PARSER: &str = "cross_cluster_api_key_request";
    reject_null(body, PARSER, "access")?;
    let mut reader = ObjectReader::new(body, PARSER)?;
    let name = reader.string("name")?;
    let access = access(&mut reader)?;
    let expiration = expiration(&mut reader, PARSER)?;
    let metadata = reader.object("metadata")?.cloned();
    let certificate_identity = reader.string("certificate_identity")?;
    reader.finish()?;
    // Elasticsearch's parser names every missing required field at once.
    let missing: Vec<&str> = [("name", name.is_none()), ("access", access.is_none())]
        .into_iter()
        .filter_map(|(field, absent)| absent.then_some(field))
        .collect();
    let Some(access) = access.filter(|_| missing.is_empty()) else {
        return Err(EsError::illegal_argument(format!(
            "Required [{}]",
            missing.join(", ")
        )));
    };
    // Elasticsearch converts the access while it builds the request, before any other rule.
    access.validate()?;
    Ok(CreateCrossClusterApiKey {
        name,
        access,
        expiration,
        metadata,
        certificate_identity,
    })
}

/// `security.update_cross_cluster_api_key` body (parser `update_cross_cluster_api_key_request`).
pub(crate) fn update_request(body: &Value) -> Result<UpdateCrossClusterApiKey, EsError> {
    const PARSER: &str = "update_cross_cluster_api_key_request";
    reject_null(body, PARSER, "access")?;
    // An explicit `null` clears the certificate identity; leaving the field out keeps it.
    let clears_identity = body.get("certificate_identity").is_some_and(Value::is_null);
    let mut reader = ObjectReader::new(body, PARSER)?;
    let access = access(&mut reader)?;
    let metadata = reader.object("metadata")?.cloned();
    let expiration = expiration(&mut reader, PARSER)?;
    let identity = reader.string("certificate_identity")?;
    reader.finish()?;
    if let Some(access) = &access {
        access.validate()?;
    }
    let certificate_identity = match identity {
        Some(identity) => Some(Some(identity)),
        None if clears_identity => Some(None),
        None => None,
    };
    Ok(UpdateCrossClusterApiKey {
        access,
        metadata,
        expiration,
        certificate_identity,
    })
}

/// The body of `POST /_keyward/cross_cluster/_authenticate`: the credential as a querying
/// cluster presents it (`api_key`: the encoded `id:secret`, optionally prefixed with `ApiKey `),
/// and the distinguished name of its TLS client certificate when there is one.
pub(crate) fn authenticate_request(body: &Value) -> Result<(String, Option<String>), EsError> {
    const PARSER: &str = "cross_cluster_authenticate_request";
    let mut reader = ObjectReader::new(body, PARSER)?;
    let api_key = reader.string("api_key")?;
    let certificate_dn = reader.string("certificate_dn")?;
    reader.finish()?;
    let api_key = api_key.ok_or_else(|| EsError::illegal_argument("Required [api_key]"))?;
    Ok((api_key, certificate_dn))
}

/// The answer of the internal authenticate API.
pub(crate) fn authenticated(result: &CrossClusterAuthentication) -> Value {
    let mut object = Map::new();
    object.insert(
        "api_key".to_owned(),
        json!({"id": result.id, "name": result.name, "type": "cross_cluster"}),
    );
    object.insert(
        "username".to_owned(),
        Value::String(result.username.clone()),
    );
    object.insert("realm".to_owned(), Value::String(result.realm.clone()));
    if let Some(expiration) = result.expiration {
        object.insert("expiration".to_owned(), json!(expiration));
    }
    object.insert(
        "role_descriptors".to_owned(),
        Value::Object(result.role_descriptors.clone()),
    );
    object.insert("access".to_owned(), Value::Object(result.access.clone()));
    if let Some(identity) = &result.certificate_identity {
        object.insert(
            "certificate_identity".to_owned(),
            Value::String(identity.clone()),
        );
    }
    Value::Object(object)
}

fn access(reader: &mut ObjectReader<'_>) -> Result<Option<CrossClusterAccess>, EsError> {
    match reader.value("access") {
        None => Ok(None),
        Some(value) => Ok(Some(CrossClusterAccess::parse(value)?)),
    }
}

/// Elasticsearch's object fields do not take `null`: `access doesn't support values of type:
/// VALUE_NULL`.
fn reject_null(body: &Value, parser: &str, field: &str) -> Result<(), EsError> {
    if body.get(field).is_some_and(Value::is_null) {
        return Err(EsError::x_content(format!(
            "[{parser}] {field} doesn't support values of type: VALUE_NULL"
        )));
    }
    Ok(())
}
