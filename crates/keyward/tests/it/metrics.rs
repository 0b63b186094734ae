//! `GET /_keyward/metrics` and `GET /_keyward/openapi.json` through the real server: counts
//! move with the requests made, the endpoint needs `monitor`, and the document is served
//! without credentials.

use serde_json::json;

use crate::support::{TestServer, assert_error, assert_unauthenticated};

/// The value of the sample written exactly as `series` (name and labels), 0 when absent.
fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .filter_map(|line| line.strip_prefix(series))
        .filter_map(|rest| rest.strip_prefix(' '))
        .map(|value| value.parse::<f64>().unwrap())
        .next()
        .unwrap_or(0.0)
}

async fn scrape(server: &TestServer) -> String {
    let reply = server.superuser().get("/_keyward/metrics").await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(
        reply.header_values("content-type"),
        ["text/plain; version=0.0.4; charset=utf-8"]
    );
    reply.text
}

#[tokio::test]
async fn metrics_count_requests_authentications_and_keys() {
    let server = TestServer::start().await;
    let before = scrape(&server).await;
    let created = server
        .superuser()
        .post("/_security/api_key", json!({"name": "counted"}))
        .await;
    assert_eq!(created.status, 200, "{}", created.text);
    let key = created.json();
    let encoded = key["encoded"].as_str().unwrap();
    for _ in 0..3 {
        assert_eq!(
            server.api_key(encoded).get("/_cluster/health").await.status,
            200
        );
    }
    assert_eq!(server.anonymous().get("/_cluster/health").await.status, 401);
    assert_eq!(server.anonymous().get("/no/such/path").await.status, 400);
    let invalidated = server
        .superuser()
        .delete("/_security/api_key", json!({"ids": [key["id"]]}))
        .await;
    assert_eq!(invalidated.status, 200, "{}", invalidated.text);
    assert_eq!(
        server.api_key(encoded).get("/_cluster/health").await.status,
        401
    );
    let after = scrape(&server).await;

    let moved = |series: &str| sample(&after, series) - sample(&before, series);
    for (series, expected) in [
        (
            r#"keyward_http_requests_total{api="security.create_api_key",status_class="2xx"}"#,
            1.0,
        ),
        (
            r#"keyward_http_requests_total{api="cluster.health",status_class="2xx"}"#,
            3.0,
        ),
        (
            r#"keyward_http_requests_total{api="cluster.health",status_class="4xx"}"#,
            2.0,
        ),
        (
            r#"keyward_http_requests_total{api="none",status_class="4xx"}"#,
            1.0,
        ),
        (
            r#"keyward_http_requests_total{api="security.invalidate_api_key",status_class="2xx"}"#,
            1.0,
        ),
        (
            r#"keyward_http_request_duration_seconds_count{api="cluster.health"}"#,
            5.0,
        ),
        (
            r#"keyward_authentications_total{scheme="api_key",outcome="success"}"#,
            3.0,
        ),
        (
            r#"keyward_authentications_total{scheme="api_key",outcome="failure"}"#,
            1.0,
        ),
        (
            r#"keyward_authentications_total{scheme="missing",outcome="failure"}"#,
            1.0,
        ),
    ] {
        assert_eq!(moved(series), expected, "{series}\n{after}");
    }
    assert!(
        moved(r#"keyward_cache_hits_total{cache="api_keys"}"#) >= 2.0,
        "{after}"
    );
    assert!(moved(r#"keyward_store_operation_duration_seconds_count{operation="write"}"#) >= 2.0);
    assert_eq!(
        sample(&after, r#"keyward_api_keys{state="active"}"#),
        0.0,
        "{after}"
    );
    // No key id, secret or path makes it into a label.
    for text in [
        key["id"].as_str().unwrap(),
        key["api_key"].as_str().unwrap(),
        encoded,
    ] {
        assert!(!after.contains(text));
    }
    assert!(!after.contains("/no/such/path"));
}

#[tokio::test]
async fn metrics_need_the_monitor_privilege() {
    let server = TestServer::start().await;
    assert_unauthenticated(
        &server.anonymous().get("/_keyward/metrics").await,
        "missing authentication credentials for REST request [/_keyward/metrics]",
    );
    server
        .put_role("key_manager", json!({"cluster": ["manage_own_api_key"]}))
        .await;
    server
        .put_role("monitoring", json!({"cluster": ["monitor"]}))
        .await;
    server
        .put_user("keeper", "keeper-password", &["key_manager"])
        .await;
    server
        .put_user("watcher", "watcher-password", &["monitoring"])
        .await;
    let denied = server
        .basic("keeper", "keeper-password")
        .get("/_keyward/metrics")
        .await;
    assert_error(
        &denied,
        403,
        "security_exception",
        "action [cluster:monitor/keyward/metrics] is unauthorized for user [keeper] with effective roles [key_manager], this action is granted by the cluster privileges [monitor,manage,all]",
    );
    let allowed = server
        .basic("watcher", "watcher-password")
        .get("/_keyward/metrics")
        .await;
    assert_eq!(allowed.status, 200, "{}", allowed.text);
}

#[tokio::test]
async fn the_openapi_document_needs_no_credentials() {
    let server = TestServer::start().await;
    let reply = server.anonymous().get("/_keyward/openapi.json").await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let document = reply.json();
    assert_eq!(document["openapi"], "3.1.0");
    assert!(document["paths"]["/_keyward/metrics"]["get"].is_object());
    // Routing still comes first: a wrong method is refused before anything else.
    let wrong = server
        .anonymous()
        .post("/_keyward/openapi.json", json!({}))
        .await;
    assert_eq!(wrong.status, 405, "{}", wrong.text);
}
