//! Row mapping: the columns each table is read with, records to parameters and rows back to
//! records, and the small query helpers every operation shares.

use keyward_core::api_key::ApiKeyType;
use rusqlite::types::Value;
use rusqlite::{Connection, Row, params, params_from_iter};

use super::SqlResultExt;
use super::descriptors::{Interner, References, Slot, creator_from_text, creator_text};
use crate::{ApiKeyRecord, AppPrivilegeRecord, Error, RoleRecord, TokenRecord, UserRecord};

/// The `tokens` columns in the order [`token_from_row`] reads them.
pub(super) const TOKEN_COLUMNS: &str = "access_hash, refresh_hash, username, realm, realm_type, creation, \
     expiration, invalidated, refreshed, seq";

/// The `users` columns in the order [`user_from_row`] reads them.
pub(super) const USER_COLUMNS: &str =
    "username, password_hash, roles, full_name, email, metadata, enabled, seq";

/// The `api_keys` columns in the order [`api_key_from_row`] reads them. The shared texts are
/// read through their descriptor ids (see `descriptors`); each expression is free of commas, so
/// the list splits on them into its columns.
pub(super) const API_KEY_COLUMNS: &str = "id, name, key_type, creation, expiration, invalidated, invalidation, hash, \
     (SELECT text FROM descriptors WHERE descriptor_id = role_descriptors_id), \
     (SELECT text FROM descriptors WHERE descriptor_id = limited_by_id), metadata, principal, \
     (SELECT text FROM descriptors WHERE descriptor_id = creator_id), realm, format_version, \
     certificate_identity, seq";

/// Parameters `?1`..`?16` are [`api_key_values`]; a new key starts at `seq` 1. A taken id changes
/// nothing, which [`insert_api_key`] reports as `AlreadyExists`. The columns of the text now
/// stored in `descriptors` are left empty.
pub(super) const INSERT_API_KEY: &str = "INSERT INTO api_keys (id, name, key_type, creation, expiration, invalidated, \
     invalidation, hash, metadata, principal, realm, format_version, certificate_identity, role_descriptors_id, \
     limited_by_id, creator_id, role_descriptors, limited_by, creator_metadata, realm_type, seq) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, '', '', '', '', 1) \
     ON CONFLICT (id) DO NOTHING";

/// Parameters `?1`..`?16` are [`api_key_values`], `?17` the `seq` the record was read with.
pub(super) const UPDATE_API_KEY: &str = "UPDATE api_keys SET name = ?2, key_type = ?3, creation = ?4, expiration = ?5, \
     invalidated = ?6, invalidation = ?7, hash = ?8, metadata = ?9, principal = ?10, realm = ?11, \
     format_version = ?12, certificate_identity = ?13, role_descriptors_id = ?14, limited_by_id = ?15, \
     creator_id = ?16, role_descriptors = '', limited_by = '', creator_metadata = '', realm_type = '', \
     full_name = NULL, email = NULL, seq = seq + 1 \
     WHERE id = ?1 AND seq = ?17";

pub(super) fn insert_api_key(connection: &Connection, record: ApiKeyRecord) -> Result<(), Error> {
    let id = record.id.clone();
    let (values, interned) = api_key_values(connection, &mut Interner::default(), record)?;
    insert_api_key_values(connection, id, values)?;
    let mut references = References::default();
    references.add(interned);
    references.apply(connection)
}

/// Inserts a key from its [`api_key_values`]; the caller counts its references.
pub(super) fn insert_api_key_values(
    connection: &Connection,
    id: String,
    values: [Value; 16],
) -> Result<(), Error> {
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

/// The record's column values for [`INSERT_API_KEY`] and [`UPDATE_API_KEY`], and the ids of its
/// shared texts, interned inside the caller's savepoint: the rows are referenced before anything
/// can delete them.
pub(super) fn api_key_values(
    connection: &Connection,
    interner: &mut Interner,
    record: ApiKeyRecord,
) -> Result<([Value; 16], [i64; 3]), Error> {
    let role_descriptors =
        interner.intern(connection, Slot::RoleDescriptors, &record.role_descriptors)?;
    let limited_by = interner.intern(connection, Slot::LimitedBy, &record.limited_by)?;
    let creator = interner.intern(connection, Slot::Creator, &creator_text(&record.creator)?)?;
    let text = |value: Option<String>| value.map_or(Value::Null, Value::Text);
    let integer = |value: Option<i64>| value.map_or(Value::Null, Value::Integer);
    let values = [
        Value::Text(record.id),
        Value::Text(record.name),
        Value::Text(record.key_type.as_str().to_owned()),
        Value::Integer(record.creation),
        integer(record.expiration),
        Value::Integer(i64::from(record.invalidated)),
        integer(record.invalidation),
        Value::Text(record.hash),
        text(record.metadata),
        Value::Text(record.creator.principal),
        Value::Text(record.creator.realm),
        Value::Integer(record.format_version),
        text(record.certificate_identity),
        Value::Integer(role_descriptors),
        Value::Integer(limited_by),
        Value::Integer(creator),
    ];
    Ok((values, [role_descriptors, limited_by, creator]))
}

pub(super) fn api_key_from_row(row: &Row<'_>) -> Result<ApiKeyRecord, Error> {
    let id: String = row.get(0).db()?;
    let key_type: String = row.get(2).db()?;
    let key_type = key_type
        .parse::<ApiKeyType>()
        .map_err(|err| Error::Corrupt(format!("api key [{id}]: {err}")))?;
    let creator: String = row.get(12).db()?;
    let creator = creator_from_text(&id, row.get(11).db()?, row.get(13).db()?, &creator)?;
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
        creator,
        format_version: row.get(14).db()?,
        certificate_identity: row.get(15).db()?,
        seq: row.get(16).db()?,
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
