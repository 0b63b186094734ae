//! User profiles in the embedded store: one row per profile, keyed by uid, with the user's
//! details as of the last activation and the labels and data as JSON text.

use rusqlite::{Connection, Row, ToSql, params};

use super::SqlResultExt;
use crate::{Error, ProfileRecord, UpdateOutcome};

const COLUMNS: &str = "uid, username, realm_name, realm_type, roles, full_name, email, enabled, \
                       last_synchronized, labels, data, seq";

/// A profile's parameters `?1`..`?11`, in the order of [`COLUMNS`]; `roles` is its role list as
/// JSON.
fn profile_params<'a>(record: &'a ProfileRecord, roles: &'a impl ToSql) -> [&'a dyn ToSql; 11] {
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

/// Inserts `record` with `seq` 1; `AlreadyExists` when its uid is taken.
pub(super) fn insert(connection: &Connection, record: &ProfileRecord) -> Result<(), Error> {
    let roles = roles_json(&record.roles)?;
    let inserted = connection
        .prepare_cached(&format!(
            "INSERT INTO profiles ({COLUMNS}) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, 1) \
             ON CONFLICT (uid) DO NOTHING"
        ))
        .db()?
        .execute(&profile_params(record, &roles)[..])
        .db()?;
    if inserted == 0 {
        return Err(Error::AlreadyExists(record.uid.clone()));
    }
    Ok(())
}

/// Replaces the profile if its stored `seq` equals `record.seq`.
pub(super) fn update(
    connection: &Connection,
    record: &ProfileRecord,
) -> Result<UpdateOutcome, Error> {
    let roles = roles_json(&record.roles)?;
    let updated = connection
        .prepare_cached(
            "UPDATE profiles SET username = ?2, realm_name = ?3, realm_type = ?4, roles = ?5, \
             full_name = ?6, email = ?7, enabled = ?8, last_synchronized = ?9, labels = ?10, \
             data = ?11, seq = seq + 1 WHERE uid = ?1 AND seq = ?12",
        )
        .db()?
        .execute(
            &[
                &profile_params(record, &roles)[..],
                &[&record.seq as &dyn ToSql],
            ]
            .concat()[..],
        )
        .db()?;
    Ok(if updated == 0 {
        UpdateOutcome::Conflict
    } else {
        UpdateOutcome::Updated
    })
}

/// The profiles with these uids (a JSON array), by uid.
pub(super) fn select_uids(
    connection: &Connection,
    uids: &str,
) -> Result<Vec<ProfileRecord>, Error> {
    select(
        connection,
        &format!(
            "SELECT {COLUMNS} FROM profiles WHERE uid IN (SELECT value FROM json_each(?1)) \
             ORDER BY uid"
        ),
        params![uids],
    )
}

/// The profiles of these usernames (a JSON array), by username then uid.
pub(super) fn select_usernames(
    connection: &Connection,
    usernames: &str,
) -> Result<Vec<ProfileRecord>, Error> {
    select(
        connection,
        &format!(
            "SELECT {COLUMNS} FROM profiles \
             WHERE username IN (SELECT value FROM json_each(?1)) ORDER BY username, uid"
        ),
        params![usernames],
    )
}

/// Up to `limit` profiles after the uid `after`, by uid.
pub(super) fn select_page(
    connection: &Connection,
    after: Option<&str>,
    limit: usize,
) -> Result<Vec<ProfileRecord>, Error> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    select(
        connection,
        &format!(
            "SELECT {COLUMNS} FROM profiles WHERE ?1 IS NULL OR uid > ?1 ORDER BY uid LIMIT ?2"
        ),
        params![after, limit],
    )
}

fn select(
    connection: &Connection,
    sql: &str,
    values: impl rusqlite::Params,
) -> Result<Vec<ProfileRecord>, Error> {
    let mut statement = connection.prepare_cached(sql).db()?;
    let mut rows = statement.query(values).db()?;
    let mut profiles = Vec::new();
    while let Some(row) = rows.next().db()? {
        profiles.push(from_row(row)?);
    }
    Ok(profiles)
}

fn roles_json(roles: &[String]) -> Result<String, Error> {
    serde_json::to_string(roles).map_err(|err| Error::Database(err.to_string()))
}

fn from_row(row: &Row<'_>) -> Result<ProfileRecord, Error> {
    let uid: String = row.get(0).db()?;
    let roles: String = row.get(4).db()?;
    let roles = serde_json::from_str::<Vec<String>>(&roles).map_err(|err| {
        Error::Corrupt(format!(
            "profile [{uid}]: roles are not a JSON array of strings: {err}"
        ))
    })?;
    Ok(ProfileRecord {
        uid,
        username: row.get(1).db()?,
        realm_name: row.get(2).db()?,
        realm_type: row.get(3).db()?,
        roles,
        full_name: row.get(5).db()?,
        email: row.get(6).db()?,
        enabled: row.get(7).db()?,
        last_synchronized: row.get(8).db()?,
        labels: row.get(9).db()?,
        data: row.get(10).db()?,
        seq: row.get(11).db()?,
    })
}
