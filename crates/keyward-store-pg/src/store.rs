//! The [`Store`] operations on PostgreSQL.

use async_trait::async_trait;
use keyward_core::EpochMillis;
use keyward_store::{
    ApiKeyCursor, ApiKeyFilter, ApiKeyRecord, AppPrivilegeRecord, Change, Error, FieldCounts,
    NamePattern, Notice, ProfileRecord, QueryPage, RoleMappingRecord, RoleRecord,
    ServiceTokenRecord, Store, TokenInvalidation, TokenRecord, TokenSelector, UpdateOutcome,
    UserChange, UserRecord,
};
use tokio_postgres::IsolationLevel;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;

use crate::PostgresStore;
use crate::error::{PgResultExt, pg_error};
use crate::query_sql::{self, Param, params};
use crate::rows::{
    API_KEY_COLUMNS, ApiKeyValues, INSERT_API_KEY, SELECT_FOR_UPDATE, TOKEN_COLUMNS,
    UPDATE_API_KEY, USER_COLUMNS, api_key_from_row, app_privilege_from_row, json_list,
    role_from_row, role_mapping_from_row, token_from_row, user_from_row,
};

#[async_trait]
impl Store for PostgresStore {
    async fn create_api_key(&self, record: ApiKeyRecord) -> Result<(), Error> {
        let values = ApiKeyValues::new(record)?;
        let client = self.client().await?;
        retrying(|| insert_api_key(&client, &values)).await
    }

    async fn api_key(&self, id: &str) -> Result<Option<ApiKeyRecord>, Error> {
        self.row_by_key(
            &format!("SELECT {API_KEY_COLUMNS} FROM api_keys WHERE id = $1"),
            id,
            api_key_from_row,
        )
        .await
    }

    async fn find_api_keys(&self, filter: &ApiKeyFilter) -> Result<Vec<ApiKeyRecord>, Error> {
        let Some(find) = FindSql::new(filter) else {
            return Ok(Vec::new());
        };
        let client = self.client().await?;
        let rows = client
            .query_typed(find.select(None).as_str(), &params(&find.values))
            .await
            .pg()?;
        rows.iter().map(api_key_from_row).collect()
    }

    async fn find_api_keys_page(
        &self,
        filter: &ApiKeyFilter,
        after: Option<&ApiKeyCursor>,
        limit: usize,
    ) -> Result<Vec<ApiKeyRecord>, Error> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let Some(mut find) = FindSql::new(filter) else {
            return Ok(Vec::new());
        };
        if let Some(after) = after {
            find.after(after);
        }
        let client = self.client().await?;
        let rows = client
            .query_typed(find.select(Some(limit)).as_str(), &params(&find.values))
            .await
            .pg()?;
        rows.iter().map(api_key_from_row).collect()
    }

    async fn query_api_keys(
        &self,
        query: &keyward_core::query::ApiKeyQuery,
    ) -> Result<QueryPage, Error> {
        let statements = query_sql::translate(query, API_KEY_COLUMNS)?;
        let mut client = self.client().await?;
        let transaction = snapshot(&mut client).await?;
        let page = query_sql::run(&*transaction, &statements).await?;
        transaction.commit().await.pg()?;
        Ok(page)
    }

    async fn api_keys_after(
        &self,
        query: &keyward_core::query::Query,
        after_id: Option<&str>,
        limit: usize,
    ) -> Result<Vec<ApiKeyRecord>, Error> {
        let (sql, values) = query_sql::translate_batch(query, API_KEY_COLUMNS, after_id, limit)?;
        let client = self.client().await?;
        let rows = client
            .query_typed(sql.as_str(), &params(&values))
            .await
            .pg()?;
        rows.iter().map(api_key_from_row).collect()
    }

    async fn count_api_keys_by(
        &self,
        query: &keyward_core::query::Query,
        field: &keyward_core::query::ApiKeyField,
        limit: usize,
        with_missing: bool,
    ) -> Result<FieldCounts, Error> {
        let mut statements = query_sql::translate_counts(query, field, limit)?;
        if !with_missing {
            statements.skip_missing();
        }
        let mut client = self.client().await?;
        let transaction = snapshot(&mut client).await?;
        let counts = query_sql::run_counts(&*transaction, &statements).await?;
        transaction.commit().await.pg()?;
        Ok(counts)
    }

    async fn update_api_keys(
        &self,
        records: Vec<ApiKeyRecord>,
    ) -> Result<Vec<UpdateOutcome>, Error> {
        if records.is_empty() {
            return Ok(Vec::new());
        }
        let records = records
            .into_iter()
            .map(|record| Ok((record.seq, ApiKeyValues::new(record)?)))
            .collect::<Result<Vec<_>, Error>>()?;
        let (outcomes, released) = retrying(|| self.try_update_api_keys(&records)).await?;
        self.collect_descriptors(released).await;
        Ok(outcomes)
    }

    async fn invalidate_api_keys(
        &self,
        ids: &[String],
        now: EpochMillis,
    ) -> Result<Vec<String>, Error> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut client = self.client().await?;
        let transaction = client.transaction().await.pg()?;
        let statement = transaction
            .prepare_cached(
                "UPDATE api_keys SET invalidated = 1, invalidation = $2, seq = seq + 1 \
                 WHERE id = ANY($1) AND invalidated = 0 RETURNING id",
            )
            .await
            .pg()?;
        let rows = transaction.query(&statement, &[&ids, &now]).await.pg()?;
        let mut changed_set = std::collections::HashSet::new();
        for row in &rows {
            let id: String = row
                .try_get(0)
                .map_err(|err| Error::Corrupt(err.to_string()))?;
            changed_set.insert(id);
        }
        // In the order asked, a repeated id once.
        let mut changed = Vec::with_capacity(changed_set.len());
        for id in ids {
            if changed_set.remove(id) {
                changed.push(id.clone());
            }
        }
        self.commit(
            transaction,
            (!changed.is_empty()).then(|| Change::ApiKeys(changed.clone())),
        )
        .await?;
        Ok(changed)
    }

    async fn delete_inactive_api_keys(
        &self,
        cutoff: EpochMillis,
        limit: u64,
    ) -> Result<u64, Error> {
        // One statement per index, each reading only the keys it deletes. Like Elasticsearch's
        // remover, an invalidated key without an invalidation time counts as invalidated long
        // ago. Each takes what is left of `limit`.
        let statements = [
            "DELETE FROM api_keys WHERE id IN \
             (SELECT id FROM api_keys WHERE expiration <= $1 LIMIT $2) \
             RETURNING id, role_descriptors_id, limited_by_id, creator_id",
            "DELETE FROM api_keys WHERE id IN \
             (SELECT id FROM api_keys WHERE invalidation <= $1 LIMIT $2) \
             RETURNING id, role_descriptors_id, limited_by_id, creator_id",
            "DELETE FROM api_keys WHERE id IN \
             (SELECT id FROM api_keys WHERE invalidated = 1 AND invalidation IS NULL \
             AND $1::int8 IS NOT NULL LIMIT $2) \
             RETURNING id, role_descriptors_id, limited_by_id, creator_id",
        ];
        let mut client = self.client().await?;
        let transaction = client.transaction().await.pg()?;
        let mut deleted: Vec<String> = Vec::new();
        let mut released: Vec<i64> = Vec::new();
        for sql in statements {
            let left = limit.saturating_sub(deleted.len() as u64);
            if left == 0 {
                break;
            }
            let left = i64::try_from(left).unwrap_or(i64::MAX);
            let statement = transaction.prepare_cached(sql).await.pg()?;
            for row in transaction
                .query(&statement, &[&cutoff, &left])
                .await
                .pg()?
            {
                deleted.push(
                    row.try_get(0)
                        .map_err(|err| Error::Corrupt(err.to_string()))?,
                );
                for column in 1..=3 {
                    released.push(
                        row.try_get(column)
                            .map_err(|err| Error::Corrupt(err.to_string()))?,
                    );
                }
            }
        }
        let count = deleted.len() as u64;
        self.commit(
            transaction,
            (!deleted.is_empty()).then_some(Change::ApiKeys(deleted)),
        )
        .await?;
        self.collect_descriptors(released).await;
        Ok(count)
    }

    async fn import_api_keys(&self, records: Vec<ApiKeyRecord>) -> Result<(), Error> {
        if records.is_empty() {
            return Ok(());
        }
        let records = records
            .into_iter()
            .map(ApiKeyValues::new)
            .collect::<Result<Vec<_>, Error>>()?;
        retrying(|| self.try_import_api_keys(&records)).await
    }

    async fn user(&self, username: &str) -> Result<Option<UserRecord>, Error> {
        self.row_by_key(
            &format!("SELECT {USER_COLUMNS} FROM users WHERE username = $1"),
            username,
            user_from_row,
        )
        .await
    }

    async fn put_user(&self, user: UserRecord) -> Result<bool, Error> {
        let roles = json_list(&user.roles)?;
        let mut client = self.client().await?;
        let transaction = client.transaction().await.pg()?;
        let statement = transaction
            .prepare_cached(
                "INSERT INTO users (username, password_hash, roles, full_name, email, metadata, enabled, seq) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, 1) \
                 ON CONFLICT (username) DO UPDATE SET \
                 password_hash = excluded.password_hash, roles = excluded.roles, \
                 full_name = excluded.full_name, email = excluded.email, \
                 metadata = excluded.metadata, enabled = excluded.enabled, seq = users.seq + 1 \
                 RETURNING (xmax = 0)",
            )
            .await
            .pg()?;
        let row = transaction
            .query_one(
                &statement,
                &[
                    &user.username,
                    &user.password_hash,
                    &roles,
                    &user.full_name,
                    &user.email,
                    &user.metadata,
                    &user.enabled,
                ],
            )
            .await
            .pg()?;
        let inserted: bool = row
            .try_get(0)
            .map_err(|err| Error::Corrupt(err.to_string()))?;
        self.commit(transaction, Some(Change::Users(vec![user.username])))
            .await?;
        Ok(inserted)
    }

    async fn update_user_keeping_password(&self, user: UserRecord) -> Result<bool, Error> {
        let roles = json_list(&user.roles)?;
        let mut client = self.client().await?;
        let transaction = client.transaction().await.pg()?;
        let statement = transaction
            .prepare_cached(
                "UPDATE users SET roles = $2, full_name = $3, email = $4, metadata = $5, \
                 enabled = $6, seq = seq + 1 WHERE username = $1",
            )
            .await
            .pg()?;
        let updated = transaction
            .execute(
                &statement,
                &[
                    &user.username,
                    &roles,
                    &user.full_name,
                    &user.email,
                    &user.metadata,
                    &user.enabled,
                ],
            )
            .await
            .pg()?;
        let changed = updated > 0;
        self.commit(
            transaction,
            changed.then(|| Change::Users(vec![user.username.clone()])),
        )
        .await?;
        Ok(changed)
    }

    async fn change_user(
        &self,
        username: &str,
        change: UserChange,
        missing: Option<UserRecord>,
    ) -> Result<bool, Error> {
        let mut client = self.client().await?;
        let transaction = client.transaction().await.pg()?;
        let statement = transaction
            .prepare_cached(
                "UPDATE users SET password_hash = coalesce($2, password_hash), \
                 enabled = coalesce($3, enabled), seq = seq + 1 WHERE username = $1",
            )
            .await
            .pg()?;
        let updated = transaction
            .execute(
                &statement,
                &[&username, &change.password_hash, &change.enabled],
            )
            .await
            .pg()?;
        let changed = if updated > 0 {
            true
        } else if let Some(record) = missing {
            let roles = json_list(&record.roles)?;
            // A writer that stored the user since the update found none wins the insert; the
            // change then applies to what it stored, as it would have a moment later.
            let statement = transaction
                .prepare_cached(
                    "INSERT INTO users (username, password_hash, roles, full_name, email, metadata, enabled, seq) \
                     VALUES ($1, coalesce($8::text, $2::text), $3, $4, $5, $6, \
                     coalesce($9::boolean, $7::boolean), 1) \
                     ON CONFLICT (username) DO UPDATE SET \
                     password_hash = coalesce($8, users.password_hash), \
                     enabled = coalesce($9, users.enabled), seq = users.seq + 1",
                )
                .await
                .pg()?;
            transaction
                .execute(
                    &statement,
                    &[
                        &username,
                        &record.password_hash,
                        &roles,
                        &record.full_name,
                        &record.email,
                        &record.metadata,
                        &record.enabled,
                        &change.password_hash,
                        &change.enabled,
                    ],
                )
                .await
                .pg()?;
            true
        } else {
            false
        };
        self.commit(
            transaction,
            changed.then(|| Change::Users(vec![username.to_owned()])),
        )
        .await?;
        Ok(changed)
    }

    async fn users(&self, names: Option<&[String]>) -> Result<Vec<UserRecord>, Error> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached(&format!(
                "SELECT {USER_COLUMNS} FROM users \
                 WHERE $1::text[] IS NULL OR username = ANY($1) ORDER BY username"
            ))
            .await
            .pg()?;
        let rows = client.query(&statement, &[&names]).await.pg()?;
        rows.iter().map(user_from_row).collect()
    }

    async fn delete_user(&self, username: &str) -> Result<bool, Error> {
        let mut client = self.client().await?;
        let transaction = client.transaction().await.pg()?;
        let statement = transaction
            .prepare_cached("DELETE FROM users WHERE username = $1")
            .await
            .pg()?;
        let deleted = transaction.execute(&statement, &[&username]).await.pg()? > 0;
        self.commit(
            transaction,
            deleted.then(|| Change::Users(vec![username.to_owned()])),
        )
        .await?;
        Ok(deleted)
    }

    async fn role(&self, name: &str) -> Result<Option<RoleRecord>, Error> {
        self.row_by_key(
            "SELECT name, descriptor, seq FROM roles WHERE name = $1",
            name,
            role_from_row,
        )
        .await
    }

    async fn roles(&self, names: Option<&[String]>) -> Result<Vec<RoleRecord>, Error> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached(
                "SELECT name, descriptor, seq FROM roles \
                 WHERE $1::text[] IS NULL OR name = ANY($1) ORDER BY name",
            )
            .await
            .pg()?;
        let rows = client.query(&statement, &[&names]).await.pg()?;
        rows.iter().map(role_from_row).collect()
    }

    async fn put_role(&self, role: RoleRecord) -> Result<bool, Error> {
        let mut client = self.client().await?;
        let transaction = client.transaction().await.pg()?;
        let statement = transaction
            .prepare_cached(
                "INSERT INTO roles (name, descriptor, seq) VALUES ($1, $2, 1) \
                 ON CONFLICT (name) DO UPDATE SET descriptor = excluded.descriptor, \
                 seq = roles.seq + 1 RETURNING (xmax = 0)",
            )
            .await
            .pg()?;
        let row = transaction
            .query_one(&statement, &[&role.name, &role.descriptor])
            .await
            .pg()?;
        let inserted: bool = row
            .try_get(0)
            .map_err(|err| Error::Corrupt(err.to_string()))?;
        self.commit(transaction, Some(Change::Roles)).await?;
        Ok(inserted)
    }

    async fn delete_role(&self, name: &str) -> Result<bool, Error> {
        let mut client = self.client().await?;
        let transaction = client.transaction().await.pg()?;
        let statement = transaction
            .prepare_cached("DELETE FROM roles WHERE name = $1")
            .await
            .pg()?;
        let deleted = transaction.execute(&statement, &[&name]).await.pg()? > 0;
        self.commit(transaction, deleted.then_some(Change::Roles))
            .await?;
        Ok(deleted)
    }

    async fn role_mappings(
        &self,
        names: Option<&[String]>,
    ) -> Result<Vec<RoleMappingRecord>, Error> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached(
                "SELECT name, mapping, seq FROM role_mappings \
                 WHERE $1::text[] IS NULL OR name = ANY($1) ORDER BY name",
            )
            .await
            .pg()?;
        let rows = client.query(&statement, &[&names]).await.pg()?;
        rows.iter().map(role_mapping_from_row).collect()
    }

    // No realm of keyward's applies role mappings and no node caches them, so their writes
    // announce nothing: every read goes to the shared database.
    async fn put_role_mapping(&self, mapping: RoleMappingRecord) -> Result<bool, Error> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached(
                "INSERT INTO role_mappings (name, mapping, seq) VALUES ($1, $2, 1) \
                 ON CONFLICT (name) DO UPDATE SET mapping = excluded.mapping, \
                 seq = role_mappings.seq + 1 RETURNING (xmax = 0)",
            )
            .await
            .pg()?;
        let row = client
            .query_one(&statement, &[&mapping.name, &mapping.mapping])
            .await
            .pg()?;
        row.try_get(0)
            .map_err(|err| Error::Corrupt(err.to_string()))
    }

    async fn delete_role_mapping(&self, name: &str) -> Result<bool, Error> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached("DELETE FROM role_mappings WHERE name = $1")
            .await
            .pg()?;
        Ok(client.execute(&statement, &[&name]).await.pg()? > 0)
    }

    async fn put_app_privileges(
        &self,
        privileges: Vec<AppPrivilegeRecord>,
    ) -> Result<Vec<(String, String, bool)>, Error> {
        if privileges.is_empty() {
            return Ok(Vec::new());
        }
        let mut client = self.client().await?;
        let transaction = client.transaction().await.pg()?;
        let statement = transaction
            .prepare_cached(
                "INSERT INTO app_privileges (application, name, actions, metadata, seq) \
                 VALUES ($1, $2, $3, $4, 1) \
                 ON CONFLICT (application, name) DO UPDATE SET actions = excluded.actions, \
                 metadata = excluded.metadata, seq = app_privileges.seq + 1 RETURNING (xmax = 0)",
            )
            .await
            .pg()?;
        let mut outcomes = Vec::with_capacity(privileges.len());
        for privilege in privileges {
            let actions = json_list(&privilege.actions)?;
            let row = transaction
                .query_one(
                    &statement,
                    &[
                        &privilege.application,
                        &privilege.name,
                        &actions,
                        &privilege.metadata,
                    ],
                )
                .await
                .pg()?;
            let inserted: bool = row
                .try_get(0)
                .map_err(|err| Error::Corrupt(err.to_string()))?;
            outcomes.push((privilege.application, privilege.name, inserted));
        }
        self.commit(transaction, Some(Change::Roles)).await?;
        Ok(outcomes)
    }

    async fn app_privileges(
        &self,
        application: Option<&str>,
        names: Option<&[String]>,
    ) -> Result<Vec<AppPrivilegeRecord>, Error> {
        let names = if application.is_some() { names } else { None };
        let client = self.client().await?;
        let statement = client
            .prepare_cached(
                "SELECT application, name, actions, metadata, seq FROM app_privileges \
                 WHERE ($1::text IS NULL OR application = $1) \
                 AND ($2::text[] IS NULL OR name = ANY($2)) ORDER BY application, name",
            )
            .await
            .pg()?;
        let rows = client
            .query(&statement, &[&application, &names])
            .await
            .pg()?;
        rows.iter().map(app_privilege_from_row).collect()
    }

    async fn delete_app_privileges(
        &self,
        application: &str,
        names: &[String],
    ) -> Result<Vec<String>, Error> {
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let mut client = self.client().await?;
        let transaction = client.transaction().await.pg()?;
        let statement = transaction
            .prepare_cached("DELETE FROM app_privileges WHERE application = $1 AND name = $2")
            .await
            .pg()?;
        let mut deleted = Vec::new();
        for name in names {
            if transaction
                .execute(&statement, &[&application, name])
                .await
                .pg()?
                > 0
            {
                deleted.push(name.clone());
            }
        }
        self.commit(transaction, (!deleted.is_empty()).then_some(Change::Roles))
            .await?;
        Ok(deleted)
    }

    async fn create_token(&self, record: TokenRecord) -> Result<(), Error> {
        let client = self.client().await?;
        insert_token(&**client, &record).await
    }

    async fn token(&self, access_hash: &str) -> Result<Option<TokenRecord>, Error> {
        self.row_by_key(
            &format!("SELECT {TOKEN_COLUMNS} FROM tokens WHERE access_hash = $1"),
            access_hash,
            token_from_row,
        )
        .await
    }

    async fn token_by_refresh(&self, refresh_hash: &str) -> Result<Option<TokenRecord>, Error> {
        self.row_by_key(
            &format!("SELECT {TOKEN_COLUMNS} FROM tokens WHERE refresh_hash = $1"),
            refresh_hash,
            token_from_row,
        )
        .await
    }

    async fn refresh_token(
        &self,
        refresh_hash: &str,
        seq: i64,
        replacement: TokenRecord,
    ) -> Result<UpdateOutcome, Error> {
        let mut client = self.client().await?;
        let transaction = client.transaction().await.pg()?;
        let statement = transaction
            .prepare_cached(
                "UPDATE tokens SET refreshed = TRUE, seq = seq + 1 \
                 WHERE refresh_hash = $1 AND seq = $2",
            )
            .await
            .pg()?;
        if transaction
            .execute(&statement, &[&refresh_hash, &seq])
            .await
            .pg()?
            != 1
        {
            // Dropping the transaction rolls it back: nothing written.
            return Ok(UpdateOutcome::Conflict);
        }
        insert_token(&*transaction, &replacement).await?;
        transaction.commit().await.pg()?;
        Ok(UpdateOutcome::Updated)
    }

    async fn invalidate_tokens(
        &self,
        selector: &TokenSelector,
    ) -> Result<TokenInvalidation, Error> {
        let (condition, values): (&str, Vec<Option<&str>>) = match selector {
            TokenSelector::Access(hash) => ("access_hash = $1", vec![Some(hash.as_str())]),
            TokenSelector::Refresh(hash) => ("refresh_hash = $1", vec![Some(hash.as_str())]),
            TokenSelector::Owner { username, realm } => (
                "($1::text IS NULL OR username = $1) AND ($2::text IS NULL OR realm = $2)",
                vec![username.as_deref(), realm.as_deref()],
            ),
        };
        let bound: Vec<&(dyn ToSql + Sync)> = values
            .iter()
            .map(|value| value as &(dyn ToSql + Sync))
            .collect();
        let mut client = self.client().await?;
        let transaction = client.transaction().await.pg()?;
        let previously = transaction
            .prepare_cached(&format!(
                "SELECT COUNT(*) FROM tokens WHERE invalidated AND {condition}"
            ))
            .await
            .pg()?;
        let previously: i64 = transaction
            .query_one(&previously, &bound)
            .await
            .pg()?
            .try_get(0)
            .map_err(|err| Error::Corrupt(err.to_string()))?;
        let update = transaction
            .prepare_cached(&format!(
                "UPDATE tokens SET invalidated = TRUE, seq = seq + 1 \
                 WHERE NOT invalidated AND {condition}"
            ))
            .await
            .pg()?;
        let invalidated = transaction.execute(&update, &bound).await.pg()?;
        transaction.commit().await.pg()?;
        Ok(TokenInvalidation {
            invalidated,
            previously_invalidated: u64::try_from(previously).unwrap_or(0),
        })
    }

    async fn delete_tokens_created_before(&self, cutoff: EpochMillis) -> Result<u64, Error> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached("DELETE FROM tokens WHERE creation <= $1")
            .await
            .pg()?;
        client.execute(&statement, &[&cutoff]).await.pg()
    }

    async fn create_service_token(&self, record: ServiceTokenRecord) -> Result<(), Error> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached(&format!(
                "INSERT INTO service_tokens ({SERVICE_TOKEN_COLUMNS}) \
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (account, name) DO NOTHING"
            ))
            .await
            .pg()?;
        let inserted = client
            .execute(
                &statement,
                &[
                    &record.account,
                    &record.name,
                    &record.hash,
                    &record.creation,
                    &record.creator,
                    &record.creator_realm,
                ],
            )
            .await
            .pg()?;
        if inserted == 0 {
            return Err(Error::AlreadyExists(format!(
                "{}/{}",
                record.account, record.name
            )));
        }
        Ok(())
    }

    async fn service_token(
        &self,
        account: &str,
        name: &str,
    ) -> Result<Option<ServiceTokenRecord>, Error> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached(&format!(
                "SELECT {SERVICE_TOKEN_COLUMNS} FROM service_tokens \
                 WHERE account = $1 AND name = $2"
            ))
            .await
            .pg()?;
        let row = client
            .query_opt(&statement, &[&account, &name])
            .await
            .pg()?;
        row.as_ref().map(service_token_from_row).transpose()
    }

    async fn service_tokens(&self, account: &str) -> Result<Vec<ServiceTokenRecord>, Error> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached(&format!(
                "SELECT {SERVICE_TOKEN_COLUMNS} FROM service_tokens \
                 WHERE account = $1 ORDER BY name"
            ))
            .await
            .pg()?;
        let rows = client.query(&statement, &[&account]).await.pg()?;
        rows.iter().map(service_token_from_row).collect()
    }

    async fn delete_service_token(&self, account: &str, name: &str) -> Result<bool, Error> {
        let mut client = self.client().await?;
        let transaction = client.transaction().await.pg()?;
        let statement = transaction
            .prepare_cached("DELETE FROM service_tokens WHERE account = $1 AND name = $2")
            .await
            .pg()?;
        let deleted = transaction
            .execute(&statement, &[&account, &name])
            .await
            .pg()?
            > 0;
        self.commit(transaction, deleted.then_some(Change::ServiceTokens))
            .await?;
        Ok(deleted)
    }

    // Profiles decide no authentication or authorization and no node caches them: their
    // writes announce nothing.
    async fn create_profile(&self, record: ProfileRecord) -> Result<(), Error> {
        let roles = json_list(&record.roles)?;
        let client = self.client().await?;
        let statement = client
            .prepare_cached(&format!(
                "INSERT INTO profiles ({PROFILE_COLUMNS}) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 1) \
                 ON CONFLICT (uid) DO NOTHING"
            ))
            .await
            .pg()?;
        let inserted = client
            .execute(&statement, &profile_params(&record, &roles))
            .await
            .pg()?;
        if inserted == 0 {
            return Err(Error::AlreadyExists(record.uid));
        }
        Ok(())
    }

    async fn profiles(&self, uids: &[String]) -> Result<Vec<ProfileRecord>, Error> {
        if uids.is_empty() {
            return Ok(Vec::new());
        }
        let client = self.client().await?;
        let statement = client
            .prepare_cached(&format!(
                "SELECT {PROFILE_COLUMNS} FROM profiles WHERE uid = ANY($1) ORDER BY uid"
            ))
            .await
            .pg()?;
        let rows = client.query(&statement, &[&uids]).await.pg()?;
        rows.iter().map(profile_from_row).collect()
    }

    async fn profiles_of_users(&self, usernames: &[String]) -> Result<Vec<ProfileRecord>, Error> {
        if usernames.is_empty() {
            return Ok(Vec::new());
        }
        let client = self.client().await?;
        let statement = client
            .prepare_cached(&format!(
                "SELECT {PROFILE_COLUMNS} FROM profiles WHERE username = ANY($1) \
                 ORDER BY username, uid"
            ))
            .await
            .pg()?;
        let rows = client.query(&statement, &[&usernames]).await.pg()?;
        rows.iter().map(profile_from_row).collect()
    }

    async fn profiles_page(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<ProfileRecord>, Error> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let client = self.client().await?;
        let statement = client
            .prepare_cached(&format!(
                "SELECT {PROFILE_COLUMNS} FROM profiles \
                 WHERE $1::text IS NULL OR uid > $1 ORDER BY uid LIMIT $2"
            ))
            .await
            .pg()?;
        let rows = client.query(&statement, &[&after, &limit]).await.pg()?;
        rows.iter().map(profile_from_row).collect()
    }

    async fn update_profile(&self, record: ProfileRecord) -> Result<UpdateOutcome, Error> {
        let roles = json_list(&record.roles)?;
        let client = self.client().await?;
        let statement = client
            .prepare_cached(
                "UPDATE profiles SET username = $2, realm_name = $3, realm_type = $4, \
                 roles = $5, full_name = $6, email = $7, enabled = $8, \
                 last_synchronized = $9, labels = $10, data = $11, seq = seq + 1 \
                 WHERE uid = $1 AND seq = $12",
            )
            .await
            .pg()?;
        let mut params = profile_params(&record, &roles).to_vec();
        params.push(&record.seq);
        let updated = client.execute(&statement, &params).await.pg()?;
        Ok(if updated == 0 {
            UpdateOutcome::Conflict
        } else {
            UpdateOutcome::Updated
        })
    }

    async fn meta(&self, key: &str) -> Result<Option<String>, Error> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached("SELECT value FROM meta WHERE key = $1")
            .await
            .pg()?;
        let row = client.query_opt(&statement, &[&key]).await.pg()?;
        row.map(|row| {
            row.try_get(0)
                .map_err(|err| Error::Corrupt(err.to_string()))
        })
        .transpose()
    }

    async fn meta_put(&self, key: &str, value: &str) -> Result<(), Error> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached(
                "INSERT INTO meta (key, value) VALUES ($1, $2) \
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            )
            .await
            .pg()?;
        client.execute(&statement, &[&key, &value]).await.pg()?;
        Ok(())
    }

    async fn meta_init(&self, key: &str, value: &str) -> Result<String, Error> {
        let client = self.client().await?;
        // One statement: the value inserted, or the one already there. A value another node
        // inserted while this statement ran is not in its snapshot: the next try reads it.
        let statement = client
            .prepare_cached(
                "WITH inserted AS (INSERT INTO meta (key, value) VALUES ($1, $2) \
                 ON CONFLICT (key) DO NOTHING RETURNING value) \
                 SELECT value FROM inserted UNION ALL \
                 SELECT value FROM meta WHERE key = $1 AND NOT EXISTS (SELECT 1 FROM inserted)",
            )
            .await
            .pg()?;
        for _ in 0..MAX_ATTEMPTS {
            if let Some(row) = client.query_opt(&statement, &[&key, &value]).await.pg()? {
                return row
                    .try_get(0)
                    .map_err(|err| Error::Corrupt(err.to_string()));
            }
        }
        Err(Error::Database(format!(
            "metadata [{key}] vanished right after it was written"
        )))
    }

    fn changes(&self) -> Option<tokio::sync::broadcast::Receiver<Notice>> {
        Some(self.feed.subscribe())
    }

    async fn announce(&self, change: Change) -> Result<(), Error> {
        let client = self.client().await?;
        let echo = self.feed.notify(&**client, change).await?;
        drop(client);
        echo.wait().await;
        Ok(())
    }

    async fn lead(&self, job: &str) -> Result<bool, Error> {
        self.feed.lead(job).await
    }
}

impl PostgresStore {
    /// The one row `sql` selects for `key` (its `$1`), mapped by `map`, if there is one.
    async fn row_by_key<T>(
        &self,
        sql: &str,
        key: &str,
        map: fn(&tokio_postgres::Row) -> Result<T, Error>,
    ) -> Result<Option<T>, Error> {
        let client = self.client().await?;
        let statement = client.prepare_cached(sql).await.pg()?;
        let row = client.query_opt(&statement, &[&key]).await.pg()?;
        row.as_ref().map(map).transpose()
    }

    /// One attempt at `import_api_keys`: one transaction.
    async fn try_import_api_keys(&self, records: &[ApiKeyValues]) -> Result<(), WriteError> {
        let mut client = self.client().await?;
        let transaction = client.transaction().await.pg()?;
        for values in records {
            insert_api_key(&transaction, values).await?;
        }
        transaction.commit().await.pg()?;
        Ok(())
    }

    /// One attempt at `update_api_keys`: one transaction; the outcomes, and the shared texts the
    /// updated keys referred to before.
    async fn try_update_api_keys(
        &self,
        records: &[(i64, ApiKeyValues)],
    ) -> Result<(Vec<UpdateOutcome>, Vec<i64>), WriteError> {
        let mut client = self.client().await?;
        let transaction = client.transaction().await.pg()?;
        let lock = transaction.prepare_cached(SELECT_FOR_UPDATE).await.pg()?;
        let update = transaction.prepare_cached(UPDATE_API_KEY).await.pg()?;
        let delete_metadata = transaction
            .prepare_cached("DELETE FROM api_key_metadata WHERE id = $1")
            .await
            .pg()?;
        let insert_metadata = transaction
            .prepare_cached(
                "INSERT INTO api_key_metadata (path, value, id) \
                 SELECT p, v, $3 FROM unnest($1::text[], $2::text[]) AS t (p, v) \
                 ON CONFLICT DO NOTHING",
            )
            .await
            .pg()?;
        let mut outcomes = Vec::with_capacity(records.len());
        let mut updated = Vec::new();
        let mut released = Vec::new();
        for (seq, values) in records {
            let Some(held) = transaction
                .query_opt(&lock, &[&values.id(), seq])
                .await
                .pg()?
            else {
                outcomes.push(UpdateOutcome::Conflict);
                continue;
            };
            for column in 0..3 {
                released.push(
                    held.try_get::<_, i64>(column)
                        .map_err(|err| Error::Corrupt(err.to_string()))?,
                );
            }
            let mut bound: Vec<&(dyn ToSql + Sync)> = values.params().to_vec();
            bound.push(seq);
            if transaction
                .execute(&update, &bound)
                .await
                .map_err(WriteError::from_pg)?
                != 1
            {
                return Err(
                    Error::Database("a key changed while it was being updated".to_owned()).into(),
                );
            }
            transaction
                .execute(&delete_metadata, &[&values.id()])
                .await
                .pg()?;
            let (paths, leaves) = &values.leaves;
            if !paths.is_empty() {
                transaction
                    .execute(&insert_metadata, &[paths, leaves, &values.id()])
                    .await
                    .pg()?;
            }
            outcomes.push(UpdateOutcome::Updated);
            updated.push(values.id().to_owned());
        }
        self.commit(
            transaction,
            (!updated.is_empty()).then_some(Change::ApiKeys(updated)),
        )
        .await?;
        Ok((outcomes, released))
    }

    /// Deletes those of `candidates` (shared texts some keys let go of) that no key refers to
    /// any more, after the write that let go of them. The table lock waits for every write that
    /// is interning texts (each holds `ROW EXCLUSIVE` on `descriptors` until it commits) and
    /// holds new ones back, so the delete sees every reference committed or coming. Best effort:
    /// a text left behind costs bytes, not correctness.
    async fn collect_descriptors(&self, mut candidates: Vec<i64>) {
        candidates.sort_unstable();
        candidates.dedup();
        if candidates.is_empty() {
            return;
        }
        if let Err(err) = self.try_collect_descriptors(&candidates).await {
            tracing::warn!(error = %err, "cannot delete unused shared texts");
        }
    }

    async fn try_collect_descriptors(&self, candidates: &[i64]) -> Result<(), Error> {
        let mut client = self.client().await?;
        let transaction = client.transaction().await.pg()?;
        transaction
            .batch_execute("LOCK TABLE descriptors IN SHARE ROW EXCLUSIVE MODE")
            .await
            .pg()?;
        let statement = transaction
            .prepare_cached(
                "DELETE FROM descriptors AS d WHERE d.descriptor_id = ANY($1) \
                 AND NOT EXISTS (SELECT 1 FROM api_keys WHERE role_descriptors_id = d.descriptor_id) \
                 AND NOT EXISTS (SELECT 1 FROM api_keys WHERE limited_by_id = d.descriptor_id) \
                 AND NOT EXISTS (SELECT 1 FROM api_keys WHERE creator_id = d.descriptor_id)",
            )
            .await
            .pg()?;
        transaction.execute(&statement, &[&candidates]).await.pg()?;
        transaction.commit().await.pg()
    }

    /// Announces `change` (when there is one) inside `transaction`, commits, and waits for the
    /// announcement to come back.
    async fn commit(
        &self,
        transaction: deadpool_postgres::Transaction<'_>,
        change: Option<Change>,
    ) -> Result<(), Error> {
        let echo = match change {
            Some(change) => Some(self.feed.notify(&*transaction, change).await?),
            None => None,
        };
        transaction.commit().await.pg()?;
        if let Some(echo) = echo {
            echo.wait().await;
        }
        Ok(())
    }
}

/// A profile's columns `$1`..`$11`, in the order of `PROFILE_COLUMNS`; `roles` is its role list
/// as JSON.
fn profile_params<'a>(
    record: &'a ProfileRecord,
    roles: &'a String,
) -> [&'a (dyn tokio_postgres::types::ToSql + Sync); 11] {
    [
        &record.uid,
        &record.username,
        &record.realm_name,
        &record.realm_type,
        roles,
        &record.full_name,
        &record.email,
        &record.enabled,
        &record.last_synchronized,
        &record.labels,
        &record.data,
    ]
}

/// A read-only transaction on one snapshot, so several statements see the same data.
async fn snapshot(
    client: &mut deadpool_postgres::Object,
) -> Result<deadpool_postgres::Transaction<'_>, Error> {
    client
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await
        .pg()
}

/// How many times a write whose shared text another write inserted meanwhile is tried.
const MAX_ATTEMPTS: u32 = 5;

/// Runs `attempt` until it does not ask to be retried, at most [`MAX_ATTEMPTS`] times.
async fn retrying<T, F>(mut attempt: impl FnMut() -> F) -> Result<T, Error>
where
    F: std::future::Future<Output = Result<T, WriteError>>,
{
    let mut attempts = 1;
    loop {
        match attempt().await {
            Err(WriteError::Retry) if attempts < MAX_ATTEMPTS => attempts += 1,
            other => return other.map_err(WriteError::into_store),
        }
    }
}

/// Why one attempt at a write failed.
enum WriteError {
    /// A shared text came under the write, or it lost a deadlock: try again.
    Retry,
    Store(Error),
}

impl WriteError {
    fn from_pg(err: tokio_postgres::Error) -> WriteError {
        if retryable(&err) {
            WriteError::Retry
        } else {
            WriteError::Store(pg_error(err))
        }
    }

    fn into_store(self) -> Error {
        match self {
            WriteError::Retry => Error::Database(format!(
                "shared texts kept appearing under the write in {MAX_ATTEMPTS} attempts"
            )),
            WriteError::Store(err) => err,
        }
    }
}

impl From<Error> for WriteError {
    fn from(err: Error) -> WriteError {
        WriteError::Store(err)
    }
}

/// Whether a write failed only because of a concurrent one: a shared text inserted by another
/// transaction after this statement's snapshot (its id `NULL`), a deadlock or a serialization
/// failure.
fn retryable(err: &tokio_postgres::Error) -> bool {
    err.code().is_some_and(|code| {
        [
            SqlState::NOT_NULL_VIOLATION,
            SqlState::T_R_DEADLOCK_DETECTED,
            SqlState::T_R_SERIALIZATION_FAILURE,
        ]
        .contains(code)
    })
}

/// Inserts a key, its shared texts and its flattened metadata; `AlreadyExists` when its id is
/// taken.
async fn insert_api_key(
    client: &impl deadpool_postgres::GenericClient,
    values: &ApiKeyValues,
) -> Result<(), WriteError> {
    let statement = client.prepare_cached(INSERT_API_KEY).await.pg()?;
    let (paths, leaves) = &values.leaves;
    let mut bound: Vec<&(dyn ToSql + Sync)> = values.params().to_vec();
    bound.push(paths);
    bound.push(leaves);
    let row = client
        .query_one(&statement, &bound)
        .await
        .map_err(WriteError::from_pg)?;
    let inserted: i64 = row
        .try_get(0)
        .map_err(|err| Error::Corrupt(err.to_string()))?;
    if inserted == 0 {
        return Err(Error::AlreadyExists(values.id().to_owned()).into());
    }
    Ok(())
}

async fn insert_token(
    client: &impl tokio_postgres::GenericClient,
    record: &TokenRecord,
) -> Result<(), Error> {
    let sql = format!(
        "INSERT INTO tokens ({TOKEN_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 1)"
    );
    client
        .execute(
            sql.as_str(),
            &[
                &record.access_hash,
                &record.refresh_hash,
                &record.username,
                &record.realm,
                &record.realm_type,
                &record.creation,
                &record.expiration,
                &record.invalidated,
                &record.refreshed,
            ],
        )
        .await
        .pg()?;
    Ok(())
}

const SERVICE_TOKEN_COLUMNS: &str = "account, name, hash, creation, creator, creator_realm";

fn service_token_from_row(row: &tokio_postgres::Row) -> Result<ServiceTokenRecord, Error> {
    let column = |err: tokio_postgres::Error| Error::Corrupt(err.to_string());
    Ok(ServiceTokenRecord {
        account: row.try_get(0).map_err(column)?,
        name: row.try_get(1).map_err(column)?,
        hash: row.try_get(2).map_err(column)?,
        creation: row.try_get(3).map_err(column)?,
        creator: row.try_get(4).map_err(column)?,
        creator_realm: row.try_get(5).map_err(column)?,
    })
}

const PROFILE_COLUMNS: &str = "uid, username, realm_name, realm_type, roles, full_name, email, \
                               enabled, last_synchronized, labels, data, seq";

fn profile_from_row(row: &tokio_postgres::Row) -> Result<ProfileRecord, Error> {
    let column = |err: tokio_postgres::Error| Error::Corrupt(err.to_string());
    let uid: String = row.try_get(0).map_err(column)?;
    let roles: String = row.try_get(4).map_err(column)?;
    let roles = serde_json::from_str::<Vec<String>>(&roles).map_err(|err| {
        Error::Corrupt(format!(
            "profile [{uid}]: roles are not a JSON array of strings: {err}"
        ))
    })?;
    Ok(ProfileRecord {
        uid,
        username: row.try_get(1).map_err(column)?,
        realm_name: row.try_get(2).map_err(column)?,
        realm_type: row.try_get(3).map_err(column)?,
        roles,
        full_name: row.try_get(5).map_err(column)?,
        email: row.try_get(6).map_err(column)?,
        enabled: row.try_get(7).map_err(column)?,
        last_synchronized: row.try_get(8).map_err(column)?,
        labels: row.try_get(9).map_err(column)?,
        data: row.try_get(10).map_err(column)?,
        seq: row.try_get(11).map_err(column)?,
    })
}

/// What an [`ApiKeyFilter`] selects, as SQL conditions over `api_keys` and the values they bind.
struct FindSql {
    conditions: Vec<String>,
    values: Vec<Param>,
}

impl FindSql {
    /// The conditions of `filter`, or `None` when it selects nothing.
    fn new(filter: &ApiKeyFilter) -> Option<FindSql> {
        let mut find = FindSql {
            conditions: Vec::new(),
            values: Vec::new(),
        };
        if let Some(ids) = &filter.ids {
            if ids.is_empty() {
                return None;
            }
            // One array parameter, however many ids.
            let ids = find.bind(Param::Texts(ids.clone()));
            find.conditions.push(format!("id = ANY({ids})"));
        }
        match &filter.name {
            None | Some(NamePattern::All) => {}
            Some(NamePattern::Exact(name)) => {
                let name = find.bind(Param::Text(name.clone()));
                find.conditions.push(format!("name = {name}"));
            }
            Some(NamePattern::Prefix(prefix)) => {
                // `starts_with` compares literally (no wildcards to escape, case-sensitive); the
                // range condition only lets the name index narrow the scan.
                let prefix = find.bind(Param::Text(prefix.clone()));
                find.conditions
                    .push(format!("name >= {prefix} AND starts_with(name, {prefix})"));
            }
        }
        if let Some(username) = &filter.username {
            let username = find.bind(Param::Text(username.clone()));
            find.conditions.push(format!("principal = {username}"));
        }
        if let Some(realm) = &filter.realm {
            let realm = find.bind(Param::Text(realm.clone()));
            find.conditions.push(format!("realm = {realm}"));
        }
        if filter.exclude_invalidated {
            find.conditions.push("invalidated = 0".to_owned());
        }
        if let Some(instant) = filter.exclude_expired_at {
            let instant = find.bind(Param::Int(instant));
            find.conditions
                .push(format!("(expiration IS NULL OR expiration > {instant})"));
        }
        if let Some(key_type) = filter.key_type {
            let key_type = find.bind(Param::Text(key_type.as_str().to_owned()));
            find.conditions.push(format!("key_type = {key_type}"));
        }
        Some(find)
    }

    /// Binds a value; its typed placeholder.
    fn bind(&mut self, value: Param) -> String {
        let cast = match &value {
            Param::Int(_) => "::int8",
            Param::Text(_) => "::text COLLATE \"C\"",
            Param::Texts(_) => "::text[]",
            Param::Ints(_) => "::int8[]",
        };
        self.values.push(value);
        format!("(${}{cast})", self.values.len())
    }

    /// Only keys after `after` in (creation, id) order: a row comparison the creation index
    /// answers by seeking to the cursor.
    fn after(&mut self, after: &ApiKeyCursor) {
        let creation = self.bind(Param::Int(after.creation));
        let id = self.bind(Param::Text(after.id.clone()));
        self.conditions
            .push(format!("(creation, id) > ({creation}, {id})"));
    }

    /// The keys selected, in (creation, id) order, at most `limit` of them when given.
    fn select(&self, limit: Option<usize>) -> String {
        let mut sql = format!("SELECT {API_KEY_COLUMNS} FROM api_keys");
        if !self.conditions.is_empty() {
            sql.push_str(" WHERE ");
            sql.push_str(&self.conditions.join(" AND "));
        }
        sql.push_str(" ORDER BY creation, id");
        if let Some(limit) = limit {
            sql.push_str(&format!(" LIMIT {limit}"));
        }
        sql
    }
}
