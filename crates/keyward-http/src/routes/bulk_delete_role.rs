//! `security.bulk_delete_role` (`DELETE /_security/role`).

use http::StatusCode;
use serde_json::{Map, Value, json};

use super::bulk_put_role::insert_errors;
use super::create_api_key::check_refresh;
use super::{Ctx, Reply};
use crate::wire::{require_body, security};

pub(crate) async fn handle(ctx: &Ctx<'_>) -> Reply {
    check_refresh(ctx.query.raw("refresh"))?;
    let names = security::bulk_delete_role_request(&require_body(&ctx.body)?)?;
    let result = ctx
        .state
        .service
        .bulk_delete_roles(&ctx.subject, names)
        .await?;
    // Elasticsearch writes only the groups that have members.
    let mut body = Map::new();
    for (group, names) in [("deleted", result.deleted), ("not_found", result.not_found)] {
        if !names.is_empty() {
            body.insert(group.to_owned(), json!(names));
        }
    }
    insert_errors(&mut body, result.errors);
    Ok((StatusCode::OK, Value::Object(body)))
}
