//! `security.clear_api_key_cache` (`POST /_security/api_key/{ids}/_clear_cache`).

use http::StatusCode;
use keyward_service::ClearCacheTarget;
use serde_json::{Value, json};

use super::{Ctx, Reply};

pub(crate) async fn handle(ctx: &Ctx<'_>) -> Reply {
    let ids = split_list(ctx.param("ids"));
    let target = if ids.iter().any(|id| id == "*") {
        ClearCacheTarget::All
    } else {
        ClearCacheTarget::Ids(ids)
    };
    ctx.state
        .service
        .clear_api_key_cache(&ctx.subject, target)
        .await?;
    Ok((StatusCode::OK, nodes_response(ctx)))
}

/// A comma-separated path or query value as its non-blank items, trimmed.
pub(crate) fn split_list(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The answer of the cache-clearing APIs: this one node, which succeeded.
pub(crate) fn nodes_response(ctx: &Ctx<'_>) -> Value {
    let node = &ctx.state.node;
    json!({
        "_nodes": { "total": 1, "successful": 1, "failed": 0 },
        "cluster_name": node.cluster_name,
        "nodes": { node.node_id.clone(): { "name": node.node_name } }
    })
}
