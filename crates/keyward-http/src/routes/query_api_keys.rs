//! `security.query_api_keys` (`GET|POST /_security/_query/api_key`).

use http::StatusCode;
use keyward_service::QueryApiKeys;
use serde_json::Value;

use super::{Ctx, Reply};
use crate::wire::{api_key, parse_body, query};

pub(crate) async fn handle(ctx: &Ctx<'_>) -> Reply {
    let mut request = QueryApiKeys {
        with_limited_by: ctx.query.flag("with_limited_by")?,
        typed_keys: ctx.query.flag("typed_keys")?,
        with_profile_uid: ctx.query.flag("with_profile_uid")?,
        ..QueryApiKeys::default()
    };
    // No body is the same as `{}`: every key the caller may see.
    if let Some(body) = parse_body(&ctx.body)? {
        let body = query::search_body(&body, "query_api_key_request", true)?;
        request.query = body.search.query;
        request.from = body.search.from;
        request.size = body.search.size;
        request.sort = body.search.sort;
        request.search_after = body.search.search_after;
        request.aggs = body.aggs;
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
                object.insert("_sort".to_owned(), query::sort_values(values));
            }
            key
        })
        .collect();
    let mut body = query::hits_body(result.total, "api_keys", keys);
    if let Some(aggregations) = result.aggregations {
        body.insert("aggregations".to_owned(), Value::Object(aggregations));
    }
    Ok((StatusCode::OK, Value::Object(body)))
}
