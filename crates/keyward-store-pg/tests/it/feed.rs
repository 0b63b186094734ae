//! The change feed between stores sharing a database, and leads.

use std::time::Duration;

use keyward_store::testsuite::{sample_key, sample_user};
use keyward_store::{Applied, Change, Notice, Store};
use keyward_store_pg::{LISTENER_NAME, PostgresStore};

use crate::support::{TestDatabase, expect_notice};

const WITHIN: Duration = Duration::from_secs(5);

async fn two_stores() -> (PostgresStore, PostgresStore, TestDatabase) {
    let database = TestDatabase::create().await;
    let first = PostgresStore::connect(database.options()).await.unwrap();
    let second = PostgresStore::connect(database.options()).await.unwrap();
    (first, second, database)
}

#[tokio::test]
async fn an_invalidation_reaches_both_stores() {
    let (first, second, _database) = two_stores().await;
    first.create_api_key(sample_key("k")).await.unwrap();
    let mut own = first.changes().unwrap();
    let mut other = second.changes().unwrap();
    let changed = first
        .invalidate_api_keys(&["k".to_owned()], 5)
        .await
        .unwrap();
    assert_eq!(changed, ["k"]);
    let expected = Notice::Change(Change::ApiKeys(vec!["k".to_owned()]), Applied::none());
    // On the writer's own feed before the call returned.
    assert_eq!(own.try_recv().unwrap(), expected);
    expect_notice(&mut other, &expected, WITHIN).await;
    // Nothing changed, nothing announced.
    assert!(
        first
            .invalidate_api_keys(&["k".to_owned()], 6)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(own.try_recv().is_err());
}

#[tokio::test]
async fn every_announcing_write_is_announced() {
    let (first, second, _database) = two_stores().await;
    let mut other = second.changes().unwrap();
    let mut key = sample_key("k");
    first.create_api_key(key.clone()).await.unwrap();
    key.name = "renamed".to_owned();
    first.update_api_keys(vec![key]).await.unwrap();
    expect_notice(
        &mut other,
        &Notice::Change(Change::ApiKeys(vec!["k".to_owned()]), Applied::none()),
        WITHIN,
    )
    .await;
    first.put_user(sample_user("u")).await.unwrap();
    expect_notice(
        &mut other,
        &Notice::Change(Change::Users(vec!["u".to_owned()]), Applied::none()),
        WITHIN,
    )
    .await;
    first
        .put_role(keyward_store::RoleRecord {
            name: "r".to_owned(),
            descriptor: "{}".to_owned(),
            seq: 0,
        })
        .await
        .unwrap();
    expect_notice(
        &mut other,
        &Notice::Change(Change::Roles, Applied::none()),
        WITHIN,
    )
    .await;
    // More ids than one notification carries: everything.
    let ids: Vec<String> = (0..600).map(|n| format!("{n:030}")).collect();
    let keys = ids.iter().map(|id| sample_key(id)).collect();
    first.import_api_keys(keys).await.unwrap();
    first.invalidate_api_keys(&ids, 5).await.unwrap();
    expect_notice(
        &mut other,
        &Notice::Change(Change::AllApiKeys, Applied::none()),
        WITHIN,
    )
    .await;
}

#[tokio::test]
async fn announcements_reach_both_stores() {
    let (first, second, _database) = two_stores().await;
    let mut own = first.changes().unwrap();
    let mut other = second.changes().unwrap();
    first.announce(Change::AllUsers).await.unwrap();
    assert_eq!(
        own.try_recv().unwrap(),
        Notice::Change(Change::AllUsers, Applied::none())
    );
    expect_notice(
        &mut other,
        &Notice::Change(Change::AllUsers, Applied::none()),
        WITHIN,
    )
    .await;
}

#[tokio::test]
async fn a_killed_listener_is_lost_then_restored() {
    let database = TestDatabase::create().await;
    let store = PostgresStore::connect(database.options()).await.unwrap();
    let mut feed = store.changes().unwrap();
    let client = database.connect().await;
    let killed = client
        .query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = current_database() AND application_name = $1",
            &[&LISTENER_NAME],
        )
        .await
        .unwrap();
    assert_eq!(killed.len(), 1);
    assert_eq!(
        tokio::time::timeout(WITHIN, feed.recv())
            .await
            .unwrap()
            .unwrap(),
        Notice::Lost
    );
    assert_eq!(
        tokio::time::timeout(WITHIN, feed.recv())
            .await
            .unwrap()
            .unwrap(),
        Notice::Restored
    );
    // The restored feed carries changes again.
    store.announce(Change::Roles).await.unwrap();
    assert_eq!(
        feed.try_recv().unwrap(),
        Notice::Change(Change::Roles, Applied::none())
    );
}

#[tokio::test]
async fn one_store_leads_until_it_is_dropped() {
    let (first, second, _database) = two_stores().await;
    assert!(first.lead("remover").await.unwrap());
    assert!(first.lead("remover").await.unwrap(), "still leading");
    assert!(!second.lead("remover").await.unwrap());
    assert!(second.lead("other-job").await.unwrap(), "jobs lead apart");
    drop(first);
    let deadline = tokio::time::Instant::now() + WITHIN;
    while !second.lead("remover").await.unwrap() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the lead was not released"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_write_returns_only_once_the_other_store_applied_it() {
    let (first, second, _database) = two_stores().await;
    first.create_api_key(sample_key("k")).await.unwrap();
    let other = second.changes().unwrap();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    invalidation_waits_for(&first, other).await;
}

/// Invalidates key `k` through `writer` while the store following `other` takes 300 ms to apply
/// the change, and checks the write returned only after it did.
async fn invalidation_waits_for(
    writer: &PostgresStore,
    mut other: tokio::sync::broadcast::Receiver<Notice>,
) {
    let applying = tokio::spawn(async move {
        let notice = other.recv().await.unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        let applied_at = std::time::Instant::now();
        drop(notice);
        applied_at
    });
    writer
        .invalidate_api_keys(&["k".to_owned()], 5)
        .await
        .unwrap();
    let returned_at = std::time::Instant::now();
    let applied_at = applying.await.unwrap();
    assert!(
        returned_at >= applied_at,
        "the write returned {:?} before the other store applied it",
        applied_at - returned_at
    );
}

#[tokio::test]
async fn a_write_waits_for_a_store_that_started_a_moment_ago() {
    let database = TestDatabase::create().await;
    let first = PostgresStore::connect(database.options()).await.unwrap();
    first.create_api_key(sample_key("k")).await.unwrap();
    // The second store starts after the first counted its peers (none then), and the write
    // follows at once, before any probe of the first store could count it.
    let second = PostgresStore::connect(database.options()).await.unwrap();
    invalidation_waits_for(&first, second.changes().unwrap()).await;
}

/// Resumes a stopped server process when dropped, whatever the test did meanwhile.
struct Stopped(i32);

impl Stopped {
    fn new(pid: i32) -> Stopped {
        signal("-STOP", pid);
        Stopped(pid)
    }
}

impl Drop for Stopped {
    fn drop(&mut self) {
        signal("-CONT", self.0);
    }
}

fn signal(which: &str, pid: i32) {
    let status = std::process::Command::new("kill")
        .args([which, &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill {which} {pid}");
}

#[tokio::test]
async fn a_hung_listener_is_lost_within_keepalive_and_probe_timeout() {
    let database = TestDatabase::create().await;
    // 200 ms keepalive: the probe gets 1 s (its minimum).
    let store = PostgresStore::connect(database.options()).await.unwrap();
    let mut feed = store.changes().unwrap();
    let client = database.connect().await;
    let pid: i32 = client
        .query_one(
            "SELECT pid FROM pg_stat_activity \
             WHERE datname = current_database() AND application_name = $1",
            &[&LISTENER_NAME],
        )
        .await
        .unwrap()
        .get(0);
    // The session stays open but its server process answers nothing: only the probe notices.
    let stopped = Stopped::new(pid);
    assert_eq!(
        tokio::time::timeout(WITHIN, feed.recv())
            .await
            .unwrap()
            .unwrap(),
        Notice::Lost
    );
    assert_eq!(
        tokio::time::timeout(WITHIN, feed.recv())
            .await
            .unwrap()
            .unwrap(),
        Notice::Restored
    );
    drop(stopped);
}
