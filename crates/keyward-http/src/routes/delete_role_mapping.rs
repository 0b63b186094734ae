//! `security.delete_role_mapping` (`DELETE /_security/role_mapping/{name}`).

use http::StatusCode;
use serde_json::json;

use super::create_api_key::check_refresh;
use super::{Ctx, Reply};

pub(crate) async fn handle(ctx: &Ctx<'_>) -> Reply {
    check_refresh(ctx.query.raw("refresh"))?;
    let found = ctx
        .state
        .service
        .delete_role_mapping(&ctx.subject, ctx.param("name"))
        .await?;
    // As for roles, Elasticsearch answers a name it does not know with 404 `{"found": false}`.
    let status = if found {
        StatusCode::OK
    } else {
        StatusCode::NOT_FOUND
    };
    Ok((status, json!({ "found": found })))
}
