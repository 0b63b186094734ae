//! The change feed: every write that can change an authentication or authorization result
//! sends a `NOTIFY` on [`CHANNEL`] inside its transaction (PostgreSQL delivers it at commit, to
//! every listening session of the database); one dedicated session per store `LISTEN`s and
//! forwards each notification as [`Notice::Change`] to the store's subscribers.
//!
//! Payload: a JSON object `{"n": node, "s": seq, "t": type, "v": [names]}`: `n` is this store's
//! random nonce and `s` its sequence number of the announcement, so a writer recognises its own
//! echo; `t` one of `api_keys`, `all_api_keys`, `users`, `all_users`, `roles`; `v` the ids or
//! user names for `api_keys` and `users`. A payload longer than [`MAX_PAYLOAD`] bytes is sent
//! as `all_api_keys` / `all_users` instead (PostgreSQL refuses payloads of 8000 bytes or more).
//!
//! Every other node acknowledges each change once its caches have applied it (its subscribers
//! dropped the notice's [`Applied`] token): `{"n": node, "t": "ack", "w": writer, "s": seq}`. A
//! writer waits, after its commit, for its own echo and for an acknowledgement from every other
//! node listening on the database, at most [`ECHO_WAIT`]: when it answers, the very next request
//! to any node sees the change. The listening nodes are counted after the commit, from
//! `pg_stat_activity` (sessions named [`LISTENER_NAME`]; a session takes that name only once its
//! `LISTEN` is in place), so every node that received the change is waited for, including one
//! that started a moment ago. A node that does not acknowledge in time (hung, or gone without
//! closing its session) only delays writes by that bound.
//!
//! The listener probes its session every `notify_keepalive` (the count of listening sessions,
//! failing after [`probe_timeout`]: as long again, at least [`MIN_PROBE_TIMEOUT`], so a busy
//! server is not taken for a dead one); on any failure it sends [`Notice::Lost`] once, reconnects
//! with backoff (up to [`MAX_BACKOFF`] between attempts), `LISTEN`s again and sends
//! [`Notice::Restored`]. A node thus learns of a broken feed within `notify_keepalive +
//! probe_timeout` (1.5 s with the default 500 ms), at once when the connection reports its end.
//!
//! The same session holds the advisory locks of [`Feed::lead`]: a node that loses it loses its
//! leads with it, as the server releases a session's locks when the session ends.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use keyward_store::{Applied, Change, Error, Notice};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio_postgres::{AsyncMessage, Client, Config, GenericClient, Notification};

use crate::error::PgResultExt;
use crate::tls::Tls;

/// The notification channel every keyward node of a database listens on.
pub(crate) const CHANNEL: &str = "keyward_changes";

/// The `application_name` of the listener's session.
pub const LISTENER_NAME: &str = "keyward-feed";

/// The longest payload sent as it is; PostgreSQL's limit is 8000 bytes.
pub(crate) const MAX_PAYLOAD: usize = 7_800;

/// How long a write waits for its own announcement to come back before it returns anyway (its
/// transaction is committed; a warning is logged).
pub(crate) const ECHO_WAIT: Duration = Duration::from_secs(2);

/// The longest wait between two attempts to reconnect the listener.
pub(crate) const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// The shortest time a probe of the listener session is given.
pub(crate) const MIN_PROBE_TIMEOUT: Duration = Duration::from_secs(1);

/// How long a probe of the listener session may take before the feed counts as lost.
pub(crate) fn probe_timeout(keepalive: Duration) -> Duration {
    keepalive.max(MIN_PROBE_TIMEOUT)
}

/// Notices a subscriber may fall behind by before it sees `Lagged`.
const NOTICE_CAPACITY: usize = 1024;

/// The state the store and its listener task share.
pub(crate) struct Feed {
    /// This store's random nonce, as hex.
    node: String,
    sequence: AtomicU64,
    notices: broadcast::Sender<Notice>,
    /// The writers waiting for their echo and the other nodes' acknowledgements, by sequence
    /// number.
    waiters: Mutex<HashMap<u64, Waiter>>,
    /// How many other nodes listen on the database, as the last probe counted them.
    peers: AtomicUsize,
    /// Whether the listener session is up.
    connected: AtomicBool,
    session: tokio::sync::Mutex<Session>,
}

/// A writer waiting for its change to be applied everywhere.
struct Waiter {
    /// Whether its own listener has seen the change.
    echoed: bool,
    /// The other nodes that acknowledged it.
    acknowledged: HashSet<String>,
    /// How many other nodes must acknowledge.
    needed: usize,
    done: Option<oneshot::Sender<()>>,
}

impl Waiter {
    /// Wakes the writer once its change is applied everywhere.
    fn settle(&mut self) {
        if self.echoed
            && self.acknowledged.len() >= self.needed
            && let Some(done) = self.done.take()
        {
            // The writer may have stopped waiting: nothing to do then.
            let _ = done.send(());
        }
    }
}

/// The listener session as the rest of the store uses it.
#[derive(Default)]
struct Session {
    client: Option<Arc<Client>>,
    /// The jobs this session holds the advisory lock of.
    held: HashSet<String>,
}

impl std::fmt::Debug for Feed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Feed")
            .field("node", &self.node)
            .field("connected", &self.connected.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl Feed {
    pub(crate) fn new() -> Result<Feed, Error> {
        let mut nonce = [0_u8; 8];
        getrandom::fill(&mut nonce)
            .map_err(|err| Error::Database(format!("no randomness for the node nonce: {err}")))?;
        let node = nonce.iter().map(|byte| format!("{byte:02x}")).collect();
        let (notices, _) = broadcast::channel(NOTICE_CAPACITY);
        Ok(Feed {
            node,
            sequence: AtomicU64::new(0),
            notices,
            waiters: Mutex::new(HashMap::new()),
            peers: AtomicUsize::new(0),
            connected: AtomicBool::new(false),
            session: tokio::sync::Mutex::new(Session::default()),
        })
    }

    /// A new subscription to the notices.
    pub(crate) fn subscribe(&self) -> broadcast::Receiver<Notice> {
        self.notices.subscribe()
    }

    /// Sends `change` from `client` (a transaction: it goes out at commit) and registers its
    /// echo, which the caller awaits after the commit.
    pub(crate) async fn notify(
        &self,
        client: &impl GenericClient,
        change: Change,
    ) -> Result<Echo<'_>, Error> {
        let sequence = self.sequence.fetch_add(1, Ordering::Relaxed);
        let payload = payload(&self.node, sequence, &change);
        let (sender, receiver) = oneshot::channel();
        if let Ok(mut waiters) = self.waiters.lock() {
            waiters.insert(
                sequence,
                Waiter {
                    echoed: false,
                    acknowledged: HashSet::new(),
                    // Known once the writer counted the listening nodes after its commit.
                    needed: usize::MAX,
                    done: Some(sender),
                },
            );
        }
        let echo = Echo {
            feed: self,
            sequence,
            receiver: Some(receiver),
        };
        client
            .execute("SELECT pg_notify($1, $2)", &[&CHANNEL, &payload])
            .await
            .pg()?;
        Ok(echo)
    }

    /// Whether this store leads `job`, taking the lead (a session advisory lock on the listener
    /// session) when nobody holds it.
    pub(crate) async fn lead(&self, job: &str) -> Result<bool, Error> {
        let mut session = self.session.lock().await;
        if session.held.contains(job) {
            return Ok(true);
        }
        // Without the listener session there is no lock to hold: another node may lead.
        let Some(client) = session.client.clone() else {
            return Ok(false);
        };
        let row = client
            .query_one("SELECT pg_try_advisory_lock($1)", &[&lock_key(job)])
            .await
            .pg()?;
        let taken: bool = row
            .try_get(0)
            .map_err(|err| Error::Database(err.to_string()))?;
        if taken {
            session.held.insert(job.to_owned());
        }
        Ok(taken)
    }

    /// Handles one notification received by the listener.
    fn receive(&self, notification: &Notification) {
        match parse_payload(notification.payload()) {
            Some(Message::Change {
                node,
                sequence,
                change,
            }) => {
                if node == self.node {
                    // Subscribers first: when a writer's wait ends, its own change is in the
                    // feed. No subscriber is not an error.
                    let _ = self.notices.send(Notice::Change(change, Applied::none()));
                    self.settle(sequence, |waiter| waiter.echoed = true);
                } else {
                    let applied = self.acknowledgement(node, sequence);
                    // Without a subscriber the notice (and its token) is dropped here: applied,
                    // as far as this node goes.
                    let _ = self.notices.send(Notice::Change(change, applied));
                }
            }
            Some(Message::Ack {
                node,
                writer,
                sequence,
            }) => {
                if writer == self.node {
                    self.settle(sequence, |waiter| {
                        waiter.acknowledged.insert(node);
                    });
                }
            }
            None => tracing::warn!(
                channel = CHANNEL,
                "ignored a change notification keyward cannot read"
            ),
        }
    }

    /// Updates the waiter of `sequence`, if it still waits, and wakes it when it is done.
    fn settle(&self, sequence: u64, update: impl FnOnce(&mut Waiter)) {
        if let Ok(mut waiters) = self.waiters.lock()
            && let Some(waiter) = waiters.get_mut(&sequence)
        {
            update(waiter);
            waiter.settle();
        }
    }

    /// The token whose last drop tells `writer` that this node applied its change `sequence`.
    fn acknowledgement(&self, writer: String, sequence: u64) -> Applied {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return Applied::none();
        };
        let client = match self.session.try_lock() {
            Ok(session) => session.client.clone(),
            // The session is being replaced: the writer's wait is bounded.
            Err(_) => None,
        };
        let Some(client) = client else {
            return Applied::none();
        };
        let payload = ack_payload(&self.node, &writer, sequence);
        Applied::on_drop(move || {
            runtime.spawn(async move {
                if let Err(err) = client
                    .execute("SELECT pg_notify($1, $2)", &[&CHANNEL, &payload])
                    .await
                {
                    tracing::debug!(error = %err, "cannot acknowledge a change");
                }
            });
        })
    }

    /// Records how many other nodes listen on the database.
    fn set_peers(&self, peers: usize) {
        self.peers.store(peers, Ordering::Release);
    }

    /// How many other nodes listen on the database now, asked on the listener's session; the
    /// last probe's count when the question fails.
    async fn count_peers(&self, deadline: tokio::time::Instant) -> usize {
        let client = self.session.lock().await.client.clone();
        if let Some(client) = client
            && let Ok(Ok(row)) =
                tokio::time::timeout_at(deadline, client.query_one(PEERS, &[&LISTENER_NAME])).await
            && let Ok(listening) = row.try_get::<_, i64>(0)
        {
            // This node's own listener is one of them.
            return usize::try_from(listening.saturating_sub(1)).unwrap_or(0);
        }
        self.peers.load(Ordering::Acquire)
    }
}

/// A registered announcement, awaited after its transaction commits.
pub(crate) struct Echo<'a> {
    feed: &'a Feed,
    sequence: u64,
    receiver: Option<oneshot::Receiver<()>>,
}

impl Echo<'_> {
    /// Waits until the announcement came back to this store's listener and every other node
    /// listening on the database acknowledged it, at most [`ECHO_WAIT`]; at once when the
    /// listener is down (its notice `Lost` covers the write).
    pub(crate) async fn wait(mut self) {
        let Some(receiver) = self.receiver.take() else {
            return;
        };
        if !self.feed.connected.load(Ordering::Acquire) {
            return;
        }
        // Counted after the commit: every node listening when the change went out is counted
        // (one that starts listening after it may be counted too, and only delays this write).
        let deadline = tokio::time::Instant::now() + ECHO_WAIT;
        let peers = self.feed.count_peers(deadline).await;
        self.feed
            .settle(self.sequence, |waiter| waiter.needed = peers);
        if tokio::time::timeout_at(deadline, receiver).await.is_err() {
            tracing::warn!(
                wait_ms = ECHO_WAIT.as_millis() as u64,
                "a committed change did not come back on the change feed in time; \
                 other nodes may learn of it late"
            );
        }
    }
}

impl Drop for Echo<'_> {
    fn drop(&mut self) {
        if let Ok(mut waiters) = self.feed.waiters.lock() {
            waiters.remove(&self.sequence);
        }
    }
}

impl std::fmt::Debug for Echo<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Echo")
            .field("sequence", &self.sequence)
            .finish_non_exhaustive()
    }
}

/// A task aborted when this handle is dropped.
#[derive(Debug)]
pub(crate) struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A listening session: the client, its notifications, and the task driving its connection.
pub(crate) struct Listener {
    client: Arc<Client>,
    notifications: mpsc::UnboundedReceiver<Notification>,
    _driver: AbortOnDrop,
}

impl std::fmt::Debug for Listener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Listener").finish_non_exhaustive()
    }
}

/// Opens a listening session.
pub(crate) async fn listen(config: &Config, tls: &Tls) -> Result<Listener, Error> {
    let (client, notifications, driver) = tls.connect(config).await?;
    let listener = Listener {
        client: Arc::new(client),
        notifications,
        _driver: driver,
    };
    // Named apart from the pooled sessions, so an operator can tell it in `pg_stat_activity`,
    // and only once it listens: writers wait for every session of that name.
    listener
        .client
        .batch_execute(&format!(
            "LISTEN {CHANNEL}; SET application_name = '{LISTENER_NAME}'"
        ))
        .await
        .pg()?;
    Ok(listener)
}

/// Drives a session's connection on a task of its own, forwarding its notifications, until the
/// connection ends or the returned handle is dropped.
pub(crate) fn drive<S, T>(
    mut connection: tokio_postgres::Connection<S, T>,
) -> (mpsc::UnboundedReceiver<Notification>, AbortOnDrop)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (sender, notifications) = mpsc::unbounded_channel();
    let driver = tokio::spawn(async move {
        while let Some(message) = std::future::poll_fn(|cx| connection.poll_message(cx)).await {
            match message {
                Ok(AsyncMessage::Notification(notification)) => {
                    if sender.send(notification).is_err() {
                        break;
                    }
                }
                Ok(_) => {}
                Err(err) => {
                    tracing::debug!(error = %err, "the change feed session ended");
                    break;
                }
            }
        }
    });
    (notifications, AbortOnDrop(driver))
}

/// Starts the listener task on an open session; dropping the handle stops it and closes the
/// session.
pub(crate) fn spawn_listener(
    feed: Arc<Feed>,
    listener: Listener,
    config: Config,
    tls: Tls,
    keepalive: Duration,
) -> AbortOnDrop {
    AbortOnDrop(tokio::spawn(run_listener(
        feed, listener, config, tls, keepalive,
    )))
}

async fn run_listener(
    feed: Arc<Feed>,
    listener: Listener,
    config: Config,
    tls: Tls,
    keepalive: Duration,
) {
    let keepalive = keepalive.max(Duration::from_millis(10));
    let mut next = Some(listener);
    let mut restored = false;
    let mut backoff = Duration::from_millis(50);
    loop {
        if let Some(listener) = next.take() {
            backoff = Duration::from_millis(50);
            serve(&feed, listener, keepalive, restored).await;
            // The session is gone, and with it this node's leads and its notifications.
            feed.connected.store(false, Ordering::Release);
            *feed.session.lock().await = Session::default();
            let _ = feed.notices.send(Notice::Lost);
            tracing::warn!("the change feed is lost; reconnecting");
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
        match listen(&config, &tls).await {
            Ok(listener) => {
                tracing::info!("the change feed is restored");
                next = Some(listener);
                restored = true;
            }
            Err(err) => tracing::debug!(error = %err, "the change feed cannot reconnect yet"),
        }
    }
}

/// Forwards the notifications of one session until it fails.
/// Sends `Restored` once the session is in place when it replaces a lost one.
async fn serve(feed: &Feed, mut listener: Listener, keepalive: Duration, restored: bool) {
    {
        let mut session = feed.session.lock().await;
        session.client = Some(Arc::clone(&listener.client));
        session.held.clear();
    }
    feed.connected.store(true, Ordering::Release);
    if restored {
        let _ = feed.notices.send(Notice::Restored);
    }
    let mut ticks = tokio::time::interval(keepalive);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The first tick is at once: the session is probed, and the other nodes counted, right away.
    loop {
        tokio::select! {
            received = listener.notifications.recv() => match received {
                Some(notification) => feed.receive(&notification),
                None => return,
            },
            _ = ticks.tick() => {
                // The probe counts the listening nodes too: a writer waits for the others.
                let probe = listener.client.query_one(PEERS, &[&LISTENER_NAME]);
                match tokio::time::timeout(probe_timeout(keepalive), probe).await {
                    Ok(Ok(row)) => {
                        let listening: i64 = row.try_get(0).unwrap_or(1);
                        feed.set_peers(usize::try_from(listening.saturating_sub(1)).unwrap_or(0));
                    }
                    Ok(Err(err)) => {
                        tracing::debug!(error = %err, "the change feed probe failed");
                        return;
                    }
                    Err(_) => {
                        tracing::debug!("the change feed probe timed out");
                        return;
                    }
                }
            }
        }
    }
}

/// The payload announcing `change`; see the module documentation.
pub(crate) fn payload(node: &str, sequence: u64, change: &Change) -> String {
    let encode = |kind: &str, names: Option<&Vec<String>>| {
        let mut object = json!({"n": node, "s": sequence, "t": kind});
        if let (Some(names), Value::Object(map)) = (names, &mut object) {
            map.insert("v".to_owned(), json!(names));
        }
        object.to_string()
    };
    let text = match change {
        Change::ApiKeys(ids) => encode("api_keys", Some(ids)),
        Change::AllApiKeys => encode("all_api_keys", None),
        Change::Users(names) => encode("users", Some(names)),
        Change::AllUsers => encode("all_users", None),
        Change::Roles => encode("roles", None),
        Change::ServiceTokens => encode("service_tokens", None),
    };
    if text.len() <= MAX_PAYLOAD {
        return text;
    }
    match change {
        Change::ApiKeys(_) => encode("all_api_keys", None),
        Change::Users(_) => encode("all_users", None),
        Change::AllApiKeys | Change::AllUsers | Change::Roles | Change::ServiceTokens => text,
    }
}

/// The query counting the sessions listening on this database, this one included.
const PEERS: &str = "SELECT count(*) FROM pg_stat_activity \
                     WHERE datname = current_database() AND application_name = $1";

/// The payload by which `node` acknowledges `writer`'s change `sequence`.
pub(crate) fn ack_payload(node: &str, writer: &str, sequence: u64) -> String {
    json!({"n": node, "t": "ack", "w": writer, "s": sequence}).to_string()
}

/// A notification on the channel.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Message {
    /// `node` committed `change`, its announcement `sequence`.
    Change {
        node: String,
        sequence: u64,
        change: Change,
    },
    /// `node` applied `writer`'s change `sequence`.
    Ack {
        node: String,
        writer: String,
        sequence: u64,
    },
}

/// What a payload says.
pub(crate) fn parse_payload(text: &str) -> Option<Message> {
    let value: Value = serde_json::from_str(text).ok()?;
    let node = value.get("n")?.as_str()?.to_owned();
    let sequence = value.get("s")?.as_u64()?;
    if value.get("t")?.as_str()? == "ack" {
        let writer = value.get("w")?.as_str()?.to_owned();
        return Some(Message::Ack {
            node,
            writer,
            sequence,
        });
    }
    let names = || -> Option<Vec<String>> {
        value
            .get("v")?
            .as_array()?
            .iter()
            .map(|name| name.as_str().map(str::to_owned))
            .collect()
    };
    let change = match value.get("t")?.as_str()? {
        "api_keys" => Change::ApiKeys(names()?),
        "all_api_keys" => Change::AllApiKeys,
        "users" => Change::Users(names()?),
        "all_users" => Change::AllUsers,
        "roles" => Change::Roles,
        "service_tokens" => Change::ServiceTokens,
        _ => return None,
    };
    Some(Message::Change {
        node,
        sequence,
        change,
    })
}

/// The advisory lock key of a job: the first 8 bytes of a digest of its name, so every node
/// computes the same key.
fn lock_key(job: &str) -> i64 {
    let digest = Sha256::digest(format!("keyward-lead:{job}").as_bytes());
    let mut bytes = [0_u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_round_trip() {
        for change in [
            Change::ApiKeys(vec!["a".to_owned(), "b\"c".to_owned()]),
            Change::AllApiKeys,
            Change::Users(vec!["ü".to_owned()]),
            Change::AllUsers,
            Change::Roles,
            Change::ServiceTokens,
        ] {
            let text = payload("00ff", 7, &change);
            assert_eq!(
                parse_payload(&text),
                Some(Message::Change {
                    node: "00ff".to_owned(),
                    sequence: 7,
                    change: change.clone()
                })
            );
        }
        assert_eq!(
            parse_payload(&ack_payload("aa", "00ff", 7)),
            Some(Message::Ack {
                node: "aa".to_owned(),
                writer: "00ff".to_owned(),
                sequence: 7
            })
        );
        assert_eq!(parse_payload("{}"), None);
        assert_eq!(parse_payload("not json"), None);
    }

    #[test]
    fn large_changes_are_sent_as_everything() {
        let ids: Vec<String> = (0..1000).map(|n| format!("{n:020}")).collect();
        let text = payload("00ff", 1, &Change::ApiKeys(ids));
        assert!(text.len() <= MAX_PAYLOAD);
        assert!(matches!(
            parse_payload(&text),
            Some(Message::Change {
                change: Change::AllApiKeys,
                ..
            })
        ));
        let names: Vec<String> = (0..1000).map(|n| format!("user-{n:020}")).collect();
        let text = payload("00ff", 1, &Change::Users(names));
        assert!(matches!(
            parse_payload(&text),
            Some(Message::Change {
                change: Change::AllUsers,
                ..
            })
        ));
    }
}
