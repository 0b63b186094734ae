//! Connecting: migrations on first start, concurrent starts, newer schemas, unreachable servers.

use std::time::Duration;

use keyward_store::{Error, Store};
use keyward_store_pg::{PgTlsMode, PostgresOptions, PostgresStore, migrate};

use crate::support::TestDatabase;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_first_starts_apply_the_schema_once() {
    let database = TestDatabase::create().await;
    let mut starts = tokio::task::JoinSet::new();
    for _ in 0..4 {
        let options = database.options();
        starts.spawn(async move { PostgresStore::connect(options).await });
    }
    let mut stores = Vec::new();
    while let Some(started) = starts.join_next().await {
        stores.push(started.unwrap().unwrap());
    }
    let client = database.connect().await;
    let versions: Vec<i32> = client
        .query(
            "SELECT version FROM keyward_schema_migrations ORDER BY version",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    let expected: Vec<i32> = (1..=versions.len() as i32).collect();
    assert!(!versions.is_empty());
    assert_eq!(versions, expected, "each migration recorded once");
    // Every store works on the one schema.
    for (n, store) in stores.iter().enumerate() {
        let key = keyward_store::testsuite::sample_key(&format!("k{n}"));
        store.create_api_key(key).await.unwrap();
    }
    assert_eq!(
        stores[0]
            .find_api_keys(&keyward_store::ApiKeyFilter::default())
            .await
            .unwrap()
            .len(),
        4
    );
    // Up to date: nothing more to apply.
    let report = migrate(&database.options()).await.unwrap();
    assert!(report.applied.is_empty(), "{report:?}");
    assert_eq!(report.version, *versions.last().unwrap());
    drop(stores);
}

#[tokio::test]
async fn migrate_reports_what_it_applied() {
    let database = TestDatabase::create().await;
    let report = migrate(&database.options()).await.unwrap();
    assert_eq!(report.applied.first(), Some(&1));
    assert_eq!(report.version, *report.applied.last().unwrap());
    let store = PostgresStore::connect(database.options()).await.unwrap();
    assert_eq!(store.meta("nothing").await.unwrap(), None);
}

#[tokio::test]
async fn a_newer_schema_is_refused() {
    let database = TestDatabase::create().await;
    drop(PostgresStore::connect(database.options()).await.unwrap());
    let client = database.connect().await;
    client
        .batch_execute("INSERT INTO keyward_schema_migrations (version) VALUES (99)")
        .await
        .unwrap();
    match PostgresStore::connect(database.options()).await {
        Err(Error::Corrupt(message)) => {
            assert!(message.contains("schema version 99"), "{message}");
            assert!(message.contains("newer keyward"), "{message}");
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
}

#[tokio::test]
async fn an_unreachable_server_is_unavailable() {
    // Nothing listens on port 1.
    let options = PostgresOptions {
        connect_timeout: Duration::from_secs(2),
        ..PostgresOptions::new("postgres://postgres@127.0.0.1:1/keyward")
    };
    match PostgresStore::connect(options.clone()).await {
        Err(Error::Unavailable(message)) => assert!(!message.is_empty()),
        other => panic!("expected Unavailable, got {other:?}"),
    }
    match migrate(&options).await {
        Err(Error::Unavailable(_)) => {}
        other => panic!("expected Unavailable, got {other:?}"),
    }
}

#[tokio::test]
async fn a_store_whose_sessions_were_killed_reconnects() {
    let database = TestDatabase::create().await;
    let store = PostgresStore::connect(database.options()).await.unwrap();
    store
        .create_api_key(keyward_store::testsuite::sample_key("k"))
        .await
        .unwrap();
    let client = database.connect().await;
    client
        .query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
            &[],
        )
        .await
        .unwrap();
    // A pooled session found dead is replaced; a call that ran into it fails as unavailable,
    // never as a database error, and a later one succeeds.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        match store.api_key("k").await {
            Ok(found) => {
                assert!(found.is_some());
                break;
            }
            Err(Error::Unavailable(_)) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            other => panic!("expected the key or Unavailable, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn debug_output_hides_the_url() {
    let options = PostgresOptions::new("postgres://keyward:s3cret@db/keyward");
    let debug = format!("{options:?}");
    assert!(!debug.contains("s3cret"), "{debug}");
}

#[tokio::test]
async fn tls_require_encrypts_every_session() {
    let database = TestDatabase::create().await;
    let options = PostgresOptions {
        tls: PgTlsMode::Require,
        ..database.options()
    };
    let store = PostgresStore::connect(options).await.unwrap();
    store
        .create_api_key(keyward_store::testsuite::sample_key("k"))
        .await
        .unwrap();
    let client = database.connect().await;
    let sessions: Vec<bool> = client
        .query(
            "SELECT s.ssl FROM pg_stat_ssl AS s JOIN pg_stat_activity AS a ON a.pid = s.pid \
             WHERE a.datname = current_database() AND a.application_name LIKE 'keyward%'",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert!(sessions.len() >= 2, "{sessions:?}");
    assert!(sessions.iter().all(|ssl| *ssl), "{sessions:?}");
}

/// The Debian test server's certificate: self-signed, for `localhost`.
const SNAKEOIL: &str = "/etc/ssl/certs/ssl-cert-snakeoil.pem";

#[tokio::test]
async fn tls_verify_full_checks_the_certificate_and_the_name() {
    let database = TestDatabase::create().await;
    let url = database.url.replace("127.0.0.1", "localhost");
    let verified = |url: &str, ca_file: Option<&str>| PostgresOptions {
        tls: PgTlsMode::VerifyFull,
        ca_file: ca_file.map(Into::into),
        connect_timeout: Duration::from_secs(2),
        ..PostgresOptions::new(url)
    };
    // Signed by the CA file, for the name connected to.
    let store = PostgresStore::connect(verified(&url, Some(SNAKEOIL)))
        .await
        .unwrap();
    assert_eq!(store.meta("none").await.unwrap(), None);
    drop(store);
    // (A certificate no root signs cannot be shown here: the system's roots, which the store
    // trusts too, include this very certificate on Debian.)
    // Another name than the certificate's.
    match PostgresStore::connect(verified(&database.url, Some(SNAKEOIL))).await {
        Err(Error::Unavailable(message)) => assert!(!message.is_empty()),
        other => panic!("expected a refused name, got {other:?}"),
    }
    match PostgresStore::connect(verified(&url, Some("/nonexistent.pem"))).await {
        Err(Error::Database(message)) => assert!(message.contains("/nonexistent.pem"), "{message}"),
        other => panic!("expected an unreadable CA file, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_first_writes_agree() {
    // Nodes starting together: one cluster uuid wins everywhere; a reserved user's first
    // changes (stored from its never-stored state) all apply.
    let database = TestDatabase::create().await;
    let store = std::sync::Arc::new(PostgresStore::connect(database.options()).await.unwrap());
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..16 {
        let store = std::sync::Arc::clone(&store);
        tasks.spawn(async move {
            let uuid = store
                .meta_init("cluster_uuid", &format!("u{n}"))
                .await
                .unwrap();
            let change = keyward_store::UserChange {
                password_hash: (n == 3).then(|| "changed".to_owned()),
                enabled: (n == 5).then_some(false),
            };
            let missing = keyward_store::testsuite::sample_user("elastic");
            assert!(
                store
                    .change_user("elastic", change, Some(missing))
                    .await
                    .unwrap()
            );
            uuid
        });
    }
    let mut uuids = std::collections::BTreeSet::new();
    while let Some(joined) = tasks.join_next().await {
        uuids.insert(joined.unwrap());
    }
    assert_eq!(uuids.len(), 1, "{uuids:?}");
    let user = store.user("elastic").await.unwrap().unwrap();
    assert_eq!(user.password_hash, "changed");
    assert!(!user.enabled);
    assert_eq!(user.seq, 16);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exhausted_pool_is_unavailable() {
    let database = TestDatabase::create().await;
    let options = PostgresOptions {
        pool_size: 1,
        connect_timeout: Duration::from_millis(300),
        ..database.options()
    };
    let store = std::sync::Arc::new(PostgresStore::connect(options).await.unwrap());
    let key = keyward_store::testsuite::sample_key("k");
    store.create_api_key(key.clone()).await.unwrap();
    // Another session holds the key's row: an update of it waits on its pool's one session.
    let mut client = database.connect().await;
    let holder = client.transaction().await.unwrap();
    holder
        .execute("SELECT 1 FROM api_keys WHERE id = 'k' FOR UPDATE", &[])
        .await
        .unwrap();
    let update = tokio::spawn({
        let store = std::sync::Arc::clone(&store);
        async move { store.update_api_keys(vec![key]).await }
    });
    // Once the update holds the session, a read waits for it no longer than the timeout.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        match store.api_key("k").await {
            Err(Error::Unavailable(message)) => {
                assert!(message.contains("timed out"), "{message}");
                break;
            }
            Ok(_) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            other => panic!("expected Unavailable, got {other:?}"),
        }
    }
    holder.rollback().await.unwrap();
    assert_eq!(
        update.await.unwrap().unwrap(),
        [keyward_store::UpdateOutcome::Updated]
    );
    assert!(store.api_key("k").await.unwrap().is_some());
}

#[tokio::test]
async fn a_weak_synchronous_commit_is_raised_for_keywards_sessions() {
    let database = TestDatabase::create().await;
    let default = PostgresStore::connect(database.options()).await.unwrap();
    assert_eq!(default.synchronous_commit().await.unwrap(), "on");
    drop(default);
    // A database (or a URL) that turned it off: keyward's commits still wait for the flush.
    let client = database.connect().await;
    let name: String = client
        .query_one("SELECT current_database()", &[])
        .await
        .unwrap()
        .get(0);
    client
        .batch_execute(&format!(
            "ALTER DATABASE {name} SET synchronous_commit = off"
        ))
        .await
        .unwrap();
    let store = PostgresStore::connect(database.options()).await.unwrap();
    assert_eq!(store.synchronous_commit().await.unwrap(), "on");
}
