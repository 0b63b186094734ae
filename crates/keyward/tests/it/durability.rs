//! Acknowledged writes survive a crash: kill -9 during concurrent creates, restart, and every
//! acknowledged key still authenticates.

use std::sync::Arc;

use serde_json::json;

use crate::support::TestServer;

#[tokio::test]
async fn acknowledged_keys_survive_kill_9() {
    let mut server = TestServer::start().await;
    let url = server.url.clone();
    let client = reqwest::Client::new();
    let acknowledged = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let mut tasks = Vec::new();
    for worker in 0..16 {
        let client = client.clone();
        let url = url.clone();
        let acknowledged = acknowledged.clone();
        tasks.push(tokio::spawn(async move {
            for n in 0.. {
                let response = client
                    .post(format!("{url}/_security/api_key"))
                    .basic_auth("elastic", Some(crate::support::PASSWORD))
                    .json(&json!({"name": format!("w{worker}-{n}")}))
                    .send()
                    .await;
                let Ok(response) = response else { return };
                if response.status() != 200 {
                    return;
                }
                let Ok(body) = response.json::<serde_json::Value>().await else {
                    return;
                };
                acknowledged
                    .lock()
                    .unwrap()
                    .push(body["encoded"].as_str().unwrap().to_owned());
            }
        }));
    }
    // Let creates flow, then kill the process mid-stream.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while acknowledged.lock().unwrap().len() < 300 && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    server.kill();
    for task in tasks {
        let _ = task.await;
    }
    let keys = acknowledged.lock().unwrap().clone();
    assert!(
        keys.len() >= 300,
        "only {} creates were acknowledged",
        keys.len()
    );

    let data = server.data.clone();
    let restarted = TestServer::start_in(data, &[]).await;
    for encoded in &keys {
        let reply = restarted
            .api_key(encoded)
            .get("/_security/_authenticate")
            .await;
        assert_eq!(reply.status, 200, "acknowledged key lost: {}", reply.text);
    }
}

#[tokio::test]
async fn sigterm_shuts_down_cleanly_and_keys_survive_the_restart() {
    let mut server = TestServer::start().await;
    let created = server.create_key(json!({"name": "survivor"})).await;
    assert_eq!(
        server.stop(),
        Some(0),
        "keyward did not exit cleanly on SIGTERM: {}",
        server.logs()
    );

    let restarted = TestServer::start_in(server.data.clone(), &[]).await;
    let reply = restarted
        .api_key(created["encoded"].as_str().unwrap())
        .get("/_security/_authenticate")
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json()["api_key"]["name"], "survivor");
}

#[tokio::test]
async fn sigterm_as_soon_as_the_startup_line_is_read_shuts_down_cleanly() {
    // A supervisor may stop keyward the moment it reports it listens: the signal handlers must
    // be in place by then, or SIGTERM's default action kills it without closing the store.
    for _ in 0..30 {
        let mut server = TestServer::start().await;
        assert_eq!(
            server.stop(),
            Some(0),
            "keyward did not exit cleanly: {}",
            server.logs()
        );
    }
}
