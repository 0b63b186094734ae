//! `security.get_privileges` (`GET /_security/privilege`, `/_security/privilege/{application}`,
//! `/_security/privilege/{application}/{name}`).

use http::StatusCode;

use super::{Ctx, Reply};
use crate::wire::security;

pub(crate) async fn handle(ctx: &Ctx<'_>) -> Reply {
    let application = ctx
        .params
        .iter()
        .find(|(name, _)| *name == "application")
        .map(|(_, value)| value.as_str());
    let names = ctx
        .params
        .iter()
        .any(|(name, _)| *name == "name")
        .then(|| security::names(ctx.param("name")));
    let privileges = ctx
        .state
        .service
        .get_app_privileges(&ctx.subject, application, names)
        .await?;
    // Elasticsearch answers a lookup by application that finds nothing with 404 and `{}`.
    let status = if application.is_some() && privileges.is_empty() {
        StatusCode::NOT_FOUND
    } else {
        StatusCode::OK
    };
    Ok((status, security::privileges(&privileges)))
}
