//! User profile request bodies and the profile document as Elasticsearch renders it.

use keyward_service::{Grant, Profile, ProfilePrivileges, SuggestProfiles, SuggestedProfiles};
use serde_json::{Map, Value, json};

use super::ObjectReader;
use crate::error::EsError;

/// `security.activate_user_profile` body: the grant type and the user's credentials.
pub(crate) fn activate_request(body: &Value) -> Result<Grant, EsError> {
    let mut reader = ObjectReader::new(body, "activate_profile_request")?;
    let grant = super::api_key::grant_credentials(&mut reader)?;
    reader.finish()?;
    Ok(grant)
}

/// An optional JSON object of a request body.
type OptionalObject = Option<Map<String, Value>>;

/// `security.update_user_profile_data` body: `labels` and `data`, each an object.
pub(crate) fn update_data_request(
    body: &Value,
) -> Result<(OptionalObject, OptionalObject), EsError> {
    let mut reader = ObjectReader::new(body, "update_profile_data_request_payload")?;
    let labels = reader.object("labels")?.cloned();
    let data = reader.object("data")?.cloned();
    reader.finish()?;
    Ok((labels, data))
}

/// `security.suggest_user_profiles` body; `data` from the query string when the body has none.
pub(crate) fn suggest_request(
    body: Option<&Value>,
    data: Vec<String>,
) -> Result<SuggestProfiles, EsError> {
    let mut request = SuggestProfiles {
        data,
        ..SuggestProfiles::default()
    };
    let Some(body) = body else {
        return Ok(request);
    };
    let mut reader = ObjectReader::new(body, "suggest_profile_request_payload")?;
    request.name = reader.string("name")?;
    request.size = match reader.value("size") {
        None => None,
        Some(Value::Number(number)) if number.is_i64() => number.as_i64(),
        Some(Value::String(text)) => Some(text.parse::<i64>().map_err(|_| {
            EsError::x_content("[suggest_profile_request_payload] failed to parse field [size]")
        })?),
        Some(other) => return Err(reader.wrong_type("size", other)),
    };
    if let Some(data) = reader.strings("data")? {
        request.data = data.iter().flat_map(|item| split_list(item)).collect();
    }
    if let Some(hint) = reader.value("hint") {
        let mut hint_reader = ObjectReader::new(hint, "suggest_profile_request_payload_hint")?;
        request.hint_uids = hint_reader.strings("uids")?;
        request.hint_labels = hint_reader.object("labels")?.cloned();
        hint_reader.finish()?;
    }
    reader.finish()?;
    Ok(request)
}

/// `security.has_privileges_user_profile` body: `uids` and the `privileges` to check, the
/// latter as a has-privileges body.
pub(crate) fn has_privileges_request(body: &Value) -> Result<(Vec<String>, Value), EsError> {
    let mut reader = ObjectReader::new(body, "profile_has_privileges_request")?;
    let uids = reader.strings("uids")?.unwrap_or_default();
    let privileges = reader.value("privileges").cloned();
    reader.finish()?;
    let privileges = privileges.ok_or_else(|| {
        EsError::from(keyward_core::Error::validation(
            "privileges to check must be provided",
        ))
    })?;
    Ok((uids, privileges))
}

/// A comma-separated list parameter, blank items dropped.
pub(crate) fn split_list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The profile document of activate and get, in Elasticsearch's field order.
pub(crate) fn profile(profile: &Profile) -> Value {
    json!({
        "uid": profile.uid,
        "enabled": profile.enabled,
        "last_synchronized": profile.last_synchronized,
        "user": user(profile),
        "labels": profile.labels,
        "data": profile.data,
        "_doc": {
            "_primary_term": profile.primary_term,
            "_seq_no": profile.seq_no,
        },
    })
}

/// The answer to a suggest: each profile without its state and versions.
pub(crate) fn suggested(result: &SuggestedProfiles) -> Value {
    let profiles: Vec<Value> = result
        .profiles
        .iter()
        .map(|profile| {
            json!({
                "uid": profile.uid,
                "user": user(profile),
                "labels": profile.labels,
                "data": profile.data,
            })
        })
        .collect();
    json!({
        "took": result.took,
        "total": {"value": result.total, "relation": "eq"},
        "profiles": profiles,
    })
}

/// The answer to `security.has_privileges_user_profile`; `errors` only when there are some.
pub(crate) fn has_privileges_response(result: ProfilePrivileges) -> Value {
    let mut body = Map::new();
    body.insert(
        "has_privilege_uids".to_owned(),
        json!(result.has_privilege_uids),
    );
    if !result.errors.is_empty() {
        let details: Map<String, Value> = result
            .errors
            .into_iter()
            .map(|(uid, err)| (uid, EsError::from(err).to_object()))
            .collect();
        body.insert("errors".to_owned(), errors(details));
    }
    Value::Object(body)
}

/// Elasticsearch's per-item errors object: `count` and `details` by id.
pub(crate) fn errors(details: Map<String, Value>) -> Value {
    json!({ "count": details.len(), "details": details })
}

fn user(profile: &Profile) -> Value {
    let mut user = Map::new();
    user.insert("username".to_owned(), json!(profile.username));
    user.insert("roles".to_owned(), json!(profile.roles));
    user.insert("realm_name".to_owned(), json!(profile.realm_name));
    if let Some(email) = &profile.email {
        user.insert("email".to_owned(), json!(email));
    }
    if let Some(full_name) = &profile.full_name {
        user.insert("full_name".to_owned(), json!(full_name));
    }
    Value::Object(user)
}
