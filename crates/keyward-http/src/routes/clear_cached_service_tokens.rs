//! `security.clear_cached_service_tokens`
//! (`POST /_security/service/{namespace}/{service}/credential/token/{name}/_clear_cache`).

use http::StatusCode;

use super::clear_api_key_cache::nodes_response;
use super::{Ctx, Reply};

pub(crate) async fn handle(ctx: &Ctx<'_>) -> Reply {
    ctx.state
        .service
        .clear_service_token_cache(&ctx.subject)
        .await?;
    Ok((StatusCode::OK, nodes_response(ctx)))
}
