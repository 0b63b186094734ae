//! Shared set-up for keyward's fuzz targets: the whole REST API in-process ([`Harness`]) over a
//! real embedded store, and the way fuzz bytes become a request.
//!
//! Every target asserts what a user may rely on: no panic, no hang, and never a 5xx for input a
//! client controls.

use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use keyward_core::credential::parse_authorization;
use keyward_http::{Api, AppState, HttpLimits, NodeInfo};
use keyward_service::{SecurityService, BootstrapPassword, ServiceConfig, SystemClock};
use keyward_store::{EmbeddedStore, EmbeddedStoreOptions};
use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};

/// The superuser's `Authorization` header: `elastic:fuzz-password`.
const SUPERUSER: &str = "Basic ZWxhc3RpYzpmdXp6LXBhc3N3b3Jk";

/// The API and the runtime it runs on, built once per fuzzing process.
pub struct Harness {
    runtime: tokio::runtime::Runtime,
    api: Api,
    // Kept so the data directory outlives the store.
    _dir: tempfile::TempDir,
}

/// What a request got back.
pub struct Answer {
    /// The status code.
    pub status: u16,
    /// The whole body.
    pub body: Bytes,
}

impl Harness {
    /// The process-wide harness: a store in a fresh temporary directory (in memory where
    /// `/dev/shm` exists, so fsync costs nothing), with the `elastic` superuser bootstrapped.
    pub fn get() -> &'static Harness {
        static HARNESS: OnceLock<Harness> = OnceLock::new();
        HARNESS.get_or_init(Harness::new)
    }

    fn new() -> Harness {
        let shm = std::path::Path::new("/dev/shm");
        let parent = if shm.is_dir() {
            shm.to_path_buf()
        } else {
            std::env::temp_dir()
        };
        remove_stale_dirs(&parent);
        let dir = tempfile::Builder::new()
            .prefix(&format!("{DIR_PREFIX}{}-", std::process::id()))
            .tempdir_in(&parent)
            .unwrap_or_else(|err| panic!("temp dir: {err}"));
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap_or_else(|err| panic!("runtime: {err}"));
        let store = EmbeddedStore::open(EmbeddedStoreOptions::new(dir.path().to_path_buf()))
            .unwrap_or_else(|err| panic!("store: {err}"));
        let service = SecurityService::new(
            Arc::new(store),
            ServiceConfig::default(),
            Arc::new(SystemClock),
        );
        runtime.block_on(async {
            service
                .bootstrap(BootstrapPassword::Given(zeroize::Zeroizing::new(
                    "fuzz-password".to_owned(),
                )))
                .await
                .unwrap_or_else(|err| panic!("bootstrap: {err}"));
            // Verify the password once so that later requests hit the cache.
            let credential = parse_authorization(SUPERUSER.as_bytes())
                .unwrap_or_else(|err| panic!("credential: {err}"));
            service
                .authenticate(credential)
                .await
                .unwrap_or_else(|err| panic!("authenticate: {err:?}"));
        });
        let api = Api::new(AppState {
            service,
            node: Arc::new(NodeInfo {
                node_name: "fuzz".to_owned(),
                node_id: "fuzz-node".to_owned(),
                cluster_name: "keyward".to_owned(),
                cluster_uuid: "fuzz-cluster".to_owned(),
            }),
            limits: HttpLimits {
                max_content_length: 1024 * 1024,
                ..HttpLimits::default()
            },
            audit: keyward_http::Audit::disabled(),
            forward_auth: keyward_http::ForwardAuth::default(),
        });
        Harness {
            runtime,
            api,
            _dir: dir,
        }
    }

    /// Sends one request as the superuser; `None` when `path_and_query` is not a valid URI.
    pub fn send(&self, method: &str, path_and_query: &str, body: &[u8]) -> Option<Answer> {
        let mut request = http::Request::builder()
            .method(method)
            .uri(path_and_query)
            .header(http::header::HOST, "localhost:9200")
            .header(http::header::AUTHORIZATION, SUPERUSER);
        if !body.is_empty() {
            request = request.header(http::header::CONTENT_TYPE, "application/json");
        }
        let request = request.body(Full::new(Bytes::copy_from_slice(body))).ok()?;
        let answer = self.runtime.block_on(async {
            let response = self.api.handle(request).await;
            let status = response.status().as_u16();
            let body = match response.into_body().collect().await {
                Ok(collected) => collected.to_bytes(),
                Err(_) => Bytes::new(),
            };
            Answer { status, body }
        });
        Some(answer)
    }
}

/// The prefix of every data directory a harness makes, followed by its process id.
const DIR_PREFIX: &str = "keyward-fuzz-";

/// libFuzzer ends the process without running destructors, so each run leaves its data
/// directory behind: remove those of processes that are gone.
fn remove_stale_dirs(parent: &std::path::Path) {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|name| name.strip_prefix(DIR_PREFIX))
            .and_then(|rest| rest.split('-').next())
        else {
            continue;
        };
        if !std::path::Path::new("/proc").join(pid).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Bytes kept as they are in a fuzzed query string; everything else is percent-encoded, so
/// invalid UTF-8 still reaches the server as `%FF`.
const QUERY: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'<')
    .add(b'>')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'|')
    .add(b'\\')
    .add(b'^')
    .add(b'[')
    .add(b']');

/// A fuzzed query string, made URI-safe without losing what it says.
pub fn query_string(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &byte in bytes {
        if byte.is_ascii() {
            out.extend(utf8_percent_encode(
                std::str::from_utf8(&[byte]).unwrap_or(""),
                QUERY,
            ));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// A fuzzed value for one query parameter: every reserved character encoded.
pub fn encode_value(bytes: &[u8]) -> String {
    percent_encoding::percent_encode(bytes, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// Panics on a 5xx: bad input must get a 4xx, and nothing here is overloaded.
pub fn assert_not_server_error(what: &str, answer: &Answer) {
    assert!(
        answer.status < 500,
        "{what}: status {} with body {}",
        answer.status,
        String::from_utf8_lossy(&answer.body)
    );
}
