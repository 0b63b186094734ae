//! `security.query_role` (`GET|POST /_security/_query/role`): stored roles matching a query.

use http::StatusCode;
use serde_json::{Map, Value};

use super::{Ctx, Reply};
use crate::wire::{parse_body, query};

pub(crate) async fn handle(ctx: &Ctx<'_>) -> Reply {
    let search = match parse_body(&ctx.body)? {
        Some(body) => query::search_body(&body, "query_role_request", false)?.search,
        None => Default::default(),
    };
    let result = ctx.state.service.query_roles(&ctx.subject, search).await?;
    let roles: Vec<Value> = result
        .hits
        .into_iter()
        .map(|(role, sort_values)| {
            // The name first, then the role as get shows it.
            let mut shown = Map::new();
            shown.insert("name".to_owned(), Value::String(role.name));
            shown.extend(role.descriptor.to_json());
            if let Some(values) = sort_values {
                shown.insert("_sort".to_owned(), query::sort_values(&values));
            }
            Value::Object(shown)
        })
        .collect();
    let body = query::hits_body(result.total, "roles", roles);
    Ok((StatusCode::OK, Value::Object(body)))
}
