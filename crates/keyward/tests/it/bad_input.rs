//! The bad-input matrix: hundreds of hostile or broken requests against the real binary, each
//! expecting the answer Elasticsearch gives (status, `error.type`, and `error.reason` where it is
//! stable), none a 5xx or a hang; afterwards the store must be exactly as before, both as seen
//! through the API and byte for byte on disk.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::support::{PASSWORD, RawReply, TestServer};

/// Settings of the server the rows run against.
const MATRIX_SETTINGS: &[&str] = &[
    // A trickled body is cut off after this long (30s by default).
    "keyward.http.body_read_timeout=2s",
];

/// How long any one request may take before the row counts as a hang.
const DEADLINE: Duration = Duration::from_secs(10);

/// How long the health check after each row may take.
const HEALTH_DEADLINE: Duration = Duration::from_secs(5);

/// Who sends a row.
#[derive(Debug, Clone)]
enum Auth {
    Superuser,
    Anonymous,
    /// This exact `Authorization` value, bytes as given.
    Raw(Vec<u8>),
}

/// What a row must get back.
#[derive(Debug, Clone)]
enum Expect {
    /// An Elasticsearch error envelope: status, `error.type`, and `error.reason` when given.
    Error {
        status: u16,
        error_type: &'static str,
        reason: Option<String>,
    },
    /// Elasticsearch's plain-string error (`{"error": "...", "status": N}`), e.g. no handler.
    Plain { status: u16, reason: String },
    /// An Elasticsearch error envelope with this status, whatever its `type` (where the exact
    /// type Elasticsearch gives is not established).
    AnyError(u16),
    /// Only this status (answers the HTTP layer gives before Elasticsearch sees the request, or
    /// harmless successes).
    Status(u16),
    /// The server gives up on the request: it closes the connection, with or without a 408,
    /// before the deadline.
    Cut,
}

#[derive(Debug, Clone)]
struct Row {
    name: String,
    method: &'static str,
    /// Path and query, sent as these bytes.
    target: Vec<u8>,
    auth: Auth,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
    /// A `Content-Length` larger than the body sent: the rest never comes.
    declared_length: Option<usize>,
    expect: Expect,
}

fn row(name: impl Into<String>, method: &'static str, target: impl AsRef<[u8]>) -> Row {
    Row {
        name: name.into(),
        method,
        target: target.as_ref().to_vec(),
        auth: Auth::Superuser,
        headers: Vec::new(),
        body: Vec::new(),
        declared_length: None,
        expect: Expect::Status(0),
    }
}

impl Row {
    fn body(mut self, body: impl AsRef<[u8]>) -> Row {
        self.body = body.as_ref().to_vec();
        self
    }

    fn json(self, body: &Value) -> Row {
        self.body(body.to_string())
    }

    fn auth(mut self, auth: Auth) -> Row {
        self.auth = auth;
        self
    }

    fn header(mut self, name: &str, value: impl AsRef<[u8]>) -> Row {
        self.headers
            .push((name.to_owned(), value.as_ref().to_vec()));
        self
    }

    fn declared(mut self, length: usize) -> Row {
        self.declared_length = Some(length);
        self
    }

    fn error(mut self, status: u16, error_type: &'static str) -> Row {
        self.expect = Expect::Error {
            status,
            error_type,
            reason: None,
        };
        self
    }

    fn reason(mut self, status: u16, error_type: &'static str, reason: impl Into<String>) -> Row {
        self.expect = Expect::Error {
            status,
            error_type,
            reason: Some(reason.into()),
        };
        self
    }

    fn any_error(mut self, status: u16) -> Row {
        self.expect = Expect::AnyError(status);
        self
    }

    fn plain(mut self, status: u16, reason: impl Into<String>) -> Row {
        self.expect = Expect::Plain {
            status,
            reason: reason.into(),
        };
        self
    }

    fn cut(mut self) -> Row {
        self.expect = Expect::Cut;
        self
    }

    fn status(mut self, status: u16) -> Row {
        self.expect = Expect::Status(status);
        self
    }

    /// The request as bytes: head and body.
    fn encode(&self) -> (Vec<u8>, Vec<u8>) {
        let mut head = Vec::new();
        head.extend_from_slice(self.method.as_bytes());
        head.push(b' ');
        head.extend_from_slice(&self.target);
        head.extend_from_slice(b" HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
        let authorization = match &self.auth {
            Auth::Superuser => Some(
                format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(format!("elastic:{PASSWORD}"))
                )
                .into_bytes(),
            ),
            Auth::Anonymous => None,
            Auth::Raw(value) => Some(value.clone()),
        };
        if let Some(value) = authorization {
            head.extend_from_slice(b"Authorization: ");
            head.extend_from_slice(&value);
            head.extend_from_slice(b"\r\n");
        }
        let has_content_type = self
            .headers
            .iter()
            .any(|(name, _)| name.eq_ignore_ascii_case("content-type"));
        for (name, value) in &self.headers {
            head.extend_from_slice(name.as_bytes());
            head.extend_from_slice(b": ");
            head.extend_from_slice(value);
            head.extend_from_slice(b"\r\n");
        }
        let length = self.declared_length.unwrap_or(self.body.len());
        if length > 0 {
            if !has_content_type {
                head.extend_from_slice(b"Content-Type: application/json\r\n");
            }
            head.extend_from_slice(format!("Content-Length: {length}\r\n").as_bytes());
        }
        head.extend_from_slice(b"\r\n");
        (head, self.body.clone())
    }

    /// Why the reply is not what the row expects; `None` when it is.
    fn check(&self, reply: &RawReply) -> Option<String> {
        match (&self.expect, reply) {
            (Expect::Cut, RawReply::Closed | RawReply::Response { status: 408, .. }) => {
                return None;
            }
            (Expect::Cut, _) => return Some(format!("not cut off: {reply:?}")),
            _ => {}
        }
        let RawReply::Response { status, body, .. } = reply else {
            return Some(format!("no answer: {reply:?}"));
        };
        let text = String::from_utf8_lossy(body);
        let shown = || text.chars().take(400).collect::<String>();
        if *status >= 500 {
            return Some(format!("server error {status}: {}", shown()));
        }
        match &self.expect {
            Expect::Status(expected) => (status != expected)
                .then(|| format!("status {status}, not {expected}: {}", shown())),
            Expect::Cut => None,
            Expect::AnyError(expected) => {
                let got: Option<Value> = serde_json::from_slice(body).ok();
                let typed = got.as_ref().is_some_and(|got| {
                    got["error"]["type"].is_string() && got["status"] == json!(expected)
                });
                (status != expected || !typed).then(|| {
                    format!(
                        "status {status}, not an error with status {expected}: {}",
                        shown()
                    )
                })
            }
            Expect::Plain {
                status: expected,
                reason,
            } => {
                let wanted = json!({"error": reason, "status": expected});
                let got: Option<Value> = serde_json::from_slice(body).ok();
                (status != expected || got.as_ref() != Some(&wanted))
                    .then(|| format!("status {status}, {}; wanted {wanted}", shown()))
            }
            Expect::Error {
                status: expected,
                error_type,
                reason,
            } => {
                let Ok(got) = serde_json::from_slice::<Value>(body) else {
                    return Some(format!("status {status}, not JSON: {}", shown()));
                };
                let error = &got["error"];
                let mut problems = Vec::new();
                if status != expected || got["status"] != json!(expected) {
                    problems.push(format!("status {status}, not {expected}"));
                }
                if error["type"] != json!(error_type)
                    || error["root_cause"][0]["type"] != json!(error_type)
                {
                    problems.push(format!("type {}, not {error_type}", error["type"]));
                }
                if let Some(reason) = reason
                    && error["reason"] != json!(reason)
                {
                    problems.push(format!("reason {}, not {reason:?}", error["reason"]));
                }
                (!problems.is_empty()).then(|| format!("{}: {}", problems.join("; "), shown()))
            }
        }
    }
}

/// What the matrix needs to know about the store it runs against.
struct Fixture {
    /// A REST key (active).
    key_id: String,
    /// A cross-cluster key.
    cross_cluster_id: String,
}

/// Fills the store with one of everything, so that bad requests have something to damage.
async fn populate(server: &TestServer) -> Fixture {
    server
        .put_role(
            "matrix_role",
            json!({"cluster": ["monitor"], "indices": [{"names": ["logs-*"], "privileges": ["read"]}],
                   "applications": [{"application": "app", "privileges": ["read"], "resources": ["*"]}],
                   "metadata": {"m": 1}}),
        )
        .await;
    server
        .put_user("matrix_user", "matrix-password", &["matrix_role"])
        .await;
    let reply = server
        .superuser()
        .put(
            "/_security/privilege",
            json!({"app": {"read": {"actions": ["data:read/*"], "metadata": {"k": "v"}}}}),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let key = server
        .create_key(
            json!({"name": "matrix-key", "expiration": "7d", "metadata": {"tier": 1},
                           "role_descriptors": {"r": {"cluster": ["monitor"]}}}),
        )
        .await;
    let gone = server.create_key(json!({"name": "matrix-gone"})).await;
    let reply = server
        .superuser()
        .delete("/_security/api_key", json!({"ids": [gone["id"]]}))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let reply = server
        .superuser()
        .post(
            "/_security/cross_cluster/api_key",
            json!({"name": "matrix-cc", "access": {"search": [{"names": ["logs-*"]}]}}),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    Fixture {
        key_id: key["id"].as_str().unwrap().to_owned(),
        cross_cluster_id: reply.json()["id"].as_str().unwrap().to_owned(),
    }
}

/// Everything the store holds, as the superuser reads it through the API.
async fn dump(server: &TestServer) -> Value {
    let mut out = serde_json::Map::new();
    for path in [
        "/_security/api_key?with_limited_by=true",
        "/_security/user",
        "/_security/role",
        "/_security/privilege",
    ] {
        let reply = server.superuser().get(path).await;
        assert_eq!(reply.status, 200, "{path}: {}", reply.text);
        out.insert(path.to_owned(), reply.json());
    }
    let reply = server
        .superuser()
        .post(
            "/_security/_query/api_key",
            json!({"size": 10000, "sort": ["creation", "name"]}),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    out.insert("_query/api_key".to_owned(), reply.json());
    Value::Object(out)
}

/// SHA-256 of the data directory's database after a clean stop (the stop checkpoints the
/// write-ahead log into it), and of any WAL left behind.
fn digest_after_stop(server: &mut TestServer) -> String {
    assert_eq!(server.stop(), Some(0), "{}", server.logs());
    let mut hex = String::new();
    for file in ["keyward.db", "keyward.db-wal"] {
        let path = server.data_dir().join(file);
        let bytes = std::fs::read(&path).unwrap_or_default();
        let digest = Sha256::digest(&bytes);
        for byte in digest {
            let _ = write!(hex, "{byte:02x}");
        }
        hex.push(' ');
    }
    hex
}

#[tokio::test]
async fn hostile_requests_get_elasticsearch_errors_and_change_nothing() {
    let mut server = TestServer::start().await;
    let fixture = populate(&server).await;
    let data = Arc::clone(&server.data);

    // A restart must leave the database file as it was, or the byte comparison below means
    // nothing.
    let populated = digest_after_stop(&mut server);
    let mut server = TestServer::start_in(Arc::clone(&data), &[]).await;
    let restarted = digest_after_stop(&mut server);
    let bytes_comparable = populated == restarted;
    if !bytes_comparable {
        eprintln!("a restart alone changes the database file; comparing the logical dump only");
    }
    let server = TestServer::start_in(Arc::clone(&data), MATRIX_SETTINGS).await;
    let before = dump(&server).await;

    let rows = rows(&fixture);
    assert!(rows.len() >= 200, "only {} rows", rows.len());
    let rows: Vec<&Row> = rows.iter().collect();
    let mut server = server;
    let failures = run(&mut server, &data, &rows).await;
    eprintln!(
        "bad-input matrix: {} rows, {} failed",
        rows.len(),
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {} rows failed:\n{}",
        failures.len(),
        rows.len(),
        failures.join("\n")
    );
    let after = dump(&server).await;
    assert_eq!(before, after, "the bad requests changed the store");
    let end = digest_after_stop(&mut server);
    if bytes_comparable {
        assert_eq!(restarted, end, "the bad requests changed the database file");
    }
}

/// Sends each row on its own connection; what went wrong, one line per failing row.
/// A row that leaves the server unable to answer `GET /_cluster/health` in time fails too, and
/// the server is restarted on the same data for the rows after it.
async fn run(server: &mut TestServer, data: &Arc<tempfile::TempDir>, rows: &[&Row]) -> Vec<String> {
    let (health_head, health_body) = row("health", "GET", "/_cluster/health").encode();
    let mut failures = Vec::new();
    for row in rows {
        let (head, body) = row.encode();
        let reply = server.raw(&head, &body, DEADLINE).await;
        let mut problems: Vec<String> = row.check(&reply).into_iter().collect();
        let health = server
            .raw(&health_head, &health_body, HEALTH_DEADLINE)
            .await;
        if !matches!(health, RawReply::Response { status: 200, .. }) {
            problems.push(format!("left the server unable to answer: {health:?}"));
            server.kill();
            *server = TestServer::start_in(Arc::clone(data), MATRIX_SETTINGS).await;
        }
        if !problems.is_empty() {
            failures.push(format!(
                "{} [{} {}]: {}",
                row.name,
                row.method,
                shown_target(row),
                problems.join("; ")
            ));
        }
    }
    failures
}

fn shown_target(row: &Row) -> String {
    let text = String::from_utf8_lossy(&row.target);
    if text.len() > 80 {
        format!(
            "{}… ({} bytes)",
            &text[..text.floor_char_boundary(80)],
            row.target.len()
        )
    } else {
        text.into_owned()
    }
}

/// The kind of value a field takes, to send it every other kind.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Str,
    Bool,
    Int,
    Object,
    StrArray,
    ObjectArray,
    /// A query DSL object: anything else is Elasticsearch's `parsing_exception`.
    Query,
    /// `search_after`: an array of sort values.
    SortValues,
}

/// Values of the wrong JSON type for a field of `kind`.
fn wrong_values(kind: Kind) -> Vec<(&'static str, Value)> {
    match kind {
        Kind::Str => vec![("array", json!(["a"])), ("object", json!({"a": 1}))],
        Kind::Bool => vec![
            ("object", json!({})),
            ("array", json!([true])),
            ("word", json!("maybe")),
        ],
        Kind::Int => vec![
            ("word", json!("ten")),
            ("object", json!({})),
            ("array", json!([1])),
        ],
        Kind::Object => vec![
            ("string", json!("x")),
            ("number", json!(1)),
            ("array", json!([])),
        ],
        Kind::StrArray => vec![("object", json!({"a": "b"})), ("nested", json!([["a"]]))],
        Kind::ObjectArray => vec![("string", json!("x")), ("strings", json!(["x"]))],
        Kind::Query => vec![
            ("string", json!("x")),
            ("number", json!(1)),
            ("array", json!([])),
        ],
        Kind::SortValues => vec![("string", json!("x")), ("object", json!({}))],
    }
}

/// An endpoint that takes a JSON body.
struct BodyEndpoint {
    name: &'static str,
    method: &'static str,
    path: String,
    /// The answer to a body of the wrong shape or with a wrongly typed field.
    parse_error: &'static str,
    /// Whether a missing body is `request body is required`.
    body_required: bool,
    /// A valid body this endpoint rejects for a reason other than parsing (so that adding one
    /// bad field to it shows the parser rejects the field), and the fields it takes.
    fields: Vec<(&'static str, Kind)>,
}

fn body_endpoints(fixture: &Fixture) -> Vec<BodyEndpoint> {
    use Kind::*;
    let x = "x_content_parse_exception";
    let p = "parse_exception";
    vec![
        BodyEndpoint {
            name: "create_api_key",
            method: "POST",
            path: "/_security/api_key".into(),
            parse_error: x,
            body_required: true,
            fields: vec![
                ("name", Str),
                ("expiration", Str),
                ("role_descriptors", Object),
                ("metadata", Object),
            ],
        },
        BodyEndpoint {
            name: "grant_api_key",
            method: "POST",
            path: "/_security/api_key/grant".into(),
            parse_error: x,
            body_required: true,
            fields: vec![
                ("grant_type", Str),
                ("username", Str),
                ("password", Str),
                ("access_token", Str),
                ("run_as", Str),
                ("api_key", Object),
            ],
        },
        BodyEndpoint {
            name: "invalidate_api_key",
            method: "DELETE",
            path: "/_security/api_key".into(),
            parse_error: x,
            body_required: true,
            fields: vec![
                ("ids", StrArray),
                ("name", Str),
                ("username", Str),
                ("realm_name", Str),
                ("owner", Bool),
            ],
        },
        BodyEndpoint {
            name: "update_api_key",
            method: "PUT",
            path: format!("/_security/api_key/{}", fixture.key_id),
            parse_error: x,
            body_required: false,
            fields: vec![
                ("role_descriptors", Object),
                ("metadata", Object),
                ("expiration", Str),
            ],
        },
        BodyEndpoint {
            name: "bulk_update_api_keys",
            method: "POST",
            path: "/_security/api_key/_bulk_update".into(),
            parse_error: x,
            body_required: true,
            fields: vec![
                ("ids", StrArray),
                ("role_descriptors", Object),
                ("metadata", Object),
                ("expiration", Str),
            ],
        },
        BodyEndpoint {
            name: "create_cross_cluster_api_key",
            method: "POST",
            path: "/_security/cross_cluster/api_key".into(),
            parse_error: x,
            body_required: true,
            fields: vec![
                ("name", Str),
                ("access", Object),
                ("expiration", Str),
                ("metadata", Object),
            ],
        },
        BodyEndpoint {
            name: "update_cross_cluster_api_key",
            method: "PUT",
            path: format!(
                "/_security/cross_cluster/api_key/{}",
                fixture.cross_cluster_id
            ),
            parse_error: x,
            body_required: true,
            fields: vec![
                ("access", Object),
                ("metadata", Object),
                ("expiration", Str),
            ],
        },
        BodyEndpoint {
            name: "query_api_keys",
            method: "POST",
            path: "/_security/_query/api_key".into(),
            parse_error: x,
            body_required: false,
            fields: vec![
                ("query", Query),
                ("from", Int),
                ("size", Int),
                ("search_after", SortValues),
                ("aggs", Object),
            ],
        },
        BodyEndpoint {
            name: "query_user",
            method: "POST",
            path: "/_security/_query/user".into(),
            parse_error: x,
            body_required: false,
            fields: vec![("query", Query), ("from", Int), ("size", Int)],
        },
        BodyEndpoint {
            name: "query_role",
            method: "POST",
            path: "/_security/_query/role".into(),
            parse_error: x,
            body_required: false,
            fields: vec![("query", Query), ("from", Int), ("size", Int)],
        },
        BodyEndpoint {
            name: "get_token",
            method: "POST",
            path: "/_security/oauth2/token".into(),
            parse_error: x,
            body_required: true,
            fields: vec![
                ("grant_type", Str),
                ("username", Str),
                ("password", Str),
                ("refresh_token", Str),
            ],
        },
        BodyEndpoint {
            name: "invalidate_token",
            method: "DELETE",
            path: "/_security/oauth2/token".into(),
            parse_error: x,
            body_required: true,
            fields: vec![
                ("token", Str),
                ("refresh_token", Str),
                ("realm_name", Str),
                ("username", Str),
            ],
        },
        BodyEndpoint {
            name: "put_user",
            method: "PUT",
            path: "/_security/user/matrix_user".into(),
            parse_error: p,
            body_required: true,
            fields: vec![
                ("password", Str),
                ("roles", StrArray),
                ("full_name", Str),
                ("email", Str),
                ("metadata", Object),
                ("enabled", Bool),
            ],
        },
        BodyEndpoint {
            name: "change_password",
            method: "POST",
            path: "/_security/user/matrix_user/_password".into(),
            parse_error: p,
            body_required: true,
            fields: vec![("password", Str), ("password_hash", Str)],
        },
        BodyEndpoint {
            name: "put_role",
            method: "PUT",
            path: "/_security/role/matrix_role".into(),
            parse_error: p,
            body_required: true,
            fields: vec![
                ("cluster", StrArray),
                ("indices", ObjectArray),
                ("applications", ObjectArray),
                ("run_as", StrArray),
                ("metadata", Object),
            ],
        },
        BodyEndpoint {
            name: "bulk_put_role",
            method: "POST",
            path: "/_security/role".into(),
            parse_error: x,
            body_required: true,
            fields: vec![("roles", Object)],
        },
        BodyEndpoint {
            name: "bulk_delete_role",
            method: "DELETE",
            path: "/_security/role".into(),
            parse_error: x,
            body_required: true,
            fields: vec![("names", StrArray)],
        },
        BodyEndpoint {
            name: "has_privileges",
            method: "POST",
            path: "/_security/user/_has_privileges".into(),
            parse_error: x,
            body_required: true,
            fields: vec![
                ("cluster", StrArray),
                ("index", ObjectArray),
                ("application", ObjectArray),
            ],
        },
        BodyEndpoint {
            name: "cross_cluster_authenticate",
            method: "POST",
            path: "/_keyward/cross_cluster/_authenticate".into(),
            parse_error: x,
            body_required: true,
            fields: vec![("api_key", Str), ("certificate_dn", Str)],
        },
        BodyEndpoint {
            name: "put_privileges",
            method: "PUT",
            path: "/_security/privilege".into(),
            parse_error: "parse_exception",
            body_required: true,
            fields: vec![],
        },
    ]
}

/// Endpoints that take no body, each with the answer it gives without one (none of them
/// writes: their targets do not exist, or they only read).
fn bodiless_endpoints() -> Vec<(&'static str, Row)> {
    let only_existing =
        |what: &str| format!("Validation Failed: 1: only existing users can be {what};");
    vec![
        ("info", row("", "GET", "/").status(200)),
        (
            "cluster_health",
            row("", "GET", "/_cluster/health").status(200),
        ),
        (
            "authenticate",
            row("", "GET", "/_security/_authenticate").status(200),
        ),
        (
            "get_api_key",
            row("", "GET", "/_security/api_key").status(200),
        ),
        (
            "clear_api_key_cache",
            row("", "POST", "/_security/api_key/nothing/_clear_cache").status(200),
        ),
        ("get_user", row("", "GET", "/_security/user").status(200)),
        (
            "delete_user",
            row("", "DELETE", "/_security/user/nobody").status(404),
        ),
        (
            "enable_user",
            row("", "POST", "/_security/user/nobody/_enable").reason(
                400,
                "validation_exception",
                only_existing("enabled"),
            ),
        ),
        (
            "disable_user",
            row("", "PUT", "/_security/user/nobody/_disable").reason(
                400,
                "validation_exception",
                only_existing("disabled"),
            ),
        ),
        (
            "get_user_privileges",
            row("", "GET", "/_security/user/_privileges").status(200),
        ),
        ("get_role", row("", "GET", "/_security/role").status(200)),
        (
            "delete_role",
            row("", "DELETE", "/_security/role/nothing").status(404),
        ),
        (
            "clear_cached_roles",
            row("", "POST", "/_security/role/nothing/_clear_cache").status(200),
        ),
        (
            "get_privileges",
            row("", "GET", "/_security/privilege").status(200),
        ),
        (
            "get_builtin_privileges",
            row("", "GET", "/_security/privilege/_builtin").status(200),
        ),
        (
            "delete_privileges",
            row("", "DELETE", "/_security/privilege/app/nothing").status(404),
        ),
        (
            "clear_cached_privileges",
            row("", "POST", "/_security/privilege/app/_clear_cache").status(200),
        ),
    ]
}

/// `depth` nested arrays around `inner`.
fn nested_arrays(depth: usize, inner: &str) -> String {
    format!("{}{inner}{}", "[".repeat(depth), "]".repeat(depth))
}

/// `depth` nested objects `{"a":…}` around `inner`.
fn nested_objects(depth: usize, inner: &str) -> String {
    format!("{}{inner}{}", "{\"a\":".repeat(depth), "}".repeat(depth))
}

/// A `bool` query nested `depth` times.
fn nested_bool(depth: usize) -> String {
    let mut query = r#"{"match_all":{}}"#.to_owned();
    for _ in 0..depth {
        query = format!(r#"{{"bool":{{"must":[{query}]}}}}"#);
    }
    format!(r#"{{"query":{query}}}"#)
}

fn rows(fixture: &Fixture) -> Vec<Row> {
    let mut rows = Vec::new();
    let x = "x_content_parse_exception";
    let validation = "action_request_validation_exception";
    let illegal = "illegal_argument_exception";

    // Every body-taking endpoint: missing, garbage and wrongly shaped bodies, unknown fields,
    // and each field with values of the wrong JSON type.
    for endpoint in body_endpoints(fixture) {
        let name = endpoint.name;
        let base = || row("", endpoint.method, endpoint.path.as_bytes());
        if endpoint.body_required {
            rows.push(
                Row {
                    name: format!("{name}/empty_body"),
                    ..base()
                }
                .reason(400, "parse_exception", "request body is required"),
            );
            rows.push(
                Row {
                    name: format!("{name}/whitespace_body"),
                    ..base()
                }
                .body("  \n ")
                .reason(400, "parse_exception", "request body is required"),
            );
        }
        rows.push(
            Row {
                name: format!("{name}/garbage_body"),
                ..base()
            }
            .body("{not json")
            .error(400, x),
        );
        rows.push(
            Row {
                name: format!("{name}/truncated_body"),
                ..base()
            }
            .body(r#"{"a":"#)
            .error(400, x),
        );
        rows.push(
            Row {
                name: format!("{name}/trailing_garbage"),
                ..base()
            }
            .body(r#"{} {}"#)
            .error(400, x),
        );
        rows.push(
            Row {
                name: format!("{name}/invalid_utf8_body"),
                ..base()
            }
            .body(b"{\"name\":\"\xff\xfe\"}")
            .error(400, x),
        );
        rows.push(
            Row {
                name: format!("{name}/raw_nul_in_string"),
                ..base()
            }
            .body(b"{\"name\":\"a\x00b\"}")
            .error(400, x),
        );
        rows.push(
            Row {
                name: format!("{name}/deep_arrays"),
                ..base()
            }
            .body(format!(r#"{{"x":{}}}"#, nested_arrays(1000, "1")))
            .error(400, x),
        );
        rows.push(
            Row {
                name: format!("{name}/deep_objects"),
                ..base()
            }
            .body(format!(r#"{{"x":{}}}"#, nested_objects(1000, "1")))
            .error(400, x),
        );
        for (shape, body) in [
            ("array", "[]"),
            ("string", r#""body""#),
            ("number", "42"),
            ("null", "null"),
        ] {
            rows.push(
                Row {
                    name: format!("{name}/body_is_{shape}"),
                    ..base()
                }
                .body(body)
                .error(400, endpoint.parse_error),
            );
        }
        if name != "put_privileges" {
            rows.push(
                Row {
                    name: format!("{name}/unknown_field"),
                    ..base()
                }
                .json(&json!({"no_such_field": 1}))
                .error(400, endpoint.parse_error),
            );
        }
        for (field, kind) in &endpoint.fields {
            // Elasticsearch's query parser words its own error for a query that is no object.
            let expected = match kind {
                Kind::Query => "parsing_exception",
                _ => endpoint.parse_error,
            };
            for (what, value) in wrong_values(*kind) {
                rows.push(
                    Row {
                        name: format!("{name}/{field}_as_{what}"),
                        ..base()
                    }
                    .json(&json!({ *field: value }))
                    .error(400, expected),
                );
            }
        }
        if let Some((field, _)) = endpoint.fields.first() {
            rows.push(
                Row {
                    name: format!("{name}/duplicate_key"),
                    ..base()
                }
                // The second value is wrong for every field, so that a parser that keeps the
                // last value fails too and the row never writes.
                .body(format!(r#"{{"{field}":{{}},"{field}":[[]]}}"#))
                .error(400, x),
            );
        }
    }

    // Bodies too big, too long or too deep for what they describe.
    let megabyte = "n".repeat(1024 * 1024);
    rows.push(
        row("create_api_key/name_1mb", "POST", "/_security/api_key")
            .json(&json!({"name": megabyte}))
            .reason(
                400,
                validation,
                "Validation Failed: 1: api key name may not be more than 256 characters long;",
            ),
    );
    rows.push(
        row(
            "create_api_key/metadata_key_1mb",
            "POST",
            "/_security/api_key",
        )
        .json(&json!({"name": "k", "metadata": {"_x": megabyte}}))
        .reason(
            400,
            validation,
            "Validation Failed: 1: API key metadata keys may not start with [_];",
        ),
    );
    let mut names = vec!["Upper"];
    names.extend(std::iter::repeat_n("logs", 100_000));
    rows.push(
        row("create_api_key/index_names_100k", "POST", "/_security/api_key")
            .json(&json!({"name": "k", "role_descriptors": {"r": {"indices": [{"names": names, "privileges": ["read"]}]}}}))
            .reason(400, validation, "Validation Failed: 1: index name must be lowercase [Upper];"),
    );
    rows.push(
        row(
            "put_user/username_1mb",
            "PUT",
            format!("/_security/user/{}", "u".repeat(1024 * 1024)),
        )
        .json(&json!({"password": "long-enough"}))
        // Far past the limits (beyond the 24 KiB a connection may buffer for a request head),
        // hyper answers a bare 431 and closes the connection: see COMPATIBILITY.md.
        .status(431),
    );
    rows.push(
        row(
            "put_role/indices_10k_bad_regex",
            "PUT",
            "/_security/role/matrix_role",
        )
        .json(&json!({"indices": vec![json!({"names": ["/[/"], "privileges": ["read"]}); 10_000]}))
        .error(400, validation),
    );
    rows.push(
        row("put_role/bad_regex", "PUT", "/_security/role/matrix_role")
            .json(&json!({"indices": [{"names": ["logs", "/logs-(/"], "privileges": ["read"]}]}))
            .reason(
                400,
                validation,
                "Validation Failed: 1: invalid regular expression pattern [/logs-(/];",
            ),
    );
    rows.push(
        row(
            "invalidate_api_key/ids_100k_blank",
            "DELETE",
            "/_security/api_key",
        )
        .json(&json!({"ids": vec![""; 100_000]}))
        .error(400, illegal),
    );
    rows.push(
        row(
            "invalidate_api_key/ids_empty",
            "DELETE",
            "/_security/api_key",
        )
        .json(&json!({"ids": []}))
        .reason(400, illegal, "Field [ids] cannot be an empty array"),
    );
    rows.push(
        row("invalidate_api_key/nothing_given", "DELETE", "/_security/api_key")
            .json(&json!({}))
            .reason(400, validation, "Validation Failed: 1: One of [api key id(s), api key name, username, realm name] must be specified if [owner] flag is false;"),
    );
    rows.push(
        row(
            "bulk_update_api_keys/ids_empty",
            "POST",
            "/_security/api_key/_bulk_update",
        )
        .json(&json!({"ids": []}))
        .error(400, validation),
    );
    rows.push(
        row(
            "query_api_keys/deep_bool_1000",
            "POST",
            "/_security/_query/api_key",
        )
        .body(nested_bool(1000))
        .error(400, x),
    );
    // Elasticsearch's `indices.query.bool.max_nested_depth` is 30 and counts every query, the
    // innermost `match_all` too: 29 `bool`s around it are a query, 30 are not (its
    // `AbstractQueryBuilder` test: the limit reached is fine, one more level fails). keyward
    // answers with the cause Elasticsearch wraps in `x_content_parse_exception`.
    let too_deep = "The nested depth of the query exceeds the maximum nested depth for queries set in [indices.query.bool.max_nested_depth]";
    rows.push(
        row(
            "query_api_keys/deep_bool_29",
            "POST",
            "/_security/_query/api_key",
        )
        .body(nested_bool(29))
        .status(200),
    );
    rows.push(
        row(
            "query_api_keys/deep_bool_30",
            "POST",
            "/_security/_query/api_key",
        )
        .body(nested_bool(30))
        .reason(400, illegal, too_deep),
    );
    rows.push(
        row(
            "query_api_keys/deep_bool_40",
            "POST",
            "/_security/_query/api_key",
        )
        .body(nested_bool(40))
        .reason(400, illegal, too_deep),
    );
    rows.push(
        row("query_user/deep_bool_40", "POST", "/_security/_query/user")
            .body(nested_bool(40))
            .reason(400, illegal, too_deep),
    );
    let many_terms: Vec<String> = (0..100_000).map(|n| format!("t{n}")).collect();
    rows.push(
        row(
            "query_api_keys/terms_100k",
            "POST",
            "/_security/_query/api_key",
        )
        .json(&json!({"query": {"terms": {"name": many_terms}}}))
        .error(400, illegal),
    );
    let many_should: Vec<Value> = (0..5000)
        .map(|n| json!({"term": {"name": format!("n{n}")}}))
        .collect();
    rows.push(
        row(
            "query_api_keys/should_5000",
            "POST",
            "/_security/_query/api_key",
        )
        .json(&json!({"query": {"bool": {"should": many_should}}}))
        .any_error(400),
    );
    rows.push(
        row(
            "query_api_keys/size_negative",
            "POST",
            "/_security/_query/api_key",
        )
        .json(&json!({"size": -1}))
        .reason(
            400,
            validation,
            "Validation Failed: 1: [size] parameter cannot be negative but was [-1];",
        ),
    );
    rows.push(
        row(
            "query_api_keys/from_negative",
            "POST",
            "/_security/_query/api_key",
        )
        .json(&json!({"from": -5}))
        .reason(
            400,
            validation,
            "Validation Failed: 1: [from] parameter cannot be negative but was [-5];",
        ),
    );
    rows.push(
        row(
            "query_api_keys/size_huge",
            "POST",
            "/_security/_query/api_key",
        )
        .json(&json!({"size": 10_000_000_000_i64}))
        .error(400, x),
    );
    rows.push(
        row(
            "query_api_keys/unsupported_query",
            "POST",
            "/_security/_query/api_key",
        )
        .json(&json!({"query": {"script": {"script": "1"}}}))
        .reason(
            400,
            illegal,
            "Query type [script] is not currently supported in this context",
        ),
    );
    rows.push(
        row(
            "query_api_keys/field_not_allowed",
            "POST",
            "/_security/_query/api_key",
        )
        .json(&json!({"query": {"term": {"api_key_hash": "x"}}}))
        .reason(
            400,
            illegal,
            "Field [api_key_hash] is not allowed for querying or aggregation",
        ),
    );
    rows.push(
        row(
            "query_api_keys/search_after_mismatch",
            "POST",
            "/_security/_query/api_key",
        )
        .json(&json!({"sort": ["name"], "search_after": ["a", "b"]}))
        .error(400, illegal),
    );
    rows.push(
        row(
            "query_api_keys/nested_filters_aggs",
            "POST",
            "/_security/_query/api_key",
        )
        .body(nested_filters_aggs(8))
        .error(400, "too_many_buckets_exception"),
    );
    rows.push(
        row(
            "query_api_keys/bad_date_math",
            "POST",
            "/_security/_query/api_key",
        )
        .json(&json!({"query": {"range": {"creation": {"gte": "now-99999999999999999y"}}}}))
        .any_error(400),
    );
    rows.push(
        row(
            "query_api_keys/wildcard_backtracking",
            "POST",
            "/_security/_query/user",
        )
        .json(&json!({"query": {"wildcard": {"username": format!("{}b", "*a".repeat(200))}}}))
        .status(200),
    );
    // Found by fuzzing (the `query` target): field patterns of simple_query_string are matched
    // against the field names by backtracking.
    rows.push(
        row("query_api_keys/field_pattern_backtracking", "POST", "/_security/_query/api_key")
            .json(&json!({"query": {"simple_query_string": {"query": "x", "fields": [format!("{}user*", "*".repeat(31))]}}}))
            .status(200),
    );
    rows.push(
        row(
            "create_api_key/bad_expiration",
            "POST",
            "/_security/api_key",
        )
        .json(&json!({"name": "k", "expiration": "1 fortnight"}))
        .error(400, x),
    );
    rows.push(
        row(
            "create_api_key/expiration_overflow",
            "POST",
            "/_security/api_key",
        )
        .json(&json!({"name": "k", "expiration": "99999999999999999999d"}))
        .error(400, x),
    );
    rows.push(
        row(
            "put_role/regex_too_complex",
            "PUT",
            "/_security/role/matrix_role",
        )
        // "an `a` twenty characters from the end": the minimal automaton has 2^21 states.
        .json(&json!({"indices": [{"names": ["/[ab]*a[ab]{20}/"], "privileges": ["read"]}]}))
        .any_error(400),
    );
    rows.push(
        row("create_cross_cluster_api_key/bad_certificate_identity", "POST", "/_security/cross_cluster/api_key")
            .json(&json!({"name": "k", "access": {"search": [{"names": ["*"]}]}, "certificate_identity": "CN=(unclosed"}))
            .error(400, illegal),
    );
    rows.push(
        row("put_user/password_hash_costly_bcrypt", "PUT", "/_security/user/matrix_user")
            .json(&json!({"password_hash": "$2a$31$abcdefghijklmnopqrstuu5r8hOcNrI0vF0dEkAdRvQNNIKwk0iNq", "roles": []}))
            .any_error(400),
    );
    rows.push(
        row("put_user/password_hash_costly_pbkdf2", "PUT", "/_security/user/matrix_user")
            .json(&json!({"password_hash": "{PBKDF2}2000000000$c2FsdHNhbHRzYWx0c2FsdA==$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g=", "roles": []}))
            .any_error(400),
    );
    rows.push(
        row("put_role/name_with_nul", "PUT", "/_security/role/a%00b")
            .json(&json!({"cluster": ["monitor"]}))
            .error(400, validation),
    );
    rows.push(
        row("put_user/name_with_nul", "PUT", "/_security/user/a%00b")
            .json(&json!({"password": "long-enough"}))
            .error(400, validation),
    );
    rows.push(
        row(
            "put_privileges/application_with_nul",
            "PUT",
            "/_security/privilege",
        )
        .json(&json!({"a\u{0}b": {"read": {"actions": ["data:read/*"]}}}))
        .error(400, validation),
    );
    rows.push(
        row(
            "create_api_key/name_with_escaped_nul_and_space",
            "POST",
            "/_security/api_key",
        )
        .json(&json!({"name": " a\u{0}b"}))
        .reason(
            400,
            validation,
            "Validation Failed: 1: api key name may not begin or end with whitespace;",
        ),
    );

    // The same endpoints without a body, and with one where they take none.
    for (name, plain) in bodiless_endpoints() {
        let path = String::from_utf8_lossy(&plain.target).into_owned();
        let method = plain.method;
        rows.push(
            row(format!("{name}/garbage_body"), method, &path)
                .body("{garbage")
                .reason(
                    400,
                    illegal,
                    format!("request [{method} {path}] does not support having a body"),
                ),
        );
        rows.push(Row {
            name: format!("{name}/no_body"),
            ..plain
        });
    }

    // Query strings: unknown and malformed parameters, invalid escapes and UTF-8.
    rows.push(
        row(
            "get_api_key/bad_boolean",
            "GET",
            "/_security/api_key?owner=maybe",
        )
        .reason(
            400,
            illegal,
            "Failed to parse value [maybe] as only [true] or [false] are allowed.",
        ),
    );
    rows.push(
        row(
            "get_api_key/unknown_param",
            "GET",
            "/_security/api_key?nope=1",
        )
        .reason(
            400,
            illegal,
            "request [/_security/api_key] contains unrecognized parameter: [nope]",
        ),
    );
    rows.push(
        row(
            "get_api_key/id_and_name",
            "GET",
            "/_security/api_key?id=a&name=b",
        )
        .reason(
            400,
            validation,
            "Validation Failed: 1: only one of [api key id, api key name] can be specified;",
        ),
    );
    rows.push(
        row("get_api_key/owner_and_username", "GET", "/_security/api_key?owner=true&username=x")
            .reason(400, validation, "Validation Failed: 1: neither username nor realm-name may be specified when retrieving owned API keys;"),
    );
    rows.push(
        row(
            "get_api_key/invalid_utf8_name",
            "GET",
            "/_security/api_key?name=%FF%FE",
        )
        .status(200),
    );
    rows.push(
        row(
            "get_api_key/nul_in_id",
            "GET",
            "/_security/api_key?id=a%00b",
        )
        .status(404),
    );
    rows.push(
        row(
            "get_api_key/bad_escape",
            "GET",
            "/_security/api_key?name=%ZZ",
        )
        .error(400, "bad_parameter_exception"),
    );
    rows.push(
        row(
            "get_api_key/truncated_escape",
            "GET",
            "/_security/api_key?name=%F",
        )
        .error(400, "bad_parameter_exception"),
    );
    rows.push(
        row(
            "create_api_key/bad_refresh",
            "POST",
            "/_security/api_key?refresh=sometimes",
        )
        .json(&json!({"name": "k"}))
        .error(400, illegal),
    );
    rows.push(
        row(
            "query_api_keys/bad_typed_keys",
            "POST",
            "/_security/_query/api_key?typed_keys=2",
        )
        .reason(
            400,
            illegal,
            "Failed to parse value [2] as only [true] or [false] are allowed.",
        ),
    );
    rows.push(
        row(
            "cluster_health/bad_timeout",
            "GET",
            "/_cluster/health?timeout=soon",
        )
        .error(400, illegal),
    );
    rows.push(
        row("get_user/unknown_params", "GET", "/_security/user?a=1&b=2").reason(
            400,
            illegal,
            "request [/_security/user] contains unrecognized parameters: [a], [b]",
        ),
    );
    rows.push(row("get_user/bad_pretty", "GET", "/_security/user?pretty=yes").status(200));
    let long_query = format!("/_security/api_key?name={}", "q".repeat(64 * 1024));
    // Far past the line limit, beyond what a connection may buffer for a request head: hyper's
    // bare 431 (COMPATIBILITY.md).
    rows.push(row("get_api_key/query_64kb", "GET", long_query).status(431));

    // filter_path that expands badly, and the deepest paths.
    rows.push(
        row(
            "filter_path/many_double_stars",
            "GET",
            format!("/_security/role?filter_path={}", vec!["**"; 30].join(".")),
        )
        .status(200),
    );
    rows.push(
        row(
            "filter_path/many_paths",
            "GET",
            format!(
                "/_security/role?filter_path={}",
                vec!["**.*a*.**"; 200].join(",")
            ),
        )
        .status(200),
    );
    rows.push(
        row(
            "filter_path/invalid_utf8",
            "GET",
            "/_security/role?filter_path=%FF.**",
        )
        .status(200),
    );

    // Paths: invalid UTF-8, NUL, too long, too many segments, dot segments.
    rows.push(
        row(
            "get_role/invalid_utf8_name",
            "GET",
            "/_security/role/%FF%FE",
        )
        .status(404),
    );
    rows.push(row("get_user/nul_in_name", "GET", "/_security/user/a%00b").status(404));
    rows.push(row("raw_non_ascii_in_path", "GET", b"/_security/role/\xff").status(400));
    rows.push(row("space_in_path", "GET", b"/_security/role/a b").status(400));
    rows.push(
        row(
            "path_8kb",
            "GET",
            format!("/_security/role/{}", "r".repeat(8 * 1024)),
        )
        .reason(
            400,
            "too_long_http_line_exception",
            "An HTTP line is larger than 4096 bytes.",
        ),
    );
    rows.push(
        row("too_many_segments", "GET", "/_security/role/a/b/c/d/e/f/g").plain(
            400,
            "no handler found for uri [/_security/role/a/b/c/d/e/f/g] and method [GET]",
        ),
    );
    rows.push(
        row("dot_segments", "GET", "/_security/../_security/role").plain(
            400,
            "no handler found for uri [/_security/../_security/role] and method [GET]",
        ),
    );
    rows.push(row("unknown_method", "BREW", "/_security/api_key").status(405));
    rows.push(
        row(
            "absolute_form_target",
            "GET",
            "http://localhost/_security/_authenticate",
        )
        .status(200),
    );

    // Headers: credentials that are not, content types, sizes.
    let anonymous = |name: &str, method: &'static str, path: &str| {
        row(name, method, path).auth(Auth::Anonymous)
    };
    rows.push(
        anonymous("anonymous/create_api_key", "POST", "/_security/api_key")
            .json(&json!({"name": "k"}))
            .reason(
                401,
                "security_exception",
                "missing authentication credentials for REST request [/_security/api_key]",
            ),
    );
    rows.push(
        anonymous("anonymous/garbage_body", "POST", "/_security/api_key")
            .body("{garbage")
            .reason(
                401,
                "security_exception",
                "missing authentication credentials for REST request [/_security/api_key]",
            ),
    );
    for (name, value) in [
        ("apikey_not_base64", b"ApiKey !!!!".to_vec()),
        ("apikey_no_colon", b"ApiKey YWJj".to_vec()),
        ("apikey_empty_id", b"ApiKey OmFiYw==".to_vec()),
        ("apikey_invalid_utf8", b"ApiKey /w==".to_vec()),
        ("apikey_unknown_id", b"ApiKey YWJjOmRlZg==".to_vec()),
        ("basic_no_colon", b"Basic YWJj".to_vec()),
        ("basic_not_base64", b"Basic ****".to_vec()),
        (
            "basic_wrong_password",
            b"Basic ZWxhc3RpYzp3cm9uZw==".to_vec(),
        ),
        ("basic_empty", b"Basic ".to_vec()),
        (
            "bearer_unknown",
            b"Bearer dGhpcyBpcyBub3QgYSB0b2tlbg==".to_vec(),
        ),
        ("non_utf8_header", b"Basic \xff\xfe\xfd".to_vec()),
    ] {
        rows.push(
            row(
                format!("authorization/{name}"),
                "GET",
                "/_security/_authenticate",
            )
            .auth(Auth::Raw(value))
            .error(401, "security_exception"),
        );
    }
    rows.push(
        row(
            "authorization/unknown_scheme",
            "GET",
            "/_security/_authenticate",
        )
        .auth(Auth::Raw(b"Digest abc".to_vec()))
        .reason(
            401,
            "security_exception",
            "missing authentication credentials for REST request [/_security/_authenticate]",
        ),
    );
    rows.push(
        row("content_type/text_plain", "POST", "/_security/api_key")
            .header("Content-Type", "text/plain")
            .body(r#"{"name":"k"}"#)
            .plain(406, "Content-Type header [text/plain] is not supported"),
    );
    rows.push(
        row("content_type/garbage", "POST", "/_security/api_key")
            .header("Content-Type", b"\x01\x02")
            .body(r#"{"name":"k"}"#)
            .status(400),
    );
    rows.push(
        row(
            "content_type/yaml_body",
            "POST",
            "/_security/_query/api_key",
        )
        .header("Content-Type", "application/yaml")
        .body("query:\n  match_all: {}\n")
        .status(406),
    );
    rows.push(
        row(
            "authorization/apikey_100kb",
            "GET",
            "/_security/_authenticate",
        )
        .auth(Auth::Raw(
            format!("ApiKey {}", "QUFB".repeat(25 * 1024)).into_bytes(),
        ))
        // A header past `http.max_header_size`, and past what a connection may buffer.
        .status(431),
    );
    rows.push(
        row("header_20kb", "GET", "/_security/_authenticate")
            .header("X-Padding", "p".repeat(20 * 1024))
            .reason(
                400,
                "too_long_http_header_exception",
                "HTTP header is larger than 16384 bytes.",
            ),
    );
    rows.push(
        row("header_1mb", "GET", "/_security/_authenticate")
            .header("X-Padding", "p".repeat(1024 * 1024))
            // Beyond what a connection may buffer for a request head: hyper's bare 431.
            .status(431),
    );
    rows.push(
        row("content_length_not_a_number", "POST", "/_security/api_key")
            .header("Content-Length", "ten")
            .status(400),
    );
    rows.push(
        row("content_length_too_large", "POST", "/_security/api_key")
            .declared(200 * 1024 * 1024)
            .body(r#"{"name":"k"}"#)
            .error(413, "content_too_long_exception"),
    );

    // Slow bodies: a declared body that never arrives.
    rows.push(
        anonymous("slow_body/anonymous", "POST", "/_security/api_key")
            .declared(1024)
            .body(r#"{"name":"#)
            .reason(
                401,
                "security_exception",
                "missing authentication credentials for REST request [/_security/api_key]",
            ),
    );
    rows.push(
        row("slow_body/wrong_password", "POST", "/_security/api_key")
            .auth(Auth::Raw(b"Basic ZWxhc3RpYzp3cm9uZw==".to_vec()))
            .declared(1024)
            .body(r#"{"name":"#)
            .error(401, "security_exception"),
    );
    rows.push(
        row("slow_body/no_handler", "POST", "/_security/nothing")
            .declared(1024)
            .body(r#"{"name":"#)
            .plain(
                400,
                "no handler found for uri [/_security/nothing] and method [POST]",
            ),
    );
    rows.push(
        row("slow_body/superuser", "POST", "/_security/api_key")
            .declared(1024)
            .body(r#"{"name":"#)
            .cut(),
    );

    rows
}

/// `filters` aggregations nested `depth` deep, each with 10 buckets: 10^depth buckets.
fn nested_filters_aggs(depth: usize) -> String {
    let mut aggs = String::new();
    for level in (0..depth).rev() {
        let filters: Vec<String> = (0..10)
            .map(|n| format!(r#""f{n}":{{"match_all":{{}}}}"#))
            .collect();
        let sub = if aggs.is_empty() {
            String::new()
        } else {
            format!(r#","aggs":{aggs}"#)
        };
        aggs = format!(
            r#"{{"l{level}":{{"filters":{{"filters":{{{}}}}}{sub}}}}}"#,
            filters.join(",")
        );
    }
    format!(r#"{{"size":0,"aggs":{aggs}}}"#)
}
