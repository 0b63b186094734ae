//! Parsing the query DSL, sort and `search_after` into the typed AST, with Elasticsearch's
//! checks, errors and limits.

use serde_json::{Map, Value};

use super::*;
use crate::{EpochMillis, Error};

/// How deep queries may nest (a query inside a `bool` is one level deeper): Elasticsearch's
/// `indices.query.bool.max_nested_depth` default.
pub const MAX_NESTED_DEPTH: usize = 30;

/// The most clauses one `bool` query may have, and the most leaf queries one query may hold in
/// total: the default of Elasticsearch's `indices.query.bool.max_clause_count`. It also keeps every
/// query well inside what the store can run (SQLite's expression depth and bound variables).
pub const MAX_CLAUSE_COUNT: usize = 4096;

/// The most values one `terms` query may list: the default of Elasticsearch's
/// `index.max_terms_count`.
pub const MAX_TERMS_COUNT: usize = 65_536;

/// Parses the `query` of a query API keys body. `now` resolves `now` date math.
///
/// A query nested deeper than [`MAX_NESTED_DEPTH`], a `bool` with more than [`MAX_CLAUSE_COUNT`]
/// clauses, more leaf queries than that in all, or a `terms` query with more than
/// [`MAX_TERMS_COUNT`] values fails as it does in Elasticsearch, so every query that parses is
/// small enough for the store and the in-memory evaluator.
pub fn parse_query<F: QueryField>(value: &Value, now: EpochMillis) -> Result<Query<F>, Error> {
    let Some((kind, body)) = single_clause(value)? else {
        return Ok(Query::MatchAll);
    };
    let parser = Parser {
        now,
        depth: std::cell::Cell::new(0),
        fields: std::marker::PhantomData,
    };
    let query = parser.query(kind, body)?;
    let leaves = query.leaf_count();
    if leaves > MAX_CLAUSE_COUNT {
        return Err(Error::TooManyNestedClauses(format!(
            "Query contains too many nested clauses; maxClauseCount is set to {MAX_CLAUSE_COUNT}"
        )));
    }
    Ok(query)
}

/// Parses `sort`: a field name, an object `{field: {order}}` / `{field: "asc"}`, or an array of
/// those.
pub fn parse_sort<F: QueryField>(value: &Value) -> Result<Vec<Sort<F>>, Error> {
    let items = match value {
        Value::Array(items) => items.iter().collect::<Vec<_>>(),
        other => vec![other],
    };
    items.into_iter().map(sort_clause).collect()
}

/// Parses `search_after`: one value per sort clause.
pub fn parse_search_after<F: QueryField>(
    value: &Value,
    sort: &[Sort<F>],
) -> Result<Vec<SortValue>, Error> {
    let Value::Array(items) = value else {
        return Err(Error::x_content(
            "[search_after] search_after must be an array",
        ));
    };
    if items.len() != sort.len() {
        return Err(Error::illegal_argument(format!(
            "search_after has {} value(s) but sort has {}.",
            items.len(),
            sort.len()
        )));
    }
    items
        .iter()
        .zip(sort)
        .map(|(item, clause)| search_after_value(item, clause))
        .collect()
}

pub(super) struct Parser<F> {
    pub(super) now: EpochMillis,
    /// How many queries enclose the one being parsed, itself included.
    pub(super) depth: std::cell::Cell<usize>,
    pub(super) fields: std::marker::PhantomData<F>,
}

impl<F: QueryField> Parser<F> {
    fn query(&self, kind: &str, body: &Value) -> Result<Query<F>, Error> {
        let depth = self.depth.get() + 1;
        if depth > MAX_NESTED_DEPTH {
            return Err(Error::illegal_argument(
                "The nested depth of the query exceeds the maximum nested depth for queries set in \
                 [indices.query.bool.max_nested_depth]",
            ));
        }
        self.depth.set(depth);
        let query = self.query_at_depth(kind, body);
        self.depth.set(depth - 1);
        query
    }

    fn query_at_depth(&self, kind: &str, body: &Value) -> Result<Query<F>, Error> {
        if !F::allows_query_type(kind) {
            return Err(not_supported(kind));
        }
        match kind {
            "bool" => self.bool_query(body),
            "match_all" => {
                object_of(kind, body)?;
                Ok(Query::MatchAll)
            }
            "ids" => ids_query(body),
            "term" => self.term_query(body, kind),
            "match" => self.term_query(body, kind),
            "terms" => self.terms_query(body),
            "prefix" => pattern_query(body, kind, PatternKind::Prefix),
            "wildcard" => pattern_query(body, kind, PatternKind::Wildcard),
            "exists" => exists_query(body),
            "range" => self.range_query(body),
            "simple_query_string" => self.simple_query_string(body),
            other => Err(not_supported(other)),
        }
    }

    fn bool_query(&self, body: &Value) -> Result<Query<F>, Error> {
        let object = object_of("bool", body)?;
        let (mut must, mut filter, mut should, mut must_not) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let mut minimum_should_match = None;
        let mut clause_count: usize = 0;
        for (name, value) in object {
            let target = match name.as_str() {
                "must" => &mut must,
                "filter" => &mut filter,
                "should" => &mut should,
                "must_not" | "mustNot" => &mut must_not,
                "minimum_should_match" => {
                    minimum_should_match = Some(minimum_should_match_value(value)?);
                    continue;
                }
                "boost" | "_name" | "adjust_pure_negative" => continue,
                other => {
                    return Err(Error::Parsing(format!(
                        "[bool] query does not support [{other}]"
                    )));
                }
            };
            let clauses = match value {
                Value::Array(items) => items.iter().collect::<Vec<_>>(),
                other => vec![other],
            };
            // Elasticsearch refuses to build a `bool` query with too many clauses.
            clause_count = clause_count.saturating_add(clauses.len());
            if clause_count > MAX_CLAUSE_COUNT {
                return Err(Error::TooManyClauses(format!(
                    "maxClauseCount is set to {MAX_CLAUSE_COUNT}"
                )));
            }
            for clause in clauses {
                target.push(parse_nested(self, clause)?);
            }
        }
        let default = usize::from(!should.is_empty() && must.is_empty() && filter.is_empty());
        let minimum_should_match = match minimum_should_match {
            Some(count) if count < 0 => should
                .len()
                .saturating_sub(usize::try_from(count.unsigned_abs()).unwrap_or(usize::MAX)),
            Some(count) => usize::try_from(count).unwrap_or(usize::MAX),
            None => default,
        };
        Ok(Query::Bool {
            must,
            filter,
            should,
            must_not,
            minimum_should_match,
        })
    }

    fn term_query(&self, body: &Value, kind: &str) -> Result<Query<F>, Error> {
        let (field_name, spec) = single_field(kind, body)?;
        let field = queryable_field(field_name)?;
        let value_key = if kind == "match" { "query" } else { "value" };
        let (raw, case_insensitive) = match spec {
            Value::Object(options) => {
                let mut raw = None;
                let mut case_insensitive = false;
                for (name, value) in options {
                    match name.as_str() {
                        "case_insensitive" if kind == "term" => {
                            case_insensitive = boolean_option(kind, name, value)?
                        }
                        "boost" | "_name" => {}
                        // A fuzzy match or another analyzer would change which keys match;
                        // keyward compares exact keywords, so it refuses them.
                        "fuzziness" if kind == "match" && !matches!(plain(value).as_str(), "0") => {
                            return Err(Error::illegal_argument(format!(
                                "[match] option [fuzziness] [{}] is not supported by keyward: \
                                 values are compared as exact keywords",
                                plain(value)
                            )));
                        }
                        "analyzer" if kind == "match" && plain(value) != "keyword" => {
                            return Err(Error::illegal_argument(format!(
                                "[match] option [analyzer] [{}] is not supported by keyward: \
                                 values are compared as exact keywords",
                                plain(value)
                            )));
                        }
                        // `match` options that do not change an exact keyword comparison (the
                        // keyword analyzer makes one term of the query).
                        "operator"
                        | "analyzer"
                        | "fuzziness"
                        | "prefix_length"
                        | "max_expansions"
                        | "fuzzy_transpositions"
                        | "lenient"
                        | "zero_terms_query"
                        | "auto_generate_synonyms_phrase_query"
                        | "minimum_should_match"
                            if kind == "match" => {}
                        key if key == value_key => raw = Some(value),
                        other => {
                            return Err(Error::Parsing(format!(
                                "[{kind}] query does not support [{other}]"
                            )));
                        }
                    }
                }
                let raw = raw.ok_or_else(|| Error::illegal_argument("value cannot be null"))?;
                (raw, case_insensitive)
            }
            other => (other, false),
        };
        let value = self.field_value(&field, raw)?;
        Ok(Query::Term {
            field,
            value,
            case_insensitive,
        })
    }

    fn terms_query(&self, body: &Value) -> Result<Query<F>, Error> {
        let object = object_of("terms", body)?;
        let mut found = None;
        for (name, value) in object {
            if name == "boost" || name == "_name" {
                continue;
            }
            if found.is_some() {
                return Err(Error::Parsing(
                    "[terms] query does not support multiple fields".to_owned(),
                ));
            }
            found = Some((name, value));
        }
        let Some((field_name, values)) = found else {
            return Err(Error::Parsing("[terms] query requires a field".to_owned()));
        };
        let items = match values {
            Value::Array(items) => items,
            Value::Object(_) => {
                return Err(Error::illegal_argument(
                    "terms query with terms lookup is not currently supported in this context",
                ));
            }
            _ => {
                return Err(Error::Parsing(format!(
                    "[terms] query does not support [{field_name}]"
                )));
            }
        };
        if items.len() > MAX_TERMS_COUNT {
            return Err(Error::illegal_argument(format!(
                "The number of terms [{}] used in the Terms Query request has exceeded the allowed \
                 maximum of [{MAX_TERMS_COUNT}]. This maximum can be set by changing the \
                 [index.max_terms_count] index level setting.",
                items.len()
            )));
        }
        let field = queryable_field(field_name)?;
        let values = items
            .iter()
            .map(|item| self.field_value(&field, item))
            .collect::<Result<Vec<_>, _>>()?;
        if values.is_empty() {
            return Ok(Query::MatchNone);
        }
        Ok(Query::Terms { field, values })
    }

    fn range_query(&self, body: &Value) -> Result<Query<F>, Error> {
        let (field_name, spec) = single_field("range", body)?;
        let field: F = queryable_field(field_name)?;
        let Value::Object(options) = spec else {
            return Err(Error::Parsing(format!(
                "[range] query does not support [{field_name}]"
            )));
        };
        let (mut gt, mut gte, mut lt, mut lte) = (None, None, None, None);
        let mut offset = 0;
        for (name, value) in options {
            if value.is_null()
                && matches!(
                    name.as_str(),
                    "gt" | "gte" | "lt" | "lte" | "from" | "to" | "format" | "time_zone"
                )
            {
                continue;
            }
            match name.as_str() {
                "gt" => gt = Some(value),
                "gte" | "from" => gte = Some(value),
                "lt" => lt = Some(value),
                "lte" | "to" => lte = Some(value),
                "relation" => {
                    return Err(Error::illegal_argument(
                        "range query with relation is not currently supported in this context",
                    ));
                }
                "boost" | "_name" => {}
                "format" => range_format(&field, value)?,
                "time_zone" => offset = range_time_zone(&field, value)?,
                other => {
                    return Err(Error::Parsing(format!(
                        "[range] query does not support [{other}]"
                    )));
                }
            }
        }
        let bound = |value: Option<&Value>| -> Result<Option<FieldValue>, Error> {
            value
                .map(|value| match field.kind() {
                    FieldKind::Date => {
                        date_math::date_value_in_zone(value, self.now, offset).map(FieldValue::Date)
                    }
                    _ => self.field_value(&field, value),
                })
                .transpose()
        };
        let (gt, gte, lt, lte) = (bound(gt)?, bound(gte)?, bound(lt)?, bound(lte)?);
        Ok(Query::Range {
            field,
            gt,
            gte,
            lt,
            lte,
        })
    }

    fn simple_query_string(&self, body: &Value) -> Result<Query<F>, Error> {
        let object = object_of("simple_query_string", body)?;
        let mut text = None;
        let mut patterns = Vec::new();
        let mut all_terms = false;
        for (name, value) in object {
            match name.as_str() {
                "query" => match value {
                    Value::String(query) => text = Some(query.clone()),
                    _ => {
                        return Err(Error::Parsing(
                            "[simple_query_string] query must be a string".to_owned(),
                        ));
                    }
                },
                "fields" => {
                    let Value::Array(items) = value else {
                        return Err(Error::Parsing(
                            "[simple_query_string] query does not support [fields]".to_owned(),
                        ));
                    };
                    for item in items {
                        let Value::String(pattern) = item else {
                            return Err(Error::Parsing(
                                "[simple_query_string] fields must be strings".to_owned(),
                            ));
                        };
                        // A `^boost` suffix changes scores only.
                        let pattern = pattern.split('^').next().unwrap_or_default();
                        patterns.push(pattern.to_owned());
                    }
                }
                "default_operator" => match value.as_str().map(str::to_ascii_lowercase) {
                    Some(operator) if operator == "and" => all_terms = true,
                    Some(operator) if operator == "or" => all_terms = false,
                    _ => {
                        return Err(Error::Parsing(format!(
                            "[simple_query_string] default operator [{value}] is not allowed"
                        )));
                    }
                },
                "boost"
                | "_name"
                | "analyze_wildcard"
                | "lenient"
                | "flags"
                | "minimum_should_match"
                | "quote_field_suffix"
                | "auto_generate_synonyms_phrase_query"
                | "fuzzy_prefix_length"
                | "fuzzy_max_expansions"
                | "fuzzy_transpositions"
                | "analyzer" => {}
                other => {
                    return Err(Error::Parsing(format!(
                        "[simple_query_string] unsupported field [{other}]"
                    )));
                }
            }
        }
        let Some(text) = text else {
            return Err(Error::Parsing(
                "[simple_query_string] query text missing".to_owned(),
            ));
        };
        let fields: Vec<F> = simple_query_fields(&patterns)?;
        if fields.is_empty() {
            return Ok(Query::MatchNone);
        }
        let mut clauses = Vec::new();
        for token in text.split_whitespace() {
            let (negated, token) = match token.strip_prefix('-') {
                Some(rest) => (true, rest),
                None => (false, token.strip_prefix('+').unwrap_or(token)),
            };
            if token.is_empty() {
                continue;
            }
            let mut alternatives = Vec::new();
            for field in &fields {
                // Lenient: a token that is no value of a field's type does not match it.
                let clause = match token.strip_suffix('*') {
                    Some(prefix) if field.kind() == FieldKind::Keyword => Query::Prefix {
                        field: field.clone(),
                        prefix: prefix.to_owned(),
                        case_insensitive: false,
                    },
                    Some(_) => continue,
                    None => match self.field_value(field, &Value::String(token.to_owned())) {
                        Ok(value) => Query::Term {
                            field: field.clone(),
                            value,
                            case_insensitive: false,
                        },
                        Err(_) => continue,
                    },
                };
                alternatives.push(clause);
            }
            let any = any_of(alternatives);
            clauses.push(if negated { not(any) } else { any });
        }
        if clauses.is_empty() {
            return Ok(Query::MatchNone);
        }
        Ok(if all_terms {
            Query::Bool {
                must: clauses,
                filter: Vec::new(),
                should: Vec::new(),
                must_not: Vec::new(),
                minimum_should_match: 0,
            }
        } else {
            any_of(clauses)
        })
    }

    fn field_value(&self, field: &F, value: &Value) -> Result<FieldValue, Error> {
        match field.kind() {
            FieldKind::Keyword => match value {
                Value::String(text) => Ok(FieldValue::Keyword(text.clone())),
                Value::Number(number) => Ok(FieldValue::Keyword(number.to_string())),
                Value::Bool(flag) => Ok(FieldValue::Keyword(flag.to_string())),
                _ => Err(Error::Parsing(format!(
                    "[{}] value must be a string, a number or a boolean",
                    field.public_name()
                ))),
            },
            FieldKind::Boolean => match value {
                Value::Bool(flag) => Ok(FieldValue::Boolean(*flag)),
                Value::String(text) if text == "true" => Ok(FieldValue::Boolean(true)),
                Value::String(text) if text == "false" || text.is_empty() => {
                    Ok(FieldValue::Boolean(false))
                }
                other => Err(Error::illegal_argument(format!(
                    "Can't parse boolean value [{}], expected [true] or [false]",
                    plain(other)
                ))),
            },
            FieldKind::Date => date_value(value, self.now).map(FieldValue::Date),
        }
    }
}

/// A range's `format`: the date fields are `epoch_millis`, which keyward parses; another date
/// format would read the bounds differently, so it is refused rather than ignored.
fn range_format<F: QueryField>(field: &F, value: &Value) -> Result<(), Error> {
    if field.kind() != FieldKind::Date {
        return Err(Error::illegal_argument(format!(
            "Field [{}] of type [keyword] does not support custom formats",
            field.public_name()
        )));
    }
    let format = plain(value);
    if format.split("||").next() == Some("epoch_millis") {
        Ok(())
    } else {
        Err(Error::illegal_argument(format!(
            "range [format] [{format}] is not supported by keyward: dates are read as epoch_millis"
        )))
    }
}

/// A range's `time_zone` as an offset from UTC in milliseconds: it changes where date math
/// rounds (`now/d`), never an epoch value. Fixed offsets (`+01:00`, `-0530`, `Z`, `UTC`) only.
fn range_time_zone<F: QueryField>(field: &F, value: &Value) -> Result<i64, Error> {
    if field.kind() != FieldKind::Date {
        return Err(Error::illegal_argument(format!(
            "Field [{}] of type [keyword] does not support custom time zones",
            field.public_name()
        )));
    }
    let zone = plain(value);
    date_math::fixed_offset(&zone).ok_or_else(|| {
        Error::illegal_argument(format!(
            "time_zone [{zone}] is not supported by keyward: only UTC and fixed offsets such as \
             +01:00"
        ))
    })
}

pub(super) enum PatternKind {
    Prefix,
    Wildcard,
}

pub(super) fn parse_nested<F: QueryField>(
    parser: &Parser<F>,
    clause: &Value,
) -> Result<Query<F>, Error> {
    let Some((kind, body)) = single_clause(clause)? else {
        return Ok(Query::MatchAll);
    };
    parser.query(kind, body)
}

pub(super) fn not_supported(kind: &str) -> Error {
    Error::illegal_argument(format!(
        "Query type [{kind}] is not currently supported in this context"
    ))
}

pub(super) fn object_of<'a>(kind: &str, body: &'a Value) -> Result<&'a Map<String, Value>, Error> {
    match body {
        Value::Object(object) => Ok(object),
        _ => Err(Error::Parsing(format!(
            "[{kind}] query malformed, no start_object after query name"
        ))),
    }
}

/// The one field of a `{field: spec}` query body (leaving out `boost` and `_name`).
pub(super) fn single_field<'a>(kind: &str, body: &'a Value) -> Result<(&'a str, &'a Value), Error> {
    let object = object_of(kind, body)?;
    let mut found: Option<(&str, &Value)> = None;
    for (name, value) in object {
        if (name == "boost" || name == "_name") && !value.is_object() {
            continue;
        }
        if let Some((first, _)) = found {
            return Err(Error::Parsing(format!(
                "[{kind}] query doesn't support multiple fields, found [{first}] and [{name}]"
            )));
        }
        found = Some((name.as_str(), value));
    }
    found.ok_or_else(|| Error::illegal_argument(format!("[{kind}] query requires a field")))
}

/// An allowed field, or Elasticsearch's error for a disallowed name or a pattern.
pub(super) fn queryable_field<F: QueryField>(name: &str) -> Result<F, Error> {
    if let Some(field) = F::from_name(name) {
        return Ok(field);
    }
    if name.contains('*') || name.contains('?') {
        return Err(Error::illegal_argument(format!(
            "Field name pattern [{name}] is not allowed for querying or aggregation"
        )));
    }
    Err(Error::illegal_argument(format!(
        "Field [{name}] is not allowed for querying or aggregation"
    )))
}

/// A field for sorting or aggregating: an allowed field other than the id.
pub fn sortable_field<F: QueryField>(name: &str) -> Result<F, Error> {
    queryable_field(name)
}

pub(super) fn ids_query<F>(body: &Value) -> Result<Query<F>, Error> {
    let object = object_of("ids", body)?;
    let mut ids = Vec::new();
    for (name, value) in object {
        match name.as_str() {
            "values" => {
                let Value::Array(items) = value else {
                    return Err(Error::Parsing(
                        "[ids] failed to parse field [values]".to_owned(),
                    ));
                };
                for item in items {
                    match item {
                        Value::String(id) => ids.push(id.clone()),
                        Value::Number(number) => ids.push(number.to_string()),
                        _ => {
                            return Err(Error::Parsing(
                                "[ids] failed to parse field [values]".to_owned(),
                            ));
                        }
                    }
                }
            }
            "boost" | "_name" | "type" => {}
            other => {
                return Err(Error::Parsing(format!("[ids] unknown field [{other}]")));
            }
        }
    }
    Ok(Query::Ids(ids))
}

pub(super) fn exists_query<F: QueryField>(body: &Value) -> Result<Query<F>, Error> {
    let object = object_of("exists", body)?;
    let mut field = None;
    for (name, value) in object {
        match name.as_str() {
            "field" => match value {
                Value::String(name) => field = Some(queryable_field(name)?),
                _ => {
                    return Err(Error::Parsing(
                        "[exists] failed to parse field [field]".to_owned(),
                    ));
                }
            },
            "boost" | "_name" => {}
            other => {
                return Err(Error::Parsing(format!(
                    "[exists] query does not support [{other}]"
                )));
            }
        }
    }
    field
        .map(Query::Exists)
        .ok_or_else(|| Error::Parsing("[exists] must be provided with a [field]".to_owned()))
}

pub(super) fn pattern_query<F: QueryField>(
    body: &Value,
    kind: &str,
    pattern_kind: PatternKind,
) -> Result<Query<F>, Error> {
    let (field_name, spec) = single_field(kind, body)?;
    let field: F = queryable_field(field_name)?;
    let (raw, case_insensitive) = match spec {
        Value::Object(options) => {
            let mut raw = None;
            let mut case_insensitive = false;
            for (name, value) in options {
                match name.as_str() {
                    "value" => raw = Some(value),
                    "wildcard" if matches!(pattern_kind, PatternKind::Wildcard) => {
                        raw = Some(value)
                    }
                    "case_insensitive" => case_insensitive = boolean_option(kind, name, value)?,
                    "boost" | "_name" | "rewrite" => {}
                    other => {
                        return Err(Error::Parsing(format!(
                            "[{kind}] query does not support [{other}]"
                        )));
                    }
                }
            }
            (raw, case_insensitive)
        }
        other => (Some(other), false),
    };
    let text = match raw {
        Some(Value::String(text)) => text.clone(),
        Some(Value::Number(number)) => number.to_string(),
        Some(Value::Bool(flag)) => flag.to_string(),
        _ => {
            return Err(Error::Parsing(format!(
                "[{kind}] query requires a string value"
            )));
        }
    };
    if field.kind() != FieldKind::Keyword {
        return Err(Error::illegal_argument(format!(
            "Field [{field_name}] of type [{}] does not support {kind} queries",
            match field.kind() {
                FieldKind::Date => "date",
                FieldKind::Boolean => "boolean",
                FieldKind::Keyword => "keyword",
            }
        )));
    }
    Ok(match pattern_kind {
        PatternKind::Prefix => Query::Prefix {
            field,
            prefix: text,
            case_insensitive,
        },
        PatternKind::Wildcard => Query::Wildcard {
            field,
            pattern: wildcard_parts(&text),
            case_insensitive,
        },
    })
}

/// Splits a wildcard pattern: `*`, `?`, and `\` escaping the next character.
pub fn wildcard_parts(pattern: &str) -> Vec<WildcardPart> {
    let mut parts = Vec::new();
    let mut literal = String::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        let part = match c {
            '*' => WildcardPart::AnyRun,
            '?' => WildcardPart::AnyChar,
            '\\' => {
                if let Some(escaped) = chars.next() {
                    literal.push(escaped);
                }
                continue;
            }
            other => {
                literal.push(other);
                continue;
            }
        };
        if !literal.is_empty() {
            parts.push(WildcardPart::Literal(std::mem::take(&mut literal)));
        }
        parts.push(part);
    }
    if !literal.is_empty() {
        parts.push(WildcardPart::Literal(literal));
    }
    parts
}

pub(super) fn boolean_option(kind: &str, name: &str, value: &Value) -> Result<bool, Error> {
    match value {
        Value::Bool(flag) => Ok(*flag),
        Value::String(text) if text == "true" => Ok(true),
        Value::String(text) if text == "false" => Ok(false),
        _ => Err(Error::Parsing(format!(
            "[{kind}] failed to parse field [{name}]"
        ))),
    }
}

pub(super) fn minimum_should_match_value(value: &Value) -> Result<i64, Error> {
    let parsed = match value {
        Value::Number(number) => number.as_i64(),
        Value::String(text) => text.trim().parse::<i64>().ok(),
        _ => None,
    };
    parsed.ok_or_else(|| {
        Error::illegal_argument(format!(
            "minimum_should_match [{}] is not supported in this context",
            plain(value)
        ))
    })
}

pub(super) fn simple_query_fields<F: QueryField>(patterns: &[String]) -> Result<Vec<F>, Error> {
    if patterns.is_empty() {
        return Ok(F::NAMES
            .iter()
            .filter_map(|name| F::from_name(name))
            .collect());
    }
    let mut fields = Vec::new();
    for pattern in patterns {
        if pattern.contains('*') {
            for name in F::NAMES {
                if crate::wildcard::matches(pattern, name)
                    && let Some(field) = F::from_name(name)
                    && !fields.contains(&field)
                {
                    fields.push(field);
                }
            }
        } else if let Some(field) = F::from_name(pattern)
            && !fields.contains(&field)
        {
            fields.push(field);
        }
    }
    Ok(fields)
}

/// Whether `text` matches a wildcard pattern (case-sensitively), with
/// [`crate::wildcard::matches`].
pub fn wildcard_matches(parts: &[WildcardPart], text: &str) -> bool {
    crate::wildcard::matches(&wildcard_pattern(parts), text)
}

/// The parts put back together as one wildcard pattern, literals escaped.
pub fn wildcard_pattern(parts: &[WildcardPart]) -> String {
    parts
        .iter()
        .map(|part| match part {
            WildcardPart::AnyRun => "*".to_owned(),
            WildcardPart::AnyChar => "?".to_owned(),
            WildcardPart::Literal(text) => crate::wildcard::escape(text),
        })
        .collect()
}

pub(super) fn any_of<F>(mut clauses: Vec<Query<F>>) -> Query<F> {
    match clauses.len() {
        0 => Query::MatchNone,
        1 => clauses.remove(0),
        _ => Query::Bool {
            must: Vec::new(),
            filter: Vec::new(),
            should: clauses,
            must_not: Vec::new(),
            minimum_should_match: 1,
        },
    }
}

pub(super) fn not<F>(query: Query<F>) -> Query<F> {
    Query::Bool {
        must: Vec::new(),
        filter: Vec::new(),
        should: Vec::new(),
        must_not: vec![query],
        minimum_should_match: 0,
    }
}

pub(super) fn field_name(field: &ApiKeyField) -> String {
    match field {
        ApiKeyField::Creation => "creation".to_owned(),
        ApiKeyField::Expiration => "expiration".to_owned(),
        ApiKeyField::Id => "_id".to_owned(),
        ApiKeyField::Invalidated => "invalidated".to_owned(),
        ApiKeyField::Invalidation => "invalidation".to_owned(),
        ApiKeyField::Metadata(path) if path.is_empty() => "metadata".to_owned(),
        ApiKeyField::Metadata(path) => format!("metadata.{}", path.join(".")),
        ApiKeyField::Name => "name".to_owned(),
        ApiKeyField::RealmName => "realm_name".to_owned(),
        ApiKeyField::Type => "type".to_owned(),
        ApiKeyField::Username => "username".to_owned(),
    }
}

pub(super) fn plain(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

pub(super) fn sort_clause<F: QueryField>(value: &Value) -> Result<Sort<F>, Error> {
    match value {
        Value::String(name) => sort_key(name, None),
        Value::Object(object) if object.len() == 1 => {
            let Some((name, spec)) = object.iter().next() else {
                return Err(malformed_sort());
            };
            match spec {
                Value::String(order) => sort_key(name, Some(order)),
                Value::Object(options) => {
                    let mut order = None;
                    for (option, value) in options {
                        match option.as_str() {
                            "order" => match value {
                                Value::String(text) => order = Some(text.as_str()),
                                _ => return Err(malformed_sort()),
                            },
                            "nested" | "nested_path" | "nested_filter" => {
                                return Err(Error::illegal_argument(
                                    "nested sorting is not currently supported in this context",
                                ));
                            }
                            // Fields are all mapped; a metadata key no key has sorts last,
                            // as with `unmapped_type` in Elasticsearch.
                            "unmapped_type" => {}
                            "missing" => sort_missing(name, value)?,
                            "mode" => sort_mode(name, value)?,
                            "format" | "numeric_type" => {
                                return Err(Error::illegal_argument(format!(
                                    "sort option [{option}] is not supported by keyward"
                                )));
                            }
                            other => {
                                return Err(Error::Parsing(format!(
                                    "[field_sort] unknown field [{other}]"
                                )));
                            }
                        }
                    }
                    sort_key(name, order)
                }
                _ => Err(malformed_sort()),
            }
        }
        _ => Err(malformed_sort()),
    }
}

pub(super) fn malformed_sort() -> Error {
    Error::Parsing("mal-formatted sort object".to_owned())
}

/// A sort's `missing`: keys without the field sort last in keyward's stores, which is
/// Elasticsearch's default `_last`; `_first` and replacement values are refused.
fn sort_missing(field: &str, value: &Value) -> Result<(), Error> {
    match value {
        Value::String(text) if text == "_last" => Ok(()),
        other => Err(Error::illegal_argument(format!(
            "sort [missing] value [{}] for [{field}] is not supported by keyward: keys without \
             the field always sort last (_last)",
            plain(other)
        ))),
    }
}

/// A sort's `mode`: for a field with one value per document every mode gives the same order;
/// for the fields that hold several (`metadata.*`, a user's `roles`) keyward does not choose
/// among them as asked, so a mode is refused there.
fn sort_mode(field: &str, value: &Value) -> Result<(), Error> {
    let mode = plain(value);
    if !matches!(
        mode.to_ascii_lowercase().as_str(),
        "min" | "max" | "sum" | "avg" | "median"
    ) {
        return Err(Error::illegal_argument(format!(
            "Unknown SortMode [{mode}]"
        )));
    }
    if field.starts_with("metadata") || field == "roles" {
        return Err(Error::illegal_argument(format!(
            "sort [mode] on the multi-valued field [{field}] is not supported by keyward"
        )));
    }
    Ok(())
}

pub(super) fn sort_key<F: QueryField>(name: &str, order: Option<&str>) -> Result<Sort<F>, Error> {
    let descending = match order.map(str::to_ascii_lowercase).as_deref() {
        None | Some("asc") => false,
        Some("desc") => true,
        Some(other) => {
            return Err(Error::illegal_argument(format!(
                "Unknown SortOrder [{other}]"
            )));
        }
    };
    let key = if name == "_doc" {
        SortKey::Doc
    } else {
        SortKey::Field(sortable_field(name)?)
    };
    Ok(Sort { key, descending })
}

pub(super) fn search_after_value<F: QueryField>(
    value: &Value,
    clause: &Sort<F>,
) -> Result<SortValue, Error> {
    let kind = match &clause.key {
        SortKey::Doc => FieldKind::Date,
        SortKey::Field(field) => field.kind(),
    };
    let long = |text: &str| {
        text.parse::<i64>().map_err(|_| {
            Error::illegal_argument(format!(
                "Failed to parse search_after value [{text}] for a numeric sort"
            ))
        })
    };
    Ok(match (kind, value) {
        (_, Value::Null) => SortValue::Null,
        (FieldKind::Keyword, Value::String(text)) => SortValue::Text(text.clone()),
        (FieldKind::Keyword, other) => SortValue::Text(plain(other)),
        (_, Value::Number(number)) => SortValue::Long(long(&number.to_string())?),
        (_, Value::String(text)) => SortValue::Long(long(text)?),
        (_, Value::Bool(flag)) => SortValue::Long(i64::from(*flag)),
        (_, other) => SortValue::Long(long(&other.to_string())?),
    })
}

/// The one `{"<kind>": <body>}` entry of a query object; `None` for `{}` (match all).
fn single_clause(value: &Value) -> Result<Option<(&String, &Value)>, Error> {
    let Value::Object(object) = value else {
        return Err(Error::Parsing(
            "[_na] query malformed, must start with start_object".to_owned(),
        ));
    };
    let mut entries = object.iter();
    let Some((kind, body)) = entries.next() else {
        return Ok(None);
    };
    if let Some((next, _)) = entries.next() {
        return Err(Error::Parsing(format!(
            "[{kind}] malformed query, expected [END_OBJECT] but found [FIELD_NAME] ([{next}])"
        )));
    }
    Ok(Some((kind, body)))
}
