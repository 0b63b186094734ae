//! The wire conventions every endpoint shares: product header, content types, routing errors,
//! `pretty`, `filter_path`, HEAD.

use serde_json::json;

use crate::support::{TestServer, assert_error};

#[tokio::test]
async fn root_document_identifies_an_elasticsearch_9_cluster() {
    let server = TestServer::start().await;
    let reply = server.superuser().get("/").await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header_values("x-elastic-product"), ["Elasticsearch"]);
    assert_eq!(reply.header_values("content-type"), ["application/json"]);
    let body = reply.json();
    assert_eq!(body["cluster_name"], "keyward");
    // The release whose behaviour keyward follows (COMPATIBILITY.md).
    assert_eq!(body["version"]["number"], "9.4.0");
    assert_eq!(body["version"]["build_flavor"], "default");
    assert_eq!(body["tagline"], "You Know, for Search");
    assert_eq!(body["cluster_uuid"].as_str().unwrap().len(), 22);

    let head = server.superuser().send("HEAD", "/", None, &[]).await;
    assert_eq!(head.status, 200);
    assert_eq!(head.text, "");
}

#[tokio::test]
async fn accept_lists_like_the_javascript_clients_are_understood() {
    let server = TestServer::start().await;
    // What @elastic/elasticsearch 9 sends on every request, bodiless GETs included.
    let headers = [
        (
            "content-type",
            "application/vnd.elasticsearch+json; compatible-with=9",
        ),
        (
            "accept",
            "application/vnd.elasticsearch+json; compatible-with=9,text/plain",
        ),
    ];
    let reply = server
        .superuser()
        .send("GET", "/_security/_authenticate", None, &headers)
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json()["username"], "elastic");
    let reply = server
        .superuser()
        .send("PUT", "/_security/api_key/no-such-key", None, &headers)
        .await;
    assert_error(
        &reply,
        404,
        "resource_not_found_exception",
        "no API key owned by requesting user found for ID [no-such-key]",
    );
}

#[tokio::test]
async fn compatible_media_types_are_accepted_and_echoed() {
    let server = TestServer::start().await;
    for version in ["8", "9"] {
        let media = format!("application/vnd.elasticsearch+json; compatible-with={version}");
        let headers = [("content-type", media.as_str()), ("accept", media.as_str())];
        let reply = server
            .superuser()
            .send(
                "POST",
                "/_security/api_key",
                Some(r#"{"name":"k"}"#),
                &headers,
            )
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        assert_eq!(
            reply.header_values("content-type"),
            [format!(
                "application/vnd.elasticsearch+json;compatible-with={version}"
            )]
        );
        // A Content-Type on a bodiless GET is fine too.
        let reply = server
            .superuser()
            .send("GET", "/_security/api_key", None, &headers)
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text);
    }
    let reply = server
        .superuser()
        .send(
            "POST",
            "/_security/api_key",
            Some(r#"{"name":"k"}"#),
            &[("content-type", "text/plain")],
        )
        .await;
    assert_eq!(reply.status, 406);
    assert_eq!(
        reply.json(),
        json!({"error": "Content-Type header [text/plain] is not supported", "status": 406})
    );
}

#[tokio::test]
async fn unknown_paths_and_wrong_methods() {
    let server = TestServer::start().await;
    let reply = server.superuser().get("/_security/nothing?x=1").await;
    assert_eq!(reply.status, 400);
    assert_eq!(
        reply.json(),
        json!({"error": "no handler found for uri [/_security/nothing?x=1] and method [GET]", "status": 400})
    );
    assert_eq!(reply.header_values("x-elastic-product"), ["Elasticsearch"]);

    let reply = server
        .superuser()
        .send("PATCH", "/_security/api_key", None, &[])
        .await;
    assert_eq!(reply.status, 405);
    assert_eq!(reply.header_values("allow"), ["DELETE,GET,HEAD,POST,PUT"]);
    assert_eq!(
        reply.json(),
        json!({"error": "Incorrect HTTP method for uri [/_security/api_key] and method [PATCH], allowed: [DELETE, GET, HEAD, POST, PUT]", "status": 405})
    );
    // Routing happens before authentication, as in Elasticsearch.
    assert_eq!(server.anonymous().get("/nope/nope").await.status, 400);
    let reply = server.superuser().get("/_security/api_key?bogus=1").await;
    assert_error(
        &reply,
        400,
        "illegal_argument_exception",
        "request [/_security/api_key] contains unrecognized parameter: [bogus]",
    );
}

#[tokio::test]
async fn pretty_and_filter_path_work_everywhere() {
    let server = TestServer::start().await;
    let reply = server.superuser().get("/_cluster/health?pretty").await;
    assert!(
        reply
            .text
            .starts_with("{\n  \"cluster_name\" : \"keyward\",\n"),
        "{}",
        reply.text
    );
    let reply = server
        .superuser()
        .get("/_cluster/health?filter_path=status,number_of_nodes")
        .await;
    assert_eq!(
        reply.json(),
        json!({"status": "green", "number_of_nodes": 1})
    );
    // Elasticsearch builds error bodies without the filter (a filter never hides why a request
    // failed), but pretty-prints them; so does keyward, whatever stage the error comes from.
    let reply = server
        .anonymous()
        .get("/_cluster/health?filter_path=error.type,status&pretty")
        .await;
    assert_eq!(reply.status, 401);
    assert_eq!(reply.json()["error"]["type"], "security_exception");
    assert_eq!(
        reply.json()["error"]["reason"],
        "missing authentication credentials for REST request [/_cluster/health?filter_path=error.type,status&pretty]"
    );
    assert!(
        reply.text.starts_with("{\n  \"error\" : {"),
        "{}",
        reply.text
    );
    // `format` picks the output in Elasticsearch: JSON is served, the others are refused.
    let reply = server
        .superuser()
        .get("/_security/_authenticate?format=json&filter_path=username")
        .await;
    assert_eq!(reply.json(), json!({"username": "elastic"}));
    for format in ["yaml", "cbor", "smile"] {
        let reply = server
            .superuser()
            .get(&format!("/_security/_authenticate?format={format}"))
            .await;
        crate::support::assert_error(
            &reply,
            400,
            "illegal_argument_exception",
            &format!("format [{format}] is not supported: keyward renders JSON only"),
        );
    }
    for (method, path, body, status) in [
        ("GET", "/_nothing_here?pretty&filter_path=status", None, 400),
        (
            "DELETE",
            "/_security/_authenticate?pretty&filter_path=status",
            None,
            405,
        ),
        (
            "POST",
            "/_security/api_key?pretty&filter_path=status",
            Some("{bad"),
            400,
        ),
        (
            "POST",
            "/_security/saml/prepare?pretty&filter_path=status",
            Some("{}"),
            500,
        ),
    ] {
        let reply = server.superuser().send(method, path, body, &[]).await;
        assert_eq!(reply.status, status, "{path}: {}", reply.text);
        assert!(
            reply.text.contains("\"error\" : "),
            "{path}: {}",
            reply.text
        );
        assert!(reply.text.ends_with("}\n"), "{path}: {}", reply.text);
    }
    let reply = server
        .superuser()
        .get("/?human&error_trace=true&filter_path=-version,-tagline,-cluster_uuid,-name")
        .await;
    assert_eq!(reply.json(), json!({"cluster_name": "keyward"}));
}

#[tokio::test]
async fn oversized_bodies_are_refused() {
    let server = TestServer::start_with(&["http.max_content_length=1kb"]).await;
    let body = format!(
        r#"{{"name":"k","metadata":{{"blob":"{}"}}}}"#,
        "x".repeat(1100)
    );
    let reply = server
        .superuser()
        .send("POST", "/_security/api_key", Some(&body), &[])
        .await;
    assert_eq!(
        reply.status,
        413,
        "{}",
        &reply.text[..reply.text.len().min(200)]
    );
    assert_eq!(reply.json()["error"]["type"], "content_too_long_exception");
    let reply = server
        .superuser()
        .post("/_security/api_key", json!({"name": "small"}))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
}

#[tokio::test]
async fn error_trace_adds_a_stack_trace_to_every_error_object() {
    let server = TestServer::start().await;
    let admin = server.superuser();
    let body = json!({"name": "k", "expiration": "not-a-time"});
    let plain = admin.post("/_security/api_key", body.clone()).await;
    assert_eq!(plain.status, 400, "{}", plain.text);
    assert!(!plain.text.contains("stack_trace"), "{}", plain.text);

    let traced = admin
        .post("/_security/api_key?error_trace=true", body)
        .await;
    assert_eq!(traced.status, 400, "{}", traced.text);
    let error = &traced.json()["error"];
    let top = error["stack_trace"].as_str().unwrap();
    assert!(
        top.starts_with(&format!(
            "{}: {}",
            error["type"].as_str().unwrap(),
            error["reason"].as_str().unwrap()
        )),
        "{top}"
    );
    let cause = &error["caused_by"];
    assert!(
        top.contains(&format!(
            "\nCaused by: {}: ",
            cause["type"].as_str().unwrap()
        )),
        "{top}"
    );
    assert!(cause["stack_trace"].is_string(), "{}", traced.text);
    assert!(
        error["root_cause"][0]["stack_trace"].is_string(),
        "{}",
        traced.text
    );
    // error_trace=false is the default.
    let off = admin
        .post(
            "/_security/api_key?error_trace=false",
            json!({"name": "k", "expiration": "x"}),
        )
        .await;
    assert!(!off.text.contains("stack_trace"), "{}", off.text);
}
