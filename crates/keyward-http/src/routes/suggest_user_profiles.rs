//! `security.suggest_user_profiles` (`GET|POST /_security/profile/_suggest`).

use http::StatusCode;

use super::{Ctx, Reply};
use crate::wire::{parse_body, profile};

pub(crate) async fn handle(ctx: &Ctx<'_>) -> Reply {
    let data = ctx
        .query
        .raw("data")
        .map(profile::split_list)
        .unwrap_or_default();
    let body = parse_body(&ctx.body)?;
    let request = profile::suggest_request(body.as_ref(), data)?;
    let result = ctx
        .state
        .service
        .suggest_profiles(&ctx.subject, request)
        .await?;
    Ok((StatusCode::OK, profile::suggested(&result)))
}
