//! Three keyward nodes sharing one PostgreSQL database: a key created on one works on all, and an
//! invalidation, an update or a disabled user on one holds on the others for the very next
//! request, through a PostgreSQL restart too.
//!
//! The server is the machine's PostgreSQL (`KEYWARD_TEST_PG_URL`, default
//! `postgres://postgres@127.0.0.1:5432/test`); the test makes a database of its own and drops it.
//! Restarting the server is visible to every other test using it, so these tests run alone
//! (nextest's `postgres-restart` group, `.config/nextest.toml`).

use serde_json::json;

use crate::postgres::{ScratchDatabase, restart_postgres, start_postgres, stop_postgres};
use crate::support::TestServer;

/// `n` nodes on `database`, each with its own data directory.
async fn nodes(database: &ScratchDatabase, n: usize) -> Vec<TestServer> {
    let url = format!("keyward.store.postgresql.url={}", database.url());
    let mut nodes = Vec::new();
    for _ in 0..n {
        nodes.push(
            TestServer::start_with(&[
                "keyward.store.type=postgresql",
                &url,
                "keyward.store.postgresql.pool_size=4",
            ])
            .await,
        );
    }
    nodes
}

async fn authenticates(node: &TestServer, encoded: &str) -> u16 {
    node.api_key(encoded)
        .get("/_security/_authenticate")
        .await
        .status
}

async fn create_key(node: &TestServer, body: serde_json::Value) -> (String, String) {
    let reply = node.superuser().post("/_security/api_key", body).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let json = reply.json();
    (
        json["id"].as_str().unwrap().to_owned(),
        json["encoded"].as_str().unwrap().to_owned(),
    )
}

async fn has_monitor(node: &TestServer, encoded: &str) -> bool {
    monitor_check(node.api_key(encoded)).await
}

async fn user_has_monitor(node: &TestServer, username: &str, password: &str) -> bool {
    monitor_check(node.basic(username, password)).await
}

/// Whether the caller holds the `monitor` cluster privilege.
async fn monitor_check(caller: crate::support::Caller<'_>) -> bool {
    let reply = caller
        .post(
            "/_security/user/_has_privileges",
            json!({"cluster": ["monitor"]}),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.json()["has_all_requested"].as_bool().unwrap()
}

#[tokio::test]
async fn three_nodes_share_keys_users_and_revocations() {
    let database = ScratchDatabase::create().await;
    let nodes = nodes(&database, 3).await;
    let (a, b, c) = (&nodes[0], &nodes[1], &nodes[2]);

    // Created on A, works on B and C (and, used twice, is cached on every node).
    let (id, encoded) = create_key(a, json!({"name": "shared"})).await;
    for node in [a, b, c, a, b, c] {
        assert_eq!(authenticates(node, &encoded).await, 200);
    }

    // Invalidated on C: the very next request on A and on B is refused.
    let reply = c
        .superuser()
        .delete("/_security/api_key", json!({"ids": [id]}))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json()["invalidated_api_keys"], json!([id]));
    assert_eq!(authenticates(a, &encoded).await, 401);
    assert_eq!(authenticates(b, &encoded).await, 401);

    // Role descriptors updated on B: A sees the new privileges at once.
    let (id, encoded) = create_key(
        a,
        json!({"name": "scoped", "role_descriptors": {"r": {"cluster": ["monitor"]}}}),
    )
    .await;
    assert!(has_monitor(a, &encoded).await);
    assert!(has_monitor(a, &encoded).await);
    let reply = b
        .superuser()
        .put(
            &format!("/_security/api_key/{id}"),
            json!({"role_descriptors": {"r": {"cluster": ["manage_own_api_key"]}}}),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json()["updated"], json!(true));
    assert!(!has_monitor(a, &encoded).await);

    // A user disabled on A: B refuses her Basic credentials next.
    a.put_user("joe", "joe-password", &["superuser"]).await;
    for _ in 0..2 {
        let reply = b
            .basic("joe", "joe-password")
            .get("/_security/_authenticate")
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text);
    }
    let reply = a
        .superuser()
        .put_empty("/_security/user/joe/_disable")
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let reply = b
        .basic("joe", "joe-password")
        .get("/_security/_authenticate")
        .await;
    assert_eq!(reply.status, 401, "{}", reply.text);

    // A role changed on C: B's user with that role loses the privilege at once.
    c.put_role("watcher", json!({"cluster": ["monitor"]})).await;
    a.put_user("ann", "ann-password", &["watcher"]).await;
    assert!(user_has_monitor(b, "ann", "ann-password").await);
    assert!(user_has_monitor(b, "ann", "ann-password").await);
    c.put_role("watcher", json!({"cluster": []})).await;
    assert!(!user_has_monitor(b, "ann", "ann-password").await);
}

#[tokio::test]
async fn nodes_answer_503_while_postgresql_is_down_and_recover_on_their_own() {
    let database = ScratchDatabase::create().await;
    let nodes = nodes(&database, 2).await;
    let (a, b) = (&nodes[0], &nodes[1]);
    let (_, encoded) = create_key(a, json!({"name": "before"})).await;
    assert_eq!(authenticates(b, &encoded).await, 200);

    stop_postgres();
    // Fail closed: no cached authentication stands in for the store while it is away.
    let reply = b.api_key(&encoded).get("/_security/_authenticate").await;
    assert_eq!(reply.status, 503, "{}", reply.text);
    assert_eq!(
        reply.json()["error"]["type"],
        "unavailable_shards_exception"
    );
    let reply = a
        .superuser()
        .post("/_security/api_key", json!({"name": "during"}))
        .await;
    assert_eq!(reply.status, 503, "{}", reply.text);
    // A load balancer sees the node is not ready, without credentials or detail.
    let reply = a.anonymous().get("/_keyward/ready").await;
    assert_eq!(reply.status, 503, "{}", reply.text);
    start_postgres();

    // Both nodes come back without help, and stay coherent: the feed is listening again.
    for node in [a, b] {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while authenticates(node, &encoded).await != 200 {
            assert!(
                std::time::Instant::now() < deadline,
                "a node did not recover: {}",
                node.logs()
            );
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
        // Readiness is checked at most once a second: it turns 200 within that.
        while node.anonymous().get("/_keyward/ready").await.status != 200 {
            assert!(
                std::time::Instant::now() < deadline,
                "not ready: {}",
                node.logs()
            );
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    }
    let (id, encoded) = create_key(a, json!({"name": "after"})).await;
    assert_eq!(authenticates(b, &encoded).await, 200);
    assert_eq!(authenticates(b, &encoded).await, 200);
    let reply = a
        .superuser()
        .delete("/_security/api_key", json!({"ids": [id]}))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(authenticates(b, &encoded).await, 401);

    // A restart while the nodes run: they recover again, and nothing acknowledged was lost.
    restart_postgres();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let reply = b.superuser().get("/_security/api_key?name=before").await;
        if reply.status == 200 {
            assert_eq!(reply.json()["api_keys"].as_array().unwrap().len(), 1);
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no recovery: {}",
            reply.text
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn a_data_directory_serves_one_node_on_postgresql_too() {
    let database = ScratchDatabase::create().await;
    let first = nodes(&database, 1).await;
    // A second node on the first one's directory is refused, as with the embedded store.
    let url = format!("keyward.store.postgresql.url={}", database.url());
    let output = std::process::Command::new(crate::support::binary())
        .args(["serve", "-E", "http.port=0", "-E"])
        .arg(format!("path.data={}", first[0].data_dir().display()))
        .args(["-E", "keyward.store.type=postgresql", "-E", &url])
        .env("ELASTIC_PASSWORD", crate::support::PASSWORD)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("locked by another keyward process"),
        "{stderr}"
    );
}

#[tokio::test]
async fn reset_password_changes_the_shared_store_and_every_node_hears_of_it() {
    let database = ScratchDatabase::create().await;
    let nodes = nodes(&database, 2).await;
    // Both nodes have the old password cached.
    for node in &nodes {
        for _ in 0..2 {
            let reply = node.superuser().get("/_security/_authenticate").await;
            assert_eq!(reply.status, 200, "{}", reply.text);
        }
    }
    let url = format!("keyward.store.postgresql.url={}", database.url());
    let output = std::process::Command::new(crate::support::binary())
        .args(["reset-password", "-u", "elastic", "-b", "-s"])
        .args(["-E", "keyward.store.type=postgresql", "-E", &url])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let password = String::from_utf8(output.stdout).unwrap().trim().to_owned();
    assert!(password.len() >= 20, "a generated password: {password:?}");
    for node in &nodes {
        let reply = node.superuser().get("/_security/_authenticate").await;
        assert_eq!(
            reply.status, 401,
            "the old password still works: {}",
            reply.text
        );
        let reply = node
            .basic("elastic", &password)
            .get("/_security/_authenticate")
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text);
    }
}

#[tokio::test]
async fn migrate_applies_the_schema_once_and_serve_finds_it_ready() {
    let database = ScratchDatabase::create().await;
    let url = format!("keyward.store.postgresql.url={}", database.url());
    let migrate = || {
        std::process::Command::new(crate::support::binary())
            .args(["migrate", "-E", "keyward.store.type=postgresql", "-E", &url])
            .output()
            .unwrap()
    };
    let first = migrate();
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let said = String::from_utf8_lossy(&first.stdout);
    assert!(said.starts_with("applied migrations [1"), "{said}");
    let again = migrate();
    let said = String::from_utf8_lossy(&again.stdout);
    assert!(said.starts_with("schema up to date at version"), "{said}");
    // A node starts on the migrated database and serves.
    let node = &nodes(&database, 1).await[0];
    let reply = node.superuser().get("/_security/_authenticate").await;
    assert_eq!(reply.status, 200, "{}", reply.text);
}

/// A service token created on one node authenticates on every node; deleted on another, it is
/// refused everywhere at the very next request, cached or not; a cache clear reaches every node.
#[tokio::test]
async fn a_deleted_service_token_is_refused_on_every_node_at_once() {
    let database = ScratchDatabase::create().await;
    let nodes = nodes(&database, 2).await;
    let (a, b) = (&nodes[0], &nodes[1]);
    let path = "/_security/service/elastic/fleet-server/credential/token/shared";
    let created = a.superuser().post_empty(path).await;
    assert_eq!(created.status, 200, "{}", created.text);
    let bearer = format!(
        "Bearer {}",
        created.json()["token"]["value"].as_str().unwrap()
    );
    for node in [a, b, a, b] {
        assert_eq!(service_token_status(node, &bearer).await, 200);
    }
    let cleared = b
        .superuser()
        .post_empty(&format!("{path}/_clear_cache"))
        .await;
    assert_eq!(cleared.status, 200, "{}", cleared.text);
    for node in [a, b] {
        assert_eq!(service_token_status(node, &bearer).await, 200);
    }
    let deleted = b.superuser().send("DELETE", path, None, &[]).await;
    assert_eq!(deleted.json(), json!({"found": true}));
    for node in [a, b] {
        assert_eq!(service_token_status(node, &bearer).await, 401);
    }
}

async fn service_token_status(node: &TestServer, bearer: &str) -> u16 {
    node.with_authorization(bearer)
        .get("/_security/_authenticate")
        .await
        .status
}
