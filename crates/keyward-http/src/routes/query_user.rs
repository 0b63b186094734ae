//! `security.query_user` (`GET|POST /_security/_query/user`): native users matching a query.

use http::StatusCode;
use serde_json::Value;

use super::{Ctx, Reply};
use crate::wire::{parse_body, query, security};

pub(crate) async fn handle(ctx: &Ctx<'_>) -> Reply {
    // Accepted for compatibility: keyward has no user profiles.
    ctx.query.flag("with_profile_uid")?;
    let search = match parse_body(&ctx.body)? {
        Some(body) => query::search_body(&body, "query_user_request", false)?.search,
        None => Default::default(),
    };
    let result = ctx.state.service.query_users(&ctx.subject, search).await?;
    let users: Vec<Value> = result
        .hits
        .iter()
        .map(|(user, sort_values)| {
            let mut shown = security::user(user);
            if let (Value::Object(object), Some(values)) = (&mut shown, sort_values) {
                object.insert("_sort".to_owned(), query::sort_values(values));
            }
            shown
        })
        .collect();
    let body = query::hits_body(result.total, "users", users);
    Ok((StatusCode::OK, Value::Object(body)))
}
