//! The expired-key remover: deletes keys that have been invalidated or expired for longer than
//! `delete.retention_period`, on a timer and after invalidations, at most once per
//! `delete.interval`.

use std::time::Duration;

use keyward_core::EpochMillis;

use crate::SecurityService;

/// The most keys one write of the remover deletes.
const REMOVAL_BATCH: u64 = 1000;

/// The remover's name as a singleton job of nodes sharing a store ([`keyward_store::Store::lead`]).
const REMOVER_JOB: &str = "inactive-api-key-remover";

impl SecurityService {
    /// Runs the remover now: deletes keys inactive since before `now - retention`. Returns how
    /// many were deleted.
    /// Several nodes sharing a store take turns: only the node leading the job removes.
    pub async fn remove_inactive_api_keys(&self) -> Result<u64, crate::Error> {
        let now = self.now();
        self.mark_removal(now);
        if !self.inner.store.lead(REMOVER_JOB).await? {
            return Ok(0);
        }
        let retention = i64::try_from(self.inner.config.delete_retention_period.as_millis())
            .unwrap_or(i64::MAX);
        let cutoff = now.saturating_sub(retention);
        let mut deleted = 0;
        loop {
            // Bounded batches, each its own short write: creates queued behind the remover wait
            // for one batch at most, never for the whole backlog.
            let batch = self
                .inner
                .store
                .delete_inactive_api_keys(cutoff, REMOVAL_BATCH)
                .await?;
            deleted += batch;
            if batch < REMOVAL_BATCH {
                break;
            }
            tokio::task::yield_now().await;
        }
        // Access tokens live at most an hour and refresh tokens a day: a token created more than
        // a day (plus the retention period) ago can no longer be used or shown.
        let token_cutoff = now
            .saturating_sub(24 * 60 * 60 * 1000)
            .saturating_sub(retention);
        self.inner
            .store
            .delete_tokens_created_before(token_cutoff)
            .await?;
        if deleted > 0 {
            tracing::info!(
                deleted,
                "removed inactive api keys past their retention period"
            );
        }
        Ok(deleted)
    }

    /// Starts the remover's timer; it runs every `delete.interval` until the runtime stops.
    pub fn spawn_remover(&self) -> tokio::task::JoinHandle<()> {
        let service = self.clone();
        let interval = self
            .inner
            .config
            .delete_interval
            .max(Duration::from_secs(1));
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(interval);
            loop {
                ticker.tick().await;
                if let Err(err) = service.remove_inactive_api_keys().await {
                    tracing::warn!(error = %err, "inactive api key removal failed");
                }
            }
        })
    }

    /// After an invalidation, runs the remover in the background unless it ran within the last
    /// `delete.interval`.
    pub(crate) fn after_invalidation(&self, now: EpochMillis) {
        let interval =
            i64::try_from(self.inner.config.delete_interval.as_millis()).unwrap_or(i64::MAX);
        let last = self
            .inner
            .last_removal
            .load(std::sync::atomic::Ordering::Relaxed);
        if now.saturating_sub(last) < interval {
            return;
        }
        self.mark_removal(now);
        let service = self.clone();
        tokio::spawn(async move {
            if let Err(err) = service.remove_inactive_api_keys().await {
                tracing::warn!(error = %err, "inactive api key removal failed");
            }
        });
    }
}
