//! `security.disable_user_profile` (`PUT|POST /_security/profile/{uid}/_disable`).

use http::StatusCode;
use serde_json::json;

use super::create_api_key::check_refresh;
use super::{Ctx, Reply};

pub(crate) async fn handle(ctx: &Ctx<'_>) -> Reply {
    check_refresh(ctx.query.raw("refresh"))?;
    ctx.state
        .service
        .set_profile_enabled(&ctx.subject, ctx.param("uid"), false)
        .await?;
    Ok((StatusCode::OK, json!({ "acknowledged": true })))
}
