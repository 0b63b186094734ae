//! The query DSL of `_security/_query/{api_key,user,role}`: any JSON parses to a query or an
//! error for each API's fields, and a parsed user query evaluates and sorts in memory, and a
//! `bool` that negates it matches exactly the documents it does not.

#![no_main]

use keyward_core::query::{
    ApiKeyField, Document, FieldValue, Query, RoleField, UserField, matches, parse_query,
    parse_search_after, parse_sort, sort_and_page,
};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

/// 2023-11-14T22:13:20Z: `now` for date math.
const NOW: i64 = 1_700_000_000_000;

#[derive(Debug, Clone)]
struct Person {
    username: &'static str,
    roles: &'static [&'static str],
    full_name: Option<&'static str>,
    email: Option<&'static str>,
    enabled: bool,
}

impl Document<UserField> for Person {
    fn values(&self, field: &UserField) -> Vec<FieldValue> {
        let keyword = |text: &str| FieldValue::Keyword(text.to_owned());
        match field {
            UserField::Username => vec![keyword(self.username)],
            UserField::Roles => self.roles.iter().map(|role| keyword(role)).collect(),
            UserField::FullName => self.full_name.map(keyword).into_iter().collect(),
            UserField::Email => self.email.map(keyword).into_iter().collect(),
            UserField::Enabled => vec![FieldValue::Boolean(self.enabled)],
        }
    }

    fn id(&self) -> &str {
        self.username
    }
}

const PEOPLE: &[Person] = &[
    Person {
        username: "jacknich",
        roles: &["admin", "other_role1"],
        full_name: Some("Jack Nicholson"),
        email: Some("jacknich@example.com"),
        enabled: true,
    },
    Person {
        username: "sam",
        roles: &[],
        full_name: None,
        email: None,
        enabled: false,
    },
    Person {
        username: "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab",
        roles: &["a*b?c", "\u{1F600}"],
        full_name: Some(""),
        email: Some("x@y"),
        enabled: true,
    },
];

fuzz_target!(|data: &[u8]| {
    let Ok(body) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let query = body.get("query").unwrap_or(&body);
    let _ = parse_query::<ApiKeyField>(query, NOW);
    let _ = parse_query::<RoleField>(query, NOW);
    let sort = body.get("sort").map(parse_sort::<UserField>);
    if let (Some(Ok(sort)), Some(after)) = (&sort, body.get("search_after")) {
        let _ = parse_search_after(after, sort);
    }
    let Ok(parsed) = parse_query::<UserField>(query, NOW) else {
        return;
    };
    let negated = Query::Bool {
        must: Vec::new(),
        filter: Vec::new(),
        should: Vec::new(),
        must_not: vec![parsed.clone()],
        minimum_should_match: 0,
    };
    let mut hits = Vec::new();
    for person in PEOPLE {
        let hit = matches(&parsed, person);
        assert_ne!(hit, matches(&negated, person), "{parsed:?} on {person:?}");
        if hit {
            hits.push(person.clone());
        }
    }
    let count = hits.len();
    let sort = match sort {
        Some(Ok(sort)) => sort,
        _ => Vec::new(),
    };
    let (total, page) = sort_and_page(hits, &sort, 0, 10, None);
    assert_eq!(total, count as u64);
    assert_eq!(page.len(), count);
});
