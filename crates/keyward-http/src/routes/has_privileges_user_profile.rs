//! `security.has_privileges_user_profile` (`GET|POST /_security/profile/_has_privileges`):
//! which profiles' users hold every requested privilege.

use http::StatusCode;

use super::{Ctx, Reply};
use crate::wire::{profile, require_body};

pub(crate) async fn handle(ctx: &Ctx<'_>) -> Reply {
    let (uids, privileges) = profile::has_privileges_request(&require_body(&ctx.body)?)?;
    let privileges = super::has_privileges::request(&privileges)?;
    let result = ctx
        .state
        .service
        .profile_has_privileges(&ctx.subject, uids, privileges)
        .await?;
    Ok((StatusCode::OK, profile::has_privileges_response(result)))
}
