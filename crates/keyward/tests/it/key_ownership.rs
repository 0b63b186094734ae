//! What an API key may do with its owner's other keys under `manage_own_api_key`: nothing. As
//! in Elasticsearch, a key owns no key but itself: it may get and invalidate itself by its own
//! id, its queries see only itself, and anything else is 403.

use serde_json::{Value, json};

use crate::support::{Reply, TestServer};

const PASSWORD: &str = "own-keys-password";

/// A `manage_own_api_key` user with two keys made without role descriptors (so each inherits
/// the owner's `manage_own_api_key`): returns the server and the two create responses.
async fn owner_with_two_keys() -> (TestServer, Value, Value) {
    let server = TestServer::start().await;
    server
        .put_role("own_keys", json!({"cluster": ["manage_own_api_key"]}))
        .await;
    server.put_user("owner", PASSWORD, &["own_keys"]).await;
    let owner = server.basic("owner", PASSWORD);
    let mut keys = Vec::new();
    for name in ["first", "sibling"] {
        let reply = owner
            .post("/_security/api_key", json!({"name": name}))
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        keys.push(reply.json());
    }
    let sibling = keys.pop().unwrap();
    let first = keys.pop().unwrap();
    (server, first, sibling)
}

fn encoded(key: &Value) -> &str {
    key["encoded"].as_str().unwrap()
}

fn id(key: &Value) -> &str {
    key["id"].as_str().unwrap()
}

#[track_caller]
fn assert_denied(reply: &Reply, action: &str) {
    assert_eq!(reply.status, 403, "{}", reply.text);
    let error = &reply.json()["error"];
    assert_eq!(error["type"], "security_exception", "{}", reply.text);
    let reason = error["reason"].as_str().unwrap();
    assert!(
        reason.starts_with(&format!(
            "action [{action}] is unauthorized for API key id ["
        )),
        "{reason}"
    );
}

#[tokio::test]
async fn a_key_cannot_list_or_get_its_siblings() {
    let (server, first, sibling) = owner_with_two_keys().await;
    let key = server.api_key(encoded(&first));
    let get = "cluster:admin/xpack/security/api_key/get";

    for path in [
        "/_security/api_key?owner=true".to_owned(),
        "/_security/api_key".to_owned(),
        "/_security/api_key?username=owner&realm_name=default_native".to_owned(),
        format!("/_security/api_key?id={}", id(&sibling)),
        "/_security/api_key?name=sibling".to_owned(),
        format!("/_security/api_key?id={}&with_limited_by=true", id(&first)),
    ] {
        assert_denied(&key.get(&path).await, get);
    }

    // Itself, by its id, it may see.
    let reply = key
        .get(&format!("/_security/api_key?id={}", id(&first)))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let found = reply.json()["api_keys"].as_array().unwrap().clone();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["id"], id(&first));

    // The owner still sees both.
    let reply = server
        .basic("owner", PASSWORD)
        .get("/_security/api_key?owner=true")
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json()["api_keys"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn a_keys_query_sees_only_itself() {
    let (server, first, _sibling) = owner_with_two_keys().await;
    let key = server.api_key(encoded(&first));
    for body in [
        json!({}),
        json!({"query": {"match_all": {}}}),
        json!({"query": {"term": {"name": "sibling"}}}),
        json!({"size": 0, "aggs": {"names": {"terms": {"field": "name"}}}}),
    ] {
        let reply = key.post("/_security/_query/api_key", body.clone()).await;
        assert_eq!(reply.status, 200, "{body}: {}", reply.text);
        let answer = reply.json();
        let ids: Vec<&str> = answer["api_keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|key| key["id"].as_str().unwrap())
            .collect();
        assert!(
            ids.iter().all(|found| *found == id(&first)),
            "{body}: {ids:?}"
        );
        assert!(answer["total"].as_u64().unwrap() <= 1, "{body}: {answer}");
        if let Some(buckets) = answer["aggregations"]["names"]["buckets"].as_array() {
            assert_eq!(
                buckets,
                &vec![json!({"key": "first", "doc_count": 1})],
                "{answer}"
            );
        }
    }
}

#[tokio::test]
async fn a_key_cannot_invalidate_its_siblings_but_may_invalidate_itself() {
    let (server, first, sibling) = owner_with_two_keys().await;
    let key = server.api_key(encoded(&first));
    let invalidate = "cluster:admin/xpack/security/api_key/invalidate";

    for body in [
        json!({"ids": [id(&sibling)], "owner": true}),
        json!({"owner": true}),
        json!({"ids": [id(&sibling)]}),
        json!({"ids": [id(&first), id(&sibling)]}),
        json!({"name": "sibling"}),
        json!({"username": "owner", "realm_name": "default_native"}),
    ] {
        assert_denied(&key.delete("/_security/api_key", body).await, invalidate);
    }
    // The sibling still works.
    let reply = server
        .api_key(encoded(&sibling))
        .get("/_security/_authenticate")
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);

    let reply = key
        .delete("/_security/api_key", json!({"ids": [id(&first)]}))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json()["invalidated_api_keys"], json!([id(&first)]));
    assert_eq!(key.get("/_security/_authenticate").await.status, 401);
}

#[tokio::test]
async fn a_key_cannot_update_keys() {
    let (server, first, sibling) = owner_with_two_keys().await;
    let key = server.api_key(encoded(&first));
    for target in [&first, &sibling] {
        let reply = key
            .put(
                &format!("/_security/api_key/{}", id(target)),
                json!({"metadata": {"taken": true}}),
            )
            .await;
        assert_eq!(reply.status, 400, "{}", reply.text);
        assert_eq!(
            reply.json()["error"]["reason"],
            "authentication via API key not supported: only the owner user can update an API key"
        );
    }
    let reply = key
        .post(
            "/_security/api_key/_bulk_update",
            json!({"ids": [id(&sibling)], "metadata": {"taken": true}}),
        )
        .await;
    assert_eq!(reply.status, 400, "{}", reply.text);
}
