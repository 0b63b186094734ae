//! keyward's own `GET /_keyward/ready` (and `HEAD`): whether this node can serve requests now,
//! for load balancers and orchestrators. Unauthenticated, so it says nothing else: 200
//! `{"ready":true}` when the store answers a small read, 503 `{"ready":false}` when it does not
//! (PostgreSQL unreachable); the cause goes to the log only.

use http::StatusCode;
use serde_json::json;

use super::Reply;
use crate::AppState;
use crate::wire::QueryParams;

pub(super) async fn handle(state: &AppState, query: &QueryParams) -> Reply {
    query.check_allowed("/_keyward/ready", &[])?;
    if state.service.ready().await {
        Ok((StatusCode::OK, json!({ "ready": true })))
    } else {
        Ok((StatusCode::SERVICE_UNAVAILABLE, json!({ "ready": false })))
    }
}
