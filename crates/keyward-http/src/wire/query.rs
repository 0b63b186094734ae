//! The bodies of the query APIs (`security.query_api_keys`, `security.query_user`,
//! `security.query_role`): `query`, `from`, `size`, `sort`, `search_after`, and for API keys
//! `aggs`/`aggregations`; and the `_sort` values of their hits.

use keyward_core::json_token;
use keyward_core::query::SortValue;
use keyward_service::QuerySearch;
use serde_json::{Map, Value, json};

use super::ObjectReader;
use crate::error::EsError;

/// A parsed query body: the search and, when the API takes them, the aggregations.
pub(crate) struct SearchBody {
    pub(crate) search: QuerySearch,
    pub(crate) aggs: Option<Map<String, Value>>,
}

/// Reads a query body for the parser `parser`; `aggs` says whether aggregations are accepted.
pub(crate) fn search_body(
    body: &Value,
    parser: &'static str,
    aggs: bool,
) -> Result<SearchBody, EsError> {
    let mut reader = ObjectReader::new(body, parser)?;
    let search = QuerySearch {
        query: reader.value("query").cloned(),
        from: integer(reader.value("from"), parser, "from")?,
        size: integer(reader.value("size"), parser, "size")?,
        sort: reader.value("sort").cloned(),
        search_after: reader.value("search_after").cloned(),
    };
    let mut aggregations = None;
    if aggs {
        let short = reader.object("aggs")?;
        let long = reader.object("aggregations")?;
        if short.is_some() && long.is_some() {
            return Err(EsError::x_content(format!(
                "[{parser}] aggs and aggregations cannot both be specified"
            )));
        }
        aggregations = short.or(long).cloned();
    }
    reader.finish()?;
    Ok(SearchBody {
        search,
        aggs: aggregations,
    })
}

/// A hit's `_sort` array.
pub(crate) fn sort_values(values: &[SortValue]) -> Value {
    Value::Array(
        values
            .iter()
            .map(|value| match value {
                SortValue::Long(number) => json!(number),
                SortValue::Text(text) => json!(text),
                SortValue::Null => Value::Null,
            })
            .collect(),
    )
}

/// The body of a query answer: `total`, `count`, then the hits under `name`.
pub(crate) fn hits_body(total: u64, name: &str, hits: Vec<Value>) -> Map<String, Value> {
    let mut body = Map::new();
    body.insert("total".to_owned(), json!(total));
    body.insert("count".to_owned(), json!(hits.len()));
    body.insert(name.to_owned(), Value::Array(hits));
    body
}

fn integer(value: Option<&Value>, parser: &str, name: &str) -> Result<Option<i64>, EsError> {
    let wrong = || {
        let token = value.map_or("VALUE_NULL", json_token);
        EsError::x_content(format!("[{parser}] failed to parse field [{name}]")).caused_by(
            EsError::illegal_argument(format!("[{name}] doesn't support values of type: {token}")),
        )
    };
    match value {
        None => Ok(None),
        // Elasticsearch reads these as Java ints: anything wider is a parse error.
        Some(Value::Number(number)) => number
            .as_i64()
            .filter(|number| i32::try_from(*number).is_ok())
            .map(Some)
            .ok_or_else(wrong),
        Some(Value::String(text)) => text
            .parse::<i32>()
            .map(|n| Some(i64::from(n)))
            .map_err(|_| wrong()),
        Some(_) => Err(wrong()),
    }
}
