//! Scratch databases: one per test, created on the test server and dropped afterwards.

use std::time::Duration;

use keyward_store_pg::{PostgresOptions, PostgresStore};

/// The server the tests run against.
pub(crate) fn server_url() -> String {
    std::env::var("KEYWARD_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// The prefix of every scratch database; the creating process's id follows it.
const PREFIX: &str = "keyward_t_";

/// A database of its own, dropped (whatever connects to it) when this is dropped.
pub(crate) struct TestDatabase {
    pub(crate) name: String,
    pub(crate) url: String,
}

impl TestDatabase {
    /// Creates an empty database; panics, naming the server, when it cannot.
    pub(crate) async fn create() -> TestDatabase {
        let admin = admin().await;
        drop_leftovers(&admin).await;
        let mut random = [0_u8; 6];
        getrandom::fill(&mut random).unwrap();
        let suffix: String = random.iter().map(|byte| format!("{byte:02x}")).collect();
        let name = format!("{PREFIX}{}_{suffix}", std::process::id());
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap_or_else(|err| panic!("cannot create the test database [{name}]: {err}"));
        TestDatabase {
            url: with_database(&server_url(), &name),
            name,
        }
    }

    /// Store options for this database, with a fast feed probe.
    pub(crate) fn options(&self) -> PostgresOptions {
        PostgresOptions {
            notify_keepalive: Duration::from_millis(200),
            pool_size: 4,
            ..PostgresOptions::new(self.url.clone())
        }
    }

    /// A plain connection to this database, for looking behind the store's back.
    pub(crate) async fn connect(&self) -> tokio_postgres::Client {
        connect(&self.url).await
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Drop runs inside the test's runtime: the drop gets a thread and a runtime of its own.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                let admin = admin().await;
                admin
                    .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .await
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop the test database [{}]", self.name);
        }
    }
}

/// A fresh store on a fresh database, for the contract suite.
pub(crate) async fn fresh_store() -> (PostgresStore, TestDatabase) {
    let database = TestDatabase::create().await;
    let store = PostgresStore::connect(database.options())
        .await
        .unwrap_or_else(|err| panic!("cannot open a store on [{}]: {err}", database.name));
    (store, database)
}

async fn admin() -> tokio_postgres::Client {
    connect(&server_url()).await
}

async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, connection) = match tokio_postgres::connect(url, tokio_postgres::NoTls).await {
        Ok(connected) => connected,
        Err(err) => panic!(
            "the PostgreSQL test server at [{url}] is not reachable ({err}: {}): start it with \
             scripts/ensure-postgres or point KEYWARD_TEST_PG_URL at one",
            std::error::Error::source(&err).map_or_else(String::new, ToString::to_string)
        ),
    };
    tokio::spawn(async move {
        let _ = connection.await;
    });
    client
}

/// Drops the scratch databases of test processes that are gone (killed before their drop ran);
/// those of running processes are left alone.
async fn drop_leftovers(admin: &tokio_postgres::Client) {
    let rows = admin
        .query(
            "SELECT datname FROM pg_database WHERE starts_with(datname, $1)",
            &[&PREFIX],
        )
        .await
        .unwrap();
    for row in rows {
        let name: String = row.get(0);
        let Some(pid) = name
            .strip_prefix(PREFIX)
            .and_then(|rest| rest.split('_').next())
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if std::path::Path::new(&format!("/proc/{pid}")).exists() {
            continue;
        }
        let _ = admin
            .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .await;
    }
}

/// `url` naming database `name` instead of its own.
fn with_database(url: &str, name: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        // key=value form: a later `dbname` wins.
        return format!("{url} dbname={name}");
    };
    let (before_query, query) = match rest.split_once('?') {
        Some((before, query)) => (before, format!("?{query}")),
        None => (rest, String::new()),
    };
    let authority = before_query.split('/').next().unwrap_or_default();
    format!("{scheme}://{authority}/{name}{query}")
}

/// Waits for a notice matching `wanted`, skipping others, for at most `within`.
pub(crate) async fn expect_notice(
    feed: &mut tokio::sync::broadcast::Receiver<keyward_store::Notice>,
    wanted: &keyward_store::Notice,
    within: Duration,
) {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, feed.recv()).await {
            Ok(Ok(notice)) if &notice == wanted => return,
            Ok(Ok(_)) => {}
            Ok(Err(err)) => panic!("the feed failed waiting for {wanted:?}: {err}"),
            Err(_) => panic!("no {wanted:?} within {within:?}"),
        }
    }
}
