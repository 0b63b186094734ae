//! `security.put_user` (`PUT|POST /_security/user/{username}`).

use http::StatusCode;
use serde_json::json;

use super::create_api_key::check_refresh;
use super::{Ctx, Reply};
use crate::wire::{require_body, security};

pub(crate) async fn handle(ctx: &Ctx<'_>) -> Reply {
    check_refresh(ctx.query.raw("refresh"))?;
    let request = security::put_user_request(ctx.param("username"), &require_body(&ctx.body)?)?;
    let created = ctx.state.service.put_user(&ctx.subject, request).await?;
    Ok((StatusCode::OK, json!({ "created": created })))
}
