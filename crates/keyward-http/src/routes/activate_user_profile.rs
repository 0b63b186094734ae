//! `security.activate_user_profile` (`POST /_security/profile/_activate`).

use http::StatusCode;

use super::{Ctx, Reply};
use crate::wire::{profile, require_body};

pub(crate) async fn handle(ctx: &Ctx<'_>) -> Reply {
    let grant = profile::activate_request(&require_body(&ctx.body)?)?;
    let activated = ctx
        .state
        .service
        .activate_profile(&ctx.subject, grant)
        .await?;
    Ok((StatusCode::OK, profile::profile(&activated)))
}
