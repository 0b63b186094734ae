//! `security.bulk_put_role` (`POST /_security/role`).

use http::StatusCode;
use serde_json::{Map, Value, json};

use super::create_api_key::check_refresh;
use super::{Ctx, Reply};
use crate::error::EsError;
use crate::wire::{require_body, security};

pub(crate) async fn handle(ctx: &Ctx<'_>) -> Reply {
    check_refresh(ctx.query.raw("refresh"))?;
    let roles = security::bulk_put_role_request(&require_body(&ctx.body)?)?;
    let result = ctx
        .state
        .service
        .bulk_put_roles(&ctx.subject, roles)
        .await?;
    // Elasticsearch writes only the groups that have members.
    let mut body = Map::new();
    for (group, names) in [
        ("created", result.created),
        ("updated", result.updated),
        ("noop", result.noop),
    ] {
        if !names.is_empty() {
            body.insert(group.to_owned(), json!(names));
        }
    }
    insert_errors(&mut body, result.errors);
    Ok((StatusCode::OK, Value::Object(body)))
}

/// `errors: {count, details: {<name>: <error>}}`, when there are any.
pub(crate) fn insert_errors(
    body: &mut Map<String, Value>,
    errors: Vec<(String, keyward_service::Error)>,
) {
    if errors.is_empty() {
        return;
    }
    let count = errors.len();
    let details: Map<String, Value> = errors
        .into_iter()
        .map(|(name, err)| (name, EsError::from(err).to_object()))
        .collect();
    body.insert(
        "errors".to_owned(),
        json!({ "count": count, "details": details }),
    );
}
