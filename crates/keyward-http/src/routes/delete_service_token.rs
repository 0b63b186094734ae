//! `security.delete_service_token` (`DELETE /_security/service/{namespace}/{service}/credential/token/{name}`).

use super::create_api_key::check_refresh;
use super::{Ctx, Reply, found_reply};

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
    found_reply(found)
}
