//! The query API keys AST translated to SQLite: a parameterised `WHERE` clause (values are always
//! bound, never written into the SQL), `ORDER BY` with missing values last, `search_after` as a
//! tuple comparison, `LIMIT`/`OFFSET`.
//!
//! Leaf conditions never evaluate to SQL `NULL` (nullable columns are guarded with `IS NOT NULL`),
//! so `NOT` and `must_not` mean what Elasticsearch means. `metadata` is flattened as Elasticsearch
//! maps it: every scalar leaf is a keyword (`42` is `"42"`, `true` is `"true"`), arrays hold
//! several values of one key.

use keyward_core::query::{
    ApiKeyField, ApiKeyQuery, FieldKind, FieldValue, MISSING_DATE_ASC, MISSING_DATE_DESC, Query,
    SortKey, SortValue, WildcardPart,
};
use rusqlite::types::{Value, ValueRef};
use rusqlite::{Connection, Row, params_from_iter};

use super::SqlResultExt;
use crate::{ApiKeyRecord, Error, FieldCountValue, FieldCounts, QueryPage};

/// The statements of one query: the count, and the page (absent when `size` is 0).
#[derive(Debug)]
pub(super) struct Statements {
    count_sql: String,
    count_values: Vec<Value>,
    page: Option<(String, Vec<Value>)>,
    /// Per sort clause: whether it is a date sort, and whether descending.
    sorts: Vec<(bool, bool)>,
    columns: usize,
}

/// Builds the statements for `query`, selecting `columns` (the record columns, in order).
pub(super) fn translate(query: &ApiKeyQuery, columns: &str) -> Result<Statements, Error> {
    let mut builder = Builder::default();
    let condition = builder.condition(&query.query);
    check_size(&builder)?;
    let count_values = builder.values.clone();
    // Elasticsearch tracks total hits exactly for this API, so the count is exact. Without a
    // `WHERE`, SQLite counts the entries of the smallest index instead of reading rows.
    let metadata_term = metadata_term(&query.query);
    let (count_sql, count_values) = if matches!(query.query, Query::MatchAll) {
        ("SELECT COUNT(*) FROM api_keys".to_owned(), count_values)
    } else if let Some(counted) = counted_total(&query.query) {
        counted
    } else if let Some((path, value)) = &metadata_term {
        // One row per key holds the value: the index range is the count.
        (
            format!(
                "SELECT COUNT(*) FROM api_key_metadata AS m WHERE m.path = {} AND m.value = ?2",
                rendered_path("?1")
            ),
            vec![Value::Text(path.clone()), Value::Text(value.clone())],
        )
    } else if let [rows] = builder.metadata_lookups.as_slice()
        && condition == metadata_rows_condition(rows)
    {
        // The query is one metadata condition: its rows name the keys, every one of which
        // exists, so they are counted without reading the keys.
        (
            format!("SELECT COUNT(DISTINCT m.id) FROM api_key_metadata AS m WHERE {rows}"),
            count_values,
        )
    } else {
        (
            format!("SELECT COUNT(*) FROM api_keys WHERE {condition}"),
            count_values,
        )
    };
    let column_count = columns.split(',').count();
    let mut sorts = Vec::new();
    let mut page = None;
    if query.size > 0
        && query.sort.is_empty()
        && query.search_after.is_none()
        && let Some((path, value)) = &metadata_term
    {
        // The keys with one metadata value, in the default order (creation, then id), are a
        // range of the metadata index: the page reads `size` entries and their keys.
        let sql = format!(
            "SELECT {columns} FROM (SELECT m.creation AS page_creation, m.id AS page_id \
             FROM api_key_metadata AS m WHERE m.path = {} AND m.value = ?2 \
             ORDER BY m.creation, m.id LIMIT ?3 OFFSET ?4) AS page \
             CROSS JOIN api_keys ON api_keys.id = page.page_id \
             ORDER BY page.page_creation, page.page_id",
            rendered_path("?1")
        );
        let values = vec![
            Value::Text(path.clone()),
            Value::Text(value.clone()),
            Value::Integer(clamp(query.size)),
            Value::Integer(clamp(query.from)),
        ];
        page = Some((sql, values));
    } else if query.size > 0 {
        let mut expressions = Vec::new();
        for clause in &query.sort {
            let expression = builder.sort_expression(&clause.key, clause.descending);
            let is_date =
                matches!(&clause.key, SortKey::Field(field) if field.kind() == FieldKind::Date);
            sorts.push((is_date, clause.descending));
            expressions.push((expression, clause.descending));
        }
        let mut where_sql = condition;
        if let Some(after) = &query.search_after {
            let values: Vec<SortValue> = after
                .iter()
                .zip(&sorts)
                .map(|(value, (is_date, _))| match value {
                    SortValue::Long(MISSING_DATE_ASC | MISSING_DATE_DESC) if *is_date => {
                        SortValue::Null
                    }
                    other => other.clone(),
                })
                .collect();
            let after_sql = builder.after(&expressions, &values);
            where_sql = format!("({where_sql}) AND {after_sql}");
        }
        // The page is chosen on the sort keys alone, and only its rows are read whole: a sort
        // over many matches then costs their sort keys, not their descriptor texts.
        let mut keys = vec!["api_keys.rowid AS page_rowid".to_owned()];
        let mut order = Vec::new();
        let mut page_order = Vec::new();
        for (index, (expression, descending)) in expressions.iter().enumerate() {
            let direction = if *descending { "DESC" } else { "ASC" };
            keys.push(format!("{expression} AS page_sort{index}"));
            order.push(format!("{expression} {direction} NULLS LAST"));
            page_order.push(format!("page.page_sort{index} {direction} NULLS LAST"));
        }
        if query.sort.is_empty() {
            keys.push("creation AS page_creation".to_owned());
            order.push("creation".to_owned());
            page_order.push("page.page_creation".to_owned());
        }
        keys.push("id AS page_id".to_owned());
        order.push("id".to_owned());
        page_order.push("page.page_id".to_owned());
        let selected = std::iter::once(columns.to_owned())
            .chain((0..expressions.len()).map(|index| format!("page.page_sort{index}")))
            .collect::<Vec<_>>()
            .join(", ");
        let limit = builder.bind(Value::Integer(clamp(query.size)));
        let offset = builder.bind(Value::Integer(clamp(query.from)));
        let sql = format!(
            "SELECT {selected} FROM (SELECT {} FROM api_keys WHERE {where_sql} ORDER BY {} \
             LIMIT {limit} OFFSET {offset}) AS page \
             CROSS JOIN api_keys ON api_keys.rowid = page.page_rowid ORDER BY {}",
            keys.join(", "),
            order.join(", "),
            page_order.join(", ")
        );
        check_size(&builder)?;
        page = Some((sql, builder.values));
    }
    Ok(Statements {
        count_sql,
        count_values,
        page,
        sorts,
        columns: column_count,
    })
}

/// The counting statement of a query that is one case-sensitive `term` or `terms` on a field
/// `api_key_counts` counts: a lookup of the maintained per-value counts.
fn counted_total(query: &Query) -> Option<(String, Vec<Value>)> {
    let (field, values) = match query {
        Query::Term {
            field,
            value,
            case_insensitive: false,
        } => (field, std::slice::from_ref(value)),
        Query::Terms { field, values } => (field, values.as_slice()),
        _ => return None,
    };
    let counted = counted_field(field)?;
    let array = json_array(values.iter().map(|value| match sql_value(value) {
        Value::Integer(number) => serde_json::json!(number),
        Value::Text(text) => serde_json::json!(text),
        _ => serde_json::Value::Null,
    }));
    // `IN` takes each distinct value once, as a key matches `terms` once.
    Some((
        "SELECT coalesce(sum(keys), 0) FROM api_key_counts \
         WHERE field = ?1 AND value IN (SELECT value FROM json_each(?2))"
            .to_owned(),
        vec![Value::Text(counted.to_owned()), array],
    ))
}

/// The name `api_key_counts` counts a field's values under (its column's name), if it does.
fn counted_field(field: &ApiKeyField) -> Option<&'static str> {
    match field {
        ApiKeyField::Username => Some("principal"),
        ApiKeyField::RealmName => Some("realm"),
        ApiKeyField::Type => Some("key_type"),
        ApiKeyField::Invalidated => Some("invalidated"),
        _ => None,
    }
}

/// The JSON path and the text of a query that is one case-sensitive `term` on a metadata key.
fn metadata_term(query: &Query) -> Option<(String, String)> {
    let Query::Term {
        field: ApiKeyField::Metadata(path),
        value: FieldValue::Keyword(value),
        case_insensitive: false,
    } = query
    else {
        return None;
    };
    if path.is_empty() {
        return None;
    }
    Some((json_path(path)?, value.clone()))
}

/// The path `json_tree` renders (and `api_key_metadata` holds) for the JSON path in `parameter`.
fn rendered_path(parameter: &str) -> String {
    format!(
        "(SELECT t.fullkey FROM json_tree(json_set('{{}}', {parameter}, 0)) AS t \
         WHERE t.type = 'integer')"
    )
}

/// A batch of matches in id order after `after_id`: the statement and its bound values.
pub(super) fn translate_batch(
    query: &Query,
    columns: &str,
    after_id: Option<&str>,
    limit: usize,
) -> Result<(String, Vec<Value>), Error> {
    let mut builder = Builder::default();
    let mut condition = builder.condition(query);
    if let Some(after_id) = after_id {
        let parameter = builder.bind(Value::Text(after_id.to_owned()));
        condition = format!("({condition}) AND api_keys.id > {parameter}");
    }
    let limit = builder.bind(Value::Integer(i64::try_from(limit).unwrap_or(i64::MAX)));
    check_size(&builder)?;
    Ok((
        format!("SELECT {columns} FROM api_keys WHERE {condition} ORDER BY id LIMIT {limit}"),
        builder.values,
    ))
}

/// The statements counting matches per value of a field: the values with their counts, and the
/// matches without a value (absent when the field always has one).
#[derive(Debug)]
pub(super) struct CountStatements {
    values: (String, Vec<Value>),
    missing: Option<(String, Vec<Value>)>,
    limit: usize,
}

impl CountStatements {
    /// Leaves the matches without a value uncounted (reported as 0).
    pub(super) fn skip_missing(&mut self) {
        self.missing = None;
    }
}

/// Builds the statements of `Store::count_api_keys_by`.
pub(super) fn translate_counts(
    query: &Query,
    field: &ApiKeyField,
    limit: usize,
) -> Result<CountStatements, Error> {
    let mut builder = Builder::default();
    let condition = builder.condition(query);
    let match_all = matches!(query, Query::MatchAll);
    let condition_values = builder.values.clone();
    // One more than asked for tells whether there were more.
    let fetch = i64::try_from(limit.saturating_add(1)).unwrap_or(i64::MAX);
    let (values, missing) = match field {
        ApiKeyField::Metadata(path) if path.is_empty() => {
            let limit = builder.bind(Value::Integer(fetch));
            let values = format!(
                "SELECT v, COUNT(*) FROM (SELECT DISTINCT api_keys.id, {LEAF_TEXT} AS v \
                 FROM api_keys, json_tree(api_keys.metadata) AS j \
                 WHERE ({condition}) AND {LEAF_TYPES}) GROUP BY v ORDER BY v LIMIT {limit}"
            );
            let values = (values, builder.values);
            let mut missing_builder = Builder {
                values: condition_values,
                ..Builder::default()
            };
            let exists = missing_builder.metadata_exists(path, "1");
            let missing =
                format!("SELECT COUNT(*) FROM api_keys WHERE ({condition}) AND NOT {exists}");
            (values, Some((missing, missing_builder.values)))
        }
        ApiKeyField::Metadata(path) => {
            let Some(json) = json_path(path) else {
                // A key no path can name: no key has a value there.
                let missing = format!("SELECT COUNT(*) FROM api_keys WHERE {condition}");
                return Ok(CountStatements {
                    values: ("SELECT NULL, 0 WHERE 0".to_owned(), Vec::new()),
                    missing: Some((missing, condition_values)),
                    limit,
                });
            };
            let parameter = builder.bind(Value::Text(json));
            // The path first, once (`CROSS JOIN` keeps it the outer loop), then its rows through
            // the primary key, already in value order for the grouping.
            let rows = format!(
                "(SELECT t.fullkey AS path FROM json_tree(json_set('{{}}', {parameter}, 0)) AS t \
                 WHERE t.type = 'integer') AS p CROSS JOIN api_key_metadata AS m ON m.path = p.path"
            );
            let limit = builder.bind(Value::Integer(fetch));
            // Every row of `api_key_metadata` belongs to a key: with no condition, the keys
            // need not be read at all.
            let values = if match_all {
                format!(
                    "SELECT m.value, COUNT(*) FROM {rows} \
                     GROUP BY m.value ORDER BY m.value LIMIT {limit}"
                )
            } else {
                format!(
                    "SELECT m.value, COUNT(*) FROM {rows} \
                     CROSS JOIN api_keys ON api_keys.id = m.id WHERE {condition} \
                     GROUP BY m.value ORDER BY m.value LIMIT {limit}"
                )
            };
            let values = (values, builder.values);
            let mut missing_builder = Builder {
                values: condition_values,
                ..Builder::default()
            };
            let exists = missing_builder.metadata_exists(path, "1");
            let missing =
                format!("SELECT COUNT(*) FROM api_keys WHERE ({condition}) AND NOT ({exists})");
            (values, Some((missing, missing_builder.values)))
        }
        other if match_all && let Some(counted) = counted_field(other) => {
            // Every key counted: the maintained counts are the answer.
            let values = (
                "SELECT value, keys FROM api_key_counts WHERE field = ?1 ORDER BY value LIMIT ?2"
                    .to_owned(),
                vec![Value::Text(counted.to_owned()), Value::Integer(fetch)],
            );
            (values, None)
        }
        other => {
            let column = column(other);
            let limit = builder.bind(Value::Integer(fetch));
            let values = format!(
                "SELECT {column}, COUNT(*) FROM api_keys WHERE ({condition}) AND {column} IS NOT NULL \
                 GROUP BY {column} ORDER BY {column} LIMIT {limit}"
            );
            let missing = nullable(other).then(|| {
                (
                    format!(
                        "SELECT COUNT(*) FROM api_keys WHERE ({condition}) AND {column} IS NULL"
                    ),
                    condition_values,
                )
            });
            ((values, builder.values), missing)
        }
    };
    for (_, bound) in std::iter::once(&values).chain(&missing) {
        if bound.len() > MAX_VARIABLES {
            return Err(Error::QueryTooLarge(format!(
                "{} bound values, more than {MAX_VARIABLES}",
                bound.len()
            )));
        }
    }
    Ok(CountStatements {
        values,
        missing,
        limit,
    })
}

/// Runs the counting statements in one read transaction.
pub(super) fn run_counts(
    connection: &Connection,
    statements: &CountStatements,
) -> Result<FieldCounts, Error> {
    let transaction = connection.unchecked_transaction().db()?;
    let mut counts = FieldCounts::default();
    {
        let (sql, values) = &statements.values;
        let mut statement = transaction.prepare(sql).db()?;
        let mut rows = statement.query(params_from_iter(values.iter())).db()?;
        while let Some(row) = rows.next().db()? {
            if counts.values.len() == statements.limit {
                counts.truncated = true;
                break;
            }
            let value = match row.get_ref(0).db()? {
                ValueRef::Null => continue,
                ValueRef::Integer(number) => FieldCountValue::Long(number),
                ValueRef::Real(number) => FieldCountValue::Text(number.to_string()),
                ValueRef::Text(text) | ValueRef::Blob(text) => {
                    FieldCountValue::Text(String::from_utf8_lossy(text).into_owned())
                }
            };
            let count: i64 = row.get(1).db()?;
            counts
                .values
                .push((value, u64::try_from(count).unwrap_or_default()));
        }
    }
    if let Some((sql, values)) = &statements.missing {
        let missing: i64 = transaction
            .prepare(sql)
            .db()?
            .query_row(params_from_iter(values.iter()), |row| row.get(0))
            .db()?;
        counts.missing = u64::try_from(missing).unwrap_or_default();
    }
    transaction.commit().db()?;
    Ok(counts)
}

/// Refuses a statement with more bound values than SQLite takes, before SQLite does.
fn check_size(builder: &Builder) -> Result<(), Error> {
    if builder.values.len() > MAX_VARIABLES {
        return Err(Error::QueryTooLarge(format!(
            "{} bound values, more than {MAX_VARIABLES}",
            builder.values.len()
        )));
    }
    Ok(())
}

/// SQLite's default `SQLITE_MAX_VARIABLE_NUMBER`.
const MAX_VARIABLES: usize = 32_766;

/// Runs the statements in one read transaction, so the count and the page see the same data.
pub(super) fn run(
    connection: &Connection,
    statements: &Statements,
    read: impl Fn(&Row<'_>) -> Result<ApiKeyRecord, Error>,
) -> Result<QueryPage, Error> {
    let transaction = connection.unchecked_transaction().db()?;
    let total: i64 = transaction
        .prepare_cached(&statements.count_sql)
        .db()?
        .query_row(params_from_iter(statements.count_values.iter()), |row| {
            row.get(0)
        })
        .db()?;
    let mut page = QueryPage {
        total: u64::try_from(total).unwrap_or_default(),
        ..QueryPage::default()
    };
    if let Some((sql, values)) = &statements.page {
        let mut statement = transaction.prepare(sql).db()?;
        let mut rows = statement.query(params_from_iter(values.iter())).db()?;
        while let Some(row) = rows.next().db()? {
            page.records.push(read(row)?);
            let mut sort_values = Vec::with_capacity(statements.sorts.len());
            for (index, (is_date, descending)) in statements.sorts.iter().enumerate() {
                let value = match row.get_ref(statements.columns + index).db()? {
                    ValueRef::Null if *is_date => SortValue::Long(if *descending {
                        MISSING_DATE_DESC
                    } else {
                        MISSING_DATE_ASC
                    }),
                    ValueRef::Null => SortValue::Null,
                    ValueRef::Integer(number) => SortValue::Long(number),
                    ValueRef::Real(number) => SortValue::Text(number.to_string()),
                    ValueRef::Text(text) | ValueRef::Blob(text) => {
                        SortValue::Text(String::from_utf8_lossy(text).into_owned())
                    }
                };
                sort_values.push(value);
            }
            page.sort_values.push(sort_values);
        }
    }
    transaction.commit().db()?;
    Ok(page)
}

fn clamp(number: u64) -> i64 {
    i64::try_from(number).unwrap_or(i64::MAX)
}

/// The SQL text of one flattened metadata leaf in `j`, a `json_each`/`json_tree` row.
const LEAF_TEXT: &str = "(CASE j.type WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' \
     ELSE CAST(j.atom AS TEXT) END)";

/// The leaf types a flattened field indexes.
const LEAF_TYPES: &str = "j.type IN ('text', 'integer', 'real', 'true', 'false')";

#[derive(Default)]
struct Builder {
    values: Vec<Value>,
    /// The condition on `api_key_metadata` rows of each metadata lookup built, in order.
    metadata_lookups: Vec<String>,
}

impl Builder {
    /// Binds a value and names its parameter.
    fn bind(&mut self, value: Value) -> String {
        self.values.push(value);
        format!("?{}", self.values.len())
    }

    fn condition(&mut self, query: &Query) -> String {
        match query {
            Query::MatchAll => "1".to_owned(),
            Query::MatchNone => "0".to_owned(),
            Query::Bool {
                must,
                filter,
                should,
                must_not,
                minimum_should_match,
            } => {
                let mut parts = Vec::new();
                for clause in must.iter().chain(filter) {
                    parts.push(format!("({})", self.condition(clause)));
                }
                for clause in must_not {
                    parts.push(format!("NOT ({})", self.condition(clause)));
                }
                if *minimum_should_match > should.len() {
                    parts.push("0".to_owned());
                } else if *minimum_should_match == 1 {
                    let any = should
                        .iter()
                        .map(|clause| self.condition(clause))
                        .collect::<Vec<_>>();
                    parts.push(balanced(any, "OR"));
                } else if *minimum_should_match > 1 {
                    // Each condition is 0 or 1, never NULL: their sum counts the matches.
                    let sum = should
                        .iter()
                        .map(|clause| self.condition(clause))
                        .collect::<Vec<_>>();
                    parts.push(format!("{} >= {minimum_should_match}", balanced(sum, "+")));
                }
                if parts.is_empty() {
                    "1".to_owned()
                } else {
                    balanced(parts, "AND")
                }
            }
            Query::Exists(field) => match field {
                ApiKeyField::Metadata(path) => self.metadata_exists(path, "1"),
                ApiKeyField::Expiration | ApiKeyField::Invalidation => {
                    format!("{} IS NOT NULL", column(field))
                }
                _ => "1".to_owned(),
            },
            Query::Ids(ids) => {
                let ids = self.bind(json_array(ids.iter().map(|id| serde_json::json!(id))));
                // Qualified: counts join `api_key_metadata` and `json_tree`, which have an `id` too.
                format!("api_keys.id IN (SELECT value FROM json_each({ids}))")
            }
            Query::Term {
                field,
                value,
                case_insensitive,
            } => {
                let value = sql_value(value);
                self.compare(field, "=", value, *case_insensitive)
            }
            Query::Terms { field, values } => {
                let array = json_array(values.iter().map(|value| match sql_value(value) {
                    Value::Integer(number) => serde_json::json!(number),
                    Value::Text(text) => serde_json::json!(text),
                    _ => serde_json::Value::Null,
                }));
                let array = self.bind(array);
                let set = format!("IN (SELECT value FROM json_each({array}))");
                match field {
                    ApiKeyField::Metadata(path) => {
                        let subject = self.metadata_subject(path);
                        self.metadata_exists(path, &format!("{subject} {set}"))
                    }
                    _ => guarded_condition(field, column(field), &set),
                }
            }
            Query::Prefix {
                field,
                prefix,
                case_insensitive,
            } => {
                let pattern = format!("{}*", glob_literal(prefix));
                self.glob(field, pattern, *case_insensitive)
            }
            Query::Wildcard {
                field,
                pattern,
                case_insensitive,
            } => {
                let pattern = pattern
                    .iter()
                    .map(|part| match part {
                        WildcardPart::AnyRun => "*".to_owned(),
                        WildcardPart::AnyChar => "?".to_owned(),
                        WildcardPart::Literal(text) => glob_literal(text),
                    })
                    .collect::<String>();
                self.glob(field, pattern, *case_insensitive)
            }
            Query::Range {
                field,
                gt,
                gte,
                lt,
                lte,
            } => {
                let mut parts = Vec::new();
                for (operator, bound) in [(">", gt), (">=", gte), ("<", lt), ("<=", lte)] {
                    if let Some(bound) = bound {
                        parts.push(self.compare(field, operator, sql_value(bound), false));
                    }
                }
                if parts.is_empty() {
                    self.condition(&Query::Exists(field.clone()))
                } else {
                    parts.join(" AND ")
                }
            }
        }
    }

    /// `field <operator> value`, false when the field has no value.
    fn compare(
        &mut self,
        field: &ApiKeyField,
        operator: &str,
        value: Value,
        case_insensitive: bool,
    ) -> String {
        let parameter = self.bind(value);
        match field {
            ApiKeyField::Metadata(path) => {
                let subject = self.metadata_subject(path);
                let condition = if case_insensitive {
                    format!("lower({subject}) {operator} lower({parameter})")
                } else {
                    format!("{subject} {operator} {parameter}")
                };
                self.metadata_exists(path, &condition)
            }
            _ if case_insensitive => guarded_condition(
                field,
                &format!("lower({})", column(field)),
                &format!("{operator} lower({parameter})"),
            ),
            _ => guarded_condition(field, column(field), &format!("{operator} {parameter}")),
        }
    }

    fn glob(&mut self, field: &ApiKeyField, pattern: String, case_insensitive: bool) -> String {
        let (pattern, lower) = if case_insensitive {
            (pattern.to_ascii_lowercase(), true)
        } else {
            (pattern, false)
        };
        let parameter = self.bind(Value::Text(pattern));
        let subject = match field {
            ApiKeyField::Metadata(path) => self.metadata_subject(path).to_owned(),
            _ => column(field).to_owned(),
        };
        let subject = if lower {
            format!("lower({subject})")
        } else {
            subject
        };
        let rest = format!("GLOB {parameter}");
        match field {
            ApiKeyField::Metadata(path) => self.metadata_exists(path, &format!("{subject} {rest}")),
            _ => guarded_condition(field, &subject, &rest),
        }
    }

    /// The text of one flattened leaf in a `metadata_exists` condition: a row of
    /// `api_key_metadata` for a path, a `json_tree` row for the whole of `metadata`.
    fn metadata_subject(&self, path: &[String]) -> &'static str {
        if path.is_empty() {
            LEAF_TEXT
        } else {
            "m.value"
        }
    }

    /// Whether some flattened leaf of `metadata` (at `path`, or anywhere) satisfies `condition`
    /// (written over `metadata_subject`).
    ///
    /// A path is looked up in `api_key_metadata` through its index: the path's text is the one
    /// SQLite's `json_tree` renders for it, which the statement itself derives from an object
    /// holding just that path, so the store's triggers and this lookup always agree.
    fn metadata_exists(&mut self, path: &[String], condition: &str) -> String {
        if path.is_empty() {
            return format!(
                "EXISTS (SELECT 1 FROM json_tree(api_keys.metadata) AS j \
                 WHERE {LEAF_TYPES} AND {condition})"
            );
        }
        let Some(path) = json_path(path) else {
            return "0".to_owned();
        };
        let path = self.bind(Value::Text(path));
        let rows = format!("m.path = {} AND {condition}", rendered_path(&path));
        self.metadata_lookups.push(rows.clone());
        metadata_rows_condition(&rows)
    }

    fn sort_expression(&mut self, key: &SortKey, descending: bool) -> String {
        let field = match key {
            SortKey::Doc => return "api_keys.rowid".to_owned(),
            SortKey::Field(field) => field,
        };
        match field {
            ApiKeyField::Metadata(path) => {
                // A multi-valued key sorts by its smallest value ascending, its largest descending.
                let direction = if descending { "DESC" } else { "ASC" };
                let source = if path.is_empty() {
                    "json_tree(api_keys.metadata) AS j WHERE".to_owned()
                } else {
                    match json_path(path) {
                        Some(path) => {
                            let path = self.bind(Value::Text(path));
                            format!(
                                "json_each(api_keys.metadata, {path}) AS j WHERE {} AND",
                                not_object(&path)
                            )
                        }
                        None => return "NULL".to_owned(),
                    }
                };
                format!(
                    "(SELECT {LEAF_TEXT} FROM {source} {LEAF_TYPES} \
                     ORDER BY 1 {direction} LIMIT 1)"
                )
            }
            other => column(other).to_owned(),
        }
    }

    /// Rows strictly after `values` in the order of `expressions`.
    fn after(&mut self, expressions: &[(String, bool)], values: &[SortValue]) -> String {
        let Some(((expression, descending), rest)) = expressions.split_first() else {
            return "0".to_owned();
        };
        let Some((value, rest_values)) = values.split_first() else {
            return "0".to_owned();
        };
        let tail = self.after(rest, rest_values);
        let value = match value {
            SortValue::Null => return format!("({expression} IS NULL AND {tail})"),
            SortValue::Long(number) => Value::Integer(*number),
            SortValue::Text(text) => Value::Text(text.clone()),
        };
        let parameter = self.bind(value);
        let operator = if *descending { "<" } else { ">" };
        format!(
            "({expression} IS NULL OR {expression} {operator} {parameter} \
             OR ({expression} = {parameter} AND {tail}))"
        )
    }
}

/// The keys with a row of `api_key_metadata` satisfying `rows`.
fn metadata_rows_condition(rows: &str) -> String {
    format!("api_keys.id IN (SELECT m.id FROM api_key_metadata AS m WHERE {rows})")
}

/// `parts` joined by a binary `operator` as a balanced tree of parenthesised pairs, so that the
/// expression is only logarithmically deep in the number of parts: SQLite refuses expressions
/// nested more than 1000 deep, which a flat chain of a thousand `OR`s already is.
fn balanced(mut parts: Vec<String>, operator: &str) -> String {
    if parts.len() == 1 {
        return format!("({})", parts.remove(0));
    }
    while parts.len() > 1 {
        let mut paired = Vec::with_capacity(parts.len().div_ceil(2));
        let mut items = parts.into_iter();
        while let Some(left) = items.next() {
            paired.push(match items.next() {
                Some(right) => format!("(({left}) {operator} ({right}))"),
                None => left,
            });
        }
        parts = paired;
    }
    parts.pop().unwrap_or_else(|| "1".to_owned())
}

/// The column a field is stored in, qualified: conditions also run where `api_key_metadata`,
/// which has `id` and `creation` columns too, is joined in.
fn column(field: &ApiKeyField) -> &'static str {
    match field {
        ApiKeyField::Creation => "api_keys.creation",
        ApiKeyField::Expiration => "api_keys.expiration",
        ApiKeyField::Id => "api_keys.id",
        ApiKeyField::Invalidated => "api_keys.invalidated",
        ApiKeyField::Invalidation => "api_keys.invalidation",
        // Metadata is reached through `json_each`, never as a column.
        ApiKeyField::Metadata(_) => "api_keys.metadata",
        ApiKeyField::Name => "api_keys.name",
        ApiKeyField::RealmName => "api_keys.realm",
        ApiKeyField::Type => "api_keys.key_type",
        ApiKeyField::Username => "api_keys.principal",
    }
}

/// The key at `path` holds a value or an array, not an object: `json_each` would list an
/// object's members, which are other keys.
fn not_object(path: &str) -> String {
    format!("json_type(api_keys.metadata, {path}) <> 'object'")
}

/// Whether the field's column may be `NULL`.
fn nullable(field: &ApiKeyField) -> bool {
    matches!(field, ApiKeyField::Expiration | ApiKeyField::Invalidation)
}

/// `column <rest>`, guarded so that a missing value makes it false rather than `NULL`.
fn guarded_condition(field: &ApiKeyField, subject: &str, rest: &str) -> String {
    if nullable(field) {
        format!("({} IS NOT NULL AND {subject} {rest})", column(field))
    } else {
        format!("{subject} {rest}")
    }
}

fn sql_value(value: &FieldValue) -> Value {
    match value {
        FieldValue::Boolean(flag) => Value::Integer(i64::from(*flag)),
        FieldValue::Date(millis) => Value::Integer(*millis),
        FieldValue::Keyword(text) => Value::Text(text.clone()),
    }
}

fn json_array(items: impl Iterator<Item = serde_json::Value>) -> Value {
    Value::Text(serde_json::Value::Array(items.collect()).to_string())
}

/// A SQLite JSON path for a metadata key path (`$."a"."b"`), or `None` when a key cannot be
/// written as a quoted label (it contains `"`), in which case nothing can match it.
fn json_path(path: &[String]) -> Option<String> {
    let mut text = String::from("$");
    for segment in path {
        if segment.contains('"') {
            return None;
        }
        text.push_str(".\"");
        text.push_str(segment);
        text.push('"');
    }
    Some(text)
}

/// `text` as a GLOB pattern matching exactly itself: `*`, `?` and `[` in brackets.
fn glob_literal(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '*' | '?' | '[' => {
                pattern.push('[');
                pattern.push(c);
                pattern.push(']');
            }
            other => pattern.push(other),
        }
    }
    pattern
}
