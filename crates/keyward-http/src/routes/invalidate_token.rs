//! `security.invalidate_token` (`DELETE /_security/oauth2/token`).

use http::StatusCode;

use super::{Ctx, Reply};
use crate::wire::{require_body, token};

pub(crate) async fn handle(ctx: &Ctx<'_>) -> Reply {
    let request = token::invalidate_request(&require_body(&ctx.body)?)?;
    let result = ctx
        .state
        .service
        .invalidate_tokens(&ctx.subject, request)
        .await?;
    // Elasticsearch answers an unknown token with the ordinary body and status 404.
    let status = if result.found {
        StatusCode::OK
    } else {
        StatusCode::NOT_FOUND
    };
    Ok((status, token::invalidated(&result)))
}
