//! `security.get_api_key` (`GET /_security/api_key`).

use http::StatusCode;
use keyward_service::GetApiKeys;
use serde_json::{Value, json};

use super::{Answer, Ctx};
use crate::error::EsError;
use crate::stream::ApiKeyPages;
use crate::wire::api_key;

/// Validates, authorizes and reads the first page before anything is sent, so that every error
/// of the request keeps its status; the rest of a large listing is streamed.
pub(crate) async fn handle(ctx: &Ctx<'_>) -> Result<(StatusCode, Answer), EsError> {
    let query = &ctx.query;
    let request = GetApiKeys {
        id: query.string("id"),
        name: query.string("name"),
        username: query.string("username"),
        realm_name: query.string("realm_name"),
        owner: query.flag("owner")?,
        with_limited_by: query.flag("with_limited_by")?,
        active_only: query.flag("active_only")?,
        with_profile_uid: query.flag("with_profile_uid")?,
    };
    let by_id = request.id.is_some();
    let mut listing = ctx
        .state
        .service
        .list_api_keys(&ctx.subject, request)
        .await?;
    let first = listing.next_page().await?.unwrap_or_default();
    if !by_id {
        return Ok((
            StatusCode::OK,
            Answer::ApiKeys(ApiKeyPages {
                first,
                rest: listing,
            }),
        ));
    }
    // A lookup by id finds at most one key. Elasticsearch answers one that finds nothing with
    // 404 and the normal body.
    let mut keys = first;
    while let Some(page) = listing.next_page().await? {
        keys.extend(page);
    }
    let status = if keys.is_empty() {
        StatusCode::NOT_FOUND
    } else {
        StatusCode::OK
    };
    let keys: Vec<Value> = keys.iter().map(api_key::api_key_info).collect();
    Ok((status, Answer::Value(json!({ "api_keys": keys }))))
}
