//! `security.enable_user` (`PUT|POST /_security/user/{username}/_enable`).

use http::StatusCode;
use serde_json::json;

use super::create_api_key::check_refresh;
use super::{Ctx, Reply};

pub(crate) async fn handle(ctx: &Ctx<'_>) -> Reply {
    check_refresh(ctx.query.raw("refresh"))?;
    ctx.state
        .service
        .set_user_enabled(&ctx.subject, ctx.param("username"), true)
        .await?;
    Ok((StatusCode::OK, json!({})))
}
