//! `security.get_service_credentials` (`GET /_security/service/{namespace}/{service}/credential`).

use http::StatusCode;
use serde_json::{Map, Value, json};

use super::{Ctx, Reply};

pub(crate) async fn handle(ctx: &Ctx<'_>) -> Reply {
    let credentials = ctx
        .state
        .service
        .service_credentials(&ctx.subject, ctx.param("namespace"), ctx.param("service"))
        .await?;
    let tokens: Map<String, Value> = credentials
        .index_tokens
        .iter()
        .map(|name| (name.clone(), json!({})))
        .collect();
    let node_name = &ctx.state.node.node_name;
    let file_tokens: Map<String, Value> = credentials
        .file_tokens
        .iter()
        .map(|name| (name.clone(), json!({ "nodes": [node_name] })))
        .collect();
    Ok((
        StatusCode::OK,
        json!({
            "service_account": credentials.account,
            "count": credentials.index_tokens.len() + credentials.file_tokens.len(),
            "tokens": tokens,
            "nodes_credentials": {
                "_nodes": { "total": 1, "successful": 1, "failed": 0 },
                "file_tokens": file_tokens,
            },
        }),
    ))
}
