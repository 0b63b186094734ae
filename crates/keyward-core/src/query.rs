//! The query DSL of `security.query_api_keys` (reference §8.4) as a typed AST: the allowed query
//! types over the closed set of public API key fields, sort, and `search_after` values.
//!
//! Parsing checks everything Elasticsearch checks (query types, field allow-list, field name
//! patterns, value types) and resolves `now` date math against the instant it is given, so a
//! store only translates a valid tree into its own query language.

use crate::EpochMillis;

mod date_math;
mod evaluate;
mod fields;
mod parse;

use date_math::*;
pub use evaluate::{Document, matches, sort_and_page};
pub use fields::*;
pub use parse::*;

/// How many sort values a date field shows when the key has no value (Elasticsearch's
/// `Long.MAX_VALUE` for ascending sorts, `Long.MIN_VALUE` for descending ones).
pub const MISSING_DATE_ASC: i64 = i64::MAX;
/// See [`MISSING_DATE_ASC`].
pub const MISSING_DATE_DESC: i64 = i64::MIN;

/// A typed query value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldValue {
    /// A boolean field's value.
    Boolean(bool),
    /// A date field's value, in epoch milliseconds.
    Date(EpochMillis),
    /// A keyword field's value.
    Keyword(String),
}

/// One node of a query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Query<F = ApiKeyField> {
    /// `bool`: every `must` and `filter` clause, none of `must_not`, and at least
    /// `minimum_should_match` of `should`.
    Bool {
        /// Clauses that must match.
        must: Vec<Query<F>>,
        /// Clauses that must match (no scoring in keyward either way).
        filter: Vec<Query<F>>,
        /// Optional clauses.
        should: Vec<Query<F>>,
        /// Clauses that must not match.
        must_not: Vec<Query<F>>,
        /// How many `should` clauses must match; 0 when there are `must`/`filter` clauses and
        /// no explicit value, else 1 when there are `should` clauses.
        minimum_should_match: usize,
    },
    /// `exists`: the field has a value.
    Exists(F),
    /// `ids`: the key id is one of these.
    Ids(Vec<String>),
    /// `match_all`.
    MatchAll,
    /// Matches nothing (a `simple_query_string` whose fields select no allowed field, or a
    /// `terms` with no values).
    MatchNone,
    /// `prefix` on a keyword field.
    Prefix {
        /// The field.
        field: F,
        /// The literal prefix.
        prefix: String,
        /// Compare case-insensitively.
        case_insensitive: bool,
    },
    /// `range`; absent bounds are open.
    Range {
        /// The field.
        field: F,
        /// Exclusive lower bound.
        gt: Option<FieldValue>,
        /// Inclusive lower bound.
        gte: Option<FieldValue>,
        /// Exclusive upper bound.
        lt: Option<FieldValue>,
        /// Inclusive upper bound.
        lte: Option<FieldValue>,
    },
    /// `term` (and `match`, which on keyword fields is a term).
    Term {
        /// The field.
        field: F,
        /// The value.
        value: FieldValue,
        /// Compare case-insensitively (keywords only).
        case_insensitive: bool,
    },
    /// `terms`: the field equals one of the values.
    Terms {
        /// The field.
        field: F,
        /// The values.
        values: Vec<FieldValue>,
    },
    /// `wildcard` on a keyword field: `*` any run, `?` one character, `\` escapes.
    Wildcard {
        /// The field.
        field: F,
        /// The pattern, split into literal and wildcard parts.
        pattern: Vec<WildcardPart>,
        /// Compare case-insensitively.
        case_insensitive: bool,
    },
}

/// One piece of a wildcard pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WildcardPart {
    /// Any run of characters, including none.
    AnyRun,
    /// Exactly one character.
    AnyChar,
    /// These characters literally.
    Literal(String),
}

/// What a sort clause orders by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SortKey<F = ApiKeyField> {
    /// `_doc`: storage order.
    Doc,
    /// A field.
    Field(F),
}

/// One sort clause.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sort<F = ApiKeyField> {
    /// What to order by.
    pub key: SortKey<F>,
    /// Descending instead of ascending.
    pub descending: bool,
}

/// One value of a hit's `_sort` array, or of `search_after`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SortValue {
    /// A number (dates, booleans as 0/1, `_doc`).
    Long(i64),
    /// A keyword.
    Text(String),
    /// No value.
    Null,
}

/// A parsed `security.query_api_keys` search: what matches, in which order, which page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyQuery {
    /// What matches.
    pub query: Query,
    /// The order; empty for storage order without `_sort` values.
    pub sort: Vec<Sort>,
    /// Hits to skip.
    pub from: u64,
    /// Hits to return at most.
    pub size: u64,
    /// Only hits after these sort values (one per sort clause).
    pub search_after: Option<Vec<SortValue>>,
}

impl Default for ApiKeyQuery {
    fn default() -> ApiKeyQuery {
        ApiKeyQuery {
            query: Query::MatchAll,
            sort: Vec::new(),
            from: 0,
            size: DEFAULT_SIZE,
            search_after: None,
        }
    }
}

/// Hits returned when `size` is not given.
pub const DEFAULT_SIZE: u64 = 10;

/// The index result window: `from + size` may not exceed it.
pub const MAX_RESULT_WINDOW: u64 = 10_000;

impl<F> Query<F> {
    /// How many leaf queries this query holds (a `terms` or `ids` query counts once, as one
    /// Lucene term-set query does).
    pub fn leaf_count(&self) -> usize {
        match self {
            Query::Bool {
                must,
                filter,
                should,
                must_not,
                ..
            } => must
                .iter()
                .chain(filter)
                .chain(should)
                .chain(must_not)
                .map(Query::leaf_count)
                .fold(0, usize::saturating_add),
            _ => 1,
        }
    }

    /// Both clauses must match.
    pub fn and(self, other: Query<F>) -> Query<F> {
        Query::Bool {
            must: Vec::new(),
            filter: vec![self, other],
            should: Vec::new(),
            must_not: Vec::new(),
            minimum_should_match: 0,
        }
    }
}

#[cfg(test)]
mod tests;
