//! `security.clear_cached_realms` (`POST /_security/realm/{realms}/_clear_cache`).

use http::StatusCode;

use super::clear_api_key_cache::{nodes_response, split_list};
use super::{Ctx, Reply};

pub(crate) async fn handle(ctx: &Ctx<'_>) -> Reply {
    let realms = split_list(ctx.param("realms"));
    let usernames = ctx
        .query
        .string("usernames")
        .map(|names| split_list(&names));
    ctx.state
        .service
        .clear_cached_realms(&ctx.subject, &realms, usernames)
        .await?;
    Ok((StatusCode::OK, nodes_response(ctx)))
}
