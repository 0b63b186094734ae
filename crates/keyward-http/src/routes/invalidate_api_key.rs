//! `security.invalidate_api_key` (`DELETE /_security/api_key`).

use http::StatusCode;
use serde_json::{Map, Value, json};

use super::{Ctx, Reply};
use crate::error::EsError;
use crate::wire::{api_key, require_body};

pub(crate) async fn handle(ctx: &Ctx<'_>) -> Reply {
    let request = api_key::invalidate_request(&require_body(&ctx.body)?)?;
    let result = ctx
        .state
        .service
        .invalidate_api_keys(&ctx.subject, request)
        .await?;
    let mut body = Map::new();
    body.insert("invalidated_api_keys".to_owned(), json!(result.invalidated));
    body.insert(
        "previously_invalidated_api_keys".to_owned(),
        json!(result.previously_invalidated),
    );
    body.insert("error_count".to_owned(), json!(result.errors.len()));
    if !result.errors.is_empty() {
        let details: Vec<Value> = result
            .errors
            .into_iter()
            .map(|err| EsError::from(err).to_object())
            .collect();
        body.insert("error_details".to_owned(), Value::Array(details));
    }
    Ok((StatusCode::OK, Value::Object(body)))
}
