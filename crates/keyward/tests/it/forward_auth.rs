//! keyward as the auth server of real reverse proxies: Debian's nginx (`auth_request`) and Caddy
//! (`forward_auth`) in front of a small upstream this test runs, each started on a free loopback
//! port with a configuration the test writes. The test command installs both; a missing one is
//! a failure here, not a skip.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::TestServer;

/// The rules every scenario runs with.
fn rules() -> Value {
    json!([
        {"methods": ["GET", "HEAD"], "path": "/api/orders/*", "application": "shop",
         "privileges": ["read"], "resource": "orders/{path}"},
        {"methods": ["POST"], "path": "/api/orders/{id}", "application": "shop",
         "privileges": "write", "resource": "orders/{id}"}
    ])
}

/// keyward with forward auth for `proxy`, the shop's privileges stored.
async fn keyward(proxy: &str) -> TestServer {
    let server = TestServer::start_with(&[
        &format!("keyward.forward_auth.proxy={proxy}"),
        &format!("keyward.forward_auth.rules={}", rules()),
        r#"keyward.forward_auth.metadata_headers={"tenant":"X-Keyward-Tenant"}"#,
        "xpack.security.audit.enabled=true",
    ])
    .await;
    let reply = server
        .superuser()
        .put(
            "/_security/privilege",
            json!({"shop": {
                "read": {"actions": ["data:read/*"]},
                "write": {"actions": ["data:write/*"]}
            }}),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    server
}

/// An API key whose descriptors grant `privileges` of the shop on `resources`.
async fn shop_key(
    server: &TestServer,
    privileges: &[&str],
    resources: &[&str],
    extra: Value,
) -> Value {
    let mut body = json!({
        "name": "shop-client",
        "metadata": {"tenant": "acme"},
        "role_descriptors": {"shop": {"applications": [
            {"application": "shop", "privileges": privileges, "resources": resources}
        ]}}
    });
    if let (Value::Object(body), Value::Object(extra)) = (&mut body, extra) {
        body.extend(extra);
    }
    server.create_key(body).await
}

/// An upstream that answers every request 200 with the request's head as its body, so a test
/// sees exactly what the proxy passed on.
struct Upstream {
    port: u16,
    seen: Arc<Mutex<Vec<String>>>,
}

impl Upstream {
    fn start() -> Upstream {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&seen);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let sink = Arc::clone(&sink);
                std::thread::spawn(move || {
                    let mut head = Vec::new();
                    let mut byte = [0u8; 1];
                    while !head.ends_with(b"\r\n\r\n") {
                        match stream.read(&mut byte) {
                            Ok(1) => head.push(byte[0]),
                            _ => return,
                        }
                    }
                    let head = String::from_utf8_lossy(&head).into_owned();
                    sink.lock().unwrap().push(head.clone());
                    let response = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{head}",
                        head.len()
                    );
                    let _ = stream.write_all(response.as_bytes());
                });
            }
        });
        Upstream { port, seen }
    }

    fn requests(&self) -> usize {
        self.seen.lock().unwrap().len()
    }
}

/// A header of a request head the upstream received, case-insensitively; `None` when absent.
fn header_in(head: &str, name: &str) -> Option<String> {
    head.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.trim()
            .eq_ignore_ascii_case(name)
            .then(|| value.trim().to_owned())
    })
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A proxy process, stopped when dropped.
struct Proxy {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        // SIGTERM, not SIGKILL: nginx's master stops its workers only when it is asked to.
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn wait_listening(port: u16, child: &mut Child, log: &Path) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "the proxy exited ({status}): {}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("the proxy did not listen on {port}");
}

fn program(name: &str) -> PathBuf {
    for dir in ["/usr/sbin", "/usr/bin", "/usr/local/bin", "/usr/local/sbin"] {
        let path = Path::new(dir).join(name);
        if path.exists() {
            return path;
        }
    }
    panic!("{name} is not installed: ./scripts/test installs it (apt-get install {name})");
}

/// Debian's nginx with `auth_request` to keyward, in front of `upstream`.
fn nginx(keyward: &TestServer, upstream: &Upstream) -> Proxy {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let keyward_address = keyward.url.trim_start_matches("http://");
    let root = dir.path().display();
    let config = format!(
        r#"daemon off;
worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/error.log info;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {root}/body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
    upstream keyward {{ server {keyward_address}; keepalive 16; }}
    server {{
        listen 127.0.0.1:{port};
        location = /_keyward_auth {{
            internal;
            proxy_pass http://keyward/_keyward/forward_auth;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_set_header X-Original-URI $request_uri;
            proxy_set_header X-Original-Method $request_method;
            proxy_set_header X-Forwarded-Host $host;
        }}
        location / {{
            auth_request /_keyward_auth;
            auth_request_set $keyward_user $upstream_http_x_keyward_user;
            auth_request_set $keyward_key_id $upstream_http_x_keyward_api_key_id;
            auth_request_set $keyward_tenant $upstream_http_x_keyward_tenant;
            proxy_set_header X-Keyward-User $keyward_user;
            proxy_set_header X-Keyward-Api-Key-Id $keyward_key_id;
            proxy_set_header X-Keyward-Tenant $keyward_tenant;
            proxy_pass http://127.0.0.1:{upstream};
        }}
    }}
}}
"#,
        upstream = upstream.port
    );
    let config_path = dir.path().join("nginx.conf");
    std::fs::write(&config_path, config).unwrap();
    let log = dir.path().join("error.log");
    let mut child = Command::new(program("nginx"))
        .arg("-p")
        .arg(dir.path())
        .arg("-c")
        .arg(&config_path)
        .arg("-e")
        .arg(&log)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start nginx");
    wait_listening(port, &mut child, &log);
    Proxy {
        child,
        url: format!("http://127.0.0.1:{port}"),
        _dir: dir,
    }
}

/// Debian's Caddy with `forward_auth` to keyward, in front of `upstream`.
fn caddy(keyward: &TestServer, upstream: &Upstream) -> Proxy {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let keyward_address = keyward.url.trim_start_matches("http://");
    let config = format!(
        r#"{{
    admin off
    auto_https off
}}
http://127.0.0.1:{port} {{
    route {{
        request_header -X-Keyward-User
        request_header -X-Keyward-Api-Key-Id
        request_header -X-Keyward-Tenant
        forward_auth {keyward_address} {{
            uri /_keyward/forward_auth
            copy_headers X-Keyward-User X-Keyward-Api-Key-Id X-Keyward-Tenant
        }}
        reverse_proxy 127.0.0.1:{upstream}
    }}
}}
"#,
        upstream = upstream.port
    );
    let config_path = dir.path().join("Caddyfile");
    std::fs::write(&config_path, config).unwrap();
    let log = dir.path().join("caddy.log");
    let mut child = Command::new(program("caddy"))
        .arg("run")
        .arg("--config")
        .arg(&config_path)
        .arg("--adapter")
        .arg("caddyfile")
        .env("HOME", dir.path())
        .env("XDG_DATA_HOME", dir.path().join("data"))
        .env("XDG_CONFIG_HOME", dir.path().join("config"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("start caddy");
    wait_listening(port, &mut child, &log);
    Proxy {
        child,
        url: format!("http://127.0.0.1:{port}"),
        _dir: dir,
    }
}

/// One request through the proxy: its status, its `WWW-Authenticate`, and the upstream's body
/// (the request head the upstream received) when it got through.
async fn through(
    proxy: &Proxy,
    method: &str,
    path: &str,
    authorization: Option<&str>,
) -> (u16, Option<String>, String) {
    let client = reqwest::Client::new();
    let mut request = client
        .request(method.parse().unwrap(), format!("{}{path}", proxy.url))
        // A client forging the identity headers: the proxy must replace them.
        .header("X-Keyward-User", "mallory")
        .header("X-Keyward-Tenant", "evil-corp");
    if let Some(authorization) = authorization {
        request = request.header("authorization", authorization);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let challenges: Vec<&str> = response
        .headers()
        .get_all("www-authenticate")
        .iter()
        .map(|value| value.to_str().unwrap())
        .collect();
    let challenge = (!challenges.is_empty()).then(|| challenges.join(", "));
    (status, challenge, response.text().await.unwrap())
}

/// The whole scenario, the same through every proxy.
async fn scenario(keyward: &TestServer, proxy: &Proxy, upstream: &Upstream) {
    let admin = keyward.superuser();
    let reader = shop_key(keyward, &["read"], &["orders/*"], json!({})).await;
    let reader_auth = format!("ApiKey {}", reader["encoded"].as_str().unwrap());
    let reader_id = reader["id"].as_str().unwrap().to_owned();

    // A valid key with the privilege passes; the upstream sees who it is, not the forgery.
    let before = upstream.requests();
    let (status, _, head) = through(
        proxy,
        "GET",
        "/api/orders/42/lines?page=2",
        Some(&reader_auth),
    )
    .await;
    assert_eq!(status, 200, "{head}");
    assert_eq!(upstream.requests(), before + 1);
    assert!(
        head.starts_with("GET /api/orders/42/lines?page=2 "),
        "{head}"
    );
    assert_eq!(
        header_in(&head, "x-keyward-user").as_deref(),
        Some("elastic")
    );
    assert_eq!(
        header_in(&head, "x-keyward-api-key-id").as_deref(),
        Some(reader_id.as_str())
    );
    assert_eq!(
        header_in(&head, "x-keyward-tenant").as_deref(),
        Some("acme")
    );
    assert!(
        !head.contains("mallory") && !head.contains("evil-corp"),
        "{head}"
    );
    // A key without the metadata field: the forged tenant does not get through either.
    let untagged = shop_key(keyward, &["read"], &["orders/*"], json!({"metadata": {}})).await;
    let untagged = format!("ApiKey {}", untagged["encoded"].as_str().unwrap());
    let (status, _, head) = through(proxy, "GET", "/api/orders/43", Some(&untagged)).await;
    assert_eq!(status, 200, "{head}");
    assert!(!head.contains("evil-corp"), "{head}");

    // Valid but without the privilege the rule asks for: 403, and the upstream never sees it.
    let before = upstream.requests();
    let (status, _, body) = through(proxy, "POST", "/api/orders/42", Some(&reader_auth)).await;
    assert_eq!(status, 403, "{body}");
    let writer_elsewhere = shop_key(keyward, &["write"], &["invoices/*"], json!({})).await;
    let writer_elsewhere = format!("ApiKey {}", writer_elsewhere["encoded"].as_str().unwrap());
    let (status, _, body) = through(proxy, "POST", "/api/orders/42", Some(&writer_elsewhere)).await;
    assert_eq!(status, 403, "{body}");
    // A request no rule covers is denied by default.
    let (status, _, body) = through(proxy, "DELETE", "/api/orders/42", Some(&reader_auth)).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(upstream.requests(), before);

    // No credential, or a wrong secret: 401 with the challenge.
    let (status, challenge, _) = through(proxy, "GET", "/api/orders/1", None).await;
    assert_eq!(status, 401);
    // Caddy passes every challenge on; nginx only the first of several.
    assert!(challenge.is_some_and(|challenge| challenge.contains("realm=\"security\"")));
    let (status, _, _) = through(proxy, "GET", "/api/orders/1", Some("ApiKey Zm9vOmJhcg==")).await;
    assert_eq!(status, 401);

    // An invalidated key is refused on the very next request.
    let doomed = shop_key(keyward, &["read"], &["orders/*"], json!({})).await;
    let doomed_auth = format!("ApiKey {}", doomed["encoded"].as_str().unwrap());
    assert_eq!(
        through(proxy, "GET", "/api/orders/7", Some(&doomed_auth))
            .await
            .0,
        200
    );
    let reply = admin
        .delete("/_security/api_key", json!({"ids": [doomed["id"]]}))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(
        through(proxy, "GET", "/api/orders/7", Some(&doomed_auth))
            .await
            .0,
        401
    );

    // An expired key is refused.
    let brief = shop_key(
        keyward,
        &["read"],
        &["orders/*"],
        json!({"expiration": "1s"}),
    )
    .await;
    let brief_auth = format!("ApiKey {}", brief["encoded"].as_str().unwrap());
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        through(proxy, "GET", "/api/orders/7", Some(&brief_auth))
            .await
            .0,
        401
    );

    // A user whose role loses the application privilege is refused at once.
    keyward
        .put_role(
            "shop_reader",
            json!({"applications": [{"application": "shop", "privileges": ["read"], "resources": ["*"]}]}),
        )
        .await;
    keyward
        .put_user("clerk", "clerk-password", &["shop_reader"])
        .await;
    let clerk = format!(
        "Basic {}",
        base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            "clerk:clerk-password"
        )
    );
    let (status, _, head) = through(proxy, "GET", "/api/orders/9", Some(&clerk)).await;
    assert_eq!(status, 200, "{head}");
    assert_eq!(header_in(&head, "x-keyward-user").as_deref(), Some("clerk"));
    keyward
        .put_role(
            "shop_reader",
            json!({"applications": [{"application": "shop", "privileges": ["read"], "resources": ["invoices/*"]}]}),
        )
        .await;
    assert_eq!(
        through(proxy, "GET", "/api/orders/9", Some(&clerk)).await.0,
        403
    );

    // The privilege itself goes: the application privilege `read` is deleted, and the key that
    // relied on it is refused at once.
    assert_eq!(
        through(proxy, "GET", "/api/orders/5", Some(&reader_auth))
            .await
            .0,
        200
    );
    let reply = admin
        .send("DELETE", "/_security/privilege/shop/read", None, &[])
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(
        through(proxy, "GET", "/api/orders/5", Some(&reader_auth))
            .await
            .0,
        403
    );

    // Every decision is in the audit log with the proxied method and URI.
    let audit =
        std::fs::read_to_string(keyward.data_dir().join("logs/keyward_audit.json")).unwrap();
    let events: Vec<Value> = audit
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let granted = events
        .iter()
        .find(|event| {
            event["event.action"] == "access_granted" && event["url.path"] == "/api/orders/42/lines"
        })
        .expect("a grant with the proxied path");
    assert_eq!(granted["url.query"], "page=2");
    assert_eq!(granted["request.method"], "GET");
    assert_eq!(granted["apikey.id"], reader_id);
    assert_eq!(granted["forward_auth.resource"], "orders/42/lines");
    assert!(
        events
            .iter()
            .any(|event| event["event.action"] == "access_denied"
                && event["url.path"] == "/api/orders/42"
                && event["request.method"] == "POST")
    );
    assert!(
        events
            .iter()
            .any(|event| event["event.action"] == "authentication_failed"
                && event["url.path"] == "/api/orders/7")
    );
}

#[tokio::test]
async fn nginx_auth_request_guards_an_upstream() {
    let keyward = keyward("nginx").await;
    let upstream = Upstream::start();
    let proxy = nginx(&keyward, &upstream);
    scenario(&keyward, &proxy, &upstream).await;
    // nginx passes `$request_uri` as sent: a dot segment is refused, not resolved.
    let mut stream = TcpStream::connect(proxy.url.trim_start_matches("http://")).unwrap();
    let key = shop_key(&keyward, &["read"], &["*"], json!({})).await;
    write!(
        stream,
        "GET /api/orders/../admin HTTP/1.1\r\nHost: shop.test\r\nAuthorization: ApiKey {}\r\nConnection: close\r\n\r\n",
        key["encoded"].as_str().unwrap()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(!response.starts_with("HTTP/1.1 200"), "{response}");
}

#[tokio::test]
async fn caddy_forward_auth_guards_an_upstream() {
    let keyward = keyward("caddy").await;
    let upstream = Upstream::start();
    let proxy = caddy(&keyward, &upstream);
    scenario(&keyward, &proxy, &upstream).await;
}

#[tokio::test]
async fn the_proxy_must_be_named_and_its_headers_are_the_only_ones_believed() {
    let keyward = keyward("caddy").await;
    let key = shop_key(&keyward, &["read"], &["orders/*"], json!({})).await;
    let caller = keyward.api_key(key["encoded"].as_str().unwrap());
    let ask = |headers: Vec<(&'static str, &'static str)>| {
        let caller = &caller;
        async move {
            caller
                .send("GET", "/_keyward/forward_auth", None, &headers)
                .await
        }
    };
    let granted = ask(vec![
        ("x-forwarded-method", "GET"),
        ("x-forwarded-uri", "/api/orders/1"),
    ])
    .await;
    assert_eq!(granted.status, 200, "{}", granted.text);
    // A forged nginx header is not read when keyward is told the proxy is Caddy.
    let forged = ask(vec![
        ("x-original-method", "GET"),
        ("x-original-uri", "/api/orders/1"),
        ("x-forwarded-method", "GET"),
        ("x-forwarded-uri", "/admin"),
    ])
    .await;
    assert_eq!(forged.status, 403, "{}", forged.text);
    let missing = ask(vec![
        ("x-original-method", "GET"),
        ("x-original-uri", "/api/orders/1"),
    ])
    .await;
    assert_eq!(missing.status, 403, "{}", missing.text);
    assert!(
        missing.text.contains("x-forwarded-method"),
        "{}",
        missing.text
    );

    // Without `keyward.forward_auth.proxy`, everything is refused.
    let unconfigured = TestServer::start().await;
    let reply = unconfigured
        .superuser()
        .send(
            "GET",
            "/_keyward/forward_auth",
            None,
            &[("x-forwarded-method", "GET"), ("x-forwarded-uri", "/")],
        )
        .await;
    assert_eq!(reply.status, 403, "{}", reply.text);
    assert!(
        reply.text.contains("keyward.forward_auth.proxy"),
        "{}",
        reply.text
    );

    // Envoy: the method is the request's own and the path follows the prefix.
    let envoy = TestServer::start_with(&[
        "keyward.forward_auth.proxy=envoy",
        &format!("keyward.forward_auth.rules={}", rules()),
    ])
    .await;
    envoy
        .superuser()
        .put(
            "/_security/privilege",
            json!({"shop": {"read": {"actions": ["data:read/*"]}}}),
        )
        .await;
    let key = shop_key(&envoy, &["read"], &["orders/*"], json!({})).await;
    let caller = envoy.api_key(key["encoded"].as_str().unwrap());
    assert_eq!(
        caller
            .get("/_keyward/forward_auth/api/orders/3?x=1")
            .await
            .status,
        200
    );
    assert_eq!(
        caller
            .send("POST", "/_keyward/forward_auth/api/orders/3", None, &[])
            .await
            .status,
        403
    );
}

#[tokio::test]
async fn rules_reload_from_the_config_file_without_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("keyward.yml");
    let write_rules = |privilege: &str| {
        std::fs::write(
            &config,
            format!(
                "resource.reload.interval.high: 200ms\nkeyward.forward_auth:\n  proxy: nginx\n  rules:\n    - path: /api/*\n      application: shop\n      privileges: [{privilege}]\n"
            ),
        )
        .unwrap();
    };
    write_rules("read");
    let keyward = TestServer::start_with_config(&config, &[]).await;
    keyward
        .superuser()
        .put(
            "/_security/privilege",
            json!({"shop": {"read": {"actions": ["data:read/*"]}, "write": {"actions": ["data:write/*"]}}}),
        )
        .await;
    let key = shop_key(&keyward, &["read"], &["*"], json!({})).await;
    let caller = keyward.api_key(key["encoded"].as_str().unwrap());
    let ask = || async {
        caller
            .send(
                "GET",
                "/_keyward/forward_auth",
                None,
                &[("x-original-method", "GET"), ("x-original-uri", "/api/x")],
            )
            .await
            .status
    };
    assert_eq!(ask().await, 200);
    write_rules("write");
    let deadline = Instant::now() + Duration::from_secs(10);
    while ask().await != 403 {
        assert!(Instant::now() < deadline, "the new rules were not loaded");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A file that does not parse keeps the rules in force.
    std::fs::write(
        &config,
        "keyward.forward_auth:\n  rules: [{path: nope}]\n  proxy: nginx\n",
    )
    .unwrap();
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(ask().await, 403);
    assert!(
        keyward
            .logs()
            .contains("cannot reload the forward auth settings")
    );
}

/// The configurations `docs/forward-auth.md` tells users to copy, as fenced in the document.
fn documented(language: &str) -> String {
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/forward-auth.md"
    ))
    .unwrap();
    let fence = format!("```{language}\n");
    let start = doc
        .find(&fence)
        .unwrap_or_else(|| panic!("no {language} block"))
        + fence.len();
    let end = start + doc[start..].find("```").unwrap();
    doc[start..end].to_owned()
}

#[test]
fn the_documented_nginx_and_caddy_configurations_are_valid() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().display();
    let nginx_config = dir.path().join("nginx.conf");
    std::fs::write(
        &nginx_config,
        format!(
            "pid {root}/nginx.pid;\nerror_log {root}/error.log;\nevents {{}}\nhttp {{\n{}\n}}\n",
            documented("nginx")
        ),
    )
    .unwrap();
    let output = Command::new(program("nginx"))
        .args(["-t", "-q", "-p"])
        .arg(dir.path())
        .arg("-c")
        .arg(&nginx_config)
        .arg("-e")
        .arg(dir.path().join("error.log"))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "nginx -t: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let caddyfile = dir.path().join("Caddyfile");
    std::fs::write(&caddyfile, documented("caddyfile")).unwrap();
    let output = Command::new(program("caddy"))
        .args(["adapt", "--validate", "--adapter", "caddyfile", "--config"])
        .arg(&caddyfile)
        .env("HOME", dir.path())
        .env("XDG_DATA_HOME", dir.path().join("data"))
        .env("XDG_CONFIG_HOME", dir.path().join("config"))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "caddy adapt --validate: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}
