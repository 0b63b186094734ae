//! `security.get_stats` (`GET /_security/stats`): each node's security statistics.
//!
//! Elasticsearch reports its roles store there, which is the document-level security bitset
//! cache; keyward evaluates no document-level security, so that cache is always empty.

use http::StatusCode;
use serde_json::json;

use super::{Ctx, Reply};

pub(crate) async fn handle(ctx: &Ctx<'_>) -> Reply {
    ctx.state.service.security_stats(&ctx.subject)?;
    let node = &ctx.state.node;
    let bit_set_cache = json!({
        "count": 0,
        "memory": "0b",
        "memory_in_bytes": 0,
        "hits": 0,
        "misses": 0,
        "evictions": 0,
        "hits_time_in_millis": 0,
        "misses_time_in_millis": 0,
    });
    Ok((
        StatusCode::OK,
        json!({
            "_nodes": { "total": 1, "successful": 1, "failed": 0 },
            "cluster_name": node.cluster_name,
            "nodes": {
                node.node_id.clone(): { "roles": { "dls": { "bit_set_cache": bit_set_cache } } }
            }
        }),
    ))
}
