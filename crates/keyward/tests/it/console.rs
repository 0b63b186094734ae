//! The web console's files at `/_keyward/console/`: served without credentials, with their
//! media types, the strict Content-Security-Policy and the other security headers, revalidated
//! by entity tag; the bare path redirects to the page, an unknown file is a 404, and the
//! Elasticsearch routes around it answer as before.

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, HeaderValue};

use crate::support::TestServer;

/// A client that shows redirects instead of following them, and sends no credentials.
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_else(|| panic!("no {name} header in {headers:?}"))
}

fn assert_security_headers(headers: &HeaderMap) {
    let policy = header(headers, "content-security-policy");
    for directive in [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "object-src 'none'",
        "frame-ancestors 'none'",
    ] {
        assert!(
            policy.contains(directive),
            "{directive} missing in {policy}"
        );
    }
    assert!(!policy.contains("unsafe-inline"), "{policy}");
    assert!(!policy.contains("unsafe-eval"), "{policy}");
    assert_eq!(header(headers, "x-content-type-options"), "nosniff");
    assert_eq!(header(headers, "x-frame-options"), "DENY");
}

#[tokio::test]
async fn console_files_are_served_without_credentials_with_their_types_and_headers() {
    let server = TestServer::start().await;
    let client = client();
    for (path, content_type, starts_with) in [
        (
            "/_keyward/console/",
            "text/html; charset=utf-8",
            "<!doctype html>",
        ),
        (
            "/_keyward/console/index.html",
            "text/html; charset=utf-8",
            "<!doctype html>",
        ),
        (
            "/_keyward/console/app.js",
            "text/javascript; charset=utf-8",
            "//",
        ),
        (
            "/_keyward/console/style.css",
            "text/css; charset=utf-8",
            "/*",
        ),
        ("/_keyward/console/icon.svg", "image/svg+xml", "<svg"),
    ] {
        let response = client
            .get(format!("{}{path}", server.url))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let headers = response.headers().clone();
        assert_eq!(header(&headers, "content-type"), content_type, "{path}");
        assert_security_headers(&headers);
        assert_eq!(header(&headers, "cache-control"), "no-cache");
        let text = response.text().await.unwrap();
        assert!(text.starts_with(starts_with), "{path}: {text:.40}");
    }
}

#[tokio::test]
async fn the_page_loads_only_files_the_console_serves() {
    let server = TestServer::start().await;
    let client = client();
    let page = client
        .get(format!("{}/_keyward/console/", server.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    // No inline script or style: everything the page names comes from the console itself.
    assert!(!page.contains("<style"), "{page}");
    for file in ["app.js", "style.css", "icon.svg"] {
        assert!(
            page.contains(&format!("\"{file}\"")),
            "{file} not in the page"
        );
        let reply = client
            .get(format!("{}/_keyward/console/{file}", server.url))
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), StatusCode::OK, "{file}");
    }
    let app = client
        .get(format!("{}/_keyward/console/app.js", server.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for module in [
        "api.js",
        "ui.js",
        "keys.js",
        "create.js",
        "details.js",
        "users.js",
        "roles.js",
    ] {
        assert!(app.contains(&format!("'./{module}'")), "{module}");
        let reply = client
            .get(format!("{}/_keyward/console/{module}", server.url))
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), StatusCode::OK, "{module}");
    }
}

#[tokio::test]
async fn the_bare_path_redirects_to_the_page() {
    let server = TestServer::start().await;
    let response = client()
        .get(format!("{}/_keyward/console", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PERMANENT_REDIRECT);
    assert_eq!(header(response.headers(), "location"), "/_keyward/console/");
    assert_security_headers(response.headers());
}

#[tokio::test]
async fn unknown_files_and_other_methods_are_refused() {
    let server = TestServer::start().await;
    let client = client();
    for path in [
        "/_keyward/console/missing.js",
        "/_keyward/console/nested/app.js",
        "/_keyward/console/..%2FCargo.toml",
    ] {
        let response = client
            .get(format!("{}{path}", server.url))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
        assert_security_headers(response.headers());
    }
    let response = client
        .post(format!("{}/_keyward/console/app.js", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(header(response.headers(), "allow"), "GET, HEAD");
}

#[tokio::test]
async fn a_current_copy_is_revalidated_with_its_entity_tag() {
    let server = TestServer::start().await;
    let client = client();
    let url = format!("{}/_keyward/console/app.js", server.url);
    let first = client.get(&url).send().await.unwrap();
    let etag = header(first.headers(), "etag").to_owned();
    assert!(etag.starts_with('"') && etag.ends_with('"'), "{etag}");
    let again = client
        .get(&url)
        .header("if-none-match", HeaderValue::from_str(&etag).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(header(again.headers(), "etag"), etag);
    assert_eq!(again.text().await.unwrap(), "");
    let stale = client
        .get(&url)
        .header("if-none-match", "\"0000000000000000\"")
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), StatusCode::OK);
    let head = client.head(&url).send().await.unwrap();
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(
        header(head.headers(), "content-length"),
        first.content_length().unwrap().to_string()
    );
}

#[tokio::test]
async fn the_elasticsearch_routes_are_unchanged_beside_the_console() {
    let server = TestServer::start().await;
    // The API still wants credentials; the console's path is no way around them.
    let reply = server.anonymous().get("/_security/_authenticate").await;
    assert_eq!(reply.status, 401);
    // A path that only starts like the console's is routed as before: no handler.
    let reply = server.superuser().get("/_keyward/consoles").await;
    assert_eq!(reply.status, 400, "{}", reply.text);
    let reason = reply.json()["error"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(reason.starts_with("no handler found for uri"), "{reason}");
    let reply = server.superuser().get("/_security/_authenticate").await;
    assert_eq!(reply.status, 200);
    // The OpenAPI document describes the REST API, not the console's files.
    let document = server
        .anonymous()
        .get("/_keyward/openapi.json")
        .await
        .json();
    let paths = document["paths"].as_object().unwrap();
    assert!(
        paths
            .keys()
            .all(|path| !path.starts_with("/_keyward/console"))
    );
}
