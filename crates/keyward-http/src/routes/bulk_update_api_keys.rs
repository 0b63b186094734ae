//! `security.bulk_update_api_keys` (`POST /_security/api_key/_bulk_update`).

use http::StatusCode;
use serde_json::{Map, Value, json};

use super::{Ctx, Reply};
use crate::error::EsError;
use crate::wire::{api_key, require_body};

pub(crate) async fn handle(ctx: &Ctx<'_>) -> Reply {
    let body = require_body(&ctx.body)?;
    let (request, ids) = api_key::update_request(Some(&body), "bulk_update_api_key_request")?;
    let ids = ids.ok_or_else(|| EsError::x_content("Required [ids]"))?;
    let result = ctx
        .state
        .service
        .bulk_update_api_keys(&ctx.subject, ids, request)
        .await?;
    let mut body = Map::new();
    body.insert("updated".to_owned(), json!(result.updated));
    body.insert("noops".to_owned(), json!(result.noops));
    if !result.errors.is_empty() {
        let mut details = Map::new();
        let count = result.errors.len();
        for (id, err) in result.errors {
            details.insert(id, EsError::from(err).to_object());
        }
        body.insert(
            "errors".to_owned(),
            json!({ "count": count, "details": details }),
        );
    }
    Ok((StatusCode::OK, Value::Object(body)))
}
