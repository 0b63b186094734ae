//! `info` (`GET /`): the root document clients read to identify the cluster.

use http::StatusCode;
use keyward_core::privilege::actions;
use serde_json::json;

use super::{Ctx, Reply};
use crate::ES_VERSION;

pub(crate) async fn handle(ctx: &Ctx<'_>) -> Reply {
    ctx.state
        .service
        .require_full(&ctx.subject, actions::MAIN)?;
    let node = &ctx.state.node;
    Ok((
        StatusCode::OK,
        json!({
            "name": node.node_name,
            "cluster_name": node.cluster_name,
            "cluster_uuid": node.cluster_uuid,
            "version": {
                "number": ES_VERSION,
                "build_flavor": "default",
                "build_type": "tar",
                "build_hash": "keyward",
                "build_date": "2026-01-01T00:00:00.000Z",
                "build_snapshot": false,
                "lucene_version": "10.2.2",
                "minimum_wire_compatibility_version": "8.19.0",
                "minimum_index_compatibility_version": "8.0.0"
            },
            "tagline": "You Know, for Search"
        }),
    ))
}
