//! `security.get_role_mapping` (`GET /_security/role_mapping`,
//! `GET /_security/role_mapping/{name}` with comma-separated names).

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
        .filter(|names| !names.is_empty());
    let by_name = names.is_some();
    let mappings = ctx
        .state
        .service
        .get_role_mappings(&ctx.subject, names)
        .await?;
    let body: Map<String, Value> = mappings
        .into_iter()
        .map(|(name, mapping)| (name, mapping.to_json()))
        .collect();
    // Elasticsearch answers names that match no mapping with 404 and an empty object.
    let status = if by_name && body.is_empty() {
        StatusCode::NOT_FOUND
    } else {
        StatusCode::OK
    };
    Ok((status, Value::Object(body)))
}
