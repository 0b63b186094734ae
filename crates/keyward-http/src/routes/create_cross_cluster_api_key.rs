//! `security.create_cross_cluster_api_key` (`POST /_security/cross_cluster/api_key`).

use http::StatusCode;

use super::{Ctx, Reply};
use crate::wire::{api_key, cross_cluster, require_body};

pub(crate) async fn handle(ctx: &Ctx<'_>) -> Reply {
    let request = cross_cluster::create_request(&require_body(&ctx.body)?)?;
    let created = ctx
        .state
        .service
        .create_cross_cluster_api_key(&ctx.subject, request)
        .await?;
    Ok((StatusCode::OK, api_key::created(&created)))
}
