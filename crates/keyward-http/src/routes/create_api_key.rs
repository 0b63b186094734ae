//! `security.create_api_key` (`POST|PUT /_security/api_key`).

use http::StatusCode;

use super::{Ctx, Reply};
use crate::error::EsError;
use crate::wire::{api_key, require_body};

pub(crate) async fn handle(ctx: &Ctx<'_>) -> Reply {
    check_refresh(ctx.query.raw("refresh"))?;
    let request = api_key::create_request(&require_body(&ctx.body)?)?;
    let created = ctx
        .state
        .service
        .create_api_key(&ctx.subject, request)
        .await?;
    Ok((StatusCode::OK, api_key::created(&created)))
}

/// `refresh` is `true`, `false`, `wait_for` or empty. Every acknowledged write is already
/// visible to every reader here, so all of them behave like `true`.
pub(crate) fn check_refresh(value: Option<&str>) -> Result<(), EsError> {
    match value {
        None | Some("" | "true" | "false" | "wait_for") => Ok(()),
        Some(other) => Err(EsError::illegal_argument(format!(
            "Unknown value for refresh: [{other}]."
        ))),
    }
}
