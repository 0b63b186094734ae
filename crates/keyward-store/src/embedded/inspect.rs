//! What the store refuses to open, before it writes anything: a file that is not an SQLite
//! database, an SQLite database keyward did not create, one whose schema a newer keyward wrote,
//! and one whose schema cannot be read (corrupt). Each is [`Error::Corrupt`] with a message
//! naming the file and what was found; the file is left byte for byte as it was (no journal
//! mode set, no migration run).

use std::io::Read;

use super::*;

/// The first 16 bytes of every SQLite database file.
const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";

/// Tables every keyward store has had since its first schema version.
const KEYWARD_TABLES: [&str; 2] = ["api_keys", "meta"];

/// A connection that only reads: it neither creates the database, changes its journal mode nor
/// checkpoints it. Without a write-ahead log holding commits, the file is opened immutable, so
/// not even the log and shared-memory files are created; with one, they are already there.
fn open_read_only(path: &Path) -> Result<Connection, Error> {
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    let pending = std::fs::metadata(&wal).is_ok_and(|metadata| metadata.len() > 0);
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    if pending {
        return Connection::open_with_flags(path, flags).db();
    }
    let text = path
        .to_str()
        .ok_or_else(|| Error::Database(format!("the path [{}] is not UTF-8", path.display())))?;
    let escaped = text
        .replace('%', "%25")
        .replace('?', "%3f")
        .replace('#', "%23");
    Connection::open_with_flags(
        format!("file:{escaped}?immutable=1"),
        flags | OpenFlags::SQLITE_OPEN_URI,
    )
    .db()
}

/// Checks the database at `path` (if there is one) is a keyward store this binary can open.
pub(super) fn inspect(path: &Path) -> Result<(), Error> {
    let mut file = match File::open(path) {
        Ok(file) => file,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(err) => return Err(Error::Io(err)),
    };
    let mut head = Vec::with_capacity(SQLITE_MAGIC.len());
    file.by_ref()
        .take(SQLITE_MAGIC.len() as u64)
        .read_to_end(&mut head)?;
    if head.is_empty() {
        // An empty file is what SQLite itself leaves before the first write: a new store.
        return Ok(());
    }
    let refuse = |what: &str| {
        Error::Corrupt(format!(
            "[{}] is not a keyward store: {what}; keyward leaves it as it is (move it away, or \
             point path.data at keyward's own directory)",
            path.display()
        ))
    };
    if head.as_slice() != SQLITE_MAGIC {
        return Err(refuse("it is not an SQLite database"));
    }
    let connection = open_read_only(path)?;
    connection.busy_timeout(BUSY_TIMEOUT).db()?;
    let unreadable = |err: rusqlite::Error| {
        Error::Corrupt(format!(
            "the store [{}] cannot be read, it is damaged ({err}); keyward leaves it as it is: \
             restore it from a backup",
            path.display()
        ))
    };
    let version: i64 = connection
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .map_err(unreadable)?;
    let mut statement = connection
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
        .map_err(unreadable)?;
    let tables = statement
        .query_map([], |row| row.get::<_, String>(0))
        .and_then(|rows| rows.collect::<Result<Vec<String>, _>>())
        .map_err(unreadable)?;
    let known = schema::MIGRATIONS.len();
    if version == 0 {
        if tables.is_empty() {
            return Ok(());
        }
        return Err(refuse(&format!(
            "an SQLite database keyward did not create (tables [{}])",
            tables.join(", ")
        )));
    }
    if !KEYWARD_TABLES
        .iter()
        .all(|table| tables.iter().any(|name| name == table))
    {
        return Err(refuse(&format!(
            "an SQLite database with schema version {version} but without keyward's tables"
        )));
    }
    if usize::try_from(version).map_or(true, |version| version > known) {
        return Err(Error::Corrupt(format!(
            "the store [{}] has schema version {version}, newer than the versions this keyward \
             knows (up to {known}): it was written by a newer keyward; keyward leaves it as it \
             is: run the newer keyward",
            path.display()
        )));
    }
    // A store whose pages are damaged past its schema shows it here, before anything writes.
    connection
        .query_row("SELECT count(*) FROM meta", [], |row| row.get::<_, i64>(0))
        .map_err(unreadable)?;
    Ok(())
}
