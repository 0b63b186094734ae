//! A [`Store`] that times every operation it forwards, by kind (read, write, query), for the
//! store latency histograms of the metrics endpoint.

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use keyward_core::EpochMillis;
use keyward_core::query::{ApiKeyField, ApiKeyQuery, Query};
use keyward_store::{
    ApiKeyCursor, ApiKeyFilter, ApiKeyRecord, AppPrivilegeRecord, Change, Error, FieldCounts,
    Notice, ProfileRecord, QueryPage, RoleMappingRecord, RoleRecord, ServiceTokenRecord, Store,
    TokenInvalidation, TokenRecord, TokenSelector, UpdateOutcome, UserChange, UserRecord,
};

use crate::metrics::{Histograms, StoreOperation};

/// `inner`, timed.
pub(crate) struct MeteredStore {
    inner: Arc<dyn Store>,
    latency: Arc<Histograms>,
}

impl MeteredStore {
    /// Times the operations of `inner` into `latency` (one series per [`StoreOperation`]).
    pub(crate) fn new(inner: Arc<dyn Store>, latency: Arc<Histograms>) -> MeteredStore {
        MeteredStore { inner, latency }
    }
}

/// Runs the store call `$call` and records its time under `$kind`.
macro_rules! timed {
    ($self:ident, $kind:ident, $call:expr) => {{
        let started = Instant::now();
        let result = $call.await;
        $self
            .latency
            .observe(StoreOperation::$kind.series(), started.elapsed());
        result
    }};
}

#[async_trait]
impl Store for MeteredStore {
    async fn create_api_key(&self, record: ApiKeyRecord) -> Result<(), Error> {
        timed!(self, Write, self.inner.create_api_key(record))
    }

    async fn api_key(&self, id: &str) -> Result<Option<ApiKeyRecord>, Error> {
        timed!(self, Read, self.inner.api_key(id))
    }

    async fn find_api_keys(&self, filter: &ApiKeyFilter) -> Result<Vec<ApiKeyRecord>, Error> {
        timed!(self, Query, self.inner.find_api_keys(filter))
    }

    async fn find_api_keys_page(
        &self,
        filter: &ApiKeyFilter,
        after: Option<&ApiKeyCursor>,
        limit: usize,
    ) -> Result<Vec<ApiKeyRecord>, Error> {
        timed!(
            self,
            Query,
            self.inner.find_api_keys_page(filter, after, limit)
        )
    }

    async fn query_api_keys(&self, query: &ApiKeyQuery) -> Result<QueryPage, Error> {
        timed!(self, Query, self.inner.query_api_keys(query))
    }

    async fn api_keys_after(
        &self,
        query: &Query,
        after_id: Option<&str>,
        limit: usize,
    ) -> Result<Vec<ApiKeyRecord>, Error> {
        timed!(
            self,
            Query,
            self.inner.api_keys_after(query, after_id, limit)
        )
    }

    async fn count_api_keys_by(
        &self,
        query: &Query,
        field: &ApiKeyField,
        limit: usize,
        with_missing: bool,
    ) -> Result<FieldCounts, Error> {
        timed!(
            self,
            Query,
            self.inner
                .count_api_keys_by(query, field, limit, with_missing)
        )
    }

    async fn update_api_keys(
        &self,
        records: Vec<ApiKeyRecord>,
    ) -> Result<Vec<UpdateOutcome>, Error> {
        timed!(self, Write, self.inner.update_api_keys(records))
    }

    async fn invalidate_api_keys(
        &self,
        ids: &[String],
        now: EpochMillis,
    ) -> Result<Vec<String>, Error> {
        timed!(self, Write, self.inner.invalidate_api_keys(ids, now))
    }

    async fn delete_inactive_api_keys(
        &self,
        cutoff: EpochMillis,
        limit: u64,
    ) -> Result<u64, Error> {
        timed!(
            self,
            Write,
            self.inner.delete_inactive_api_keys(cutoff, limit)
        )
    }

    async fn import_api_keys(&self, records: Vec<ApiKeyRecord>) -> Result<(), Error> {
        timed!(self, Write, self.inner.import_api_keys(records))
    }

    async fn user(&self, username: &str) -> Result<Option<UserRecord>, Error> {
        timed!(self, Read, self.inner.user(username))
    }

    async fn put_user(&self, user: UserRecord) -> Result<bool, Error> {
        timed!(self, Write, self.inner.put_user(user))
    }

    async fn update_user_keeping_password(&self, user: UserRecord) -> Result<bool, Error> {
        timed!(self, Write, self.inner.update_user_keeping_password(user))
    }

    async fn change_user(
        &self,
        username: &str,
        change: UserChange,
        missing: Option<UserRecord>,
    ) -> Result<bool, Error> {
        timed!(
            self,
            Write,
            self.inner.change_user(username, change, missing)
        )
    }

    async fn users(&self, names: Option<&[String]>) -> Result<Vec<UserRecord>, Error> {
        timed!(self, Query, self.inner.users(names))
    }

    async fn delete_user(&self, username: &str) -> Result<bool, Error> {
        timed!(self, Write, self.inner.delete_user(username))
    }

    async fn role(&self, name: &str) -> Result<Option<RoleRecord>, Error> {
        timed!(self, Read, self.inner.role(name))
    }

    async fn roles(&self, names: Option<&[String]>) -> Result<Vec<RoleRecord>, Error> {
        timed!(self, Query, self.inner.roles(names))
    }

    async fn put_role(&self, role: RoleRecord) -> Result<bool, Error> {
        timed!(self, Write, self.inner.put_role(role))
    }

    async fn delete_role(&self, name: &str) -> Result<bool, Error> {
        timed!(self, Write, self.inner.delete_role(name))
    }

    async fn role_mappings(
        &self,
        names: Option<&[String]>,
    ) -> Result<Vec<RoleMappingRecord>, Error> {
        timed!(self, Query, self.inner.role_mappings(names))
    }

    async fn put_role_mapping(&self, mapping: RoleMappingRecord) -> Result<bool, Error> {
        timed!(self, Write, self.inner.put_role_mapping(mapping))
    }

    async fn delete_role_mapping(&self, name: &str) -> Result<bool, Error> {
        timed!(self, Write, self.inner.delete_role_mapping(name))
    }

    async fn put_app_privileges(
        &self,
        privileges: Vec<AppPrivilegeRecord>,
    ) -> Result<Vec<(String, String, bool)>, Error> {
        timed!(self, Write, self.inner.put_app_privileges(privileges))
    }

    async fn app_privileges(
        &self,
        application: Option<&str>,
        names: Option<&[String]>,
    ) -> Result<Vec<AppPrivilegeRecord>, Error> {
        timed!(self, Query, self.inner.app_privileges(application, names))
    }

    async fn delete_app_privileges(
        &self,
        application: &str,
        names: &[String],
    ) -> Result<Vec<String>, Error> {
        timed!(
            self,
            Write,
            self.inner.delete_app_privileges(application, names)
        )
    }

    async fn create_token(&self, record: TokenRecord) -> Result<(), Error> {
        timed!(self, Write, self.inner.create_token(record))
    }

    async fn token(&self, access_hash: &str) -> Result<Option<TokenRecord>, Error> {
        timed!(self, Read, self.inner.token(access_hash))
    }

    async fn token_by_refresh(&self, refresh_hash: &str) -> Result<Option<TokenRecord>, Error> {
        timed!(self, Read, self.inner.token_by_refresh(refresh_hash))
    }

    async fn refresh_token(
        &self,
        refresh_hash: &str,
        seq: i64,
        replacement: TokenRecord,
    ) -> Result<UpdateOutcome, Error> {
        timed!(
            self,
            Write,
            self.inner.refresh_token(refresh_hash, seq, replacement)
        )
    }

    async fn invalidate_tokens(
        &self,
        selector: &TokenSelector,
    ) -> Result<TokenInvalidation, Error> {
        timed!(self, Write, self.inner.invalidate_tokens(selector))
    }

    async fn delete_tokens_created_before(&self, cutoff: EpochMillis) -> Result<u64, Error> {
        timed!(self, Write, self.inner.delete_tokens_created_before(cutoff))
    }

    async fn create_service_token(&self, record: ServiceTokenRecord) -> Result<(), Error> {
        timed!(self, Write, self.inner.create_service_token(record))
    }

    async fn service_token(
        &self,
        account: &str,
        name: &str,
    ) -> Result<Option<ServiceTokenRecord>, Error> {
        timed!(self, Read, self.inner.service_token(account, name))
    }

    async fn service_tokens(&self, account: &str) -> Result<Vec<ServiceTokenRecord>, Error> {
        timed!(self, Read, self.inner.service_tokens(account))
    }

    async fn delete_service_token(&self, account: &str, name: &str) -> Result<bool, Error> {
        timed!(self, Write, self.inner.delete_service_token(account, name))
    }

    async fn create_profile(&self, record: ProfileRecord) -> Result<(), Error> {
        timed!(self, Write, self.inner.create_profile(record))
    }

    async fn profiles(&self, uids: &[String]) -> Result<Vec<ProfileRecord>, Error> {
        timed!(self, Read, self.inner.profiles(uids))
    }

    async fn profiles_of_users(&self, usernames: &[String]) -> Result<Vec<ProfileRecord>, Error> {
        timed!(self, Read, self.inner.profiles_of_users(usernames))
    }

    async fn profiles_page(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<ProfileRecord>, Error> {
        timed!(self, Query, self.inner.profiles_page(after, limit))
    }

    async fn update_profile(&self, record: ProfileRecord) -> Result<UpdateOutcome, Error> {
        timed!(self, Write, self.inner.update_profile(record))
    }

    async fn meta(&self, key: &str) -> Result<Option<String>, Error> {
        timed!(self, Read, self.inner.meta(key))
    }

    async fn meta_put(&self, key: &str, value: &str) -> Result<(), Error> {
        timed!(self, Write, self.inner.meta_put(key, value))
    }

    async fn meta_init(&self, key: &str, value: &str) -> Result<String, Error> {
        timed!(self, Write, self.inner.meta_init(key, value))
    }

    fn changes(&self) -> Option<tokio::sync::broadcast::Receiver<Notice>> {
        self.inner.changes()
    }

    async fn announce(&self, change: Change) -> Result<(), Error> {
        self.inner.announce(change).await
    }

    async fn lead(&self, job: &str) -> Result<bool, Error> {
        self.inner.lead(job).await
    }
}
