//! The audit trail: Elasticsearch's logfile audit events (`<cluster.name>_audit.json`), in its
//! event names and field names, one JSON object a line.
//!
//! [`Audit`] is the one sink: the dispatcher calls its typed constructors (authentication,
//! access, security configuration changes) with the request's [`RequestInfo`]; each checks the
//! include list first, so an event nobody wants costs one bit test. A wanted event is formatted
//! on the request task and queued to the writer thread ([`writer`]); the disk is never touched
//! on a request. Secrets never reach an event: the constructors take names and ids only, and the
//! configuration payloads are built field by field from an allow-list (`config_change`).

mod config_change;
mod writer;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use keyward_service::Authentication;
use serde::Serialize;
use serde_json::Value;
use tokio::sync::mpsc::error::TrySendError;

pub(crate) use config_change::{changes_config, config_changes};
pub use writer::AuditFile;
use writer::Message;

/// How many events may wait for the writer thread.
const QUEUE: usize = 16 * 1024;
/// How long a request waits for room in a full queue before its event is dropped (and
/// counted, and logged).
const FULL_QUEUE_WAIT: Duration = Duration::from_millis(100);

/// The kinds of events, as named in `xpack.security.audit.logfile.events.include`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    AccessDenied,
    AccessGranted,
    AnonymousAccessDenied,
    AuthenticationFailed,
    AuthenticationSuccess,
    ConnectionDenied,
    ConnectionGranted,
    RealmAuthenticationFailed,
    RunAsDenied,
    RunAsGranted,
    SecurityConfigChange,
    SystemAccessGranted,
    TamperedRequest,
}

impl EventKind {
    /// Every kind, with its name.
    pub const ALL: [(EventKind, &'static str); 13] = [
        (EventKind::AccessDenied, "access_denied"),
        (EventKind::AccessGranted, "access_granted"),
        (EventKind::AnonymousAccessDenied, "anonymous_access_denied"),
        (EventKind::AuthenticationFailed, "authentication_failed"),
        (EventKind::AuthenticationSuccess, "authentication_success"),
        (EventKind::ConnectionDenied, "connection_denied"),
        (EventKind::ConnectionGranted, "connection_granted"),
        (
            EventKind::RealmAuthenticationFailed,
            "realm_authentication_failed",
        ),
        (EventKind::RunAsDenied, "run_as_denied"),
        (EventKind::RunAsGranted, "run_as_granted"),
        (EventKind::SecurityConfigChange, "security_config_change"),
        (EventKind::SystemAccessGranted, "system_access_granted"),
        (EventKind::TamperedRequest, "tampered_request"),
    ];

    /// Elasticsearch's default include list.
    pub const DEFAULT_INCLUDE: &'static str = "access_denied,access_granted,anonymous_access_denied,authentication_failed,connection_denied,tampered_request,run_as_denied,run_as_granted,security_config_change";

    fn bit(self) -> u32 {
        1 << (self as u32)
    }

    /// The kind's name, `event.action` of its events.
    fn name(self) -> &'static str {
        EventKind::ALL
            .iter()
            .find(|(kind, _)| *kind == self)
            .map_or("", |(_, name)| name)
    }
}

/// A set of event kinds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EventSet(u32);

impl EventSet {
    /// Parses a comma-separated list of kinds; `_all` is every kind. The error names the
    /// unknown entry.
    pub fn parse(list: &str) -> Result<EventSet, String> {
        let mut set = 0;
        for name in list
            .split(',')
            .map(str::trim)
            .filter(|name| !name.is_empty())
        {
            if name == "_all" {
                set |= EventKind::ALL
                    .iter()
                    .fold(0, |all, (kind, _)| all | kind.bit());
                continue;
            }
            match EventKind::ALL.iter().find(|(_, known)| *known == name) {
                Some((kind, _)) => set |= kind.bit(),
                None => return Err(name.to_owned()),
            }
        }
        Ok(EventSet(set))
    }

    /// The kinds of `self` not in `other`.
    pub fn without(self, other: EventSet) -> EventSet {
        EventSet(self.0 & !other.0)
    }

    /// Whether `kind` is in the set.
    pub fn contains(self, kind: EventKind) -> bool {
        self.0 & kind.bit() != 0
    }
}

/// The audit settings.
#[derive(Debug, Clone)]
pub struct AuditConfig {
    /// The file and its rotation.
    pub file: AuditFile,
    /// The events written (include list minus exclude list).
    pub events: EventSet,
    /// `node.id` on every event (`xpack.security.audit.logfile.emit_node_id`).
    pub node_id: Option<String>,
    /// `node.name` on every event (`xpack.security.audit.logfile.emit_node_name`).
    pub node_name: Option<String>,
}

/// The audit sink; cheap to clone. [`Audit::disabled`] writes nothing and costs nothing.
#[derive(Debug, Clone, Default)]
pub struct Audit {
    inner: Option<Arc<Shared>>,
}

#[derive(Debug)]
struct Shared {
    events: EventSet,
    node_id: Option<String>,
    node_name: Option<String>,
    sender: tokio::sync::mpsc::Sender<Message>,
    /// Events dropped because the queue stayed full.
    dropped: AtomicU64,
    /// When the last drop warning was logged (seconds since the epoch).
    warned_at: AtomicU64,
}

/// Joins the writer thread; the binary keeps it to flush at shutdown.
#[derive(Debug)]
pub struct AuditWriter {
    sender: tokio::sync::mpsc::Sender<Message>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl AuditWriter {
    /// Waits (up to `timeout`) until everything queued so far is on disk.
    pub fn flush(&self, timeout: Duration) {
        let (done, wait) = std::sync::mpsc::channel();
        if self.sender.try_send(Message::Flush(done)).is_ok() {
            let _ = wait.recv_timeout(timeout);
        }
    }
}

impl Drop for AuditWriter {
    fn drop(&mut self) {
        self.flush(Duration::from_secs(5));
        // The thread itself ends when the last sender is gone; it is not waited for here.
        drop(self.thread.take());
    }
}

impl Audit {
    /// No audit trail (`xpack.security.audit.enabled: false`).
    pub fn disabled() -> Audit {
        Audit { inner: None }
    }

    /// Opens the audit file and starts the writer thread.
    pub fn start(config: AuditConfig) -> std::io::Result<(Audit, AuditWriter)> {
        let (sender, receiver) = tokio::sync::mpsc::channel(QUEUE);
        let thread = writer::spawn(config.file, receiver)?;
        let audit = Audit {
            inner: Some(Arc::new(Shared {
                events: config.events,
                node_id: config.node_id,
                node_name: config.node_name,
                sender: sender.clone(),
                dropped: AtomicU64::new(0),
                warned_at: AtomicU64::new(0),
            })),
        };
        Ok((
            audit,
            AuditWriter {
                sender,
                thread: Some(thread),
            },
        ))
    }

    /// The sink when `kind` is wanted.
    #[inline]
    fn wants(&self, kind: EventKind) -> Option<&Shared> {
        self.inner
            .as_deref()
            .filter(|shared| shared.events.contains(kind))
    }

    /// Whether the audit trail is on at all.
    pub(crate) fn is_enabled(&self) -> bool {
        self.inner.is_some()
    }

    /// Whether any security configuration change is written.
    pub(crate) fn wants_config_changes(&self) -> bool {
        self.wants(EventKind::SecurityConfigChange).is_some()
    }

    /// `authentication_success`.
    pub(crate) async fn authentication_success(
        &self,
        request: &RequestInfo<'_>,
        subject: &Authentication,
    ) {
        let Some(shared) = self.wants(EventKind::AuthenticationSuccess) else {
            return;
        };
        let mut event = Event::rest(shared, "authentication_success", request);
        event.subject(subject);
        event.realm = Some(&subject.authentication_realm.name);
        shared.send(event.render()).await;
    }

    /// `authentication_failed`: `principal` is the user name or API key id presented, never
    /// the secret.
    pub(crate) async fn authentication_failed(
        &self,
        request: &RequestInfo<'_>,
        principal: &Principal,
    ) {
        let Some(shared) = self.wants(EventKind::AuthenticationFailed) else {
            return;
        };
        let mut event = Event::rest(shared, "authentication_failed", request);
        match principal {
            Principal::ApiKey(id) => {
                event.authentication_type = Some("API_KEY");
                event.apikey_id = Some(id);
            }
            Principal::User(name) => {
                event.authentication_type = Some("REALM");
                event.user_name = Some(name);
            }
            Principal::Token => event.authentication_type = Some("TOKEN"),
            Principal::Unknown => {}
        }
        shared.send(event.render()).await;
    }

    /// `anonymous_access_denied`: no credentials.
    pub(crate) async fn anonymous_access_denied(&self, request: &RequestInfo<'_>) {
        let Some(shared) = self.wants(EventKind::AnonymousAccessDenied) else {
            return;
        };
        let event = Event::rest(shared, "anonymous_access_denied", request);
        shared.send(event.render()).await;
    }

    /// `run_as_granted` / `run_as_denied`: `subject` ran (or tried to run) as `target`.
    pub(crate) async fn run_as(
        &self,
        request: &RequestInfo<'_>,
        subject: &Authentication,
        target: &str,
        action: &str,
        granted: bool,
    ) {
        let kind = if granted {
            EventKind::RunAsGranted
        } else {
            EventKind::RunAsDenied
        };
        if let Some((shared, mut event)) = self.subject_event(kind, request, subject, action) {
            event.user_run_as_name = Some(target);
            shared.send(event.render()).await;
        }
    }

    /// `access_granted` / `access_denied` for `action` (the transport action name).
    pub(crate) async fn access(
        &self,
        request: &RequestInfo<'_>,
        subject: &Authentication,
        action: &str,
        request_name: &str,
        granted: bool,
    ) {
        let kind = if granted {
            EventKind::AccessGranted
        } else {
            EventKind::AccessDenied
        };
        if let Some((shared, mut event)) = self.subject_event(kind, request, subject, action) {
            event.user_roles = Some(&subject.user.roles);
            event.request_name = Some(request_name);
            shared.send(event.render()).await;
        }
    }

    /// The authorization event of `kind` that `subject` caused for `action`, when `kind` is
    /// audited.
    fn subject_event<'a>(
        &'a self,
        kind: EventKind,
        request: &'a RequestInfo<'a>,
        subject: &'a Authentication,
        action: &'a str,
    ) -> Option<(&'a Shared, Event<'a>)> {
        let shared = self.wants(kind)?;
        let mut event = Event::transport(shared, kind.name(), request, action);
        event.subject(subject);
        Some((shared, event))
    }

    /// `security_config_change`: `payload` is the `put`/`delete`/`change`/`create`/
    /// `invalidate` object, already free of secrets.
    pub(crate) async fn config_change(
        &self,
        request: &RequestInfo<'_>,
        action: &str,
        payload: &Value,
    ) {
        let Some(shared) = self.wants(EventKind::SecurityConfigChange) else {
            return;
        };
        let event = ConfigChangeEvent {
            kind: "audit",
            timestamp: timestamp(SystemTime::now()),
            node_name: shared.node_name.as_deref(),
            node_id: shared.node_id.as_deref(),
            event_type: "security_config_change",
            event_action: action,
            request_id: &request.id,
            payload,
        };
        shared
            .send(serde_json::to_vec(&event).unwrap_or_default())
            .await;
    }
}

impl Shared {
    async fn send(&self, line: Vec<u8>) {
        if line.is_empty() {
            return;
        }
        let line = match self.sender.try_send(Message::Line(line)) {
            Ok(()) => return,
            Err(TrySendError::Closed(_)) => return,
            Err(TrySendError::Full(line)) => line,
        };
        // The writer fell behind: wait briefly (the request, not the thread), then drop.
        match tokio::time::timeout(FULL_QUEUE_WAIT, self.sender.send(line)).await {
            Ok(_) => {}
            Err(_) => {
                let dropped = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
                let now = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |since| since.as_secs());
                if self.warned_at.swap(now, Ordering::Relaxed) != now {
                    tracing::warn!(
                        dropped,
                        "the audit log cannot keep up: events were dropped after waiting {}ms for the writer",
                        FULL_QUEUE_WAIT.as_millis()
                    );
                }
            }
        }
    }
}

/// Who tried to authenticate, as far as the credential says without its secret.
#[derive(Debug)]
pub(crate) enum Principal {
    /// An `ApiKey` credential: its id.
    ApiKey(String),
    /// A `Basic` credential: its user name.
    User(String),
    /// A `Bearer` token.
    Token,
    /// Nothing could be read from the credential.
    Unknown,
}

/// What the audit trail records about the request an event belongs to.
#[derive(Debug)]
pub(crate) struct RequestInfo<'a> {
    /// The request id: `request.id` in audit events, `request_id` in log lines.
    pub(crate) id: RequestId,
    /// The client's address.
    pub(crate) origin: Option<SocketAddr>,
    /// `X-Opaque-Id`, when sent as text.
    pub(crate) opaque_id: Option<&'a str>,
    /// `X-Forwarded-For`, verbatim.
    pub(crate) forwarded_for: Option<&'a str>,
    pub(crate) method: &'a str,
    pub(crate) path: &'a str,
    pub(crate) query: Option<&'a str>,
}

/// A request id: this process's random prefix and a counter, 22 characters like
/// Elasticsearch's; formatted without allocating.
#[derive(Clone, Copy)]
pub(crate) struct RequestId([u8; 22]);

impl RequestId {
    /// The id as text.
    pub(crate) fn as_str(&self) -> &str {
        // Only ASCII letters, digits, `-` and `_` are ever written into the buffer.
        std::str::from_utf8(&self.0).unwrap_or("")
    }
}

impl std::fmt::Debug for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for RequestId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// Hands out request ids: 11 characters of per-process randomness, then a counter.
#[derive(Debug)]
pub(crate) struct RequestIds {
    prefix: [u8; 11],
    next: AtomicU64,
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

impl RequestIds {
    /// A fresh prefix: random enough to tell processes apart, not a secret.
    pub(crate) fn new() -> RequestIds {
        use std::hash::{BuildHasher, Hasher};
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u128(
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |since| since.as_nanos()),
        );
        hasher.write_u32(std::process::id());
        let mut seed = hasher.finish();
        let mut prefix = [0u8; 11];
        for slot in &mut prefix {
            *slot = ALPHABET[(seed & 63) as usize];
            seed = seed.rotate_right(6);
        }
        RequestIds {
            prefix,
            next: AtomicU64::new(0),
        }
    }

    /// The next id.
    pub(crate) fn next(&self) -> RequestId {
        let mut count = self.next.fetch_add(1, Ordering::Relaxed);
        let mut id = [0u8; 22];
        id[..11].copy_from_slice(&self.prefix);
        for slot in id[11..].iter_mut().rev() {
            *slot = ALPHABET[(count & 63) as usize];
            count >>= 6;
        }
        RequestId(id)
    }
}

/// One `rest` or `transport` event, fields in Elasticsearch's order.
#[derive(Serialize)]
struct Event<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    timestamp: Timestamp,
    #[serde(rename = "node.name", skip_serializing_if = "Option::is_none")]
    node_name: Option<&'a str>,
    #[serde(rename = "node.id", skip_serializing_if = "Option::is_none")]
    node_id: Option<&'a str>,
    #[serde(rename = "event.type")]
    event_type: &'static str,
    #[serde(rename = "event.action")]
    event_action: &'static str,
    #[serde(
        rename = "authentication.type",
        skip_serializing_if = "Option::is_none"
    )]
    authentication_type: Option<&'static str>,
    #[serde(rename = "user.name", skip_serializing_if = "Option::is_none")]
    user_name: Option<&'a str>,
    #[serde(rename = "user.run_as.name", skip_serializing_if = "Option::is_none")]
    user_run_as_name: Option<&'a str>,
    #[serde(rename = "user.realm", skip_serializing_if = "Option::is_none")]
    user_realm: Option<&'a str>,
    #[serde(rename = "user.roles", skip_serializing_if = "Option::is_none")]
    user_roles: Option<&'a [String]>,
    #[serde(rename = "apikey.id", skip_serializing_if = "Option::is_none")]
    apikey_id: Option<&'a str>,
    #[serde(rename = "apikey.name", skip_serializing_if = "Option::is_none")]
    apikey_name: Option<&'a str>,
    #[serde(rename = "origin.type")]
    origin_type: &'static str,
    #[serde(rename = "origin.address", skip_serializing_if = "Option::is_none")]
    origin_address: Option<SocketAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    realm: Option<&'a str>,
    #[serde(rename = "url.path", skip_serializing_if = "Option::is_none")]
    url_path: Option<&'a str>,
    #[serde(rename = "url.query", skip_serializing_if = "Option::is_none")]
    url_query: Option<&'a str>,
    #[serde(rename = "request.method", skip_serializing_if = "Option::is_none")]
    request_method: Option<&'a str>,
    #[serde(rename = "request.id")]
    request_id: &'a RequestId,
    #[serde(skip_serializing_if = "Option::is_none")]
    action: Option<&'a str>,
    #[serde(rename = "request.name", skip_serializing_if = "Option::is_none")]
    request_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    opaque_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    x_forwarded_for: Option<&'a str>,
}

impl<'a> Event<'a> {
    /// An event of the REST layer: carries the URL and method.
    fn rest(shared: &'a Shared, action: &'static str, request: &'a RequestInfo<'a>) -> Self {
        let mut event = Event::common(shared, "rest", action, request);
        event.url_path = Some(request.path);
        event.url_query = request.query;
        event.request_method = Some(request.method);
        event
    }

    /// An authorization event: carries the action.
    fn transport(
        shared: &'a Shared,
        action: &'static str,
        request: &'a RequestInfo<'a>,
        transport_action: &'a str,
    ) -> Self {
        let mut event = Event::common(shared, "transport", action, request);
        event.action = Some(transport_action);
        event
    }

    fn common(
        shared: &'a Shared,
        event_type: &'static str,
        action: &'static str,
        request: &'a RequestInfo<'a>,
    ) -> Self {
        Event {
            kind: "audit",
            timestamp: timestamp(SystemTime::now()),
            node_name: shared.node_name.as_deref(),
            node_id: shared.node_id.as_deref(),
            event_type,
            event_action: action,
            authentication_type: None,
            user_name: None,
            user_run_as_name: None,
            user_realm: None,
            user_roles: None,
            apikey_id: None,
            apikey_name: None,
            origin_type: "rest",
            origin_address: request.origin,
            realm: None,
            url_path: None,
            url_query: None,
            request_method: None,
            request_id: &request.id,
            action: None,
            request_name: None,
            opaque_id: request.opaque_id,
            x_forwarded_for: request.forwarded_for,
        }
    }

    /// The subject's user, realm and how it authenticated.
    fn subject(&mut self, subject: &'a Authentication) {
        self.user_name = Some(&subject.user.username);
        self.user_realm = Some(&subject.owner_realm.name);
        self.authentication_type = Some(if subject.api_key.is_some() {
            "API_KEY"
        } else if subject.token {
            "TOKEN"
        } else {
            "REALM"
        });
        if let Some(key) = &subject.api_key {
            self.apikey_id = Some(&key.id);
            self.apikey_name = Some(&key.name);
        }
    }

    fn render(&self) -> Vec<u8> {
        // Sized for a typical event at once: growing from serde_json's default would copy the
        // line three or four times.
        let mut line = Vec::with_capacity(LINE_CAPACITY);
        // Serializing strings and numbers into a vector cannot fail.
        if serde_json::to_writer(&mut line, self).is_err() {
            line.clear();
        }
        line
    }
}

/// A `security_config_change` event: no origin, as in Elasticsearch.
#[derive(Serialize)]
struct ConfigChangeEvent<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    timestamp: Timestamp,
    #[serde(rename = "node.name", skip_serializing_if = "Option::is_none")]
    node_name: Option<&'a str>,
    #[serde(rename = "node.id", skip_serializing_if = "Option::is_none")]
    node_id: Option<&'a str>,
    #[serde(rename = "event.type")]
    event_type: &'static str,
    #[serde(rename = "event.action")]
    event_action: &'a str,
    #[serde(rename = "request.id")]
    request_id: &'a RequestId,
    #[serde(flatten)]
    payload: &'a Value,
}

/// Room for one event line: the access events of an API key run to about 450 bytes.
const LINE_CAPACITY: usize = 640;

/// Elasticsearch's audit timestamp, in UTC: `2020-12-30T22:30:06,949+0000`.
struct Timestamp([u8; 28]);

impl Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(std::str::from_utf8(&self.0).unwrap_or(""))
    }
}

fn timestamp(now: SystemTime) -> Timestamp {
    let since = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let seconds = since.as_secs();
    let millis = since.subsec_millis();
    let (year, month, day) = civil_from_days((seconds / 86_400) as i64);
    let of_day = seconds % 86_400;
    let mut out = *b"0000-00-00T00:00:00,000+0000";
    let mut put = |at: usize, value: u64, width: usize| {
        let mut value = value;
        for index in (at..at + width).rev() {
            out[index] = b'0' + (value % 10) as u8;
            value /= 10;
        }
    };
    put(0, year.clamp(0, 9999) as u64, 4);
    put(5, u64::from(month), 2);
    put(8, u64::from(day), 2);
    put(11, of_day / 3600, 2);
    put(14, of_day / 60 % 60, 2);
    put(17, of_day % 60, 2);
    put(20, u64::from(millis), 3);
    Timestamp(out)
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_elasticsearch_shaped() {
        let at = UNIX_EPOCH + Duration::from_millis(1_609_367_406_949);
        let stamp = timestamp(at);
        assert_eq!(
            std::str::from_utf8(&stamp.0).unwrap(),
            "2020-12-30T22:30:06,949+0000"
        );
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400);
        assert_eq!(
            std::str::from_utf8(&timestamp(leap).0).unwrap(),
            "2000-02-29T00:00:00,000+0000"
        );
    }

    #[test]
    fn event_lists_parse_and_exclude() {
        let default = EventSet::parse(EventKind::DEFAULT_INCLUDE).unwrap();
        assert!(default.contains(EventKind::AccessGranted));
        assert!(!default.contains(EventKind::AuthenticationSuccess));
        let all = EventSet::parse("_all").unwrap();
        let some = all.without(EventSet::parse("access_granted").unwrap());
        assert!(!some.contains(EventKind::AccessGranted));
        assert!(some.contains(EventKind::AuthenticationSuccess));
        assert_eq!(
            EventSet::parse("access_granted,bogus"),
            Err("bogus".to_owned())
        );
    }

    #[test]
    fn request_ids_are_distinct_and_22_characters() {
        let ids = RequestIds::new();
        let first = ids.next();
        let second = ids.next();
        assert_eq!(first.as_str().len(), 22);
        assert_ne!(first.as_str(), second.as_str());
        assert_eq!(first.as_str()[..11], second.as_str()[..11]);
    }
}
