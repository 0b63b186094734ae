//! The data directory's permissions and the admin socket's limits.

use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::TestServer;

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[tokio::test]
async fn the_data_directory_and_its_files_are_private() {
    let parent = tempfile::tempdir().unwrap();
    let data = parent.path().join("new").join("data");
    let setting = format!("path.data={}", data.display());
    let server = TestServer::start_with(&[&setting]).await;
    assert_eq!(mode(&data), 0o700);
    let mut files = 0;
    for entry in std::fs::read_dir(&data).unwrap() {
        let entry = entry.unwrap();
        let path = entry.path();
        let expected = if path.extension().is_some_and(|ext| ext == "sock") {
            0o600
        } else if entry.file_type().unwrap().is_file() {
            files += 1;
            0o600
        } else {
            continue;
        };
        assert_eq!(mode(&path), expected, "{}", path.display());
    }
    assert!(files >= 2, "no database files in {}", data.display());
    drop(server);
}

#[tokio::test]
async fn an_existing_data_directory_that_is_too_open_is_tightened() {
    let data = Arc::new(tempfile::tempdir().unwrap());
    let mut server = TestServer::start_in(data.clone(), &[]).await;
    server.stop();
    std::fs::set_permissions(data.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let database = data.path().join("keyward.db");
    std::fs::set_permissions(&database, std::fs::Permissions::from_mode(0o644)).unwrap();
    let server = TestServer::start_in(data.clone(), &[]).await;
    assert_eq!(mode(data.path()), 0o700);
    assert_eq!(mode(&database), 0o600);
    assert!(
        server
            .logs()
            .contains("permissions were too open and have been tightened"),
        "{}",
        server.logs()
    );
}

#[tokio::test]
async fn the_admin_socket_cuts_off_an_endless_request_line() {
    let server = TestServer::start().await;
    let socket = server.data_dir().join("keyward.sock");
    assert_eq!(mode(&socket), 0o600);
    let mut stream = tokio::net::UnixStream::connect(&socket).await.unwrap();
    // Megabytes without a newline: the server stops reading after its limit and hangs up.
    let chunk = vec![b'x'; 64 * 1024];
    let mut refused = false;
    for _ in 0..64 {
        if stream.write_all(&chunk).await.is_err() {
            refused = true;
            break;
        }
    }
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut rest)).await;
    assert!(
        refused || closed.is_ok(),
        "the admin socket kept the connection open"
    );
    // It still serves a proper request afterwards.
    let data = format!("path.data={}", server.data_dir().display());
    let reset = std::process::Command::new(crate::support::binary())
        .args(["reset-password", "-u", "elastic", "-b", "-s", "-E", &data])
        .output()
        .unwrap();
    assert!(
        reset.status.success(),
        "{}",
        String::from_utf8_lossy(&reset.stderr)
    );
}
