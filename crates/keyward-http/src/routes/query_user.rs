//! `security.query_user` (`GET|POST /_security/_query/user`): not built yet, answered with a
//! 400 that says so.

use super::{Ctx, Reply};
use crate::wire::parse_body;

pub(crate) async fn handle(ctx: &Ctx) -> Reply {
    ctx.allow_params(&["with_profile_uid"])?;
    parse_body(&ctx.body)?;
    ctx.state.service.query_users(&ctx.subject).await?;
    // The service never accepts a query; should it start to, this route must be built first.
    Err(crate::error::EsError::internal(
        "the service accepted a query this route cannot answer",
    ))
}
