//! `security.get_user_profile` (`GET /_security/profile/{uid}`): profiles by uid, with the
//! `data` the `data` parameter names; unknown uids are reported under `errors`.

use http::StatusCode;
use serde_json::{Map, Value, json};

use super::{Ctx, Reply};
use crate::wire::profile;

pub(crate) async fn handle(ctx: &Ctx<'_>) -> Reply {
    let uids = profile::split_list(ctx.param("uid"));
    let data = ctx
        .query
        .raw("data")
        .map(profile::split_list)
        .unwrap_or_default();
    let (profiles, missing) = ctx
        .state
        .service
        .get_profiles(&ctx.subject, uids, &data)
        .await?;
    let mut body = Map::new();
    body.insert(
        "profiles".to_owned(),
        Value::Array(profiles.iter().map(profile::profile).collect()),
    );
    if !missing.is_empty() {
        let details: Map<String, Value> = missing
            .into_iter()
            .map(|uid| {
                (
                    uid,
                    json!({
                        "type": "resource_not_found_exception",
                        "reason": "profile document not found",
                    }),
                )
            })
            .collect();
        body.insert("errors".to_owned(), profile::errors(details));
    }
    Ok((StatusCode::OK, Value::Object(body)))
}
