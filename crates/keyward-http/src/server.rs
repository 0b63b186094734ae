//! The HTTP/1.1 server: accepts connections, hands every request to the dispatcher, and drains
//! open connections on shutdown.
//!
//! What a client can make it hold is bounded ([`crate::HttpLimits`]): headers must arrive within
//! the header read timeout (which also closes kept-alive connections left idle that long), the
//! request line and headers within their sizes, and at most `max_connections` connections are
//! served at once. When that many are open the server stops accepting: further connections wait
//! in the kernel's listen backlog (and are refused by the kernel when that is full) until one
//! closes, rather than being accepted and dropped.
//!
//! With TLS ([`TlsConfig`]) every connection is a TLS connection: its handshake counts against
//! the header read timeout and takes a connection slot like any other connection; plain HTTP sent
//! to the port is logged and the connection closed, as Elasticsearch does. The certificate can be
//! replaced while the server runs: a new connection gets the configuration current at its accept.
//!
//! keyward talks to hyper directly rather than through a web framework: every request goes to the
//! one dispatcher anyway, and a framework's routing and boxing would be measurable on the cached
//! authentication path (`bench/run`, P1).

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use crate::AppState;
use crate::routes::{Api, RemoteAddr};

/// How long a shutdown waits for requests in flight before closing their connections.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Pause after an accept error such as running out of file descriptors, so the loop does not
/// spin while the condition lasts.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// Room hyper leaves for line ends and header separators on top of Elasticsearch's limits on the
/// request line and the headers, so that a request just over them gets Elasticsearch's error
/// from the dispatcher rather than hyper's bare 431.
const HEAD_SLACK: usize = 4 * 1024;

/// The first byte of every TLS connection: a handshake record.
const TLS_HANDSHAKE_RECORD: u8 = 0x16;

/// The TLS settings new connections are accepted with; [`TlsConfig::replace`] swaps them while
/// the server runs (a reloaded certificate), connections already open keep theirs.
#[derive(Debug)]
pub struct TlsConfig {
    current: RwLock<Arc<rustls::ServerConfig>>,
}

impl TlsConfig {
    /// TLS with `config` for every connection.
    pub fn new(config: rustls::ServerConfig) -> Arc<TlsConfig> {
        Arc::new(TlsConfig {
            current: RwLock::new(Arc::new(config)),
        })
    }

    /// Accepts new connections with `config` from now on.
    pub fn replace(&self, config: rustls::ServerConfig) {
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(config);
    }

    fn acceptor(&self) -> TlsAcceptor {
        TlsAcceptor::from(Arc::clone(
            &self.current.read().unwrap_or_else(PoisonError::into_inner),
        ))
    }
}

/// Serves `state` on `listener` (over TLS when `tls` is given) until `shutdown` completes, then
/// lets requests in flight finish (up to [`DRAIN_TIMEOUT`]).
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    tls: Option<Arc<TlsConfig>>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let limits = state.limits.clone();
    let api = Arc::new(Api::new(state));
    let graceful = GracefulShutdown::new();
    let handshake_timeout = limits.header_read_timeout;
    let mut builder = http1::Builder::new();
    builder
        .writev(false)
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_header_size(
            limits
                .max_initial_line_length
                .saturating_add(limits.max_header_size)
                .saturating_add(HEAD_SLACK),
        );
    let builder = Arc::new(builder);
    let connections = Arc::new(Semaphore::new(
        limits.max_connections.clamp(1, Semaphore::MAX_PERMITS),
    ));
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        // A free slot first, then the next connection: while every slot is taken, new
        // connections stay in the listen backlog.
        let permit = tokio::select! {
            permit = Arc::clone(&connections).acquire_owned() => match permit {
                Ok(permit) => permit,
                // The semaphore is never closed.
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    tracing::warn!(error = %err, "cannot accept a connection");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Answers go out at once: Nagle's algorithm would hold small responses back.
        if let Err(err) = stream.set_nodelay(true) {
            tracing::debug!(error = %err, "cannot set TCP_NODELAY");
        }
        let api = Arc::clone(&api);
        let service = service_fn(move |mut request: hyper::Request<hyper::body::Incoming>| {
            request.extensions_mut().insert(RemoteAddr(remote));
            let api = Arc::clone(&api);
            async move { Ok::<_, Infallible>(api.handle(request).await) }
        });
        let watcher = graceful.watcher();
        let builder = Arc::clone(&builder);
        let acceptor = tls.as_ref().map(|tls| tls.acceptor());
        tokio::spawn(async move {
            let result = match acceptor {
                None => {
                    let connection = builder.serve_connection(TokioIo::new(stream), service);
                    watcher.watch(connection).await
                }
                Some(acceptor) => {
                    match handshake(acceptor, stream, remote, handshake_timeout).await {
                        Some(stream) => {
                            let connection =
                                builder.serve_connection(TokioIo::new(stream), service);
                            watcher.watch(connection).await
                        }
                        None => Ok(()),
                    }
                }
            };
            if let Err(err) = result {
                tracing::debug!(error = %err, "connection closed with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    if tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("requests still in flight after the drain timeout were cut off");
    }
    Ok(())
}

/// The TLS handshake of a new connection, within `timeout`; `None` (the connection is dropped)
/// when it fails, takes too long, or the client speaks plain HTTP.
async fn handshake(
    acceptor: TlsAcceptor,
    stream: TcpStream,
    peer: SocketAddr,
    timeout: Duration,
) -> Option<TlsStream<TcpStream>> {
    let work = async {
        let mut first = [0u8; 1];
        match stream.peek(&mut first).await {
            Ok(0) | Err(_) => return None,
            Ok(_) => {}
        }
        if first[0] != TLS_HANDSHAKE_RECORD {
            // Elasticsearch's words for the same event.
            tracing::warn!(%peer, "received plaintext http traffic on an https channel, closing connection");
            return None;
        }
        match acceptor.accept(stream).await {
            Ok(stream) => Some(stream),
            Err(err) => {
                tracing::debug!(%peer, error = %err, "TLS handshake failed");
                None
            }
        }
    };
    match tokio::time::timeout(timeout, work).await {
        Ok(stream) => stream,
        Err(_) => {
            tracing::debug!(%peer, "TLS handshake timed out");
            None
        }
    }
}
