//! The audit trail: Elasticsearch's logfile audit events (`<cluster.name>_audit.json`), in its
//! event names and field names, one JSON object a line.
//!
//! [`Audit`] is the one sink: the dispatcher calls its typed constructors (authentication,
//! access, security configuration changes) with the request's [`RequestInfo`]; each checks the
//! include list first, so an event nobody wants costs one bit test. The event every request
//! has (access, and authentication success when included) is queued as its facts
//! ([`Deferred`]) and rendered by the writer thread ([`writer`]), thousands at a time; rarer
//! events are rendered on the request. The fields naming a subject, about half of an event,
//! are rendered once per subject by the writer ([`SubjectCache`]). No request touches the disk.
//! Secrets never reach an event: the constructors take names and ids only, and the
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

pub(crate) use config_change::{changes_config, config_changes};
pub use writer::AuditFile;
use writer::{Control, Pending};

/// How long a request waits for the writer when its pending buffer is full before its event
/// is dropped (and counted, and logged).
const FULL_QUEUE_WAIT: Duration = Duration::from_millis(100);
/// How often a waiting request looks again.
const FULL_QUEUE_RETRY: Duration = Duration::from_millis(2);

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
    node: Arc<EventNode>,
    pending: Arc<Pending>,
    /// Events dropped because the queue stayed full.
    dropped: AtomicU64,
    /// When the last drop warning was logged (seconds since the epoch).
    warned_at: AtomicU64,
}

/// Joins the writer thread; the binary keeps it to flush at shutdown.
#[derive(Debug)]
pub struct AuditWriter {
    control: std::sync::mpsc::Sender<Control>,
    pending: Arc<Pending>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl AuditWriter {
    /// Waits (up to `timeout`) until everything recorded so far is on disk.
    pub fn flush(&self, timeout: Duration) {
        let (done, wait) = std::sync::mpsc::channel();
        if self.control.send(Control::Flush(done)).is_ok() {
            self.pending.wake_writer();
            let _ = wait.recv_timeout(timeout);
        }
    }
}

impl Drop for AuditWriter {
    fn drop(&mut self) {
        self.flush(Duration::from_secs(5));
        // The thread drains once more and ends when `control` is dropped with this writer (woken
        // so it need not finish its tick); it is not waited for here.
        drop(self.thread.take());
        let (closed, _) = std::sync::mpsc::channel();
        drop(std::mem::replace(&mut self.control, closed));
        self.pending.wake_writer();
    }
}

impl Audit {
    /// No audit trail (`xpack.security.audit.enabled: false`).
    pub fn disabled() -> Audit {
        Audit { inner: None }
    }

    /// Opens the audit file and starts the writer thread.
    pub fn start(config: AuditConfig) -> std::io::Result<(Audit, AuditWriter)> {
        let (control, receiver) = std::sync::mpsc::channel();
        let pending = Arc::new(Pending::new());
        let node = Arc::new(EventNode {
            name: config.node_name,
            id: config.node_id,
        });
        let thread = writer::spawn(
            config.file,
            Arc::clone(&pending),
            Arc::clone(&node),
            receiver,
        )?;
        let audit = Audit {
            inner: Some(Arc::new(Shared {
                events: config.events,
                node: Arc::clone(&node),
                pending: Arc::clone(&pending),
                dropped: AtomicU64::new(0),
                warned_at: AtomicU64::new(0),
            })),
        };
        Ok((
            audit,
            AuditWriter {
                control,
                pending,
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
        subject: &Arc<Authentication>,
    ) {
        let Some(shared) = self.wants(EventKind::AuthenticationSuccess) else {
            return;
        };
        let mut event = Deferred::new(EventKind::AuthenticationSuccess, request, subject);
        event.rest = Some(Box::new(RestLine {
            method: request.method.into(),
            path: request.path.into(),
            query: request.query.map(Into::into),
        }));
        shared.defer(event).await;
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
        let mut event = Event::rest(&shared.node, "authentication_failed", request);
        match principal {
            Principal::ApiKey(id) => {
                event.who.authentication_type = Some("API_KEY");
                event.who.apikey_id = Some(id);
            }
            Principal::User(name) => {
                event.who.authentication_type = Some("REALM");
                event.who.user_name = Some(name);
            }
            Principal::Token => event.who.authentication_type = Some("TOKEN"),
            Principal::Unknown => {}
        }
        shared.record(&|out| event.render(out)).await;
    }

    /// `anonymous_access_denied`: no credentials.
    pub(crate) async fn anonymous_access_denied(&self, request: &RequestInfo<'_>) {
        let Some(shared) = self.wants(EventKind::AnonymousAccessDenied) else {
            return;
        };
        let event = Event::rest(&shared.node, "anonymous_access_denied", request);
        shared.record(&|out| event.render(out)).await;
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
            event.who.run_as_name = Some(target);
            shared.record(&|out| event.render(out)).await;
        }
    }

    /// `access_granted` / `access_denied` for `action` (the transport action name).
    /// The event is the one of every request, so the request only notes its facts; the writer
    /// thread renders it, in bulk.
    pub(crate) async fn access(
        &self,
        request: &RequestInfo<'_>,
        subject: &Arc<Authentication>,
        action: &'static str,
        request_name: &'static str,
        granted: bool,
    ) {
        let kind = if granted {
            EventKind::AccessGranted
        } else {
            EventKind::AccessDenied
        };
        let Some(shared) = self.wants(kind) else {
            return;
        };
        let mut event = Deferred::new(kind, request, subject);
        event.action = Some((action, request_name));
        shared.defer(event).await;
    }

    /// `access_granted` / `access_denied` for a request a reverse proxy asked about: `request`
    /// is the proxied request (its method and URI are the event's), `details` the rule,
    /// application, privileges and resource the decision rested on.
    pub(crate) async fn forward_auth(
        &self,
        request: &RequestInfo<'_>,
        subject: &Authentication,
        (action, request_name): (&'static str, &'static str),
        granted: bool,
        details: &[(&'static str, &str)],
    ) {
        let kind = if granted {
            EventKind::AccessGranted
        } else {
            EventKind::AccessDenied
        };
        let Some(shared) = self.wants(kind) else {
            return;
        };
        let mut event = Event::rest(&shared.node, kind.name(), request);
        event.who = Who::of(subject, true);
        event.action = Some(action);
        event.request_name = Some(request_name);
        event.extra = details;
        shared.record(&|out| event.render(out)).await;
    }

    /// The run-as event of `kind` that `subject` caused for `action`, when `kind` is audited.
    fn subject_event<'a>(
        &'a self,
        kind: EventKind,
        request: &'a RequestInfo<'a>,
        subject: &'a Authentication,
        action: &'a str,
    ) -> Option<(&'a Shared, Event<'a>)> {
        let shared = self.wants(kind)?;
        let mut event = Event::transport(&shared.node, kind.name(), request, action);
        event.who = Who::of(subject, false);
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
            node_name: shared.node.name.as_deref(),
            node_id: shared.node.id.as_deref(),
            event_type: "security_config_change",
            event_action: action,
            request_id: &request.id,
            payload,
        };
        shared
            .record(&|out| {
                // Serializing strings and JSON values into a vector cannot fail; were it to,
                // the partial line is taken back.
                let start = out.len();
                if serde_json::to_writer(&mut *out, &event).is_err() {
                    out.truncate(start);
                }
            })
            .await;
    }
}

impl Shared {
    /// Queues the line `render` writes (events rendered on the request: the rare ones).
    async fn record(&self, render: &(dyn Fn(&mut Vec<u8>) + Sync)) {
        let mut line = Vec::new();
        render(&mut line);
        if !line.is_empty() {
            self.queue(Entry::Line(line.into_boxed_slice())).await;
        }
    }

    /// Queues an event for the writer to render.
    async fn defer(&self, event: Deferred) {
        self.queue(Entry::Deferred(event)).await;
    }

    /// Queues `entry`; when the writer has fallen behind, waits briefly (the request, not the
    /// thread), then drops the event.
    async fn queue(&self, entry: Entry) {
        let Some(mut entry) = self.pending.push(entry) else {
            return;
        };
        let deadline = tokio::time::Instant::now() + FULL_QUEUE_WAIT;
        while tokio::time::Instant::now() < deadline {
            tokio::time::sleep(FULL_QUEUE_RETRY).await;
            match self.pending.push(entry) {
                None => return,
                Some(refused) => entry = refused,
            }
        }
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

/// The node fields every event carries.
#[derive(Debug)]
pub(super) struct EventNode {
    /// `node.name`, when emitted.
    name: Option<String>,
    /// `node.id`, when emitted.
    id: Option<String>,
}

/// What the writer thread is handed.
pub(super) enum Entry {
    /// A line rendered on the request.
    Line(Box<[u8]>),
    /// An event the writer renders (kept inline: a box would be one more allocation per
    /// request, freed on another thread).
    Deferred(Deferred),
}

impl Entry {
    /// Appends the entry's line, without its newline.
    pub(super) fn render(&self, node: &EventNode, subjects: &mut SubjectCache, out: &mut Vec<u8>) {
        match self {
            Entry::Line(line) => out.extend_from_slice(line),
            Entry::Deferred(event) => event.render(node, subjects, out),
        }
    }
}

/// An access or authentication-success event as a request notes it: the facts, not the text.
/// Every request has one, so rendering it is left to the writer thread, which renders them by
/// the thousand with warm caches where each request would render one with cold ones.
pub(super) struct Deferred {
    kind: EventKind,
    /// When it happened, in milliseconds since the epoch.
    at: u64,
    request_id: RequestId,
    origin: Option<SocketAddr>,
    subject: Arc<Authentication>,
    /// Access events: the transport action and the request name.
    action: Option<(&'static str, &'static str)>,
    /// `authentication_success`: the REST request.
    rest: Option<Box<RestLine>>,
    opaque_id: Option<Box<str>>,
    forwarded_for: Option<Box<str>>,
}

/// The request line a REST event carries.
struct RestLine {
    method: Box<str>,
    path: Box<str>,
    query: Option<Box<str>>,
}

impl Deferred {
    fn new(kind: EventKind, request: &RequestInfo<'_>, subject: &Arc<Authentication>) -> Deferred {
        Deferred {
            kind,
            at: millis(SystemTime::now()),
            request_id: request.id,
            origin: request.origin,
            subject: Arc::clone(subject),
            action: None,
            rest: None,
            opaque_id: request.opaque_id.map(Into::into),
            forwarded_for: request.forwarded_for.map(Into::into),
        }
    }

    /// Writes the event as [`Event::render`] would, from the subject's cached head: what is
    /// left to write per event is its time, address, id, action and the request's headers.
    fn render(&self, node: &EventNode, subjects: &mut SubjectCache, out: &mut Vec<u8>) {
        out.reserve(1024);
        out.extend_from_slice(b"{\"type\":\"audit\",\"timestamp\":\"");
        out.extend_from_slice(&timestamp_of(self.at).0);
        out.push(b'"');
        out.extend_from_slice(subjects.get(&self.subject).head(self.kind, node));
        let mut object = JsonObject { out, first: false };
        if let Some(address) = self.origin {
            object.address("origin.address", address);
        }
        if let Some(rest) = &self.rest {
            object.string("realm", &self.subject.authentication_realm.name);
            object.string("url.path", &rest.path);
            object.optional("url.query", rest.query.as_deref());
            object.string("request.method", &rest.method);
        }
        object.raw_string("request.id", self.request_id.as_str().as_bytes());
        if let Some((action, request_name)) = self.action {
            object.clean_string("action", action);
            object.clean_string("request.name", request_name);
        }
        object.optional("opaque_id", self.opaque_id.as_deref());
        object.optional("x_forwarded_for", self.forwarded_for.as_deref());
        object.end();
    }
}

/// How many subjects the writer thread keeps rendered, as a power of two: 4 096. A cached
/// subject stays in memory until another takes its slot, after its key is invalidated too; it
/// is only ever used to write events of requests it authenticated.
pub(super) const WRITER_SUBJECTS: u32 = 12;

/// The writer's rendered subjects, in slots picked by the subject's address: the fields that
/// name a subject (`authentication.type` to `apikey.name`, about half of an access event) are
/// rendered once per subject rather than once per event. A cached subject is held (its `Arc`),
/// so its address cannot be taken by another while its text is cached; a subject is
/// immutable, so its text never goes stale.
pub(super) struct SubjectCache {
    /// log2 of the number of slots.
    bits: u32,
    slots: Vec<Option<RenderedSubject>>,
}

impl SubjectCache {
    /// A cache of `2^bits` slots.
    pub(super) fn new(bits: u32) -> SubjectCache {
        let bits = bits.clamp(1, 16);
        SubjectCache {
            bits,
            slots: (0..1 << bits).map(|_| None).collect(),
        }
    }

    /// `subject`'s text, rendered now unless its slot holds it.
    fn get(&mut self, subject: &Arc<Authentication>) -> &mut RenderedSubject {
        // Fibonacci hashing of the address: allocations are aligned, so its low bits say little.
        let hash = (Arc::as_ptr(subject) as usize as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let index = (hash >> (64 - self.bits)) as usize % self.slots.len();
        let slot = &mut self.slots[index];
        if slot
            .as_ref()
            .is_some_and(|cached| !Arc::ptr_eq(&cached.subject, subject))
        {
            *slot = None;
        }
        slot.get_or_insert_with(|| RenderedSubject::new(subject))
    }
}

/// A subject's fields as they appear in an event, each with its leading comma.
struct RenderedSubject {
    subject: Arc<Authentication>,
    text: Box<[u8]>,
    /// Where `user.roles` is in `text` (access events have it, others do not).
    roles: std::ops::Range<usize>,
    /// The writer's events of this subject from `node.name` to `origin.type`, by kind
    /// (access granted, access denied, authentication success), made when first needed.
    heads: [Option<Box<[u8]>>; 3],
}

impl RenderedSubject {
    fn new(subject: &Arc<Authentication>) -> RenderedSubject {
        let mut text = Vec::with_capacity(256);
        let roles = Who::of(subject, true).render(&mut JsonObject {
            out: &mut text,
            first: false,
        });
        RenderedSubject {
            subject: Arc::clone(subject),
            text: text.into_boxed_slice(),
            roles,
            heads: [None, None, None],
        }
    }

    /// The fields from `node.name` to `origin.type` of a deferred event of `kind`, each with
    /// its leading comma.
    fn head(&mut self, kind: EventKind, node: &EventNode) -> &[u8] {
        let (index, event_type, roles) = match kind {
            EventKind::AccessGranted => (0, "transport", true),
            EventKind::AccessDenied => (1, "transport", true),
            _ => (2, "rest", false),
        };
        let parts: [&[u8]; 2] = if roles {
            [&self.text, &[]]
        } else {
            [&self.text[..self.roles.start], &self.text[self.roles.end..]]
        };
        self.heads[index].get_or_insert_with(|| {
            let mut head = Vec::with_capacity(512);
            let mut object = JsonObject {
                out: &mut head,
                first: false,
            };
            object.optional("node.name", node.name.as_deref());
            object.optional("node.id", node.id.as_deref());
            object.string("event.type", event_type);
            object.string("event.action", kind.name());
            parts.iter().for_each(|part| object.raw(part));
            object.string("origin.type", "rest");
            head.into_boxed_slice()
        })
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

/// One `rest` or `transport` event; [`Event::render`] writes its fields in Elasticsearch's
/// order and names.
struct Event<'a> {
    kind: &'static str,
    timestamp: Timestamp,
    node_name: Option<&'a str>,
    node_id: Option<&'a str>,
    event_type: &'static str,
    event_action: &'static str,
    who: Who<'a>,
    origin_type: &'static str,
    origin_address: Option<SocketAddr>,
    realm: Option<&'a str>,
    url_path: Option<&'a str>,
    url_query: Option<&'a str>,
    request_method: Option<&'a str>,
    request_id: &'a RequestId,
    action: Option<&'a str>,
    request_name: Option<&'a str>,
    opaque_id: Option<&'a str>,
    x_forwarded_for: Option<&'a str>,
    /// keyward's own fields, after Elasticsearch's.
    extra: &'a [(&'static str, &'a str)],
}

impl<'a> Event<'a> {
    /// An event of the REST layer: carries the URL and method.
    fn rest(node: &'a EventNode, action: &'static str, request: &'a RequestInfo<'a>) -> Self {
        let mut event = Event::of_request(node, "rest", action, request);
        event.url_path = Some(request.path);
        event.url_query = request.query;
        event.request_method = Some(request.method);
        event
    }

    /// An authorization event: carries the action.
    fn transport(
        node: &'a EventNode,
        action: &'static str,
        request: &'a RequestInfo<'a>,
        transport_action: &'a str,
    ) -> Self {
        let mut event = Event::of_request(node, "transport", action, request);
        event.action = Some(transport_action);
        event
    }

    /// An event of the request being answered, timed now.
    fn of_request(
        node: &'a EventNode,
        event_type: &'static str,
        action: &'static str,
        request: &'a RequestInfo<'a>,
    ) -> Self {
        let mut event = Event::common(
            node,
            event_type,
            action,
            timestamp(SystemTime::now()),
            &request.id,
            request.origin,
        );
        event.opaque_id = request.opaque_id;
        event.x_forwarded_for = request.forwarded_for;
        event
    }

    fn common(
        node: &'a EventNode,
        event_type: &'static str,
        action: &'static str,
        timestamp: Timestamp,
        request_id: &'a RequestId,
        origin: Option<SocketAddr>,
    ) -> Self {
        Event {
            kind: "audit",
            timestamp,
            node_name: node.name.as_deref(),
            node_id: node.id.as_deref(),
            event_type,
            event_action: action,
            who: Who::default(),
            origin_type: "rest",
            origin_address: origin,
            realm: None,
            url_path: None,
            url_query: None,
            request_method: None,
            request_id,
            action: None,
            request_name: None,
            opaque_id: None,
            x_forwarded_for: None,
            extra: &[],
        }
    }

    /// Writes the event as one JSON object, absent fields left out. Written by hand rather than
    /// derived: field names need no escaping and nothing is allocated, which keeps the audit
    /// trail off the latency graph of every request.
    fn render(&self, out: &mut Vec<u8>) {
        // An API key's access event is about 450 bytes: one reservation, no growth midway.
        out.reserve(1024);
        let mut object = JsonObject::start(out);
        object.string("type", self.kind);
        object.raw_string("timestamp", &self.timestamp.0);
        object.optional("node.name", self.node_name);
        object.optional("node.id", self.node_id);
        object.string("event.type", self.event_type);
        object.string("event.action", self.event_action);
        self.who.render(&mut object);
        object.string("origin.type", self.origin_type);
        if let Some(address) = self.origin_address {
            object.address("origin.address", address);
        }
        object.optional("realm", self.realm);
        object.optional("url.path", self.url_path);
        object.optional("url.query", self.url_query);
        object.optional("request.method", self.request_method);
        object.string("request.id", self.request_id.as_str());
        object.optional("action", self.action);
        object.optional("request.name", self.request_name);
        object.optional("opaque_id", self.opaque_id);
        object.optional("x_forwarded_for", self.x_forwarded_for);
        for (name, value) in self.extra {
            object.string(name, value);
        }
        object.end();
    }
}

/// The fields of an event that say who acted: `authentication.type` to `apikey.name`.
#[derive(Default)]
struct Who<'a> {
    authentication_type: Option<&'static str>,
    user_name: Option<&'a str>,
    run_as_name: Option<&'a str>,
    user_realm: Option<&'a str>,
    user_roles: Option<&'a [String]>,
    apikey_id: Option<&'a str>,
    apikey_name: Option<&'a str>,
}

impl<'a> Who<'a> {
    /// The subject's user, realm and how it authenticated; its roles when `roles`.
    fn of(subject: &'a Authentication, roles: bool) -> Who<'a> {
        let key = subject.api_key.as_ref();
        Who {
            authentication_type: Some(if key.is_some() {
                "API_KEY"
            } else if subject.token || subject.service_token.is_some() {
                "TOKEN"
            } else {
                "REALM"
            }),
            user_name: Some(&subject.user.username),
            run_as_name: None,
            user_realm: Some(&subject.owner_realm.name),
            user_roles: roles.then_some(subject.user.roles.as_slice()),
            apikey_id: key.map(|key| key.id.as_str()),
            apikey_name: key.map(|key| key.name.as_str()),
        }
    }

    /// Writes the fields in Elasticsearch's order; returns where `user.roles` is in the output.
    fn render(&self, object: &mut JsonObject<'_>) -> std::ops::Range<usize> {
        object.optional("authentication.type", self.authentication_type);
        object.optional("user.name", self.user_name);
        object.optional("user.run_as.name", self.run_as_name);
        object.optional("user.realm", self.user_realm);
        let roles_start = object.out.len();
        if let Some(roles) = self.user_roles {
            object.strings("user.roles", roles);
        }
        let roles = roles_start..object.out.len();
        object.optional("apikey.id", self.apikey_id);
        object.optional("apikey.name", self.apikey_name);
        roles
    }
}

/// Writes one flat JSON object. Field names are the audit trail's own constants, which need no
/// escaping; values are escaped as `serde_json` escapes them.
struct JsonObject<'o> {
    out: &'o mut Vec<u8>,
    first: bool,
}

impl<'o> JsonObject<'o> {
    fn start(out: &'o mut Vec<u8>) -> JsonObject<'o> {
        out.push(b'{');
        JsonObject { out, first: true }
    }

    fn key(&mut self, name: &str) {
        debug_assert!(!name.contains(['"', '\\']));
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        self.out.push(b'"');
        self.out.extend_from_slice(name.as_bytes());
        self.out.extend_from_slice(b"\":");
    }

    /// Fields already rendered, each with its leading comma.
    fn raw(&mut self, fields: &[u8]) {
        debug_assert!(!self.first && (fields.is_empty() || fields.starts_with(b",")));
        self.out.extend_from_slice(fields);
    }

    fn string(&mut self, name: &str, value: &str) {
        self.key(name);
        push_json_string(self.out, value);
    }

    /// A name of keyward's own that needs no escaping (an action or request name: a test of
    /// the action table keeps them so); checked in debug builds.
    fn clean_string(&mut self, name: &str, value: &str) {
        debug_assert!(needs_no_escape(value), "{value}");
        self.raw_string(name, value.as_bytes());
    }

    /// A value known to need no escaping (ASCII digits and punctuation).
    fn raw_string(&mut self, name: &str, value: &[u8]) {
        self.key(name);
        self.out.push(b'"');
        self.out.extend_from_slice(value);
        self.out.push(b'"');
    }

    fn optional(&mut self, name: &str, value: Option<&str>) {
        if let Some(value) = value {
            self.string(name, value);
        }
    }

    fn strings(&mut self, name: &str, values: &[String]) {
        self.key(name);
        self.out.push(b'[');
        for (index, value) in values.iter().enumerate() {
            if index > 0 {
                self.out.push(b',');
            }
            push_json_string(self.out, value);
        }
        self.out.push(b']');
    }

    fn address(&mut self, name: &str, address: SocketAddr) {
        self.key(name);
        self.out.push(b'"');
        match address {
            SocketAddr::V4(v4) => {
                for (index, octet) in v4.ip().octets().iter().enumerate() {
                    if index > 0 {
                        self.out.push(b'.');
                    }
                    push_decimal(self.out, u64::from(*octet));
                }
                self.out.push(b':');
                push_decimal(self.out, u64::from(v4.port()));
            }
            // Rare enough for the formatting machinery; `[addr]:port` like Elasticsearch.
            SocketAddr::V6(v6) => {
                use std::io::Write as _;
                let _ = write!(self.out, "{v6}");
            }
        }
        self.out.push(b'"');
    }

    fn end(self) {
        self.out.push(b'}');
    }
}

fn push_decimal(out: &mut Vec<u8>, mut value: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

/// A JSON string: `"` and `\\` escaped, control characters as `\\n`-style or `\\u00XX` escapes,
/// everything else (non-ASCII included) as it is, exactly as `serde_json` writes it. Eight bytes
/// are checked at a time: audit values almost never need an escape.
fn push_json_string(out: &mut Vec<u8>, value: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = value.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let mut clean = 0;
    let mut at = 0;
    while at < bytes.len() {
        if let Some(word) = bytes.get(at..at + 8)
            && let Ok(word) = <[u8; 8]>::try_from(word)
            && !may_need_escape(u64::from_le_bytes(word))
        {
            at += 8;
            continue;
        }
        let end = (at + 8).min(bytes.len());
        while at < end {
            let byte = bytes[at];
            let escape: &[u8] = match byte {
                b'"' => b"\\\"",
                b'\\' => b"\\\\",
                b'\n' => b"\\n",
                b'\r' => b"\\r",
                b'\t' => b"\\t",
                0x08 => b"\\b",
                0x0c => b"\\f",
                0x00..=0x1f => b"",
                _ => {
                    at += 1;
                    continue;
                }
            };
            out.extend_from_slice(&bytes[clean..at]);
            if escape.is_empty() {
                out.extend_from_slice(b"\\u00");
                out.push(HEX[usize::from(byte >> 4)]);
                out.push(HEX[usize::from(byte & 15)]);
            } else {
                out.extend_from_slice(escape);
            }
            at += 1;
            clean = at;
        }
    }
    out.extend_from_slice(&bytes[clean..]);
    out.push(b'"');
}

/// Whether `value` is written in JSON as it is, between quotes.
pub(crate) fn needs_no_escape(value: &str) -> bool {
    value
        .bytes()
        .all(|byte| byte >= 0x20 && byte != b'"' && byte != b'\\')
}

/// Whether any of eight bytes may be `"`, `\\` or a control character (never false when one
/// is; rarely true when none is).
fn may_need_escape(word: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let zero_byte = |x: u64| x.wrapping_sub(ONES) & !x & HIGHS;
    let quote = zero_byte(word ^ (ONES * u64::from(b'"')));
    let backslash = zero_byte(word ^ (ONES * u64::from(b'\\')));
    let control = word.wrapping_sub(ONES * 0x20) & !word & HIGHS;
    quote | backslash | control != 0
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

/// Elasticsearch's audit timestamp, in UTC: `2020-12-30T22:30:06,949+0000`.
struct Timestamp([u8; 28]);

impl Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(std::str::from_utf8(&self.0).unwrap_or(""))
    }
}

fn timestamp(now: SystemTime) -> Timestamp {
    timestamp_of(millis(now))
}

/// Milliseconds since the epoch (0 before it).
fn millis(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_millis().try_into().unwrap_or(u64::MAX))
}

/// The timestamp of `millis` milliseconds since the epoch.
fn timestamp_of(millis: u64) -> Timestamp {
    thread_local! {
        /// The last second this thread formatted, and its text: events of the same second
        /// only write their milliseconds.
        static LAST: std::cell::Cell<(u64, [u8; 28])> = const { std::cell::Cell::new((u64::MAX, [0; 28])) };
    }
    let seconds = millis / 1000;
    let (cached, mut out) = LAST.with(std::cell::Cell::get);
    if cached != seconds {
        out = second_text(seconds);
        LAST.with(|last| last.set((seconds, out)));
    }
    put_digits(&mut out, 20, millis % 1000, 3);
    Timestamp(out)
}

/// `YYYY-MM-DDTHH:MM:SS,000+0000` for a second since the epoch.
fn second_text(seconds: u64) -> [u8; 28] {
    let (year, month, day) = civil_from_days((seconds / 86_400) as i64);
    let of_day = seconds % 86_400;
    let mut out = *b"0000-00-00T00:00:00,000+0000";
    put_digits(&mut out, 0, year.clamp(0, 9999) as u64, 4);
    put_digits(&mut out, 5, u64::from(month), 2);
    put_digits(&mut out, 8, u64::from(day), 2);
    put_digits(&mut out, 11, of_day / 3600, 2);
    put_digits(&mut out, 14, of_day / 60 % 60, 2);
    put_digits(&mut out, 17, of_day % 60, 2);
    out
}

/// Writes `value` as `width` decimal digits at `at`.
fn put_digits(out: &mut [u8; 28], at: usize, mut value: u64, width: usize) {
    for index in (at..at + width).rev() {
        out[index] = b'0' + (value % 10) as u8;
        value /= 10;
    }
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
        // The same second again: only the milliseconds are written anew.
        let later = timestamp(at + Duration::from_millis(2));
        assert_eq!(
            std::str::from_utf8(&later.0).unwrap(),
            "2020-12-30T22:30:06,951+0000"
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
    fn events_are_json_with_every_string_escaped() {
        let id = RequestIds::new().next();
        let roles = vec!["a\"b".to_owned(), "\u{1}\u{8}\u{c}\n\r\t\\/é€😀".to_owned()];
        let nasty = "quote\" backslash\\ nul\u{0} del\u{7f} \u{1f} \u{2028} end";
        let event = Event {
            kind: "audit",
            timestamp: timestamp(UNIX_EPOCH + Duration::from_millis(1_609_367_406_949)),
            node_name: Some(nasty),
            node_id: None,
            event_type: "transport",
            event_action: "access_granted",
            who: Who {
                authentication_type: Some("API_KEY"),
                user_name: Some("élise"),
                run_as_name: None,
                user_realm: Some("native1"),
                user_roles: Some(&roles),
                apikey_id: Some("id"),
                apikey_name: Some(nasty),
            },
            origin_type: "rest",
            origin_address: Some("10.0.255.7:65535".parse().unwrap()),
            realm: None,
            url_path: Some("/_security/_authenticate"),
            url_query: Some("a=%22&b"),
            request_method: None,
            request_id: &id,
            action: Some("cluster:admin/xpack/security/user/authenticate"),
            request_name: Some("AuthenticateRequest"),
            opaque_id: Some(""),
            x_forwarded_for: None,
            extra: &[],
        };
        let mut line = Vec::new();
        event.render(&mut line);
        let parsed: Value = serde_json::from_slice(&line).unwrap();
        let expected = serde_json::json!({
            "type": "audit", "timestamp": "2020-12-30T22:30:06,949+0000", "node.name": nasty,
            "event.type": "transport", "event.action": "access_granted",
            "authentication.type": "API_KEY", "user.name": "élise", "user.realm": "native1",
            "user.roles": roles, "apikey.id": "id", "apikey.name": nasty, "origin.type": "rest",
            "origin.address": "10.0.255.7:65535", "url.path": "/_security/_authenticate",
            "url.query": "a=%22&b", "request.id": id.as_str(),
            "action": "cluster:admin/xpack/security/user/authenticate",
            "request.name": "AuthenticateRequest", "opaque_id": ""
        });
        assert_eq!(parsed, expected);
        // Field order is Elasticsearch's, and the bytes are what serde_json itself writes.
        assert_eq!(line, serde_json::to_vec(&expected).unwrap());

        let mut v6 = Vec::new();
        Event {
            origin_address: Some("[::1]:9200".parse().unwrap()),
            who: Who {
                user_roles: None,
                ..event.who
            },
            ..event
        }
        .render(&mut v6);
        let parsed: Value = serde_json::from_slice(&v6).unwrap();
        assert_eq!(parsed["origin.address"], "[::1]:9200");
    }

    /// A subject named `name` (an API key's when `key` is set) with `roles`.
    fn subject(name: &str, key: Option<&str>, roles: &[&str]) -> Arc<Authentication> {
        use keyward_core::authz::{Permission, RolePermission};
        use keyward_core::role::RoleDescriptors;
        use keyward_service::{ApiKeyRef, Realm, User};
        let realm = |name: &str| {
            Arc::new(Realm {
                name: name.to_owned(),
                realm_type: "native".to_owned(),
            })
        };
        Arc::new(Authentication {
            user: Arc::new(User {
                username: name.to_owned(),
                roles: roles.iter().map(|role| (*role).to_owned()).collect(),
                full_name: None,
                email: None,
                metadata: serde_json::Map::new(),
                enabled: true,
            }),
            authentication_realm: realm(if key.is_some() {
                "_es_api_key"
            } else {
                "native1"
            }),
            lookup_realm: realm("native1"),
            owner_realm: realm("native1"),
            api_key: key.map(|id| ApiKeyRef {
                id: id.to_owned(),
                name: format!("key \"{id}\""),
                key_type: keyward_core::api_key::ApiKeyType::Rest,
                metadata: None,
            }),
            token: false,
            service_token: None,
            permission: Permission::Roles(Arc::new(RolePermission::new(RoleDescriptors(
                Vec::new(),
            )))),
        })
    }

    /// A deferred event rendered field by field, as [`Event::render`] writes any event.
    fn reference(event: &Deferred, node: &EventNode) -> String {
        let subject = &*event.subject;
        let event_type = if event.rest.is_some() {
            "rest"
        } else {
            "transport"
        };
        let mut reference = Event::common(
            node,
            event_type,
            event.kind.name(),
            timestamp_of(event.at),
            &event.request_id,
            event.origin,
        );
        reference.who = Who::of(subject, event.action.is_some());
        reference.opaque_id = event.opaque_id.as_deref();
        reference.x_forwarded_for = event.forwarded_for.as_deref();
        if let Some((action, request_name)) = event.action {
            reference.action = Some(action);
            reference.request_name = Some(request_name);
        }
        if let Some(rest) = &event.rest {
            reference.realm = Some(&subject.authentication_realm.name);
            reference.url_path = Some(&rest.path);
            reference.url_query = rest.query.as_deref();
            reference.request_method = Some(&rest.method);
        }
        let mut out = Vec::new();
        reference.render(&mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn deferred_events_render_the_same_bytes_as_field_by_field() {
        let ids = RequestIds::new();
        let subjects = [
            subject("élise", Some("k1"), &["a", "b\"c"]),
            subject("bob", None, &[]),
            subject("carol", None, &["superuser"]),
        ];
        for node in [
            EventNode {
                name: None,
                id: None,
            },
            EventNode {
                name: Some("node \"1\"".to_owned()),
                id: Some("id1".to_owned()),
            },
        ] {
            let mut cache = SubjectCache::new(WRITER_SUBJECTS);
            // Every subject with every kind, address and header combination.
            for index in 0..36 {
                let who = &subjects[index / 12];
                let origin = ["10.1.2.3:4", "[::1]:9200"]
                    .get(index / 3 % 3)
                    .map(|address| address.parse().unwrap());
                let headers = (index % 2 == 0).then_some("x\"y");
                let request = RequestInfo {
                    id: ids.next(),
                    origin,
                    opaque_id: headers,
                    forwarded_for: headers,
                    method: "POST",
                    path: "/_security/api_key",
                    query: (index % 4 == 0).then_some("refresh=true&a=%22"),
                };
                let kind = [
                    EventKind::AccessGranted,
                    EventKind::AccessDenied,
                    EventKind::AuthenticationSuccess,
                ][index % 3];
                let mut event = Deferred::new(kind, &request, who);
                if kind == EventKind::AuthenticationSuccess {
                    event.rest = Some(Box::new(RestLine {
                        method: request.method.into(),
                        path: request.path.into(),
                        query: request.query.map(Into::into),
                    }));
                } else {
                    event.action = Some((
                        "cluster:admin/xpack/security/api_key/create",
                        "CreateApiKeyRequest",
                    ));
                }
                let mut out = Vec::new();
                event.render(&node, &mut cache, &mut out);
                assert_eq!(String::from_utf8(out).unwrap(), reference(&event, &node));
            }
        }
    }

    #[test]
    fn the_subject_cache_never_gives_one_subject_anothers_fields() {
        const BITS: u32 = 6;
        let mut cache = SubjectCache::new(BITS);
        let node = EventNode {
            name: None,
            id: None,
        };
        let mut live = Vec::new();
        // More subjects than slots, created and dropped in turn so that new subjects are
        // allocated where old ones were.
        for round in 0..20 {
            for index in 0..((1 << BITS) * 3) {
                let name = format!("user-{round}-{index}");
                let who = subject(&name, (index % 2 == 0).then_some(name.as_str()), &[]);
                let head = cache.get(&who).head(EventKind::AccessGranted, &node);
                let text = String::from_utf8(head.to_vec()).unwrap();
                assert!(
                    text.contains(&format!("\"user.name\":\"{name}\"")),
                    "{text}"
                );
                if index % 5 == 0 {
                    live.push(who);
                }
            }
            for who in &live {
                let head = cache.get(who).head(EventKind::AuthenticationSuccess, &node);
                let text = String::from_utf8(head.to_vec()).unwrap();
                let name = &who.user.username;
                assert!(
                    text.contains(&format!("\"user.name\":\"{name}\"")),
                    "{text}"
                );
            }
            live.truncate(live.len() / 2);
        }
    }

    #[test]
    fn strings_are_escaped_byte_for_byte_like_serde_json() {
        let specials = [
            '"', '\\', '\n', '\u{0}', '\u{1f}', '\u{7f}', 'é', '😀', '/', 'a',
        ];
        for length in 0..20 {
            for (index, special) in specials.iter().enumerate() {
                for at in 0..=length {
                    let mut text: String = "abcdefghijklmnopqrstuvwxyz"[..length].to_owned();
                    text.insert(at, *special);
                    text.push(specials[(index + at) % specials.len()]);
                    let mut ours = Vec::new();
                    push_json_string(&mut ours, &text);
                    assert_eq!(ours, serde_json::to_vec(&text).unwrap(), "{text:?}");
                }
            }
        }
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
