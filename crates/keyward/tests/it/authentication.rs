//! Authentication failures answer exactly as Elasticsearch does, and secrets never leak.

use base64::Engine;
use serde_json::json;

use crate::support::{TestServer, assert_unauthenticated};

const GENERIC: &str = "unable to authenticate with provided credentials and anonymous access is not allowed for this request";

fn encode(text: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(text)
}

#[tokio::test]
async fn unknown_and_wrong_credentials_are_401_with_challenges() {
    let server = TestServer::start().await;
    let created = server.create_key(json!({"name": "k"})).await;
    let id = created["id"].as_str().unwrap();

    let reply = server
        .api_key(&encode("AAAAAAAAAAAAAAAAAAAA:BBBBBBBBBBBBBBBBBBBBBB"))
        .get("/_cluster/health")
        .await;
    assert_unauthenticated(&reply, GENERIC);
    assert_eq!(
        reply.json()["error"]["additional_unsuccessful_credentials"],
        "API key: unable to find apikey with id AAAAAAAAAAAAAAAAAAAA"
    );

    let reply = server
        .api_key(&encode(&format!("{id}:wrong-secret-xxxxxxxxxx")))
        .get("/_cluster/health")
        .await;
    assert_unauthenticated(&reply, GENERIC);
    assert_eq!(
        reply.json()["error"]["additional_unsuccessful_credentials"],
        format!("API key: invalid credentials for API key [{id}]")
    );

    // After a cache clear the wrong secret is checked against the stored hash, with the same answer.
    server
        .superuser()
        .post_empty("/_security/api_key/*/_clear_cache")
        .await;
    let reply = server
        .api_key(&encode(&format!("{id}:wrong-secret-xxxxxxxxxx")))
        .get("/_cluster/health")
        .await;
    assert_eq!(
        reply.json()["error"]["additional_unsuccessful_credentials"],
        format!("API key: invalid credentials for API key [{id}]")
    );
    assert_eq!(
        server
            .api_key(created["encoded"].as_str().unwrap())
            .get("/_cluster/health")
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn malformed_authorization_headers_are_401() {
    let server = TestServer::start().await;
    for (header, cause) in [
        ("ApiKey !!!!", None),
        ("ApiKey bm8tY29sb24=", Some("invalid ApiKey value")),
        ("ApiKey OnNlY3JldA==", Some("invalid ApiKey value")),
    ] {
        let reply = server
            .with_authorization(header)
            .get("/_cluster/health")
            .await;
        assert_unauthenticated(&reply, "error attempting to authenticate request");
        let caused_by = &reply.json()["error"]["caused_by"];
        assert_eq!(caused_by["type"], "illegal_argument_exception", "{header}");
        if let Some(cause) = cause {
            assert_eq!(caused_by["reason"], cause, "{header}");
        }
    }
}

#[tokio::test]
async fn missing_credentials_and_bad_passwords() {
    let server = TestServer::start().await;
    let reply = server.anonymous().get("/_cluster/health?pretty").await;
    assert_unauthenticated(
        &reply,
        "missing authentication credentials for REST request [/_cluster/health?pretty]",
    );
    let reply = server
        .with_authorization(&format!("Basic {}", encode("elastic:nope")))
        .get("/_security/_authenticate")
        .await;
    assert_unauthenticated(
        &reply,
        "unable to authenticate user [elastic] for REST request [/_security/_authenticate]",
    );
    let reply = server
        .with_authorization(&format!("Basic {}", encode("ghost:whatever")))
        .get("/")
        .await;
    assert_unauthenticated(
        &reply,
        "unable to authenticate user [ghost] for REST request [/]",
    );
}

#[tokio::test]
async fn superuser_authenticate_shape() {
    let server = TestServer::start().await;
    let me = server
        .superuser()
        .get("/_security/_authenticate")
        .await
        .json();
    assert_eq!(
        me,
        json!({
            "username": "elastic", "roles": ["superuser"], "full_name": null, "email": null,
            "metadata": {"_reserved": true}, "enabled": true,
            "authentication_realm": {"name": "reserved", "type": "reserved"},
            "lookup_realm": {"name": "reserved", "type": "reserved"},
            "authentication_type": "realm"
        })
    );
}

#[tokio::test]
async fn secrets_never_reach_logs_or_error_bodies() {
    let server = TestServer::start().await;
    let created = server.create_key(json!({"name": "k"})).await;
    let secret = created["api_key"].as_str().unwrap().to_owned();
    let encoded = created["encoded"].as_str().unwrap().to_owned();
    let id = created["id"].as_str().unwrap();
    let mut bodies = Vec::new();
    // Failures that involve the real secret: wrong id with the right secret, invalidation.
    bodies.push(
        server
            .api_key(&encode(&format!("xxxxxxxxxxxxxxxxxxxx:{secret}")))
            .get("/")
            .await
            .text,
    );
    bodies.push(
        server
            .api_key(&encoded)
            .post("/_security/api_key", json!({"name": "child"}))
            .await
            .text,
    );
    server
        .superuser()
        .delete("/_security/api_key", json!({"ids": [id]}))
        .await;
    bodies.push(server.api_key(&encoded).get("/").await.text);
    bodies.push(
        server
            .superuser()
            .get("/_security/api_key?with_limited_by=true")
            .await
            .text,
    );
    for body in &bodies {
        assert!(
            !body.contains(&secret) && !body.contains(&encoded),
            "secret in a response: {body}"
        );
    }
    let logs = server.logs();
    assert!(
        logs.contains("keyward started"),
        "the log is captured: {logs}"
    );
    assert!(
        !logs.contains(&secret) && !logs.contains(&encoded),
        "secret in the log: {logs}"
    );
    assert!(
        !logs.contains(crate::support::PASSWORD),
        "password in the log"
    );
}
