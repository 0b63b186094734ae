//! The server's life: readiness, SIGTERM with requests in flight, data directories it must not
//! touch, and a full disk.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::json;

use crate::support::{RawConnection, TestServer, serve_refused};

#[tokio::test]
async fn ready_answers_without_credentials_and_without_detail() {
    let server = TestServer::start().await;
    let reply = server.anonymous().get("/_keyward/ready").await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json(), json!({"ready": true}));
    let head = server
        .anonymous()
        .send("HEAD", "/_keyward/ready", None, &[])
        .await;
    assert_eq!(head.status, 200);
    assert_eq!(head.text, "");
    // Other methods are not served.
    let post = server.anonymous().post_empty("/_keyward/ready").await;
    assert_eq!(post.status, 405, "{}", post.text);
}

#[tokio::test]
async fn sigterm_finishes_requests_in_flight_refuses_new_connections_and_exits_0() {
    let mut server = TestServer::start().await;
    let body = json!({"name": "in-flight", "metadata": {"padding": "x".repeat(2000)}}).to_string();
    let (first, rest) = body.as_bytes().split_at(body.len() / 2);
    let token = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        format!("elastic:{}", crate::support::PASSWORD),
    );
    let head = format!(
        "POST /_security/api_key HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let mut connection = RawConnection::open(&server).await;
    connection.write(head.as_bytes()).await.unwrap();
    connection.write(first).await.unwrap();
    // The request is authenticated and its body half read when the signal comes (a connection
    // whose request hyper has not started reading counts as idle and is closed by a drain).
    tokio::time::sleep(Duration::from_millis(1000)).await;
    server.terminate();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let refused = tokio::net::TcpStream::connect(server.address()).await;
    assert!(
        refused.is_err(),
        "a new connection was accepted after SIGTERM"
    );
    connection.write(rest).await.unwrap();
    let response = connection
        .read_response(Duration::from_secs(10))
        .await
        .expect("the request in flight was answered");
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("\"name\":\"in-flight\""), "{response}");
    assert_eq!(
        server.wait_exit(Duration::from_secs(15)),
        Some(0),
        "{}",
        server.logs()
    );
}

/// Every file under `dir` with its bytes and mode.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, (Vec<u8>, u32)> {
    let mut files = BTreeMap::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(next) = pending.pop() {
        for entry in std::fs::read_dir(&next).unwrap() {
            let entry = entry.unwrap();
            let path = entry.path();
            let metadata = std::fs::symlink_metadata(&path).unwrap();
            let mode = metadata.permissions().mode();
            if metadata.is_dir() {
                files.insert(path.clone(), (Vec::new(), mode));
                pending.push(path);
            } else {
                files.insert(path.clone(), (std::fs::read(&path).unwrap(), mode));
            }
        }
    }
    files
}

/// Starts keyward on `dir`, expects exit code 2 with `message` on stderr, and `dir` unchanged.
#[track_caller]
fn assert_refused_untouched(dir: &Path, message: &str) {
    let before = snapshot(dir);
    let (code, stderr) = serve_refused(dir, &[]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains(message),
        "expected [{message}] in: {stderr}"
    );
    let after = snapshot(dir);
    let changed: Vec<String> = before
        .keys()
        .chain(after.keys())
        .filter(|path| before.get(*path) != after.get(*path))
        .map(|path| {
            let mode = |files: &BTreeMap<PathBuf, (Vec<u8>, u32)>| {
                files
                    .get(path)
                    .map(|(bytes, mode)| (bytes.len(), format!("{mode:o}")))
            };
            format!(
                "{} {:?} -> {:?}",
                path.display(),
                mode(&before),
                mode(&after)
            )
        })
        .collect();
    assert!(
        changed.is_empty(),
        "the data directory changed: {changed:?}; {stderr}"
    );
}

/// A keyward store with a key in it, made by a server that has stopped.
async fn stopped_store() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let mut server =
        TestServer::start_with(&[&format!("path.data={}", dir.path().display())]).await;
    server.create_key(json!({"name": "kept"})).await;
    assert_eq!(server.stop(), Some(0));
    // Everything in the database file itself, so a test that edits the file edits the store.
    let connection = rusqlite::Connection::open(dir.path().join("keyward.db")).unwrap();
    connection
        .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .unwrap();
    drop(connection);
    dir
}

#[tokio::test]
async fn foreign_damaged_and_newer_data_directories_are_refused_and_left_as_they_were() {
    // Random bytes named keyward.db.
    let random = tempfile::tempdir().unwrap();
    let mut bytes = vec![0u8; 16 * 1024];
    getrandom::fill(&mut bytes).unwrap();
    std::fs::write(random.path().join("keyward.db"), &bytes).unwrap();
    std::fs::set_permissions(random.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    std::fs::set_permissions(
        random.path().join("keyward.db"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    assert_refused_untouched(
        random.path(),
        "is not a keyward store: it is not an SQLite database",
    );

    // Another program's SQLite database.
    let other = tempfile::tempdir().unwrap();
    let path = other.path().join("keyward.db");
    {
        let connection = rusqlite::Connection::open(&path).unwrap();
        connection
            .execute_batch("CREATE TABLE songs (title TEXT); INSERT INTO songs VALUES ('a');")
            .unwrap();
    }
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    assert_refused_untouched(other.path(), "an SQLite database keyward did not create");

    // A directory of something else entirely.
    let elsewhere = tempfile::tempdir().unwrap();
    std::fs::write(elsewhere.path().join("notes.txt"), "mine").unwrap();
    std::fs::set_permissions(
        elsewhere.path().join("notes.txt"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    std::fs::create_dir(elsewhere.path().join("photos")).unwrap();
    assert_refused_untouched(elsewhere.path(), "is not keyward's: it holds other files");

    // A store a newer keyward wrote.
    let newer = stopped_store().await;
    {
        let connection = rusqlite::Connection::open(newer.path().join("keyward.db")).unwrap();
        connection.pragma_update(None, "user_version", 999).unwrap();
    }
    assert_refused_untouched(newer.path(), "has schema version 999, newer than");

    // A store whose schema page is damaged.
    let damaged = stopped_store().await;
    let database = damaged.path().join("keyward.db");
    let mut bytes = std::fs::read(&database).unwrap();
    for byte in &mut bytes[100..4096] {
        *byte = 0xA5;
    }
    std::fs::write(&database, &bytes).unwrap();
    assert_refused_untouched(damaged.path(), "cannot be read, it is damaged");
}

/// A size-limited tmpfs, unmounted when dropped.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(size: &str) -> SmallDisk {
        let dir = tempfile::tempdir().unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .status()
            .expect("run mount");
        // Never skipped: the disk-full behaviour is only tested for real.
        assert!(
            status.success(),
            "cannot mount a tmpfs for the disk-full test (run as root with mount permitted): {status}"
        );
        SmallDisk { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

/// Fills the disk holding `path` with a file, leaving about `leave` bytes free.
fn fill(path: &Path, leave: u64) {
    use std::io::Write;
    let mut file = std::fs::File::create(path).unwrap();
    let chunk = vec![0u8; 64 * 1024];
    let mut written = 0u64;
    loop {
        match file.write(&chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => written += n as u64,
        }
    }
    let _ = file.flush();
    file.set_len(written.saturating_sub(leave)).unwrap();
    file.sync_all().unwrap();
}

#[tokio::test]
async fn a_full_disk_refuses_writes_with_503_while_authentication_goes_on() {
    let disk = SmallDisk::mount("8m");
    let data = disk.path().join("data");
    let data_setting = format!("path.data={}", data.display());
    let mut server = TestServer::start_with(&[&data_setting]).await;
    let cached = server.create_key(json!({"name": "cached"})).await;
    let stored = server.create_key(json!({"name": "stored"})).await;
    let encoded = |key: &serde_json::Value| key["encoded"].as_str().unwrap().to_owned();
    assert_eq!(
        server
            .api_key(&encoded(&cached))
            .get("/_security/_authenticate")
            .await
            .status,
        200
    );
    let mut acknowledged = vec![
        cached["id"].as_str().unwrap().to_owned(),
        stored["id"].as_str().unwrap().to_owned(),
    ];

    let filler = disk.path().join("filler");
    fill(&filler, 96 * 1024);
    let mut refused = None;
    for attempt in 0..5000 {
        let reply = server
            .superuser()
            .post(
                "/_security/api_key",
                json!({"name": format!("fill-{attempt}"), "metadata": {"pad": "p".repeat(1500)}}),
            )
            .await;
        match reply.status {
            200 => acknowledged.push(reply.json()["id"].as_str().unwrap().to_owned()),
            503 => {
                refused = Some(reply);
                break;
            }
            other => panic!("create answered {other}: {}", reply.text),
        }
    }
    let refused = refused.expect("the disk never filled up");
    crate::support::assert_error(
        &refused,
        503,
        "cluster_block_exception",
        "index [.security-7] blocked by: [SERVICE_UNAVAILABLE/12/disk usage exceeded flood-stage watermark, index has read-only-allow-delete block];",
    );
    // Authentication goes on: a cached key, a stored key not used before, a password.
    for key in [&cached, &stored] {
        let reply = server
            .api_key(&encoded(key))
            .get("/_security/_authenticate")
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text);
    }
    assert_eq!(
        server
            .superuser()
            .get("/_security/_authenticate")
            .await
            .status,
        200
    );
    assert_eq!(server.anonymous().get("/_keyward/ready").await.status, 200);
    // Other writes are refused the same way.
    let invalidate = server
        .superuser()
        .delete("/_security/api_key", json!({"ids": [acknowledged[0]]}))
        .await;
    assert!(
        invalidate.status == 503 || invalidate.status == 200,
        "{}",
        invalidate.text
    );
    let invalidated = invalidate.status == 200;

    // Space again: writes work again.
    std::fs::remove_file(&filler).unwrap();
    let after = server.create_key(json!({"name": "after"})).await;
    acknowledged.push(after["id"].as_str().unwrap().to_owned());

    // Nothing half-written: a restart opens the store and every acknowledged key is there.
    assert_eq!(server.stop(), Some(0), "{}", server.logs());
    drop(server);
    let server = TestServer::start_with(&[&data_setting]).await;
    let listing = server.superuser().get("/_security/api_key").await;
    assert_eq!(listing.status, 200, "{}", listing.text);
    let keys = listing.json()["api_keys"].as_array().unwrap().clone();
    for id in &acknowledged {
        assert!(
            keys.iter().any(|key| key["id"] == id.as_str()),
            "acknowledged key [{id}] is missing"
        );
    }
    assert_eq!(
        keys.len(),
        acknowledged.len(),
        "keys no one acknowledged are stored"
    );
    let first = keys
        .iter()
        .find(|key| key["id"] == acknowledged[0].as_str())
        .unwrap();
    assert_eq!(first["invalidated"], invalidated);
}
