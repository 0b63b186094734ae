//! `security.put_role` (`PUT|POST /_security/role/{name}`).

use http::StatusCode;
use serde_json::json;

use super::create_api_key::check_refresh;
use super::{Ctx, Reply};
use crate::wire::{require_body, security};

pub(crate) async fn handle(ctx: &Ctx<'_>) -> Reply {
    check_refresh(ctx.query.raw("refresh"))?;
    let name = ctx.param("name");
    let descriptor = security::role_request(name, &require_body(&ctx.body)?)?;
    let created = ctx
        .state
        .service
        .put_role(&ctx.subject, name, descriptor)
        .await?;
    Ok((StatusCode::OK, json!({ "role": { "created": created } })))
}
