//! Row mapping: the columns each table is read with, records to parameters and rows back to
//! records, and the small query helpers every operation shares.

use keyward_core::api_key::{ApiKeyType, Creator};
use rusqlite::types::Value;
use rusqlite::{Connection, Row, params, params_from_iter};
use serde_json::Map;

use super::SqlResultExt;
use crate::{ApiKeyRecord, AppPrivilegeRecord, Error, RoleRecord, TokenRecord, UserRecord};

/// The `tokens` columns in the order [`token_from_row`] reads them.
pub(super) const TOKEN_COLUMNS: &str = "access_hash, refresh_hash, username, realm, realm_type, creation, \
     expiration, invalidated, refreshed, seq";

/// The `users` columns in the order [`user_from_row`] reads them.
pub(super) const USER_COLUMNS: &str =
    "username, password_hash, roles, full_name, email, metadata, enabled, seq";

/// The `api_keys` columns in the order [`api_key_from_row`] and [`api_key_values`] use.
pub(super) const API_KEY_COLUMNS: &str = "id, name, key_type, creation, expiration, invalidated, invalidation, hash, \
     role_descriptors, limited_by, metadata, principal, full_name, email, creator_metadata, realm, realm_type, \
     format_version, certificate_identity, seq";

/// Parameters `?1`..`?19` are [`api_key_values`]; a new key starts at `seq` 1. A taken id changes
/// nothing, which [`insert_api_key`] reports as `AlreadyExists`.
pub(super) const INSERT_API_KEY: &str = "INSERT INTO api_keys (id, name, key_type, creation, expiration, invalidated, \
     invalidation, hash, role_descriptors, limited_by, metadata, principal, full_name, email, creator_metadata, \
     realm, realm_type, format_version, certificate_identity, seq) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, 1) \
     ON CONFLICT (id) DO NOTHING";

/// Parameters `?1`..`?19` are [`api_key_values`], `?20` the `seq` the record was read with.
pub(super) const UPDATE_API_KEY: &str = "UPDATE api_keys SET name = ?2, key_type = ?3, creation = ?4, expiration = ?5, \
     invalidated = ?6, invalidation = ?7, hash = ?8, role_descriptors = ?9, limited_by = ?10, metadata = ?11, \
     principal = ?12, full_name = ?13, email = ?14, creator_metadata = ?15, realm = ?16, realm_type = ?17, \
     format_version = ?18, certificate_identity = ?19, seq = seq + 1 \
     WHERE id = ?1 AND seq = ?20";

pub(super) fn insert_api_key(connection: &Connection, record: ApiKeyRecord) -> Result<(), Error> {
    let id = record.id.clone();
    let values = api_key_values(record)?;
    let inserted = connection
        .prepare_cached(INSERT_API_KEY)
        .db()?
        .execute(params_from_iter(values))
        .db()?;
    if inserted == 0 {
        return Err(Error::AlreadyExists(id));
    }
    Ok(())
}

/// The record's columns `id` to `certificate_identity`, in [`API_KEY_COLUMNS`] order.
pub(super) fn api_key_values(record: ApiKeyRecord) -> Result<Vec<Value>, Error> {
    let creator_metadata = serde_json::to_string(&record.creator.metadata)
        .map_err(|err| Error::Database(err.to_string()))?;
    let text = |value: Option<String>| value.map_or(Value::Null, Value::Text);
    let integer = |value: Option<i64>| value.map_or(Value::Null, Value::Integer);
    Ok(vec![
        Value::Text(record.id),
        Value::Text(record.name),
        Value::Text(record.key_type.as_str().to_owned()),
        Value::Integer(record.creation),
        integer(record.expiration),
        Value::Integer(i64::from(record.invalidated)),
        integer(record.invalidation),
        Value::Text(record.hash),
        Value::Text(record.role_descriptors),
        Value::Text(record.limited_by),
        text(record.metadata),
        Value::Text(record.creator.principal),
        text(record.creator.full_name),
        text(record.creator.email),
        Value::Text(creator_metadata),
        Value::Text(record.creator.realm),
        Value::Text(record.creator.realm_type),
        Value::Integer(record.format_version),
        text(record.certificate_identity),
    ])
}

pub(super) fn api_key_from_row(row: &Row<'_>) -> Result<ApiKeyRecord, Error> {
    let id: String = row.get(0).db()?;
    let key_type: String = row.get(2).db()?;
    let key_type = key_type
        .parse::<ApiKeyType>()
        .map_err(|err| Error::Corrupt(format!("api key [{id}]: {err}")))?;
    let creator_metadata: String = row.get(14).db()?;
    let creator_metadata = serde_json::from_str::<Map<String, serde_json::Value>>(
        &creator_metadata,
    )
    .map_err(|err| {
        Error::Corrupt(format!(
            "api key [{id}]: creator metadata is not a JSON object: {err}"
        ))
    })?;
    Ok(ApiKeyRecord {
        name: row.get(1).db()?,
        key_type,
        creation: row.get(3).db()?,
        expiration: row.get(4).db()?,
        invalidated: row.get(5).db()?,
        invalidation: row.get(6).db()?,
        hash: row.get(7).db()?,
        role_descriptors: row.get(8).db()?,
        limited_by: row.get(9).db()?,
        metadata: row.get(10).db()?,
        creator: Creator {
            principal: row.get(11).db()?,
            full_name: row.get(12).db()?,
            email: row.get(13).db()?,
            metadata: creator_metadata,
            realm: row.get(15).db()?,
            realm_type: row.get(16).db()?,
        },
        format_version: row.get(17).db()?,
        certificate_identity: row.get(18).db()?,
        seq: row.get(19).db()?,
        id,
    })
}

pub(super) fn insert_token(connection: &Connection, record: &TokenRecord) -> Result<(), Error> {
    let sql = format!(
        "INSERT INTO tokens ({TOKEN_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 1)"
    );
    connection
        .prepare_cached(&sql)
        .db()?
        .execute(params![
            record.access_hash,
            record.refresh_hash,
            record.username,
            record.realm,
            record.realm_type,
            record.creation,
            record.expiration,
            record.invalidated,
            record.refreshed,
        ])
        .db()?;
    Ok(())
}

pub(super) fn token_from_row(row: &Row<'_>) -> Result<TokenRecord, Error> {
    Ok(TokenRecord {
        access_hash: row.get(0).db()?,
        refresh_hash: row.get(1).db()?,
        username: row.get(2).db()?,
        realm: row.get(3).db()?,
        realm_type: row.get(4).db()?,
        creation: row.get(5).db()?,
        expiration: row.get(6).db()?,
        invalidated: row.get(7).db()?,
        refreshed: row.get(8).db()?,
        seq: row.get(9).db()?,
    })
}

pub(super) fn user_from_row(row: &Row<'_>) -> Result<UserRecord, Error> {
    let username: String = row.get(0).db()?;
    let roles: String = row.get(2).db()?;
    let roles = serde_json::from_str::<Vec<String>>(&roles).map_err(|err| {
        Error::Corrupt(format!(
            "user [{username}]: roles are not a JSON array of strings: {err}"
        ))
    })?;
    Ok(UserRecord {
        password_hash: row.get(1).db()?,
        roles,
        full_name: row.get(3).db()?,
        email: row.get(4).db()?,
        metadata: row.get(5).db()?,
        enabled: row.get(6).db()?,
        seq: row.get(7).db()?,
        username,
    })
}

pub(super) fn role_from_row(row: &Row<'_>) -> Result<RoleRecord, Error> {
    Ok(RoleRecord {
        name: row.get(0).db()?,
        descriptor: row.get(1).db()?,
        seq: row.get(2).db()?,
    })
}

pub(super) fn app_privilege_from_row(row: &Row<'_>) -> Result<AppPrivilegeRecord, Error> {
    let application: String = row.get(0).db()?;
    let name: String = row.get(1).db()?;
    let actions: String = row.get(2).db()?;
    let actions = serde_json::from_str::<Vec<String>>(&actions).map_err(|err| {
        Error::Corrupt(format!(
            "application privilege [{application}/{name}]: actions are not a JSON array of strings: {err}"
        ))
    })?;
    Ok(AppPrivilegeRecord {
        actions,
        metadata: row.get(3).db()?,
        seq: row.get(4).db()?,
        application,
        name,
    })
}

/// A name list as one JSON array parameter (`None` selects everything).
pub(super) fn names_json(names: Option<&[String]>) -> Result<Option<String>, Error> {
    names
        .map(|names| serde_json::to_string(names).map_err(|err| Error::Database(err.to_string())))
        .transpose()
}

/// Whether `sql` finds a row.
pub(super) fn exists(
    connection: &Connection,
    sql: &str,
    values: &[&String],
) -> Result<bool, Error> {
    let mut statement = connection.prepare_cached(sql).db()?;
    let mut rows = statement.query(params_from_iter(values.iter())).db()?;
    Ok(rows.next().db()?.is_some())
}

/// Every row `sql` selects, read by `read`.
pub(super) fn select_all<T>(
    connection: &Connection,
    sql: &str,
    values: impl rusqlite::Params,
    read: fn(&Row<'_>) -> Result<T, Error>,
) -> Result<Vec<T>, Error> {
    let mut statement = connection.prepare_cached(sql).db()?;
    let mut rows = statement.query(values).db()?;
    let mut records = Vec::new();
    while let Some(row) = rows.next().db()? {
        records.push(read(row)?);
    }
    Ok(records)
}

pub(super) fn select_meta(connection: &Connection, key: &str) -> Result<Option<String>, Error> {
    let mut statement = connection
        .prepare_cached("SELECT value FROM meta WHERE key = ?1")
        .db()?;
    let mut rows = statement.query([key]).db()?;
    rows.next().db()?.map(|row| row.get(0).db()).transpose()
}
