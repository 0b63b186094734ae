//! Elasticsearch's rules for request bodies: actions that take none refuse one, and a key
//! repeated anywhere in a JSON body is refused, so no proxy in front can read it differently.

use serde_json::json;

use crate::support::{TestServer, assert_error, assert_unauthenticated};

#[tokio::test]
async fn a_body_sent_to_an_action_that_takes_none_is_refused() {
    let server = TestServer::start().await;
    let su = server.superuser();
    for (method, path) in [
        ("GET", "/_security/_authenticate"),
        ("GET", "/"),
        ("GET", "/_cluster/health"),
        ("GET", "/_security/user/elastic"),
        ("GET", "/_security/api_key"),
        ("DELETE", "/_security/user/nobody"),
        ("DELETE", "/_security/role/nothing"),
        ("POST", "/_security/api_key/*/_clear_cache"),
        ("PUT", "/_security/user/elastic/_disable"),
    ] {
        let reply = su.send(method, path, Some("{}"), &[]).await;
        assert_error(
            &reply,
            400,
            "illegal_argument_exception",
            &format!("request [{method} {path}] does not support having a body"),
        );
    }
    // The query string is not part of the path in the reason.
    let reply = su
        .send("GET", "/_security/_authenticate?pretty", Some("{}"), &[])
        .await;
    assert_error(
        &reply,
        400,
        "illegal_argument_exception",
        "request [GET /_security/_authenticate] does not support having a body",
    );
    // Authentication comes first.
    let reply = server
        .anonymous()
        .send("GET", "/_security/_authenticate", Some("{}"), &[])
        .await;
    assert_unauthenticated(
        &reply,
        "missing authentication credentials for REST request [/_security/_authenticate]",
    );
    // An empty body is no body; nothing was disabled above.
    let reply = su
        .send("GET", "/_security/_authenticate", Some(""), &[])
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json()["enabled"], true);
}

/// Asserts Elasticsearch's answer to a repeated key `name`, reported at `position`.
#[track_caller]
fn assert_duplicate(reply: &crate::support::Reply, position: &str, name: &str) {
    let duplicate = format!("Duplicate field '{name}'");
    assert_error(
        reply,
        400,
        "x_content_parse_exception",
        &format!("{position} {duplicate}"),
    );
    let body = reply.json();
    assert_eq!(body["error"]["caused_by"]["type"], "json_parse_exception");
    assert_eq!(body["error"]["caused_by"]["reason"], duplicate.as_str());
}

#[tokio::test]
async fn a_repeated_key_anywhere_in_a_body_is_refused() {
    let server = TestServer::start().await;
    let su = server.superuser();
    let create = |body: &'static str| su.send("POST", "/_security/api_key", Some(body), &[]);

    let reply = create(r#"{"name":"a","name":"b"}"#).await;
    assert_duplicate(&reply, "[1:18]", "name");
    let reply = create(r#"{"name":"a","metadata":{"tier":1,"tier":2}}"#).await;
    assert_duplicate(&reply, "[1:39]", "tier");
    let reply =
        create(r#"{"name":"a","role_descriptors":{"r":{"cluster":["all"]},"r":{"cluster":[]}}}"#)
            .await;
    assert_duplicate(&reply, "[1:59]", "r");
    let reply = create(
        r#"{"name":"a","role_descriptors":{"r":{"indices":[{"names":["x"],"privileges":["read"],"names":["y"]}]}}}"#,
    )
    .await;
    assert_duplicate(&reply, "[1:92]", "names");
    // Nothing was created.
    let keys = su.get("/_security/api_key").await;
    assert_eq!(keys.json()["api_keys"], json!([]), "{}", keys.text);
    // Keys that only look alike are different keys.
    let reply = create(r#"{"name":"a","metadata":{"tier":1,"Tier":2,"a":{"tier":3}}}"#).await;
    assert_eq!(reply.status, 200, "{}", reply.text);

    let reply = su
        .send(
            "PUT",
            "/_security/user/dup",
            Some(r#"{"password":"l0ng-enough","roles":[],"roles":["superuser"]}"#),
            &[],
        )
        .await;
    assert_duplicate(&reply, "[1:44]", "roles");
    let reply = su
        .send(
            "PUT",
            "/_security/user/dup",
            Some(r#"{"password":"l0ng-enough","metadata":{"m":{"x":1,"x":2}}}"#),
            &[],
        )
        .await;
    assert_duplicate(&reply, "[1:52]", "x");
    assert_eq!(su.get("/_security/user/dup").await.status, 404);

    for body in [
        r#"{"query":{"term":{"name":"a"}},"query":{"match_all":{}}}"#,
        r#"{"query":{"bool":{"must":[{"term":{"name":"a"}}],"must":[]}}}"#,
    ] {
        let reply = su
            .send("POST", "/_security/_query/api_key", Some(body), &[])
            .await;
        assert_eq!(reply.status, 400, "{}", reply.text);
        assert_eq!(reply.json()["error"]["type"], "x_content_parse_exception");
        assert!(
            reply.json()["error"]["reason"]
                .as_str()
                .unwrap()
                .ends_with("Duplicate field 'query'")
                || reply.json()["error"]["reason"]
                    .as_str()
                    .unwrap()
                    .ends_with("Duplicate field 'must'"),
            "{}",
            reply.text
        );
    }
}
