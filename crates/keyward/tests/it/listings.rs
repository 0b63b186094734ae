//! `GET /_security/api_key` over more keys than the store reads at once: the body is streamed
//! (chunked) page by page, byte for byte the document a buffered answer would have been, and a
//! client that hangs up mid-listing stops the work.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::{PASSWORD, Reply, TestServer};

/// More than two pages of the listing (the service reads 1 000 keys at a time).
const KEYS: usize = 2_345;

/// The keys as `_query/api_key` shows them, sorted as a listing is (creation, ties by id), with
/// the query's own `_sort` values taken out: the document `GET` must answer.
async fn expected_listing(server: &TestServer, with_limited_by: bool) -> Value {
    let path = if with_limited_by {
        "/_security/_query/api_key?with_limited_by=true"
    } else {
        "/_security/_query/api_key"
    };
    let reply = server
        .superuser()
        .post(path, json!({"size": 10_000, "sort": ["creation"]}))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let mut keys = reply.json()["api_keys"].as_array().unwrap().clone();
    for key in &mut keys {
        key.as_object_mut().unwrap().remove("_sort");
    }
    json!({ "api_keys": keys })
}

fn assert_chunked(reply: &Reply) {
    assert_eq!(reply.header_values("transfer-encoding"), ["chunked"]);
    assert!(reply.header_values("content-length").is_empty());
    assert_eq!(reply.header_values("x-elastic-product"), ["Elasticsearch"]);
    assert_eq!(reply.header_values("content-type"), ["application/json"]);
}

/// `?pretty` as keyward writes it: two-space indent and Jackson's `"key" : value`.
fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value)
        .unwrap()
        .replace("\": ", "\" : ")
        + "\n"
}

#[tokio::test]
async fn large_listings_stream_the_exact_document() {
    let server = TestServer::start().await;
    server
        .create_keys((0..KEYS).map(|n| {
            let mut body = json!({"name": format!("key-{:04}", n % 1_000)});
            if n % 3 == 0 {
                body["metadata"] = json!({"n": n, "team": ["a", "b"], "nested": {"deep": null}});
            }
            if n % 5 == 0 {
                body["role_descriptors"] =
                    json!({"r": {"cluster": ["monitor"], "indices": [{"names": ["logs-*"], "privileges": ["read"]}]}});
            }
            body
        }))
        .await;
    // Some invalidated keys in the middle of the pages.
    let reply = server
        .superuser()
        .delete("/_security/api_key", json!({"name": "key-0007"}))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);

    let expected = expected_listing(&server, false).await;
    assert_eq!(expected["api_keys"].as_array().unwrap().len(), KEYS);
    let reply = server.superuser().get("/_security/api_key").await;
    assert_eq!(reply.status, 200);
    assert_chunked(&reply);
    assert_eq!(reply.text, expected.to_string());

    let reply = server
        .superuser()
        .get("/_security/api_key?pretty&with_limited_by=true")
        .await;
    assert_eq!(reply.status, 200);
    assert_chunked(&reply);
    assert_eq!(reply.text, pretty(&expected_listing(&server, true).await));

    // `filter_path` keeps what it would keep of the whole document.
    let reply = server
        .superuser()
        .get("/_security/api_key?filter_path=api_keys.name,api_keys.metadata.n")
        .await;
    assert_chunked(&reply);
    let names: Vec<Value> = expected["api_keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|key| match key["metadata"].get("n") {
            Some(n) => json!({"name": key["name"], "metadata": {"n": n}}),
            None => json!({"name": key["name"]}),
        })
        .collect();
    assert_eq!(reply.text, json!({ "api_keys": names }).to_string());
    let reply = server
        .superuser()
        .get("/_security/api_key?filter_path=api_keys.metadata.absent")
        .await;
    assert_eq!(reply.text, "{}");

    // Filters select across pages too.
    let reply = server
        .superuser()
        .get("/_security/api_key?active_only=true&filter_path=api_keys.name")
        .await;
    let active = reply.json()["api_keys"].as_array().unwrap().len();
    let invalidated = (0..KEYS).filter(|n| n % 1_000 == 7).count();
    assert_eq!(active, KEYS - invalidated);

    // `HEAD` answers the length of the body a `GET` sends.
    let reply = server
        .superuser()
        .send("HEAD", "/_security/api_key", None, &[])
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.header_values("content-length"),
        [expected.to_string().len().to_string()]
    );
    assert!(reply.text.is_empty());
}

#[tokio::test]
async fn listings_that_fit_one_page_are_sent_whole() {
    let server = TestServer::start().await;
    server
        .create_keys((0..3).map(|n| json!({"name": format!("k{n}")})))
        .await;
    let reply = server.superuser().get("/_security/api_key").await;
    assert_eq!(reply.status, 200);
    assert!(reply.header_values("transfer-encoding").is_empty());
    assert_eq!(
        reply.header_values("content-length"),
        [reply.text.len().to_string()]
    );
    assert_eq!(
        reply.text,
        expected_listing(&server, false).await.to_string()
    );
    let reply = server
        .superuser()
        .get("/_security/api_key?username=nobody&pretty")
        .await;
    assert_eq!(reply.text, pretty(&json!({"api_keys": []})));
}

#[tokio::test]
async fn a_client_that_hangs_up_mid_listing_stops_it() {
    let server = TestServer::start().await;
    // Far more than the socket buffers hold (about 20 MB), so the listing cannot be written
    // out entirely before the client's hang-up is noticed.
    let padding = "x".repeat(10_000);
    server
        .create_keys(
            (0..2_000)
                .map(|n| json!({"name": format!("big-{n}"), "metadata": {"padding": padding}})),
        )
        .await;

    let address = server.url.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
    let basic = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        format!("elastic:{PASSWORD}"),
    );
    let request = format!(
        "GET /_security/api_key HTTP/1.1\r\nhost: {address}\r\nauthorization: Basic {basic}\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut received = Vec::new();
    let mut buffer = [0u8; 16 * 1024];
    while received.len() < 64 * 1024 {
        let read = stream.read(&mut buffer).await.unwrap();
        assert!(read > 0, "the server closed the connection early");
        received.extend_from_slice(&buffer[..read]);
    }
    let head = String::from_utf8_lossy(&received);
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head:.200}");
    assert!(
        head.contains("transfer-encoding: chunked\r\n"),
        "{head:.400}"
    );
    drop(stream);

    // The producer notices the closed body and stops reading pages.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !server.logs().contains("the client left during a listing") {
        assert!(
            Instant::now() < deadline,
            "the listing went on after the client left: {}",
            server.logs()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let reply = server.superuser().get("/_security/_authenticate").await;
    assert_eq!(reply.status, 200, "{}", reply.text);
}
