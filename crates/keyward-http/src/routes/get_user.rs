//! `security.get_user` (`GET /_security/user`, `GET /_security/user/{username}`).

use http::StatusCode;
use serde_json::{Map, Value};

use super::{Ctx, Reply};
use crate::wire::security;

pub(crate) async fn handle(ctx: &Ctx<'_>) -> Reply {
    // Accepted for compatibility: keyward has no user profiles.
    ctx.query.flag("with_profile_uid")?;
    let names = ctx
        .params
        .iter()
        .any(|(name, _)| *name == "username")
        .then(|| security::names(ctx.param("username")));
    let by_name = names.is_some();
    let users = ctx.state.service.get_users(&ctx.subject, names).await?;
    let body: Map<String, Value> = users
        .iter()
        .map(|user| (user.username.clone(), security::user(user)))
        .collect();
    // Elasticsearch answers a lookup that finds nobody with 404 and an empty object.
    let status = if by_name && body.is_empty() {
        StatusCode::NOT_FOUND
    } else {
        StatusCode::OK
    };
    Ok((status, Value::Object(body)))
}
