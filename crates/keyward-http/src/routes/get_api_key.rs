//! `security.get_api_key` (`GET /_security/api_key`).

use http::StatusCode;
use keyward_service::GetApiKeys;
use serde_json::{Value, json};

use super::{Ctx, Reply};
use crate::wire::api_key;

const PARAMS: &[&str] = &[
    "id",
    "name",
    "username",
    "realm_name",
    "owner",
    "with_limited_by",
    "active_only",
    "with_profile_uid",
];

pub(crate) async fn handle(ctx: &Ctx<'_>) -> Reply {
    ctx.allow_params(PARAMS)?;
    let query = &ctx.query;
    let request = GetApiKeys {
        id: query.string("id"),
        name: query.string("name"),
        username: query.string("username"),
        realm_name: query.string("realm_name"),
        owner: query.flag("owner")?,
        with_limited_by: query.flag("with_limited_by")?,
        active_only: query.flag("active_only")?,
    };
    // Accepted for compatibility: keyward has no user profiles, so no key has a profile_uid.
    query.flag("with_profile_uid")?;
    let by_id = request.id.is_some();
    let keys = ctx
        .state
        .service
        .get_api_keys(&ctx.subject, request)
        .await?;
    // Elasticsearch answers a lookup by id that finds nothing with 404 and the normal body.
    let status = if by_id && keys.is_empty() {
        StatusCode::NOT_FOUND
    } else {
        StatusCode::OK
    };
    let keys: Vec<Value> = keys.iter().map(api_key::api_key_info).collect();
    Ok((status, json!({ "api_keys": keys })))
}
