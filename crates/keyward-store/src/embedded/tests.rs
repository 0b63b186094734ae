//! Tests of the embedded store's own machinery: durability settings, mapped readers, listing plans.

use super::*;

fn temp_dir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap_or_else(|err| panic!("temp dir: {err}"))
}

#[test]
fn the_writer_commits_with_wal_and_synchronous_full() {
    let dir = temp_dir();
    let path = dir.path().join(DATABASE_FILE);
    let writer = open_writer(&path).unwrap_or_else(|err| panic!("{err}"));
    let synchronous: i64 = writer
        .query_row("PRAGMA synchronous", [], |row| row.get(0))
        .unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(synchronous, 2);
    let mode: String = writer
        .query_row("PRAGMA journal_mode", [], |row| row.get(0))
        .unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(mode, "wal");
    require_durable(&writer, &path).unwrap_or_else(|err| panic!("{err}"));
}

#[test]
fn a_connection_that_would_not_fsync_every_commit_is_refused() {
    let dir = temp_dir();
    let path = dir.path().join(DATABASE_FILE);
    let connection = Connection::open(&path).unwrap_or_else(|err| panic!("{err}"));
    let refused = |setup: &str| {
        connection
            .execute_batch(setup)
            .unwrap_or_else(|err| panic!("{err}"));
        match require_durable(&connection, &path) {
            Err(Error::Database(message)) => message,
            other => panic!("{setup}: not refused: {other:?}"),
        }
    };
    let message = refused("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;");
    assert!(
        message.ends_with("but it runs with synchronous=NORMAL"),
        "{message}"
    );
    assert!(
        message.contains("must run with synchronous=FULL"),
        "{message}"
    );
    let message = refused("PRAGMA synchronous = OFF;");
    assert!(message.ends_with("synchronous=OFF"), "{message}");
    let message = refused("PRAGMA journal_mode = DELETE; PRAGMA synchronous = FULL;");
    assert!(
        message.ends_with("its journal mode is [delete]"),
        "{message}"
    );
    connection
        .execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = EXTRA;")
        .unwrap_or_else(|err| panic!("{err}"));
    require_durable(&connection, &path).unwrap_or_else(|err| panic!("{err}"));
}

#[test]
fn read_connections_map_the_whole_store() {
    let dir = tempfile::tempdir().unwrap_or_else(|err| panic!("temp dir: {err}"));
    let store = EmbeddedStore::open(EmbeddedStoreOptions::new(dir.path().to_path_buf()))
        .unwrap_or_else(|err| panic!("open: {err}"));
    let reader =
        open_reader(&dir.path().join(DATABASE_FILE), true).unwrap_or_else(|err| panic!("{err}"));
    let mapped: i64 = reader
        .query_row("PRAGMA mmap_size", [], |row| row.get(0))
        .unwrap_or_else(|err| panic!("{err}"));
    // Below this, SQLite was built without `.cargo/config.toml`'s raised cap.
    assert_eq!(mapped, READ_MMAP_BYTES);
    // Scans copy pages instead.
    let scanner = store
        .scanners
        .take()
        .unwrap_or_else(|| panic!("an idle scan connection"));
    let mapped: i64 = scanner
        .query_row("PRAGMA mmap_size", [], |row| row.get(0))
        .unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(mapped, 0);
    store.scanners.put(scanner);
    drop(store);
}

/// A listing filtered by an owner who holds more keys than [`SELECTIVE_MATCHES`] walks the
/// creation index (no per-page sort of every match), and still returns each key once, in
/// order; an owner with few keys gets them through the owner index.
#[tokio::test]
async fn large_owner_listings_walk_the_creation_index() {
    let (store, _dir) = crate::testsuite::temp_embedded_store().await;
    let many = usize::try_from(SELECTIVE_MATCHES).unwrap_or(usize::MAX) + 7;
    let records: Vec<ApiKeyRecord> = (0..many + 3)
        .map(|n| {
            let mut record = crate::testsuite::sample_key(&format!("k{n:06}"));
            // Creation order is the reverse of id order, with ties.
            record.creation = crate::testsuite::CREATED - i64::try_from(n / 2).unwrap_or(0);
            if n >= many {
                record.creator.principal = "few".to_owned();
            }
            record
        })
        .collect();
    store
        .import_api_keys(records.clone())
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    let mut expected: Vec<&ApiKeyRecord> = records.iter().collect();
    expected.sort_by(|a, b| (a.creation, &a.id).cmp(&(b.creation, &b.id)));

    let plan = |find: &FindSql, by_creation: bool| -> String {
        let reader =
            open_reader(&store.dir.join(DATABASE_FILE), true).unwrap_or_else(|err| panic!("{err}"));
        let sql = format!("EXPLAIN QUERY PLAN {}", find.select(by_creation, Some(10)));
        let mut statement = reader.prepare(&sql).unwrap_or_else(|err| panic!("{err}"));
        let rows = statement
            .query_map(params_from_iter(find.values.iter()), |row| {
                row.get::<_, String>(3)
            })
            .unwrap_or_else(|err| panic!("{err}"));
        rows.map(|row| row.unwrap_or_else(|err| panic!("{err}")))
            .collect::<Vec<_>>()
            .join("; ")
    };
    for (owner, count) in [("elastic", many), ("few", 3)] {
        let filter = ApiKeyFilter {
            username: Some(owner.to_owned()),
            realm: Some("reserved".to_owned()),
            ..ApiKeyFilter::default()
        };
        let mut seen = Vec::new();
        let mut after = None;
        loop {
            let page = store
                .find_api_keys_page(&filter, after.as_ref(), 1000)
                .await
                .unwrap_or_else(|err| panic!("{err}"));
            let Some(last) = page.last() else { break };
            after = Some(ApiKeyCursor::after(last));
            seen.extend(page.into_iter().map(|record| record.id));
        }
        let wanted: Vec<String> = expected
            .iter()
            .filter(|record| record.creator.principal == owner)
            .map(|record| record.id.clone())
            .collect();
        assert_eq!(seen.len(), count);
        assert_eq!(seen, wanted, "listing of [{owner}]");
    }
    let find = FindSql::new(&ApiKeyFilter {
        username: Some("elastic".to_owned()),
        ..ApiKeyFilter::default()
    })
    .unwrap_or_else(|err| panic!("{err}"))
    .unwrap_or_else(|| panic!("selects something"));
    assert!(
        plan(&find, true).contains("api_keys_creation")
            && !plan(&find, true).contains("TEMP B-TREE"),
        "{}",
        plan(&find, true)
    );
}
