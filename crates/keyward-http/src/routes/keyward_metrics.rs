//! keyward's own `GET /_keyward/metrics`: Prometheus text, for callers with the `monitor`
//! cluster privilege.

use bytes::Bytes;

use super::Ctx;
use crate::error::EsError;
use crate::metrics::{ProcessStats, RequestMetrics, Scrape};

/// The cluster action the endpoint is authorized as: under `cluster:monitor/*`, so `monitor`,
/// `manage` and `all` grant it, as they grant Elasticsearch's own monitoring APIs.
pub(crate) const METRICS_ACTION: &str = "cluster:monitor/keyward/metrics";

pub(crate) async fn handle(ctx: &Ctx<'_>, requests: &RequestMetrics) -> Result<Bytes, EsError> {
    let service = &ctx.state.service;
    service.require_full(&ctx.subject, METRICS_ACTION)?;
    let keys = match service.api_key_counts().await {
        Ok(keys) => Some(keys),
        Err(err) => {
            // A scrape still shows everything else while the store is away.
            tracing::warn!(error = %err, "cannot count the API keys for a metrics scrape");
            None
        }
    };
    let scrape = Scrape {
        requests,
        service: service.stats(),
        keys,
        process: ProcessStats::read(),
    };
    Ok(Bytes::from(scrape.render()))
}
