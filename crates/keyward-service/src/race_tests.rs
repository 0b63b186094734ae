//! The races a hostile or unlucky client can provoke around the caches: a request dropped in the
//! middle of a write, a change landing while a password is being verified, and two changes to
//! one user at once, and changes other nodes sharing the store announce (or fail to, when the
//! change feed is lost). Each test runs the service over a store that can hold its operations back,
//! so the interleaving is forced rather than hoped for.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use keyward_core::EpochMillis;
use keyward_core::credential::parse_authorization;
use keyward_core::query::ApiKeyQuery;
use keyward_store::{
    ApiKeyCursor, ApiKeyFilter, ApiKeyRecord, AppPrivilegeRecord, Applied, Change, EmbeddedStore,
    EmbeddedStoreOptions, Error as StoreError, Notice, QueryPage, RoleMappingRecord, RoleRecord,
    Store, TokenInvalidation, TokenRecord, TokenSelector, UpdateOutcome, UserChange, UserRecord,
};
use tokio::sync::{Notify, Semaphore, broadcast};
use zeroize::Zeroizing;

use crate::{
    Authentication, BootstrapPassword, CreateApiKey, InvalidateApiKeys, NewPassword, PutUser,
    SecurityService, ServiceConfig, SystemClock,
};

/// An embedded store whose writes can be made to answer late (after they are committed) and
/// whose user reads can be held at a gate after reading.
struct SlowStore {
    inner: EmbeddedStore,
    /// How long a write waits, once committed, before it answers.
    write_delay: Mutex<Duration>,
    /// When set, every user read waits here, after reading, for a permit.
    user_gate: Mutex<Option<Arc<Semaphore>>>,
    /// Signalled when a user read reaches the gate.
    at_gate: Notify,
    /// The change feed, as a store shared with other nodes has: the tests play the other nodes.
    feed: broadcast::Sender<Notice>,
    /// How many times a key was read from the store (authentications the cache did not answer).
    key_reads: AtomicUsize,
    /// How many times the store's metadata was read (readiness checks).
    meta_reads: AtomicUsize,
}

impl SlowStore {
    async fn answer_late(&self) {
        let delay = *self.write_delay.lock().unwrap();
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
    }
}

#[async_trait]
impl Store for SlowStore {
    async fn create_api_key(&self, record: ApiKeyRecord) -> Result<(), StoreError> {
        self.inner.create_api_key(record).await
    }
    async fn api_key(&self, id: &str) -> Result<Option<ApiKeyRecord>, StoreError> {
        self.key_reads.fetch_add(1, Ordering::SeqCst);
        self.inner.api_key(id).await
    }
    async fn find_api_keys(&self, filter: &ApiKeyFilter) -> Result<Vec<ApiKeyRecord>, StoreError> {
        self.inner.find_api_keys(filter).await
    }
    async fn query_api_keys(&self, query: &ApiKeyQuery) -> Result<QueryPage, StoreError> {
        self.inner.query_api_keys(query).await
    }
    async fn find_api_keys_page(
        &self,
        filter: &ApiKeyFilter,
        after: Option<&ApiKeyCursor>,
        limit: usize,
    ) -> Result<Vec<ApiKeyRecord>, StoreError> {
        self.inner.find_api_keys_page(filter, after, limit).await
    }
    async fn api_keys_after(
        &self,
        query: &keyward_core::query::Query,
        after_id: Option<&str>,
        limit: usize,
    ) -> Result<Vec<ApiKeyRecord>, StoreError> {
        self.inner.api_keys_after(query, after_id, limit).await
    }
    async fn count_api_keys_by(
        &self,
        query: &keyward_core::query::Query,
        field: &keyward_core::query::ApiKeyField,
        limit: usize,
        with_missing: bool,
    ) -> Result<keyward_store::FieldCounts, StoreError> {
        self.inner
            .count_api_keys_by(query, field, limit, with_missing)
            .await
    }
    async fn update_api_keys(
        &self,
        records: Vec<ApiKeyRecord>,
    ) -> Result<Vec<UpdateOutcome>, StoreError> {
        let outcome = self.inner.update_api_keys(records).await;
        self.answer_late().await;
        outcome
    }
    async fn invalidate_api_keys(
        &self,
        ids: &[String],
        now: EpochMillis,
    ) -> Result<Vec<String>, StoreError> {
        let outcome = self.inner.invalidate_api_keys(ids, now).await;
        self.answer_late().await;
        outcome
    }
    async fn delete_inactive_api_keys(
        &self,
        cutoff: EpochMillis,
        limit: u64,
    ) -> Result<u64, StoreError> {
        self.inner.delete_inactive_api_keys(cutoff, limit).await
    }
    async fn import_api_keys(&self, records: Vec<ApiKeyRecord>) -> Result<(), StoreError> {
        self.inner.import_api_keys(records).await
    }
    async fn user(&self, username: &str) -> Result<Option<UserRecord>, StoreError> {
        let read = self.inner.user(username).await;
        let gate = self.user_gate.lock().unwrap().clone();
        if let Some(gate) = gate {
            self.at_gate.notify_one();
            gate.acquire().await.unwrap().forget();
        }
        read
    }
    async fn put_user(&self, user: UserRecord) -> Result<bool, StoreError> {
        let outcome = self.inner.put_user(user).await;
        self.answer_late().await;
        outcome
    }
    async fn update_user_keeping_password(&self, user: UserRecord) -> Result<bool, StoreError> {
        let outcome = self.inner.update_user_keeping_password(user).await;
        self.answer_late().await;
        outcome
    }
    async fn change_user(
        &self,
        username: &str,
        change: UserChange,
        missing: Option<UserRecord>,
    ) -> Result<bool, StoreError> {
        let outcome = self.inner.change_user(username, change, missing).await;
        self.answer_late().await;
        outcome
    }
    async fn users(&self, names: Option<&[String]>) -> Result<Vec<UserRecord>, StoreError> {
        self.inner.users(names).await
    }
    async fn delete_user(&self, username: &str) -> Result<bool, StoreError> {
        let outcome = self.inner.delete_user(username).await;
        self.answer_late().await;
        outcome
    }
    async fn role(&self, name: &str) -> Result<Option<RoleRecord>, StoreError> {
        self.inner.role(name).await
    }
    async fn roles(&self, names: Option<&[String]>) -> Result<Vec<RoleRecord>, StoreError> {
        self.inner.roles(names).await
    }
    async fn put_role(&self, role: RoleRecord) -> Result<bool, StoreError> {
        let outcome = self.inner.put_role(role).await;
        self.answer_late().await;
        outcome
    }
    async fn delete_role(&self, name: &str) -> Result<bool, StoreError> {
        let outcome = self.inner.delete_role(name).await;
        self.answer_late().await;
        outcome
    }
    async fn role_mappings(
        &self,
        names: Option<&[String]>,
    ) -> Result<Vec<RoleMappingRecord>, StoreError> {
        self.inner.role_mappings(names).await
    }
    async fn put_role_mapping(&self, mapping: RoleMappingRecord) -> Result<bool, StoreError> {
        self.inner.put_role_mapping(mapping).await
    }
    async fn delete_role_mapping(&self, name: &str) -> Result<bool, StoreError> {
        self.inner.delete_role_mapping(name).await
    }
    async fn put_app_privileges(
        &self,
        privileges: Vec<AppPrivilegeRecord>,
    ) -> Result<Vec<(String, String, bool)>, StoreError> {
        self.inner.put_app_privileges(privileges).await
    }
    async fn app_privileges(
        &self,
        application: Option<&str>,
        names: Option<&[String]>,
    ) -> Result<Vec<AppPrivilegeRecord>, StoreError> {
        self.inner.app_privileges(application, names).await
    }
    async fn delete_app_privileges(
        &self,
        application: &str,
        names: &[String],
    ) -> Result<Vec<String>, StoreError> {
        self.inner.delete_app_privileges(application, names).await
    }
    async fn create_token(&self, record: TokenRecord) -> Result<(), StoreError> {
        self.inner.create_token(record).await
    }
    async fn token(&self, access_hash: &str) -> Result<Option<TokenRecord>, StoreError> {
        self.inner.token(access_hash).await
    }
    async fn token_by_refresh(
        &self,
        refresh_hash: &str,
    ) -> Result<Option<TokenRecord>, StoreError> {
        self.inner.token_by_refresh(refresh_hash).await
    }
    async fn refresh_token(
        &self,
        refresh_hash: &str,
        seq: i64,
        replacement: TokenRecord,
    ) -> Result<UpdateOutcome, StoreError> {
        self.inner
            .refresh_token(refresh_hash, seq, replacement)
            .await
    }
    async fn invalidate_tokens(
        &self,
        selector: &TokenSelector,
    ) -> Result<TokenInvalidation, StoreError> {
        self.inner.invalidate_tokens(selector).await
    }
    async fn delete_tokens_created_before(&self, cutoff: EpochMillis) -> Result<u64, StoreError> {
        self.inner.delete_tokens_created_before(cutoff).await
    }
    async fn create_service_token(
        &self,
        record: keyward_store::ServiceTokenRecord,
    ) -> Result<(), StoreError> {
        self.inner.create_service_token(record).await
    }
    async fn service_token(
        &self,
        account: &str,
        name: &str,
    ) -> Result<Option<keyward_store::ServiceTokenRecord>, StoreError> {
        self.inner.service_token(account, name).await
    }
    async fn service_tokens(
        &self,
        account: &str,
    ) -> Result<Vec<keyward_store::ServiceTokenRecord>, StoreError> {
        self.inner.service_tokens(account).await
    }
    async fn delete_service_token(&self, account: &str, name: &str) -> Result<bool, StoreError> {
        self.inner.delete_service_token(account, name).await
    }
    async fn create_profile(&self, record: keyward_store::ProfileRecord) -> Result<(), StoreError> {
        self.inner.create_profile(record).await
    }
    async fn profiles(
        &self,
        uids: &[String],
    ) -> Result<Vec<keyward_store::ProfileRecord>, StoreError> {
        self.inner.profiles(uids).await
    }
    async fn profiles_of_users(
        &self,
        usernames: &[String],
    ) -> Result<Vec<keyward_store::ProfileRecord>, StoreError> {
        self.inner.profiles_of_users(usernames).await
    }
    async fn profiles_page(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<keyward_store::ProfileRecord>, StoreError> {
        self.inner.profiles_page(after, limit).await
    }
    async fn update_profile(
        &self,
        record: keyward_store::ProfileRecord,
    ) -> Result<UpdateOutcome, StoreError> {
        self.inner.update_profile(record).await
    }
    async fn meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.meta_reads.fetch_add(1, Ordering::SeqCst);
        self.inner.meta(key).await
    }
    async fn meta_put(&self, key: &str, value: &str) -> Result<(), StoreError> {
        self.inner.meta_put(key, value).await
    }
    async fn meta_init(&self, key: &str, value: &str) -> Result<String, StoreError> {
        self.inner.meta_init(key, value).await
    }
    fn changes(&self) -> Option<broadcast::Receiver<Notice>> {
        Some(self.feed.subscribe())
    }
}

/// A service over a [`SlowStore`] in a fresh directory, with `elastic` (password `changeme`)
/// authenticated as the returned admin subject.
struct Fixture {
    service: SecurityService,
    store: Arc<SlowStore>,
    admin: Arc<Authentication>,
    _dir: tempfile::TempDir,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let inner = EmbeddedStore::open(EmbeddedStoreOptions::new(dir.path().to_path_buf())).unwrap();
    let store = Arc::new(SlowStore {
        inner,
        write_delay: Mutex::new(Duration::ZERO),
        user_gate: Mutex::new(None),
        at_gate: Notify::new(),
        feed: broadcast::channel(64).0,
        key_reads: AtomicUsize::new(0),
        meta_reads: AtomicUsize::new(0),
    });
    let service = SecurityService::new(
        Arc::clone(&store) as Arc<dyn Store>,
        ServiceConfig::default(),
        Arc::new(SystemClock),
    );
    service
        .bootstrap(BootstrapPassword::Given(Zeroizing::new(
            "changeme".to_owned(),
        )))
        .await
        .unwrap();
    let admin = basic(&service, "elastic", "changeme").await.unwrap();
    Fixture {
        service,
        store,
        admin,
        _dir: dir,
    }
}

async fn basic(
    service: &SecurityService,
    username: &str,
    password: &str,
) -> Result<Arc<Authentication>, crate::AuthenticationFailure> {
    let encoded = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        format!("{username}:{password}"),
    );
    let credential = parse_authorization(format!("Basic {encoded}").as_bytes()).unwrap();
    service.authenticate(credential).await
}

async fn api_key(
    service: &SecurityService,
    encoded: &str,
) -> Result<Arc<Authentication>, crate::AuthenticationFailure> {
    let credential = parse_authorization(format!("ApiKey {encoded}").as_bytes()).unwrap();
    service.authenticate(credential).await
}

async fn put_joe(fixture: &Fixture) {
    let request = PutUser {
        username: "joe".to_owned(),
        password: Some(NewPassword::Clear(Zeroizing::new(
            "joe-password".to_owned(),
        ))),
        roles: Some(vec!["superuser".to_owned()]),
        ..PutUser::default()
    };
    fixture
        .service
        .put_user(&fixture.admin, request)
        .await
        .unwrap();
}

/// Waits (boundedly) until `check` holds.
async fn eventually(what: &str, mut check: impl AsyncFnMut() -> bool) {
    for _ in 0..100 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{what}: still not so after two seconds");
}

#[tokio::test]
async fn an_invalidation_dropped_mid_write_still_evicts_the_key() {
    let fixture = fixture().await;
    let service = &fixture.service;
    let request = CreateApiKey {
        name: Some("doomed".to_owned()),
        ..CreateApiKey::default()
    };
    let created = service
        .create_api_key(&fixture.admin, request)
        .await
        .unwrap();
    let encoded = created.encoded.to_string();
    assert!(
        api_key(service, &encoded).await.is_ok(),
        "cached after create"
    );

    // The client hangs up while the store is committing: the request's future is dropped.
    *fixture.store.write_delay.lock().unwrap() = Duration::from_millis(300);
    let request = InvalidateApiKeys {
        ids: Some(vec![created.id.as_str().to_owned()]),
        ..InvalidateApiKeys::default()
    };
    let dropped = tokio::time::timeout(
        Duration::from_millis(50),
        service.invalidate_api_keys(&fixture.admin, request),
    )
    .await;
    assert!(dropped.is_err(), "the request was cut off mid-write");

    eventually("the invalidated key is refused", async || {
        api_key(service, &encoded).await.is_err()
    })
    .await;
}

#[tokio::test]
async fn a_disable_dropped_mid_write_still_evicts_the_user() {
    let fixture = fixture().await;
    put_joe(&fixture).await;
    assert!(basic(&fixture.service, "joe", "joe-password").await.is_ok());

    *fixture.store.write_delay.lock().unwrap() = Duration::from_millis(300);
    let dropped = tokio::time::timeout(
        Duration::from_millis(50),
        fixture
            .service
            .set_user_enabled(&fixture.admin, "joe", false),
    )
    .await;
    assert!(dropped.is_err(), "the request was cut off mid-write");

    eventually("the disabled user is refused", async || {
        basic(&fixture.service, "joe", "joe-password")
            .await
            .is_err()
    })
    .await;
}

#[tokio::test]
async fn a_disable_during_password_verification_wins() {
    let fixture = fixture().await;
    put_joe(&fixture).await;
    // Nothing cached for joe: the next Basic login reads the store and verifies the hash.
    fixture.service.inner.users.clear();

    let gate = Arc::new(Semaphore::new(0));
    *fixture.store.user_gate.lock().unwrap() = Some(Arc::clone(&gate));
    let login = tokio::spawn({
        let service = fixture.service.clone();
        async move { basic(&service, "joe", "joe-password").await.is_ok() }
    });
    // The login has read joe (enabled) and is about to verify; now joe is disabled.
    fixture.store.at_gate.notified().await;
    *fixture.store.user_gate.lock().unwrap() = None;
    fixture
        .service
        .set_user_enabled(&fixture.admin, "joe", false)
        .await
        .unwrap();
    gate.add_permits(1);
    // The login in flight may succeed (it started before the disable), but must not be cached.
    let _ = login.await.unwrap();

    assert!(
        basic(&fixture.service, "joe", "joe-password")
            .await
            .is_err(),
        "a disabled user authenticated from a verification that started before the disable"
    );
}

#[tokio::test]
async fn a_password_change_and_a_disable_at_once_both_hold() {
    let fixture = fixture().await;
    put_joe(&fixture).await;

    // The password change reads joe, then waits; the disable lands meanwhile.
    let gate = Arc::new(Semaphore::new(0));
    *fixture.store.user_gate.lock().unwrap() = Some(Arc::clone(&gate));
    let change = tokio::spawn({
        let service = fixture.service.clone();
        let admin = Arc::clone(&fixture.admin);
        async move {
            let password = NewPassword::Clear(Zeroizing::new("new-password".to_owned()));
            service.change_password(&admin, Some("joe"), password).await
        }
    });
    fixture.store.at_gate.notified().await;
    *fixture.store.user_gate.lock().unwrap() = None;
    fixture
        .service
        .set_user_enabled(&fixture.admin, "joe", false)
        .await
        .unwrap();
    gate.add_permits(1);
    change.await.unwrap().unwrap();

    let stored = fixture.store.inner.user("joe").await.unwrap().unwrap();
    assert!(
        !stored.enabled,
        "the disable was undone by the password change"
    );
    fixture
        .service
        .set_user_enabled(&fixture.admin, "joe", true)
        .await
        .unwrap();
    assert!(
        basic(&fixture.service, "joe", "new-password").await.is_ok(),
        "the new password holds"
    );
    assert!(
        basic(&fixture.service, "joe", "joe-password")
            .await
            .is_err()
    );
}

/// Sends `notice` as another node's store would, and lets the service's follower take it.
async fn announce(fixture: &Fixture, notice: Notice) {
    fixture.store.feed.send(notice).unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
}

async fn created_key(fixture: &Fixture) -> (String, String) {
    let created = fixture
        .service
        .create_api_key(
            &fixture.admin,
            CreateApiKey {
                name: Some("shared".to_owned()),
                ..CreateApiKey::default()
            },
        )
        .await
        .unwrap();
    (created.id.to_string(), created.encoded.to_string())
}

#[tokio::test]
async fn another_nodes_invalidation_evicts_the_cached_key() {
    let fixture = fixture().await;
    let (id, encoded) = created_key(&fixture).await;
    assert!(api_key(&fixture.service, &encoded).await.is_ok());
    // Another node invalidates it: without word of it, this node's cache still answers.
    fixture
        .store
        .inner
        .invalidate_api_keys(std::slice::from_ref(&id), 1)
        .await
        .unwrap();
    assert!(
        api_key(&fixture.service, &encoded).await.is_ok(),
        "cached, unaware"
    );
    // The writer waits for this node's acknowledgement: it comes once the change is applied.
    let acknowledged = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = Arc::clone(&acknowledged);
    let applied = Applied::on_drop(move || flag.store(true, Ordering::SeqCst));
    announce(
        &fixture,
        Notice::Change(Change::ApiKeys(vec![id.clone()]), applied),
    )
    .await;
    assert!(
        acknowledged.load(Ordering::SeqCst),
        "acknowledged once applied"
    );
    let refused = api_key(&fixture.service, &encoded).await.unwrap_err();
    assert_eq!(
        refused.to_string(),
        format!("API key: api key [{id}] has been invalidated")
    );
}

#[tokio::test]
async fn another_nodes_password_change_evicts_the_cached_user() {
    let fixture = fixture().await;
    put_joe(&fixture).await;
    assert!(basic(&fixture.service, "joe", "joe-password").await.is_ok());
    let change = UserChange {
        password_hash: Some(keyward_core::hash::hash_secret(
            keyward_core::hash::HashAlgorithm::Bcrypt { cost: 4 },
            b"new-password",
            &mut crate::OsRandom,
        )),
        enabled: None,
    };
    fixture
        .store
        .inner
        .change_user("joe", change, None)
        .await
        .unwrap();
    assert!(basic(&fixture.service, "joe", "joe-password").await.is_ok());
    announce(
        &fixture,
        Notice::Change(Change::Users(vec!["joe".to_owned()]), Applied::none()),
    )
    .await;
    assert!(
        basic(&fixture.service, "joe", "joe-password")
            .await
            .is_err()
    );
    assert!(basic(&fixture.service, "joe", "new-password").await.is_ok());
}

#[tokio::test]
async fn a_lost_feed_checks_every_authentication_against_the_store_until_restored() {
    let fixture = fixture().await;
    let (_, encoded) = created_key(&fixture).await;
    let reads = || fixture.store.key_reads.load(Ordering::SeqCst);
    // Created keys are cached: a second use reads nothing.
    api_key(&fixture.service, &encoded).await.unwrap();
    api_key(&fixture.service, &encoded).await.unwrap();
    let before = reads();

    announce(&fixture, Notice::Lost).await;
    for round in 1..=3 {
        api_key(&fixture.service, &encoded).await.unwrap();
        assert_eq!(
            reads(),
            before + round,
            "read from the store, round {round}"
        );
    }

    announce(&fixture, Notice::Restored).await;
    api_key(&fixture.service, &encoded).await.unwrap();
    let after = reads();
    assert_eq!(
        after,
        before + 4,
        "the first use after the feed is back reads"
    );
    api_key(&fixture.service, &encoded).await.unwrap();
    api_key(&fixture.service, &encoded).await.unwrap();
    assert_eq!(reads(), after, "and caches again");
}

#[tokio::test]
async fn a_flood_of_readiness_checks_reads_the_store_once() {
    let fixture = fixture().await;
    let before = fixture.store.meta_reads.load(Ordering::SeqCst);
    let checks: Vec<_> = (0..200)
        .map(|_| {
            let service = fixture.service.clone();
            tokio::spawn(async move { service.ready().await })
        })
        .collect();
    for check in checks {
        assert!(check.await.unwrap());
    }
    assert_eq!(fixture.store.meta_reads.load(Ordering::SeqCst), before + 1);
}
