//! Hostile queries through the real server: patterns that backtrack, aggregations that multiply
//! buckets, queries too large or too deep for the store, each answered quickly with
//! Elasticsearch's 400.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::{TestServer, assert_error};

/// Generous: each request here answers in milliseconds once fixed; before, they ran for hours.
const PATIENCE: Duration = Duration::from_secs(30);

async fn within<T>(future: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(PATIENCE, future)
        .await
        .expect("the server did not answer in time")
}

#[tokio::test]
async fn wildcard_with_many_stars_does_not_backtrack() {
    let server = TestServer::start().await;
    let long = "a".repeat(5_000);
    let reply = server
        .superuser()
        .put(
            "/_security/user/runner",
            json!({"password": "runner-password", "roles": [], "full_name": long}),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let pattern = "*a*a*a*a*a*a*a*a*a*a*b";
    // Users are queried in memory.
    let reply = within(server.superuser().post(
        "/_security/_query/user",
        json!({"query": {"wildcard": {"full_name": pattern}}}),
    ))
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json()["count"], 0, "{}", reply.text);
    let reply = within(server.superuser().post(
        "/_security/_query/user",
        json!({"query": {"wildcard": {"full_name": format!("{pattern}*")}}}),
    ))
    .await;
    assert_eq!(reply.json()["count"], 0, "{}", reply.text);
    let reply = within(server.superuser().post(
        "/_security/_query/user",
        json!({"query": {"wildcard": {"full_name": "*a*a*a*a*a*a*a*a*a*a*a"}}}),
    ))
    .await;
    assert_eq!(reply.json()["count"], 1, "{}", reply.text);

    // A filter aggregation evaluates its query in memory too.
    server
        .create_key(json!({"name": "long", "metadata": {"note": long}}))
        .await;
    let reply = within(server.superuser().post(
        "/_security/_query/api_key",
        json!({"size": 0, "aggs": {"slow": {"filter": {"wildcard": {"name": pattern}}}}}),
    ))
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json()["aggregations"]["slow"]["doc_count"], 0);
}

/// `levels` nested `filters` aggregations of `width` filters each.
fn nested_filters(levels: usize, width: usize) -> Value {
    let filters: Vec<Value> = (0..width).map(|_| json!({"match_all": {}})).collect();
    let mut aggs: Option<Value> = None;
    for level in 0..levels {
        let mut agg = json!({"filters": {"filters": filters.clone()}});
        if let Some(inner) = aggs {
            agg["aggs"] = inner;
        }
        aggs = Some(json!({ format!("level{level}"): agg }));
    }
    aggs.unwrap_or_else(|| json!({}))
}

#[tokio::test]
async fn aggregations_past_max_buckets_are_too_many_buckets() {
    let server = TestServer::start().await;
    server.create_key(json!({"name": "one"})).await;
    // 40 + 40² + 40³ + 40⁴ buckets: millions, refused before any is built.
    let reply = within(server.superuser().post(
        "/_security/_query/api_key",
        json!({"size": 0, "aggs": nested_filters(4, 40)}),
    ))
    .await;
    let reason = "Trying to create too many buckets. Must be less than or equal to: [65536] but \
                  this number of buckets was exceeded. This limit can be set by changing the \
                  [search.max_buckets] cluster level setting.";
    assert_error(&reply, 400, "too_many_buckets_exception", reason);
    assert_eq!(reply.json()["error"]["max_buckets"], 65_536);

    // Every key meets every filter query: their leaves together are limited like one query's.
    let big_filter = |offset: usize| json!({"bool": {"should": (0..3_000).map(|n| json!({"term": {"name": format!("t{}", n + offset)}})).collect::<Vec<_>>()}});
    let reply = server
        .superuser()
        .post(
            "/_security/_query/api_key",
            json!({"size": 0, "aggs": {"f": {"filters": {"filters": [big_filter(0), big_filter(1)]}}}}),
        )
        .await;
    assert_error(
        &reply,
        400,
        "too_many_nested_clauses",
        "Query contains too many nested clauses; maxClauseCount is set to 4096",
    );

    // Two levels fit.
    let reply = server
        .superuser()
        .post(
            "/_security/_query/api_key",
            json!({"size": 0, "aggs": nested_filters(2, 40)}),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let inner = &reply.json()["aggregations"]["level1"]["buckets"][0]["level0"]["buckets"];
    assert_eq!(inner.as_array().map(Vec::len), Some(40));
}

#[tokio::test]
async fn max_buckets_is_a_setting() {
    let server = TestServer::start_with(&["search.max_buckets=3"]).await;
    for name in ["a", "b", "c", "d"] {
        server.create_key(json!({"name": name})).await;
    }
    let reply = server
        .superuser()
        .post(
            "/_security/_query/api_key",
            json!({"size": 0, "aggs": {"names": {"terms": {"field": "name"}}}}),
        )
        .await;
    assert_error(
        &reply,
        400,
        "too_many_buckets_exception",
        "Trying to create too many buckets. Must be less than or equal to: [3] but this number \
         of buckets was exceeded. This limit can be set by changing the [search.max_buckets] \
         cluster level setting.",
    );
    let reply = server
        .superuser()
        .post(
            "/_security/_query/api_key",
            json!({"size": 0, "aggs": {"page": {"composite": {"size": 3, "sources": [{"n": {"terms": {"field": "name"}}}]}}}}),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(
        reply.json()["aggregations"]["page"]["after_key"],
        json!({"n": "c"})
    );
}

#[tokio::test]
async fn aggregations_count_every_key_across_store_batches() {
    let server = TestServer::start().await;
    // More keys than one batch the aggregation reads (1 000).
    let count = 1_203;
    let client = reqwest::Client::new();
    let authorization = format!(
        "Basic {}",
        base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            format!("elastic:{}", crate::support::PASSWORD)
        )
    );
    let mut tasks = tokio::task::JoinSet::new();
    for index in 0..count {
        let request = client
            .post(format!("{}/_security/api_key", server.url))
            .header("authorization", &authorization)
            .header("content-type", "application/json")
            .body(json!({"name": format!("key-{}", index % 2)}).to_string());
        tasks.spawn(async move { request.send().await.map(|reply| reply.status().as_u16()) });
        if tasks.len() >= 32 {
            assert_eq!(tasks.join_next().await.unwrap().unwrap().unwrap(), 200);
        }
    }
    while let Some(status) = tasks.join_next().await {
        assert_eq!(status.unwrap().unwrap(), 200);
    }
    let reply = server
        .superuser()
        .post(
            "/_security/_query/api_key",
            json!({"size": 0, "aggs": {
                "names": {"terms": {"field": "name"}},
                "created": {"value_count": {"field": "creation"}},
            }}),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let body = reply.json();
    assert_eq!(body["total"], count);
    assert_eq!(body["aggregations"]["created"]["value"], count);
    assert_eq!(
        body["aggregations"]["names"]["buckets"],
        json!([{"key": "key-0", "doc_count": 602}, {"key": "key-1", "doc_count": 601}])
    );
}

/// A query API keys body whose query is a bool query nested `depth` deep, written as text (a
/// `Value` that deep would overflow the test's own stack when serialised).
fn nested_bool(depth: usize) -> String {
    let opening = r#"{"bool":{"must":["#.repeat(depth - 1);
    let closing = "]}}".repeat(depth - 1);
    format!(r#"{{"query":{opening}{{"term":{{"name":"x"}}}}{closing}}}"#)
}

#[tokio::test]
async fn queries_too_deep_or_too_large_are_400() {
    let server = TestServer::start().await;
    server.create_key(json!({"name": "x"})).await;
    let admin = server.superuser();
    let query = |body: Value| admin.post("/_security/_query/api_key", json!({ "query": body }));

    let raw = |body: String| {
        let admin = &admin;
        async move {
            admin
                .send("POST", "/_security/_query/api_key", Some(&body), &[])
                .await
        }
    };
    let reply = raw(nested_bool(30)).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json()["count"], 1);
    let reply = raw(nested_bool(31)).await;
    assert_error(
        &reply,
        400,
        "illegal_argument_exception",
        "The nested depth of the query exceeds the maximum nested depth for queries set in \
         [indices.query.bool.max_nested_depth]",
    );
    // Past serde's nesting limit the body itself is refused, never a stack overflow.
    for depth in [200, 2_000] {
        let reply = within(raw(nested_bool(depth))).await;
        assert_eq!(reply.status, 400, "{}", reply.text);
    }

    let terms =
        |count: usize| -> Vec<Value> { (0..count).map(|n| json!(format!("t{n}"))).collect() };
    let reply = query(json!({"bool": {"should": (0..4_097).map(|n| json!({"term": {"name": format!("t{n}")}})).collect::<Vec<_>>()}})).await;
    assert_error(
        &reply,
        400,
        "too_many_clauses",
        "maxClauseCount is set to 4096",
    );
    let many_bools: Vec<Value> = (0..100)
        .map(|_| json!({"bool": {"should": (0..50).map(|n| json!({"term": {"name": format!("t{n}")}})).collect::<Vec<_>>()}}))
        .collect();
    let reply = query(json!({"bool": {"should": many_bools}})).await;
    assert_error(
        &reply,
        400,
        "too_many_nested_clauses",
        "Query contains too many nested clauses; maxClauseCount is set to 4096",
    );
    // The largest query the limits let through runs in the store.
    let mut should: Vec<Value> = (0..4_095)
        .map(|n| json!({"term": {"metadata.k": format!("v{n}")}}))
        .collect();
    should.push(json!({"term": {"name": "x"}}));
    let reply = query(json!({"bool": {"should": should}})).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json()["count"], 1);
    let mut values = terms(65_535);
    values.push(json!("x"));
    let reply = query(json!({"terms": {"name": values}})).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json()["count"], 1);
    let reply = query(json!({"terms": {"name": terms(100_000)}})).await;
    assert_error(
        &reply,
        400,
        "illegal_argument_exception",
        "The number of terms [100000] used in the Terms Query request has exceeded the allowed \
         maximum of [65536]. This maximum can be set by changing the [index.max_terms_count] \
         index level setting.",
    );
}
