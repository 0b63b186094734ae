//! Coherence between nodes sharing one store: the changes other nodes commit (and announce)
//! arrive on the store's change feed and are applied to this node's caches, exactly as the
//! node's own writes apply them. When the feed breaks, every cache is emptied and none is used
//! until the feed is back (fail closed): an authentication is then always checked against the
//! store, so no revocation another node made meanwhile can be missed.

use std::sync::{Arc, Weak};

use keyward_store::{Change, Notice};
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::RecvError;

use crate::{Inner, SecurityService};

impl SecurityService {
    /// Follows the store's change feed, when it has one, for as long as the service lives. Needs
    /// a Tokio runtime; without one (a service built outside any runtime), the caches are turned
    /// off instead, which is always safe.
    pub(crate) fn follow_changes(&self) {
        let Some(feed) = self.inner.store.changes() else {
            return;
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(follow(Arc::downgrade(&self.inner), feed));
            }
            Err(_) => {
                tracing::warn!("no runtime to follow the store's change feed: caches are off");
                suspend(&self.inner);
            }
        }
    }

    /// Applies a change to this node's caches: what every write does after committing, and what
    /// a change another node announced does here.
    pub(crate) fn apply_change(&self, change: &Change) {
        apply(&self.inner, change);
    }
}

async fn follow(service: Weak<Inner>, mut feed: broadcast::Receiver<Notice>) {
    loop {
        let notice = feed.recv().await;
        let Some(inner) = service.upgrade() else {
            return;
        };
        match notice {
            Ok(Notice::Change(change, applied)) => {
                apply(&inner, &change);
                // Tells the writing node this one is up to date.
                drop(applied);
            }
            Ok(Notice::Lost) => {
                tracing::warn!(
                    "the store's change feed is lost: caches are off until it is back, every \
                     authentication is checked against the store"
                );
                suspend(&inner);
            }
            Ok(Notice::Restored) => {
                tracing::info!("the store's change feed is back: caching again");
                resume(&inner);
            }
            // This follower fell behind and notices were dropped: which keys changed is
            // unknown, so everything cached goes.
            Err(RecvError::Lagged(missed)) => {
                tracing::warn!(missed, "the change feed overflowed: caches cleared");
                clear(&inner);
            }
            Err(RecvError::Closed) => {
                // The store is gone (shutting down): nothing can be trusted any more.
                suspend(&inner);
                return;
            }
        }
    }
}

fn apply(inner: &Inner, change: &Change) {
    match change {
        Change::ApiKeys(ids) => ids.iter().for_each(|id| inner.keys.remove(id)),
        Change::AllApiKeys => inner.keys.clear(),
        Change::Users(names) => names.iter().for_each(|name| inner.users.remove(name)),
        Change::AllUsers => inner.users.clear(),
        Change::Roles => {
            inner.roles.clear();
            inner.users.clear();
            inner.app_access.clear();
        }
        Change::ServiceTokens => inner.service_tokens.clear(),
    }
}

fn clear(inner: &Inner) {
    inner.keys.clear();
    inner.users.clear();
    inner.roles.clear();
    inner.app_access.clear();
    inner.service_tokens.clear();
}

fn suspend(inner: &Inner) {
    inner.keys.suspend();
    inner.users.suspend();
    inner.roles.suspend();
    inner.app_access.suspend();
    inner.service_tokens.suspend();
}

fn resume(inner: &Inner) {
    inner.keys.resume();
    inner.users.resume();
    inner.roles.resume();
    inner.app_access.resume();
    inner.service_tokens.resume();
}
