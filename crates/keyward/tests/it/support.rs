//! `TestServer`: starts the real binary, finds its port from its startup line, kills it on drop.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::Value;

pub(crate) const PASSWORD: &str = "test-password";

/// Runs `keyward serve` with these settings on a fresh data directory, expecting it to refuse
/// to start: its exit code and stderr.
pub(crate) fn serve_refused(data: &Path, settings: &[&str]) -> (Option<i32>, String) {
    let mut command = Command::new(binary());
    command
        .arg("serve")
        .arg("-E")
        .arg("http.port=0")
        .arg("-E")
        .arg(format!("path.data={}", data.display()))
        .env("ELASTIC_PASSWORD", PASSWORD)
        .stdin(Stdio::null());
    for setting in settings {
        command.arg("-E").arg(setting);
    }
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run keyward");
    let deadline = Instant::now() + Duration::from_secs(30);
    let code = loop {
        if let Ok(Some(status)) = child.try_wait() {
            break status.code();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stdout = String::new();
    let mut stderr = String::new();
    if let Some(mut pipe) = child.stdout.take() {
        let _ = pipe.read_to_string(&mut stdout);
    }
    if let Some(mut pipe) = child.stderr.take() {
        let _ = pipe.read_to_string(&mut stderr);
    }
    assert!(
        !stdout.contains("listening"),
        "keyward started: {stdout} {stderr}"
    );
    (code, stderr)
}

/// A running keyward.
pub(crate) struct TestServer {
    child: Option<Child>,
    pub url: String,
    pub data: Arc<tempfile::TempDir>,
    stderr: Arc<Mutex<String>>,
    client: reqwest::Client,
}

/// A response, read whole.
#[derive(Debug)]
pub(crate) struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
}

impl Reply {
    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|err| panic!("not JSON ({err}): {}", self.text))
    }

    pub(crate) fn header_values(&self, name: &str) -> Vec<String> {
        self.headers
            .get_all(name)
            .iter()
            .map(|value| value.to_str().unwrap().to_owned())
            .collect()
    }
}

pub(crate) fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_keyward"))
}

impl TestServer {
    pub(crate) async fn start() -> TestServer {
        TestServer::start_with(&[]).await
    }

    pub(crate) async fn start_with(settings: &[&str]) -> TestServer {
        let data = Arc::new(tempfile::tempdir().unwrap());
        TestServer::start_in(data, settings).await
    }

    /// Starts on an existing data directory (a restart).
    pub(crate) async fn start_in(data: Arc<tempfile::TempDir>, settings: &[&str]) -> TestServer {
        TestServer::launch(data, None, settings).await
    }

    /// Starts with a `--config` file as well as `-E` settings.
    pub(crate) async fn start_with_config(config: &Path, settings: &[&str]) -> TestServer {
        let data = Arc::new(tempfile::tempdir().unwrap());
        TestServer::launch(data, Some(config), settings).await
    }

    async fn launch(
        data: Arc<tempfile::TempDir>,
        config: Option<&Path>,
        settings: &[&str],
    ) -> TestServer {
        let mut command = Command::new(binary());
        command.arg("serve");
        if let Some(config) = config {
            command.arg("--config").arg(config);
        }
        command
            .arg("-E")
            .arg("http.port=0")
            .arg("-E")
            .arg(format!("path.data={}", data.path().display()))
            .env("ELASTIC_PASSWORD", PASSWORD)
            .env("RUST_LOG", "keyward=debug,info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for setting in settings {
            command.arg("-E").arg(setting);
        }
        let mut child = command.spawn().expect("start keyward");
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut pipe = child.stderr.take().unwrap();
        let sink = stderr.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let stdout = child.stdout.take().unwrap();
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            if let Some(Ok(line)) = lines.next() {
                let _ = sender.send(line);
            }
            for _ in lines {}
        });
        let line = receiver
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("keyward did not start: {}", stderr.lock().unwrap()));
        let url = line
            .strip_prefix("keyward listening on ")
            .expect("startup line")
            .to_owned();
        let client = if url.starts_with("https://") {
            // Generated certificates: trust their CA. A test that gives its own certificate
            // uses its own client (`https_client`).
            let ca = data.path().join("tls/http_ca.crt");
            let builder = reqwest::Client::builder().use_rustls_tls();
            match std::fs::read(&ca) {
                Ok(pem) => builder
                    .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
                    .build()
                    .unwrap(),
                Err(_) => builder.build().unwrap(),
            }
        } else {
            reqwest::Client::new()
        };
        TestServer {
            child: Some(child),
            url,
            data,
            stderr,
            client,
        }
    }

    /// Sends SIGTERM without waiting for the process to end.
    pub(crate) fn terminate(&self) {
        if let Some(child) = &self.child {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(child.id().to_string())
                .status();
        }
    }

    /// Waits up to `limit` for the process to end; its exit code (`None`: killed by a signal
    /// or still running, then killed).
    pub(crate) fn wait_exit(&mut self, limit: Duration) -> Option<i32> {
        let mut child = self.child.take()?;
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
        None
    }

    /// Everything the server wrote to stderr so far.
    pub(crate) fn logs(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    pub(crate) fn data_dir(&self) -> &Path {
        self.data.path()
    }

    /// Kills the process without letting it clean up (SIGKILL).
    pub(crate) fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops the process with SIGTERM and waits for it; its exit code, `None` if it had to be
    /// killed after ten seconds.
    pub(crate) fn stop(&mut self) -> Option<i32> {
        let mut child = self.child.take()?;
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
        None
    }

    pub(crate) fn superuser(&self) -> Caller<'_> {
        let token = base64::engine::general_purpose::STANDARD.encode(format!("elastic:{PASSWORD}"));
        self.with_authorization(&format!("Basic {token}"))
    }

    /// Defines role `name` as the superuser; the test fails unless it is accepted.
    pub(crate) async fn put_role(&self, name: &str, body: Value) {
        let reply = self
            .superuser()
            .put(&format!("/_security/role/{name}"), body)
            .await;
        assert_eq!(reply.status, 200, "role [{name}]: {}", reply.text);
    }

    /// Creates native user `name` with `password` and `roles` as the superuser; the test fails
    /// unless it is accepted.
    pub(crate) async fn put_user(&self, name: &str, password: &str, roles: &[&str]) {
        let reply = self
            .superuser()
            .put(
                &format!("/_security/user/{name}"),
                serde_json::json!({"password": password, "roles": roles, "full_name": format!("{name} name")}),
            )
            .await;
        assert_eq!(reply.status, 200, "user [{name}]: {}", reply.text);
    }

    /// A caller authenticating as `username` with `password` (Basic).
    pub(crate) fn basic(&self, username: &str, password: &str) -> Caller<'_> {
        let token =
            base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"));
        self.with_authorization(&format!("Basic {token}"))
    }

    pub(crate) fn api_key(&self, encoded: &str) -> Caller<'_> {
        self.with_authorization(&format!("ApiKey {encoded}"))
    }

    pub(crate) fn with_authorization(&self, authorization: &str) -> Caller<'_> {
        Caller {
            server: self,
            authorization: Some(authorization.to_owned()),
        }
    }

    pub(crate) fn anonymous(&self) -> Caller<'_> {
        Caller {
            server: self,
            authorization: None,
        }
    }

    /// Creates keys with these bodies as the superuser, up to 32 requests at a time; the test
    /// fails unless every one is accepted.
    pub(crate) async fn create_keys(&self, bodies: impl IntoIterator<Item = Value>) {
        let token = base64::engine::general_purpose::STANDARD.encode(format!("elastic:{PASSWORD}"));
        let mut tasks = tokio::task::JoinSet::new();
        for body in bodies {
            let request = self
                .client
                .post(format!("{}/_security/api_key", self.url))
                .header("authorization", format!("Basic {token}"))
                .header("content-type", "application/json")
                .body(body.to_string());
            tasks.spawn(async move {
                let reply = request.send().await.expect("request");
                (
                    reply.status().as_u16(),
                    reply.text().await.unwrap_or_default(),
                )
            });
            if tasks.len() >= 32 {
                let (status, text) = tasks.join_next().await.unwrap().unwrap();
                assert_eq!(status, 200, "{text}");
            }
        }
        while let Some(done) = tasks.join_next().await {
            let (status, text) = done.unwrap();
            assert_eq!(status, 200, "{text}");
        }
    }

    /// Creates a key as the superuser and returns the create response.
    pub(crate) async fn create_key(&self, body: Value) -> Value {
        let reply = self.superuser().post("/_security/api_key", body).await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        reply.json()
    }
}

/// One raw HTTP/1.1 connection to a server, for what an HTTP client library will not send:
/// partial requests, slow bodies, oversized heads.
pub(crate) struct RawConnection {
    stream: tokio::net::TcpStream,
}

impl RawConnection {
    pub(crate) async fn open(server: &TestServer) -> RawConnection {
        RawConnection {
            stream: tokio::net::TcpStream::connect(server.address())
                .await
                .unwrap(),
        }
    }

    /// Sends bytes; an error (the server closed the connection) is returned, not a panic.
    pub(crate) async fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        use tokio::io::AsyncWriteExt;
        self.stream.write_all(bytes).await?;
        self.stream.flush().await
    }

    /// Everything the server sends until it closes the connection, or `None` if it has not
    /// closed it within `limit`. A reset counts as closed.
    pub(crate) async fn read_until_closed(&mut self, limit: Duration) -> Option<String> {
        use tokio::io::AsyncReadExt;
        let mut received = Vec::new();
        let read = tokio::time::timeout(limit, async {
            let mut buffer = [0u8; 4096];
            loop {
                match self.stream.read(&mut buffer).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => received.extend_from_slice(&buffer[..n]),
                }
            }
        })
        .await;
        read.ok()
            .map(|()| String::from_utf8_lossy(&received).into_owned())
    }

    /// The first response, head and body, as text; `None` if no complete response came within
    /// `limit` or the connection closed first.
    pub(crate) async fn read_response(&mut self, limit: Duration) -> Option<String> {
        use tokio::io::AsyncReadExt;
        let mut received = Vec::new();
        let read = tokio::time::timeout(limit, async {
            let mut buffer = [0u8; 4096];
            loop {
                let text = String::from_utf8_lossy(&received).into_owned();
                if let Some((head, body)) = text.split_once("\r\n\r\n") {
                    let length = head
                        .lines()
                        .find_map(|line| {
                            let (name, value) = line.split_once(':')?;
                            name.eq_ignore_ascii_case("content-length")
                                .then(|| value.trim().parse::<usize>().ok())?
                        })
                        .unwrap_or(0);
                    if body.len() >= length {
                        return Some(text);
                    }
                }
                match self.stream.read(&mut buffer).await {
                    Ok(0) | Err(_) => return None,
                    Ok(n) => received.extend_from_slice(&buffer[..n]),
                }
            }
        })
        .await;
        read.ok().flatten()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Sends requests with one `Authorization` header.
pub(crate) struct Caller<'a> {
    server: &'a TestServer,
    authorization: Option<String>,
}

impl Caller<'_> {
    pub(crate) async fn send(
        &self,
        method: &str,
        path: &str,
        body: Option<&str>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let url = format!("{}{}", self.server.url, path);
        let mut request = self.server.client.request(method.parse().unwrap(), url);
        if let Some(authorization) = &self.authorization {
            request = request.header("authorization", authorization);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(body) = body {
            if !headers
                .iter()
                .any(|(name, _)| name.eq_ignore_ascii_case("content-type"))
            {
                request = request.header("content-type", "application/json");
            }
            request = request.body(body.to_owned());
        }
        let response = request.send().await.expect("request");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        Reply {
            status,
            headers,
            text,
        }
    }

    pub(crate) async fn get(&self, path: &str) -> Reply {
        self.send("GET", path, None, &[]).await
    }

    pub(crate) async fn post(&self, path: &str, body: Value) -> Reply {
        self.send("POST", path, Some(&body.to_string()), &[]).await
    }

    pub(crate) async fn put(&self, path: &str, body: Value) -> Reply {
        self.send("PUT", path, Some(&body.to_string()), &[]).await
    }

    /// A `POST` without a body, for actions that take none.
    pub(crate) async fn post_empty(&self, path: &str) -> Reply {
        self.send("POST", path, None, &[]).await
    }

    /// A `PUT` without a body, for actions that take none.
    pub(crate) async fn put_empty(&self, path: &str) -> Reply {
        self.send("PUT", path, None, &[]).await
    }

    pub(crate) async fn delete(&self, path: &str, body: Value) -> Reply {
        self.send("DELETE", path, Some(&body.to_string()), &[])
            .await
    }
}

/// Asserts an Elasticsearch error envelope: status, `type` and `reason`, with `root_cause`
/// mirroring them.
#[track_caller]
pub(crate) fn assert_error(reply: &Reply, status: u16, error_type: &str, reason: &str) {
    assert_eq!(reply.status, status, "{}", reply.text);
    let body = reply.json();
    assert_eq!(body["status"], status, "{}", reply.text);
    assert_eq!(body["error"]["type"], error_type, "{}", reply.text);
    assert_eq!(body["error"]["reason"], reason, "{}", reply.text);
    assert_eq!(
        body["error"]["root_cause"][0]["type"], error_type,
        "{}",
        reply.text
    );
    assert_eq!(
        body["error"]["root_cause"][0]["reason"], reason,
        "{}",
        reply.text
    );
    assert_eq!(reply.header_values("x-elastic-product"), ["Elasticsearch"]);
}

/// Asserts a 401 with the three challenges, in the body and as headers.
#[track_caller]
pub(crate) fn assert_unauthenticated(reply: &Reply, reason: &str) {
    assert_error(reply, 401, "security_exception", reason);
    let challenges = [
        r#"Basic realm="security", charset="UTF-8""#,
        r#"Bearer realm="security""#,
        "ApiKey",
    ];
    assert_eq!(reply.header_values("www-authenticate"), challenges);
    assert_eq!(
        reply.json()["error"]["header"]["WWW-Authenticate"],
        serde_json::json!(challenges)
    );
}

/// What came back on a raw connection.
#[derive(Debug)]
pub(crate) enum RawReply {
    /// A whole response.
    Response { status: u16, body: Vec<u8> },
    /// The server closed the connection without a complete response.
    Closed,
    /// Nothing complete arrived before the deadline.
    Hung,
}

impl TestServer {
    /// The `host:port` the server listens on.
    pub(crate) fn address(&self) -> &str {
        self.url
            .trim_start_matches("https://")
            .trim_start_matches("http://")
    }

    /// Writes `head` (the request line and headers, sent as they are, so they may hold any
    /// bytes) and `body`, keeps the connection open (so a body shorter than its declared length
    /// is a slow body that never ends), and reads one response until `deadline`.
    pub(crate) async fn raw(&self, head: &[u8], body: &[u8], deadline: Duration) -> RawReply {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};

        let started = tokio::time::Instant::now();
        let mut stream = tokio::net::TcpStream::connect(self.address())
            .await
            .expect("connect");
        // The server may answer and close before reading everything (a refused header, an
        // early 401): a failed write is not a failure of the test.
        let _ = stream.write_all(head).await;
        let _ = stream.write_all(body).await;
        let _ = stream.flush().await;
        let mut received = Vec::new();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            if let Some(reply) = parse_response(&received, false) {
                return reply;
            }
            let now = tokio::time::Instant::now();
            match tokio::time::timeout(
                (started + deadline).saturating_duration_since(now),
                stream.read(&mut buf),
            )
            .await
            {
                Err(_) => return RawReply::Hung,
                Ok(Ok(0)) | Ok(Err(_)) => {
                    return parse_response(&received, true).unwrap_or(RawReply::Closed);
                }
                Ok(Ok(n)) => received.extend_from_slice(&buf[..n]),
            }
        }
    }
}

/// A complete HTTP/1.1 response at the start of `bytes`, if there is one; `closed` when the
/// connection has ended (a body without a length runs to the end).
fn parse_response(bytes: &[u8], closed: bool) -> Option<RawReply> {
    let end = bytes.windows(4).position(|window| window == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&bytes[..end]);
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    let rest = &bytes[end + 4..];
    let header = |name: &str| {
        headers
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
    };
    let body = if let Some(length) = header("content-length") {
        let length: usize = length.parse().ok()?;
        rest.get(..length)?.to_vec()
    } else if header("transfer-encoding").is_some_and(|value| value.contains("chunked")) {
        let mut body = Vec::new();
        let mut at = rest;
        loop {
            let line_end = at.windows(2).position(|window| window == b"\r\n")?;
            let size = usize::from_str_radix(
                String::from_utf8_lossy(&at[..line_end])
                    .split(';')
                    .next()?
                    .trim(),
                16,
            )
            .ok()?;
            at = &at[line_end + 2..];
            if size == 0 {
                break;
            }
            body.extend_from_slice(at.get(..size)?);
            at = at.get(size + 2..)?;
        }
        body
    } else if closed {
        rest.to_vec()
    } else {
        return None;
    };
    Some(RawReply::Response { status, body })
}
