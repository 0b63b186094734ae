//! `security.delete_service_token` (`DELETE /_security/service/{namespace}/{service}/credential/token/{name}`).

use http::StatusCode;
use serde_json::json;

use super::create_api_key::check_refresh;
use super::{Ctx, Reply};

pub(crate) async fn handle(ctx: &Ctx<'_>) -> Reply {
    check_refresh(ctx.query.raw("refresh"))?;
    let found = ctx
        .state
        .service
        .delete_service_token(
            &ctx.subject,
            ctx.param("namespace"),
            ctx.param("service"),
            ctx.param("name"),
        )
        .await?;
    // Elasticsearch answers an unknown token with the ordinary body and status 404.
    let status = if found {
        StatusCode::OK
    } else {
        StatusCode::NOT_FOUND
    };
    Ok((status, json!({ "found": found })))
}
