//! Bodies of the token endpoints (`security.get_token`, `security.invalidate_token`).

use keyward_service::{CreateToken, CreatedToken, InvalidateTokens, InvalidateTokensResult};
use serde_json::{Map, Value, json};
use zeroize::Zeroizing;

use super::ObjectReader;
use super::api_key::authenticate;
use crate::error::EsError;

/// `security.get_token` body (parser `token_request`).
pub(crate) fn create_request(body: &Value) -> Result<CreateToken, EsError> {
    let mut reader = ObjectReader::new(body, "token_request")?;
    let grant_type = reader.string("grant_type")?;
    let username = reader.string("username")?;
    let password = reader.string("password")?.map(Zeroizing::new);
    let refresh_token = reader.string("refresh_token")?.map(Zeroizing::new);
    let kerberos_ticket = reader.string("kerberos_ticket")?.map(Zeroizing::new);
    // Elasticsearch accepts a scope and ignores it; so does keyward.
    reader.string("scope")?;
    reader.finish()?;
    Ok(CreateToken {
        grant_type,
        username,
        password,
        refresh_token,
        kerberos_ticket,
    })
}

/// The get-token response, in Elasticsearch's field order.
pub(crate) fn created(created: &CreatedToken) -> Value {
    let mut body = Map::new();
    body.insert(
        "access_token".to_owned(),
        Value::String(created.access_token.as_str().to_owned()),
    );
    body.insert("type".to_owned(), Value::String("Bearer".to_owned()));
    body.insert("expires_in".to_owned(), json!(created.expires_in));
    if let Some(refresh) = &created.refresh_token {
        body.insert(
            "refresh_token".to_owned(),
            Value::String(refresh.as_str().to_owned()),
        );
    }
    body.insert(
        "authentication".to_owned(),
        authenticate(&created.authentication),
    );
    Value::Object(body)
}

/// `security.invalidate_token` body (parser `invalidate_token`).
pub(crate) fn invalidate_request(body: &Value) -> Result<InvalidateTokens, EsError> {
    let mut reader = ObjectReader::new(body, "invalidate_token")?;
    let token = reader.string("token")?.map(Zeroizing::new);
    let refresh_token = reader.string("refresh_token")?.map(Zeroizing::new);
    let realm_name = reader.string("realm_name")?;
    let username = reader.string("username")?;
    reader.finish()?;
    Ok(InvalidateTokens {
        token,
        refresh_token,
        realm_name,
        username,
    })
}

/// The invalidate-token response; `error_details` appears only with errors, as in
/// Elasticsearch.
pub(crate) fn invalidated(result: &InvalidateTokensResult) -> Value {
    json!({
        "invalidated_tokens": result.invalidated,
        "previously_invalidated_tokens": result.previously_invalidated,
        "error_count": 0,
    })
}
