//! `security.get_builtin_privileges` (`GET /_security/privilege/_builtin`).

use http::StatusCode;
use serde_json::json;

use super::{Ctx, Reply};

pub(crate) async fn handle(ctx: &Ctx<'_>) -> Reply {
    let builtin = ctx.state.service.builtin_privileges(&ctx.subject)?;
    Ok((
        StatusCode::OK,
        json!({
            "cluster": builtin.cluster,
            "index": builtin.index,
            "remote_cluster": builtin.remote_cluster,
        }),
    ))
}
