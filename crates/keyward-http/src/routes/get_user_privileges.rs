//! `security.get_user_privileges` (`GET /_security/user/_privileges`): the caller's own
//! privileges, merged as Elasticsearch lists them.

use http::StatusCode;

use super::{Ctx, Reply};

pub(crate) async fn handle(ctx: &Ctx<'_>) -> Reply {
    let privileges = ctx.state.service.user_privileges(&ctx.subject)?;
    Ok((StatusCode::OK, privileges))
}
