//! `security.grant_api_key` (`POST /_security/api_key/grant`) and
//! `security.bulk_grant_api_key` (`POST /_security/api_key/_bulk_grant`).

use http::StatusCode;

use super::create_api_key::check_refresh;
use super::{Ctx, Reply};
use crate::wire::{api_key, require_body};

pub(crate) async fn handle(ctx: &Ctx<'_>) -> Reply {
    check_refresh(ctx.query.raw("refresh"))?;
    let request = api_key::grant_request(&require_body(&ctx.body)?)?;
    let created = ctx
        .state
        .service
        .grant_api_key(&ctx.subject, request)
        .await?;
    Ok((StatusCode::OK, api_key::created(&created)))
}

/// `security.bulk_grant_api_key` (`POST /_security/api_key/_bulk_grant`).
pub(crate) async fn handle_bulk(ctx: &Ctx<'_>) -> Reply {
    check_refresh(ctx.query.raw("refresh"))?;
    let request = api_key::bulk_grant_request(&require_body(&ctx.body)?)?;
    let created = ctx
        .state
        .service
        .bulk_grant_api_keys(&ctx.subject, request)
        .await?;
    Ok((StatusCode::OK, api_key::bulk_granted(&created)))
}
