//! `security.update_user_profile_data` (`PUT|POST /_security/profile/{uid}/_data`): labels and
//! data merged into a profile, optionally only over a given `_seq_no` and `_primary_term`.

use http::StatusCode;
use keyward_service::UpdateProfileData;
use serde_json::json;

use super::create_api_key::check_refresh;
use super::{Ctx, Reply};
use crate::error::EsError;
use crate::wire::{QueryParams, profile, require_body};

pub(crate) async fn handle(ctx: &Ctx<'_>) -> Reply {
    check_refresh(ctx.query.raw("refresh"))?;
    let if_seq_no = long_param(&ctx.query, "if_seq_no")?;
    let if_primary_term = long_param(&ctx.query, "if_primary_term")?;
    let (labels, data) = profile::update_data_request(&require_body(&ctx.body)?)?;
    let request = UpdateProfileData {
        labels,
        data,
        if_seq_no,
        if_primary_term,
    };
    ctx.state
        .service
        .update_profile_data(&ctx.subject, ctx.param("uid"), request)
        .await?;
    Ok((StatusCode::OK, json!({ "acknowledged": true })))
}

fn long_param(query: &QueryParams, name: &str) -> Result<Option<i64>, EsError> {
    query
        .string(name)
        .map(|value| {
            value.parse::<i64>().map_err(|_| {
                EsError::illegal_argument(format!(
                    "Failed to parse long parameter [{name}] with value [{value}]"
                ))
            })
        })
        .transpose()
}
