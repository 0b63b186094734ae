//! `cluster.health`: keyward is a one-node cluster that is always green.

use keyward_core::duration::TimeValue;
use keyward_core::privilege::actions;
use serde_json::json;

use super::Ctx;
use crate::error::EsError;

/// Checks the request; the answer is the body [`render`] made at start-up.
pub(crate) fn handle(ctx: &Ctx<'_>) -> Result<(), EsError> {
    // Nothing waits, but a timeout that is not a time value is still a bad request.
    for name in ["timeout", "master_timeout"] {
        if let Some(value) = ctx.query.raw(name) {
            TimeValue::parse(value, name)?;
        }
    }
    ctx.state
        .service
        .require_full(&ctx.subject, actions::CLUSTER_HEALTH)?;
    Ok(())
}

/// The health of a one-node cluster named `cluster_name`, as compact JSON.
pub(crate) fn render(cluster_name: &str) -> String {
    json!({
        "cluster_name": cluster_name,
        "status": "green",
        "timed_out": false,
        "number_of_nodes": 1,
        "number_of_data_nodes": 1,
        "active_primary_shards": 0,
        "active_shards": 0,
        "relocating_shards": 0,
        "initializing_shards": 0,
        "unassigned_shards": 0,
        "unassigned_primary_shards": 0,
        "delayed_unassigned_shards": 0,
        "number_of_pending_tasks": 0,
        "number_of_in_flight_fetch": 0,
        "task_max_waiting_in_queue_millis": 0,
        "active_shards_percent_as_number": 100.0
    })
    .to_string()
}
