//! Row mapping: the columns each table is read with, records to parameters and rows back to
//! records, and the flattening of key metadata into `api_key_metadata` rows.

use keyward_core::api_key::{ApiKeyType, Creator};
use keyward_store::{
    ApiKeyRecord, AppPrivilegeRecord, Error, RoleMappingRecord, RoleRecord, TokenRecord, UserRecord,
};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

/// The `api_keys` columns in the order [`api_key_from_row`] reads them; the shared texts read
/// through their descriptor ids.
pub(crate) const API_KEY_COLUMNS: &str = "id, name, key_type, creation, expiration, invalidated, \
     invalidation, hash, \
     (SELECT d.text FROM descriptors AS d WHERE d.descriptor_id = api_keys.role_descriptors_id), \
     (SELECT d.text FROM descriptors AS d WHERE d.descriptor_id = api_keys.limited_by_id), \
     metadata, principal, \
     (SELECT d.text FROM descriptors AS d WHERE d.descriptor_id = api_keys.creator_id), \
     realm, format_version, certificate_identity, seq";

/// How many columns [`API_KEY_COLUMNS`] lists.
pub(crate) const API_KEY_COLUMN_COUNT: usize = 17;

/// The common table expressions interning a key's shared texts, parameters `$14`..`$19` (the
/// texts, then their digests): each inserted unless there, and its id in `ids`. A text another
/// transaction inserted and committed while the statement ran is seen neither in `interned` nor
/// in the statement's snapshot: its id comes out `NULL`, which the key's `NOT NULL` columns
/// refuse, and the write is tried again (`store::retryable`). Inserting into `descriptors`
/// (even nothing) holds its `ROW EXCLUSIVE` lock until commit, which keeps
/// `store::collect_descriptors` from deleting a text between being found here and the key
/// referring to it being committed.
macro_rules! intern_texts {
    () => {
        "texts (digest, text) AS (SELECT DISTINCT v.digest, v.text FROM (VALUES \
         ($17::bytea, $14::text), ($18::bytea, $15::text), ($19::bytea, $16::text)) \
         AS v (digest, text)), \
         interned AS (INSERT INTO descriptors (digest, text) SELECT digest, text FROM texts \
         ON CONFLICT (digest) DO NOTHING RETURNING descriptor_id, digest), \
         ids AS (SELECT t.digest, coalesce(i.descriptor_id, d.descriptor_id) AS descriptor_id \
         FROM texts AS t LEFT JOIN interned AS i ON i.digest = t.digest \
         LEFT JOIN descriptors AS d ON d.digest = t.digest)"
    };
}

/// Parameters `$1`..`$19` are [`ApiKeyValues::params`], `$20` and `$21` the paths and values of
/// its flattened metadata; a new key starts at `seq` 1. One statement (one round trip, atomic
/// without a transaction of its own) interns the shared texts and writes the key and its
/// metadata rows. A taken id inserts no key and counts 0, which the caller reports as
/// `AlreadyExists`.
pub(crate) const INSERT_API_KEY: &str = concat!(
    "WITH ",
    intern_texts!(),
    ", key AS (INSERT INTO api_keys (id, name, key_type, creation, expiration, invalidated, \
     invalidation, hash, metadata, principal, realm, format_version, certificate_identity, \
     role_descriptors_id, limited_by_id, creator_id, seq) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, \
     (SELECT descriptor_id FROM ids WHERE digest = $17), \
     (SELECT descriptor_id FROM ids WHERE digest = $18), \
     (SELECT descriptor_id FROM ids WHERE digest = $19), 1) \
     ON CONFLICT (id) DO NOTHING RETURNING id), \
     leaves AS (INSERT INTO api_key_metadata (path, value, id) \
     SELECT t.p, t.v, key.id FROM key, unnest($20::text[], $21::text[]) AS t (p, v) \
     ON CONFLICT DO NOTHING) \
     SELECT COUNT(*) FROM key"
);

/// Parameters `$1`..`$19` are [`ApiKeyValues::params`], `$20` the `seq` the record was read
/// with. The caller has locked the key (`SELECT_FOR_UPDATE`).
pub(crate) const UPDATE_API_KEY: &str = concat!(
    "WITH ",
    intern_texts!(),
    " UPDATE api_keys SET name = $2, key_type = $3, creation = $4, expiration = $5, \
     invalidated = $6, invalidation = $7, hash = $8, metadata = $9, principal = $10, realm = $11, \
     format_version = $12, certificate_identity = $13, \
     role_descriptors_id = (SELECT descriptor_id FROM ids WHERE digest = $17), \
     limited_by_id = (SELECT descriptor_id FROM ids WHERE digest = $18), \
     creator_id = (SELECT descriptor_id FROM ids WHERE digest = $19), \
     seq = seq + 1 WHERE id = $1 AND seq = $20"
);

/// The shared texts a key refers to, locking it for an update: `$1` its id, `$2` the `seq` it
/// was read with.
pub(crate) const SELECT_FOR_UPDATE: &str = "SELECT role_descriptors_id, limited_by_id, creator_id \
     FROM api_keys WHERE id = $1 AND seq = $2 FOR UPDATE";

/// The `tokens` columns in the order [`token_from_row`] reads them.
pub(crate) const TOKEN_COLUMNS: &str = "access_hash, refresh_hash, username, realm, realm_type, \
     creation, expiration, invalidated, refreshed, seq";

/// The `users` columns in the order [`user_from_row`] reads them.
pub(crate) const USER_COLUMNS: &str =
    "username, password_hash, roles, full_name, email, metadata, enabled, seq";

/// A key's column values, owned, for [`INSERT_API_KEY`] and [`UPDATE_API_KEY`].
pub(crate) struct ApiKeyValues {
    id: String,
    name: String,
    key_type: &'static str,
    creation: i64,
    expiration: Option<i64>,
    invalidated: i64,
    invalidation: Option<i64>,
    hash: String,
    metadata: Option<String>,
    principal: String,
    realm: String,
    format_version: i64,
    certificate_identity: Option<String>,
    /// Role descriptors, limited-by, creator text.
    texts: [String; 3],
    /// The SHA-256 digest of each text.
    digests: [Vec<u8>; 3],
    /// The flattened metadata: paths and values.
    pub(crate) leaves: (Vec<String>, Vec<String>),
}

impl ApiKeyValues {
    /// The values of `record`; fails when its metadata is not JSON (as SQLite's `json_tree`
    /// fails in the embedded store).
    pub(crate) fn new(record: ApiKeyRecord) -> Result<ApiKeyValues, Error> {
        let leaves = flatten_metadata(record.metadata.as_deref())?;
        let creator = creator_text(&record.creator)?;
        let texts = [record.role_descriptors, record.limited_by, creator];
        let digests = texts
            .each_ref()
            .map(|text| Sha256::digest(text.as_bytes()).to_vec());
        Ok(ApiKeyValues {
            id: record.id,
            name: record.name,
            key_type: record.key_type.as_str(),
            creation: record.creation,
            expiration: record.expiration,
            invalidated: i64::from(record.invalidated),
            invalidation: record.invalidation,
            hash: record.hash,
            metadata: record.metadata,
            principal: record.creator.principal,
            realm: record.creator.realm,
            format_version: record.format_version,
            certificate_identity: record.certificate_identity,
            texts,
            digests,
            leaves,
        })
    }

    /// The key id.
    pub(crate) fn id(&self) -> &str {
        &self.id
    }

    /// Parameters `$1`..`$19`.
    pub(crate) fn params(&self) -> [&(dyn ToSql + Sync); 19] {
        [
            &self.id,
            &self.name,
            &self.key_type,
            &self.creation,
            &self.expiration,
            &self.invalidated,
            &self.invalidation,
            &self.hash,
            &self.metadata,
            &self.principal,
            &self.realm,
            &self.format_version,
            &self.certificate_identity,
            &self.texts[0],
            &self.texts[1],
            &self.texts[2],
            &self.digests[0],
            &self.digests[1],
            &self.digests[2],
        ]
    }
}

/// The owner's details kept as one shared text, as the embedded store keeps them:
/// `[realm_type, full_name, email, metadata]`. The principal and realm stay columns of
/// `api_keys`: queries select and sort by them.
fn creator_text(creator: &Creator) -> Result<String, Error> {
    serde_json::to_string(&(
        &creator.realm_type,
        &creator.full_name,
        &creator.email,
        &creator.metadata,
    ))
    .map_err(|err| Error::Database(err.to_string()))
}

/// The owner's principal, realm and [`creator_text`] back as a [`Creator`].
fn creator_from_text(
    id: &str,
    principal: String,
    realm: String,
    text: &str,
) -> Result<Creator, Error> {
    let corrupt = |what: &str| Error::Corrupt(format!("api key [{id}]: {what}"));
    let value: Value = serde_json::from_str(text)
        .map_err(|err| corrupt(&format!("the stored creator is not JSON: {err}")))?;
    let Value::Array(fields) = value else {
        return Err(corrupt("the stored creator is not a JSON array"));
    };
    let [realm_type, full_name, email, metadata]: [Value; 4] = fields
        .try_into()
        .map_err(|_| corrupt("the stored creator does not have four fields"))?;
    let optional = |value: Value, what: &str| match value {
        Value::Null => Ok(None),
        Value::String(text) => Ok(Some(text)),
        _ => Err(corrupt(&format!("the creator's {what} is not a string"))),
    };
    let Value::String(realm_type) = realm_type else {
        return Err(corrupt("the creator's realm type is not a string"));
    };
    let Value::Object(metadata) = metadata else {
        return Err(corrupt("creator metadata is not a JSON object"));
    };
    let metadata: Map<String, Value> = metadata;
    Ok(Creator {
        principal,
        full_name: optional(full_name, "full name")?,
        email: optional(email, "email")?,
        metadata,
        realm,
        realm_type,
    })
}

/// The path of a metadata leaf no path query can name (below an array element): such leaves
/// count only for queries over the whole of `metadata`. No JSON array text is empty.
pub(crate) const UNREACHABLE_PATH: &str = "";

/// The path text of a metadata key path: its segments as a JSON array (`["a","b"]`).
pub(crate) fn path_text(path: &[String]) -> String {
    Value::Array(path.iter().cloned().map(Value::String).collect()).to_string()
}

/// Every scalar leaf of a key's metadata as (path, value) rows, flattened as Elasticsearch maps
/// it and as the embedded store flattens it: each leaf a keyword string (`42` is `"42"`,
/// `true` is `"true"`, `null` no value), the elements of an array several values of the array's
/// path; the leaves below an array element (an object in an array, an array in an array) under
/// [`UNREACHABLE_PATH`]. Repeated rows are left out.
pub(crate) fn flatten_metadata(
    metadata: Option<&str>,
) -> Result<(Vec<String>, Vec<String>), Error> {
    let mut paths = Vec::new();
    let mut values = Vec::new();
    let Some(metadata) = metadata else {
        return Ok((paths, values));
    };
    let root: Value = serde_json::from_str(metadata)
        .map_err(|_| Error::Database("malformed JSON in key metadata".to_owned()))?;
    let mut seen = std::collections::HashSet::new();
    let mut emit = |path: Option<&[String]>, value: String| {
        let path = path.map_or_else(|| UNREACHABLE_PATH.to_owned(), path_text);
        if seen.insert((path.clone(), value.clone())) {
            paths.push(path);
            values.push(value);
        }
    };
    walk(&root, Some(&mut Vec::new()), false, &mut emit);
    Ok((paths, values))
}

/// Visits the scalar leaves below `value`, at `path` (`None` once unreachable); `in_array` when
/// `value` is an array element.
fn walk(
    value: &Value,
    path: Option<&mut Vec<String>>,
    in_array: bool,
    emit: &mut impl FnMut(Option<&[String]>, String),
) {
    match value {
        Value::Null => {}
        Value::Bool(flag) => emit(path.map(|path| &path[..]), flag.to_string()),
        Value::Number(number) => emit(path.map(|path| &path[..]), number.to_string()),
        Value::String(text) => emit(path.map(|path| &path[..]), text.clone()),
        Value::Object(members) => match path {
            Some(path) if !in_array => {
                for (key, member) in members {
                    path.push(key.clone());
                    walk(member, Some(path), false, emit);
                    path.pop();
                }
            }
            _ => {
                for member in members.values() {
                    walk(member, None, false, emit);
                }
            }
        },
        Value::Array(elements) => match path {
            Some(path) if !in_array => {
                for element in elements {
                    walk(element, Some(path), true, emit);
                }
            }
            _ => {
                for element in elements {
                    walk(element, None, true, emit);
                }
            }
        },
    }
}

/// Reads column `index`, a failure to read it being corrupt data.
fn get<'a, T: tokio_postgres::types::FromSql<'a>>(row: &'a Row, index: usize) -> Result<T, Error> {
    row.try_get(index)
        .map_err(|err| Error::Corrupt(format!("column {index}: {err}")))
}

pub(crate) fn api_key_from_row(row: &Row) -> Result<ApiKeyRecord, Error> {
    let id: String = get(row, 0)?;
    let key_type: String = get(row, 2)?;
    let key_type = key_type
        .parse::<ApiKeyType>()
        .map_err(|err| Error::Corrupt(format!("api key [{id}]: {err}")))?;
    let shared = |index: usize| -> Result<String, Error> {
        get::<Option<String>>(row, index)?
            .ok_or_else(|| Error::Corrupt(format!("api key [{id}]: a shared text is missing")))
    };
    let role_descriptors = shared(8)?;
    let limited_by = shared(9)?;
    let creator = creator_from_text(&id, get(row, 11)?, get(row, 13)?, &shared(12)?)?;
    let invalidated: i64 = get(row, 5)?;
    Ok(ApiKeyRecord {
        name: get(row, 1)?,
        key_type,
        creation: get(row, 3)?,
        expiration: get(row, 4)?,
        invalidated: invalidated != 0,
        invalidation: get(row, 6)?,
        hash: get(row, 7)?,
        role_descriptors,
        limited_by,
        metadata: get(row, 10)?,
        creator,
        format_version: get(row, 14)?,
        certificate_identity: get(row, 15)?,
        seq: get(row, 16)?,
        id,
    })
}

pub(crate) fn token_from_row(row: &Row) -> Result<TokenRecord, Error> {
    Ok(TokenRecord {
        access_hash: get(row, 0)?,
        refresh_hash: get(row, 1)?,
        username: get(row, 2)?,
        realm: get(row, 3)?,
        realm_type: get(row, 4)?,
        creation: get(row, 5)?,
        expiration: get(row, 6)?,
        invalidated: get(row, 7)?,
        refreshed: get(row, 8)?,
        seq: get(row, 9)?,
    })
}

pub(crate) fn user_from_row(row: &Row) -> Result<UserRecord, Error> {
    let username: String = get(row, 0)?;
    let roles: String = get(row, 2)?;
    let roles = serde_json::from_str::<Vec<String>>(&roles).map_err(|err| {
        Error::Corrupt(format!(
            "user [{username}]: roles are not a JSON array of strings: {err}"
        ))
    })?;
    Ok(UserRecord {
        password_hash: get(row, 1)?,
        roles,
        full_name: get(row, 3)?,
        email: get(row, 4)?,
        metadata: get(row, 5)?,
        enabled: get(row, 6)?,
        seq: get(row, 7)?,
        username,
    })
}

pub(crate) fn role_from_row(row: &Row) -> Result<RoleRecord, Error> {
    Ok(RoleRecord {
        name: get(row, 0)?,
        descriptor: get(row, 1)?,
        seq: get(row, 2)?,
    })
}

pub(crate) fn role_mapping_from_row(row: &Row) -> Result<RoleMappingRecord, Error> {
    Ok(RoleMappingRecord {
        name: get(row, 0)?,
        mapping: get(row, 1)?,
        seq: get(row, 2)?,
    })
}

pub(crate) fn app_privilege_from_row(row: &Row) -> Result<AppPrivilegeRecord, Error> {
    let application: String = get(row, 0)?;
    let name: String = get(row, 1)?;
    let actions: String = get(row, 2)?;
    let actions = serde_json::from_str::<Vec<String>>(&actions).map_err(|err| {
        Error::Corrupt(format!(
            "application privilege [{application}/{name}]: actions are not a JSON array of strings: {err}"
        ))
    })?;
    Ok(AppPrivilegeRecord {
        actions,
        metadata: get(row, 3)?,
        seq: get(row, 4)?,
        application,
        name,
    })
}

/// A list as JSON text, the way users' roles and privileges' actions are stored.
pub(crate) fn json_list(items: &[String]) -> Result<String, Error> {
    serde_json::to_string(items).map_err(|err| Error::Database(err.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(metadata: &str, expected: &[(&str, &str)]) {
        let (paths, values) = flatten_metadata(Some(metadata)).unwrap();
        let rows: Vec<(&str, &str)> = paths
            .iter()
            .map(String::as_str)
            .zip(values.iter().map(String::as_str))
            .collect();
        assert_eq!(rows, expected, "{metadata}");
    }

    #[test]
    fn flattening_follows_the_embedded_rules() {
        check(
            r#"{"letter":"a","number":42,"nested":{"deep":true},"n":null}"#,
            &[
                (r#"["letter"]"#, "a"),
                (r#"["number"]"#, "42"),
                (r#"["nested","deep"]"#, "true"),
            ],
        );
        check(
            r#"{"tags":["x","y","x",[1],{"z":false}],"f":1.5}"#,
            &[
                (r#"["tags"]"#, "x"),
                (r#"["tags"]"#, "y"),
                ("", "1"),
                ("", "false"),
                (r#"["f"]"#, "1.5"),
            ],
        );
        assert!(flatten_metadata(Some("{")).is_err());
        assert_eq!(flatten_metadata(None).unwrap(), (vec![], vec![]));
    }
}
