//! The contract every [`Store`] backend must honour, as plain async test functions and the
//! [`store_contract_tests!`](crate::store_contract_tests) macro that turns them into `#[tokio::test]`s.
//!
//! Each test takes a fresh, empty store and panics on the first broken promise. A backend runs
//! them all with one line in its integration tests:
//!
//! ```text
//! keyward_store::store_contract_tests!(my_backend::open_fresh_store());
//! ```
//!
//! where the expression is a future resolving to `(store, guard)`: `store` implements [`Store`],
//! `guard` keeps whatever backs it (a temporary directory, a scratch database) alive until the
//! test ends. The calling crate needs `tokio` with the `macros` and `rt` features.

// Test-support code: a failed unwrap here is a failed test, reported with its location.
#![allow(clippy::unwrap_used)]

use keyward_core::EpochMillis;
use keyward_core::api_key::{API_KEY_FORMAT_VERSION, ApiKeyType, Creator};
use keyward_core::query::{ApiKeyField, ApiKeyQuery, FieldValue, Query, SortValue};
use serde_json::{Map, Value, json};

use crate::{
    ApiKeyFilter, ApiKeyRecord, AppPrivilegeRecord, EmbeddedStore, EmbeddedStoreOptions, Error,
    FieldCounts, NamePattern, ProfileRecord, RoleMappingRecord, RoleRecord, ServiceTokenRecord,
    Store, TokenInvalidation, TokenRecord, TokenSelector, UpdateOutcome, UserChange, UserRecord,
};

/// Expands to one `#[tokio::test]` per contract test. `$make` is an expression evaluating to a
/// future of `(store, guard)`; it is evaluated afresh in every test. The store is dropped before
/// the guard.
#[macro_export]
macro_rules! store_contract_tests {
    (@tests $make:expr; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $name() {
                let (store, guard) = ($make).await;
                $crate::testsuite::$name(&store).await;
                drop(store);
                drop(guard);
            }
        )*
    };
    ($make:expr) => {
        $crate::store_contract_tests!(@tests $make;
            create_and_get_roundtrip,
            create_sets_seq_to_one,
            missing_api_key_is_none,
            create_duplicate_id_is_already_exists,
            find_with_empty_filter_returns_everything,
            find_by_ids,
            find_by_name,
            find_by_prefix_is_literal,
            find_by_prefix_counts_characters,
            find_by_owner,
            find_excluding_invalidated,
            find_excluding_expired,
            find_by_key_type,
            find_with_combined_criteria,
            find_orders_by_creation_then_id,
            find_pages_walk_the_listing_in_order,
            update_compare_and_set,
            update_batch_outcomes_in_order,
            invalidate_returns_changed_ids,
            delete_inactive_cutoff_boundaries,
            import_writes_every_key,
            import_is_all_or_nothing,
            shared_texts_outlive_the_keys_that_let_go_of_them,
            hashes_read_back_exactly,
            users_upsert,
            users_update_keeps_the_password,
            users_change_touches_only_the_changed_fields,
            users_list_and_delete,
            roles_upsert_list_and_delete,
            role_mappings_upsert_list_and_delete,
            app_privileges_upsert_list_and_delete,
            meta_init_first_writer_wins,
            meta_put_replaces,
            query_filters_by_every_query_type,
            query_sorts_pages_and_searches_after,
            query_counts_all_matches,
            counts_by_field_group_the_matches,
            metadata_queries_follow_updates_imports_and_deletes,
            query_totals_and_pages_follow_every_write,
            batches_walk_matches_in_id_order,
            query_too_large_for_the_store_is_its_own_error,
            tokens_create_and_get_by_either_digest,
            tokens_refresh_is_compare_and_set,
            tokens_invalidate_by_digest_and_owner,
            tokens_delete_created_before,
            service_tokens_create_get_and_list,
            service_tokens_duplicate_name_is_already_exists,
            service_tokens_delete,
            profiles_create_and_get,
            profiles_duplicate_uid_is_already_exists,
            profiles_of_users_find_by_username,
            profiles_pages_walk_every_profile_in_uid_order,
            profiles_update_compare_and_set,
        );
    };
}

/// A plain `rest` key owned by `elastic`, created at [`CREATED`], never expiring; tests change
/// what they need.
pub fn sample_key(id: &str) -> ApiKeyRecord {
    ApiKeyRecord {
        id: id.to_owned(),
        name: format!("key-{id}"),
        key_type: ApiKeyType::Rest,
        creation: CREATED,
        expiration: None,
        invalidated: false,
        invalidation: None,
        hash: "{PBKDF2_STRETCH}10000$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA==".to_owned(),
        role_descriptors: "{}".to_owned(),
        limited_by:
            r#"{"superuser":{"cluster":["all"],"indices":[{"names":["*"],"privileges":["all"]}]}}"#
                .to_owned(),
        metadata: None,
        creator: Creator {
            principal: "elastic".to_owned(),
            full_name: None,
            email: None,
            metadata: Map::new(),
            realm: "reserved".to_owned(),
            realm_type: "reserved".to_owned(),
        },
        format_version: API_KEY_FORMAT_VERSION,
        certificate_identity: None,
        seq: 1,
    }
}

/// A user with one role, as [`Store::put_user`] would first store it.
pub fn sample_user(username: &str) -> UserRecord {
    UserRecord {
        username: username.to_owned(),
        password_hash: "$2a$10$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ01234".to_owned(),
        roles: vec!["superuser".to_owned()],
        full_name: None,
        email: None,
        metadata: "{}".to_owned(),
        enabled: true,
        seq: 1,
    }
}

/// The creation time of [`sample_key`].
pub const CREATED: EpochMillis = 1_700_000_000_000;

/// An [`EmbeddedStore`] in a new temporary directory, which the returned guard deletes when
/// dropped; for tests of code above the store. Panics when the store cannot be opened.
pub async fn temp_embedded_store() -> (EmbeddedStore, tempfile::TempDir) {
    temp_embedded_store_with(|_| {}).await
}

/// Like [`temp_embedded_store`], with the options changed by `configure` first.
pub async fn temp_embedded_store_with(
    configure: impl FnOnce(&mut EmbeddedStoreOptions),
) -> (EmbeddedStore, tempfile::TempDir) {
    let dir = match tempfile::tempdir() {
        Ok(dir) => dir,
        Err(err) => panic!("cannot create a temporary directory: {err}"),
    };
    let mut options = EmbeddedStoreOptions::new(dir.path());
    configure(&mut options);
    match EmbeddedStore::open(options) {
        Ok(store) => (store, dir),
        Err(err) => panic!(
            "cannot open an embedded store in [{}]: {err}",
            dir.path().display()
        ),
    }
}

/// Every field of a key survives a create and a get, `Some` and `None` alike.
pub async fn create_and_get_roundtrip(store: &dyn Store) {
    let mut full = sample_key("full");
    full.name = "everything set: ünïcödé 🔑".to_owned();
    full.key_type = ApiKeyType::CrossCluster;
    full.expiration = Some(CREATED + 86_400_000);
    full.invalidated = true;
    full.invalidation = Some(CREATED + 1_000);
    full.role_descriptors = r#"{"search":{"cluster":["cross_cluster_search"]}}"#.to_owned();
    full.metadata = Some(r#"{"team":"a","tags":[1,2,{"x":null}]}"#.to_owned());
    full.creator = Creator {
        principal: "alice".to_owned(),
        full_name: Some("Alice Liddell".to_owned()),
        email: Some("alice@example.com".to_owned()),
        metadata: json_object(r#"{"z":1,"a":{"nested":[true,"x"]},"m":null}"#),
        realm: "file1".to_owned(),
        realm_type: "file".to_owned(),
    };
    full.format_version = 8_00_00_99;
    full.certificate_identity = Some("CN=remote,OU=.*".to_owned());

    let mut minimal = sample_key("minimal");
    minimal.metadata = None;
    minimal.expiration = None;

    for record in [full, minimal] {
        store.create_api_key(record.clone()).await.unwrap();
        let stored = store.api_key(&record.id).await.unwrap();
        assert_eq!(
            stored.as_ref(),
            Some(&record),
            "roundtrip of [{}]",
            record.id
        );
        // Key order inside the creator's metadata is kept, as Elasticsearch keeps it.
        let stored = stored.unwrap();
        let keys: Vec<&String> = stored.creator.metadata.keys().collect();
        let expected: Vec<&String> = record.creator.metadata.keys().collect();
        assert_eq!(keys, expected);
    }
}

/// A new key starts at `seq` 1, whatever the record says.
pub async fn create_sets_seq_to_one(store: &dyn Store) {
    let mut record = sample_key("k");
    record.seq = 42;
    store.create_api_key(record).await.unwrap();
    assert_eq!(store.api_key("k").await.unwrap().unwrap().seq, 1);
}

/// Looking up an unknown id is not an error.
pub async fn missing_api_key_is_none(store: &dyn Store) {
    assert_eq!(store.api_key("nope").await.unwrap(), None);
    store.create_api_key(sample_key("k")).await.unwrap();
    assert_eq!(
        store.api_key("K").await.unwrap(),
        None,
        "ids are case-sensitive"
    );
}

/// Creating a taken id fails with `AlreadyExists` and leaves the first key alone.
pub async fn create_duplicate_id_is_already_exists(store: &dyn Store) {
    store.create_api_key(sample_key("k")).await.unwrap();
    let mut second = sample_key("k");
    second.name = "second".to_owned();
    match store.create_api_key(second).await {
        Err(Error::AlreadyExists(id)) => assert_eq!(id, "k"),
        other => panic!("expected AlreadyExists, got {other:?}"),
    }
    assert_eq!(store.api_key("k").await.unwrap().unwrap().name, "key-k");
    // The failure does not poison the store.
    store.create_api_key(sample_key("other")).await.unwrap();
}

/// The default filter selects every key.
pub async fn find_with_empty_filter_returns_everything(store: &dyn Store) {
    assert_eq!(
        ids(store, &ApiKeyFilter::default()).await,
        Vec::<String>::new()
    );
    create_all(store, ["a", "b", "c"].map(sample_key)).await;
    assert_eq!(ids(store, &ApiKeyFilter::default()).await, ["a", "b", "c"]);
    let all = ApiKeyFilter {
        name: Some(NamePattern::All),
        ..ApiKeyFilter::default()
    };
    assert_eq!(ids(store, &all).await, ["a", "b", "c"]);
}

/// `ids` selects exactly those ids; an empty list selects nothing; unknown ids are ignored.
pub async fn find_by_ids(store: &dyn Store) {
    create_all(store, ["a", "b", "c", "d"].map(sample_key)).await;
    let by_ids = |list: &[&str]| ApiKeyFilter {
        ids: Some(list.iter().map(|id| (*id).to_owned()).collect()),
        ..ApiKeyFilter::default()
    };
    assert_eq!(ids(store, &by_ids(&["c", "a"])).await, ["a", "c"]);
    assert_eq!(ids(store, &by_ids(&["b", "missing", "b"])).await, ["b"]);
    assert_eq!(ids(store, &by_ids(&[])).await, Vec::<String>::new());
    assert_eq!(
        ids(store, &by_ids(&["missing"])).await,
        Vec::<String>::new()
    );
    let many: Vec<String> = (0..40_000)
        .map(|n| format!("id-{n}"))
        .chain(["d".to_owned()])
        .collect();
    let filter = ApiKeyFilter {
        ids: Some(many),
        ..ApiKeyFilter::default()
    };
    assert_eq!(ids(store, &filter).await, ["d"], "a long id list works");
}

/// An exact name matches the whole name only, case-sensitively.
pub async fn find_by_name(store: &dyn Store) {
    create_all(
        store,
        [
            named("1", "deploy"),
            named("2", "deploy-2"),
            named("3", "Deploy"),
            named("4", "deploy"),
        ],
    )
    .await;
    let filter = ApiKeyFilter {
        name: Some(NamePattern::Exact("deploy".to_owned())),
        ..ApiKeyFilter::default()
    };
    assert_eq!(ids(store, &filter).await, ["1", "4"]);
    let filter = ApiKeyFilter {
        name: Some(NamePattern::Prefix("deploy".to_owned())),
        ..ApiKeyFilter::default()
    };
    assert_eq!(ids(store, &filter).await, ["1", "2", "4"]);
    let filter = ApiKeyFilter {
        name: Some(NamePattern::Prefix(String::new())),
        ..ApiKeyFilter::default()
    };
    assert_eq!(
        ids(store, &filter).await,
        ["1", "2", "3", "4"],
        "an empty prefix matches every name"
    );
}

/// A prefix matches literally: SQL wildcards and escape characters in it are plain characters.
pub async fn find_by_prefix_is_literal(store: &dyn Store) {
    create_all(
        store,
        [
            named("1", "a%b"),
            named("2", "a_b"),
            named("3", "axb"),
            named("4", "a%bc"),
            named("5", "A%b"),
            named("6", r"a\b"),
            named("7", "a*b"),
            named("8", "a[b]"),
        ],
    )
    .await;
    let prefix = |prefix: &str| ApiKeyFilter {
        name: Some(NamePattern::Prefix(prefix.to_owned())),
        ..ApiKeyFilter::default()
    };
    assert_eq!(ids(store, &prefix("a%")).await, ["1", "4"]);
    assert_eq!(ids(store, &prefix("a_")).await, ["2"]);
    assert_eq!(ids(store, &prefix("a%b")).await, ["1", "4"]);
    assert_eq!(ids(store, &prefix(r"a\")).await, ["6"]);
    assert_eq!(ids(store, &prefix("a*")).await, ["7"]);
    assert_eq!(ids(store, &prefix("a[")).await, ["8"]);
    assert_eq!(ids(store, &prefix("%")).await, Vec::<String>::new());
    assert_eq!(
        ids(store, &prefix("A")).await,
        ["5"],
        "prefixes are case-sensitive"
    );
}

/// A prefix with multi-byte characters matches by characters, not bytes.
pub async fn find_by_prefix_counts_characters(store: &dyn Store) {
    create_all(
        store,
        [
            named("1", "émile"),
            named("2", "é"),
            named("3", "e"),
            named("4", "日本語キー"),
            named("5", "🔑x"),
        ],
    )
    .await;
    let prefix = |prefix: &str| ApiKeyFilter {
        name: Some(NamePattern::Prefix(prefix.to_owned())),
        ..ApiKeyFilter::default()
    };
    assert_eq!(ids(store, &prefix("é")).await, ["1", "2"]);
    assert_eq!(ids(store, &prefix("émi")).await, ["1"]);
    assert_eq!(ids(store, &prefix("日本")).await, ["4"]);
    assert_eq!(ids(store, &prefix("🔑")).await, ["5"]);
}

/// `username` and `realm` select by owner, each alone and together.
pub async fn find_by_owner(store: &dyn Store) {
    create_all(
        store,
        [
            owned("1", "alice", "file1"),
            owned("2", "alice", "native1"),
            owned("3", "bob", "file1"),
            owned("4", "Alice", "file1"),
        ],
    )
    .await;
    let by = |username: Option<&str>, realm: Option<&str>| ApiKeyFilter {
        username: username.map(str::to_owned),
        realm: realm.map(str::to_owned),
        ..ApiKeyFilter::default()
    };
    assert_eq!(ids(store, &by(Some("alice"), None)).await, ["1", "2"]);
    assert_eq!(ids(store, &by(None, Some("file1"))).await, ["1", "3", "4"]);
    assert_eq!(ids(store, &by(Some("alice"), Some("file1"))).await, ["1"]);
    assert_eq!(
        ids(store, &by(Some("bob"), Some("native1"))).await,
        Vec::<String>::new()
    );
    assert_eq!(
        ids(store, &by(Some("carol"), None)).await,
        Vec::<String>::new()
    );
}

/// `exclude_invalidated` leaves out invalidated keys only.
pub async fn find_excluding_invalidated(store: &dyn Store) {
    create_all(store, ["a", "b", "c"].map(sample_key)).await;
    store
        .invalidate_api_keys(&["b".to_owned()], CREATED + 5)
        .await
        .unwrap();
    let filter = ApiKeyFilter {
        exclude_invalidated: true,
        ..ApiKeyFilter::default()
    };
    assert_eq!(ids(store, &filter).await, ["a", "c"]);
    assert_eq!(ids(store, &ApiKeyFilter::default()).await, ["a", "b", "c"]);
}

/// `exclude_expired_at` keeps keys that never expire and keys expiring strictly later.
pub async fn find_excluding_expired(store: &dyn Store) {
    let now = CREATED + 1_000;
    create_all(
        store,
        [
            expiring("never", None),
            expiring("before", Some(now - 1)),
            expiring("at", Some(now)),
            expiring("after", Some(now + 1)),
        ],
    )
    .await;
    let filter = ApiKeyFilter {
        exclude_expired_at: Some(now),
        ..ApiKeyFilter::default()
    };
    assert_eq!(ids(store, &filter).await, ["after", "never"]);
    let filter = ApiKeyFilter {
        exclude_expired_at: Some(now - 2),
        ..ApiKeyFilter::default()
    };
    assert_eq!(
        ids(store, &filter).await,
        ["after", "at", "before", "never"]
    );
}

/// `key_type` selects one type of key.
pub async fn find_by_key_type(store: &dyn Store) {
    let mut cross = sample_key("cross");
    cross.key_type = ApiKeyType::CrossCluster;
    create_all(store, [sample_key("rest"), cross]).await;
    let by = |key_type| ApiKeyFilter {
        key_type: Some(key_type),
        ..ApiKeyFilter::default()
    };
    assert_eq!(ids(store, &by(ApiKeyType::Rest)).await, ["rest"]);
    assert_eq!(ids(store, &by(ApiKeyType::CrossCluster)).await, ["cross"]);
}

/// Every criterion that is set must hold.
pub async fn find_with_combined_criteria(store: &dyn Store) {
    let now = CREATED + 1_000;
    let mut matching = owned("match", "alice", "file1");
    matching.name = "ci-deploy".to_owned();
    matching.expiration = Some(now + 10);
    let mut wrong_name = matching.clone();
    wrong_name.id = "wrong-name".to_owned();
    wrong_name.name = "deploy".to_owned();
    let mut wrong_owner = matching.clone();
    wrong_owner.id = "wrong-owner".to_owned();
    wrong_owner.creator.principal = "bob".to_owned();
    let mut wrong_realm = matching.clone();
    wrong_realm.id = "wrong-realm".to_owned();
    wrong_realm.creator.realm = "native1".to_owned();
    let mut expired = matching.clone();
    expired.id = "expired".to_owned();
    expired.expiration = Some(now);
    let mut invalidated = matching.clone();
    invalidated.id = "invalidated".to_owned();
    let mut cross = matching.clone();
    cross.id = "cross".to_owned();
    cross.key_type = ApiKeyType::CrossCluster;
    let mut other_id = matching.clone();
    other_id.id = "other-id".to_owned();
    create_all(
        store,
        [
            matching,
            wrong_name,
            wrong_owner,
            wrong_realm,
            expired,
            invalidated,
            cross,
            other_id,
        ],
    )
    .await;
    store
        .invalidate_api_keys(&["invalidated".to_owned()], now)
        .await
        .unwrap();

    let everything_but_ids = ApiKeyFilter {
        ids: None,
        name: Some(NamePattern::Prefix("ci-".to_owned())),
        username: Some("alice".to_owned()),
        realm: Some("file1".to_owned()),
        exclude_invalidated: true,
        exclude_expired_at: Some(now),
        key_type: Some(ApiKeyType::Rest),
    };
    assert_eq!(ids(store, &everything_but_ids).await, ["match", "other-id"]);
    let with_ids = ApiKeyFilter {
        ids: Some(vec![
            "match".to_owned(),
            "wrong-name".to_owned(),
            "expired".to_owned(),
        ]),
        name: Some(NamePattern::Exact("ci-deploy".to_owned())),
        ..everything_but_ids
    };
    assert_eq!(ids(store, &with_ids).await, ["match"]);
}

/// Results come ordered by creation time, then by id (byte order), whatever the insertion order.
pub async fn find_orders_by_creation_then_id(store: &dyn Store) {
    let at = |id: &str, creation: EpochMillis| {
        let mut record = sample_key(id);
        record.creation = creation;
        record
    };
    create_all(
        store,
        [
            at("b", CREATED + 1),
            at("z", CREATED),
            at("B", CREATED + 1),
            at("a", CREATED + 1),
            at("y", CREATED - 5),
        ],
    )
    .await;
    assert_eq!(
        ids(store, &ApiKeyFilter::default()).await,
        ["y", "z", "B", "a", "b"]
    );
}

/// Pages of a listing, each starting after the last key of the one before, return every key the
/// filter selects exactly once and in the order of the unpaged find, ties on creation broken by
/// id; a key created meanwhile behind the cursor is not returned, one ahead of it is.
pub async fn find_pages_walk_the_listing_in_order(store: &dyn Store) {
    let at = |id: &str, creation: EpochMillis| {
        let mut record = sample_key(id);
        record.creation = creation;
        record
    };
    create_all(
        store,
        [
            at("b", CREATED + 1),
            at("z", CREATED),
            at("B", CREATED + 1),
            at("a", CREATED + 1),
            at("y", CREATED - 5),
            at("c", CREATED + 2),
        ],
    )
    .await;
    let mut invalidated = at("x", CREATED + 1);
    invalidated.invalidated = true;
    invalidated.invalidation = Some(CREATED + 3);
    create_all(store, [invalidated]).await;

    let walk = |filter: ApiKeyFilter, limit: usize| async move {
        let mut pages = Vec::new();
        let mut after = None;
        loop {
            let page = store
                .find_api_keys_page(&filter, after.as_ref(), limit)
                .await
                .unwrap();
            assert!(page.len() <= limit, "a page of {} keys", page.len());
            let Some(last) = page.last() else { break };
            after = Some(crate::ApiKeyCursor::after(last));
            pages.push(page.into_iter().map(|record| record.id).collect::<Vec<_>>());
        }
        pages
    };
    assert_eq!(
        walk(ApiKeyFilter::default(), 2).await,
        [vec!["y", "z"], vec!["B", "a"], vec!["b", "x"], vec!["c"]]
    );
    assert_eq!(
        walk(ApiKeyFilter::default(), 100).await,
        [vec!["y", "z", "B", "a", "b", "x", "c"]]
    );
    let active = ApiKeyFilter {
        exclude_invalidated: true,
        ..ApiKeyFilter::default()
    };
    assert_eq!(
        walk(active.clone(), 3).await,
        [vec!["y", "z", "B"], vec!["a", "b", "c"]]
    );
    assert_eq!(
        ids(store, &active).await,
        ["y", "z", "B", "a", "b", "c"],
        "the unpaged find agrees"
    );
    let elastic = ApiKeyFilter {
        username: Some("elastic".to_owned()),
        realm: Some("reserved".to_owned()),
        ..ApiKeyFilter::default()
    };
    assert_eq!(
        walk(elastic, 4).await,
        [vec!["y", "z", "B", "a"], vec!["b", "x", "c"]]
    );
    let none = ApiKeyFilter {
        ids: Some(Vec::new()),
        ..ApiKeyFilter::default()
    };
    assert!(walk(none, 2).await.is_empty());
    assert!(
        store
            .find_api_keys_page(&ApiKeyFilter::default(), None, 0)
            .await
            .unwrap()
            .is_empty()
    );

    // After ("a", CREATED + 1): same creation with a smaller id is behind, a larger one ahead.
    let cursor = crate::ApiKeyCursor {
        creation: CREATED + 1,
        id: "a".to_owned(),
    };
    create_all(store, [at("A", CREATED + 1), at("aa", CREATED + 1)]).await;
    let rest = store
        .find_api_keys_page(&ApiKeyFilter::default(), Some(&cursor), 100)
        .await
        .unwrap();
    let rest: Vec<String> = rest.into_iter().map(|record| record.id).collect();
    assert_eq!(rest, ["aa", "b", "x", "c"]);
}

/// An update replaces the key when its `seq` is current and bumps `seq`; a stale `seq` or an
/// unknown id is a conflict that writes nothing.
pub async fn update_compare_and_set(store: &dyn Store) {
    store.create_api_key(sample_key("k")).await.unwrap();
    let read = store.api_key("k").await.unwrap().unwrap();

    let mut changed = read.clone();
    changed.name = "renamed".to_owned();
    changed.role_descriptors = r#"{"r":{"cluster":["monitor"]}}"#.to_owned();
    changed.limited_by = r#"{"owner":{"cluster":["manage_own_api_key"]}}"#.to_owned();
    changed.metadata = Some(r#"{"v":2}"#.to_owned());
    changed.expiration = Some(CREATED + 99);
    changed.creator.full_name = Some("Elastic".to_owned());
    changed.creator.metadata = json_object(r#"{"updated":true}"#);
    changed.format_version = API_KEY_FORMAT_VERSION + 1;
    changed.hash = "{SSHA256}bmV3aGFzaA==".to_owned();
    assert_eq!(
        store.update_api_keys(vec![changed.clone()]).await.unwrap(),
        [UpdateOutcome::Updated]
    );
    let stored = store.api_key("k").await.unwrap().unwrap();
    assert_eq!(
        stored,
        ApiKeyRecord {
            seq: read.seq + 1,
            ..changed.clone()
        }
    );

    // Written with the seq read before the first update: stale.
    let mut stale = read.clone();
    stale.name = "lost".to_owned();
    assert_eq!(
        store.update_api_keys(vec![stale]).await.unwrap(),
        [UpdateOutcome::Conflict]
    );
    assert_eq!(store.api_key("k").await.unwrap().unwrap().name, "renamed");

    assert_eq!(
        store
            .update_api_keys(vec![sample_key("missing")])
            .await
            .unwrap(),
        [UpdateOutcome::Conflict]
    );
    assert_eq!(
        store.api_key("missing").await.unwrap(),
        None,
        "an update never creates"
    );

    // The current seq works again.
    let mut again = stored.clone();
    again.name = "again".to_owned();
    assert_eq!(
        store.update_api_keys(vec![again]).await.unwrap(),
        [UpdateOutcome::Updated]
    );
    assert_eq!(store.api_key("k").await.unwrap().unwrap().seq, read.seq + 2);
    assert_eq!(
        store.update_api_keys(Vec::new()).await.unwrap(),
        Vec::<UpdateOutcome>::new()
    );
}

/// A bulk update answers for each record in order; conflicts do not stop the others.
pub async fn update_batch_outcomes_in_order(store: &dyn Store) {
    create_all(store, ["a", "b", "c"].map(sample_key)).await;
    let mut a = store.api_key("a").await.unwrap().unwrap();
    let mut b = store.api_key("b").await.unwrap().unwrap();
    let mut c = store.api_key("c").await.unwrap().unwrap();
    store
        .invalidate_api_keys(&["b".to_owned()], CREATED)
        .await
        .unwrap();
    a.name = "a2".to_owned();
    b.name = "b2".to_owned();
    c.name = "c2".to_owned();
    let outcomes = store
        .update_api_keys(vec![a, b, sample_key("x"), c])
        .await
        .unwrap();
    assert_eq!(
        outcomes,
        [
            UpdateOutcome::Updated,
            UpdateOutcome::Conflict,
            UpdateOutcome::Conflict,
            UpdateOutcome::Updated
        ]
    );
    assert_eq!(store.api_key("a").await.unwrap().unwrap().name, "a2");
    let b = store.api_key("b").await.unwrap().unwrap();
    assert_eq!(
        (b.name.as_str(), b.invalidated),
        ("key-b", true),
        "the invalidation is not overwritten"
    );
    assert_eq!(store.api_key("c").await.unwrap().unwrap().name, "c2");
}

/// Invalidation answers the ids it changed, in the order given, sets the time once and bumps
/// `seq`; doing it again changes nothing.
pub async fn invalidate_returns_changed_ids(store: &dyn Store) {
    create_all(store, ["a", "b", "c"].map(sample_key)).await;
    let now = CREATED + 500;
    let asked = ["c", "missing", "a", "c"].map(str::to_owned);
    assert_eq!(
        store.invalidate_api_keys(&asked, now).await.unwrap(),
        ["c", "a"]
    );
    for id in ["a", "c"] {
        let key = store.api_key(id).await.unwrap().unwrap();
        assert_eq!(
            (key.invalidated, key.invalidation, key.seq),
            (true, Some(now), 2),
            "key [{id}]"
        );
    }
    let untouched = store.api_key("b").await.unwrap().unwrap();
    assert_eq!(
        (untouched.invalidated, untouched.invalidation, untouched.seq),
        (false, None, 1)
    );

    let all = ["a", "b", "c"].map(str::to_owned);
    assert_eq!(
        store.invalidate_api_keys(&all, now + 1).await.unwrap(),
        ["b"]
    );
    assert_eq!(
        store.invalidate_api_keys(&all, now + 2).await.unwrap(),
        Vec::<String>::new()
    );
    let first = store.api_key("a").await.unwrap().unwrap();
    assert_eq!(
        (first.invalidation, first.seq),
        (Some(now), 2),
        "a second invalidation keeps the first time"
    );
    assert_eq!(
        store.invalidate_api_keys(&[], now).await.unwrap(),
        Vec::<String>::new()
    );
}

/// The remover deletes keys expired or invalidated at or before the cutoff, and nothing else.
pub async fn delete_inactive_cutoff_boundaries(store: &dyn Store) {
    let cutoff = CREATED + 10_000;
    let invalidated_at = |id: &str, at: Option<EpochMillis>| {
        let mut record = sample_key(id);
        record.invalidated = true;
        record.invalidation = at;
        record
    };
    create_all(
        store,
        [
            sample_key("active"),
            expiring("expired-before", Some(cutoff - 1)),
            expiring("expired-at", Some(cutoff)),
            expiring("expired-after", Some(cutoff + 1)),
            invalidated_at("invalidated-before", Some(cutoff - 1)),
            invalidated_at("invalidated-at", Some(cutoff)),
            invalidated_at("invalidated-after", Some(cutoff + 1)),
            // Written before invalidation times were recorded: Elasticsearch deletes these too.
            invalidated_at("invalidated-undated", None),
        ],
    )
    .await;
    let mut expired_invalidated_later = expiring("expired-invalidated-later", Some(cutoff - 1));
    expired_invalidated_later.invalidated = true;
    expired_invalidated_later.invalidation = Some(cutoff + 100);
    store
        .create_api_key(expired_invalidated_later)
        .await
        .unwrap();

    // In batches of at most four: 4 then 2 then none.
    assert_eq!(store.delete_inactive_api_keys(cutoff, 4).await.unwrap(), 4);
    assert_eq!(store.delete_inactive_api_keys(cutoff, 4).await.unwrap(), 2);
    assert_eq!(store.delete_inactive_api_keys(cutoff, 4).await.unwrap(), 0);
    assert_eq!(
        ids(store, &ApiKeyFilter::default()).await,
        ["active", "expired-after", "invalidated-after"]
    );
    assert_eq!(
        store.delete_inactive_api_keys(cutoff, 100).await.unwrap(),
        0
    );
    assert_eq!(
        store.delete_inactive_api_keys(cutoff + 1, 1).await.unwrap(),
        1
    );
    assert_eq!(
        store.delete_inactive_api_keys(cutoff + 1, 1).await.unwrap(),
        1
    );
    assert_eq!(ids(store, &ApiKeyFilter::default()).await, ["active"]);
}

/// An import writes every key, with `seq` 1, readable like created ones.
pub async fn import_writes_every_key(store: &dyn Store) {
    let records: Vec<ApiKeyRecord> = (0..500)
        .map(|n| {
            let mut record = sample_key(&format!("imported-{n:04}"));
            record.creation = CREATED + n;
            record.seq = 7;
            record
        })
        .collect();
    store.import_api_keys(records.clone()).await.unwrap();
    let found = store.find_api_keys(&ApiKeyFilter::default()).await.unwrap();
    let expected: Vec<ApiKeyRecord> = records
        .into_iter()
        .map(|record| ApiKeyRecord { seq: 1, ..record })
        .collect();
    assert_eq!(found, expected);
    store.import_api_keys(Vec::new()).await.unwrap();
}

/// An import with a taken id, in the store or within the import, fails whole.
pub async fn import_is_all_or_nothing(store: &dyn Store) {
    store.create_api_key(sample_key("taken")).await.unwrap();
    let clash_with_store = vec![
        sample_key("new-1"),
        sample_key("taken"),
        sample_key("new-2"),
    ];
    match store.import_api_keys(clash_with_store).await {
        Err(Error::AlreadyExists(id)) => assert_eq!(id, "taken"),
        other => panic!("expected AlreadyExists, got {other:?}"),
    }
    let clash_within = vec![
        sample_key("new-3"),
        sample_key("twice"),
        sample_key("twice"),
    ];
    match store.import_api_keys(clash_within).await {
        Err(Error::AlreadyExists(id)) => assert_eq!(id, "twice"),
        other => panic!("expected AlreadyExists, got {other:?}"),
    }
    assert_eq!(ids(store, &ApiKeyFilter::default()).await, ["taken"]);
}

/// Keys share their texts (role descriptors, limited-by, owner details) however the store keeps
/// them: updating, invalidating, deleting or failing to update some keys never changes what the
/// others read, and a text no key holds any more can be written again.
pub async fn shared_texts_outlive_the_keys_that_let_go_of_them(store: &dyn Store) {
    let owner_role = r#"{"owner":{"cluster":["manage_own_api_key"]}}"#;
    let mut detailed = sample_key("detailed");
    detailed.creator.full_name = Some("Ann Example".to_owned());
    detailed.creator.email = Some("ann@example.com".to_owned());
    detailed.creator.metadata = json_object(r#"{"team":"a","level":{"n":1}}"#);
    detailed.creator.realm = "native1".to_owned();
    detailed.creator.realm_type = "native".to_owned();
    let mut expired = sample_key("expired");
    expired.expiration = Some(CREATED + 1);
    expired.limited_by = owner_role.to_owned();
    create_all(
        store,
        [
            sample_key("a"),
            sample_key("b"),
            sample_key("c"),
            detailed.clone(),
            expired,
        ],
    )
    .await;
    store
        .import_api_keys(vec![
            sample_key("imported"),
            detailed_copy(&detailed, "detailed-2"),
        ])
        .await
        .unwrap();

    // `a` moves to texts of its own; a stale update of `b` to yet others changes nothing.
    let mut moved = store.api_key("a").await.unwrap().unwrap();
    moved.role_descriptors = r#"{"r":{"cluster":["monitor"]}}"#.to_owned();
    moved.limited_by = owner_role.to_owned();
    moved.creator = detailed.creator.clone();
    let mut stale = sample_key("b");
    stale.seq = 0;
    stale.limited_by = r#"{"never":{"cluster":["none"]}}"#.to_owned();
    stale.creator.full_name = Some("Never Stored".to_owned());
    assert_eq!(
        store
            .update_api_keys(vec![moved.clone(), stale])
            .await
            .unwrap(),
        [UpdateOutcome::Updated, UpdateOutcome::Conflict]
    );
    // The last key holding `owner_role` before `a` took it goes; `c` is invalidated and goes.
    store
        .invalidate_api_keys(&["c".to_owned()], CREATED + 2)
        .await
        .unwrap();
    assert_eq!(
        store
            .delete_inactive_api_keys(CREATED + 5, 100)
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        store.api_key("a").await.unwrap().unwrap(),
        ApiKeyRecord {
            seq: 2,
            ..moved.clone()
        }
    );
    for id in ["b", "imported"] {
        assert_eq!(store.api_key(id).await.unwrap().unwrap(), sample_key(id));
    }
    assert_eq!(store.api_key("detailed").await.unwrap().unwrap(), detailed);
    assert_eq!(
        store.api_key("detailed-2").await.unwrap().unwrap(),
        detailed_copy(&detailed, "detailed-2")
    );

    // Every key lets go of `owner_role` and of the details; then they are written again.
    let mut back = store.api_key("a").await.unwrap().unwrap();
    back.role_descriptors = sample_key("a").role_descriptors;
    back.limited_by = sample_key("a").limited_by;
    back.creator = sample_key("a").creator;
    assert_eq!(
        store.update_api_keys(vec![back]).await.unwrap(),
        [UpdateOutcome::Updated]
    );
    store
        .invalidate_api_keys(
            &["detailed".to_owned(), "detailed-2".to_owned()],
            CREATED + 3,
        )
        .await
        .unwrap();
    assert_eq!(
        store
            .delete_inactive_api_keys(CREATED + 5, 100)
            .await
            .unwrap(),
        2
    );
    let mut again = detailed_copy(&detailed, "again");
    again.limited_by = owner_role.to_owned();
    store.create_api_key(again.clone()).await.unwrap();
    assert_eq!(store.api_key("again").await.unwrap().unwrap(), again);
    let mut never = sample_key("never");
    never.limited_by = r#"{"never":{"cluster":["none"]}}"#.to_owned();
    store.create_api_key(never.clone()).await.unwrap();
    assert_eq!(store.api_key("never").await.unwrap().unwrap(), never);
    assert_eq!(
        ids(store, &ApiKeyFilter::default()).await,
        ["a", "again", "b", "imported", "never"]
    );
}

/// Whatever a store does to keep hashes small, each reads back as exactly the text written.
pub async fn hashes_read_back_exactly(store: &dyn Store) {
    let hashes = [
        "{SSHA256}AAECAwQFBgc=hFkFgY4klx8/OzDjO3yaxTvxUP3XclsX0V9SQZWYW5Y=",
        // A salt whose base64 has no padding (it decodes to 9 bytes).
        "{SSHA256}AAECAwQFBgcI6VS0C142yL/pnMBhio5F/gRK9keLzcBNBZCAdduogsI=",
        // Not base64, too short, too long: verification fails on them, storage keeps them.
        "{SSHA256}!!!!!!!!!!!!hFkFgY4klx8/OzDjO3yaxTvxUP3XclsX0V9SQZWYW5Y=",
        "{SSHA256}AAECAwQFBgc=",
        "{SSHA256}AAECAwQFBgc=hFkFgY4klx8/OzDjO3yaxTvxUP3XclsX0V9SQZWYW5Y=A",
        // Base64 with bits set past its last byte: decodes, but encodes differently.
        "{SSHA256}AAECAwQFBgd=hFkFgY4klx8/OzDjO3yaxTvxUP3XclsX0V9SQZWYW5Z=",
        "{PBKDF2}10000$c2FsdA==$aGFzaA==",
        "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy",
        "",
    ];
    for (n, hash) in hashes.iter().enumerate() {
        let mut key = sample_key(&format!("h{n}"));
        key.hash = (*hash).to_owned();
        store.create_api_key(key.clone()).await.unwrap();
        assert_eq!(
            store.api_key(&key.id).await.unwrap().unwrap(),
            key,
            "{hash}"
        );
        // An update writes the hash again.
        let mut updated = key.clone();
        updated.hash = hashes[(n + 1) % hashes.len()].to_owned();
        assert_eq!(
            store.update_api_keys(vec![updated.clone()]).await.unwrap(),
            [UpdateOutcome::Updated]
        );
        assert_eq!(
            store.api_key(&key.id).await.unwrap().unwrap(),
            ApiKeyRecord { seq: 2, ..updated }
        );
    }
}

fn detailed_copy(detailed: &ApiKeyRecord, id: &str) -> ApiKeyRecord {
    ApiKeyRecord {
        id: id.to_owned(),
        name: format!("key-{id}"),
        ..detailed.clone()
    }
}

/// `put_user` inserts with `seq` 1 and replaces every field after, bumping `seq`.
pub async fn users_upsert(store: &dyn Store) {
    assert_eq!(store.user("elastic").await.unwrap(), None);
    let mut user = sample_user("elastic");
    user.seq = 9;
    assert!(store.put_user(user.clone()).await.unwrap(), "inserted");
    assert_eq!(
        store.user("elastic").await.unwrap(),
        Some(UserRecord { seq: 1, ..user })
    );

    let replaced = UserRecord {
        username: "elastic".to_owned(),
        password_hash: "{PBKDF2}10000$c2FsdA==$bmV3".to_owned(),
        roles: vec![
            "superuser".to_owned(),
            "kibana_admin".to_owned(),
            "ünï".to_owned(),
        ],
        full_name: Some("The Elastic User".to_owned()),
        email: Some("elastic@example.com".to_owned()),
        metadata: r#"{"_reserved":true}"#.to_owned(),
        enabled: false,
        seq: 1,
    };
    assert!(!store.put_user(replaced.clone()).await.unwrap(), "replaced");
    assert_eq!(
        store.user("elastic").await.unwrap(),
        Some(UserRecord {
            seq: 2,
            ..replaced.clone()
        })
    );

    let mut cleared = sample_user("elastic");
    cleared.roles = Vec::new();
    store.put_user(cleared.clone()).await.unwrap();
    assert_eq!(
        store.user("elastic").await.unwrap(),
        Some(UserRecord { seq: 3, ..cleared })
    );
    assert_eq!(
        store.user("Elastic").await.unwrap(),
        None,
        "usernames are case-sensitive"
    );
}

/// `update_user_keeping_password` replaces every field but the password hash, and only for a
/// stored user.
pub async fn users_update_keeps_the_password(store: &dyn Store) {
    let mut updated = sample_user("joe");
    updated.password_hash = String::new();
    updated.roles = vec!["viewer".to_owned()];
    updated.full_name = Some("Joe".to_owned());
    updated.enabled = false;
    assert!(
        !store
            .update_user_keeping_password(updated.clone())
            .await
            .unwrap(),
        "no such user"
    );
    assert_eq!(store.user("joe").await.unwrap(), None, "nothing written");

    let stored = sample_user("joe");
    store.put_user(stored.clone()).await.unwrap();
    assert!(
        store
            .update_user_keeping_password(updated.clone())
            .await
            .unwrap()
    );
    assert_eq!(
        store.user("joe").await.unwrap(),
        Some(UserRecord {
            password_hash: stored.password_hash,
            seq: 2,
            ..updated
        })
    );
}

/// `change_user` writes only the fields it sets, stores the given default record for a user
/// never stored, and writes nothing without one.
pub async fn users_change_touches_only_the_changed_fields(store: &dyn Store) {
    let disable = UserChange {
        password_hash: None,
        enabled: Some(false),
    };
    let new_password = UserChange {
        password_hash: Some("{PBKDF2}10000$c2FsdA==$bmV3".to_owned()),
        enabled: None,
    };
    assert!(
        !store
            .change_user("joe", disable.clone(), None)
            .await
            .unwrap()
    );
    assert_eq!(store.user("joe").await.unwrap(), None, "nothing written");

    let stored = sample_user("joe");
    store.put_user(stored.clone()).await.unwrap();
    // Two changes of different fields, as two racing requests would make them: both hold.
    assert!(
        store
            .change_user("joe", disable.clone(), None)
            .await
            .unwrap()
    );
    assert!(
        store
            .change_user("joe", new_password.clone(), None)
            .await
            .unwrap()
    );
    assert_eq!(
        store.user("joe").await.unwrap(),
        Some(UserRecord {
            password_hash: "{PBKDF2}10000$c2FsdA==$bmV3".to_owned(),
            enabled: false,
            seq: 3,
            ..stored
        })
    );

    // A user never stored (a reserved user's default state): the default, changed.
    let mut default = sample_user("kibana_system");
    default.password_hash = String::new();
    assert!(
        store
            .change_user("kibana_system", disable, Some(default.clone()))
            .await
            .unwrap()
    );
    assert_eq!(
        store.user("kibana_system").await.unwrap(),
        Some(UserRecord {
            enabled: false,
            seq: 1,
            ..default.clone()
        })
    );
    // Once stored, the default is not used again.
    assert!(
        store
            .change_user("kibana_system", new_password, Some(default.clone()))
            .await
            .unwrap()
    );
    assert_eq!(
        store.user("kibana_system").await.unwrap(),
        Some(UserRecord {
            password_hash: "{PBKDF2}10000$c2FsdA==$bmV3".to_owned(),
            enabled: false,
            seq: 2,
            ..default
        })
    );
}

/// `users` lists by name or all, sorted; `delete_user` reports whether there was one.
pub async fn users_list_and_delete(store: &dyn Store) {
    assert!(store.users(None).await.unwrap().is_empty());
    for name in ["joe", "ann", "zed"] {
        store.put_user(sample_user(name)).await.unwrap();
    }
    let names = |users: Vec<UserRecord>| {
        users
            .into_iter()
            .map(|user| user.username)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        names(store.users(None).await.unwrap()),
        ["ann", "joe", "zed"]
    );
    let wanted = ["zed".to_owned(), "nobody".to_owned(), "ann".to_owned()];
    assert_eq!(
        names(store.users(Some(&wanted)).await.unwrap()),
        ["ann", "zed"]
    );
    assert!(store.users(Some(&[])).await.unwrap().is_empty());
    assert!(store.delete_user("joe").await.unwrap());
    assert!(!store.delete_user("joe").await.unwrap());
    assert_eq!(store.user("joe").await.unwrap(), None);
    assert_eq!(names(store.users(None).await.unwrap()), ["ann", "zed"]);
}

/// Roles: insert then replace (reporting which), read one, by names or all sorted, delete.
/// Role mappings: insert reports `true`, a replacement `false` and a new `seq`; listings are
/// sorted by name and leave unknown names out; names are case-sensitive.
pub async fn role_mappings_upsert_list_and_delete(store: &dyn Store) {
    let mapping = |name: &str, text: &str| RoleMappingRecord {
        name: name.to_owned(),
        mapping: text.to_owned(),
        seq: 9,
    };
    let first =
        r#"{"enabled":true,"roles":["r"],"rules":{"field":{"username":"*"}},"metadata":{}}"#;
    let second = r#"{"enabled":false,"roles":["s"],"rules":{"all":[]},"metadata":{"k":"v"}}"#;
    assert!(store.role_mappings(None).await.unwrap().is_empty());
    assert!(store.put_role_mapping(mapping("m1", first)).await.unwrap());
    assert!(store.put_role_mapping(mapping("a0", first)).await.unwrap());
    assert_eq!(
        store.role_mappings(Some(&["m1".to_owned()])).await.unwrap(),
        [RoleMappingRecord {
            seq: 1,
            ..mapping("m1", first)
        }]
    );
    assert!(!store.put_role_mapping(mapping("m1", second)).await.unwrap());
    assert_eq!(
        store.role_mappings(Some(&["m1".to_owned()])).await.unwrap(),
        [RoleMappingRecord {
            seq: 2,
            ..mapping("m1", second)
        }]
    );
    let all: Vec<String> = store
        .role_mappings(None)
        .await
        .unwrap()
        .into_iter()
        .map(|mapping| mapping.name)
        .collect();
    assert_eq!(all, ["a0", "m1"]);
    let some: Vec<String> = store
        .role_mappings(Some(&[
            "missing".to_owned(),
            "m1".to_owned(),
            "M1".to_owned(),
        ]))
        .await
        .unwrap()
        .into_iter()
        .map(|mapping| mapping.name)
        .collect();
    assert_eq!(some, ["m1"], "unknown names left out, names case-sensitive");
    assert!(store.role_mappings(Some(&[])).await.unwrap().is_empty());
    assert!(store.delete_role_mapping("m1").await.unwrap());
    assert!(!store.delete_role_mapping("m1").await.unwrap());
    assert!(
        store
            .role_mappings(Some(&["m1".to_owned()]))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.role_mappings(None).await.unwrap().len(), 1);
}

pub async fn roles_upsert_list_and_delete(store: &dyn Store) {
    let role = |name: &str, descriptor: &str| RoleRecord {
        name: name.to_owned(),
        descriptor: descriptor.to_owned(),
        seq: 7,
    };
    assert_eq!(store.role("r1").await.unwrap(), None);
    assert!(
        store
            .put_role(role("r1", r#"{"cluster":["all"]}"#))
            .await
            .unwrap()
    );
    assert!(store.put_role(role("a0", "{}")).await.unwrap());
    assert_eq!(
        store.role("r1").await.unwrap(),
        Some(RoleRecord {
            seq: 1,
            ..role("r1", r#"{"cluster":["all"]}"#)
        })
    );
    assert!(
        !store
            .put_role(role("r1", r#"{"cluster":["monitor"]}"#))
            .await
            .unwrap()
    );
    assert_eq!(
        store.role("r1").await.unwrap(),
        Some(RoleRecord {
            seq: 2,
            ..role("r1", r#"{"cluster":["monitor"]}"#)
        })
    );
    let all: Vec<String> = store
        .roles(None)
        .await
        .unwrap()
        .into_iter()
        .map(|role| role.name)
        .collect();
    assert_eq!(all, ["a0", "r1"]);
    let some = store
        .roles(Some(&["r1".to_owned(), "missing".to_owned()]))
        .await
        .unwrap();
    assert_eq!(some.len(), 1);
    assert_eq!(some[0].name, "r1");
    assert!(store.delete_role("r1").await.unwrap());
    assert!(!store.delete_role("r1").await.unwrap());
    assert_eq!(store.role("r1").await.unwrap(), None);
    assert_eq!(
        store.role("R0").await.unwrap(),
        None,
        "names are case-sensitive"
    );
}

/// Application privileges: batch upsert reports created per privilege, reads filter by
/// application and names, deletes report what they found.
pub async fn app_privileges_upsert_list_and_delete(store: &dyn Store) {
    let privilege = |application: &str, name: &str, actions: &[&str]| AppPrivilegeRecord {
        application: application.to_owned(),
        name: name.to_owned(),
        actions: actions.iter().map(|action| (*action).to_owned()).collect(),
        metadata: r#"{"k":"v"}"#.to_owned(),
        seq: 0,
    };
    let outcomes = store
        .put_app_privileges(vec![
            privilege("app", "p2", &["data:read/*"]),
            privilege("app", "p1", &["data:read/*", "action:login"]),
            privilege("app2", "p1", &["*"]),
        ])
        .await
        .unwrap();
    assert_eq!(
        outcomes,
        [
            ("app".to_owned(), "p2".to_owned(), true),
            ("app".to_owned(), "p1".to_owned(), true),
            ("app2".to_owned(), "p1".to_owned(), true),
        ]
    );
    let outcomes = store
        .put_app_privileges(vec![
            privilege("app", "p1", &["data:write/*"]),
            privilege("app", "p3", &["a:b"]),
        ])
        .await
        .unwrap();
    assert_eq!(
        outcomes,
        [
            ("app".to_owned(), "p1".to_owned(), false),
            ("app".to_owned(), "p3".to_owned(), true),
        ]
    );
    let keys = |records: Vec<AppPrivilegeRecord>| {
        records
            .into_iter()
            .map(|record| format!("{}/{}", record.application, record.name))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        keys(store.app_privileges(None, None).await.unwrap()),
        ["app/p1", "app/p2", "app/p3", "app2/p1"]
    );
    assert_eq!(
        keys(store.app_privileges(Some("app2"), None).await.unwrap()),
        ["app2/p1"]
    );
    let p1 = store
        .app_privileges(Some("app"), Some(&["p1".to_owned(), "p9".to_owned()]))
        .await
        .unwrap();
    assert_eq!(
        p1,
        [AppPrivilegeRecord {
            seq: 2,
            ..privilege("app", "p1", &["data:write/*"])
        }]
    );
    assert!(
        store
            .app_privileges(Some("nope"), None)
            .await
            .unwrap()
            .is_empty()
    );
    let deleted = store
        .delete_app_privileges("app", &["p3".to_owned(), "p0".to_owned(), "p1".to_owned()])
        .await
        .unwrap();
    assert_eq!(deleted, ["p3", "p1"]);
    assert_eq!(
        keys(store.app_privileges(None, None).await.unwrap()),
        ["app/p2", "app2/p1"]
    );
}

/// `meta_put` stores a value whether or not one is there; other keys stay as they were.
pub async fn meta_put_replaces(store: &dyn Store) {
    store.meta_put("settings", "{\"a\":1}").await.unwrap();
    assert_eq!(
        store.meta("settings").await.unwrap().as_deref(),
        Some("{\"a\":1}")
    );
    store.meta_init("other", "kept").await.unwrap();
    store.meta_put("settings", "{}").await.unwrap();
    assert_eq!(store.meta("settings").await.unwrap().as_deref(), Some("{}"));
    assert_eq!(store.meta("other").await.unwrap().as_deref(), Some("kept"));
    // meta_init does not replace what meta_put wrote.
    assert_eq!(store.meta_init("settings", "x").await.unwrap(), "{}");
}

/// `meta_init` stores a value only when none is there and answers the stored one.
pub async fn meta_init_first_writer_wins(store: &dyn Store) {
    assert_eq!(store.meta("cluster_uuid").await.unwrap(), None);
    assert_eq!(
        store.meta_init("cluster_uuid", "first").await.unwrap(),
        "first"
    );
    assert_eq!(
        store.meta_init("cluster_uuid", "second").await.unwrap(),
        "first"
    );
    assert_eq!(
        store.meta("cluster_uuid").await.unwrap().as_deref(),
        Some("first")
    );
    assert_eq!(
        store.meta_init("node_name", "node-1").await.unwrap(),
        "node-1"
    );
    assert_eq!(
        store.meta("node_name").await.unwrap().as_deref(),
        Some("node-1")
    );
    assert_eq!(
        store.meta("cluster_uuid").await.unwrap().as_deref(),
        Some("first")
    );
}

/// Keys for the query tests: `a` (manager, metadata `{"letter":"a","number":42}`, expires),
/// `b` (user1, `{"letter":"a","number":1,"tags":["x","y"]}`, invalidated), `c` (user2,
/// cross-cluster, no metadata, never expires).
async fn create_query_keys(store: &dyn Store) {
    let mut a = owned("a", "manager", "native1");
    a.name = "manager-api-key".to_owned();
    a.metadata = Some(r#"{"letter":"a","number":42,"nested":{"deep":true}}"#.to_owned());
    a.expiration = Some(CREATED + 10_000);
    let mut b = owned("b", "user1", "native1");
    b.name = "user1-api-key".to_owned();
    b.creation = CREATED + 1;
    b.metadata = Some(r#"{"letter":"a","number":1,"tags":["x","y"]}"#.to_owned());
    b.expiration = Some(CREATED + 5_000);
    b.invalidated = true;
    b.invalidation = Some(CREATED + 2);
    let mut c = owned("c", "user2", "file");
    c.name = "User2*key".to_owned();
    c.creation = CREATED + 2;
    c.key_type = ApiKeyType::CrossCluster;
    create_all(store, [a, b, c]).await;
}

async fn query_ids(store: &dyn Store, query: Query) -> Vec<String> {
    let search = ApiKeyQuery {
        query: query.clone(),
        ..ApiKeyQuery::default()
    };
    match store.query_api_keys(&search).await {
        Ok(page) => page.records.into_iter().map(|record| record.id).collect(),
        Err(err) => panic!("query {query:?} failed: {err}"),
    }
}

fn parsed(query: Value) -> Query {
    keyward_core::query::parse_query(&query, CREATED).unwrap()
}

/// Every query type selects what Elasticsearch would, including `must_not` over missing values.
pub async fn query_filters_by_every_query_type(store: &dyn Store) {
    create_query_keys(store).await;
    let cases = [
        (json!({}), vec!["a", "b", "c"]),
        (json!({"term": {"name": "manager-api-key"}}), vec!["a"]),
        (
            json!({"term": {"name": {"value": "MANAGER-API-KEY", "case_insensitive": true}}}),
            vec!["a"],
        ),
        (json!({"term": {"username": "user1"}}), vec!["b"]),
        (json!({"term": {"realm_name": "native1"}}), vec!["a", "b"]),
        (json!({"term": {"type": "cross_cluster"}}), vec!["c"]),
        (json!({"term": {"invalidated": true}}), vec!["b"]),
        (json!({"term": {"metadata.number": 42}}), vec!["a"]),
        (json!({"term": {"metadata.number": "1"}}), vec!["b"]),
        (json!({"term": {"metadata.tags": "y"}}), vec!["b"]),
        (json!({"term": {"metadata.nested.deep": "true"}}), vec!["a"]),
        (json!({"term": {"metadata.nested": "true"}}), vec![]),
        (json!({"term": {"metadata": "x"}}), vec!["b"]),
        (
            json!({"terms": {"username": ["user1", "user2"]}}),
            vec!["b", "c"],
        ),
        (json!({"ids": {"values": ["c", "a", "zz"]}}), vec!["a", "c"]),
        (json!({"prefix": {"name": "user"}}), vec!["b"]),
        (
            json!({"prefix": {"name": {"value": "user", "case_insensitive": true}}}),
            vec!["b", "c"],
        ),
        (json!({"wildcard": {"name": "*key"}}), vec!["a", "b", "c"]),
        (json!({"wildcard": {"name": "User2\\*key"}}), vec!["c"]),
        (json!({"wildcard": {"name": "?ser*"}}), vec!["b", "c"]),
        (json!({"wildcard": {"name": "[u]*"}}), vec![]),
        (json!({"exists": {"field": "expiration"}}), vec!["a", "b"]),
        (json!({"exists": {"field": "metadata.tags"}}), vec!["b"]),
        (
            json!({"range": {"creation": {"gt": CREATED}}}),
            vec!["b", "c"],
        ),
        (
            json!({"range": {"expiration": {"lte": CREATED + 5_000}}}),
            vec!["b"],
        ),
        (json!({"range": {"name": {"gte": "u"}}}), vec!["b"]),
        (
            json!({"bool": {"must_not": {"range": {"expiration": {"lte": CREATED + 5_000}}}}}),
            vec!["a", "c"],
        ),
        (
            json!({"bool": {"should": [{"term": {"username": "user1"}}, {"term": {"type": "cross_cluster"}}]}}),
            vec!["b", "c"],
        ),
        (
            json!({"bool": {"should": [{"term": {"username": "user1"}}, {"term": {"metadata.letter": "a"}}], "minimum_should_match": 2}}),
            vec!["b"],
        ),
        (
            json!({"bool": {"filter": [{"term": {"metadata.letter": "a"}}], "must_not": [{"term": {"invalidated": true}}]}}),
            vec!["a"],
        ),
        (
            json!({"simple_query_string": {"query": "cross*", "fields": ["ty*"]}}),
            vec!["c"],
        ),
    ];
    for (query, expected) in cases {
        let mut found = query_ids(store, parsed(query.clone())).await;
        found.sort();
        assert_eq!(found, expected, "{query}");
    }
}

/// `api_keys_after` returns the matches in id order, a bounded batch at a time, each batch
/// starting after the given id.
pub async fn batches_walk_matches_in_id_order(store: &dyn Store) {
    create_query_keys(store).await;
    let ids = |records: Vec<ApiKeyRecord>| -> Vec<String> {
        records.into_iter().map(|record| record.id).collect()
    };
    let everything = Query::MatchAll;
    let first = store.api_keys_after(&everything, None, 2).await.unwrap();
    assert_eq!(ids(first), ["a", "b"]);
    let second = store
        .api_keys_after(&everything, Some("b"), 2)
        .await
        .unwrap();
    assert_eq!(ids(second), ["c"]);
    let done = store
        .api_keys_after(&everything, Some("c"), 2)
        .await
        .unwrap();
    assert!(done.is_empty());
    let native = parsed(json!({"term": {"realm_name": "native1"}}));
    let matched = store.api_keys_after(&native, None, 10).await.unwrap();
    assert_eq!(ids(matched), ["a", "b"]);
    let after_a = store.api_keys_after(&native, Some("a"), 10).await.unwrap();
    assert_eq!(ids(after_a), ["b"]);
    let by_ids = parsed(json!({"ids": {"values": ["c", "a"]}}));
    let after_a = store.api_keys_after(&by_ids, Some("a"), 10).await.unwrap();
    assert_eq!(ids(after_a), ["c"]);
}

/// A query the store cannot run because of its size (here more bound values than SQLite takes)
/// fails with `QueryTooLarge`, which callers report as the client's
/// mistake, never as a database failure.
pub async fn query_too_large_for_the_store_is_its_own_error(store: &dyn Store) {
    create_query_keys(store).await;
    let term = |index: usize| Query::Term {
        field: ApiKeyField::Name,
        value: FieldValue::Keyword(format!("name-{index}")),
        case_insensitive: false,
    };
    let wide = Query::Bool {
        must: Vec::new(),
        filter: Vec::new(),
        should: (0..40_000).map(term).collect(),
        must_not: Vec::new(),
        minimum_should_match: 1,
    };
    let query = wide;
    let search = ApiKeyQuery {
        query: query.clone(),
        ..ApiKeyQuery::default()
    };
    match store.query_api_keys(&search).await {
        Err(Error::QueryTooLarge(_)) => {}
        other => panic!("expected QueryTooLarge, got {other:?}"),
    }
    match store.api_keys_after(&query, None, 10).await {
        Err(Error::QueryTooLarge(_)) => {}
        other => panic!("expected QueryTooLarge, got {other:?}"),
    }
}

/// Sorts put missing values last and break ties by id; `from`, `size` and `search_after` page.
pub async fn query_sorts_pages_and_searches_after(store: &dyn Store) {
    create_query_keys(store).await;
    let sort =
        keyward_core::query::parse_sort(&json!(["expiration", {"username": "desc"}])).unwrap();
    let mut search = ApiKeyQuery {
        sort: sort.clone(),
        size: 1,
        ..ApiKeyQuery::default()
    };
    let mut seen = Vec::new();
    for _ in 0..4 {
        let page = store.query_api_keys(&search).await.unwrap();
        assert_eq!(page.total, 3);
        let Some(record) = page.records.first() else {
            break;
        };
        seen.push((record.id.clone(), page.sort_values[0].clone()));
        search.search_after = Some(page.sort_values[0].clone());
    }
    assert_eq!(
        seen,
        vec![
            (
                "b".to_owned(),
                vec![
                    SortValue::Long(CREATED + 5_000),
                    SortValue::Text("user1".to_owned())
                ]
            ),
            (
                "a".to_owned(),
                vec![
                    SortValue::Long(CREATED + 10_000),
                    SortValue::Text("manager".to_owned())
                ]
            ),
            (
                "c".to_owned(),
                vec![
                    SortValue::Long(i64::MAX),
                    SortValue::Text("user2".to_owned())
                ]
            ),
        ]
    );
    let descending = ApiKeyQuery {
        sort: keyward_core::query::parse_sort(&json!([{"creation": {"order": "desc"}}])).unwrap(),
        from: 1,
        size: 5,
        ..ApiKeyQuery::default()
    };
    let page = store.query_api_keys(&descending).await.unwrap();
    let ids: Vec<_> = page
        .records
        .iter()
        .map(|record| record.id.as_str())
        .collect();
    assert_eq!(ids, ["b", "a"]);
    let by_metadata = ApiKeyQuery {
        sort: keyward_core::query::parse_sort(&json!(["metadata.number"])).unwrap(),
        ..ApiKeyQuery::default()
    };
    let page = store.query_api_keys(&by_metadata).await.unwrap();
    let ids: Vec<_> = page
        .records
        .iter()
        .map(|record| record.id.as_str())
        .collect();
    // Flattened values sort as keywords: "1" < "42"; the key without one comes last.
    assert_eq!(ids, ["b", "a", "c"]);
    assert_eq!(page.sort_values[2], vec![SortValue::Null]);
}

/// `total` counts every match, whatever the page; `size: 0` returns no records.
pub async fn query_counts_all_matches(store: &dyn Store) {
    create_query_keys(store).await;
    let search = ApiKeyQuery {
        query: parsed(json!({"wildcard": {"name": "*key"}})),
        size: 0,
        ..ApiKeyQuery::default()
    };
    let page = store.query_api_keys(&search).await.unwrap();
    assert_eq!((page.total, page.records.len()), (3, 0));
    // A key matching through several values of one metadata key counts once.
    for (query, total) in [
        (json!({"terms": {"metadata.tags": ["x", "y"]}}), 1),
        (json!({"exists": {"field": "metadata.letter"}}), 2),
        (
            json!({"range": {"metadata.number": {"gte": "1", "lte": "5"}}}),
            2,
        ),
        (json!({"wildcard": {"metadata.tags": "*"}}), 1),
    ] {
        let search = ApiKeyQuery {
            query: parsed(query.clone()),
            size: 0,
            ..ApiKeyQuery::default()
        };
        let page = store.query_api_keys(&search).await.unwrap();
        assert_eq!(page.total, total, "{query}");
    }
    let search = ApiKeyQuery {
        from: 2,
        size: 10,
        ..ApiKeyQuery::default()
    };
    let page = store.query_api_keys(&search).await.unwrap();
    assert_eq!((page.total, page.records.len()), (3, 1));
    assert!(page.sort_values[0].is_empty());
}

/// `count_api_keys_by` counts the matching keys per value (a multi-valued metadata key once per
/// value), the smallest `limit` values in order, and the keys without a value.
pub async fn counts_by_field_group_the_matches(store: &dyn Store) {
    use crate::FieldCountValue::{Long, Text};
    create_query_keys(store).await;
    let text = |value: &str, count: u64| (Text(value.to_owned()), count);
    let all = Query::MatchAll;
    let metadata =
        |path: &str| ApiKeyField::Metadata(path.split('.').map(str::to_owned).collect::<Vec<_>>());
    let cases = [
        (
            all.clone(),
            ApiKeyField::Username,
            10,
            vec![text("manager", 1), text("user1", 1), text("user2", 1)],
            false,
            0,
        ),
        (
            all.clone(),
            ApiKeyField::Username,
            2,
            vec![text("manager", 1), text("user1", 1)],
            true,
            0,
        ),
        (
            all.clone(),
            ApiKeyField::RealmName,
            10,
            vec![text("file", 1), text("native1", 2)],
            false,
            0,
        ),
        (
            all.clone(),
            ApiKeyField::Invalidated,
            10,
            vec![(Long(0), 2), (Long(1), 1)],
            false,
            0,
        ),
        (
            all.clone(),
            ApiKeyField::Expiration,
            10,
            vec![(Long(CREATED + 5_000), 1), (Long(CREATED + 10_000), 1)],
            false,
            1,
        ),
        (
            all.clone(),
            ApiKeyField::Type,
            10,
            vec![text("cross_cluster", 1), text("rest", 2)],
            false,
            0,
        ),
        (
            all.clone(),
            metadata("letter"),
            10,
            vec![text("a", 2)],
            false,
            1,
        ),
        (
            all.clone(),
            metadata("number"),
            10,
            vec![text("1", 1), text("42", 1)],
            false,
            1,
        ),
        (
            all.clone(),
            metadata("tags"),
            10,
            vec![text("x", 1), text("y", 1)],
            false,
            2,
        ),
        (all.clone(), metadata("tags"), 0, vec![], true, 2),
        (
            all.clone(),
            metadata("nested.deep"),
            10,
            vec![text("true", 1)],
            false,
            2,
        ),
        (all.clone(), metadata("nested"), 10, vec![], false, 3),
        (
            parsed(json!({"term": {"realm_name": "native1"}})),
            metadata("tags"),
            10,
            vec![text("x", 1), text("y", 1)],
            false,
            1,
        ),
        (
            parsed(json!({"term": {"metadata.tags": "x"}})),
            ApiKeyField::Username,
            10,
            vec![text("user1", 1)],
            false,
            0,
        ),
        (
            parsed(json!({"term": {"username": "nobody"}})),
            metadata("letter"),
            10,
            vec![],
            false,
            0,
        ),
        // An `ids` query (what an API key's own queries are filtered to) next to the metadata
        // rows, whose tables have an `id` of their own.
        (
            parsed(json!({"ids": {"values": ["b", "c"]}})),
            metadata("tags"),
            10,
            vec![text("x", 1), text("y", 1)],
            false,
            1,
        ),
        (
            parsed(json!({"ids": {"values": ["a", "b"]}})),
            ApiKeyField::Metadata(Vec::new()),
            10,
            vec![
                text("1", 1),
                text("42", 1),
                text("a", 2),
                text("true", 1),
                text("x", 1),
                text("y", 1),
            ],
            false,
            0,
        ),
    ];
    let without_missing = store
        .count_api_keys_by(&all, &ApiKeyField::Expiration, 10, false)
        .await
        .unwrap();
    assert_eq!(
        (without_missing.values.len(), without_missing.missing),
        (2, 0)
    );
    for (query, field, limit, values, truncated, missing) in cases {
        let counts = store
            .count_api_keys_by(&query, &field, limit, true)
            .await
            .unwrap();
        assert_eq!(
            counts,
            FieldCounts {
                values,
                truncated,
                missing
            },
            "{query:?} by {field:?} (limit {limit})"
        );
    }
}

/// Queries on metadata see every way a key's metadata is written or removed: create, import,
/// update (to other metadata and to none) and deletion.
pub async fn metadata_queries_follow_updates_imports_and_deletes(store: &dyn Store) {
    create_query_keys(store).await;
    let mut imported = owned("d", "user3", "native1");
    imported.metadata = Some(r#"{"team":"blue","tags":["x"]}"#.to_owned());
    store.import_api_keys(vec![imported]).await.unwrap();
    let query = |json: Value| parsed(json);
    assert_eq!(
        query_ids(store, query(json!({"term": {"metadata.team": "blue"}}))).await,
        ["d"]
    );
    let mut a = store.api_key("a").await.unwrap().unwrap();
    a.metadata = Some(r#"{"letter":"z","team":"blue"}"#.to_owned());
    let mut d = store.api_key("d").await.unwrap().unwrap();
    d.metadata = None;
    store.update_api_keys(vec![a, d]).await.unwrap();
    assert_eq!(
        query_ids(store, query(json!({"term": {"metadata.team": "blue"}}))).await,
        ["a"]
    );
    assert_eq!(
        query_ids(store, query(json!({"term": {"metadata.letter": "a"}}))).await,
        ["b"]
    );
    let mut tagged = query_ids(store, query(json!({"exists": {"field": "metadata.tags"}}))).await;
    tagged.sort();
    assert_eq!(tagged, ["b"]);
    // `b` was invalidated at CREATED + 2.
    assert_eq!(
        store
            .delete_inactive_api_keys(CREATED + 3, 100)
            .await
            .unwrap(),
        1
    );
    let counts = store
        .count_api_keys_by(
            &Query::MatchAll,
            &ApiKeyField::Metadata(vec!["tags".to_owned()]),
            10,
            true,
        )
        .await
        .unwrap();
    assert_eq!((counts.values.len(), counts.missing), (0, 3));
}

/// A one-clause query (the shape a backend may answer from maintained counts or an index
/// range) totals and pages exactly as the same clause inside a `bool` does, through creates,
/// imports, updates of the owner and the metadata, invalidation and deletion; counts by field
/// over every key agree with counts over a condition every key meets.
pub async fn query_totals_and_pages_follow_every_write(store: &dyn Store) {
    let mut a = owned("a", "user1", "native1");
    a.creation = CREATED + 5;
    a.metadata = Some(r#"{"team":"blue","tags":["x","x","y"]}"#.to_owned());
    let mut b = owned("b", "user2", "file");
    b.key_type = ApiKeyType::CrossCluster;
    b.metadata = Some(r#"{"team":"red"}"#.to_owned());
    let mut c = owned("c", "user1", "native1");
    c.creation = CREATED + 1;
    c.metadata = Some(r#"{"team":"blue"}"#.to_owned());
    create_all(store, [a, b, c]).await;
    let mut d = owned("d", "user2", "native1");
    d.creation = CREATED + 5;
    d.metadata = Some(r#"{"team":"blue","tags":["x"]}"#.to_owned());
    store.import_api_keys(vec![d]).await.unwrap();
    check_totals(store, "created").await;

    let mut a = store.api_key("a").await.unwrap().unwrap();
    a.creator.principal = "user2".to_owned();
    a.metadata = Some(r#"{"team":"red"}"#.to_owned());
    store.update_api_keys(vec![a]).await.unwrap();
    check_totals(store, "updated").await;

    let ids = ["b".to_owned(), "c".to_owned()];
    store.invalidate_api_keys(&ids, CREATED + 10).await.unwrap();
    check_totals(store, "invalidated").await;

    assert_eq!(
        store
            .delete_inactive_api_keys(CREATED + 10, 100)
            .await
            .unwrap(),
        2
    );
    check_totals(store, "deleted").await;
}

async fn check_totals(store: &dyn Store, step: &str) {
    let clauses = [
        json!({"term": {"username": "user1"}}),
        json!({"term": {"username": "user2"}}),
        json!({"terms": {"username": ["user1", "user2", "user1"]}}),
        json!({"term": {"realm_name": "native1"}}),
        json!({"term": {"type": "rest"}}),
        json!({"term": {"type": "cross_cluster"}}),
        json!({"term": {"invalidated": true}}),
        json!({"term": {"invalidated": false}}),
        json!({"term": {"metadata.team": "blue"}}),
        json!({"term": {"metadata.team": "red"}}),
        json!({"term": {"metadata.tags": "x"}}),
    ];
    for clause in clauses {
        // `must_not` of an id no key has: a condition no backend shortcut recognises.
        let wrapped =
            json!({"bool": {"filter": [clause], "must_not": [{"ids": {"values": ["none"]}}]}});
        for (from, size) in [(0, 100), (1, 1), (1, 2)] {
            let page = |query: &Value| ApiKeyQuery {
                query: parsed(query.clone()),
                from,
                size,
                ..ApiKeyQuery::default()
            };
            let direct = store.query_api_keys(&page(&clause)).await.unwrap();
            let general = store.query_api_keys(&page(&wrapped)).await.unwrap();
            let ids = |found: &crate::QueryPage| {
                found
                    .records
                    .iter()
                    .map(|record| record.id.clone())
                    .collect::<Vec<_>>()
            };
            assert_eq!(
                (direct.total, ids(&direct)),
                (general.total, ids(&general)),
                "{step}: {clause} from {from} size {size}"
            );
            if size == 100 {
                assert_eq!(
                    direct.total,
                    direct.records.len() as u64,
                    "{step}: {clause}"
                );
            }
        }
    }
    let every = parsed(json!({"exists": {"field": "creation"}}));
    for field in [
        ApiKeyField::Username,
        ApiKeyField::RealmName,
        ApiKeyField::Type,
        ApiKeyField::Invalidated,
    ] {
        let all = store
            .count_api_keys_by(&Query::MatchAll, &field, 100, true)
            .await
            .unwrap();
        let met = store
            .count_api_keys_by(&every, &field, 100, true)
            .await
            .unwrap();
        assert_eq!(all, met, "{step}: counts by {field:?}");
    }
}

async fn create_all(store: &dyn Store, records: impl IntoIterator<Item = ApiKeyRecord>) {
    for record in records {
        let id = record.id.clone();
        if let Err(err) = store.create_api_key(record).await {
            panic!("cannot create [{id}]: {err}");
        }
    }
}

async fn ids(store: &dyn Store, filter: &ApiKeyFilter) -> Vec<String> {
    match store.find_api_keys(filter).await {
        Ok(records) => records.into_iter().map(|record| record.id).collect(),
        Err(err) => panic!("find {filter:?} failed: {err}"),
    }
}

fn named(id: &str, name: &str) -> ApiKeyRecord {
    ApiKeyRecord {
        name: name.to_owned(),
        ..sample_key(id)
    }
}

fn owned(id: &str, principal: &str, realm: &str) -> ApiKeyRecord {
    let mut record = sample_key(id);
    record.creator.principal = principal.to_owned();
    record.creator.realm = realm.to_owned();
    record
}

fn expiring(id: &str, expiration: Option<EpochMillis>) -> ApiKeyRecord {
    ApiKeyRecord {
        expiration,
        ..sample_key(id)
    }
}

fn json_object(text: &str) -> Map<String, Value> {
    match serde_json::from_str(text) {
        Ok(Value::Object(map)) => map,
        other => panic!("not a JSON object: {other:?}"),
    }
}

fn sample_token(
    access: &str,
    refresh: Option<&str>,
    username: &str,
    creation: EpochMillis,
) -> TokenRecord {
    TokenRecord {
        access_hash: access.to_owned(),
        refresh_hash: refresh.map(str::to_owned),
        username: username.to_owned(),
        realm: "default_native".to_owned(),
        realm_type: "native".to_owned(),
        creation,
        expiration: creation + 1_200_000,
        invalidated: false,
        refreshed: false,
        seq: 1,
    }
}

/// A token is found by its access digest and by its refresh digest, and reads back as written.
pub async fn tokens_create_and_get_by_either_digest(store: &dyn Store) {
    let record = sample_token("a1", Some("r1"), "alice", CREATED);
    store.create_token(record.clone()).await.unwrap();
    assert_eq!(store.token("a1").await.unwrap(), Some(record.clone()));
    assert_eq!(store.token_by_refresh("r1").await.unwrap(), Some(record));
    assert_eq!(store.token("r1").await.unwrap(), None);
    assert_eq!(store.token_by_refresh("a1").await.unwrap(), None);
    let without_refresh = sample_token("a2", None, "alice", CREATED);
    store.create_token(without_refresh.clone()).await.unwrap();
    assert_eq!(store.token("a2").await.unwrap(), Some(without_refresh));
}

/// A refresh succeeds once for the seq it read; the replacement is written with it, and a second
/// refresh with the same seq writes nothing.
pub async fn tokens_refresh_is_compare_and_set(store: &dyn Store) {
    store
        .create_token(sample_token("a1", Some("r1"), "alice", CREATED))
        .await
        .unwrap();
    let replacement = sample_token("a2", Some("r2"), "alice", CREATED + 1);
    assert_eq!(
        store
            .refresh_token("r1", 1, replacement.clone())
            .await
            .unwrap(),
        UpdateOutcome::Updated
    );
    let old = store.token("a1").await.unwrap().unwrap();
    assert!(old.refreshed);
    assert_eq!(old.seq, 2);
    assert_eq!(store.token("a2").await.unwrap(), Some(replacement));
    let again = sample_token("a3", Some("r3"), "alice", CREATED + 2);
    assert_eq!(
        store.refresh_token("r1", 1, again).await.unwrap(),
        UpdateOutcome::Conflict
    );
    assert_eq!(store.token("a3").await.unwrap(), None);
    let missing = sample_token("a4", Some("r4"), "alice", CREATED + 2);
    assert_eq!(
        store.refresh_token("nope", 1, missing).await.unwrap(),
        UpdateOutcome::Conflict
    );
}

/// Invalidation by access digest, refresh digest, user and realm counts changed and already
/// invalidated tokens separately.
pub async fn tokens_invalidate_by_digest_and_owner(store: &dyn Store) {
    for (access, refresh, user) in [
        ("a1", "r1", "alice"),
        ("a2", "r2", "alice"),
        ("a3", "r3", "bob"),
    ] {
        store
            .create_token(sample_token(access, Some(refresh), user, CREATED))
            .await
            .unwrap();
    }
    let count = |invalidated, previously_invalidated| TokenInvalidation {
        invalidated,
        previously_invalidated,
    };
    let access = TokenSelector::Access("a1".to_owned());
    assert_eq!(store.invalidate_tokens(&access).await.unwrap(), count(1, 0));
    assert_eq!(store.invalidate_tokens(&access).await.unwrap(), count(0, 1));
    assert!(store.token("a1").await.unwrap().unwrap().invalidated);
    let refresh = TokenSelector::Refresh("r1".to_owned());
    assert_eq!(
        store.invalidate_tokens(&refresh).await.unwrap(),
        count(0, 1)
    );
    let unknown = TokenSelector::Access("zz".to_owned());
    assert_eq!(
        store.invalidate_tokens(&unknown).await.unwrap(),
        count(0, 0)
    );
    let alice = TokenSelector::Owner {
        username: Some("alice".to_owned()),
        realm: None,
    };
    assert_eq!(store.invalidate_tokens(&alice).await.unwrap(), count(1, 1));
    assert!(!store.token("a3").await.unwrap().unwrap().invalidated);
    let realm = TokenSelector::Owner {
        username: None,
        realm: Some("default_native".to_owned()),
    };
    assert_eq!(store.invalidate_tokens(&realm).await.unwrap(), count(1, 2));
    let other_realm = TokenSelector::Owner {
        username: Some("bob".to_owned()),
        realm: Some("file".to_owned()),
    };
    assert_eq!(
        store.invalidate_tokens(&other_realm).await.unwrap(),
        count(0, 0)
    );
}

/// Tokens created at or before the cutoff are deleted, later ones kept.
pub async fn tokens_delete_created_before(store: &dyn Store) {
    store
        .create_token(sample_token("a1", Some("r1"), "alice", CREATED))
        .await
        .unwrap();
    store
        .create_token(sample_token("a2", None, "alice", CREATED + 10))
        .await
        .unwrap();
    assert_eq!(
        store.delete_tokens_created_before(CREATED).await.unwrap(),
        1
    );
    assert_eq!(store.token("a1").await.unwrap(), None);
    assert!(store.token("a2").await.unwrap().is_some());
}

fn sample_service_token(account: &str, name: &str) -> ServiceTokenRecord {
    ServiceTokenRecord {
        account: account.to_owned(),
        name: name.to_owned(),
        hash: format!("{{PBKDF2_STRETCH}}10000$c2FsdA==${name}"),
        creation: CREATED,
        creator: "elastic".to_owned(),
        creator_realm: "reserved".to_owned(),
    }
}

/// A service token reads back as written, by account and name; an account lists its tokens by
/// name and no other account's.
pub async fn service_tokens_create_get_and_list(store: &dyn Store) {
    let fleet_b = sample_service_token("elastic/fleet-server", "b");
    let fleet_a = sample_service_token("elastic/fleet-server", "a");
    let kibana_a = sample_service_token("elastic/kibana", "a");
    for record in [&fleet_b, &fleet_a, &kibana_a] {
        store.create_service_token(record.clone()).await.unwrap();
    }
    assert_eq!(
        store
            .service_token("elastic/fleet-server", "a")
            .await
            .unwrap(),
        Some(fleet_a.clone())
    );
    assert_eq!(
        store.service_token("elastic/kibana", "b").await.unwrap(),
        None
    );
    assert_eq!(
        store.service_tokens("elastic/fleet-server").await.unwrap(),
        vec![fleet_a, fleet_b]
    );
    assert_eq!(
        store.service_tokens("elastic/kibana").await.unwrap(),
        vec![kibana_a]
    );
    assert!(
        store
            .service_tokens("elastic/auto-ops")
            .await
            .unwrap()
            .is_empty()
    );
}

/// A second token of the same name in one account is refused and the first one kept; the same
/// name in another account is a different token.
pub async fn service_tokens_duplicate_name_is_already_exists(store: &dyn Store) {
    let first = sample_service_token("elastic/fleet-server", "t");
    store.create_service_token(first.clone()).await.unwrap();
    let mut second = sample_service_token("elastic/fleet-server", "t");
    second.hash = "{PBKDF2_STRETCH}10000$c2FsdA==$other".to_owned();
    let err = store.create_service_token(second).await.unwrap_err();
    assert!(matches!(err, Error::AlreadyExists(_)), "{err:?}");
    assert_eq!(
        store
            .service_token("elastic/fleet-server", "t")
            .await
            .unwrap(),
        Some(first)
    );
    store
        .create_service_token(sample_service_token("elastic/kibana", "t"))
        .await
        .unwrap();
}

/// Deleting a token removes it alone and reports whether there was one.
pub async fn service_tokens_delete(store: &dyn Store) {
    store
        .create_service_token(sample_service_token("elastic/fleet-server", "a"))
        .await
        .unwrap();
    let kept = sample_service_token("elastic/fleet-server", "b");
    store.create_service_token(kept.clone()).await.unwrap();
    assert!(
        store
            .delete_service_token("elastic/fleet-server", "a")
            .await
            .unwrap()
    );
    assert!(
        !store
            .delete_service_token("elastic/fleet-server", "a")
            .await
            .unwrap()
    );
    assert!(
        !store
            .delete_service_token("elastic/kibana", "b")
            .await
            .unwrap()
    );
    assert_eq!(
        store
            .service_token("elastic/fleet-server", "a")
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store.service_tokens("elastic/fleet-server").await.unwrap(),
        vec![kept]
    );
    // The name is free again.
    store
        .create_service_token(sample_service_token("elastic/fleet-server", "a"))
        .await
        .unwrap();
}

fn sample_profile(uid: &str, username: &str) -> ProfileRecord {
    ProfileRecord {
        uid: uid.to_owned(),
        username: username.to_owned(),
        realm_name: "native".to_owned(),
        realm_type: "native".to_owned(),
        roles: vec!["superuser".to_owned(), "viewer".to_owned()],
        full_name: Some("Juan Pérez".to_owned()),
        email: None,
        enabled: true,
        last_synchronized: CREATED,
        labels: r#"{"kibana":{"spaces":"demo"}}"#.to_owned(),
        data: "{}".to_owned(),
        seq: 1,
    }
}

/// A created profile reads back field for field, with `seq` 1 whatever it was given.
pub async fn profiles_create_and_get(store: &dyn Store) {
    let mut juan = sample_profile("u_juan_0", "juan");
    juan.seq = 42;
    let ana = ProfileRecord {
        email: Some("ana@example.com".to_owned()),
        full_name: None,
        enabled: false,
        data: r#"{"app":{"theme":"dark"}}"#.to_owned(),
        roles: Vec::new(),
        ..sample_profile("u_ana_0", "ana")
    };
    store.create_profile(juan.clone()).await.unwrap();
    store.create_profile(ana.clone()).await.unwrap();
    juan.seq = 1;
    assert_eq!(
        store
            .profiles(&["u_juan_0".to_owned(), "u_missing_0".to_owned()])
            .await
            .unwrap(),
        vec![juan.clone()]
    );
    assert_eq!(
        store
            .profiles(&["u_juan_0".to_owned(), "u_ana_0".to_owned()])
            .await
            .unwrap(),
        vec![ana, juan]
    );
    assert!(store.profiles(&[]).await.unwrap().is_empty());
}

/// A second profile with a taken uid is refused and leaves the first as it was.
pub async fn profiles_duplicate_uid_is_already_exists(store: &dyn Store) {
    let first = sample_profile("u_juan_0", "juan");
    store.create_profile(first.clone()).await.unwrap();
    let err = store
        .create_profile(sample_profile("u_juan_0", "other"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::AlreadyExists(_)), "{err:?}");
    assert_eq!(
        store.profiles(&["u_juan_0".to_owned()]).await.unwrap(),
        vec![first]
    );
}

/// Profiles are found by username, sorted by username then uid.
pub async fn profiles_of_users_find_by_username(store: &dyn Store) {
    let juan_file = ProfileRecord {
        realm_name: "file".to_owned(),
        realm_type: "file".to_owned(),
        ..sample_profile("u_juan_1", "juan")
    };
    let juan = sample_profile("u_juan_0", "juan");
    let ana = sample_profile("u_ana_0", "ana");
    for record in [juan_file.clone(), ana.clone(), juan.clone()] {
        store.create_profile(record).await.unwrap();
    }
    assert_eq!(
        store
            .profiles_of_users(&["juan".to_owned(), "ana".to_owned(), "nobody".to_owned()])
            .await
            .unwrap(),
        vec![ana, juan, juan_file]
    );
    assert!(
        store
            .profiles_of_users(&["nobody".to_owned()])
            .await
            .unwrap()
            .is_empty()
    );
    assert!(store.profiles_of_users(&[]).await.unwrap().is_empty());
}

/// Pages walk every profile once, in uid order (byte order).
pub async fn profiles_pages_walk_every_profile_in_uid_order(store: &dyn Store) {
    for uid in ["u_c_0", "u_a_0", "u_B_0", "u_b_0", "u_a_1"] {
        store
            .create_profile(sample_profile(uid, "someone"))
            .await
            .unwrap();
    }
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = store.profiles_page(after.as_deref(), 2).await.unwrap();
        assert!(page.len() <= 2);
        let Some(last) = page.last() else { break };
        after = Some(last.uid.clone());
        seen.extend(page.into_iter().map(|profile| profile.uid));
    }
    assert_eq!(seen, ["u_B_0", "u_a_0", "u_a_1", "u_b_0", "u_c_0"]);
    assert!(store.profiles_page(None, 0).await.unwrap().is_empty());
}

/// An update is written only over the `seq` it was read with, and increments it.
pub async fn profiles_update_compare_and_set(store: &dyn Store) {
    store
        .create_profile(sample_profile("u_juan_0", "juan"))
        .await
        .unwrap();
    let read = store.profiles(&["u_juan_0".to_owned()]).await.unwrap();
    let mut changed = read[0].clone();
    changed.enabled = false;
    changed.roles = vec!["viewer".to_owned()];
    changed.email = Some("juan@example.com".to_owned());
    changed.full_name = None;
    changed.last_synchronized = CREATED + 5;
    changed.labels = "{}".to_owned();
    changed.data = r#"{"app":{"n":1}}"#.to_owned();
    assert_eq!(
        store.update_profile(changed.clone()).await.unwrap(),
        UpdateOutcome::Updated
    );
    // The same seq again: the profile changed since it was read.
    let mut stale = changed.clone();
    stale.data = "{}".to_owned();
    assert_eq!(
        store.update_profile(stale).await.unwrap(),
        UpdateOutcome::Conflict
    );
    changed.seq = 2;
    assert_eq!(
        store.profiles(&["u_juan_0".to_owned()]).await.unwrap(),
        vec![changed]
    );
    assert_eq!(
        store
            .update_profile(sample_profile("u_missing_0", "nobody"))
            .await
            .unwrap(),
        UpdateOutcome::Conflict
    );
    assert!(
        store
            .profiles(&["u_missing_0".to_owned()])
            .await
            .unwrap()
            .is_empty()
    );
}
