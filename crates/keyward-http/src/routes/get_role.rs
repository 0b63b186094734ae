//! `security.get_role` (`GET /_security/role`, `GET /_security/role/{name}`).

use http::StatusCode;
use serde_json::{Map, Value};

use super::{Ctx, Reply};
use crate::wire::security;

pub(crate) async fn handle(ctx: &Ctx<'_>) -> Reply {
    let names = ctx
        .params
        .iter()
        .any(|(name, _)| *name == "name")
        .then(|| security::names(ctx.param("name")))
        .filter(|names| !names.iter().any(|name| name == "*" || name == "_all"));
    let by_name = names.is_some();
    let roles = ctx.state.service.get_roles(&ctx.subject, names).await?;
    let body: Map<String, Value> = roles
        .into_iter()
        .map(|(name, descriptor)| (name, Value::Object(descriptor.to_json())))
        .collect();
    // Elasticsearch answers a lookup that finds no role with 404 and an empty object.
    let status = if by_name && body.is_empty() {
        StatusCode::NOT_FOUND
    } else {
        StatusCode::OK
    };
    Ok((status, Value::Object(body)))
}
