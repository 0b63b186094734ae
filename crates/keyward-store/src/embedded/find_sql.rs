//! Listings and filtered reads of keys (`find_api_keys`, `find_api_keys_page`) as SQL.

use super::*;

/// Runs a select of whole keys.
pub(super) fn select_api_keys(
    connection: &Connection,
    sql: &str,
    values: Vec<Value>,
) -> Result<Vec<ApiKeyRecord>, Error> {
    let mut statement = connection.prepare_cached(sql).db()?;
    let mut rows = statement.query(params_from_iter(values)).db()?;
    let mut records = Vec::new();
    while let Some(row) = rows.next().db()? {
        records.push(api_key_from_row(row)?);
    }
    Ok(records)
}

/// What an [`ApiKeyFilter`] selects, as SQL conditions over `api_keys` and the values they bind
/// (by number, so conditions can be added in any order).
pub(super) struct FindSql {
    pub(super) conditions: Vec<String>,
    pub(super) values: Vec<Value>,
    /// The filter has a criterion an index other than the creation index can answer.
    pub(super) indexed_criterion: bool,
}

/// A paged read whose filter an owner or name index could answer checks first whether it
/// matches fewer keys than this: if so, the planner's choice (that index, then sorting the few
/// matches by creation) is cheapest; if not, sorting them again for every page would cost the
/// whole match set per page, and walking the creation index is cheaper.
pub(super) const SELECTIVE_MATCHES: i64 = 10_000;

impl FindSql {
    /// The conditions of `filter`, or `None` when it selects nothing.
    pub(super) fn new(filter: &ApiKeyFilter) -> Result<Option<FindSql>, Error> {
        let mut find = FindSql {
            conditions: Vec::new(),
            values: Vec::new(),
            indexed_criterion: false,
        };
        if let Some(ids) = &filter.ids {
            if ids.is_empty() {
                return Ok(None);
            }
            // One JSON array parameter, however many ids: no limit on bound variables to hit.
            let ids = serde_json::to_string(ids).map_err(|err| Error::Database(err.to_string()))?;
            let ids = find.bind(Value::Text(ids));
            find.conditions
                .push(format!("id IN (SELECT value FROM json_each(?{ids}))"));
        }
        match &filter.name {
            None | Some(NamePattern::All) => {}
            Some(NamePattern::Exact(name)) => {
                let name = find.bind(Value::Text(name.clone()));
                find.conditions.push(format!("name = ?{name}"));
                find.indexed_criterion = true;
            }
            Some(NamePattern::Prefix(prefix)) => {
                // `substr` compares literally (no wildcards to escape, case-sensitive) and counts
                // characters; the range condition only lets the name index narrow the scan.
                let length = i64::try_from(prefix.chars().count())
                    .map_err(|_| Error::Database("name prefix too long".to_owned()))?;
                let prefix = find.bind(Value::Text(prefix.clone()));
                let length = find.bind(Value::Integer(length));
                find.conditions.push(format!(
                    "name >= ?{prefix} AND substr(name, 1, ?{length}) = ?{prefix}"
                ));
                find.indexed_criterion = true;
            }
        }
        if let Some(username) = &filter.username {
            let username = find.bind(Value::Text(username.clone()));
            find.conditions.push(format!("principal = ?{username}"));
            find.indexed_criterion = true;
        }
        if let Some(realm) = &filter.realm {
            let realm = find.bind(Value::Text(realm.clone()));
            find.conditions.push(format!("realm = ?{realm}"));
            find.indexed_criterion = true;
        }
        if filter.exclude_invalidated {
            find.conditions.push("invalidated = 0".to_owned());
        }
        if let Some(instant) = filter.exclude_expired_at {
            let instant = find.bind(Value::Integer(instant));
            find.conditions
                .push(format!("(expiration IS NULL OR expiration > ?{instant})"));
        }
        if let Some(key_type) = filter.key_type {
            let key_type = find.bind(Value::Text(key_type.as_str().to_owned()));
            find.conditions.push(format!("key_type = ?{key_type}"));
        }
        Ok(Some(find))
    }

    /// Binds a value; its parameter number.
    pub(super) fn bind(&mut self, value: Value) -> usize {
        self.values.push(value);
        self.values.len()
    }

    /// Only keys after `after` in (creation, id) order. A row value comparison: SQLite seeks the
    /// creation index to the cursor rather than walking the keys before it.
    pub(super) fn after(&mut self, after: &ApiKeyCursor) {
        let creation = self.bind(Value::Integer(after.creation));
        let id = self.bind(Value::Text(after.id.clone()));
        self.conditions
            .push(format!("(creation, id) > (?{creation}, ?{id})"));
    }

    pub(super) fn where_clause(&self) -> String {
        if self.conditions.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", self.conditions.join(" AND "))
        }
    }

    /// The keys selected, in (creation, id) order, at most `limit` of them when given; through
    /// the creation index when `by_creation`.
    pub(super) fn select(&self, by_creation: bool, limit: Option<usize>) -> String {
        let index = if by_creation {
            " INDEXED BY api_keys_creation"
        } else {
            ""
        };
        let mut sql = format!(
            "SELECT {API_KEY_COLUMNS} FROM api_keys{index}{} ORDER BY creation, id",
            self.where_clause()
        );
        if let Some(limit) = limit {
            sql.push_str(&format!(" LIMIT {limit}"));
        }
        sql
    }

    /// How many keys are selected, counting no further than `cap`.
    pub(super) fn count_up_to(&self, cap: i64) -> String {
        format!(
            "SELECT count(*) FROM (SELECT 1 FROM api_keys{} LIMIT {cap})",
            self.where_clause()
        )
    }
}

/// One page of a listing: see [`SELECTIVE_MATCHES`] for the choice of index.
pub(super) fn select_page(
    connection: &Connection,
    find: &FindSql,
    limit: usize,
) -> Result<Vec<ApiKeyRecord>, Error> {
    let by_creation = find.indexed_criterion && {
        let mut statement = connection
            .prepare_cached(&find.count_up_to(SELECTIVE_MATCHES))
            .db()?;
        let matches: i64 = statement
            .query_row(params_from_iter(find.values.iter()), |row| row.get(0))
            .db()?;
        matches >= SELECTIVE_MATCHES
    };
    let sql = find.select(by_creation, Some(limit));
    select_api_keys(connection, &sql, find.values.clone())
}
