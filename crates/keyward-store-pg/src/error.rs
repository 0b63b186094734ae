//! Driver and pool errors mapped into the store's [`Error`]: what a client may retry later
//! (server down, restarting, unreachable, pool exhausted) is `Unavailable`, a query too large
//! for the server is `QueryTooLarge`, the rest `Database`. Messages carry the server's code and
//! message, never its `DETAIL` (which quotes the values of the row at fault).

use std::error::Error as _;

use keyward_store::Error;
use tokio_postgres::error::SqlState;

/// Maps driver results into the store's.
pub(crate) trait PgResultExt<T> {
    fn pg(self) -> Result<T, Error>;
}

impl<T> PgResultExt<T> for Result<T, tokio_postgres::Error> {
    fn pg(self) -> Result<T, Error> {
        self.map_err(pg_error)
    }
}

/// The store error for a driver error.
pub(crate) fn pg_error(err: tokio_postgres::Error) -> Error {
    if let Some(db) = err.as_db_error() {
        let code = db.code();
        let message = format!("{}: {}", code.code(), db.message());
        let class = code.code().get(..2).unwrap_or_default();
        return if *code == SqlState::ADMIN_SHUTDOWN
            || *code == SqlState::CRASH_SHUTDOWN
            || *code == SqlState::CANNOT_CONNECT_NOW
            || *code == SqlState::TOO_MANY_CONNECTIONS
            || class == "08"
        {
            Error::Unavailable(message)
        } else if *code == SqlState::STATEMENT_TOO_COMPLEX
            || *code == SqlState::PROGRAM_LIMIT_EXCEEDED
            || *code == SqlState::TOO_MANY_COLUMNS
            || *code == SqlState::TOO_MANY_ARGUMENTS
        {
            Error::QueryTooLarge(message)
        } else if *code == SqlState::DISK_FULL {
            // The server's disk: the same 503 as a full disk under the embedded store.
            Error::DiskFull(message)
        } else {
            Error::Database(message)
        };
    }
    let text = describe(&err);
    // No server answer: the connection is closed or broken, or could not be made.
    if err.is_closed() || io_source(&err) {
        return Error::Unavailable(text);
    }
    // The driver reports a connect timeout as an error kind of its own, without a source.
    if text.starts_with("timeout waiting for server") {
        Error::Unavailable(text)
    } else {
        Error::Database(text)
    }
}

/// The store error for a pool error: waiting for or creating a connection failed.
pub(crate) fn pool_error(err: deadpool_postgres::PoolError) -> Error {
    use deadpool_postgres::PoolError;
    match err {
        PoolError::Backend(err) => match pg_error(err) {
            Error::Database(message) => Error::Unavailable(message),
            other => other,
        },
        PoolError::Timeout(kind) => Error::Unavailable(format!(
            "timed out waiting for a database connection ({kind:?})"
        )),
        PoolError::Closed => Error::Closed,
        PoolError::NoRuntimeSpecified => Error::Database("no runtime for the pool".to_owned()),
        PoolError::PostCreateHook(err) => Error::Unavailable(err.to_string()),
    }
}

/// The error with its causes (the driver's own text leaves out why a connection failed).
fn describe(err: &tokio_postgres::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// Whether an `io::Error` is somewhere in the chain of `err`.
fn io_source(err: &tokio_postgres::Error) -> bool {
    let mut source = err.source();
    while let Some(cause) = source {
        if cause.is::<std::io::Error>() {
            return true;
        }
        source = cause.source();
    }
    false
}
