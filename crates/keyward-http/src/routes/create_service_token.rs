//! `security.create_service_token` (`PUT|POST /_security/service/{namespace}/{service}/credential/token/{name}`,
//! `POST …/credential/token` for a generated name).

use http::StatusCode;
use keyward_service::CreateServiceToken;
use serde_json::json;

use super::create_api_key::check_refresh;
use super::{Ctx, Reply};

pub(crate) async fn handle(ctx: &Ctx<'_>) -> Reply {
    check_refresh(ctx.query.raw("refresh"))?;
    let name = ctx
        .params
        .iter()
        .any(|(key, _)| *key == "name")
        .then(|| ctx.param("name").to_owned());
    let request = CreateServiceToken {
        namespace: ctx.param("namespace").to_owned(),
        service: ctx.param("service").to_owned(),
        name,
    };
    let created = ctx
        .state
        .service
        .create_service_token(&ctx.subject, request)
        .await?;
    Ok((
        StatusCode::OK,
        json!({
            "created": true,
            "token": { "name": created.name, "value": created.value.as_str() },
        }),
    ))
}
