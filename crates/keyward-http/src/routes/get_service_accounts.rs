//! `security.get_service_accounts` (`GET /_security/service[/{namespace}[/{service}]]`).

use http::StatusCode;
use serde_json::{Map, Value};

use super::{Ctx, Reply};

pub(crate) async fn handle(ctx: &Ctx<'_>) -> Reply {
    let given = |name: &str| {
        ctx.params
            .iter()
            .any(|(key, _)| *key == name)
            .then(|| ctx.param(name))
    };
    let accounts =
        ctx.state
            .service
            .service_accounts(&ctx.subject, given("namespace"), given("service"))?;
    let mut body = Map::new();
    for (principal, role) in accounts {
        let mut entry = Map::new();
        entry.insert("role_descriptor".to_owned(), Value::Object(role.to_json()));
        body.insert(principal, Value::Object(entry));
    }
    // An unknown account is an empty object with status 200, as in Elasticsearch.
    Ok((StatusCode::OK, Value::Object(body)))
}
