//! `security.update_cross_cluster_api_key` (`PUT /_security/cross_cluster/api_key/{id}`).

use http::StatusCode;
use serde_json::json;

use super::{Ctx, Reply};
use crate::wire::{cross_cluster, require_body};

pub(crate) async fn handle(ctx: &Ctx<'_>) -> Reply {
    let request = cross_cluster::update_request(&require_body(&ctx.body)?)?;
    let updated = ctx
        .state
        .service
        .update_cross_cluster_api_key(&ctx.subject, ctx.param("id"), request)
        .await?;
    Ok((StatusCode::OK, json!({ "updated": updated })))
}
