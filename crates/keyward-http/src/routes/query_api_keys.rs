//! `security.query_api_keys` (`GET|POST /_security/_query/api_key`).

use axum::http::StatusCode;
use keyward_core::query::SortValue;
use keyward_service::QueryApiKeys;
use serde_json::{Map, Value, json};

use super::{Ctx, Reply};
use crate::error::EsError;
use crate::wire::{ObjectReader, api_key, parse_body, token_name};

const PARAMS: &[&str] = &["with_limited_by", "with_profile_uid", "typed_keys"];

pub(crate) async fn handle(ctx: &Ctx) -> Reply {
    ctx.allow_params(PARAMS)?;
    let mut request = QueryApiKeys {
        with_limited_by: ctx.query.flag("with_limited_by")?,
        typed_keys: ctx.query.flag("typed_keys")?,
        ..QueryApiKeys::default()
    };
    // Accepted for compatibility: keyward has no user profiles, so no key has a profile_uid.
    ctx.query.flag("with_profile_uid")?;
    // No body is the same as `{}`: every key the caller may see.
    if let Some(body) = parse_body(&ctx.body)? {
        read_body(&body, &mut request)?;
    }
    let result = ctx
        .state
        .service
        .query_api_keys(&ctx.subject, request)
        .await?;
    let keys: Vec<Value> = result
        .api_keys
        .iter()
        .map(|(info, sort_values)| {
            let mut key = api_key::api_key_info(info);
            if let (Value::Object(object), Some(values)) = (&mut key, sort_values) {
                object.insert(
                    "_sort".to_owned(),
                    Value::Array(values.iter().map(sort_value).collect()),
                );
            }
            key
        })
        .collect();
    let mut body = Map::new();
    body.insert("total".to_owned(), json!(result.total));
    body.insert("count".to_owned(), json!(keys.len()));
    body.insert("api_keys".to_owned(), Value::Array(keys));
    if let Some(aggregations) = result.aggregations {
        body.insert("aggregations".to_owned(), Value::Object(aggregations));
    }
    Ok((StatusCode::OK, Value::Object(body)))
}

fn read_body(body: &Value, request: &mut QueryApiKeys) -> Result<(), EsError> {
    let mut reader = ObjectReader::new(body, "query_api_key_request")?;
    request.query = reader.value("query").cloned();
    request.from = integer(reader.value("from"), "from")?;
    request.size = integer(reader.value("size"), "size")?;
    request.sort = reader.value("sort").cloned();
    request.search_after = reader.value("search_after").cloned();
    let aggs = reader.object("aggs")?;
    let aggregations = reader.object("aggregations")?;
    if aggs.is_some() && aggregations.is_some() {
        return Err(EsError::x_content(
            "[query_api_key_request] aggs and aggregations cannot both be specified",
        ));
    }
    request.aggs = aggs.or(aggregations).cloned();
    reader.finish()
}

fn integer(value: Option<&Value>, name: &str) -> Result<Option<i64>, EsError> {
    match value {
        None => Ok(None),
        Some(Value::Number(number)) => number.as_i64().map(Some).ok_or_else(|| wrong(name, value)),
        Some(Value::String(text)) => text.parse().map(Some).map_err(|_| wrong(name, value)),
        Some(_) => Err(wrong(name, value)),
    }
}

fn wrong(name: &str, value: Option<&Value>) -> EsError {
    let token = value.map_or("VALUE_NULL", token_name);
    EsError::x_content(format!(
        "[query_api_key_request] failed to parse field [{name}]"
    ))
    .caused_by(EsError::illegal_argument(format!(
        "[{name}] doesn't support values of type: {token}"
    )))
}

fn sort_value(value: &SortValue) -> Value {
    match value {
        SortValue::Long(number) => json!(number),
        SortValue::Text(text) => json!(text),
        SortValue::Null => Value::Null,
    }
}
