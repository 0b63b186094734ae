//! `security.delete_privileges` (`DELETE /_security/privilege/{application}/{name}`).

use http::StatusCode;
use serde_json::{Map, Value, json};

use super::create_api_key::check_refresh;
use super::{Ctx, Reply};
use crate::wire::security;

pub(crate) async fn handle(ctx: &Ctx<'_>) -> Reply {
    check_refresh(ctx.query.raw("refresh"))?;
    let application = ctx.param("application");
    let names = security::names(ctx.param("name"));
    let found = ctx
        .state
        .service
        .delete_app_privileges(&ctx.subject, application, &names)
        .await?;
    let results: Map<String, Value> = names
        .iter()
        .map(|name| (name.clone(), json!({ "found": found.contains(name) })))
        .collect();
    let status = if found.is_empty() {
        StatusCode::NOT_FOUND
    } else {
        StatusCode::OK
    };
    let mut body = Map::new();
    body.insert(application.to_owned(), Value::Object(results));
    Ok((status, Value::Object(body)))
}
