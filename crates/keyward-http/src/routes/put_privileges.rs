//! `security.put_privileges` (`PUT|POST /_security/privilege`).

use http::StatusCode;
use serde_json::{Map, Value, json};

use super::create_api_key::check_refresh;
use super::{Ctx, Reply};
use crate::wire::{require_body, security};

pub(crate) async fn handle(ctx: &Ctx<'_>) -> Reply {
    check_refresh(ctx.query.raw("refresh"))?;
    let privileges = security::put_privileges_request(&require_body(&ctx.body)?)?;
    let outcomes = ctx
        .state
        .service
        .put_app_privileges(&ctx.subject, privileges)
        .await?;
    let mut body = Map::new();
    for (application, name, created) in outcomes {
        if let Value::Object(named) = body
            .entry(application)
            .or_insert_with(|| Value::Object(Map::new()))
        {
            named.insert(name, json!({ "created": created }));
        }
    }
    Ok((StatusCode::OK, Value::Object(body)))
}
