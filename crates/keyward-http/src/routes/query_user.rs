//! `security.query_user` (`GET|POST /_security/_query/user`): native users matching a query.

use http::StatusCode;
use serde_json::Value;

use super::{Ctx, Reply};
use crate::wire::{parse_body, query, security};

pub(crate) async fn handle(ctx: &Ctx<'_>) -> Reply {
    let with_profile_uid = ctx.query.flag("with_profile_uid")?;
    let search = match parse_body(&ctx.body)? {
        Some(body) => query::search_body(&body, "query_user_request", false)?.search,
        None => Default::default(),
    };
    let result = ctx.state.service.query_users(&ctx.subject, search).await?;
    let mut users: Vec<Value> = result
        .hits
        .iter()
        .map(|(user, _)| security::user(user))
        .collect();
    if with_profile_uid {
        let hits: Vec<_> = result.hits.iter().map(|(user, _)| user.clone()).collect();
        super::get_user::add_profile_uids(ctx, &hits, &mut users).await?;
    }
    for (shown, (_, sort_values)) in users.iter_mut().zip(&result.hits) {
        if let (Value::Object(object), Some(values)) = (shown, sort_values) {
            object.insert("_sort".to_owned(), query::sort_values(values));
        }
    }
    let body = query::hits_body(result.total, "users", users);
    Ok((StatusCode::OK, Value::Object(body)))
}
