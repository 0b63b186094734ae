//! `security.query_api_keys`: the body parsed into `keyward_core::query`'s AST, authorized
//! (reference §6.2: holders of `manage_own_api_key` get an implicit owner filter), run by the
//! store, and aggregated (`aggregations`: folded over the matches in bounded batches).

use keyward_core::privilege::{ClusterGrant, actions};
use keyward_core::query::{
    ApiKeyField, ApiKeyQuery, DEFAULT_SIZE, Document, FieldValue, MAX_RESULT_WINDOW, Query,
    QueryField, RoleField, SortValue, UserField, flattened_values, matches, parse_query,
    parse_search_after, parse_sort, sort_and_page,
};
use keyward_core::{EpochMillis, ValidationErrors};
use serde_json::{Map, Value};

use crate::aggregations::parse_aggs;
use crate::api_keys::api_key_info;
use crate::{ApiKeyInfo, Authentication, Error, SecurityService, User};

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
    /// Show the `profile_uid` of each key whose owner has a profile.
    pub with_profile_uid: bool,
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

impl SecurityService {
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
        if request.with_profile_uid {
            let mut infos: Vec<_> = api_keys.iter().map(|(info, _)| info.clone()).collect();
            crate::profiles::fill_profile_uids(self.inner.store.as_ref(), &mut infos).await?;
            for ((info, _), filled) in api_keys.iter_mut().zip(infos) {
                info.profile_uid = filled.profile_uid;
            }
        }
        let aggregations = match aggs {
            Some(aggs) => Some(
                self.aggregate(&aggs, &search.query, request.typed_keys)
                    .await?,
            ),
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
