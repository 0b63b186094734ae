//! The store's connections: the one durable writer, mapped readers for lookups and copying
//! readers for scans, and the pool that hands them out.

use super::*;

/// Opens the one read-write connection, set up for durable WAL writes.
pub(super) fn open_writer(path: &Path) -> Result<Connection, Error> {
    let connection = Connection::open(path).db()?;
    connection.busy_timeout(BUSY_TIMEOUT).db()?;
    connection
        .execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;",
        )
        .db()?;
    // An acknowledged write must be fsynced: check the settings took rather than trust them.
    require_durable(&connection, path)?;
    Ok(connection)
}

/// Fails unless `connection` commits durably: write-ahead logging with `synchronous=FULL` (or
/// the stricter `EXTRA`), so that a commit returns only after the log is fsynced. With `NORMAL`
/// a commit in WAL mode is not fsynced, and a power loss forgets acknowledged writes, which no
/// kill -9 test can show: the store refuses to open instead.
pub(super) fn require_durable(connection: &Connection, path: &Path) -> Result<(), Error> {
    let journal_mode: String = connection
        .query_row("PRAGMA journal_mode", [], |row| row.get(0))
        .db()?;
    if !journal_mode.eq_ignore_ascii_case("wal") {
        return Err(Error::Database(format!(
            "the store [{}] must use write-ahead logging, but its journal mode is [{journal_mode}]",
            path.display()
        )));
    }
    let synchronous: i64 = connection
        .query_row("PRAGMA synchronous", [], |row| row.get(0))
        .db()?;
    // SQLite's levels: 0 OFF, 1 NORMAL, 2 FULL, 3 EXTRA.
    if synchronous < 2 {
        let level = match synchronous {
            0 => "OFF",
            1 => "NORMAL",
            _ => "unknown",
        };
        return Err(Error::Database(format!(
            "the store [{}] must run with synchronous=FULL so that every acknowledged write is fsynced, \
             but it runs with synchronous={level}",
            path.display()
        )));
    }
    Ok(())
}

/// How much of the database file a read connection maps into memory: all of it, in practice.
/// A mapped page is read with no system call and no copy: each connection maps the file, and the
/// pages behind every mapping are the kernel's page cache, so a lookup among ten million keys
/// costs what one among ten thousand does once the pages it touches are cached (`bench/run`, P5).
/// The mapping is address space, not memory: the kernel can drop those pages at any time.
pub(super) const READ_MMAP_BYTES: i64 = 1 << 40;

/// Connections kept for scans: reads that walk a large part of the store, such as a listing of
/// every key. Their pages are copied through SQLite's small page cache instead of mapped: a
/// walk over a million keys would otherwise leave the whole file mapped into the process, its
/// resident size grown by the store's size for as long as the kernel keeps the pages (they are
/// the page cache either way; mapped, they count as the process's). Sequential reads lose
/// little by the copy. Two, so one long listing never waits behind another for long.
pub(super) const SCAN_CONNECTIONS: usize = 2;

/// Opens a read-only connection, mapping the store when `mapped`; the database already exists
/// and is in WAL mode.
pub(super) fn open_reader(path: &Path, mapped: bool) -> Result<Connection, Error> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let connection = Connection::open_with_flags(path, flags).db()?;
    connection.busy_timeout(BUSY_TIMEOUT).db()?;
    if !mapped {
        connection.pragma_update(None, "mmap_size", 0).db()?;
        return Ok(connection);
    }
    let mapped: i64 = connection
        .pragma_update_and_check(None, "mmap_size", READ_MMAP_BYTES, |row| row.get(0))
        .db()?;
    if mapped < READ_MMAP_BYTES {
        tracing::debug!(
            mapped,
            "SQLite caps memory-mapped reads below the whole store"
        );
    }
    Ok(connection)
}

/// Read-only connections, handed out one per read.
pub(super) struct ReadPool {
    pub(super) path: PathBuf,
    pub(super) size: usize,
    /// Whether the connections map the store.
    pub(super) mapped: bool,
    /// Bounds concurrent reads to the number of connections, waiting asynchronously.
    pub(super) permits: Arc<Semaphore>,
    pub(super) idle: Mutex<Vec<Connection>>,
}

impl ReadPool {
    /// Opens `size` (at least one) read-only connections to the store at `path`.
    pub(super) fn open(path: &Path, size: usize, mapped: bool) -> Result<Arc<ReadPool>, Error> {
        let size = size.max(1);
        let mut idle = Vec::with_capacity(size);
        for _ in 0..size {
            idle.push(open_reader(path, mapped)?);
        }
        Ok(Arc::new(ReadPool {
            path: path.to_path_buf(),
            size,
            mapped,
            permits: Arc::new(Semaphore::new(size)),
            idle: Mutex::new(idle),
        }))
    }

    pub(super) async fn run<R, F>(self: &Arc<ReadPool>, work: F) -> Result<R, Error>
    where
        R: Send + 'static,
        F: FnOnce(&Connection) -> Result<R, Error> + Send + 'static,
    {
        let permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .map_err(|_| Error::Closed)?;
        let pool = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            // A connection lost to a panicking read is replaced here.
            let connection = match pool.take() {
                Some(connection) => connection,
                None => open_reader(&pool.path, pool.mapped)?,
            };
            let result = work(&connection);
            pool.put(connection);
            result
        })
        .await
        .map_err(|err| Error::Database(format!("read task failed: {err}")))?
    }

    pub(super) fn take(&self) -> Option<Connection> {
        // A poisoned lock only means a reader panicked; the list of connections is still sound.
        self.idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .pop()
    }

    pub(super) fn put(&self, connection: Connection) {
        self.idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(connection);
    }
}
