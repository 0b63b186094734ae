//! `security.delete_role` (`DELETE /_security/role/{name}`).

use super::create_api_key::check_refresh;
use super::{Ctx, Reply, found_reply};

pub(crate) async fn handle(ctx: &Ctx<'_>) -> Reply {
    check_refresh(ctx.query.raw("refresh"))?;
    let found = ctx
        .state
        .service
        .delete_role(&ctx.subject, ctx.param("name"))
        .await?;
    found_reply(found)
}
