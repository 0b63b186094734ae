//! `security.update_api_key` (`PUT /_security/api_key/{id}`).

use http::StatusCode;
use serde_json::json;

use super::{Ctx, Reply};
use crate::wire::{api_key, parse_body};

pub(crate) async fn handle(ctx: &Ctx<'_>) -> Reply {
    let body = parse_body(&ctx.body)?;
    let (request, _) = api_key::update_request(body.as_ref(), "update_api_key_request")?;
    let updated = ctx
        .state
        .service
        .update_api_key(&ctx.subject, ctx.param("id"), request)
        .await?;
    Ok((StatusCode::OK, json!({ "updated": updated })))
}
