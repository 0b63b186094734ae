//! The admin socket: a Unix socket in the data directory (mode 0600, created so under a umask that
//! leaves no moment when it is more open) through which offline-style commands such as
//! `reset-password` reach a running server. A request is one line of at most
//! [`MAX_REQUEST_LINE`] bytes, sent within [`REQUEST_TIMEOUT`]. Whoever can write the data directory
//! already owns every key in it, so the socket grants nothing new — the same trust Elasticsearch
//! places in its config directory for `elasticsearch-reset-password`.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use keyward_service::SecurityService;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use zeroize::Zeroizing;

const SOCKET: &str = "keyward.sock";

/// The longest request line read; a longer one is cut off unread. A reset request is a user
/// name and a password.
const MAX_REQUEST_LINE: u64 = 64 * 1024;

/// How long a client has to send its request line.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Deserialize, Serialize)]
struct ResetRequest {
    username: String,
    password: Option<String>,
}

#[derive(Deserialize, Serialize)]
struct ResetResponse {
    password: Option<String>,
    error: Option<String>,
}

fn socket_path(data_dir: &Path) -> PathBuf {
    data_dir.join(SOCKET)
}

/// Starts serving the admin socket.
pub(crate) fn spawn(
    data_dir: &Path,
    service: SecurityService,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let path = socket_path(data_dir);
    // A stale socket from a crashed server: we hold the store lock, so nobody else serves it.
    let _ = std::fs::remove_file(&path);
    // The socket file is created by bind with the umask's permissions: with group and others
    // masked out, it is never reachable by them, not even before the chmod below. The umask is
    // process-wide; a file another thread creates meanwhile only gets stricter permissions.
    let previous = rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o177));
    let bound = UnixListener::bind(&path);
    rustix::process::umask(previous);
    let listener =
        bound.with_context(|| format!("cannot bind the admin socket [{}]", path.display()))?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
        .with_context(|| format!("cannot restrict the admin socket [{}]", path.display()))?;
    Ok(tokio::spawn(async move {
        loop {
            match listener.accept().await {
                Ok((stream, _)) => {
                    let service = service.clone();
                    tokio::spawn(async move {
                        if let Err(err) = answer(stream, service).await {
                            tracing::warn!(error = %err, "admin socket request failed");
                        }
                    });
                }
                Err(err) => tracing::warn!(error = %err, "admin socket accept failed"),
            }
        }
    }))
}

/// Removes the socket file on shutdown.
pub(crate) fn remove_socket(data_dir: &Path) {
    let _ = std::fs::remove_file(socket_path(data_dir));
}

async fn answer(stream: UnixStream, service: SecurityService) -> anyhow::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut line = Zeroizing::new(String::with_capacity(1024));
    let mut reader = BufReader::new(read.take(MAX_REQUEST_LINE));
    tokio::time::timeout(REQUEST_TIMEOUT, reader.read_line(&mut line))
        .await
        .context("the request line did not arrive in time")??;
    if !line.ends_with('\n') {
        anyhow::bail!("the request line is longer than [{MAX_REQUEST_LINE}] bytes or incomplete");
    }
    let request: ResetRequest = serde_json::from_str(&line)?;
    let response = match service
        .reset_password(&request.username, request.password.map(Zeroizing::new))
        .await
    {
        Ok(password) => ResetResponse {
            password: Some(password.as_str().to_owned()),
            error: None,
        },
        Err(err) => ResetResponse {
            password: None,
            error: Some(err.to_string()),
        },
    };
    let mut text = Zeroizing::new(serde_json::to_string(&response)?);
    text.push('\n');
    write.write_all(text.as_bytes()).await?;
    Ok(())
}

/// Asks the running server to reset a password.
pub(crate) async fn request_reset(
    data_dir: &Path,
    username: &str,
    password: Option<Zeroizing<String>>,
) -> anyhow::Result<Zeroizing<String>> {
    let path = socket_path(data_dir);
    let stream = UnixStream::connect(&path).await.with_context(|| {
        format!("the data directory is locked by a running keyward, but its admin socket [{}] does not answer", path.display())
    })?;
    let (read, mut write) = stream.into_split();
    let request = ResetRequest {
        username: username.to_owned(),
        password: password.map(|password| password.as_str().to_owned()),
    };
    let mut text = Zeroizing::new(serde_json::to_string(&request)?);
    text.push('\n');
    write.write_all(text.as_bytes()).await?;
    let mut line = Zeroizing::new(String::new());
    BufReader::new(read).read_line(&mut line).await?;
    let response: ResetResponse =
        serde_json::from_str(&line).context("unexpected answer from the admin socket")?;
    match (response.password, response.error) {
        (Some(password), _) => Ok(Zeroizing::new(password)),
        (None, Some(error)) => anyhow::bail!("{error}"),
        (None, None) => anyhow::bail!("unexpected answer from the admin socket"),
    }
}
