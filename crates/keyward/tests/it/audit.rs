//! The audit log and JSON logs: each action's events field by field, request ids shared by an
//! audit event and its log lines, no secret anywhere, rotation, include and exclude.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{Value, json};

use crate::support::{PASSWORD, TestServer};

const ALL: &[&str] = &[
    "xpack.security.audit.enabled=true",
    "xpack.security.audit.logfile.events.include=_all",
    "keyward.log.format=json",
];

fn audit_file(server: &TestServer) -> PathBuf {
    server.data_dir().join("logs").join("keyward_audit.json")
}

fn read_events(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|err| panic!("{err}: {line}")))
        .collect()
}

/// The audit events once one matches `done` (the writer flushes every 100 ms).
async fn events_until(server: &TestServer, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let events = read_events(&audit_file(server));
        if done(&events) {
            return events;
        }
        assert!(Instant::now() < deadline, "audit events: {events:#?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn has_action(action: &'static str) -> impl Fn(&[Value]) -> bool {
    move |events: &[Value]| events.iter().any(|event| event["event.action"] == action)
}

/// The events of one request, by its id.
fn of_request<'a>(events: &'a [Value], id: &Value) -> Vec<&'a Value> {
    events
        .iter()
        .filter(|event| event["request.id"] == *id)
        .collect()
}

fn one<'a>(events: &'a [Value], action: &str, pick: impl Fn(&Value) -> bool) -> &'a Value {
    let found: Vec<&Value> = events
        .iter()
        .filter(|event| event["event.action"] == action && pick(event))
        .collect();
    assert_eq!(found.len(), 1, "{action}: {events:#?}");
    found[0]
}

#[track_caller]
fn assert_loopback(event: &Value) {
    let address = event["origin.address"].as_str().unwrap_or_default();
    assert!(address.starts_with("127.0.0.1:"), "{event}");
    assert_eq!(event["origin.type"], "rest", "{event}");
}

#[tokio::test]
async fn every_action_is_audited_field_by_field_and_no_secret_is_written() {
    let server = TestServer::start_with(ALL).await;
    let admin = server.superuser();

    // Create a key: authentication, access and the configuration change share a request id.
    let created = admin
        .send(
            "POST",
            "/_security/api_key?pretty",
            Some(&json!({"name": "audited-key", "role_descriptors": {"r": {"cluster": ["monitor"]}}, "metadata": {"team": "a"}}).to_string()),
            &[("X-Opaque-Id", "op-create")],
        )
        .await;
    assert_eq!(created.status, 200, "{}", created.text);
    assert_eq!(created.header_values("x-opaque-id"), ["op-create"]);
    let key = created.json();
    let key_id = key["id"].as_str().unwrap().to_owned();
    let secret = key["api_key"].as_str().unwrap().to_owned();
    let encoded = key["encoded"].as_str().unwrap().to_owned();

    let events = events_until(&server, has_action("create_apikey")).await;
    let success = one(&events, "authentication_success", |event| {
        event["url.path"] == "/_security/api_key"
    });
    assert_eq!(success["type"], "audit");
    assert_eq!(success["event.type"], "rest");
    assert_eq!(success["authentication.type"], "REALM");
    assert_eq!(success["user.name"], "elastic");
    assert_eq!(success["user.realm"], "reserved");
    assert_eq!(success["realm"], "reserved");
    assert_eq!(success["url.query"], "pretty");
    assert_eq!(success["request.method"], "POST");
    assert_eq!(success["opaque_id"], "op-create");
    assert!(success["node.id"].is_string(), "{success}");
    assert_loopback(success);
    let request_id = success["request.id"].clone();
    assert_eq!(request_id.as_str().unwrap().len(), 22);
    let same = of_request(&events, &request_id);
    assert_eq!(same.len(), 3, "{same:#?}");
    let granted = one(&events, "access_granted", |event| {
        event["request.id"] == request_id
    });
    assert_eq!(granted["event.type"], "transport");
    assert_eq!(
        granted["action"],
        "cluster:admin/xpack/security/api_key/create"
    );
    assert_eq!(granted["request.name"], "CreateApiKeyRequest");
    assert_eq!(granted["user.roles"], json!(["superuser"]));
    assert_eq!(granted["opaque_id"], "op-create");
    let change = one(&events, "create_apikey", |_| true);
    assert_eq!(change["event.type"], "security_config_change");
    assert_eq!(change["request.id"], request_id);
    assert_eq!(
        change["create"],
        json!({"apikey": {"id": key_id, "name": "audited-key", "role_descriptors": [{"cluster": ["monitor"]}], "metadata": {"team": "a"}}})
    );
    assert!(change.get("origin.address").is_none(), "{change}");

    // The request id is the one in the JSON log line of that request.
    let logged = server
        .logs()
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .any(|line| {
            line["span"]["request_id"] == request_id
                && line["fields"]["path"] == "/_security/api_key"
        });
    assert!(
        logged,
        "no log line for request {request_id}: {}",
        server.logs()
    );

    // Use the key.
    let health = server.api_key(&encoded).get("/_cluster/health").await;
    assert_eq!(health.status, 200, "{}", health.text);
    let events = events_until(&server, |events| {
        events
            .iter()
            .any(|event| event["action"] == "cluster:monitor/health")
    })
    .await;
    let success = one(&events, "authentication_success", |event| {
        event["url.path"] == "/_cluster/health"
    });
    assert_eq!(success["authentication.type"], "API_KEY");
    assert_eq!(success["apikey.id"], key_id.as_str());
    assert_eq!(success["apikey.name"], "audited-key");
    assert_eq!(success["user.name"], "elastic");
    assert_eq!(success["realm"], "_es_api_key");
    assert!(success.get("opaque_id").is_none(), "{success}");

    // A wrong secret for a real key: the id and the client's address, never the secret.
    let wrong_secret = "wrong-secret-0123456789";
    let wrong =
        base64::engine::general_purpose::STANDARD.encode(format!("{key_id}:{wrong_secret}"));
    let refused = server.api_key(&wrong).get("/_cluster/health").await;
    assert_eq!(refused.status, 401);
    let events = events_until(&server, has_action("authentication_failed")).await;
    let failed = one(&events, "authentication_failed", |_| true);
    assert_eq!(failed["event.type"], "rest");
    assert_eq!(failed["authentication.type"], "API_KEY");
    assert_eq!(failed["apikey.id"], key_id.as_str());
    assert_eq!(failed["url.path"], "/_cluster/health");
    assert_eq!(failed["request.method"], "GET");
    assert_loopback(failed);

    // No credentials.
    let anonymous = server.anonymous().get("/_security/_authenticate").await;
    assert_eq!(anonymous.status, 401);
    let events = events_until(&server, has_action("anonymous_access_denied")).await;
    let denied = one(&events, "anonymous_access_denied", |_| true);
    assert_eq!(denied["url.path"], "/_security/_authenticate");
    assert_loopback(denied);

    // Users: put, a 403, password change, disable, enable, delete.
    let user_password = "user-password-abcdef";
    server.put_user("auditee", user_password, &[]).await;
    let forbidden = server
        .basic("auditee", user_password)
        .get("/_security/user")
        .await;
    assert_eq!(forbidden.status, 403, "{}", forbidden.text);
    let new_password = "changed-password-ghijkl";
    let changed = admin
        .put(
            "/_security/user/auditee/_password",
            json!({"password": new_password}),
        )
        .await;
    assert_eq!(changed.status, 200, "{}", changed.text);
    assert_eq!(
        admin
            .put_empty("/_security/user/auditee/_disable")
            .await
            .status,
        200
    );
    assert_eq!(
        admin
            .put_empty("/_security/user/auditee/_enable")
            .await
            .status,
        200
    );
    server
        .put_role("audited-role", json!({"cluster": ["monitor"]}))
        .await;
    let deleted = admin
        .send("DELETE", "/_security/role/audited-role", None, &[])
        .await;
    assert_eq!(deleted.status, 200, "{}", deleted.text);
    let deleted = admin
        .send("DELETE", "/_security/user/auditee", None, &[])
        .await;
    assert_eq!(deleted.status, 200, "{}", deleted.text);

    // Update and invalidate the key.
    let updated = admin
        .put(
            &format!("/_security/api_key/{key_id}"),
            json!({"metadata": {"team": "b"}}),
        )
        .await;
    assert_eq!(updated.status, 200, "{}", updated.text);
    let invalidated = admin
        .delete("/_security/api_key", json!({"ids": [key_id]}))
        .await;
    assert_eq!(invalidated.status, 200, "{}", invalidated.text);

    let events = events_until(&server, has_action("invalidate_apikeys")).await;
    let put = one(&events, "put_user", |_| true);
    assert_eq!(
        put["put"],
        json!({"user": {"name": "auditee", "enabled": true, "roles": [], "full_name": "auditee name", "has_password": true}})
    );
    let denied = one(&events, "access_denied", |_| true);
    assert_eq!(denied["user.name"], "auditee");
    assert_eq!(denied["user.realm"], "default_native");
    assert_eq!(denied["authentication.type"], "REALM");
    assert_eq!(denied["action"], "cluster:admin/xpack/security/user/get");
    assert_eq!(denied["request.name"], "GetUsersRequest");
    assert_loopback(denied);
    let expect_change = |action: &str, field: &str, value: Value| {
        let event = one(&events, action, |_| true);
        assert_eq!(event["event.type"], "security_config_change", "{event}");
        assert_eq!(event[field], value, "{event}");
    };
    expect_change(
        "change_password",
        "change",
        json!({"password": {"user": {"name": "auditee"}}}),
    );
    expect_change(
        "change_disable_user",
        "change",
        json!({"disable": {"user": {"name": "auditee"}}}),
    );
    expect_change(
        "change_enable_user",
        "change",
        json!({"enable": {"user": {"name": "auditee"}}}),
    );
    expect_change(
        "put_role",
        "put",
        json!({"role": {"name": "audited-role", "role_descriptor": {"cluster": ["monitor"]}}}),
    );
    expect_change(
        "delete_role",
        "delete",
        json!({"role": {"name": "audited-role"}}),
    );
    expect_change(
        "delete_user",
        "delete",
        json!({"user": {"name": "auditee"}}),
    );
    expect_change(
        "change_apikey",
        "change",
        json!({"apikey": {"id": key_id, "metadata": {"team": "b"}}}),
    );
    expect_change(
        "invalidate_apikeys",
        "invalidate",
        json!({"apikeys": {"ids": [key_id], "owned_by_authenticated_user": false}}),
    );

    // No secret, password or credential anywhere in the audit log or the logs.
    let basic = |user: &str, password: &str| {
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    };
    let secrets = [
        secret.clone(),
        encoded.clone(),
        wrong.clone(),
        wrong_secret.to_owned(),
        PASSWORD.to_owned(),
        user_password.to_owned(),
        new_password.to_owned(),
        basic("elastic", PASSWORD),
        basic("auditee", user_password),
    ];
    let audit_text = std::fs::read_to_string(audit_file(&server)).unwrap();
    let logs = server.logs();
    for secret in &secrets {
        assert!(
            !audit_text.contains(secret.as_str()),
            "[{secret}] in the audit log"
        );
        assert!(!logs.contains(secret.as_str()), "[{secret}] in the logs");
    }
    // Every log line is one JSON object.
    for line in logs.lines() {
        let parsed: Value =
            serde_json::from_str(line).unwrap_or_else(|err| panic!("{err}: {line}"));
        assert!(
            parsed["timestamp"].is_string() && parsed["level"].is_string(),
            "{line}"
        );
    }
}

#[tokio::test]
async fn the_audit_file_rotates_by_size() {
    let mut settings = ALL.to_vec();
    settings.extend([
        "keyward.audit.max_file_size=2kb",
        "keyward.audit.max_files=2",
    ]);
    let server = TestServer::start_with(&settings).await;
    for _ in 0..30 {
        assert_eq!(server.superuser().get("/_cluster/health").await.status, 200);
    }
    let logs = server.data_dir().join("logs");
    let rotated = |index: usize| logs.join(format!("keyward_audit-{index}.json"));
    let deadline = Instant::now() + Duration::from_secs(10);
    while !rotated(2).exists() {
        assert!(Instant::now() < deadline, "no rotation");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(!rotated(3).exists());
    for path in [audit_file(&server), rotated(1), rotated(2)] {
        let size = std::fs::metadata(&path).map(|meta| meta.len()).unwrap_or(0);
        assert!(size <= 2048, "{} is {size} bytes", path.display());
        read_events(&path);
    }
}

#[tokio::test]
async fn an_audit_log_that_is_a_pipe_is_written_and_never_rotated() {
    // A log shipper reading a named pipe: rotating it by renaming would move the pipe away
    // (and, for `/dev/null`, the device itself).
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().to_path_buf();
    let pipe = logs.join("keyward_audit.json");
    let made = std::process::Command::new("mkfifo")
        .arg(&pipe)
        .status()
        .unwrap();
    assert!(made.success());
    let (lines, received) = std::sync::mpsc::channel();
    let reading = pipe.clone();
    // Opening a pipe waits for its other end: the reader waits for the server to start.
    std::thread::spawn(move || {
        use std::io::BufRead;
        let reader = std::io::BufReader::new(std::fs::File::open(reading).unwrap());
        for line in reader.lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let path_logs = format!("path.logs={}", logs.display());
    let mut settings = ALL.to_vec();
    settings.extend([
        path_logs.as_str(),
        "keyward.audit.max_file_size=1kb",
        "keyward.audit.max_files=2",
    ]);
    let server = TestServer::start_with(&settings).await;
    for _ in 0..20 {
        assert_eq!(server.superuser().get("/_cluster/health").await.status, 200);
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut granted = 0;
    while granted < 20 {
        let line = received
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .expect("the audit events reach the pipe");
        let event: Value = serde_json::from_str(&line).unwrap();
        if event["event.action"] == "access_granted" && event["url.path"].is_null() {
            granted += 1;
        }
    }
    use std::os::unix::fs::FileTypeExt;
    let kind = std::fs::symlink_metadata(&pipe).unwrap().file_type();
    assert!(kind.is_fifo(), "{kind:?}");
    let names: Vec<_> = std::fs::read_dir(&logs)
        .unwrap()
        .map(|entry| entry.unwrap().file_name())
        .collect();
    assert_eq!(names, ["keyward_audit.json"]);
}

#[tokio::test]
async fn include_and_exclude_choose_the_events() {
    // Elasticsearch's default list: access and changes, not authentication successes.
    let server = TestServer::start_with(&["xpack.security.audit.enabled=true"]).await;
    let created = server
        .superuser()
        .post("/_security/api_key", json!({"name": "k"}))
        .await;
    assert_eq!(created.status, 200);
    let events = events_until(&server, has_action("create_apikey")).await;
    assert!(
        events
            .iter()
            .any(|event| event["event.action"] == "access_granted")
    );
    assert!(
        !events
            .iter()
            .any(|event| event["event.action"] == "authentication_success"),
        "{events:#?}"
    );

    let server = TestServer::start_with(&[
        "xpack.security.audit.enabled=true",
        "xpack.security.audit.logfile.events.include=_all",
        "xpack.security.audit.logfile.events.exclude=access_granted,security_config_change",
    ])
    .await;
    let created = server
        .superuser()
        .post("/_security/api_key", json!({"name": "k"}))
        .await;
    assert_eq!(created.status, 200);
    let events = events_until(&server, has_action("authentication_success")).await;
    assert!(
        events
            .iter()
            .all(|event| event["event.action"] != "access_granted"
                && event["event.type"] != "security_config_change"),
        "{events:#?}"
    );

    // Off by default: no file at all.
    let server = TestServer::start().await;
    assert_eq!(server.superuser().get("/").await.status, 200);
    assert!(!server.data_dir().join("logs").exists());
}

#[tokio::test]
async fn clones_and_bulk_grants_are_audited_without_their_credentials() {
    let server = TestServer::start_with(ALL).await;
    let admin = server.superuser();
    server
        .put_role("grantee", json!({"cluster": ["monitor"]}))
        .await;
    let grantee_password = "grantee-password-42";
    server
        .put_user("grantee_user", grantee_password, &["grantee"])
        .await;
    let source = server.create_key(json!({"name": "source"})).await;
    let source_encoded = source["encoded"].as_str().unwrap().to_owned();
    let clone = admin
        .post(
            "/_security/api_key/clone",
            json!({"api_key": source_encoded, "name": "cloned"}),
        )
        .await;
    assert_eq!(clone.status, 200, "{}", clone.text);
    let clone = clone.json();
    let granted = admin
        .post(
            "/_security/api_key/_bulk_grant",
            json!({"grant_type": "password", "username": "grantee_user", "password": grantee_password,
                   "api_keys": [{"name": "bulk-a"}, {"name": "bulk-b", "metadata": {"n": 2}}]}),
        )
        .await;
    assert_eq!(granted.status, 200, "{}", granted.text);
    let granted = granted.json();

    let created_names = |events: &[Value]| -> Vec<String> {
        events
            .iter()
            .filter(|event| event["event.action"] == "create_apikey")
            .filter_map(|event| event["create"]["apikey"]["name"].as_str())
            .map(str::to_owned)
            .collect()
    };
    let events = events_until(&server, |events| {
        created_names(events).iter().any(|name| name == "bulk-b")
    })
    .await;
    let names = created_names(&events);
    for name in ["source", "cloned", "bulk-a", "bulk-b"] {
        assert!(names.iter().any(|n| n == name), "{name} not in {names:?}");
    }
    let cloned = one(&events, "create_apikey", |event| {
        event["create"]["apikey"]["name"] == "cloned"
    });
    assert_eq!(cloned["create"]["apikey"]["id"], clone["id"]);
    let bulk_b = one(&events, "create_apikey", |event| {
        event["create"]["apikey"]["name"] == "bulk-b"
    });
    assert_eq!(
        bulk_b["create"]["apikey"]["id"],
        granted["created"][1]["id"]
    );
    assert_eq!(bulk_b["create"]["apikey"]["metadata"], json!({"n": 2}));
    assert_eq!(
        bulk_b["create"]["grant"],
        json!({"type": "password", "user": {"name": "grantee_user", "has_password": true}, "has_access_token": false})
    );

    let audit_text = std::fs::read_to_string(audit_file(&server)).unwrap();
    let logs = server.logs();
    let mut secrets = vec![
        source_encoded.clone(),
        source["api_key"].as_str().unwrap().to_owned(),
        clone["api_key"].as_str().unwrap().to_owned(),
        clone["encoded"].as_str().unwrap().to_owned(),
        grantee_password.to_owned(),
    ];
    for key in granted["created"].as_array().unwrap() {
        secrets.push(key["api_key"].as_str().unwrap().to_owned());
        secrets.push(key["encoded"].as_str().unwrap().to_owned());
    }
    for secret in &secrets {
        assert!(
            !audit_text.contains(secret.as_str()),
            "[{secret}] in the audit log"
        );
        assert!(!logs.contains(secret.as_str()), "[{secret}] in the logs");
    }
}
