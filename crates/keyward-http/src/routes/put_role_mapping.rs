//! `security.put_role_mapping` (`PUT|POST /_security/role_mapping/{name}`).

use http::StatusCode;
use keyward_core::role_mapping::RoleMapping;
use serde_json::json;

use super::create_api_key::check_refresh;
use super::{Ctx, Reply};
use crate::wire::require_body;

pub(crate) async fn handle(ctx: &Ctx<'_>) -> Reply {
    check_refresh(ctx.query.raw("refresh"))?;
    let mapping = RoleMapping::parse(&require_body(&ctx.body)?)?;
    let created = ctx
        .state
        .service
        .put_role_mapping(&ctx.subject, ctx.param("name"), mapping)
        .await?;
    Ok((
        StatusCode::OK,
        json!({ "role_mapping": { "created": created } }),
    ))
}
