//! `security.delete_user` (`DELETE /_security/user/{username}`).

use super::create_api_key::check_refresh;
use super::{Ctx, Reply, found_reply};

pub(crate) async fn handle(ctx: &Ctx<'_>) -> Reply {
    check_refresh(ctx.query.raw("refresh"))?;
    let found = ctx
        .state
        .service
        .delete_user(&ctx.subject, ctx.param("username"))
        .await?;
    found_reply(found)
}
