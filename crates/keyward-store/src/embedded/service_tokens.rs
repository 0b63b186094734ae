//! Service account tokens in the embedded store: one row per token, keyed by account and name.

use rusqlite::{Connection, Row, params};

use super::SqlResultExt;
use crate::{Error, ServiceTokenRecord};

const COLUMNS: &str = "account, name, hash, creation, creator, creator_realm";

/// Inserts `record`; `AlreadyExists` when its account has a token of that name.
pub(super) fn insert(connection: &Connection, record: &ServiceTokenRecord) -> Result<(), Error> {
    let inserted = connection
        .prepare_cached(&format!(
            "INSERT INTO service_tokens ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
             ON CONFLICT (account, name) DO NOTHING"
        ))
        .db()?
        .execute(params![
            record.account,
            record.name,
            record.hash,
            record.creation,
            record.creator,
            record.creator_realm,
        ])
        .db()?;
    if inserted == 0 {
        return Err(Error::AlreadyExists(format!(
            "{}/{}",
            record.account, record.name
        )));
    }
    Ok(())
}

/// The token of `account` named `name`.
pub(super) fn select_one(
    connection: &Connection,
    account: &str,
    name: &str,
) -> Result<Option<ServiceTokenRecord>, Error> {
    let mut statement = connection
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM service_tokens WHERE account = ?1 AND name = ?2"
        ))
        .db()?;
    let mut rows = statement.query(params![account, name]).db()?;
    rows.next().db()?.map(from_row).transpose()
}

/// Every token of `account`, by name.
pub(super) fn select_account(
    connection: &Connection,
    account: &str,
) -> Result<Vec<ServiceTokenRecord>, Error> {
    let mut statement = connection
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM service_tokens WHERE account = ?1 ORDER BY name"
        ))
        .db()?;
    let mut rows = statement.query([account]).db()?;
    let mut tokens = Vec::new();
    while let Some(row) = rows.next().db()? {
        tokens.push(from_row(row)?);
    }
    Ok(tokens)
}

/// Deletes the token of `account` named `name`; whether there was one.
pub(super) fn delete(connection: &Connection, account: &str, name: &str) -> Result<bool, Error> {
    let deleted = connection
        .prepare_cached("DELETE FROM service_tokens WHERE account = ?1 AND name = ?2")
        .db()?
        .execute(params![account, name])
        .db()?;
    Ok(deleted > 0)
}

fn from_row(row: &Row<'_>) -> Result<ServiceTokenRecord, Error> {
    Ok(ServiceTokenRecord {
        account: row.get(0).db()?,
        name: row.get(1).db()?,
        hash: row.get(2).db()?,
        creation: row.get(3).db()?,
        creator: row.get(4).db()?,
        creator_realm: row.get(5).db()?,
    })
}
