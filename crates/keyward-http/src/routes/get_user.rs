//! `security.get_user` (`GET /_security/user`, `GET /_security/user/{username}`).

use http::StatusCode;
use keyward_service::{SecurityService, User};
use serde_json::{Map, Value};

use super::{Ctx, Reply};
use crate::error::EsError;
use crate::wire::security;

pub(crate) async fn handle(ctx: &Ctx<'_>) -> Reply {
    let with_profile_uid = ctx.query.flag("with_profile_uid")?;
    let names = ctx
        .params
        .iter()
        .any(|(name, _)| *name == "username")
        .then(|| security::names(ctx.param("username")));
    let by_name = names.is_some();
    let users = ctx.state.service.get_users(&ctx.subject, names).await?;
    let mut shown: Vec<Value> = users.iter().map(security::user).collect();
    if with_profile_uid {
        add_profile_uids(ctx, &users, &mut shown).await?;
    }
    let body: Map<String, Value> = users
        .iter()
        .map(|user| user.username.clone())
        .zip(shown)
        .collect();
    // Elasticsearch answers a lookup that finds nobody with 404 and an empty object.
    let status = if by_name && body.is_empty() {
        StatusCode::NOT_FOUND
    } else {
        StatusCode::OK
    };
    Ok((status, Value::Object(body)))
}

/// Adds `profile_uid` to each shown user (in the order of `users`) that has a profile.
pub(crate) async fn add_profile_uids(
    ctx: &Ctx<'_>,
    users: &[User],
    shown: &mut [Value],
) -> Result<(), EsError> {
    let owners: Vec<(String, String)> = users
        .iter()
        .map(|user| {
            let realm = SecurityService::user_realm_name(&user.username);
            (user.username.clone(), realm.to_owned())
        })
        .collect();
    let uids = ctx.state.service.profile_uids(&owners).await?;
    for (owner, value) in owners.iter().zip(shown) {
        if let (Some(uid), Value::Object(object)) = (uids.get(owner), value) {
            object.insert("profile_uid".to_owned(), Value::String(uid.clone()));
        }
    }
    Ok(())
}
