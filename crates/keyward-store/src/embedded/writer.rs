//! The writer thread: the one read-write connection, group commits of whatever is queued, one
//! savepoint per operation, and an answer to each only once its batch is committed.

use std::panic::AssertUnwindSafe;
use std::sync::mpsc;

use rusqlite::Connection;
use tokio::sync::{OwnedSemaphorePermit, oneshot};

use crate::Error;

/// The most operations one group commit takes.
pub(super) const MAX_BATCH: usize = 256;

/// The most write operations queued for or running in the writer thread at once; further
/// writers wait for a place.
pub(super) const MAX_QUEUED_WRITES: usize = 4 * MAX_BATCH;

/// One queued write: runs on the writer thread, answers once its batch is committed.
pub(super) trait WriteOp: Send {
    /// Runs the operation inside the current transaction; whether it succeeded.
    fn run(&mut self, connection: &Connection) -> bool;

    /// Answers the caller: the operation's own error, the batch's error, or its result.
    fn answer(self: Box<Self>, batch: Result<(), &Error>);

    /// Whether the operation failed because the disk is full.
    fn failed_on_full_disk(&self) -> bool;
}

pub(super) struct Op<R, F> {
    work: Option<F>,
    result: Option<Result<R, Error>>,
    reply: oneshot::Sender<Result<R, Error>>,
    /// The operation's place in the queue, given back when it has been answered.
    _slot: OwnedSemaphorePermit,
}

impl<R, F> Op<R, F>
where
    R: Send + 'static,
    F: FnOnce(&Connection) -> Result<R, Error> + Send + 'static,
{
    /// An operation that runs `work`, answers on `reply` and holds its queue place `slot`
    /// until then.
    pub(super) fn boxed(
        work: F,
        reply: oneshot::Sender<Result<R, Error>>,
        slot: OwnedSemaphorePermit,
    ) -> Box<dyn WriteOp> {
        Box::new(Op {
            work: Some(work),
            result: None,
            reply,
            _slot: slot,
        })
    }
}

impl<R, F> WriteOp for Op<R, F>
where
    R: Send,
    F: FnOnce(&Connection) -> Result<R, Error> + Send,
{
    fn run(&mut self, connection: &Connection) -> bool {
        let Some(work) = self.work.take() else {
            return false;
        };
        // A bug in one operation must not take the writer, and every later write, down with it.
        let result = std::panic::catch_unwind(AssertUnwindSafe(|| work(connection)))
            .unwrap_or_else(|_| Err(Error::Database("a write operation panicked".to_owned())));
        let succeeded = result.is_ok();
        self.result = Some(result);
        succeeded
    }

    fn failed_on_full_disk(&self) -> bool {
        matches!(self.result, Some(Err(Error::DiskFull(_))))
    }

    fn answer(self: Box<Self>, batch: Result<(), &Error>) {
        let result = match (self.result, batch) {
            (Some(Err(err)), _) => Err(err),
            (Some(Ok(value)), Ok(())) => Ok(value),
            (Some(Ok(_)) | None, Err(err)) => Err(copy(err)),
            (None, Ok(())) => Err(Error::Database(
                "the write operation did not run".to_owned(),
            )),
        };
        // The caller may have stopped waiting; the write stands either way.
        let _ = self.reply.send(result);
    }
}

/// The writer thread: group commits until every sender is gone and the queue is empty.
pub(super) fn run_writer(connection: Connection, receiver: mpsc::Receiver<Box<dyn WriteOp>>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while let Ok(first) = receiver.recv() {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match receiver.try_recv() {
                Ok(op) => batch.push(op),
                Err(_) => break,
            }
        }
        let outcome = run_batch(&connection, &mut batch);
        if let Err(err) = &outcome {
            tracing::error!(operations = batch.len(), error = %err, "a store transaction failed");
        }
        for op in batch.drain(..) {
            op.answer(outcome.as_ref().map(|_| ()));
        }
    }
    if let Err((_, err)) = connection.close() {
        tracing::warn!(error = %err, "cannot close the store's write connection");
    }
}

/// The batch's error for every operation in it: a full disk stays a full disk (a 503 the
/// client retries), anything else is the engine's failure.
fn copy(err: &Error) -> Error {
    match err {
        Error::DiskFull(reason) => Error::DiskFull(reason.clone()),
        Error::Database(reason) => Error::Database(reason.clone()),
        other => Error::Database(other.to_string()),
    }
}

/// A failed statement of the batch itself (begin, savepoints, commit), with what it was doing.
fn batch_error(doing: &str, err: &rusqlite::Error) -> Error {
    if err.sqlite_error_code() == Some(rusqlite::ErrorCode::DiskFull) {
        Error::DiskFull(format!("{doing}: {err}"))
    } else {
        Error::Database(format!("{doing}: {err}"))
    }
}

/// One transaction for the whole batch, one savepoint per operation.
pub(super) fn run_batch(
    connection: &Connection,
    batch: &mut [Box<dyn WriteOp>],
) -> Result<(), Error> {
    connection
        .execute_batch("BEGIN IMMEDIATE")
        .map_err(|err| batch_error("cannot begin a transaction", &err))?;
    let result = run_ops(connection, batch).and_then(|()| {
        connection
            .execute_batch("COMMIT")
            .map_err(|err| batch_error("cannot commit a transaction", &err))
    });
    if result.is_err()
        && !connection.is_autocommit()
        && let Err(err) = connection.execute_batch("ROLLBACK")
    {
        tracing::error!(error = %err, "cannot roll back a failed store transaction");
    }
    result
}

pub(super) fn run_ops(
    connection: &Connection,
    batch: &mut [Box<dyn WriteOp>],
) -> Result<(), Error> {
    for op in batch.iter_mut() {
        connection
            .execute_batch("SAVEPOINT op")
            .map_err(|err| batch_error("cannot start an operation", &err))?;
        let undo = if op.run(connection) {
            "RELEASE op"
        } else {
            "ROLLBACK TO op; RELEASE op"
        };
        connection
            .execute_batch(undo)
            .map_err(|err| batch_error("cannot finish an operation", &err))?;
        // Some errors (disk full, I/O) make SQLite roll back the whole transaction by itself:
        // then the operations before this one are gone too, and none of them may be acknowledged.
        if connection.is_autocommit() {
            let reason = "the transaction was rolled back by the database".to_owned();
            return Err(if op.failed_on_full_disk() {
                Error::DiskFull(reason)
            } else {
                Error::Database(reason)
            });
        }
    }
    Ok(())
}
