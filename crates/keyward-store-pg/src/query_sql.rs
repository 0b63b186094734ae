//! The query API keys AST translated to PostgreSQL, clause for clause as the embedded store
//! translates it to SQLite: a parameterised `WHERE` clause (values always bound, each with its
//! type and, for text, `COLLATE "C"`), `ORDER BY` with missing values last and ties broken by id,
//! `search_after` as a tuple comparison, `LIMIT`/`OFFSET`.
//!
//! Leaf conditions never evaluate to SQL `NULL` (nullable columns are guarded with
//! `IS NOT NULL`), so `NOT` and `must_not` mean what Elasticsearch means. Metadata conditions
//! read `api_key_metadata` (see `rows::flatten_metadata`): a path through its primary key, the
//! whole of `metadata` through the key's rows. `lower` under `COLLATE "C"` folds ASCII only, as
//! SQLite's does.

use keyward_core::query::{
    ApiKeyField, ApiKeyQuery, FieldKind, FieldValue, MISSING_DATE_ASC, MISSING_DATE_DESC, Query,
    SortKey, SortValue, WildcardPart,
};
use keyward_store::{Error, FieldCountValue, FieldCounts, QueryPage};
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{GenericClient, Row};

use crate::error::PgResultExt;
use crate::rows::{API_KEY_COLUMN_COUNT, api_key_from_row, path_text};

/// The most values one statement binds. PostgreSQL takes 65 535; keyward refuses past SQLite's
/// default limit, as the embedded store does, so a query answers the same on both backends.
pub(crate) const MAX_VARIABLES: usize = 32_766;

/// One bound value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Param {
    Int(i64),
    Text(String),
    Texts(Vec<String>),
    Ints(Vec<i64>),
}

impl Param {
    /// The value and its type: statements built here run with their parameter types given
    /// (`query_typed`), one round trip instead of a prepare, an execute and a close.
    fn as_sql(&self) -> (&(dyn ToSql + Sync), Type) {
        match self {
            Param::Int(number) => (number, Type::INT8),
            Param::Text(text) => (text, Type::TEXT),
            Param::Texts(texts) => (texts, Type::TEXT_ARRAY),
            Param::Ints(numbers) => (numbers, Type::INT8_ARRAY),
        }
    }
}

/// The parameters as the driver takes them, typed.
pub(crate) fn params(values: &[Param]) -> Vec<(&(dyn ToSql + Sync), Type)> {
    values.iter().map(Param::as_sql).collect()
}

/// The statements of one query: the count, and the page (absent when `size` is 0).
#[derive(Debug)]
pub(crate) struct Statements {
    count_sql: String,
    count_values: Vec<Param>,
    page: Option<(String, Vec<Param>)>,
    /// Per sort clause: whether it is a date sort, and whether descending.
    sorts: Vec<(bool, bool)>,
}

/// Builds the statements for `query`, selecting `columns` (the record columns, in order).
pub(crate) fn translate(query: &ApiKeyQuery, columns: &str) -> Result<Statements, Error> {
    let mut builder = Builder::default();
    let condition = builder.condition(&query.query);
    check_size(&builder.values)?;
    let count_values = builder.values.clone();
    // Elasticsearch tracks total hits exactly for this API, so the count is exact.
    let count_sql = if matches!(query.query, Query::MatchAll) {
        "SELECT COUNT(*) FROM api_keys".to_owned()
    } else if let [rows] = builder.metadata_lookups.as_slice()
        && condition == metadata_rows_condition(rows)
    {
        // The query is one metadata condition: its rows name the keys, every one of which
        // exists, so they are counted without reading the keys.
        format!("SELECT COUNT(DISTINCT m.id) FROM api_key_metadata AS m WHERE {rows}")
    } else {
        format!("SELECT COUNT(*) FROM api_keys WHERE {condition}")
    };
    let mut sorts = Vec::new();
    let mut page = None;
    if query.size > 0 {
        let mut expressions = Vec::new();
        for clause in &query.sort {
            let expression = builder.sort_expression(&clause.key, clause.descending);
            let is_date = matches!(&clause.key, SortKey::Doc)
                || matches!(&clause.key, SortKey::Field(field) if field.kind() == FieldKind::Date);
            let is_date_field =
                matches!(&clause.key, SortKey::Field(field) if field.kind() == FieldKind::Date);
            sorts.push((is_date_field, clause.descending));
            expressions.push((
                expression,
                clause.descending,
                !is_date && is_text(&clause.key),
            ));
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
        let mut order = expressions
            .iter()
            .map(|(expression, descending, _)| {
                let direction = if *descending { "DESC" } else { "ASC" };
                format!("{expression} {direction} NULLS LAST")
            })
            .collect::<Vec<_>>();
        if query.sort.is_empty() {
            order.push("api_keys.creation".to_owned());
        }
        order.push("api_keys.id".to_owned());
        let selected = std::iter::once(columns.to_owned())
            .chain(
                expressions
                    .iter()
                    .map(|(expression, ..)| expression.clone()),
            )
            .collect::<Vec<_>>()
            .join(", ");
        let limit = builder.bind(Param::Int(clamp(query.size)));
        let offset = builder.bind(Param::Int(clamp(query.from)));
        let sql = format!(
            "SELECT {selected} FROM api_keys WHERE {where_sql} ORDER BY {} LIMIT {limit} OFFSET {offset}",
            order.join(", ")
        );
        check_size(&builder.values)?;
        page = Some((sql, builder.values));
    }
    Ok(Statements {
        count_sql,
        count_values,
        page,
        sorts,
    })
}

/// Whether a sort key's values are text.
fn is_text(key: &SortKey) -> bool {
    match key {
        SortKey::Doc => false,
        SortKey::Field(field) => field.kind() == FieldKind::Keyword,
    }
}

/// A batch of matches in id order after `after_id`: the statement and its bound values.
pub(crate) fn translate_batch(
    query: &Query,
    columns: &str,
    after_id: Option<&str>,
    limit: usize,
) -> Result<(String, Vec<Param>), Error> {
    let mut builder = Builder::default();
    let mut condition = builder.condition(query);
    if let Some(after_id) = after_id {
        let parameter = builder.bind(Param::Text(after_id.to_owned()));
        condition = format!("({condition}) AND api_keys.id > {parameter}");
    }
    let limit = builder.bind(Param::Int(i64::try_from(limit).unwrap_or(i64::MAX)));
    check_size(&builder.values)?;
    Ok((
        format!(
            "SELECT {columns} FROM api_keys WHERE {condition} ORDER BY api_keys.id LIMIT {limit}"
        ),
        builder.values,
    ))
}

/// The statements counting matches per value of a field: the values with their counts, and the
/// matches without a value (absent when the field always has one).
#[derive(Debug)]
pub(crate) struct CountStatements {
    values: (String, Vec<Param>),
    missing: Option<(String, Vec<Param>)>,
    limit: usize,
}

impl CountStatements {
    /// Leaves the matches without a value uncounted (reported as 0).
    pub(crate) fn skip_missing(&mut self) {
        self.missing = None;
    }
}

/// Builds the statements of `Store::count_api_keys_by`.
pub(crate) fn translate_counts(
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
            let limit = builder.bind(Param::Int(fetch));
            let values = format!(
                "SELECT v, COUNT(*) FROM (SELECT DISTINCT m.id, m.value AS v \
                 FROM api_key_metadata AS m JOIN api_keys ON api_keys.id = m.id \
                 WHERE {condition}) AS d GROUP BY v ORDER BY v LIMIT {limit}"
            );
            let values = (values, builder.values);
            let mut missing_builder = Builder {
                values: condition_values,
                ..Builder::default()
            };
            let exists = missing_builder.metadata_exists(path, "TRUE");
            let missing =
                format!("SELECT COUNT(*) FROM api_keys WHERE ({condition}) AND NOT {exists}");
            (values, Some((missing, missing_builder.values)))
        }
        ApiKeyField::Metadata(path) => {
            if !nameable(path) {
                // A key no path can name: no key has a value there.
                let missing = format!("SELECT COUNT(*) FROM api_keys WHERE {condition}");
                return Ok(CountStatements {
                    values: (
                        "SELECT NULL::text, 0::int8 WHERE FALSE".to_owned(),
                        Vec::new(),
                    ),
                    missing: Some((missing, condition_values)),
                    limit,
                });
            }
            let parameter = builder.bind(Param::Text(path_text(path)));
            let limit = builder.bind(Param::Int(fetch));
            // Every row of `api_key_metadata` belongs to a key: with no condition, the keys
            // need not be read at all.
            let values = if match_all {
                format!(
                    "SELECT m.value, COUNT(*) FROM api_key_metadata AS m WHERE m.path = {parameter} \
                     GROUP BY m.value ORDER BY m.value LIMIT {limit}"
                )
            } else {
                format!(
                    "SELECT m.value, COUNT(*) FROM api_key_metadata AS m \
                     JOIN api_keys ON api_keys.id = m.id WHERE m.path = {parameter} AND ({condition}) \
                     GROUP BY m.value ORDER BY m.value LIMIT {limit}"
                )
            };
            let values = (values, builder.values);
            let mut missing_builder = Builder {
                values: condition_values,
                ..Builder::default()
            };
            let exists = missing_builder.metadata_exists(path, "TRUE");
            let missing =
                format!("SELECT COUNT(*) FROM api_keys WHERE ({condition}) AND NOT ({exists})");
            (values, Some((missing, missing_builder.values)))
        }
        other => {
            let column = column(other);
            let limit = builder.bind(Param::Int(fetch));
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
        check_size(bound)?;
    }
    Ok(CountStatements {
        values,
        missing,
        limit,
    })
}

/// Runs the counting statements on `client` (inside a read-only transaction of the caller's).
pub(crate) async fn run_counts(
    client: &impl GenericClient,
    statements: &CountStatements,
) -> Result<FieldCounts, Error> {
    let mut counts = FieldCounts::default();
    let (sql, values) = &statements.values;
    let rows = client
        .query_typed(sql.as_str(), &params(values))
        .await
        .pg()?;
    for row in &rows {
        if counts.values.len() == statements.limit {
            counts.truncated = true;
            break;
        }
        let value = match column_value(row, 0)? {
            SortValue::Null => continue,
            SortValue::Long(number) => FieldCountValue::Long(number),
            SortValue::Text(text) => FieldCountValue::Text(text),
        };
        let count: i64 = read(row, 1)?;
        counts
            .values
            .push((value, u64::try_from(count).unwrap_or_default()));
    }
    if let Some((sql, values)) = &statements.missing {
        let row = client
            .query_typed_one(sql.as_str(), &params(values))
            .await
            .pg()?;
        let missing: i64 = read(&row, 0)?;
        counts.missing = u64::try_from(missing).unwrap_or_default();
    }
    Ok(counts)
}

/// Runs the statements on `client` (inside a read-only transaction of the caller's, so the
/// count and the page see the same data).
pub(crate) async fn run(
    client: &impl GenericClient,
    statements: &Statements,
) -> Result<QueryPage, Error> {
    // Both statements go out at once (the driver pipelines them on the session): one round trip.
    let count_values = params(&statements.count_values);
    let count = client.query_typed_one(statements.count_sql.as_str(), &count_values);
    let page_values = statements
        .page
        .as_ref()
        .map(|(_, values)| params(values))
        .unwrap_or_default();
    let rows = async {
        match &statements.page {
            Some((sql, _)) => client.query_typed(sql.as_str(), &page_values).await,
            None => Ok(Vec::new()),
        }
    };
    let (count, rows) = tokio::join!(count, rows);
    let total: i64 = read(&count.pg()?, 0)?;
    let rows = rows.pg()?;
    let mut page = QueryPage {
        total: u64::try_from(total).unwrap_or_default(),
        ..QueryPage::default()
    };
    for row in &rows {
        page.records.push(api_key_from_row(row)?);
        let mut sort_values = Vec::with_capacity(statements.sorts.len());
        for (index, (is_date, descending)) in statements.sorts.iter().enumerate() {
            let value = match column_value(row, API_KEY_COLUMN_COUNT + index)? {
                SortValue::Null if *is_date => SortValue::Long(if *descending {
                    MISSING_DATE_DESC
                } else {
                    MISSING_DATE_ASC
                }),
                other => other,
            };
            sort_values.push(value);
        }
        page.sort_values.push(sort_values);
    }
    Ok(page)
}

/// Refuses a statement with more bound values than [`MAX_VARIABLES`].
fn check_size(values: &[Param]) -> Result<(), Error> {
    if values.len() > MAX_VARIABLES {
        return Err(Error::QueryTooLarge(format!(
            "{} bound values, more than {MAX_VARIABLES}",
            values.len()
        )));
    }
    Ok(())
}

/// A number or text column as a sort value.
fn column_value(row: &Row, index: usize) -> Result<SortValue, Error> {
    let is_number = row
        .columns()
        .get(index)
        .is_some_and(|column| [Type::INT8, Type::INT4, Type::INT2].contains(column.type_()));
    Ok(if is_number {
        read::<Option<i64>>(row, index)?.map_or(SortValue::Null, SortValue::Long)
    } else {
        read::<Option<String>>(row, index)?.map_or(SortValue::Null, SortValue::Text)
    })
}

fn read<'a, T: tokio_postgres::types::FromSql<'a>>(row: &'a Row, index: usize) -> Result<T, Error> {
    row.try_get(index)
        .map_err(|err| Error::Corrupt(format!("column {index}: {err}")))
}

fn clamp(number: u64) -> i64 {
    i64::try_from(number).unwrap_or(i64::MAX)
}

#[derive(Default)]
struct Builder {
    values: Vec<Param>,
    /// The condition on `api_key_metadata` rows of each metadata lookup built, in order.
    metadata_lookups: Vec<String>,
}

impl Builder {
    /// Binds a value and names its parameter, typed.
    fn bind(&mut self, value: Param) -> String {
        let cast = match &value {
            Param::Int(_) => "::int8",
            Param::Text(_) => "::text COLLATE \"C\"",
            Param::Texts(_) => "::text[]",
            Param::Ints(_) => "::int8[]",
        };
        self.values.push(value);
        format!("(${}{cast})", self.values.len())
    }

    fn condition(&mut self, query: &Query) -> String {
        match query {
            Query::MatchAll => "TRUE".to_owned(),
            Query::MatchNone => "FALSE".to_owned(),
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
                    parts.push("FALSE".to_owned());
                } else if *minimum_should_match == 1 {
                    let any = should
                        .iter()
                        .map(|clause| self.condition(clause))
                        .collect::<Vec<_>>();
                    parts.push(balanced(any, "OR"));
                } else if *minimum_should_match > 1 {
                    // Each condition is true or false, never NULL: their sum counts the matches.
                    let sum = should
                        .iter()
                        .map(|clause| {
                            format!("(CASE WHEN {} THEN 1 ELSE 0 END)", self.condition(clause))
                        })
                        .collect::<Vec<_>>();
                    parts.push(format!("{} >= {minimum_should_match}", balanced(sum, "+")));
                }
                if parts.is_empty() {
                    "TRUE".to_owned()
                } else {
                    balanced(parts, "AND")
                }
            }
            Query::Exists(field) => match field {
                ApiKeyField::Metadata(path) => self.metadata_exists(path, "TRUE"),
                ApiKeyField::Expiration | ApiKeyField::Invalidation => {
                    format!("{} IS NOT NULL", column(field))
                }
                _ => "TRUE".to_owned(),
            },
            Query::Ids(ids) => {
                let ids = self.bind(Param::Texts(ids.clone()));
                format!("api_keys.id = ANY({ids})")
            }
            Query::Term {
                field,
                value,
                case_insensitive,
            } => self.compare(field, "=", sql_value(value), *case_insensitive),
            Query::Terms { field, values } => {
                // One array per value type, however many values: no limit on bound values to hit.
                let mut texts = Vec::new();
                let mut numbers = Vec::new();
                for value in values {
                    match sql_value(value) {
                        Param::Int(number) => numbers.push(number),
                        Param::Text(text) => texts.push(text),
                        Param::Texts(_) | Param::Ints(_) => {}
                    }
                }
                let mut alternatives = Vec::new();
                for set in [Param::Texts(texts), Param::Ints(numbers)] {
                    if matches!(&set, Param::Texts(items) if items.is_empty())
                        || matches!(&set, Param::Ints(items) if items.is_empty())
                    {
                        continue;
                    }
                    let set = format!("= ANY({})", self.bind(set));
                    alternatives.push(match field {
                        ApiKeyField::Metadata(path) => {
                            self.metadata_exists(path, &format!("m.value {set}"))
                        }
                        _ => guarded_condition(field, column(field), &set),
                    });
                }
                if alternatives.is_empty() {
                    "FALSE".to_owned()
                } else {
                    balanced(alternatives, "OR")
                }
            }
            Query::Prefix {
                field,
                prefix,
                case_insensitive,
            } => {
                let pattern = format!("{}%", like_literal(prefix));
                self.like(field, pattern, *case_insensitive)
            }
            Query::Wildcard {
                field,
                pattern,
                case_insensitive,
            } => {
                let pattern = pattern
                    .iter()
                    .map(|part| match part {
                        WildcardPart::AnyRun => "%".to_owned(),
                        WildcardPart::AnyChar => "_".to_owned(),
                        WildcardPart::Literal(text) => like_literal(text),
                    })
                    .collect::<String>();
                self.like(field, pattern, *case_insensitive)
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
        value: Param,
        case_insensitive: bool,
    ) -> String {
        // Case folds text only: numbers (dates, booleans) compare as they are, as SQLite's
        // `lower` of a number is its digits.
        let case_insensitive = case_insensitive && matches!(value, Param::Text(_));
        let parameter = self.bind(value);
        match field {
            ApiKeyField::Metadata(path) => {
                let condition = if case_insensitive {
                    format!("lower(m.value) {operator} lower({parameter})")
                } else {
                    format!("m.value {operator} {parameter}")
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

    fn like(&mut self, field: &ApiKeyField, pattern: String, case_insensitive: bool) -> String {
        let pattern = if case_insensitive {
            pattern.to_ascii_lowercase()
        } else {
            pattern
        };
        let parameter = self.bind(Param::Text(pattern));
        // A pattern over a number matches its digits, as SQLite's `GLOB` does.
        let subject = match field {
            ApiKeyField::Metadata(_) => "m.value".to_owned(),
            _ if field.kind() == FieldKind::Keyword => column(field).to_owned(),
            _ => format!("{}::text", column(field)),
        };
        let subject = if case_insensitive {
            format!("lower({subject})")
        } else {
            subject
        };
        let rest = format!("LIKE {parameter}");
        match field {
            ApiKeyField::Metadata(path) => self.metadata_exists(path, &format!("{subject} {rest}")),
            _ => guarded_condition(field, &subject, &rest),
        }
    }

    /// Whether some flattened leaf of `metadata` (at `path`, or anywhere) satisfies `condition`
    /// (written over `m.value`, a row of `api_key_metadata`).
    fn metadata_exists(&mut self, path: &[String], condition: &str) -> String {
        if path.is_empty() {
            return format!(
                "EXISTS (SELECT 1 FROM api_key_metadata AS m \
                 WHERE m.id = api_keys.id AND {condition})"
            );
        }
        if !nameable(path) {
            return "FALSE".to_owned();
        }
        let path = self.bind(Param::Text(path_text(path)));
        let rows = format!("m.path = {path} AND {condition}");
        self.metadata_lookups.push(rows.clone());
        metadata_rows_condition(&rows)
    }

    fn sort_expression(&mut self, key: &SortKey, descending: bool) -> String {
        let field = match key {
            SortKey::Doc => return "api_keys.doc".to_owned(),
            SortKey::Field(field) => field,
        };
        match field {
            ApiKeyField::Metadata(path) => {
                // A multi-valued key sorts by its smallest value ascending, its largest descending.
                let aggregate = if descending { "max" } else { "min" };
                let path_condition = if path.is_empty() {
                    String::new()
                } else if nameable(path) {
                    format!(" AND m.path = {}", self.bind(Param::Text(path_text(path))))
                } else {
                    return "NULL::text".to_owned();
                };
                format!(
                    "(SELECT {aggregate}(m.value) FROM api_key_metadata AS m \
                     WHERE m.id = api_keys.id{path_condition})"
                )
            }
            other => column(other).to_owned(),
        }
    }

    /// Rows strictly after `values` in the order of `expressions` (expression, descending, text).
    fn after(&mut self, expressions: &[(String, bool, bool)], values: &[SortValue]) -> String {
        let Some(((expression, descending, text), rest)) = expressions.split_first() else {
            return "FALSE".to_owned();
        };
        let Some((value, rest_values)) = values.split_first() else {
            return "FALSE".to_owned();
        };
        let tail = self.after(rest, rest_values);
        let operator = if *descending { "<" } else { ">" };
        let value = match (value, text) {
            (SortValue::Null, _) => return format!("({expression} IS NULL AND {tail})"),
            (SortValue::Long(number), false) => Param::Int(*number),
            (SortValue::Text(text), true) => Param::Text(text.clone()),
            // A value of the other type: SQLite orders every number before every text.
            (SortValue::Long(_), true) => {
                return if *descending {
                    format!("({expression} IS NULL)")
                } else {
                    format!("({expression} IS NULL OR {expression} IS NOT NULL)")
                };
            }
            (SortValue::Text(_), false) => {
                return if *descending {
                    format!("({expression} IS NULL OR {expression} IS NOT NULL)")
                } else {
                    format!("({expression} IS NULL)")
                };
            }
        };
        let parameter = self.bind(value);
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

/// Whether a query can name this metadata path: the embedded store cannot write a key
/// containing `"` into a SQLite JSON path, so nothing matches it there, nor here.
fn nameable(path: &[String]) -> bool {
    !path.iter().any(|segment| segment.contains('"'))
}

/// `parts` joined by a binary `operator` as a balanced tree of parenthesised pairs, so that the
/// expression is only logarithmically deep in the number of parts (PostgreSQL refuses
/// expressions past its stack depth).
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
    parts.pop().unwrap_or_else(|| "TRUE".to_owned())
}

/// The column a field is stored in.
fn column(field: &ApiKeyField) -> &'static str {
    match field {
        ApiKeyField::Creation => "api_keys.creation",
        ApiKeyField::Expiration => "api_keys.expiration",
        ApiKeyField::Id => "api_keys.id",
        ApiKeyField::Invalidated => "api_keys.invalidated",
        ApiKeyField::Invalidation => "api_keys.invalidation",
        // Metadata is reached through `api_key_metadata`, never as a column.
        ApiKeyField::Metadata(_) => "api_keys.metadata",
        ApiKeyField::Name => "api_keys.name",
        ApiKeyField::RealmName => "api_keys.realm",
        ApiKeyField::Type => "api_keys.key_type",
        ApiKeyField::Username => "api_keys.principal",
    }
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

fn sql_value(value: &FieldValue) -> Param {
    match value {
        FieldValue::Boolean(flag) => Param::Int(i64::from(*flag)),
        FieldValue::Date(millis) => Param::Int(*millis),
        FieldValue::Keyword(text) => Param::Text(text.clone()),
    }
}

/// `text` as a `LIKE` pattern matching exactly itself: `%`, `_` and the escape `\` escaped.
fn like_literal(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern
}
