//! `security.query_api_keys`: the body parsed into `keyward_core::query`'s AST, authorized
//! (reference §6.2: holders of `manage_own_api_key` get an implicit owner filter), run by the
//! store, and aggregated.
//!
//! Aggregations are evaluated here over every matching key. That is fine for the key counts a
//! keyward node holds today; the store will compute them once queries over millions of keys
//! need it.

use std::collections::{BTreeMap, BTreeSet};

use keyward_core::api_key::ApiKeyType;
use keyward_core::privilege::{ClusterGrant, actions};
use keyward_core::query::{
    ApiKeyField, ApiKeyQuery, DEFAULT_SIZE, Document, FieldKind, FieldValue, MAX_RESULT_WINDOW,
    Query, QueryField, RoleField, SortValue, UserField, flattened_values, matches, parse_query,
    parse_search_after, parse_sort, sort_and_page, sortable_field,
};
use keyward_core::{EpochMillis, ValidationErrors};
use keyward_store::ApiKeyRecord;
use serde_json::{Map, Value, json};

use crate::api_keys::api_key_info;
use crate::{ApiKeyInfo, ApiKeyService, Authentication, Error, User};

/// `security.query_api_keys`: the body's parts, still JSON (the query language needs the
/// service's clock for `now`), and the flags.
#[derive(Debug, Clone, Default)]
pub struct QueryApiKeys {
    /// `query`; `None` matches everything.
    pub query: Option<Value>,
    /// `from`.
    pub from: Option<i64>,
    /// `size`.
    pub size: Option<i64>,
    /// `sort`.
    pub sort: Option<Value>,
    /// `search_after`.
    pub search_after: Option<Value>,
    /// `aggs` / `aggregations`.
    pub aggs: Option<Map<String, Value>>,
    /// Show each REST key's owner snapshot.
    pub with_limited_by: bool,
    /// Prefix aggregation names with their type (`sterms#name`).
    pub typed_keys: bool,
}

/// The answer to a query: the total, one page of keys with their sort values, aggregations.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryApiKeysResult {
    /// How many keys match.
    pub total: u64,
    /// This page, each key with its `_sort` values (`None` when the query had no sort).
    pub api_keys: Vec<(ApiKeyInfo, Option<Vec<SortValue>>)>,
    /// Rendered aggregation results, when aggregations were asked for.
    pub aggregations: Option<Map<String, Value>>,
}

impl ApiKeyService {
    /// Runs a query over the keys `subject` may see.
    pub async fn query_api_keys(
        &self,
        subject: &Authentication,
        request: QueryApiKeys,
    ) -> Result<QueryApiKeysResult, Error> {
        self.require_enabled()?;
        let now = self.now();
        let mut search = parse_search(&request, now)?;
        let aggs = match &request.aggs {
            Some(aggs) => Some(parse_aggs(aggs, now)?),
            None => None,
        };

        let grant = match subject.permission.check_cluster(actions::QUERY_API_KEY) {
            ClusterGrant::None => return Err(self.deny(subject, actions::QUERY_API_KEY)),
            grant => grant,
        };
        if grant == ClusterGrant::OwnApiKeys {
            // Elasticsearch retries a denied query with an "only my keys" filter; an API key
            // needs more than manage_own_api_key to see owner snapshots (as with get).
            if subject.is_api_key() && request.with_limited_by {
                return Err(self.deny(subject, actions::QUERY_API_KEY));
            }
            search.query =
                std::mem::replace(&mut search.query, Query::MatchAll).and(owner_filter(subject));
        }

        let page = self.inner.store.query_api_keys(&search).await?;
        let sorted = !search.sort.is_empty();
        let mut api_keys = Vec::with_capacity(page.records.len());
        for (record, sort_values) in page.records.into_iter().zip(page.sort_values) {
            let info = api_key_info(record, request.with_limited_by)?;
            api_keys.push((info, sorted.then_some(sort_values)));
        }
        let aggregations = match aggs {
            Some(aggs) => {
                let everything = ApiKeyQuery {
                    query: search.query.clone(),
                    sort: Vec::new(),
                    from: 0,
                    size: u64::MAX,
                    search_after: None,
                };
                let records = self.inner.store.query_api_keys(&everything).await?.records;
                let refs: Vec<&ApiKeyRecord> = records.iter().collect();
                Some(evaluate(&aggs, &refs, request.typed_keys))
            }
            None => None,
        };
        Ok(QueryApiKeysResult {
            total: page.total,
            api_keys,
            aggregations,
        })
    }
}

/// What a caller limited to its own keys may see: an API key sees only itself (it owns no
/// other key, not even its siblings); a user sees the keys of its effective user in its owner
/// realm.
fn owner_filter(subject: &Authentication) -> Query {
    if let Some(key) = &subject.api_key {
        return Query::Ids(vec![key.id.clone()]);
    }
    let term = |field, value: &str| Query::Term {
        field,
        value: FieldValue::Keyword(value.to_owned()),
        case_insensitive: false,
    };
    term(ApiKeyField::Username, &subject.user.username)
        .and(term(ApiKeyField::RealmName, &subject.owner_realm.name))
}

fn parse_search(request: &QueryApiKeys, now: EpochMillis) -> Result<ApiKeyQuery, Error> {
    let query = match &request.query {
        Some(query) => parse_query(query, now)?,
        None => Query::MatchAll,
    };
    let sort = match &request.sort {
        Some(sort) => parse_sort(sort)?,
        None => Vec::new(),
    };
    let search_after = match &request.search_after {
        Some(values) => Some(parse_search_after(values, &sort)?),
        None => None,
    };
    let (from, size) = paging(request.from, request.size)?;
    Ok(ApiKeyQuery {
        query,
        sort,
        from,
        size,
        search_after,
    })
}

/// `from` and `size` checked as Elasticsearch checks them.
fn paging(from: Option<i64>, size: Option<i64>) -> Result<(u64, u64), Error> {
    let mut errors = ValidationErrors::default();
    let from = from.unwrap_or(0);
    let size = size.unwrap_or(DEFAULT_SIZE as i64);
    if from < 0 {
        errors.add(format!(
            "[from] parameter cannot be negative but was [{from}]"
        ));
    }
    if size < 0 {
        errors.add(format!(
            "[size] parameter cannot be negative but was [{size}]"
        ));
    }
    errors.into_result()?;
    let (from, size) = (from.unsigned_abs(), size.unsigned_abs());
    if from.saturating_add(size) > MAX_RESULT_WINDOW {
        return Err(Error::illegal_argument(format!(
            "Result window is too large, from + size must be less than or equal to: \
             [{MAX_RESULT_WINDOW}] but was [{}]. See the scroll api for a more efficient way to \
             request large data sets. This limit can be set by changing the \
             [index.max_result_window] index level setting.",
            from.saturating_add(size)
        )));
    }
    Ok((from, size))
}

/// One requested aggregation.
#[derive(Debug, Clone)]
struct Aggregation {
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
        sources: Vec<(String, ApiKeyField, bool)>,
        size: usize,
        after: Option<Map<String, Value>>,
    },
    Missing(ApiKeyField),
    Terms {
        field: ApiKeyField,
        size: usize,
    },
    ValueCount(ApiKeyField),
}

fn parse_aggs(aggs: &Map<String, Value>, now: EpochMillis) -> Result<Vec<Aggregation>, Error> {
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
                    Value::Object(inner) => subs = parse_aggs(inner, now)?,
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
        "terms" => AggregationKind::Terms {
            field: field(options, &script)?,
            size: size(options, 10)?,
        },
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
                let descending = terms.get("order").and_then(Value::as_str) == Some("desc");
                sources.push((source_name.clone(), source_field, descending));
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

fn parsing(reason: String) -> Error {
    Error::Domain(keyward_core::Error::Parsing(reason))
}

/// A field value as aggregations see it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Bucket {
    Long(i64),
    Text(String),
}

impl Bucket {
    fn to_json(&self) -> Value {
        match self {
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

fn evaluate(
    aggs: &[Aggregation],
    records: &[&ApiKeyRecord],
    typed_keys: bool,
) -> Map<String, Value> {
    let mut results = Map::new();
    for agg in aggs {
        let (type_name, result) = evaluate_one(agg, records, typed_keys);
        let key = if typed_keys {
            format!("{type_name}#{}", agg.name)
        } else {
            agg.name.clone()
        };
        results.insert(key, result);
    }
    results
}

fn evaluate_one(
    agg: &Aggregation,
    records: &[&ApiKeyRecord],
    typed_keys: bool,
) -> (&'static str, Value) {
    let subs = |members: &[&ApiKeyRecord], target: &mut Map<String, Value>| {
        for (key, value) in evaluate(&agg.subs, members, typed_keys) {
            target.insert(key, value);
        }
    };
    match &agg.kind {
        AggregationKind::Cardinality(field) => {
            let distinct: BTreeSet<Bucket> =
                records.iter().flat_map(|r| values(r, field)).collect();
            ("cardinality", json!({ "value": distinct.len() }))
        }
        AggregationKind::Filter(query) => {
            let members: Vec<&ApiKeyRecord> = records
                .iter()
                .copied()
                .filter(|record| matches(query, &RecordDocument(record)))
                .collect();
            let mut object = Map::new();
            object.insert("doc_count".to_owned(), json!(members.len()));
            subs(&members, &mut object);
            ("filter", Value::Object(object))
        }
        AggregationKind::Filters(filters) => {
            let mut named = Map::new();
            let mut anonymous = Vec::new();
            for (key, query) in filters {
                let members: Vec<&ApiKeyRecord> = records
                    .iter()
                    .copied()
                    .filter(|record| matches(query, &RecordDocument(record)))
                    .collect();
                let mut bucket = Map::new();
                bucket.insert("doc_count".to_owned(), json!(members.len()));
                subs(&members, &mut bucket);
                match key {
                    Some(key) => {
                        named.insert(key.clone(), Value::Object(bucket));
                    }
                    None => anonymous.push(Value::Object(bucket)),
                }
            }
            let buckets = if anonymous.is_empty() {
                Value::Object(named)
            } else {
                Value::Array(anonymous)
            };
            ("filters", json!({ "buckets": buckets }))
        }
        AggregationKind::ValueCount(field) => {
            let count: usize = records.iter().map(|r| values(r, field).len()).sum();
            ("value_count", json!({ "value": count }))
        }
        AggregationKind::Missing(field) => {
            let members: Vec<&ApiKeyRecord> = records
                .iter()
                .copied()
                .filter(|r| values(r, field).is_empty())
                .collect();
            let mut object = Map::new();
            object.insert("doc_count".to_owned(), json!(members.len()));
            subs(&members, &mut object);
            ("missing", Value::Object(object))
        }
        AggregationKind::Terms { field, size } => {
            let groups = group(records, |r| {
                values(r, field).into_iter().map(|v| vec![v]).collect()
            });
            let mut ordered: Vec<(Vec<Bucket>, Vec<&ApiKeyRecord>)> = groups.into_iter().collect();
            // Most frequent first, then by key, as Elasticsearch orders terms buckets.
            ordered.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then_with(|| a.0.cmp(&b.0)));
            let other: usize = ordered
                .iter()
                .skip(*size)
                .map(|(_, members)| members.len())
                .sum();
            let numeric = ordered
                .first()
                .is_some_and(|(key, _)| matches!(key.first(), Some(Bucket::Long(_))));
            let buckets: Vec<Value> = ordered
                .iter()
                .take(*size)
                .map(|(key, members)| {
                    let mut bucket = Map::new();
                    if let Some(value) = key.first() {
                        bucket.insert("key".to_owned(), value.to_json());
                        if *field == ApiKeyField::Invalidated {
                            let flag = matches!(value, Bucket::Long(1));
                            bucket.insert("key_as_string".to_owned(), json!(flag.to_string()));
                        }
                    }
                    bucket.insert("doc_count".to_owned(), json!(members.len()));
                    subs(members, &mut bucket);
                    Value::Object(bucket)
                })
                .collect();
            let type_name = if numeric { "lterms" } else { "sterms" };
            (
                type_name,
                json!({
                    "doc_count_error_upper_bound": 0,
                    "sum_other_doc_count": other,
                    "buckets": buckets,
                }),
            )
        }
        AggregationKind::Composite {
            sources,
            size,
            after,
        } => {
            let groups = group(records, |r| {
                let mut keys: Vec<Vec<Bucket>> = vec![Vec::new()];
                for (_, field, _) in sources {
                    let field_values = values(r, field);
                    keys = keys
                        .into_iter()
                        .flat_map(|prefix| {
                            field_values.iter().map(move |value| {
                                let mut key = prefix.clone();
                                key.push(value.clone());
                                key
                            })
                        })
                        .collect();
                }
                keys
            });
            let compare = |a: &Vec<Bucket>, b: &Vec<Bucket>| {
                for ((left, right), (_, _, descending)) in a.iter().zip(b).zip(sources) {
                    let order = if *descending {
                        right.cmp(left)
                    } else {
                        left.cmp(right)
                    };
                    if order.is_ne() {
                        return order;
                    }
                }
                std::cmp::Ordering::Equal
            };
            let mut ordered: Vec<(Vec<Bucket>, Vec<&ApiKeyRecord>)> = groups.into_iter().collect();
            ordered.sort_by(|a, b| compare(&a.0, &b.0));
            if let Some(after) = after {
                let after_key: Vec<Bucket> = sources
                    .iter()
                    .map(|(name, _, _)| match after.get(name) {
                        Some(Value::Number(number)) => {
                            Bucket::Long(number.as_i64().unwrap_or_default())
                        }
                        Some(Value::String(text)) => Bucket::Text(text.clone()),
                        Some(other) => Bucket::Text(other.to_string()),
                        None => Bucket::Text(String::new()),
                    })
                    .collect();
                ordered.retain(|(key, _)| compare(key, &after_key).is_gt());
            }
            ordered.truncate(*size);
            let key_object = |key: &[Bucket]| {
                let mut object = Map::new();
                for ((name, _, _), value) in sources.iter().zip(key) {
                    object.insert(name.clone(), value.to_json());
                }
                Value::Object(object)
            };
            let buckets: Vec<Value> = ordered
                .iter()
                .map(|(key, members)| {
                    let mut bucket = Map::new();
                    bucket.insert("key".to_owned(), key_object(key));
                    bucket.insert("doc_count".to_owned(), json!(members.len()));
                    subs(members, &mut bucket);
                    Value::Object(bucket)
                })
                .collect();
            let mut object = Map::new();
            if let Some((last, _)) = ordered.last() {
                object.insert("after_key".to_owned(), key_object(last));
            }
            object.insert("buckets".to_owned(), Value::Array(buckets));
            ("composite", Value::Object(object))
        }
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
            })
            .collect()
    }

    fn id(&self) -> &str {
        &self.0.id
    }
}

/// Groups records by each of the keys `keys` gives them (a record may fall in several groups).
fn group<'a>(
    records: &[&'a ApiKeyRecord],
    keys: impl Fn(&ApiKeyRecord) -> Vec<Vec<Bucket>>,
) -> BTreeMap<Vec<Bucket>, Vec<&'a ApiKeyRecord>> {
    let mut groups: BTreeMap<Vec<Bucket>, Vec<&'a ApiKeyRecord>> = BTreeMap::new();
    for record in records {
        for key in keys(record) {
            groups.entry(key).or_default().push(record);
        }
    }
    groups
}

/// The search part of `security.query_user` and `security.query_role` bodies, still JSON (the
/// query language needs the service's clock for `now`).
#[derive(Debug, Clone, Default)]
pub struct QuerySearch {
    /// `query`; `None` matches everything.
    pub query: Option<Value>,
    /// `from`.
    pub from: Option<i64>,
    /// `size`.
    pub size: Option<i64>,
    /// `sort`.
    pub sort: Option<Value>,
    /// `search_after`.
    pub search_after: Option<Value>,
}

/// The answer to a user or role query: the total and one page, each hit with its `_sort` values
/// (`None` when the query had no sort).
#[derive(Debug, Clone, PartialEq)]
pub struct QueryHits<T> {
    /// How many match.
    pub total: u64,
    /// This page.
    pub hits: Vec<(T, Option<Vec<SortValue>>)>,
}

/// A stored role with its name, as role queries return it.
#[derive(Debug, Clone, PartialEq)]
pub struct NamedRole {
    /// The role name.
    pub name: String,
    /// The role.
    pub descriptor: keyward_core::role::RoleDescriptor,
}

/// A parsed user or role search.
pub(crate) struct GenericSearch<F> {
    query: Query<F>,
    sort: Vec<keyward_core::query::Sort<F>>,
    from: u64,
    size: u64,
    search_after: Option<Vec<SortValue>>,
}

/// Parses a user or role search over the fields `F`.
pub(crate) fn parse_generic<F: QueryField>(
    request: &QuerySearch,
    now: EpochMillis,
) -> Result<GenericSearch<F>, Error> {
    let query = match &request.query {
        Some(query) => parse_query::<F>(query, now)?,
        None => Query::MatchAll,
    };
    let sort = match &request.sort {
        Some(sort) => parse_sort::<F>(sort)?,
        None => Vec::new(),
    };
    let search_after = match &request.search_after {
        Some(values) => Some(parse_search_after(values, &sort)?),
        None => None,
    };
    let (from, size) = paging(request.from, request.size)?;
    Ok(GenericSearch {
        query,
        sort,
        from,
        size,
        search_after,
    })
}

/// Filters, sorts and pages documents in memory.
pub(crate) fn run_in_memory<F: QueryField, D: Document<F>>(
    documents: Vec<D>,
    search: &GenericSearch<F>,
) -> QueryHits<D> {
    let matching: Vec<D> = documents
        .into_iter()
        .filter(|document| matches(&search.query, document))
        .collect();
    let (total, page) = sort_and_page(
        matching,
        &search.sort,
        search.from,
        search.size,
        search.search_after.as_deref(),
    );
    let sorted = !search.sort.is_empty();
    QueryHits {
        total,
        hits: page
            .into_iter()
            .map(|(document, values)| (document, sorted.then_some(values)))
            .collect(),
    }
}

impl Document<UserField> for User {
    fn values(&self, field: &UserField) -> Vec<FieldValue> {
        let keyword = |text: &str| FieldValue::Keyword(text.to_owned());
        match field {
            UserField::Username => vec![keyword(&self.username)],
            UserField::Roles => self.roles.iter().map(|role| keyword(role)).collect(),
            UserField::FullName => self.full_name.as_deref().map(keyword).into_iter().collect(),
            UserField::Email => self.email.as_deref().map(keyword).into_iter().collect(),
            UserField::Enabled => vec![FieldValue::Boolean(self.enabled)],
        }
    }

    fn id(&self) -> &str {
        &self.username
    }
}

impl Document<RoleField> for NamedRole {
    fn values(&self, field: &RoleField) -> Vec<FieldValue> {
        let application_values = |key: &str| -> Vec<FieldValue> {
            self.descriptor
                .applications
                .iter()
                .filter_map(|application| application.get(key))
                .flat_map(|value| match value {
                    Value::String(text) => vec![text.clone()],
                    Value::Array(items) => items
                        .iter()
                        .filter_map(|item| item.as_str().map(str::to_owned))
                        .collect(),
                    _ => Vec::new(),
                })
                .map(FieldValue::Keyword)
                .collect()
        };
        match field {
            RoleField::Name => vec![FieldValue::Keyword(self.name.clone())],
            RoleField::Description => self
                .descriptor
                .description
                .iter()
                .map(|text| FieldValue::Keyword(text.clone()))
                .collect(),
            RoleField::Metadata(path) => flattened_values(&self.descriptor.metadata, path)
                .into_iter()
                .map(FieldValue::Keyword)
                .collect(),
            RoleField::ApplicationsApplication => application_values("application"),
            RoleField::ApplicationsPrivileges => application_values("privileges"),
            RoleField::ApplicationsResources => application_values("resources"),
        }
    }

    fn id(&self) -> &str {
        &self.name
    }
}
