//! `security.clear_cached_privileges` (`POST /_security/privilege/{application}/_clear_cache`).

use http::StatusCode;

use super::clear_api_key_cache::nodes_response;
use super::{Ctx, Reply};

pub(crate) async fn handle(ctx: &Ctx<'_>) -> Reply {
    ctx.state
        .service
        .clear_cached_privileges(&ctx.subject)
        .await?;
    Ok((StatusCode::OK, nodes_response(ctx)))
}
