//! The API key lifecycle through the real server: create, use, get, update, invalidate.

use base64::Engine;
use serde_json::json;

use crate::support::{TestServer, assert_error, assert_unauthenticated};

fn seed_body() -> serde_json::Value {
    json!({
        "name": "my-api-key",
        "expiration": "1d",
        "role_descriptors": {
            "role-a": {"cluster": ["all"], "index": [{"names": ["index-a*"], "privileges": ["read"]}]},
            "role-b": {"cluster": ["all"], "index": [{"names": ["index-b*"], "privileges": ["all"]}]}
        },
        "metadata": {"application": "my-application", "environment": {"level": 1, "trusted": true, "tags": ["dev", "staging"]}}
    })
}

#[tokio::test]
async fn create_returns_key_material_that_authenticates() {
    let server = TestServer::start().await;
    let before = now_millis();
    let created = server.create_key(seed_body()).await;
    let after = now_millis();

    let id = created["id"].as_str().unwrap();
    let secret = created["api_key"].as_str().unwrap();
    assert_eq!(id.len(), 20);
    assert_eq!(secret.len(), 22);
    assert!(
        id.chars()
            .chain(secret.chars())
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    );
    assert_eq!(created["name"], "my-api-key");
    let expected = base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"));
    assert_eq!(created["encoded"], expected);
    let keys: Vec<&str> = created
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, ["id", "name", "expiration", "api_key", "encoded"]);
    let expiration = created["expiration"].as_i64().unwrap();
    assert!(
        expiration >= before + 86_399_000 && expiration <= after + 86_400_000,
        "{expiration}"
    );

    let health = server.api_key(&expected).get("/_cluster/health").await;
    assert_eq!(health.status, 200, "{}", health.text);
    assert_eq!(health.json()["status"], "green");

    let me = server
        .api_key(&expected)
        .get("/_security/_authenticate")
        .await
        .json();
    assert_eq!(me["username"], "elastic");
    assert_eq!(me["roles"], json!([]));
    assert_eq!(
        me["authentication_realm"],
        json!({"name": "_es_api_key", "type": "_es_api_key"})
    );
    assert_eq!(
        me["lookup_realm"],
        json!({"name": "_es_api_key", "type": "_es_api_key"})
    );
    assert_eq!(me["authentication_type"], "api_key");
    assert_eq!(me["api_key"]["id"], id);
    assert_eq!(me["api_key"]["name"], "my-api-key");
    assert!(me["api_key"].get("api_key").is_none() && me["api_key"].get("encoded").is_none());
}

#[tokio::test]
async fn get_shows_the_key_normalised_and_404s_for_unknown_ids() {
    let server = TestServer::start().await;
    let created = server.create_key(seed_body()).await;
    let id = created["id"].as_str().unwrap();

    let reply = server
        .superuser()
        .get(&format!("/_security/api_key?id={id}"))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let key = &reply.json()["api_keys"][0];
    assert_eq!(key["id"], id);
    assert_eq!(key["name"], "my-api-key");
    assert_eq!(key["type"], "rest");
    assert_eq!(key["invalidated"], false);
    assert_eq!(key["username"], "elastic");
    assert_eq!(key["realm"], "reserved");
    assert_eq!(key["realm_type"], "reserved");
    assert_eq!(key["expiration"], created["expiration"]);
    assert_eq!(key["metadata"], seed_body()["metadata"]);
    assert_eq!(
        key["role_descriptors"]["role-a"],
        json!({"cluster": ["all"], "indices": [{"names": ["index-a*"], "privileges": ["read"], "allow_restricted_indices": false}],
               "applications": [], "run_as": [], "metadata": {}, "transient_metadata": {"enabled": true}})
    );
    assert!(key.get("limited_by").is_none());
    assert!(key.get("invalidation").is_none());

    let with_limited = server
        .superuser()
        .get(&format!("/_security/api_key?id={id}&with_limited_by=true"))
        .await
        .json();
    let limited_by = &with_limited["api_keys"][0]["limited_by"];
    assert_eq!(limited_by.as_array().unwrap().len(), 1);
    assert_eq!(limited_by[0]["superuser"]["cluster"], json!(["all"]));

    let missing = server
        .superuser()
        .get("/_security/api_key?id=does-not-exist")
        .await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.json(), json!({"api_keys": []}));
}

#[tokio::test]
async fn get_filters_by_name_owner_realm_and_activity() {
    let server = TestServer::start().await;
    let a = server.create_key(json!({"name": "team-a"})).await;
    server.create_key(json!({"name": "team-b"})).await;
    server.create_key(json!({"name": "other"})).await;
    let names = |reply: crate::support::Reply| -> Vec<String> {
        let body = reply.json();
        let mut names: Vec<String> = body["api_keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|key| key["name"].as_str().unwrap().to_owned())
            .collect();
        names.sort();
        names
    };
    let su = server.superuser();
    assert_eq!(
        names(su.get("/_security/api_key?name=team-*").await),
        ["team-a", "team-b"]
    );
    assert_eq!(
        names(su.get("/_security/api_key?name=other").await),
        ["other"]
    );
    assert_eq!(names(su.get("/_security/api_key?name=*").await).len(), 3);
    assert_eq!(
        names(su.get("/_security/api_key?owner=true").await).len(),
        3
    );
    assert_eq!(
        names(
            su.get("/_security/api_key?username=elastic&realm_name=reserved")
                .await
        )
        .len(),
        3
    );
    assert_eq!(
        names(su.get("/_security/api_key?username=nobody").await).len(),
        0
    );
    let none = su.get("/_security/api_key?name=nothing").await;
    assert_eq!(none.status, 200);
    assert_eq!(none.json(), json!({"api_keys": []}));

    let invalidated = su
        .delete("/_security/api_key", json!({"ids": [a["id"]]}))
        .await;
    assert_eq!(invalidated.status, 200);
    assert_eq!(
        names(su.get("/_security/api_key?active_only=true").await),
        ["other", "team-b"]
    );
    let all = su.get("/_security/api_key").await.json();
    let first = all["api_keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|key| key["id"] == a["id"])
        .unwrap()
        .clone();
    assert_eq!(first["invalidated"], true);
    assert!(first["invalidation"].as_i64().unwrap() >= first["creation"].as_i64().unwrap());
}

#[tokio::test]
async fn get_rejects_conflicting_parameters() {
    let server = TestServer::start().await;
    let reply = server
        .superuser()
        .get("/_security/api_key?id=x&username=elastic")
        .await;
    assert_error(
        &reply,
        400,
        "action_request_validation_exception",
        "Validation Failed: 1: username or realm name must not be specified when the api key id or api key name is specified;",
    );
    let reply = server
        .superuser()
        .get("/_security/api_key?id=x&name=y")
        .await;
    assert_error(
        &reply,
        400,
        "action_request_validation_exception",
        "Validation Failed: 1: only one of [api key id, api key name] can be specified;",
    );
    let reply = server
        .superuser()
        .get("/_security/api_key?owner=true&realm_name=reserved")
        .await;
    assert_error(
        &reply,
        400,
        "action_request_validation_exception",
        "Validation Failed: 1: neither username nor realm-name may be specified when retrieving owned API keys;",
    );
    let reply = server
        .superuser()
        .get("/_security/api_key?owner=maybe")
        .await;
    assert_error(
        &reply,
        400,
        "illegal_argument_exception",
        "Failed to parse value [maybe] as only [true] or [false] are allowed.",
    );
}

#[tokio::test]
async fn invalidation_is_immediate_and_idempotent() {
    let server = TestServer::start().await;
    let created = server.create_key(json!({"name": "short-lived"})).await;
    let id = created["id"].as_str().unwrap();
    let encoded = created["encoded"].as_str().unwrap();
    assert_eq!(
        server
            .api_key(encoded)
            .get("/_security/_authenticate")
            .await
            .status,
        200
    );

    let reply = server
        .superuser()
        .delete("/_security/api_key", json!({"ids": [id]}))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(
        reply.json(),
        json!({"invalidated_api_keys": [id], "previously_invalidated_api_keys": [], "error_count": 0})
    );

    let denied = server
        .api_key(encoded)
        .get("/_security/_authenticate")
        .await;
    assert_unauthenticated(
        &denied,
        "unable to authenticate with provided credentials and anonymous access is not allowed for this request",
    );
    assert_eq!(
        denied.json()["error"]["additional_unsuccessful_credentials"],
        format!("API key: api key [{id}] has been invalidated")
    );

    let again = server
        .superuser()
        .delete("/_security/api_key", json!({"ids": [id]}))
        .await;
    assert_eq!(
        again.json(),
        json!({"invalidated_api_keys": [], "previously_invalidated_api_keys": [], "error_count": 0})
    );
}

/// Statuses of `GET /_cluster/health` sent `count` times at once with `encoded`, over as many
/// connections as it takes, so every server thread serves some.
async fn health_statuses(server: &TestServer, encoded: &str, count: usize) -> Vec<u16> {
    let mut requests = tokio::task::JoinSet::new();
    for _ in 0..count {
        let url = format!("{}/_cluster/health", server.url);
        let authorization = format!("ApiKey {encoded}");
        requests.spawn(async move {
            // A client each: one connection each, none shared.
            let response = reqwest::Client::new()
                .get(url)
                .header("authorization", authorization)
                .send()
                .await
                .expect("request");
            response.status().as_u16()
        });
    }
    requests.join_all().await
}

#[tokio::test]
async fn a_busy_key_is_refused_by_every_thread_once_invalidated_or_narrowed() {
    let server = TestServer::start().await;
    let created = server
        .create_key(json!({"name": "busy", "role_descriptors": {"r": {"cluster": ["monitor"]}}}))
        .await;
    let id = created["id"].as_str().unwrap();
    let encoded = created["encoded"].as_str().unwrap();
    assert!(
        health_statuses(&server, encoded, 32)
            .await
            .iter()
            .all(|status| *status == 200)
    );

    // Narrowed: the key loses `monitor`, and no thread goes on granting it.
    let reply = server
        .superuser()
        .put(
            &format!("/_security/api_key/{id}"),
            json!({"role_descriptors": {"r": {"cluster": ["manage_own_api_key"]}}}),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(health_statuses(&server, encoded, 32).await, vec![403; 32]);

    // Invalidated: no thread goes on accepting it.
    let reply = server
        .superuser()
        .delete("/_security/api_key", json!({"ids": [id]}))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(health_statuses(&server, encoded, 32).await, vec![401; 32]);
}

#[tokio::test]
async fn invalidate_by_name_owner_and_realm() {
    let server = TestServer::start().await;
    for name in ["a-1", "a-2", "b-1"] {
        server.create_key(json!({"name": name})).await;
    }
    let su = server.superuser();
    let reply = su
        .delete("/_security/api_key", json!({"name": "a-*"}))
        .await
        .json();
    assert_eq!(reply["invalidated_api_keys"].as_array().unwrap().len(), 2);
    let reply = su
        .delete("/_security/api_key", json!({"owner": "true"}))
        .await
        .json();
    assert_eq!(reply["invalidated_api_keys"].as_array().unwrap().len(), 1);
    server.create_key(json!({"name": "c"})).await;
    let reply = su
        .delete("/_security/api_key", json!({"realm_name": "reserved"}))
        .await
        .json();
    assert_eq!(reply["invalidated_api_keys"].as_array().unwrap().len(), 1);
    let reply = su
        .delete("/_security/api_key", json!({"username": "elastic"}))
        .await
        .json();
    assert_eq!(reply["invalidated_api_keys"], json!([]));
}

#[tokio::test]
async fn invalidate_rejects_bad_requests() {
    let server = TestServer::start().await;
    let su = server.superuser();
    assert_error(
        &su.delete("/_security/api_key", json!({})).await,
        400,
        "action_request_validation_exception",
        "Validation Failed: 1: One of [api key id(s), api key name, username, realm name] must be specified if [owner] flag is false;",
    );
    assert_error(
        &su.delete("/_security/api_key", json!({"ids": []})).await,
        400,
        "illegal_argument_exception",
        "Field [ids] cannot be an empty array",
    );
    assert_error(
        &su.delete("/_security/api_key", json!({"ids": ["a", " "]}))
            .await,
        400,
        "illegal_argument_exception",
        "Field [ids] must not contain blank id, but got blank id at index position: [1]",
    );
    assert_error(
        &su.delete(
            "/_security/api_key",
            json!({"ids": ["a"], "username": "elastic"}),
        )
        .await,
        400,
        "action_request_validation_exception",
        "Validation Failed: 1: username or realm name must not be specified when the api key id(s) or api key name are specified;",
    );
    assert_error(
        &su.delete("/_security/api_key", json!({"idz": ["a"]})).await,
        400,
        "x_content_parse_exception",
        "[invalidate_api_key] unknown field [idz]",
    );
    // The singular `id` was REST API version 7 compatibility only; Elasticsearch 9 has none.
    assert_error(
        &su.delete("/_security/api_key", json!({"id": "a"})).await,
        400,
        "x_content_parse_exception",
        "[invalidate_api_key] unknown field [id]",
    );
    assert_error(
        &su.send("DELETE", "/_security/api_key", None, &[]).await,
        400,
        "parse_exception",
        "request body is required",
    );
}

#[tokio::test]
async fn update_replaces_descriptors_and_metadata_and_detects_noops() {
    let server = TestServer::start().await;
    let created = server.create_key(json!({"name": "k", "role_descriptors": {"r": {"cluster": ["manage_api_key"]}}, "metadata": {"step": 1}})).await;
    let id = created["id"].as_str().unwrap();
    let encoded = created["encoded"].as_str().unwrap();
    let su = server.superuser();
    // The key cannot call cluster health: manage_api_key does not grant monitor.
    let denied = server.api_key(encoded).get("/_cluster/health").await;
    assert_eq!(denied.status, 403, "{}", denied.text);
    assert_eq!(denied.json()["error"]["type"], "security_exception");
    assert_eq!(
        denied.json()["error"]["reason"],
        format!(
            "action [cluster:monitor/health] is unauthorized for API key id [{id}] of user [elastic], this action is granted by the cluster privileges [monitor,manage,all]"
        )
    );

    let path = format!("/_security/api_key/{id}");
    assert_eq!(
        su.send("PUT", &path, None, &[]).await.json(),
        json!({"updated": false})
    );
    let reply = su
        .put(
            &path,
            json!({"role_descriptors": {"r": {"cluster": ["monitor"]}}, "metadata": {"step": 2}}),
        )
        .await;
    assert_eq!(reply.json(), json!({"updated": true}), "{}", reply.text);
    // The change is visible at once: the cache entry was dropped.
    assert_eq!(
        server.api_key(encoded).get("/_cluster/health").await.status,
        200
    );
    let key = su.get(&format!("/_security/api_key?id={id}")).await.json()["api_keys"][0].clone();
    assert_eq!(key["metadata"], json!({"step": 2}));
    assert_eq!(key["role_descriptors"]["r"]["cluster"], json!(["monitor"]));
    assert_eq!(
        su.put(&path, json!({"metadata": {"step": 2}})).await.json(),
        json!({"updated": false})
    );
    assert_eq!(
        su.put(&path, json!({"expiration": "1h"})).await.json(),
        json!({"updated": true})
    );
    let key = su.get(&format!("/_security/api_key?id={id}")).await.json()["api_keys"][0].clone();
    assert!(key["expiration"].as_i64().unwrap() > key["creation"].as_i64().unwrap());
    assert_eq!(
        su.put(&path, json!({"role_descriptors": {}, "metadata": {}}))
            .await
            .json(),
        json!({"updated": true})
    );
    let key = su.get(&format!("/_security/api_key?id={id}")).await.json()["api_keys"][0].clone();
    assert_eq!(key["metadata"], json!({}));
    assert_eq!(key["role_descriptors"], json!({}));
}

#[tokio::test]
async fn update_errors_match_elasticsearch() {
    let server = TestServer::start().await;
    let created = server.create_key(json!({"name": "k"})).await;
    let id = created["id"].as_str().unwrap();
    let su = server.superuser();
    let path = format!("/_security/api_key/{id}");
    for expiration in ["0", "-1", "0s"] {
        assert_error(
            &su.put(&path, json!({"expiration": expiration})).await,
            400,
            "action_request_validation_exception",
            "Validation Failed: 1: API key expiration must be in the future;",
        );
    }
    assert_error(
        &su.put(&path, json!({"metadata": {"_x": 1}})).await,
        400,
        "action_request_validation_exception",
        "Validation Failed: 1: API key metadata keys may not start with [_];",
    );
    assert_error(
        &su.put("/_security/api_key/nope", json!({})).await,
        404,
        "resource_not_found_exception",
        "no API key owned by requesting user found for ID [nope]",
    );
    assert_error(
        &server
            .api_key(created["encoded"].as_str().unwrap())
            .put(&path, json!({}))
            .await,
        400,
        "illegal_argument_exception",
        "authentication via API key not supported: only the owner user can update an API key",
    );
    su.delete("/_security/api_key", json!({"ids": [id]})).await;
    assert_error(
        &su.put(&path, json!({})).await,
        400,
        "illegal_argument_exception",
        &format!("cannot update invalidated API key [{id}]"),
    );
}

#[tokio::test]
async fn bulk_update_reports_each_key() {
    let server = TestServer::start().await;
    let su = server.superuser();
    let a = server
        .create_key(json!({"name": "a", "metadata": {"v": 1}}))
        .await["id"]
        .clone();
    let b = server
        .create_key(json!({"name": "b", "metadata": {"v": 1}}))
        .await["id"]
        .clone();
    let gone = server.create_key(json!({"name": "gone"})).await["id"].clone();
    su.delete("/_security/api_key", json!({"ids": [gone]}))
        .await;

    let reply = su
        .post(
            "/_security/api_key/_bulk_update",
            json!({"ids": [a, b], "metadata": {"v": 2}}),
        )
        .await;
    assert_eq!(
        reply.json(),
        json!({"updated": [a, b], "noops": []}),
        "{}",
        reply.text
    );
    let reply = su
        .post("/_security/api_key/_bulk_update", json!({"ids": [b, a]}))
        .await;
    assert_eq!(reply.json(), json!({"updated": [], "noops": [b, a]}));
    let reply = su
        .post(
            "/_security/api_key/_bulk_update",
            json!({"ids": [a, "missing", gone], "metadata": {"v": 3}}),
        )
        .await;
    assert_eq!(
        reply.json(),
        json!({"updated": [a], "noops": [], "errors": {"count": 2, "details": {
            "missing": {"type": "resource_not_found_exception", "reason": "no API key owned by requesting user found for ID [missing]"},
            gone.as_str().unwrap(): {"type": "illegal_argument_exception", "reason": format!("cannot update invalidated API key [{}]", gone.as_str().unwrap())}
        }}})
    );
    assert_error(
        &su.post("/_security/api_key/_bulk_update", json!({"ids": []}))
            .await,
        400,
        "action_request_validation_exception",
        "Validation Failed: 1: Field [ids] cannot be empty;",
    );
}

#[tokio::test]
async fn clear_cache_answers_for_this_node() {
    let server = TestServer::start().await;
    let created = server.create_key(json!({"name": "k"})).await;
    let id = created["id"].as_str().unwrap();
    for ids in [id, "*"] {
        let reply = server
            .superuser()
            .post_empty(&format!("/_security/api_key/{ids}/_clear_cache"))
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        let body = reply.json();
        assert_eq!(
            body["_nodes"],
            json!({"total": 1, "successful": 1, "failed": 0})
        );
        assert_eq!(body["cluster_name"], "keyward");
        assert_eq!(body["nodes"].as_object().unwrap().len(), 1);
    }
    // After a cache clear the key still authenticates, now verified against the store.
    assert_eq!(
        server
            .api_key(created["encoded"].as_str().unwrap())
            .get("/_security/_authenticate")
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn api_keys_can_only_derive_keys_without_privileges() {
    let server = TestServer::start().await;
    let created = server.create_key(json!({"name": "parent"})).await;
    let key = server.api_key(created["encoded"].as_str().unwrap());
    let reason = "creating derived api keys requires an explicit role descriptor that is empty (has no privileges)";
    assert_error(
        &key.post("/_security/api_key", json!({"name": "child"}))
            .await,
        400,
        "illegal_argument_exception",
        reason,
    );
    assert_error(
        &key.post(
            "/_security/api_key",
            json!({"name": "child", "role_descriptors": {"r": {"cluster": ["all"]}}}),
        )
        .await,
        400,
        "illegal_argument_exception",
        reason,
    );
    let child = key
        .post(
            "/_security/api_key",
            json!({"name": "child", "role_descriptors": {"empty": {}}}),
        )
        .await;
    assert_eq!(child.status, 200, "{}", child.text);
    let child_key = server.api_key(child.json()["encoded"].as_str().unwrap());
    let me = child_key.get("/_security/_authenticate").await.json();
    assert_eq!(me["username"], "elastic");
    assert_eq!(child_key.get("/_cluster/health").await.status, 403);
}

#[tokio::test]
async fn create_rejects_bad_input_and_writes_nothing() {
    let server = TestServer::start().await;
    let su = server.superuser();
    assert_error(
        &su.post(
            "/_security/api_key",
            json!({"name": "_hidden", "metadata": {"_x": 1}}),
        )
        .await,
        400,
        "action_request_validation_exception",
        "Validation Failed: 1: api key name may not begin with an underscore;2: API key metadata keys may not start with [_];",
    );
    assert_error(
        &su.post("/_security/api_key", json!({"name": ""})).await,
        400,
        "action_request_validation_exception",
        "Validation Failed: 1: api key name is required;",
    );
    assert_error(
        &su.post("/_security/api_key", json!({"name": "k", "x": 1}))
            .await,
        400,
        "x_content_parse_exception",
        "[api_key_request] unknown field [x]",
    );
    let reply = su
        .post(
            "/_security/api_key",
            json!({"name": "k", "role_descriptors": {"r": {"cluster": ["fly"]}}}),
        )
        .await;
    assert_eq!(reply.status, 400, "{}", reply.text);
    assert_eq!(
        reply.json()["error"]["type"],
        "action_request_validation_exception"
    );
    assert!(
        reply.json()["error"]["reason"]
            .as_str()
            .unwrap()
            .contains("unknown cluster privilege [fly]")
    );
    let reply = su
        .post(
            "/_security/api_key",
            json!({"name": "k", "expiration": "1.5d"}),
        )
        .await;
    assert_eq!(reply.status, 400, "{}", reply.text);
    assert_eq!(reply.json()["error"]["type"], "x_content_parse_exception");
    assert_eq!(
        reply.json()["error"]["caused_by"]["reason"],
        "failed to parse [1.5d], fractional time values are not supported"
    );
    let reply = su.post("/_security/api_key", json!({"name": ["k"]})).await;
    assert_eq!(reply.status, 400, "{}", reply.text);
    assert_eq!(reply.json()["error"]["type"], "x_content_parse_exception");
    let reply = su
        .send("POST", "/_security/api_key", Some("{\"name\": "), &[])
        .await;
    assert_eq!(reply.status, 400, "{}", reply.text);
    assert_eq!(reply.json()["error"]["type"], "x_content_parse_exception");
    assert_error(
        &su.send("POST", "/_security/api_key", None, &[]).await,
        400,
        "parse_exception",
        "request body is required",
    );
    // Nothing of the above was stored.
    assert_eq!(
        su.get("/_security/api_key").await.json(),
        json!({"api_keys": []})
    );
}

#[tokio::test]
async fn expired_keys_stop_authenticating() {
    let server = TestServer::start().await;
    // Elasticsearch accepts a non-positive expiration on create: the key is born expired.
    let created = server
        .create_key(json!({"name": "k", "expiration": "0s"}))
        .await;
    let reply = server
        .api_key(created["encoded"].as_str().unwrap())
        .get("/_security/_authenticate")
        .await;
    assert_unauthenticated(
        &reply,
        "unable to authenticate with provided credentials and anonymous access is not allowed for this request",
    );
    assert_eq!(
        reply.json()["error"]["additional_unsuccessful_credentials"],
        "API key: api key is expired"
    );
    let key = server
        .superuser()
        .get(&format!(
            "/_security/api_key?id={}&active_only=true",
            created["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(key.status, 404);
}

fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

#[tokio::test]
async fn the_remover_deletes_keys_past_their_retention() {
    let server = TestServer::start_with(&[
        "xpack.security.authc.api_key.delete.retention_period=0s",
        "xpack.security.authc.api_key.delete.interval=1s",
    ])
    .await;
    let kept = server.create_key(json!({"name": "kept"})).await;
    let gone = server.create_key(json!({"name": "gone"})).await;
    let expired = server
        .create_key(json!({"name": "expired", "expiration": "0s"}))
        .await;
    server
        .superuser()
        .delete("/_security/api_key", json!({"ids": [gone["id"]]}))
        .await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let body = server.superuser().get("/_security/api_key").await.json();
        let ids: Vec<&serde_json::Value> = body["api_keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|key| &key["id"])
            .collect();
        if ids == [&kept["id"]] {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "inactive keys were not removed: {ids:?} (expired {})",
            expired["id"]
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}
