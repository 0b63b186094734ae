//! `security.get_token` (`POST /_security/oauth2/token`).

use http::StatusCode;

use super::{Ctx, Reply};
use crate::wire::{require_body, token};

pub(crate) async fn handle(ctx: &Ctx<'_>) -> Reply {
    let request = token::create_request(&require_body(&ctx.body)?)?;
    let created = ctx
        .state
        .service
        .create_token(&ctx.subject, request)
        .await?;
    Ok((StatusCode::OK, token::created(&created)))
}
