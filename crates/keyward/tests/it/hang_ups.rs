//! Revocations sent by clients that hang up at once, without reading the answer. The server may
//! notice the closed connection before, during or after the write, and drop the request there;
//! whatever it did, what the store says and what authenticates must agree: a key the store holds
//! as invalidated (a user it holds as disabled) is refused on the very next request. (The races
//! are forced deterministically in keyward-service's `race_tests`; this is the same from a real
//! socket.)

use std::time::Duration;

use base64::Engine;
use serde_json::json;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::support::{PASSWORD, TestServer};

/// Sends one request on a fresh connection and closes it without reading a byte.
async fn send_and_hang_up(server: &TestServer, method: &str, path: &str, body: &str) {
    let address = server.url.trim_start_matches("http://");
    let mut stream = TcpStream::connect(address).await.unwrap();
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("elastic:{PASSWORD}"));
    let request = format!(
        "{method} {path} HTTP/1.1\r\nhost: {address}\r\nauthorization: Basic {basic}\r\n\
         content-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    drop(stream);
}

#[tokio::test]
async fn invalidations_from_clients_that_hang_up_still_hold() {
    let server = TestServer::start().await;
    let mut keys = Vec::new();
    for n in 0..20 {
        let created = server.create_key(json!({"name": format!("k{n}")})).await;
        let encoded = created["encoded"].as_str().unwrap().to_owned();
        // Cached now: a refusal can only come from an eviction.
        let reply = server
            .api_key(&encoded)
            .get("/_security/_authenticate")
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        keys.push((created["id"].as_str().unwrap().to_owned(), encoded));
    }
    for (id, _) in &keys {
        let body = json!({"ids": [id]}).to_string();
        send_and_hang_up(&server, "DELETE", "/_security/api_key", &body).await;
    }
    // Whether the server ran each request or dropped it on noticing the hang-up, the store and
    // the cache must agree: an invalidated key is refused on the very next request.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut invalidated = 0;
    for (id, encoded) in &keys {
        let stored = server
            .superuser()
            .get(&format!("/_security/api_key?id={id}"))
            .await
            .json();
        let is_invalidated = stored["api_keys"][0]["invalidated"].as_bool().unwrap();
        let reply = server
            .api_key(encoded)
            .get("/_security/_authenticate")
            .await;
        if is_invalidated {
            invalidated += 1;
            assert_eq!(
                reply.status, 401,
                "invalidated key {id} still works: {}",
                reply.text
            );
        } else {
            assert_eq!(reply.status, 200, "{}", reply.text);
        }
    }
    eprintln!("{invalidated} of {} hung-up invalidations ran", keys.len());
}

#[tokio::test]
async fn disables_from_clients_that_hang_up_still_hold() {
    let server = TestServer::start().await;
    let users: Vec<String> = (0..10).map(|n| format!("user{n}")).collect();
    for user in &users {
        server.put_user(user, "user-password", &["superuser"]).await;
        let reply = server
            .basic(user, "user-password")
            .get("/_security/_authenticate")
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text);
    }
    for user in &users {
        let path = format!("/_security/user/{user}/_disable");
        send_and_hang_up(&server, "PUT", &path, "").await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut disabled = 0;
    for user in &users {
        let stored = server
            .superuser()
            .get(&format!("/_security/user/{user}"))
            .await
            .json();
        let enabled = stored[user]["enabled"].as_bool().unwrap();
        let reply = server
            .basic(user, "user-password")
            .get("/_security/_authenticate")
            .await;
        if enabled {
            assert_eq!(reply.status, 200, "{}", reply.text);
        } else {
            disabled += 1;
            assert_eq!(
                reply.status, 401,
                "disabled {user} still authenticates: {}",
                reply.text
            );
        }
    }
    eprintln!("{disabled} of {} hung-up disables ran", users.len());
}
