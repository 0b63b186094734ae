//! `security.change_password` (`PUT|POST /_security/user/_password`,
//! `PUT|POST /_security/user/{username}/_password`).

use http::StatusCode;
use serde_json::json;

use super::create_api_key::check_refresh;
use super::{Ctx, Reply};
use crate::wire::{require_body, security};

pub(crate) async fn handle(ctx: &Ctx<'_>) -> Reply {
    check_refresh(ctx.query.raw("refresh"))?;
    let password = security::change_password_request(&require_body(&ctx.body)?)?;
    let username = ctx
        .params
        .iter()
        .find(|(name, _)| *name == "username")
        .map(|(_, value)| value.as_str());
    ctx.state
        .service
        .change_password(&ctx.subject, username, password)
        .await?;
    Ok((StatusCode::OK, json!({})))
}
