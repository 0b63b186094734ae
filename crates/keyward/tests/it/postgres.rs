//! The machine's PostgreSQL for the tests that need one: a scratch database per test, dropped
//! afterwards, and stopping or restarting the server (`pg_ctlcluster`) for the recovery tests.

use std::process::Command;

/// The server the tests use, as an URL to any database on it.
fn server_url() -> String {
    std::env::var("KEYWARD_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// A database of this test's own, dropped (whoever is still connected) when this is dropped.
pub(crate) struct ScratchDatabase {
    name: String,
}

impl ScratchDatabase {
    pub(crate) async fn create() -> ScratchDatabase {
        let mut bytes = [0u8; 8];
        getrandom::fill(&mut bytes).unwrap();
        let name = format!("keyward_it_{}", u64::from_le_bytes(bytes));
        execute(&format!("CREATE DATABASE {name}")).await;
        ScratchDatabase { name }
    }

    /// The URL of this database.
    pub(crate) fn url(&self) -> String {
        let server = server_url();
        let base = server
            .rsplit_once('/')
            .map_or(server.as_str(), |(base, _)| base);
        format!("{base}/{}", self.name)
    }
}

impl Drop for ScratchDatabase {
    fn drop(&mut self) {
        let statement = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        // Drop runs inside the test's runtime, which cannot be blocked on: a thread of its own.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(execute(&statement));
        })
        .join();
    }
}

/// Runs one statement on the server's default database, failing the test if it cannot.
async fn execute(statement: &str) {
    let url = server_url();
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|err| {
            panic!("PostgreSQL at [{url}] is needed (scripts/ensure-postgres starts it): {err}")
        });
    let driver = tokio::spawn(connection);
    client.batch_execute(statement).await.unwrap();
    drop(client);
    let _ = driver.await;
}

/// The `pg_ctlcluster` version and name of the cluster on port 5432.
fn cluster() -> (String, String) {
    let output = Command::new("pg_lsclusters")
        .arg("--no-header")
        .output()
        .unwrap();
    let listing = String::from_utf8_lossy(&output.stdout).into_owned();
    listing
        .lines()
        .map(|line| line.split_whitespace().collect::<Vec<_>>())
        .find(|fields| fields.get(2) == Some(&"5432"))
        .map(|fields| (fields[0].to_owned(), fields[1].to_owned()))
        .unwrap_or_else(|| panic!("no PostgreSQL cluster on port 5432: {listing}"))
}

fn pg_ctlcluster(action: &str) {
    let (version, name) = cluster();
    let output = Command::new("pg_ctlcluster")
        .args([version.as_str(), name.as_str(), action])
        .output()
        .unwrap();
    if output.status.success() {
        return;
    }
    // `pg_ctlcluster` has been seen to report a failed start of a server that then came up
    // (its own wait racing the postmaster on a loaded machine): what this helper promises is
    // the cluster's state, so that is what is checked before giving up.
    let wanted = if action == "stop" { "down" } else { "online" };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while std::time::Instant::now() < deadline {
        let listing = Command::new("pg_lsclusters")
            .args(["--no-header", version.as_str(), name.as_str()])
            .output()
            .unwrap();
        if String::from_utf8_lossy(&listing.stdout)
            .split_whitespace()
            .nth(3)
            == Some(wanted)
        {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    panic!(
        "pg_ctlcluster {version} {name} {action} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

pub(crate) fn stop_postgres() {
    pg_ctlcluster("stop");
}

pub(crate) fn start_postgres() {
    pg_ctlcluster("start");
}

pub(crate) fn restart_postgres() {
    pg_ctlcluster("restart");
}
