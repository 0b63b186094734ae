//! `security.clone_api_key` (`POST|PUT /_security/api_key/clone`).

use http::StatusCode;

use super::create_api_key::check_refresh;
use super::{Ctx, Reply};
use crate::wire::{api_key, require_body};

pub(crate) async fn handle(ctx: &Ctx<'_>) -> Reply {
    check_refresh(ctx.query.raw("refresh"))?;
    let request = api_key::clone_request(&require_body(&ctx.body)?)?;
    let created = ctx
        .state
        .service
        .clone_api_key(&ctx.subject, request)
        .await?;
    Ok((StatusCode::OK, api_key::created(&created)))
}
