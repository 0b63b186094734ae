//! `security.get_settings` and `security.update_settings` (`GET`/`PUT /_security/settings`).

use http::StatusCode;
use serde_json::{Map, Value, json};

use super::{Ctx, Reply};
use crate::error::EsError;
use crate::wire::require_body;

pub(crate) async fn get(ctx: &Ctx<'_>) -> Reply {
    let indices = ctx.state.service.security_settings(&ctx.subject).await?;
    let mut body = Map::new();
    for (index, settings) in indices {
        body.insert(index.to_owned(), nested(&settings));
    }
    Ok((StatusCode::OK, Value::Object(body)))
}

pub(crate) async fn update(ctx: &Ctx<'_>) -> Reply {
    let body = require_body(&ctx.body)?;
    let Value::Object(update) = &body else {
        return Err(EsError::parse("request body must be an object"));
    };
    ctx.state
        .service
        .update_security_settings(&ctx.subject, update)
        .await?;
    Ok((StatusCode::OK, json!({ "acknowledged": true })))
}

/// Flat setting names (`index.number_of_replicas`) as the nested objects Elasticsearch renders.
fn nested(settings: &Map<String, Value>) -> Value {
    let mut root = Map::new();
    for (name, value) in settings {
        let mut parts = name.split('.').peekable();
        let mut node = &mut root;
        while let Some(part) = parts.next() {
            if parts.peek().is_none() {
                node.insert(part.to_owned(), value.clone());
                break;
            }
            let child = node
                .entry(part.to_owned())
                .or_insert_with(|| Value::Object(Map::new()));
            if !child.is_object() {
                *child = Value::Object(Map::new());
            }
            match child {
                Value::Object(map) => node = map,
                _ => break,
            }
        }
    }
    Value::Object(root)
}
