//! What a slow, huge or unauthenticated request can cost: the header and body read timeouts,
//! the request line and header sizes, the connection limit, bodies left unread until the caller
//! is authenticated, and `filter_path` with hostile patterns.

use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::json;

use crate::support::{PASSWORD, RawConnection, TestServer, assert_error};

/// The `Authorization` header of the superuser, for raw requests.
fn superuser_header() -> String {
    let token = base64::engine::general_purpose::STANDARD.encode(format!("elastic:{PASSWORD}"));
    format!("Authorization: Basic {token}\r\n")
}

/// A status line's code.
fn status_of(response: &str) -> &str {
    response.split(' ').nth(1).unwrap_or("")
}

/// The JSON body of a raw response.
fn body_of(response: &str) -> serde_json::Value {
    let (_, body) = response.split_once("\r\n\r\n").unwrap();
    serde_json::from_str(body).unwrap_or_else(|err| panic!("not JSON ({err}): {response}"))
}

#[tokio::test]
async fn headers_trickled_slower_than_the_header_read_timeout_are_cut_off() {
    let server = TestServer::start_with(&["keyward.http.header_read_timeout=500ms"]).await;
    let mut connection = RawConnection::open(&server).await;
    let started = Instant::now();
    connection
        .write(b"GET /_security/_authenticate HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    // One more header line every 100 ms, never the blank line that ends the head.
    for n in 0..100 {
        let line = format!("X-Slow-{n}: a\r\n");
        if connection.write(line.as_bytes()).await.is_err() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        if started.elapsed() > Duration::from_secs(3) {
            break;
        }
    }
    let closed = connection.read_until_closed(Duration::from_secs(5)).await;
    assert!(
        closed.is_some(),
        "the connection is still open after {:?}",
        started.elapsed()
    );
    // A connection that sends nothing at all, or nothing after its first request, goes too.
    let mut silent = RawConnection::open(&server).await;
    assert!(
        silent
            .read_until_closed(Duration::from_secs(5))
            .await
            .is_some(),
        "a silent connection is still open"
    );
    let mut kept_alive = RawConnection::open(&server).await;
    kept_alive
        .write(
            format!(
                "GET /_security/_authenticate HTTP/1.1\r\nHost: x\r\n{}\r\n",
                superuser_header()
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    let response = kept_alive
        .read_until_closed(Duration::from_secs(5))
        .await
        .expect("an idle kept-alive connection is closed");
    assert_eq!(status_of(&response), "200", "{response}");
    // The server itself is fine.
    let reply = server.superuser().get("/_security/_authenticate").await;
    assert_eq!(reply.status, 200, "{}", reply.text);
}

#[tokio::test]
async fn a_body_trickled_slower_than_the_body_read_timeout_is_answered_408() {
    let server = TestServer::start_with(&["keyward.http.body_read_timeout=500ms"]).await;
    let mut connection = RawConnection::open(&server).await;
    let head = format!(
        "POST /_security/api_key HTTP/1.1\r\nHost: x\r\n{}Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"name\":",
        superuser_header()
    );
    connection.write(head.as_bytes()).await.unwrap();
    let trickle = async {
        for _ in 0..30 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if connection.write(b" ").await.is_err() {
                break;
            }
        }
    };
    trickle.await;
    let response = connection
        .read_response(Duration::from_secs(5))
        .await
        .expect("an answer to the trickled body");
    assert_eq!(status_of(&response), "408", "{response}");
    let body = body_of(&response);
    assert_eq!(body["error"]["type"], "timeout_exception", "{response}");
    assert_eq!(
        body["error"]["reason"],
        "the request body was not received within [500ms]"
    );
    // Nothing was created.
    let keys = server.superuser().get("/_security/api_key").await;
    assert_eq!(keys.json()["api_keys"], json!([]), "{}", keys.text);
}

#[tokio::test]
async fn an_unauthenticated_request_is_answered_without_its_body_being_read() {
    let server = TestServer::start().await;
    // 100 MB announced, the most `http.max_content_length` allows, and none of it sent: the
    // answer can only come if the server does not wait for the body.
    for (request, status) in [
        ("POST /_security/api_key HTTP/1.1", "401"),
        // Unroutable and wrong-method requests are refused before authentication.
        ("POST /_nowhere HTTP/1.1", "400"),
        ("PATCH /_security/api_key HTTP/1.1", "405"),
    ] {
        let mut connection = RawConnection::open(&server).await;
        let head = format!(
            "{request}\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 104857600\r\n\r\n"
        );
        connection.write(head.as_bytes()).await.unwrap();
        let response = connection
            .read_response(Duration::from_secs(10))
            .await
            .unwrap_or_else(|| panic!("no answer to [{request}] before its body"));
        assert_eq!(status_of(&response), status, "{response}");
        // The unread body is not drained: the server closes the connection.
        assert!(
            connection
                .read_until_closed(Duration::from_secs(10))
                .await
                .is_some(),
            "[{request}] left the connection open"
        );
    }

    // With `Expect: 100-continue` the client is never invited to send the body.
    let mut connection = RawConnection::open(&server).await;
    connection
        .write(
            b"POST /_security/api_key HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 104857600\r\nExpect: 100-continue\r\n\r\n",
        )
        .await
        .unwrap();
    let response = connection
        .read_response(Duration::from_secs(10))
        .await
        .expect("an answer without the body");
    assert!(response.starts_with("HTTP/1.1 401 "), "{response}");
    assert!(
        body_of(&response)["error"]["reason"]
            .as_str()
            .unwrap()
            .starts_with("missing authentication credentials"),
        "{response}"
    );

    // A body too large for `http.max_content_length` is refused from its length alone.
    let mut connection = RawConnection::open(&server).await;
    let head = format!(
        "POST /_security/api_key HTTP/1.1\r\nHost: x\r\n{}Content-Type: application/json\r\nContent-Length: 104857601\r\n\r\n",
        superuser_header()
    );
    connection.write(head.as_bytes()).await.unwrap();
    let response = connection
        .read_response(Duration::from_secs(10))
        .await
        .expect("an answer before the body");
    assert_eq!(status_of(&response), "413", "{response}");
    assert_eq!(
        body_of(&response)["error"]["type"],
        "content_too_long_exception"
    );
}

#[tokio::test]
async fn connections_beyond_the_limit_wait_until_one_closes() {
    let server = TestServer::start_with(&["keyward.http.max_connections=2"]).await;
    let request = format!(
        "GET /_security/_authenticate HTTP/1.1\r\nHost: x\r\n{}\r\n",
        superuser_header()
    );
    // Two connections take both slots, the first one idle.
    let idle = RawConnection::open(&server).await;
    let mut busy = RawConnection::open(&server).await;
    busy.write(request.as_bytes()).await.unwrap();
    let response = busy.read_response(Duration::from_secs(10)).await.unwrap();
    assert_eq!(status_of(&response), "200", "{response}");

    // A third is accepted by the kernel but not served while both are open.
    let mut waiting = RawConnection::open(&server).await;
    waiting.write(request.as_bytes()).await.unwrap();
    assert_eq!(
        waiting.read_response(Duration::from_millis(500)).await,
        None,
        "a third connection was served beyond the limit of two"
    );
    drop(idle);
    let response = waiting
        .read_response(Duration::from_secs(10))
        .await
        .expect("served once a slot is free");
    assert_eq!(status_of(&response), "200", "{response}");
}

#[tokio::test]
async fn overlong_request_lines_and_headers_get_elasticsearch_errors() {
    let server = TestServer::start().await;
    let long_query = format!("/_security/_authenticate?filter_path={}", "a".repeat(4100));
    let reply = server.superuser().get(&long_query).await;
    assert_error(
        &reply,
        400,
        "too_long_http_line_exception",
        "An HTTP line is larger than 4096 bytes.",
    );
    let big = "b".repeat(17 * 1024);
    let reply = server
        .superuser()
        .send("GET", "/_security/_authenticate", None, &[("x-big", &big)])
        .await;
    assert_error(
        &reply,
        400,
        "too_long_http_header_exception",
        "HTTP header is larger than 16384 bytes.",
    );
    // Far beyond: hyper refuses the head itself and closes, it never waits for more.
    let mut connection = RawConnection::open(&server).await;
    let huge = format!(
        "GET /_security/_authenticate HTTP/1.1\r\nHost: x\r\nX-Huge: {}\r\n\r\n",
        "c".repeat(200 * 1024)
    );
    let _ = connection.write(huge.as_bytes()).await;
    let response = connection
        .read_until_closed(Duration::from_secs(10))
        .await
        .expect("closed after an oversized head");
    assert!(response.starts_with("HTTP/1.1 431 "), "{response}");
    // Limits are settings.
    let server = TestServer::start_with(&["http.max_initial_line_length=8kb"]).await;
    let reply = server.superuser().get(&long_query).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json(), json!({}));
}

#[tokio::test]
async fn hostile_filter_paths_answer_quickly_and_correctly() {
    let server = TestServer::start().await;
    let stars = vec!["**"; 50].join(".");
    let reply = server
        .superuser()
        .get(&format!(
            "/_security/_authenticate?filter_path={stars}.type"
        ))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(
        reply.json(),
        json!({
            "authentication_realm": {"type": "reserved"},
            "lookup_realm": {"type": "reserved"},
        })
    );
    // Hundreds of entries (as many as a request line holds), most sharing prefixes.
    let many: Vec<String> = (0..300).map(|n| format!("**.r{n}.**")).collect();
    let filter = format!("{},**.username", many.join(","));
    let reply = server
        .superuser()
        .get(&format!("/_security/_authenticate?filter_path={filter}"))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json(), json!({"username": "elastic"}));
    let reply = server
        .superuser()
        .get(&format!(
            "/_security/_authenticate?filter_path=-{stars}.type,-{stars}.name"
        ))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let body = reply.json();
    assert_eq!(body["authentication_realm"], json!({}), "{}", reply.text);
    assert_eq!(body["lookup_realm"], json!({}), "{}", reply.text);
    assert_eq!(body["username"], "elastic");
}
