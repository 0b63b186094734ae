//! Aggregations of `security.query_api_keys`: parsed from the body, then folded over the matching
//! keys as they stream from the store in bounded batches, so memory grows with the buckets, not
//! with the keys.
//!
//! Every bucket of a multi-bucket aggregation (`filters`, `terms`, `composite`) counts against
//! `search.max_buckets` when it is created; one more than the limit fails the request with
//! Elasticsearch's `too_many_buckets_exception`. Elasticsearch counts the buckets of the reduced
//! response; counting them while collecting is what bounds memory here, and differs only for
//! `terms`, whose distinct values all count (see COMPATIBILITY.md). `composite` keeps only its
//! `size` smallest keys, and `cardinality` keeps exact hashes up to 3000 distinct values (the
//! default `precision_threshold`), then a HyperLogLog++-style sketch of fixed size.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::hash::{DefaultHasher, Hash, Hasher};

use keyward_core::EpochMillis;
use keyward_core::api_key::ApiKeyType;
use keyward_core::query::{
    ApiKeyField, ApiKeyQuery, Document, FieldKind, FieldValue, MAX_CLAUSE_COUNT, Query,
    flattened_values, matches, parse_query, sortable_field,
};
use keyward_store::{ApiKeyRecord, FieldCountValue};
use serde_json::{Map, Value, json};

use crate::{Error, SecurityService};

/// How many keys one read from the store returns while aggregating.
const BATCH: usize = 1_000;

impl SecurityService {
    /// Folds `aggs` over every key `query` matches, reading them from the store a batch at a
    /// time, and renders the results.
    pub(crate) async fn aggregate(
        &self,
        aggs: &[Aggregation],
        query: &Query,
        typed_keys: bool,
    ) -> Result<Map<String, Value>, Error> {
        let states = match self.aggregate_from_counts(aggs, query).await? {
            Some(states) => states,
            None => self.fold(aggs, query).await?,
        };
        Ok(render(aggs, states, typed_keys))
    }

    /// The states of `aggs` folded over every key `query` matches, read a batch at a time.
    async fn fold(&self, aggs: &[Aggregation], query: &Query) -> Result<Vec<State>, Error> {
        let mut budget = Budget {
            used: 0,
            limit: self.inner.config.max_buckets,
        };
        let mut states = new_states(aggs, &mut budget)?;
        let mut after: Option<String> = None;
        loop {
            let batch = self
                .inner
                .store
                .api_keys_after(query, after.as_deref(), BATCH)
                .await?;
            for record in &batch {
                add(aggs, &mut states, record, &mut budget)?;
            }
            if batch.len() < BATCH {
                break;
            }
            after = batch.last().map(|record| record.id.clone());
        }
        Ok(states)
    }
}

impl SecurityService {
    /// The states of `aggs` from counts the store computes (`Store::count_api_keys_by` and the
    /// totals of queries), without reading a key: `None` when some aggregation needs the keys
    /// themselves (sub-aggregations, `composite`, the whole of `metadata`, a `value_count` of a
    /// metadata key, a `cardinality` past its exact range), which the fold then answers. The
    /// states are the ones the fold would build, buckets taken from the same budget, so both
    /// render the same answer and fail on the same `search.max_buckets`.
    async fn aggregate_from_counts(
        &self,
        aggs: &[Aggregation],
        query: &Query,
    ) -> Result<Option<Vec<State>>, Error> {
        if !aggs.iter().all(countable) {
            return Ok(None);
        }
        let store = &self.inner.store;
        let count = |filter: Query| async move {
            let search = ApiKeyQuery {
                query: filter,
                size: 0,
                ..ApiKeyQuery::default()
            };
            Ok::<u64, Error>(store.query_api_keys(&search).await?.total)
        };
        let mut budget = Budget {
            used: 0,
            limit: self.inner.config.max_buckets,
        };
        let mut states = new_states(aggs, &mut budget)?;
        for (agg, state) in aggs.iter().zip(states.iter_mut()) {
            match (&agg.kind, state) {
                (AggregationKind::Terms { field, options, .. }, State::Terms(buckets)) => {
                    let room = budget.limit.saturating_sub(budget.used);
                    let counts = store.count_api_keys_by(query, field, room, false).await?;
                    for (value, doc_count) in counts.values {
                        let value = bucket(value);
                        if !options.accepts(&value) {
                            continue;
                        }
                        budget.take(1)?;
                        buckets.insert(
                            value,
                            Counted {
                                doc_count,
                                subs: Vec::new(),
                            },
                        );
                    }
                    if counts.truncated {
                        budget.take(1)?;
                    }
                }
                (AggregationKind::Missing(field), State::Single(bucket)) => {
                    bucket.doc_count = store
                        .count_api_keys_by(query, field, 0, true)
                        .await?
                        .missing;
                }
                (AggregationKind::ValueCount(field), State::ValueCount(value_count)) => {
                    // One value per key outside metadata (`countable`): the keys with one.
                    let missing = store
                        .count_api_keys_by(query, field, 0, true)
                        .await?
                        .missing;
                    *value_count = count(query.clone()).await?.saturating_sub(missing);
                }
                (AggregationKind::Cardinality(field), State::Cardinality(distinct)) => {
                    let counts = store
                        .count_api_keys_by(query, field, EXACT_LIMIT, false)
                        .await?;
                    if counts.truncated {
                        return Ok(None);
                    }
                    for (value, _) in counts.values {
                        distinct.insert(&bucket(value));
                    }
                }
                (AggregationKind::Filter(filter), State::Single(bucket)) => {
                    bucket.doc_count = count(query.clone().and(filter.clone())).await?;
                }
                (AggregationKind::Filters(filters), State::Filters(buckets)) => {
                    for ((_, filter), bucket) in filters.iter().zip(buckets.iter_mut()) {
                        bucket.doc_count = count(query.clone().and(filter.clone())).await?;
                    }
                }
                (AggregationKind::Range { ranges, .. }, State::Filters(buckets)) => {
                    for (range, bucket) in ranges.iter().zip(buckets.iter_mut()) {
                        bucket.doc_count = count(query.clone().and(range.query.clone())).await?;
                    }
                }
                (
                    AggregationKind::Composite {
                        sources,
                        size,
                        after,
                    },
                    State::Composite(buckets),
                ) => {
                    let [CompositeSource { field, .. }] = sources.as_slice() else {
                        return Ok(None);
                    };
                    let after = after.as_ref().map(|after| after_key(sources, after));
                    // The smallest values the budget allows, then the page after `after`; when
                    // the store had more values than that and the page is short, the rest is
                    // the fold's.
                    let room = budget.limit.saturating_sub(budget.used);
                    let counts = store.count_api_keys_by(query, field, room, false).await?;
                    let page: Vec<(Vec<Ordered>, u64)> = counts
                        .values
                        .into_iter()
                        .map(|(value, doc_count)| {
                            (vec![Ordered::new(bucket(value), false)], doc_count)
                        })
                        .filter(|(key, _)| after.as_ref().is_none_or(|after| key > after))
                        .take(*size)
                        .collect();
                    if counts.truncated && page.len() < *size {
                        return Ok(None);
                    }
                    for (key, doc_count) in page {
                        budget.take(1)?;
                        buckets.insert(
                            key,
                            Counted {
                                doc_count,
                                subs: Vec::new(),
                            },
                        );
                    }
                }
                // `countable` let no other aggregation through, and states are built from the
                // same aggregations in the same order.
                _ => return Ok(None),
            }
        }
        Ok(Some(states))
    }
}

/// Whether the store's counts answer `agg` alone (see `aggregate_from_counts`).
fn countable(agg: &Aggregation) -> bool {
    let plain =
        |field: &ApiKeyField| !matches!(field, ApiKeyField::Metadata(path) if path.is_empty());
    agg.subs.is_empty()
        && match &agg.kind {
            // A `missing` value needs the keys without the field: the fold sees them.
            AggregationKind::Terms { field, options, .. } => {
                plain(field) && options.missing.is_none()
            }
            AggregationKind::Missing(field) | AggregationKind::Cardinality(field) => plain(field),
            AggregationKind::ValueCount(field) => !matches!(field, ApiKeyField::Metadata(_)),
            AggregationKind::Filter(_)
            | AggregationKind::Filters(_)
            | AggregationKind::Range { .. } => true,
            // One ascending source: its smallest values after `after` are the page.
            AggregationKind::Composite { sources, .. } => {
                matches!(
                    sources.as_slice(),
                    [CompositeSource { field, descending: false, missing_bucket: false, .. }]
                        if plain(field)
                )
            }
        }
}

/// A value the store counted, as a bucket key.
fn bucket(value: FieldCountValue) -> Bucket {
    match value {
        FieldCountValue::Long(number) => Bucket::Long(number),
        FieldCountValue::Text(text) => Bucket::Text(text),
    }
}

/// One requested aggregation.
#[derive(Debug, Clone)]
pub(crate) struct Aggregation {
    name: String,
    kind: AggregationKind,
    subs: Vec<Aggregation>,
}

#[derive(Debug, Clone)]
enum AggregationKind {
    Cardinality(ApiKeyField),
    /// One bucket: the keys matching the query.
    Filter(Query),
    /// Named (`Some` names) or anonymous buckets, one per query.
    Filters(Vec<(Option<String>, Query)>),
    Composite {
        sources: Vec<CompositeSource>,
        size: usize,
        after: Option<Map<String, Value>>,
    },
    Missing(ApiKeyField),
    /// `range` and `date_range` on a date field: one bucket per range, sorted as
    /// Elasticsearch sorts them (by `from`, then `to`, open ends outermost).
    Range {
        date_range: bool,
        ranges: Vec<DateRange>,
        keyed: bool,
    },
    Terms {
        field: ApiKeyField,
        size: usize,
        options: Box<TermsOptions>,
    },
    ValueCount(ApiKeyField),
}

/// One `terms` source of a `composite` aggregation.
#[derive(Debug, Clone)]
struct CompositeSource {
    name: String,
    field: ApiKeyField,
    descending: bool,
    /// Keys without the field get a `null` value instead of no bucket.
    missing_bucket: bool,
}

/// The options of a `terms` aggregation besides `field` and `size`.
#[derive(Debug, Clone)]
struct TermsOptions {
    /// Sort keys, most significant first; `true` is descending. Ends with `_key` (a total order).
    order: Vec<(TermsOrder, bool)>,
    min_doc_count: u64,
    include: Option<TermsFilter>,
    exclude: Option<TermsFilter>,
    /// The value keys without the field are counted under.
    missing: Option<Bucket>,
    /// `show_term_doc_count_error`: each bucket carries its (zero) error bound.
    show_term_doc_count_error: bool,
}

impl TermsOptions {
    /// Whether a value's bucket is kept (`include`/`exclude`).
    fn accepts(&self, value: &Bucket) -> bool {
        self.include
            .as_ref()
            .is_none_or(|filter| filter.matches(value))
            && !self
                .exclude
                .as_ref()
                .is_some_and(|filter| filter.matches(value))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TermsOrder {
    Count,
    Key,
}

/// `include` or `exclude` of a `terms` aggregation: a Lucene regular expression (string fields
/// only), or exact values.
#[derive(Debug, Clone)]
enum TermsFilter {
    Regex(keyward_core::automaton::Automaton),
    Values(BTreeSet<Bucket>),
}

impl TermsFilter {
    fn matches(&self, value: &Bucket) -> bool {
        match (self, value) {
            (TermsFilter::Regex(automaton), Bucket::Text(text)) => automaton.matches(text),
            (TermsFilter::Regex(_), Bucket::Long(_) | Bucket::Null) => false,
            (TermsFilter::Values(values), value) => values.contains(value),
        }
    }
}

/// One range of a `range` or `date_range` aggregation: `from` inclusive, `to` exclusive, in
/// epoch milliseconds (date math already resolved), and the query selecting its keys.
#[derive(Debug, Clone)]
struct DateRange {
    key: String,
    from: Option<EpochMillis>,
    to: Option<EpochMillis>,
    query: Query,
}

/// Parses the `aggs` of a query. Every key is tested against every `filter` and `filters` query
/// of the tree (in the buckets it falls in), so their leaf queries together may not exceed
/// Lucene's clause limit, as one query's may not: otherwise a body of many large filters would
/// cost that many evaluations per key.
pub(crate) fn parse_aggs(
    aggs: &Map<String, Value>,
    now: EpochMillis,
) -> Result<Vec<Aggregation>, Error> {
    let parsed = parse_aggs_tree(aggs, now)?;
    if filter_leaves(&parsed) > MAX_CLAUSE_COUNT {
        return Err(Error::Domain(keyward_core::Error::TooManyNestedClauses(
            format!(
                "Query contains too many nested clauses; maxClauseCount is set to {MAX_CLAUSE_COUNT}"
            ),
        )));
    }
    Ok(parsed)
}

/// The leaf queries of every `filter` and `filters` aggregation in the tree.
fn filter_leaves(aggs: &[Aggregation]) -> usize {
    aggs.iter()
        .map(|agg| {
            let own = match &agg.kind {
                AggregationKind::Filter(query) => query.leaf_count(),
                AggregationKind::Filters(filters) => filters
                    .iter()
                    .map(|(_, query)| query.leaf_count())
                    .fold(0, usize::saturating_add),
                AggregationKind::Range { ranges, .. } => ranges.len(),
                _ => 0,
            };
            own.saturating_add(filter_leaves(&agg.subs))
        })
        .fold(0, usize::saturating_add)
}

fn parse_aggs_tree(aggs: &Map<String, Value>, now: EpochMillis) -> Result<Vec<Aggregation>, Error> {
    let mut parsed = Vec::new();
    for (name, definition) in aggs {
        let Value::Object(definition) = definition else {
            return Err(parsing(format!(
                "Expected [START_OBJECT] under [{name}], but got a [{}] in [{name}]",
                keyward_core::json_token(definition)
            )));
        };
        let mut kind = None;
        let mut subs = Vec::new();
        for (key, body) in definition {
            match key.as_str() {
                "aggs" | "aggregations" => match body {
                    Value::Object(inner) => subs = parse_aggs_tree(inner, now)?,
                    _ => return Err(parsing(format!("[{key}] must be an object"))),
                },
                "meta" => {}
                agg_type => {
                    if kind.is_some() {
                        return Err(parsing(format!(
                            "Found two aggregation type definitions in [{name}]: [{agg_type}]"
                        )));
                    }
                    kind = Some(aggregation_kind(name, agg_type, body, now)?);
                }
            }
        }
        let Some(kind) = kind else {
            return Err(parsing(format!(
                "Missing definition for aggregation [{name}]"
            )));
        };
        parsed.push(Aggregation {
            name: name.clone(),
            kind,
            subs,
        });
    }
    Ok(parsed)
}

fn aggregation_kind(
    name: &str,
    agg_type: &str,
    body: &Value,
    now: EpochMillis,
) -> Result<AggregationKind, Error> {
    // A filter's body is a query, which follows the same rules as the top-level one.
    if agg_type == "filter" {
        return Ok(AggregationKind::Filter(parse_query(body, now)?));
    }
    let Value::Object(options) = body else {
        return Err(parsing(format!("[{agg_type}] must be an object")));
    };
    let field = |options: &Map<String, Value>, what: &str| -> Result<ApiKeyField, Error> {
        if options.contains_key("script") {
            return Err(Error::illegal_argument(what.to_owned()));
        }
        match options.get("field") {
            Some(Value::String(field)) => Ok(sortable_field(field)?),
            _ => Err(parsing(
                "Required one of fields [field, script], but none were specified.".to_owned(),
            )),
        }
    };
    let script = format!("Unsupported script value source for [{name}] agg");
    let size = |options: &Map<String, Value>, default: usize| -> Result<usize, Error> {
        match options.get("size") {
            None => Ok(default),
            Some(Value::Number(number)) => number
                .as_u64()
                .and_then(|size| usize::try_from(size).ok())
                .ok_or_else(|| {
                    parsing(format!(
                        "[size] must be greater than 0. Found [{number}] in [{name}]"
                    ))
                }),
            Some(_) => Err(parsing("[size] must be a number".to_owned())),
        }
    };
    Ok(match agg_type {
        "terms" => {
            let field = field(options, &script)?;
            AggregationKind::Terms {
                size: size(options, 10)?,
                options: Box::new(terms_options(name, &field, options)?),
                field,
            }
        }
        "cardinality" => AggregationKind::Cardinality(field(options, &script)?),
        "filters" => {
            let filters = match options.get("filters") {
                Some(Value::Object(named)) => named
                    .iter()
                    .map(|(key, query)| Ok((Some(key.clone()), parse_query(query, now)?)))
                    .collect::<Result<Vec<_>, Error>>()?,
                Some(Value::Array(anonymous)) => anonymous
                    .iter()
                    .map(|query| Ok((None, parse_query(query, now)?)))
                    .collect::<Result<Vec<_>, Error>>()?,
                _ => return Err(parsing(format!("[filters] is required in [{name}]"))),
            };
            if let Some(other) = options.keys().find(|key| key.as_str() != "filters") {
                return Err(Error::illegal_argument(format!(
                    "Unsupported API Keys agg [{name}] of type [filters]: option [{other}] is not supported by keyward"
                )));
            }
            AggregationKind::Filters(filters)
        }
        "range" | "date_range" => range_aggregation(name, agg_type, options, now)?,
        "value_count" => AggregationKind::ValueCount(field(options, &script)?),
        "missing" => AggregationKind::Missing(field(options, &script)?),
        "composite" => {
            let Some(Value::Array(items)) = options.get("sources") else {
                return Err(parsing("Required [sources]".to_owned()));
            };
            let mut sources = Vec::new();
            for item in items {
                let Some((source_name, source)) = item.as_object().and_then(|o| o.iter().next())
                else {
                    return Err(parsing("[sources] must hold objects".to_owned()));
                };
                let Some(Value::Object(terms)) = source.get("terms") else {
                    return Err(Error::illegal_argument(format!(
                        "Unsupported API Keys agg [{name}] of type [composite]: only terms sources are supported"
                    )));
                };
                let source_field = field(
                    terms,
                    &format!(
                        "Unsupported script value source for [{source_name}] of composite agg [{name}]"
                    ),
                )?;
                let mut descending = false;
                let mut missing_bucket = false;
                for (option, value) in terms {
                    match (option.as_str(), value) {
                        ("field", _) => {}
                        ("order", Value::String(order)) if order == "asc" || order == "desc" => {
                            descending = order == "desc";
                        }
                        ("missing_bucket", Value::Bool(flag)) => missing_bucket = *flag,
                        ("missing_order", Value::String(order)) if order == "default" => {}
                        (other, _) => {
                            return Err(Error::illegal_argument(format!(
                                "Unsupported API Keys agg [{name}] of type [composite]: option \
                                 [{other}] of source [{source_name}] is not supported by keyward"
                            )));
                        }
                    }
                }
                sources.push(CompositeSource {
                    name: source_name.clone(),
                    field: source_field,
                    descending,
                    missing_bucket,
                });
            }
            let after = match options.get("after") {
                Some(Value::Object(after)) => Some(after.clone()),
                _ => None,
            };
            AggregationKind::Composite {
                sources,
                size: size(options, 10)?,
                after,
            }
        }
        other => {
            return Err(Error::illegal_argument(format!(
                "Unsupported API Keys agg [{name}] of type [{other}]"
            )));
        }
    })
}

/// The options of `terms` aggregation `name` on `field`. Those that change nothing on one shard
/// (`shard_size`, `shard_min_doc_count`, `execution_hint`, `collect_mode`) are accepted; any
/// option keyward does not apply is refused, never ignored.
fn terms_options(
    name: &str,
    field: &ApiKeyField,
    options: &Map<String, Value>,
) -> Result<TermsOptions, Error> {
    let numeric = field_is_numeric(field);
    let unsupported = |what: String| {
        Error::illegal_argument(format!(
            "Unsupported API Keys agg [{name}] of type [terms]: {what} is not supported by keyward"
        ))
    };
    let mut parsed = TermsOptions {
        order: Vec::new(),
        min_doc_count: 1,
        include: None,
        exclude: None,
        missing: None,
        show_term_doc_count_error: false,
    };
    for (option, value) in options {
        match option.as_str() {
            "field"
            | "size"
            | "script"
            | "shard_size"
            | "shard_min_doc_count"
            | "execution_hint"
            | "collect_mode" => {}
            "order" => parsed.order = terms_order(value, &unsupported)?,
            "min_doc_count" => {
                let count = value.as_i64().ok_or_else(|| {
                    parsing(format!("[min_doc_count] must be a number in [{name}]"))
                })?;
                if count < 0 {
                    return Err(parsing(format!(
                        "[min_doc_count] must be greater than or equal to 0. Found [{count}] in [{name}]"
                    )));
                }
                if count == 0 {
                    return Err(unsupported("[min_doc_count] 0".to_owned()));
                }
                parsed.min_doc_count = count.unsigned_abs();
            }
            "include" | "exclude" => {
                let filter = terms_filter(name, option, value, numeric)?;
                if option == "include" {
                    parsed.include = Some(filter);
                } else {
                    parsed.exclude = Some(filter);
                }
            }
            "missing" => parsed.missing = Some(missing_value(name, value, numeric)?),
            "show_term_doc_count_error" => {
                parsed.show_term_doc_count_error = value.as_bool().ok_or_else(|| {
                    parsing(format!(
                        "[show_term_doc_count_error] must be a boolean in [{name}]"
                    ))
                })?;
            }
            "format" | "value_type" => return Err(unsupported(format!("option [{option}]"))),
            other => return Err(parsing(format!("[terms] unknown field [{other}]"))),
        }
    }
    // Elasticsearch breaks ties by key, ascending, unless the order already ends with the key.
    if parsed.order.is_empty() {
        parsed.order.push((TermsOrder::Count, true));
    }
    if !parsed.order.iter().any(|(key, _)| *key == TermsOrder::Key) {
        parsed.order.push((TermsOrder::Key, false));
    }
    Ok(parsed)
}

/// `order`: one `{"<key>": "asc"|"desc"}` object or an array of them.
fn terms_order(
    value: &Value,
    unsupported: &dyn Fn(String) -> Error,
) -> Result<Vec<(TermsOrder, bool)>, Error> {
    let items: Vec<&Value> = match value {
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    };
    let mut order = Vec::new();
    for item in items {
        let Some((key, direction)) = item
            .as_object()
            .filter(|object| object.len() == 1)
            .and_then(|object| object.iter().next())
        else {
            return Err(parsing(
                "[order] must be an object with a single key or an array of them".to_owned(),
            ));
        };
        let descending = match direction.as_str().map(str::to_ascii_lowercase).as_deref() {
            Some("asc") => false,
            Some("desc") => true,
            _ => {
                return Err(parsing(format!(
                    "Unknown terms order direction [{}]",
                    plain_text(direction)
                )));
            }
        };
        let key = match key.as_str() {
            "_count" => TermsOrder::Count,
            "_key" => TermsOrder::Key,
            other => return Err(unsupported(format!("order by [{other}]"))),
        };
        order.push((key, descending));
        if key == TermsOrder::Key {
            // The key is unique: nothing after it can change the order.
            break;
        }
    }
    Ok(order)
}

/// `include` or `exclude`: a regular expression string or an array of exact values.
fn terms_filter(
    name: &str,
    option: &str,
    value: &Value,
    numeric: bool,
) -> Result<TermsFilter, Error> {
    match value {
        Value::String(regex) => {
            if numeric {
                return Err(Error::illegal_argument(format!(
                    "Aggregation [{name}] cannot support regular expression style include/exclude \
                     settings as they can only be applied to string fields. Use an array of \
                     numeric values for include/exclude clauses used to filter numeric fields"
                )));
            }
            keyward_core::automaton::Automaton::from_patterns([format!("/{regex}/")])
                .map(TermsFilter::Regex)
                .map_err(|err| Error::illegal_argument(format!("[{option}] {err}")))
        }
        Value::Array(items) => items
            .iter()
            .map(|item| missing_value(name, item, numeric))
            .collect::<Result<BTreeSet<_>, _>>()
            .map(TermsFilter::Values),
        Value::Object(_) => Err(Error::illegal_argument(format!(
            "Unsupported API Keys agg [{name}] of type [terms]: partitioned [{option}] is not supported by keyward"
        ))),
        other => Err(parsing(format!(
            "Unrecognized token for an include [{}]",
            keyward_core::json_token(other)
        ))),
    }
}

/// A value given for a field in a request (`missing`, exact `include`/`exclude` values), as the
/// bucket key it stands for.
fn missing_value(name: &str, value: &Value, numeric: bool) -> Result<Bucket, Error> {
    match (value, numeric) {
        (Value::Number(number), true) => number
            .as_i64()
            .map(Bucket::Long)
            .ok_or_else(|| parsing(format!("[{number}] is not a whole number in [{name}]"))),
        (Value::String(text), true) => text
            .parse::<i64>()
            .map(Bucket::Long)
            .map_err(|_| parsing(format!("failed to parse [{text}] as a number in [{name}]"))),
        (Value::String(text), false) => Ok(Bucket::Text(text.clone())),
        (Value::Number(_) | Value::Bool(_), false) => Ok(Bucket::Text(plain_text(value))),
        (other, _) => Err(parsing(format!(
            "[{}] is not a value in [{name}]",
            keyward_core::json_token(other)
        ))),
    }
}

/// A JSON scalar as text (a string without its quotes).
fn plain_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// Whether `field`'s buckets are numbers (dates and the invalidated flag).
fn field_is_numeric(field: &ApiKeyField) -> bool {
    matches!(
        field,
        ApiKeyField::Creation
            | ApiKeyField::Expiration
            | ApiKeyField::Invalidation
            | ApiKeyField::Invalidated
    )
}

/// A `range` or `date_range` aggregation. The fields it may run on are API keys' dates, whose
/// values Elasticsearch maps as `epoch_millis`: bounds are epoch milliseconds or date math, and
/// render as such.
fn range_aggregation(
    name: &str,
    agg_type: &str,
    options: &Map<String, Value>,
    now: EpochMillis,
) -> Result<AggregationKind, Error> {
    if options.contains_key("script") {
        return Err(Error::illegal_argument(format!(
            "Unsupported script value source for [{name}] agg"
        )));
    }
    let Some(Value::String(field_name)) = options.get("field") else {
        return Err(parsing(
            "Required one of fields [field, script], but none were specified.".to_owned(),
        ));
    };
    let field: ApiKeyField = sortable_field(field_name)?;
    let field_type = match field.kind() {
        FieldKind::Date => None,
        FieldKind::Boolean => Some("boolean"),
        FieldKind::Keyword => Some("keyword"),
    };
    if let Some(field_type) = field_type {
        return Err(Error::illegal_argument(format!(
            "Field [{field_name}] of type [{field_type}] is not supported for aggregation [{agg_type}]"
        )));
    }
    let unsupported = |option: &str| {
        Error::illegal_argument(format!(
            "Unsupported API Keys agg [{name}] of type [{agg_type}]: option [{option}] is not supported by keyward"
        ))
    };
    let mut keyed = false;
    let mut items: &[Value] = &[];
    for (option, value) in options {
        match (option.as_str(), value) {
            ("field", _) => {}
            ("ranges", Value::Array(given)) => items = given,
            ("keyed", Value::Bool(flag)) => keyed = *flag,
            ("format", Value::String(format)) if format == "epoch_millis" => {}
            _ => return Err(unsupported(option)),
        }
    }
    if items.is_empty() {
        return Err(Error::illegal_argument(format!(
            "No [ranges] specified for the [{name}] aggregation"
        )));
    }
    let mut ranges = Vec::with_capacity(items.len());
    for item in items {
        let Value::Object(item) = item else {
            return Err(parsing(format!("[ranges] of [{name}] must hold objects")));
        };
        let mut bounds = Map::new();
        let mut key = None;
        for (part, value) in item {
            match (part.as_str(), value) {
                ("from", Value::Null) | ("to", Value::Null) => {}
                ("from", Value::Number(_) | Value::String(_)) => {
                    bounds.insert("gte".to_owned(), value.clone());
                }
                ("to", Value::Number(_) | Value::String(_)) => {
                    bounds.insert("lt".to_owned(), value.clone());
                }
                ("key", Value::String(text)) => key = Some(text.clone()),
                _ => {
                    return Err(parsing(format!(
                        "[{part}] is not a valid part of a range of [{name}]"
                    )));
                }
            }
        }
        let query: Query = if bounds.is_empty() {
            parse_query(&json!({"exists": {"field": field_name}}), now)?
        } else {
            parse_query(&json!({"range": {field_name: bounds}}), now)?
        };
        let (from, to) = match &query {
            Query::Range { gte, lt, .. } => (date(gte.as_ref()), date(lt.as_ref())),
            _ => (None, None),
        };
        let end = |bound: Option<EpochMillis>| bound.map_or("*".to_owned(), |ms| ms.to_string());
        ranges.push(DateRange {
            key: key.unwrap_or_else(|| format!("{}-{}", end(from), end(to))),
            from,
            to,
            query,
        });
    }
    ranges.sort_by_key(|range| {
        (
            range.from.unwrap_or(EpochMillis::MIN),
            range.to.unwrap_or(EpochMillis::MAX),
        )
    });
    Ok(AggregationKind::Range {
        date_range: agg_type == "date_range",
        ranges,
        keyed,
    })
}

/// The epoch milliseconds of a date bound.
fn date(value: Option<&FieldValue>) -> Option<EpochMillis> {
    match value {
        Some(FieldValue::Date(ms)) => Some(*ms),
        _ => None,
    }
}

fn parsing(reason: String) -> Error {
    Error::Domain(keyward_core::Error::Parsing(reason))
}

/// A field value as aggregations see it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Bucket {
    /// A composite source's `missing_bucket` key: before every value ascending, after every
    /// value descending (Elasticsearch's default `missing_order`).
    Null,
    Long(i64),
    Text(String),
}

impl Bucket {
    fn to_json(&self) -> Value {
        match self {
            Bucket::Null => Value::Null,
            Bucket::Long(number) => json!(number),
            Bucket::Text(text) => json!(text),
        }
    }
}

/// The values `field` has in `record` (several for a multi-valued metadata key).
fn values(record: &ApiKeyRecord, field: &ApiKeyField) -> Vec<Bucket> {
    let text = |value: &str| vec![Bucket::Text(value.to_owned())];
    match field {
        ApiKeyField::Creation => vec![Bucket::Long(record.creation)],
        ApiKeyField::Expiration => record.expiration.map(Bucket::Long).into_iter().collect(),
        ApiKeyField::Invalidation => record.invalidation.map(Bucket::Long).into_iter().collect(),
        ApiKeyField::Invalidated => vec![Bucket::Long(i64::from(record.invalidated))],
        ApiKeyField::Id => text(&record.id),
        ApiKeyField::Name => text(&record.name),
        ApiKeyField::Type => text(match record.key_type {
            ApiKeyType::Rest => "rest",
            ApiKeyType::CrossCluster => "cross_cluster",
        }),
        ApiKeyField::Username => text(&record.creator.principal),
        ApiKeyField::RealmName => text(&record.creator.realm),
        ApiKeyField::Metadata(path) => {
            let Some(Value::Object(metadata)) = record
                .metadata
                .as_deref()
                .and_then(|text| serde_json::from_str::<Value>(text).ok())
            else {
                return Vec::new();
            };
            let unique: BTreeSet<Bucket> = flattened_values(&metadata, path)
                .into_iter()
                .map(Bucket::Text)
                .collect();
            unique.into_iter().collect()
        }
    }
}

/// Buckets created so far against `search.max_buckets`.
struct Budget {
    used: usize,
    limit: usize,
}

impl Budget {
    fn take(&mut self, buckets: usize) -> Result<(), Error> {
        self.used = self.used.saturating_add(buckets);
        if self.used > self.limit {
            return Err(Error::TooManyBuckets {
                max_buckets: self.limit,
            });
        }
        Ok(())
    }

    fn give_back(&mut self, buckets: usize) {
        self.used = self.used.saturating_sub(buckets);
    }
}

/// What one aggregation has collected so far.
enum State {
    Cardinality(Distinct),
    ValueCount(u64),
    /// `filter` and `missing`: one bucket, not counted as a bucket (as in Elasticsearch).
    Single(Counted),
    /// One bucket per filter, in the order given.
    Filters(Vec<Counted>),
    Terms(BTreeMap<Bucket, Counted>),
    /// The smallest `size` keys seen so far, in composite order.
    Composite(BTreeMap<Vec<Ordered>, Counted>),
}

/// A bucket: its document count and its sub-aggregations.
struct Counted {
    doc_count: u64,
    subs: Vec<State>,
}

/// One value of a composite key, ordered as its source asks.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Ordered {
    Ascending(Bucket),
    Descending(Reverse<Bucket>),
}

impl Ordered {
    fn new(value: Bucket, descending: bool) -> Ordered {
        if descending {
            Ordered::Descending(Reverse(value))
        } else {
            Ordered::Ascending(value)
        }
    }

    fn bucket(&self) -> &Bucket {
        match self {
            Ordered::Ascending(value) | Ordered::Descending(Reverse(value)) => value,
        }
    }
}

/// Fresh states for `aggs`; the buckets of `filters` exist from the start.
fn new_states(aggs: &[Aggregation], budget: &mut Budget) -> Result<Vec<State>, Error> {
    aggs.iter().map(|agg| new_state(agg, budget)).collect()
}

fn new_state(agg: &Aggregation, budget: &mut Budget) -> Result<State, Error> {
    Ok(match &agg.kind {
        AggregationKind::Cardinality(_) => State::Cardinality(Distinct::default()),
        AggregationKind::ValueCount(_) => State::ValueCount(0),
        AggregationKind::Filter(_) | AggregationKind::Missing(_) => {
            State::Single(new_bucket(&agg.subs, budget, false)?)
        }
        AggregationKind::Filters(filters) => State::Filters(
            filters
                .iter()
                .map(|_| new_bucket(&agg.subs, budget, true))
                .collect::<Result<_, _>>()?,
        ),
        AggregationKind::Range { ranges, .. } => State::Filters(
            ranges
                .iter()
                .map(|_| new_bucket(&agg.subs, budget, true))
                .collect::<Result<_, _>>()?,
        ),
        AggregationKind::Terms { .. } => State::Terms(BTreeMap::new()),
        AggregationKind::Composite { .. } => State::Composite(BTreeMap::new()),
    })
}

/// An empty bucket with fresh sub-aggregations; `counted` buckets take one from the budget.
fn new_bucket(subs: &[Aggregation], budget: &mut Budget, counted: bool) -> Result<Counted, Error> {
    if counted {
        budget.take(1)?;
    }
    Ok(Counted {
        doc_count: 0,
        subs: new_states(subs, budget)?,
    })
}

/// How many counted buckets `states` hold, for giving them back when a bucket is dropped.
fn bucket_count(states: &[State]) -> usize {
    states
        .iter()
        .map(|state| match state {
            State::Cardinality(_) | State::ValueCount(_) => 0,
            State::Single(bucket) => bucket_count(&bucket.subs),
            State::Filters(buckets) => buckets
                .iter()
                .map(|bucket| 1 + bucket_count(&bucket.subs))
                .sum(),
            State::Terms(buckets) => buckets
                .values()
                .map(|bucket| 1 + bucket_count(&bucket.subs))
                .sum(),
            State::Composite(buckets) => buckets
                .values()
                .map(|bucket| 1 + bucket_count(&bucket.subs))
                .sum(),
        })
        .sum()
}

/// Adds one record to every aggregation.
fn add(
    aggs: &[Aggregation],
    states: &mut [State],
    record: &ApiKeyRecord,
    budget: &mut Budget,
) -> Result<(), Error> {
    for (agg, state) in aggs.iter().zip(states.iter_mut()) {
        add_one(agg, state, record, budget)?;
    }
    Ok(())
}

fn add_one(
    agg: &Aggregation,
    state: &mut State,
    record: &ApiKeyRecord,
    budget: &mut Budget,
) -> Result<(), Error> {
    match (&agg.kind, state) {
        (AggregationKind::Cardinality(field), State::Cardinality(distinct)) => {
            for value in values(record, field) {
                distinct.insert(&value);
            }
        }
        (AggregationKind::ValueCount(field), State::ValueCount(count)) => {
            *count += u64::try_from(values(record, field).len()).unwrap_or(u64::MAX);
        }
        (AggregationKind::Filter(query), State::Single(bucket))
            if matches(query, &RecordDocument(record)) =>
        {
            fill(&agg.subs, bucket, record, budget)?;
        }
        (AggregationKind::Missing(field), State::Single(bucket))
            if values(record, field).is_empty() =>
        {
            fill(&agg.subs, bucket, record, budget)?;
        }
        (AggregationKind::Filters(filters), State::Filters(buckets)) => {
            for ((_, query), bucket) in filters.iter().zip(buckets.iter_mut()) {
                if matches(query, &RecordDocument(record)) {
                    fill(&agg.subs, bucket, record, budget)?;
                }
            }
        }
        (AggregationKind::Range { ranges, .. }, State::Filters(buckets)) => {
            for (range, bucket) in ranges.iter().zip(buckets.iter_mut()) {
                if matches(&range.query, &RecordDocument(record)) {
                    fill(&agg.subs, bucket, record, budget)?;
                }
            }
        }
        (AggregationKind::Terms { field, options, .. }, State::Terms(buckets)) => {
            let mut record_values = values(record, field);
            if record_values.is_empty()
                && let Some(missing) = &options.missing
            {
                record_values.push(missing.clone());
            }
            for value in record_values {
                if !options.accepts(&value) {
                    continue;
                }
                let bucket = match buckets.entry(value) {
                    std::collections::btree_map::Entry::Occupied(entry) => entry.into_mut(),
                    std::collections::btree_map::Entry::Vacant(entry) => {
                        entry.insert(new_bucket(&agg.subs, budget, true)?)
                    }
                };
                fill(&agg.subs, bucket, record, budget)?;
            }
        }
        (
            AggregationKind::Composite {
                sources,
                size,
                after,
            },
            State::Composite(buckets),
        ) => {
            let after = after.as_ref().map(|after| after_key(sources, after));
            for key in composite_keys(sources, record) {
                if after.as_ref().is_some_and(|after| key <= *after) {
                    continue;
                }
                if !buckets.contains_key(&key) {
                    if buckets.len() >= *size {
                        // Full: the key only gets in by pushing out a larger one, which could
                        // never come back into the smallest `size`.
                        let Some(largest) = buckets.keys().next_back().cloned() else {
                            continue;
                        };
                        if key >= largest {
                            continue;
                        }
                        if let Some(evicted) = buckets.remove(&largest) {
                            budget.give_back(1 + bucket_count(&evicted.subs));
                        }
                    }
                    buckets.insert(key.clone(), new_bucket(&agg.subs, budget, true)?);
                }
                if let Some(bucket) = buckets.get_mut(&key) {
                    fill(&agg.subs, bucket, record, budget)?;
                }
            }
        }
        // A record outside a `filter` or `missing` bucket; other pairs cannot occur, since states
        // are built from the same aggregations in the same order.
        _ => {}
    }
    Ok(())
}

/// Counts a record into a bucket and its sub-aggregations.
fn fill(
    subs: &[Aggregation],
    bucket: &mut Counted,
    record: &ApiKeyRecord,
    budget: &mut Budget,
) -> Result<(), Error> {
    bucket.doc_count += 1;
    add(subs, &mut bucket.subs, record, budget)
}

/// Every composite key of a record (the product of its values per source).
fn composite_keys(sources: &[CompositeSource], record: &ApiKeyRecord) -> Vec<Vec<Ordered>> {
    let mut keys: Vec<Vec<Ordered>> = vec![Vec::new()];
    for source in sources {
        let descending = &source.descending;
        let mut field_values = values(record, &source.field);
        if field_values.is_empty() && source.missing_bucket {
            field_values.push(Bucket::Null);
        }
        keys = keys
            .into_iter()
            .flat_map(|prefix| {
                field_values.iter().map(move |value| {
                    let mut key = prefix.clone();
                    key.push(Ordered::new(value.clone(), *descending));
                    key
                })
            })
            .collect();
    }
    keys
}

/// The `after` key of a composite aggregation in composite order.
fn after_key(sources: &[CompositeSource], after: &Map<String, Value>) -> Vec<Ordered> {
    sources
        .iter()
        .map(|source| {
            let (name, descending) = (&source.name, &source.descending);
            let value = match after.get(name) {
                Some(Value::Null) if source.missing_bucket => Bucket::Null,
                Some(Value::Number(number)) => Bucket::Long(number.as_i64().unwrap_or_default()),
                Some(Value::String(text)) => Bucket::Text(text.clone()),
                Some(other) => Bucket::Text(other.to_string()),
                None => Bucket::Text(String::new()),
            };
            Ordered::new(value, *descending)
        })
        .collect()
}

/// The rendered results of `aggs`, keyed by name (`type#name` with `typed_keys`).
fn render(aggs: &[Aggregation], states: Vec<State>, typed_keys: bool) -> Map<String, Value> {
    let mut results = Map::new();
    for (agg, state) in aggs.iter().zip(states) {
        let (type_name, result) = render_one(agg, state, typed_keys);
        let key = if typed_keys {
            format!("{type_name}#{}", agg.name)
        } else {
            agg.name.clone()
        };
        results.insert(key, result);
    }
    results
}

fn render_one(agg: &Aggregation, state: State, typed_keys: bool) -> (&'static str, Value) {
    let bucket_object = |bucket: Counted, mut object: Map<String, Value>| {
        object.insert("doc_count".to_owned(), json!(bucket.doc_count));
        object.extend(render(&agg.subs, bucket.subs, typed_keys));
        Value::Object(object)
    };
    match (&agg.kind, state) {
        (_, State::Cardinality(distinct)) => ("cardinality", json!({ "value": distinct.count() })),
        (_, State::ValueCount(count)) => ("value_count", json!({ "value": count })),
        (AggregationKind::Missing(_), State::Single(bucket)) => {
            ("missing", bucket_object(bucket, Map::new()))
        }
        (_, State::Single(bucket)) => ("filter", bucket_object(bucket, Map::new())),
        (AggregationKind::Filters(filters), State::Filters(buckets)) => {
            let mut named = Map::new();
            let mut anonymous = Vec::new();
            for ((key, _), bucket) in filters.iter().zip(buckets) {
                let rendered = bucket_object(bucket, Map::new());
                match key {
                    Some(key) => {
                        named.insert(key.clone(), rendered);
                    }
                    None => anonymous.push(rendered),
                }
            }
            let buckets = if anonymous.is_empty() {
                Value::Object(named)
            } else {
                Value::Array(anonymous)
            };
            ("filters", json!({ "buckets": buckets }))
        }
        (
            AggregationKind::Range {
                date_range,
                ranges,
                keyed,
            },
            State::Filters(buckets),
        ) => {
            let mut listed = Vec::new();
            let mut by_key = Map::new();
            for (range, bucket) in ranges.iter().zip(buckets) {
                let mut object = Map::new();
                if !*keyed {
                    object.insert("key".to_owned(), json!(range.key));
                }
                // Bounds are doubles in Elasticsearch's answer, with the field's format beside.
                for (name, bound) in [("from", range.from), ("to", range.to)] {
                    if let Some(ms) = bound {
                        #[allow(clippy::cast_precision_loss)]
                        // epoch milliseconds are far below 2^53: exact as a double
                        let number = ms as f64;
                        object.insert(name.to_owned(), json!(number));
                        object.insert(format!("{name}_as_string"), json!(ms.to_string()));
                    }
                }
                let rendered = bucket_object(bucket, object);
                if *keyed {
                    by_key.insert(range.key.clone(), rendered);
                } else {
                    listed.push(rendered);
                }
            }
            let buckets = if *keyed {
                Value::Object(by_key)
            } else {
                Value::Array(listed)
            };
            let type_name = if *date_range { "date_range" } else { "range" };
            (type_name, json!({ "buckets": buckets }))
        }
        (
            AggregationKind::Terms {
                field,
                size,
                options,
            },
            State::Terms(buckets),
        ) => {
            let mut ordered: Vec<(Bucket, Counted)> = buckets.into_iter().collect();
            // As the request orders them (by default most frequent first, then by key).
            ordered.sort_by(|a, b| {
                let mut ordering = std::cmp::Ordering::Equal;
                for (key, descending) in &options.order {
                    let by = match key {
                        TermsOrder::Count => a.1.doc_count.cmp(&b.1.doc_count),
                        TermsOrder::Key => a.0.cmp(&b.0),
                    };
                    ordering = ordering.then(if *descending { by.reverse() } else { by });
                }
                ordering
            });
            let total: u64 = ordered.iter().map(|(_, bucket)| bucket.doc_count).sum();
            // Buckets under `min_doc_count` are not shown; their keys count as "other".
            ordered.retain(|(_, bucket)| bucket.doc_count >= options.min_doc_count);
            ordered.truncate(*size);
            let shown: u64 = ordered.iter().map(|(_, bucket)| bucket.doc_count).sum();
            let other = total.saturating_sub(shown);
            let numeric = ordered
                .first()
                .is_some_and(|(key, _)| matches!(key, Bucket::Long(_)));
            let rendered: Vec<Value> = ordered
                .into_iter()
                .take(*size)
                .map(|(key, bucket)| {
                    let mut object = Map::new();
                    object.insert("key".to_owned(), key.to_json());
                    if *field == ApiKeyField::Invalidated {
                        let flag = matches!(key, Bucket::Long(1));
                        object.insert("key_as_string".to_owned(), json!(flag.to_string()));
                    }
                    let mut rendered = bucket_object(bucket, object);
                    if options.show_term_doc_count_error
                        && let Some(object) = rendered.as_object_mut()
                    {
                        object.insert("doc_count_error_upper_bound".to_owned(), json!(0));
                    }
                    rendered
                })
                .collect();
            let type_name = if numeric { "lterms" } else { "sterms" };
            (
                type_name,
                json!({
                    "doc_count_error_upper_bound": 0,
                    "sum_other_doc_count": other,
                    "buckets": rendered,
                }),
            )
        }
        (AggregationKind::Composite { sources, .. }, State::Composite(buckets)) => {
            let key_object = |key: &[Ordered]| {
                let mut object = Map::new();
                for (source, value) in sources.iter().zip(key) {
                    object.insert(source.name.clone(), value.bucket().to_json());
                }
                Value::Object(object)
            };
            let after_key = buckets.keys().next_back().map(|key| key_object(key));
            let rendered: Vec<Value> = buckets
                .into_iter()
                .map(|(key, bucket)| {
                    let mut object = Map::new();
                    object.insert("key".to_owned(), key_object(&key));
                    bucket_object(bucket, object)
                })
                .collect();
            let mut object = Map::new();
            if let Some(after_key) = after_key {
                object.insert("after_key".to_owned(), after_key);
            }
            object.insert("buckets".to_owned(), Value::Array(rendered));
            ("composite", Value::Object(object))
        }
        // States are built from the same aggregations: other pairs cannot occur.
        (_, State::Filters(_) | State::Terms(_) | State::Composite(_)) => ("filters", json!({})),
    }
}

/// Distinct values for `cardinality`: exact (as 64-bit hashes) up to [`EXACT_LIMIT`], then a
/// HyperLogLog sketch of 2^[`PRECISION`] one-byte registers, whatever the number of values.
#[derive(Default)]
struct Distinct {
    exact: HashSet<u64>,
    registers: Option<Vec<u8>>,
}

/// Elasticsearch's default `precision_threshold`: counts below it are (near) exact.
const EXACT_LIMIT: usize = 3_000;
/// Elasticsearch's HyperLogLog++ precision for that threshold's order of magnitude.
const PRECISION: u32 = 14;

impl Distinct {
    fn insert(&mut self, value: &Bucket) {
        let mut hasher = DefaultHasher::new();
        value.hash(&mut hasher);
        let hash = hasher.finish();
        match &mut self.registers {
            Some(registers) => observe(registers, hash),
            None => {
                self.exact.insert(hash);
                if self.exact.len() > EXACT_LIMIT {
                    let mut registers = vec![0u8; 1 << PRECISION];
                    for hash in self.exact.drain() {
                        observe(&mut registers, hash);
                    }
                    self.exact = HashSet::new();
                    self.registers = Some(registers);
                }
            }
        }
    }

    fn count(&self) -> u64 {
        let Some(registers) = &self.registers else {
            return u64::try_from(self.exact.len()).unwrap_or(u64::MAX);
        };
        let m = registers.len() as f64;
        let sum: f64 = registers
            .iter()
            .map(|&rank| 2f64.powi(-i32::from(rank)))
            .sum();
        let alpha = 0.7213 / (1.0 + 1.079 / m);
        let mut estimate = alpha * m * m / sum;
        let zeros = registers.iter().filter(|&&rank| rank == 0).count();
        if estimate <= 2.5 * m && zeros > 0 {
            estimate = m * (m / zeros as f64).ln();
        }
        // The estimate is finite and positive; the cast saturates anyway.
        estimate.round() as u64
    }
}

/// Records one hash in the registers: the first `PRECISION` bits pick the register, the rank of
/// the first set bit of the rest is kept if larger.
fn observe(registers: &mut [u8], hash: u64) {
    let index = usize::try_from(hash >> (64 - PRECISION)).unwrap_or_default();
    let rest = hash << PRECISION;
    let rank = u8::try_from(rest.leading_zeros().min(64 - PRECISION) + 1).unwrap_or(u8::MAX);
    if let Some(register) = registers.get_mut(index) {
        *register = (*register).max(rank);
    }
}

/// An API key record as the in-memory query evaluator sees it (filter aggregations).
struct RecordDocument<'a>(&'a ApiKeyRecord);

impl Document<ApiKeyField> for RecordDocument<'_> {
    fn values(&self, field: &ApiKeyField) -> Vec<FieldValue> {
        values(self.0, field)
            .into_iter()
            .map(|bucket| match (field.kind(), bucket) {
                (FieldKind::Boolean, Bucket::Long(flag)) => FieldValue::Boolean(flag == 1),
                (_, Bucket::Long(number)) => FieldValue::Date(number),
                (_, Bucket::Text(text)) => FieldValue::Keyword(text),
                (_, Bucket::Null) => FieldValue::Keyword(String::new()),
            })
            .collect()
    }

    fn id(&self) -> &str {
        &self.0.id
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use keyward_store::testsuite::{CREATED, sample_key};
    use keyward_store::{EmbeddedStore, EmbeddedStoreOptions, Store};

    use super::*;
    use crate::{ServiceConfig, SystemClock};

    fn parsed(aggs: Value) -> Vec<Aggregation> {
        parse_aggs(aggs.as_object().unwrap(), 0).unwrap()
    }

    /// A service over a fresh store holding `count` keys named `name-0` … `name-6` in turn, each
    /// created a millisecond after the one before.
    async fn service_with_keys(
        count: usize,
        max_buckets: usize,
    ) -> (SecurityService, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let store =
            EmbeddedStore::open(EmbeddedStoreOptions::new(dir.path().to_path_buf())).unwrap();
        let records = (0..count)
            .map(|index| {
                let mut record = sample_key(&format!("k{index:05}"));
                record.name = format!("name-{}", index % 7);
                record.creation += i64::try_from(index).unwrap();
                record
            })
            .collect();
        store.import_api_keys(records).await.unwrap();
        let config = ServiceConfig {
            max_buckets,
            ..ServiceConfig::default()
        };
        let service = SecurityService::new(Arc::new(store), config, Arc::new(SystemClock));
        (service, dir)
    }

    #[test]
    fn nested_filters_past_the_limit_fail_before_reading_a_key() {
        let filters: Vec<Value> = (0..50).map(|_| json!({"match_all": {}})).collect();
        let level = |inner: Option<Value>| {
            let mut agg = json!({"filters": {"filters": filters.clone()}});
            if let Some(inner) = inner {
                agg["aggs"] = inner;
            }
            agg
        };
        // 50 + 50² + 50³ buckets: far more than 65 536.
        let aggs =
            parsed(json!({"a": level(Some(json!({"b": level(Some(json!({"c": level(None)})))})))}));
        let mut budget = Budget {
            used: 0,
            limit: 65_536,
        };
        match new_states(&aggs, &mut budget) {
            Err(Error::TooManyBuckets { max_buckets }) => assert_eq!(max_buckets, 65_536),
            Err(other) => panic!("unexpected error {other}"),
            Ok(_) => panic!("expected too many buckets"),
        }
        // Two levels (2 550 buckets) fit.
        let aggs = parsed(json!({"a": level(Some(json!({"b": level(None)})))}));
        let mut budget = Budget {
            used: 0,
            limit: 65_536,
        };
        assert!(new_states(&aggs, &mut budget).is_ok());
        assert_eq!(budget.used, 50 + 50 * 50);
    }

    #[tokio::test]
    async fn aggregations_fold_over_every_batch() {
        // More keys than one batch, so the fold spans three reads.
        let count = 2 * BATCH + 500;
        let (service, _dir) = service_with_keys(count, 65_536).await;
        let aggs = parsed(json!({
            "names": {"terms": {"field": "name", "size": 3}},
            "created": {"cardinality": {"field": "creation"}},
            "total": {"value_count": {"field": "name"}},
            "first": {"composite": {"size": 2, "sources": [{"n": {"terms": {"field": "name", "order": "desc"}}}]}},
            "by_name": {"filters": {"filters": {"zero": {"term": {"name": "name-0"}}}}},
        }));
        let result = service
            .aggregate(&aggs, &Query::MatchAll, false)
            .await
            .unwrap();
        // 2 500 keys over 7 names: `name-0` has 358, the others 357.
        assert_eq!(
            result["names"],
            json!({
                "doc_count_error_upper_bound": 0,
                "sum_other_doc_count": count - 358 - 357 - 357,
                "buckets": [
                    {"key": "name-0", "doc_count": 358},
                    {"key": "name-1", "doc_count": 357},
                    {"key": "name-2", "doc_count": 357},
                ],
            })
        );
        assert_eq!(result["created"], json!({"value": count}));
        assert_eq!(result["total"], json!({"value": count}));
        assert_eq!(
            result["first"],
            json!({
                "after_key": {"n": "name-5"},
                "buckets": [
                    {"key": {"n": "name-6"}, "doc_count": 357},
                    {"key": {"n": "name-5"}, "doc_count": 357},
                ],
            })
        );
        assert_eq!(
            result["by_name"],
            json!({"buckets": {"zero": {"doc_count": 358}}})
        );
    }

    #[tokio::test]
    async fn store_counts_answer_as_the_fold_does() {
        let (service, _dir) = service_with_keys(0, 100).await;
        let records = (0..40)
            .map(|index| {
                let mut record = sample_key(&format!("m{index:02}"));
                record.name = format!("name-{}", index % 4);
                record.creator.principal = format!("user-{}", index % 3);
                record.expiration = (index % 5 == 0).then_some(record.creation + index);
                record.invalidated = index % 6 == 0;
                record.metadata = match index % 4 {
                    0 => None,
                    1 => Some(r#"{"team":"a","tags":["x","y","x"],"n":1.5}"#.to_owned()),
                    2 => Some(r#"{"team":"b","tags":"x","deep":{"k":true}}"#.to_owned()),
                    _ => Some(r#"{"team":["a","b"],"n":7}"#.to_owned()),
                };
                record
            })
            .collect();
        service.inner.store.import_api_keys(records).await.unwrap();
        let aggs = parsed(json!({
            "names": {"terms": {"field": "name", "size": 2}},
            "users": {"terms": {"field": "username"}},
            "flags": {"terms": {"field": "invalidated"}},
            "expiry": {"terms": {"field": "expiration"}},
            "teams": {"terms": {"field": "metadata.team"}},
            "tags": {"terms": {"field": "metadata.tags"}},
            "numbers": {"terms": {"field": "metadata.n"}},
            "deep": {"terms": {"field": "metadata.deep.k"}},
            "no_team": {"missing": {"field": "metadata.team"}},
            "no_expiry": {"missing": {"field": "expiration"}},
            "expiring": {"value_count": {"field": "expiration"}},
            "distinct_tags": {"cardinality": {"field": "metadata.tags"}},
            "distinct_users": {"cardinality": {"field": "username"}},
            "valid": {"filter": {"term": {"invalidated": false}}},
            "split": {"filters": {"filters": [{"term": {"metadata.team": "a"}}, {"prefix": {"name": "name-1"}}]}},
            "created": {"range": {"field": "creation", "ranges": [{"to": CREATED + 20}, {"from": CREATED + 20}]}},
            "expires": {"date_range": {"field": "expiration", "keyed": true, "ranges": [{"from": 0, "to": CREATED + 10, "key": "soon"}, {"from": CREATED + 10}]}},
            "page": {"composite": {"size": 2, "sources": [{"n": {"terms": {"field": "name"}}}]}},
            "next": {"composite": {"size": 2, "after": {"t": "a"}, "sources": [{"t": {"terms": {"field": "metadata.team"}}}]}},
            "by_key": {"terms": {"field": "name", "order": {"_key": "desc"}, "size": 3}},
            "rare": {"terms": {"field": "username", "order": [{"_count": "asc"}, {"_key": "desc"}], "min_doc_count": 2}},
            "some_tags": {"terms": {"field": "metadata.tags", "include": "x|z", "exclude": ["z"]}},
            "not_zero": {"terms": {"field": "expiration", "exclude": [CREATED], "show_term_doc_count_error": true}},
        }));
        for query in [
            Query::MatchAll,
            parse_query(&json!({"term": {"metadata.tags": "x"}}), 0).unwrap(),
            parse_query(&json!({"range": {"expiration": {"gte": 0}}}), 0).unwrap(),
        ] {
            let counted = service
                .aggregate_from_counts(&aggs, &query)
                .await
                .unwrap()
                .unwrap_or_else(|| panic!("{query:?}: not answered from counts"));
            let folded = service.fold(&aggs, &query).await.unwrap();
            assert_eq!(
                render(&aggs, counted, true),
                render(&aggs, folded, true),
                "{query:?}"
            );
        }
        // Sub-aggregations and composites of several sources need the keys.
        for nested in [
            json!({"u": {"terms": {"field": "username"}, "aggs": {"n": {"terms": {"field": "name"}}}}}),
            json!({"c": {"composite": {"sources": [{"u": {"terms": {"field": "username"}}}, {"n": {"terms": {"field": "name"}}}]}}}),
        ] {
            assert!(
                service
                    .aggregate_from_counts(&parsed(nested), &Query::MatchAll)
                    .await
                    .unwrap()
                    .is_none()
            );
        }
    }

    #[tokio::test]
    async fn terms_options_order_filter_and_fill_buckets() {
        // Names name-0 … name-6 over 10 keys: name-0, name-1 and name-2 twice, the rest once.
        let (service, _dir) = service_with_keys(10, 100).await;
        let run = |aggs: Value| {
            let service = service.clone();
            async move {
                let aggs = parsed(aggs);
                let states = service.fold(&aggs, &Query::MatchAll).await.unwrap();
                Value::Object(render(&aggs, states, false))
            }
        };
        let keys = |result: &Value, name: &str| -> Vec<Value> {
            result[name]["buckets"]
                .as_array()
                .unwrap()
                .iter()
                .map(|bucket| json!([bucket["key"], bucket["doc_count"]]))
                .collect()
        };
        let result = run(json!({
            "asc": {"terms": {"field": "name", "order": {"_count": "asc"}, "size": 2}},
            "key": {"terms": {"field": "name", "order": {"_key": "desc"}, "size": 2}},
            "min": {"terms": {"field": "name", "min_doc_count": 2}},
            "regex": {"terms": {"field": "name", "include": "name-[0-2]", "exclude": "name-1"}},
            "exact": {"terms": {"field": "name", "include": ["name-5", "name-9"]}},
            "missing": {"terms": {"field": "metadata.team", "missing": "none"}},
        }))
        .await;
        assert_eq!(
            keys(&result, "asc"),
            vec![json!(["name-3", 1]), json!(["name-4", 1])]
        );
        assert_eq!(result["asc"]["sum_other_doc_count"], 8);
        assert_eq!(
            keys(&result, "key"),
            vec![json!(["name-6", 1]), json!(["name-5", 1])]
        );
        assert_eq!(
            keys(&result, "min"),
            vec![
                json!(["name-0", 2]),
                json!(["name-1", 2]),
                json!(["name-2", 2])
            ]
        );
        assert_eq!(result["min"]["sum_other_doc_count"], 4);
        assert_eq!(
            keys(&result, "regex"),
            vec![json!(["name-0", 2]), json!(["name-2", 2])]
        );
        assert_eq!(keys(&result, "exact"), vec![json!(["name-5", 1])]);
        assert_eq!(keys(&result, "missing"), vec![json!(["none", 10])]);
        let result = run(json!({
            "teams": {"composite": {"size": 2, "sources": [
                {"t": {"terms": {"field": "metadata.team", "missing_bucket": true}}},
                {"n": {"terms": {"field": "name", "order": "desc"}}},
            ]}},
        }))
        .await;
        assert_eq!(
            keys(&result, "teams"),
            vec![
                json!([{"t": null, "n": "name-6"}, 1]),
                json!([{"t": null, "n": "name-5"}, 1])
            ]
        );
        assert_eq!(
            result["teams"]["after_key"],
            json!({"t": null, "n": "name-5"})
        );
        let result = run(json!({
            "teams": {"composite": {"size": 2, "after": {"t": null, "n": "name-5"}, "sources": [
                {"t": {"terms": {"field": "metadata.team", "missing_bucket": true}}},
                {"n": {"terms": {"field": "name", "order": "desc"}}},
            ]}},
        }))
        .await;
        assert_eq!(
            keys(&result, "teams"),
            vec![
                json!([{"t": null, "n": "name-4"}, 1]),
                json!([{"t": null, "n": "name-3"}, 1])
            ]
        );
        // Options keyward does not apply are refused, never ignored.
        for (aggs, reason) in [
            (
                json!({"t": {"terms": {"field": "name", "order": {"other": "asc"}}}}),
                "Unsupported API Keys agg [t] of type [terms]: order by [other] is not supported by keyward",
            ),
            (
                json!({"t": {"terms": {"field": "name", "min_doc_count": 0}}}),
                "Unsupported API Keys agg [t] of type [terms]: [min_doc_count] 0 is not supported by keyward",
            ),
            (
                json!({"t": {"terms": {"field": "creation", "include": "1.*"}}}),
                "Aggregation [t] cannot support regular expression style include/exclude settings as they can only be applied to string fields. Use an array of numeric values for include/exclude clauses used to filter numeric fields",
            ),
            (
                json!({"t": {"terms": {"field": "name", "unknown": 1}}}),
                "[terms] unknown field [unknown]",
            ),
        ] {
            let err = parse_aggs(aggs.as_object().unwrap(), 0).unwrap_err();
            assert_eq!(err.to_string(), reason);
        }
    }

    #[tokio::test]
    async fn ranges_render_sorted_with_their_bounds_and_keys() {
        let (service, _dir) = service_with_keys(10, 100).await;
        let aggs = parsed(json!({
            "created": {"range": {"field": "creation", "ranges": [
                {"from": CREATED + 5},
                {"to": CREATED + 5},
                {"from": CREATED + 2, "to": CREATED + 4, "key": "middle"},
            ]}, "aggs": {"names": {"cardinality": {"field": "name"}}}},
        }));
        let rendered = service
            .aggregate(&aggs, &Query::MatchAll, true)
            .await
            .unwrap();
        let from = CREATED + 5;
        assert_eq!(
            Value::Object(rendered),
            json!({"range#created": {"buckets": [
                {"key": format!("*-{from}"), "to": from as f64, "to_as_string": from.to_string(),
                 "doc_count": 5, "cardinality#names": {"value": 5}},
                {"key": "middle", "from": (CREATED + 2) as f64, "from_as_string": (CREATED + 2).to_string(),
                 "to": (CREATED + 4) as f64, "to_as_string": (CREATED + 4).to_string(),
                 "doc_count": 2, "cardinality#names": {"value": 2}},
                {"key": format!("{from}-*"), "from": from as f64, "from_as_string": from.to_string(),
                 "doc_count": 5, "cardinality#names": {"value": 5}},
            ]}})
        );
        // Only dates have ranges.
        let err = parse_aggs(
            json!({"n": {"range": {"field": "name", "ranges": [{"to": 1}]}}})
                .as_object()
                .unwrap(),
            0,
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "Field [name] of type [keyword] is not supported for aggregation [range]"
        );
    }

    #[tokio::test]
    async fn terms_buckets_count_against_the_limit_while_collecting() {
        let (service, _dir) = service_with_keys(20, 6).await;
        let aggs = parsed(json!({"names": {"terms": {"field": "name", "size": 1}}}));
        match service.aggregate(&aggs, &Query::MatchAll, false).await {
            Err(Error::TooManyBuckets { max_buckets }) => assert_eq!(max_buckets, 6),
            other => panic!("expected too many buckets, got {other:?}"),
        }
        // A composite keeps only its page: 7 names, size 2, fits in 6.
        let aggs = parsed(
            json!({"page": {"composite": {"size": 2, "sources": [{"n": {"terms": {"field": "name"}}}]}}}),
        );
        let result = service
            .aggregate(&aggs, &Query::MatchAll, false)
            .await
            .unwrap();
        assert_eq!(result["page"]["after_key"], json!({"n": "name-1"}));
    }

    #[test]
    fn cardinality_is_exact_below_the_threshold_and_close_above_it() {
        let mut distinct = Distinct::default();
        for index in 0..2_000 {
            distinct.insert(&Bucket::Long(index));
            distinct.insert(&Bucket::Long(index));
        }
        assert_eq!(distinct.count(), 2_000);
        for index in 2_000..200_000 {
            distinct.insert(&Bucket::Text(format!("value-{index}")));
        }
        assert!(distinct.exact.is_empty());
        let estimate = distinct.count() as f64;
        assert!(
            (estimate - 200_000.0).abs() / 200_000.0 < 0.03,
            "estimate {estimate}"
        );
    }
}
