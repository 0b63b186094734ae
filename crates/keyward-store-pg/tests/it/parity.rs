//! The PostgreSQL store answers queries exactly as the embedded store does: the same keys, many
//! generated queries, sorts and pages, compared result for result.

use keyward_core::api_key::ApiKeyType;
use keyward_core::query::{ApiKeyField, ApiKeyQuery, Query, SortValue, parse_query, parse_sort};
use keyward_store::testsuite::{CREATED, sample_key, temp_embedded_store};
use keyward_store::{ApiKeyRecord, Store};
use serde_json::{Value, json};

use crate::support::fresh_store;

/// A small deterministic generator (xorshift): the same cases every run.
struct Random(u64);

impl Random {
    fn below(&mut self, bound: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % bound as u64) as usize
    }

    fn pick<T: Clone>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())].clone()
    }

    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

const TEXTS: &[&str] = &[
    "a", "A", "ab", "a%b", "a_b", "é", "É", "z", "", "a*b", "a?c", "user-1", "User-1", "日本",
    r"a\b", "x y", "42", "7", "true",
];

fn scalar(random: &mut Random) -> Value {
    match random.below(6) {
        0 | 1 => json!(random.pick(TEXTS)),
        2 => json!(random.pick(&[0, 7, 42, -3, 1000])),
        3 => json!(random.pick(&[1.5, 100.0, -0.25])),
        4 => json!(random.chance(50)),
        _ => Value::Null,
    }
}

fn metadata_value(random: &mut Random, depth: usize) -> Value {
    match random.below(if depth > 1 { 2 } else { 5 }) {
        0 | 1 => scalar(random),
        2 => Value::Array(
            (0..random.below(4))
                .map(|_| metadata_value(random, depth + 1))
                .collect(),
        ),
        _ => {
            let mut object = serde_json::Map::new();
            for _ in 0..random.below(3) {
                let key = random.pick(&["x", "y", "a"]);
                object.insert(key.to_owned(), metadata_value(random, depth + 1));
            }
            Value::Object(object)
        }
    }
}

fn key(random: &mut Random, n: usize) -> ApiKeyRecord {
    let mut key = sample_key(&format!("k{n:03}"));
    key.name = random.pick(TEXTS).to_owned();
    key.creation = CREATED + random.below(5) as i64;
    key.creator.principal = random.pick(&["x", "y", "X", "ü"]).to_owned();
    key.creator.realm = random.pick(&["r1", "r2"]).to_owned();
    if random.chance(30) {
        key.key_type = ApiKeyType::CrossCluster;
    }
    if random.chance(60) {
        key.expiration = Some(CREATED + random.below(4) as i64 * 1000);
    }
    if random.chance(30) {
        key.invalidated = true;
        key.invalidation = random.chance(80).then(|| CREATED + random.below(3) as i64);
    }
    if random.chance(75) {
        let mut object = serde_json::Map::new();
        for _ in 0..random.below(4) {
            let name = random.pick(&["a", "b", "c d", "n"]);
            object.insert(name.to_owned(), metadata_value(random, 0));
        }
        key.metadata = Some(Value::Object(object).to_string());
    }
    key
}

const FIELDS: &[&str] = &[
    "name",
    "username",
    "realm_name",
    "type",
    "invalidated",
    "creation",
    "expiration",
    "invalidation",
    "metadata",
    "metadata.a",
    "metadata.b",
    "metadata.n",
    "metadata.c d",
    "metadata.a.x",
    "metadata.a.y",
];

fn field_value(random: &mut Random, field: &str) -> Value {
    match field {
        "creation" | "expiration" | "invalidation" => json!(CREATED + random.below(5) as i64 * 500),
        "invalidated" => json!(random.chance(50)),
        "type" => json!(random.pick(&["rest", "cross_cluster", "REST"])),
        _ => json!(random.pick(TEXTS)),
    }
}

fn leaf(random: &mut Random) -> Value {
    let field = random.pick(FIELDS);
    match random.below(7) {
        0 => json!({"term": {field: {"value": field_value(random, field),
            "case_insensitive": random.chance(30)}}}),
        1 => {
            let values: Vec<Value> = (0..1 + random.below(3))
                .map(|_| field_value(random, field))
                .collect();
            json!({"terms": {field: values}})
        }
        2 => json!({"prefix": {field: {"value": random.pick(TEXTS),
            "case_insensitive": random.chance(30)}}}),
        3 => {
            let pattern = random.pick(&["a*", "*b", "?", "*", "a\\*b", "u?er*", "é*", "*%*", "_*"]);
            json!({"wildcard": {field: {"value": pattern, "case_insensitive": random.chance(30)}}})
        }
        4 => {
            let bound = random.pick(&["gt", "gte", "lt", "lte"]);
            json!({"range": {field: {bound: field_value(random, field)}}})
        }
        5 => json!({"exists": {"field": field}}),
        _ => json!({"ids": {"values": [format!("k{:03}", random.below(60)), "k999"]}}),
    }
}

fn query(random: &mut Random, depth: usize) -> Value {
    if depth > 1 || random.chance(45) {
        return leaf(random);
    }
    let mut clauses = serde_json::Map::new();
    for occur in ["must", "filter", "should", "must_not"] {
        if random.chance(40) {
            let items: Vec<Value> = (0..1 + random.below(3))
                .map(|_| query(random, depth + 1))
                .collect();
            clauses.insert(occur.to_owned(), Value::Array(items));
        }
    }
    if clauses.contains_key("should") && random.chance(30) {
        clauses.insert("minimum_should_match".to_owned(), json!(random.below(3)));
    }
    json!({"bool": clauses})
}

fn sort(random: &mut Random) -> Value {
    let keys = [
        "name",
        "username",
        "creation",
        "expiration",
        "invalidated",
        "invalidation",
        "metadata.a",
        "metadata.n",
        "realm_name",
        "_doc",
    ];
    let clauses: Vec<Value> = (0..random.below(3))
        .map(|_| {
            let order = random.pick(&["asc", "desc"]);
            json!({random.pick(&keys): {"order": order}})
        })
        .collect();
    Value::Array(clauses)
}

#[tokio::test]
async fn queries_answer_as_the_embedded_store_answers() {
    let mut random = Random(0x9e37_79b9_7f4a_7c15);
    let (embedded, _dir) = temp_embedded_store().await;
    let (postgres, _database) = fresh_store().await;
    for n in 0..60 {
        let record = key(&mut random, n);
        embedded.create_api_key(record.clone()).await.unwrap();
        postgres.create_api_key(record).await.unwrap();
    }
    let mut compared = 0;
    for case in 0..400 {
        let body = query(&mut random, 0);
        let Ok(parsed) = parse_query::<ApiKeyField>(&body, CREATED) else {
            continue;
        };
        let sort_body = sort(&mut random);
        let Ok(sort) = parse_sort(&sort_body) else {
            continue;
        };
        let mut search = ApiKeyQuery {
            query: parsed.clone(),
            sort,
            from: random.below(3) as u64,
            size: 1 + random.below(8) as u64,
            search_after: None,
        };
        // A page, then the page after it through `search_after` when sorted.
        for _ in 0..2 {
            let expected = embedded.query_api_keys(&search).await;
            let found = postgres.query_api_keys(&search).await;
            let context = format!("case {case}: {body} sort {sort_body} {search:?}");
            match (&expected, &found) {
                (Ok(expected), Ok(found)) => {
                    let ids = |page: &keyward_store::QueryPage| -> Vec<String> {
                        page.records.iter().map(|key| key.id.clone()).collect()
                    };
                    assert_eq!(ids(found), ids(expected), "{context}");
                    assert_eq!(found.total, expected.total, "{context}");
                    assert_eq!(found.sort_values, expected.sort_values, "{context}");
                    assert_eq!(found.records, expected.records, "{context}");
                }
                _ => panic!("{context}: embedded {expected:?}, postgres {found:?}"),
            }
            compared += 1;
            let last: Option<Vec<SortValue>> = expected
                .ok()
                .and_then(|page| page.sort_values.last().cloned());
            match last {
                Some(values) if !search.sort.is_empty() => {
                    search.search_after = Some(values);
                    search.from = 0;
                }
                _ => break,
            }
        }
        let field = random.pick(FIELDS);
        if let Ok(Query::Exists(field)) =
            parse_query::<ApiKeyField>(&json!({"exists": {"field": field}}), CREATED)
        {
            let limit = random.below(6);
            let with_missing = random.chance(70);
            let expected = embedded
                .count_api_keys_by(&parsed, &field, limit, with_missing)
                .await
                .unwrap();
            let found = postgres
                .count_api_keys_by(&parsed, &field, limit, with_missing)
                .await
                .unwrap();
            assert_eq!(found, expected, "case {case}: {body} counted by {field:?}");
            let expected = embedded
                .api_keys_after(&parsed, Some("k020"), 7)
                .await
                .unwrap();
            let found = postgres
                .api_keys_after(&parsed, Some("k020"), 7)
                .await
                .unwrap();
            assert_eq!(found, expected, "case {case}: {body} after k020");
        }
    }
    assert!(compared > 200, "only {compared} queries parsed");
}

#[tokio::test]
async fn listings_answer_as_the_embedded_store_answers() {
    use keyward_store::{ApiKeyCursor, ApiKeyFilter, NamePattern};
    let mut random = Random(0x2545_f491_4f6c_dd1d);
    let (embedded, _dir) = temp_embedded_store().await;
    let (postgres, _database) = fresh_store().await;
    for n in 0..60 {
        let record = key(&mut random, n);
        embedded.create_api_key(record.clone()).await.unwrap();
        postgres.create_api_key(record).await.unwrap();
    }
    for case in 0..200 {
        let filter = ApiKeyFilter {
            ids: random.chance(20).then(|| {
                (0..random.below(5))
                    .map(|_| format!("k{:03}", random.below(70)))
                    .collect()
            }),
            name: match random.below(4) {
                0 => None,
                1 => Some(NamePattern::All),
                2 => Some(NamePattern::Exact(random.pick(TEXTS).to_owned())),
                _ => Some(NamePattern::Prefix(random.pick(TEXTS).to_owned())),
            },
            username: random
                .chance(30)
                .then(|| random.pick(&["x", "y", "X", "ü", "z"]).to_owned()),
            realm: random
                .chance(30)
                .then(|| random.pick(&["r1", "r2"]).to_owned()),
            exclude_invalidated: random.chance(30),
            exclude_expired_at: random
                .chance(30)
                .then(|| CREATED + random.below(4) as i64 * 1000),
            key_type: random
                .chance(20)
                .then(|| random.pick(&[ApiKeyType::Rest, ApiKeyType::CrossCluster])),
        };
        let expected = embedded.find_api_keys(&filter).await.unwrap();
        assert_eq!(
            postgres.find_api_keys(&filter).await.unwrap(),
            expected,
            "case {case}: {filter:?}"
        );
        // The same listing in pages.
        let mut paged = Vec::new();
        let mut after: Option<ApiKeyCursor> = None;
        loop {
            let page = postgres
                .find_api_keys_page(&filter, after.as_ref(), 3)
                .await
                .unwrap();
            let Some(last) = page.last() else {
                break;
            };
            after = Some(ApiKeyCursor::after(last));
            paged.extend(page);
        }
        assert_eq!(paged, expected, "case {case}: {filter:?} in pages");
    }
}
