//! `security.clone_api_key`: a new key with an existing key's privileges and owner, made from
//! that key's credential.

use serde_json::{Value, json};

use crate::support::{TestServer, assert_error};

/// A user `ann` holding `manage_own_api_key` and index reads, and her key `source`.
async fn setup(server: &TestServer) -> (String, String) {
    server
        .put_role(
            "own_keys",
            json!({"cluster": ["manage_own_api_key", "monitor"],
                   "indices": [{"names": ["logs-*"], "privileges": ["read"]}]}),
        )
        .await;
    server
        .put_role("monitor_only", json!({"cluster": ["monitor"]}))
        .await;
    server.put_user("ann", "password-1", &["own_keys"]).await;
    server.put_user("bob", "password-1", &["own_keys"]).await;
    server
        .put_user("carl", "password-1", &["monitor_only"])
        .await;
    let created = server
        .basic("ann", "password-1")
        .post(
            "/_security/api_key",
            json!({"name": "source", "expiration": "2d", "metadata": {"team": "a"},
                   "role_descriptors": {"logs": {"indices": [{"names": ["logs-app"], "privileges": ["read"]}]}}}),
        )
        .await
        .json();
    (
        created["id"].as_str().unwrap().to_owned(),
        created["encoded"].as_str().unwrap().to_owned(),
    )
}

async fn key_info(server: &TestServer, id: &str) -> Value {
    let reply = server
        .superuser()
        .get(&format!("/_security/api_key?id={id}&with_limited_by=true"))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.json()["api_keys"][0].clone()
}

#[tokio::test]
async fn a_clone_is_the_source_under_a_new_id_name_and_secret() {
    let server = TestServer::start().await;
    let (source_id, source_encoded) = setup(&server).await;
    let reply = server
        .basic("ann", "password-1")
        .post(
            "/_security/api_key/clone",
            json!({"api_key": source_encoded, "name": "copy"}),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let created = reply.json();
    assert_eq!(created["name"], "copy");
    assert_ne!(created["id"], source_id.as_str());
    let source = key_info(&server, &source_id).await;
    let clone = key_info(&server, created["id"].as_str().unwrap()).await;
    // Expiration omitted: the source's, to the millisecond.
    assert_eq!(created["expiration"], source["expiration"]);
    assert_eq!(clone["expiration"], source["expiration"]);
    for field in ["username", "realm", "role_descriptors", "limited_by"] {
        assert_eq!(clone[field], source[field], "{field}");
    }
    assert_eq!(
        clone["metadata"],
        json!({"team": "a", "_cloned_from": source_id})
    );

    // The clone authenticates as the owner, with the source's privileges.
    let as_clone = server.api_key(created["encoded"].as_str().unwrap());
    let me = as_clone.get("/_security/_authenticate").await;
    assert_eq!(me.status, 200, "{}", me.text);
    assert_eq!(me.json()["username"], "ann");
    let check = as_clone
        .post(
            "/_security/user/_has_privileges",
            json!({"index": [{"names": ["logs-app", "logs-db"], "privileges": ["read"]}]}),
        )
        .await
        .json();
    assert_eq!(check["index"]["logs-app"]["read"], true);
    assert_eq!(check["index"]["logs-db"]["read"], false);

    // Invalidating the source leaves the clone working: they are separate keys.
    let gone = server
        .superuser()
        .delete("/_security/api_key", json!({"ids": [source_id]}))
        .await;
    assert_eq!(gone.status, 200, "{}", gone.text);
    assert_eq!(as_clone.get("/_security/_authenticate").await.status, 200);
}

#[tokio::test]
async fn expiration_and_metadata_follow_the_request_when_given() {
    let server = TestServer::start().await;
    let (source_id, source_encoded) = setup(&server).await;
    let ann = server.basic("ann", "password-1");
    let never = ann
        .put(
            "/_security/api_key/clone",
            json!({"api_key": source_encoded, "name": "forever", "expiration": null, "metadata": {}}),
        )
        .await;
    assert_eq!(never.status, 200, "{}", never.text);
    assert!(never.json().get("expiration").is_none(), "{}", never.text);
    let info = key_info(&server, never.json()["id"].as_str().unwrap()).await;
    assert!(info.get("expiration").is_none_or(Value::is_null), "{info}");
    assert_eq!(info["metadata"], json!({"_cloned_from": source_id}));

    let later = ann
        .post(
            "/_security/api_key/clone",
            json!({"api_key": source_encoded, "name": "week", "expiration": "7d", "metadata": {"team": "b"}}),
        )
        .await;
    assert_eq!(later.status, 200, "{}", later.text);
    let source = key_info(&server, &source_id).await;
    let week = later.json()["expiration"].as_i64().unwrap();
    assert!(week > source["expiration"].as_i64().unwrap());
    let info = key_info(&server, later.json()["id"].as_str().unwrap()).await;
    assert_eq!(
        info["metadata"],
        json!({"team": "b", "_cloned_from": source_id})
    );
}

#[tokio::test]
async fn a_clone_needs_a_valid_live_source_credential() {
    let server = TestServer::start().await;
    let (source_id, source_encoded) = setup(&server).await;
    let ann = server.basic("ann", "password-1");
    let reply = ann
        .post("/_security/api_key/clone", json!({"name": "copy"}))
        .await;
    assert_error(
        &reply,
        400,
        "action_request_validation_exception",
        "Validation Failed: 1: api key credential is required;",
    );
    let reply = ann
        .post(
            "/_security/api_key/clone",
            json!({"api_key": source_encoded, "name": "copy", "metadata": {"_cloned_from": "x"}}),
        )
        .await;
    assert_error(
        &reply,
        400,
        "action_request_validation_exception",
        "Validation Failed: 1: API key metadata keys may not start with [_];",
    );
    let reply = ann
        .post(
            "/_security/api_key/clone",
            json!({"api_key": "not base64!", "name": "copy"}),
        )
        .await;
    assert_eq!(reply.status, 400, "{}", reply.text);
    assert_eq!(reply.json()["error"]["type"], "status_exception");
    assert!(
        reply.json()["error"]["reason"]
            .as_str()
            .unwrap()
            .starts_with("invalid API key credential: "),
        "{}",
        reply.text
    );
    // A right id with a wrong secret proves nothing.
    let forged = base64_encode(&format!("{source_id}:wrong-secret-wrong"));
    let reply = ann
        .post(
            "/_security/api_key/clone",
            json!({"api_key": forged, "name": "copy"}),
        )
        .await;
    assert_error(&reply, 403, "security_exception", "Failed to clone API key");
    // An invalidated source cannot be cloned.
    server
        .superuser()
        .delete("/_security/api_key", json!({"ids": [source_id]}))
        .await;
    let reply = ann
        .post(
            "/_security/api_key/clone",
            json!({"api_key": source_encoded, "name": "copy"}),
        )
        .await;
    assert_error(&reply, 403, "security_exception", "Failed to clone API key");
    // Nothing was created by any of these.
    let owned = server
        .superuser()
        .get("/_security/api_key?username=ann")
        .await
        .json();
    assert_eq!(owned["api_keys"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn manage_own_api_key_clones_only_the_callers_keys() {
    let server = TestServer::start().await;
    let (_, source_encoded) = setup(&server).await;
    // bob may manage his own keys; ann's key is not his even with its credential.
    let reply = server
        .basic("bob", "password-1")
        .post(
            "/_security/api_key/clone",
            json!({"api_key": source_encoded, "name": "stolen"}),
        )
        .await;
    assert_eq!(reply.status, 403, "{}", reply.text);
    assert_eq!(reply.json()["error"]["type"], "security_exception");
    // carl holds no API key privilege at all.
    let reply = server
        .basic("carl", "password-1")
        .post(
            "/_security/api_key/clone",
            json!({"api_key": source_encoded, "name": "stolen"}),
        )
        .await;
    assert_error(
        &reply,
        403,
        "security_exception",
        "action [cluster:admin/xpack/security/api_key/clone] is unauthorized for user [carl] with effective roles [monitor_only], this action is granted by the cluster privileges [manage_api_key,manage_security,all]",
    );
    // A superuser (manage_security) may clone anyone's key; the clone stays ann's.
    let reply = server
        .superuser()
        .post(
            "/_security/api_key/clone",
            json!({"api_key": source_encoded, "name": "admin-copy"}),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let info = key_info(&server, reply.json()["id"].as_str().unwrap()).await;
    assert_eq!(info["username"], "ann");
    // The source key itself holds no cluster privilege (its own descriptor gives index reads
    // only, and a key's privileges are its descriptors within its owner's): it may not clone.
    let reply = server
        .api_key(&source_encoded)
        .post(
            "/_security/api_key/clone",
            json!({"api_key": source_encoded, "name": "self-copy"}),
        )
        .await;
    assert_eq!(reply.status, 403, "{}", reply.text);
}

fn base64_encode(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(text)
}
