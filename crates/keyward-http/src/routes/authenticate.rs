//! `security.authenticate`: who the caller is. Every authenticated subject may call it.

use http::StatusCode;

use super::{Ctx, Reply};
use crate::wire::api_key;

pub(crate) async fn handle(ctx: &Ctx<'_>) -> Reply {
    Ok((StatusCode::OK, api_key::authenticate(&ctx.subject)))
}
