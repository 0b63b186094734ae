//! Row mapping: the columns each table is read with, records to parameters and rows back to
//! records, and the small query helpers every operation shares.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use keyward_core::api_key::ApiKeyType;
use rusqlite::types::Value;
use rusqlite::{Connection, Row, params, params_from_iter};

use super::SqlResultExt;
use super::descriptors::{Interner, References, Slot, creator_from_text, creator_text};
use crate::{
    ApiKeyRecord, AppPrivilegeRecord, Error, RoleMappingRecord, RoleRecord, TokenRecord, UserRecord,
};

/// The `tokens` columns in the order [`token_from_row`] reads them.
pub(super) const TOKEN_COLUMNS: &str = "access_hash, refresh_hash, username, realm, realm_type, creation, \
     expiration, invalidated, refreshed, seq";

/// The `users` columns in the order [`user_from_row`] reads them.
pub(super) const USER_COLUMNS: &str =
    "username, password_hash, roles, full_name, email, metadata, enabled, seq";

/// The `api_keys` columns in the order [`api_key_from_row`] reads them. The shared texts are
/// read through their descriptor ids (see `descriptors`); each expression is free of commas, so
/// the list splits on them into its columns.
pub(super) const API_KEY_COLUMNS: &str = "id, name, key_type, creation, expiration, invalidated, invalidation, hash, hash_packed, \
     (SELECT text FROM descriptors WHERE descriptor_id = role_descriptors_id), \
     (SELECT text FROM descriptors WHERE descriptor_id = limited_by_id), metadata, principal, \
     (SELECT text FROM descriptors WHERE descriptor_id = creator_id), realm, format_version, \
     certificate_identity, seq";

/// Parameters `?1`..`?17` are [`api_key_values`]; a new key starts at `seq` 1. A taken id changes
/// nothing, which [`insert_api_key`] reports as `AlreadyExists`. The columns of the text now
/// stored in `descriptors` are left empty.
pub(super) const INSERT_API_KEY: &str = "INSERT INTO api_keys (id, name, key_type, creation, expiration, invalidated, \
     invalidation, hash, metadata, principal, realm, format_version, certificate_identity, role_descriptors_id, \
     limited_by_id, creator_id, hash_packed, role_descriptors, limited_by, creator_metadata, realm_type, seq) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, '', '', '', '', 1) \
     ON CONFLICT (id) DO NOTHING";

/// Parameters `?1`..`?17` are [`api_key_values`], `?18` the `seq` the record was read with.
pub(super) const UPDATE_API_KEY: &str = "UPDATE api_keys SET name = ?2, key_type = ?3, creation = ?4, expiration = ?5, \
     invalidated = ?6, invalidation = ?7, hash = ?8, metadata = ?9, principal = ?10, realm = ?11, \
     format_version = ?12, certificate_identity = ?13, role_descriptors_id = ?14, limited_by_id = ?15, \
     creator_id = ?16, hash_packed = ?17, role_descriptors = '', limited_by = '', creator_metadata = '', \
     realm_type = '', full_name = NULL, email = NULL, seq = seq + 1 \
     WHERE id = ?1 AND seq = ?18";

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
    values: [Value; 17],
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
) -> Result<([Value; 17], [i64; 3]), Error> {
    let role_descriptors =
        interner.intern(connection, Slot::RoleDescriptors, &record.role_descriptors)?;
    let limited_by = interner.intern(connection, Slot::LimitedBy, &record.limited_by)?;
    let creator = interner.intern(connection, Slot::Creator, &creator_text(&record.creator)?)?;
    let text = |value: Option<String>| value.map_or(Value::Null, Value::Text);
    let integer = |value: Option<i64>| value.map_or(Value::Null, Value::Integer);
    let (hash, hash_packed) = match pack_hash(&record.hash) {
        Some(packed) => (String::new(), Value::Blob(packed)),
        None => (record.hash, Value::Null),
    };
    let values = [
        Value::Text(record.id),
        Value::Text(record.name),
        Value::Text(record.key_type.as_str().to_owned()),
        Value::Integer(record.creation),
        integer(record.expiration),
        Value::Integer(i64::from(record.invalidated)),
        integer(record.invalidation),
        Value::Text(hash),
        text(record.metadata),
        Value::Text(record.creator.principal),
        Value::Text(record.creator.realm),
        Value::Integer(record.format_version),
        text(record.certificate_identity),
        Value::Integer(role_descriptors),
        Value::Integer(limited_by),
        Value::Integer(creator),
        hash_packed,
    ];
    Ok((values, [role_descriptors, limited_by, creator]))
}

pub(super) fn api_key_from_row(row: &Row<'_>) -> Result<ApiKeyRecord, Error> {
    let id: String = row.get(0).db()?;
    let key_type: String = row.get(2).db()?;
    let key_type = key_type
        .parse::<ApiKeyType>()
        .map_err(|err| Error::Corrupt(format!("api key [{id}]: {err}")))?;
    let hash_packed: Option<Vec<u8>> = row.get(8).db()?;
    let hash = match hash_packed {
        Some(packed) => unpack_hash(&packed)
            .ok_or_else(|| Error::Corrupt(format!("api key [{id}]: unknown packed hash")))?,
        None => row.get(7).db()?,
    };
    let creator: String = row.get(13).db()?;
    let creator = creator_from_text(&id, row.get(12).db()?, row.get(14).db()?, &creator)?;
    Ok(ApiKeyRecord {
        name: row.get(1).db()?,
        key_type,
        creation: row.get(3).db()?,
        expiration: row.get(4).db()?,
        invalidated: row.get(5).db()?,
        invalidation: row.get(6).db()?,
        hash,
        role_descriptors: row.get(9).db()?,
        limited_by: row.get(10).db()?,
        metadata: row.get(11).db()?,
        creator,
        format_version: row.get(15).db()?,
        certificate_identity: row.get(16).db()?,
        seq: row.get(17).db()?,
        id,
    })
}

/// The prefix of the hashes [`pack_hash`] packs.
const SSHA256_PREFIX: &str = "{SSHA256}";

/// The tag byte of a packed `{SSHA256}` hash, followed by its 8-byte salt and 32-byte digest.
const PACKED_SSHA256: u8 = 1;

/// An `{SSHA256}` hash (keyward's default) as 41 bytes instead of 65 characters of text, when
/// [`unpack_hash`] gives back exactly the same text; `None` for any other hash, stored as text.
pub(super) fn pack_hash(hash: &str) -> Option<Vec<u8>> {
    let encoded = hash.strip_prefix(SSHA256_PREFIX)?;
    if encoded.len() != 12 + 44 {
        return None;
    }
    let (salt, digest) = encoded.split_at_checked(12)?;
    let salt = STANDARD.decode(salt).ok()?;
    let digest = STANDARD.decode(digest).ok()?;
    if salt.len() != 8 || digest.len() != 32 {
        return None;
    }
    let mut packed = Vec::with_capacity(41);
    packed.push(PACKED_SSHA256);
    packed.extend_from_slice(&salt);
    packed.extend_from_slice(&digest);
    (unpack_hash(&packed).as_deref() == Some(hash)).then_some(packed)
}

/// The text of a hash [`pack_hash`] packed; `None` for bytes it does not write.
pub(super) fn unpack_hash(packed: &[u8]) -> Option<String> {
    match packed {
        [PACKED_SSHA256, rest @ ..] if rest.len() == 40 => {
            let (salt, digest) = rest.split_at(8);
            Some(format!(
                "{SSHA256_PREFIX}{}{}",
                STANDARD.encode(salt),
                STANDARD.encode(digest)
            ))
        }
        _ => None,
    }
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

pub(super) fn role_mapping_from_row(row: &Row<'_>) -> Result<RoleMappingRecord, Error> {
    Ok(RoleMappingRecord {
        name: row.get(0).db()?,
        mapping: row.get(1).db()?,
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
