use serde_json::{Value, json};

use super::*;
use crate::Error;

const NOW: EpochMillis = 1_700_000_000_000;

fn parse(value: Value) -> Result<Query, Error> {
    parse_query(&value, NOW)
}

fn term(field: ApiKeyField, value: &str) -> Query {
    Query::Term {
        field,
        value: FieldValue::Keyword(value.to_owned()),
        case_insensitive: false,
    }
}

fn check_error(value: Value, expected: Error) {
    assert_eq!(parse(value.clone()), Err(expected), "{value}");
}

#[test]
fn parses_every_query_type() {
    let cases = [
        (json!({}), Query::MatchAll),
        (json!({"match_all": {}}), Query::MatchAll),
        (
            json!({"ids": {"values": ["a", "b"]}}),
            Query::Ids(vec!["a".into(), "b".into()]),
        ),
        (json!({"term": {"name": "k"}}), term(ApiKeyField::Name, "k")),
        (
            json!({"term": {"username": {"value": "u"}}}),
            term(ApiKeyField::Username, "u"),
        ),
        (
            json!({"term": {"name": {"value": "K", "case_insensitive": true}}}),
            Query::Term {
                field: ApiKeyField::Name,
                value: FieldValue::Keyword("K".into()),
                case_insensitive: true,
            },
        ),
        (
            json!({"match": {"realm_name": "native1"}}),
            term(ApiKeyField::RealmName, "native1"),
        ),
        (
            json!({"match": {"type": {"query": "rest"}}}),
            term(ApiKeyField::Type, "rest"),
        ),
        (
            json!({"term": {"metadata.a.b": 42}}),
            term(ApiKeyField::Metadata(vec!["a".into(), "b".into()]), "42"),
        ),
        (
            json!({"term": {"invalidated": "true"}}),
            Query::Term {
                field: ApiKeyField::Invalidated,
                value: FieldValue::Boolean(true),
                case_insensitive: false,
            },
        ),
        (
            json!({"terms": {"name": ["a", "b"]}}),
            Query::Terms {
                field: ApiKeyField::Name,
                values: vec![
                    FieldValue::Keyword("a".into()),
                    FieldValue::Keyword("b".into()),
                ],
            },
        ),
        (json!({"terms": {"name": []}}), Query::MatchNone),
        (
            json!({"prefix": {"name": "ke"}}),
            Query::Prefix {
                field: ApiKeyField::Name,
                prefix: "ke".into(),
                case_insensitive: false,
            },
        ),
        (
            json!({"wildcard": {"name": {"value": "a*b?\\*"}}}),
            Query::Wildcard {
                field: ApiKeyField::Name,
                pattern: vec![
                    WildcardPart::Literal("a".into()),
                    WildcardPart::AnyRun,
                    WildcardPart::Literal("b".into()),
                    WildcardPart::AnyChar,
                    WildcardPart::Literal("*".into()),
                ],
                case_insensitive: false,
            },
        ),
        (
            json!({"exists": {"field": "expiration"}}),
            Query::Exists(ApiKeyField::Expiration),
        ),
        (
            json!({"range": {"creation": {"gte": 5, "lt": "now-1d"}}}),
            Query::Range {
                field: ApiKeyField::Creation,
                gt: None,
                gte: Some(FieldValue::Date(5)),
                lt: Some(FieldValue::Date(NOW - 86_400_000)),
                lte: None,
            },
        ),
        (
            json!({"range": {"expiration": {"lte": "now/d"}}}),
            Query::Range {
                field: ApiKeyField::Expiration,
                gt: None,
                gte: None,
                lt: None,
                lte: Some(FieldValue::Date(NOW - NOW % 86_400_000)),
            },
        ),
        (
            json!({"bool": {"must": {"term": {"name": "a"}}, "should": [{"term": {"name": "b"}}], "must_not": [], "minimum_should_match": 1}}),
            Query::Bool {
                must: vec![term(ApiKeyField::Name, "a")],
                filter: vec![],
                should: vec![term(ApiKeyField::Name, "b")],
                must_not: vec![],
                minimum_should_match: 1,
            },
        ),
        (
            json!({"bool": {"should": [{"term": {"name": "b"}}]}}),
            Query::Bool {
                must: vec![],
                filter: vec![],
                should: vec![term(ApiKeyField::Name, "b")],
                must_not: vec![],
                minimum_should_match: 1,
            },
        ),
        (
            json!({"simple_query_string": {"query": "rest", "fields": ["ty*"]}}),
            term(ApiKeyField::Type, "rest"),
        ),
        (
            json!({"simple_query_string": {"query": "x", "fields": ["nothing*"]}}),
            Query::MatchNone,
        ),
    ];
    for (input, expected) in cases {
        assert_eq!(parse(input.clone()), Ok(expected), "{input}");
    }
}

#[test]
fn rejects_what_elasticsearch_rejects() {
    let illegal = |reason: &str| Error::illegal_argument(reason);
    check_error(
        json!({"fuzzy": {"name": "x"}}),
        illegal("Query type [fuzzy] is not currently supported in this context"),
    );
    check_error(
        json!({"bool": {"must": [{"match_phrase": {"name": "x"}}]}}),
        illegal("Query type [match_phrase] is not currently supported in this context"),
    );
    check_error(
        json!({"term": {"api_key_hash": "x"}}),
        illegal("Field [api_key_hash] is not allowed for querying or aggregation"),
    );
    check_error(
        json!({"term": {"realm": "x"}}),
        illegal("Field [realm] is not allowed for querying or aggregation"),
    );
    check_error(
        json!({"term": {"na*": "x"}}),
        illegal("Field name pattern [na*] is not allowed for querying or aggregation"),
    );
    check_error(
        json!({"terms": {"name": {"index": "i", "id": "1", "path": "p"}}}),
        illegal("terms query with terms lookup is not currently supported in this context"),
    );
    check_error(
        json!({"range": {"creation": {"gte": 1, "relation": "within"}}}),
        illegal("range query with relation is not currently supported in this context"),
    );
    check_error(
        json!({"range": {"creation": {"gte": "yesterday"}}}),
        Error::Parsing("failed to parse date field [yesterday] with format [epoch_millis]".into()),
    );
    check_error(
        json!({"range": {"creation": {"gte": "now€1d"}}}),
        Error::Parsing("failed to parse date field [now€1d]".into()),
    );
    check_error(
        json!({"range": {"creation": {"gte": "now+1é"}}}),
        Error::Parsing("failed to parse date field [now+1é]".into()),
    );
    assert!(
        parse(json!({"bool": {"should": [{"match_all": {}}], "minimum_should_match": i64::MIN}}))
            .is_ok()
    );
    check_error(
        json!({"term": {"invalidated": "maybe"}}),
        illegal("Can't parse boolean value [maybe], expected [true] or [false]"),
    );
    check_error(
        json!({"match_all": {}, "term": {"name": "x"}}),
        Error::Parsing(
            "[match_all] malformed query, expected [END_OBJECT] but found [FIELD_NAME] ([term])"
                .into(),
        ),
    );
    check_error(
        json!({"bool": {"shoud": []}}),
        Error::Parsing("[bool] query does not support [shoud]".into()),
    );
    check_error(
        json!({"prefix": {"creation": "1"}}),
        illegal("Field [creation] of type [date] does not support prefix queries"),
    );
}

#[test]
fn parses_sort_and_search_after() {
    let sort =
        parse_sort(&json!(["expiration", {"name": {"order": "desc"}}, {"_doc": "asc"}])).unwrap();
    assert_eq!(
        sort,
        vec![
            Sort {
                key: SortKey::Field(ApiKeyField::Expiration),
                descending: false
            },
            Sort {
                key: SortKey::Field(ApiKeyField::Name),
                descending: true
            },
            Sort {
                key: SortKey::Doc,
                descending: false
            },
        ]
    );
    assert_eq!(
        parse_search_after(&json!(["12", "k", 3]), &sort).unwrap(),
        vec![
            SortValue::Long(12),
            SortValue::Text("k".into()),
            SortValue::Long(3)
        ]
    );
    assert!(parse_search_after(&json!(["12"]), &sort).is_err());
    assert_eq!(
        parse_sort::<ApiKeyField>(&json!([{"a": 1, "b": 2}])),
        Err(Error::Parsing("mal-formatted sort object".into()))
    );
    assert_eq!(
        parse_sort::<ApiKeyField>(&json!([{"name": {"nested": {"path": "x"}}}])),
        Err(Error::illegal_argument(
            "nested sorting is not currently supported in this context"
        ))
    );
    assert_eq!(
        parse_sort::<ApiKeyField>(&json!(["hash"])),
        Err(Error::illegal_argument(
            "Field [hash] is not allowed for querying or aggregation"
        ))
    );
}

#[test]
fn wildcards_match_like_keywords() {
    let check = |pattern: &str, text: &str| wildcard_matches(&wildcard_parts(pattern), text);
    assert!(check("user*", "user1-api-key"));
    assert!(check("*key", "user1-api-key"));
    assert!(check("u?er*", "user"));
    assert!(!check("u?er*", "uer"));
    assert!(check("a\\*", "a*"));
    assert!(!check("a\\*", "ab"));
}

struct Person {
    name: &'static str,
    roles: Vec<&'static str>,
    enabled: bool,
}

impl Document<UserField> for Person {
    fn values(&self, field: &UserField) -> Vec<FieldValue> {
        match field {
            UserField::Username => vec![FieldValue::Keyword(self.name.to_owned())],
            UserField::Roles => self
                .roles
                .iter()
                .map(|role| FieldValue::Keyword((*role).to_owned()))
                .collect(),
            UserField::Enabled => vec![FieldValue::Boolean(self.enabled)],
            UserField::Email | UserField::FullName => Vec::new(),
        }
    }

    fn id(&self) -> &str {
        self.name
    }
}

#[test]
fn evaluates_in_memory_with_sort_and_search_after() {
    let people = || {
        vec![
            Person {
                name: "carla",
                roles: vec!["a", "b"],
                enabled: true,
            },
            Person {
                name: "bob",
                roles: vec!["b"],
                enabled: false,
            },
            Person {
                name: "anna",
                roles: vec![],
                enabled: true,
            },
        ]
    };
    let query: Query<UserField> =
        parse_query(&json!({"bool": {"should": [{"term": {"roles": "b"}}, {"wildcard": {"username": "an*"}}], "must_not": {"term": {"enabled": false}}}}), NOW)
            .unwrap();
    let matching: Vec<&str> = people()
        .iter()
        .filter(|person| matches(&query, *person))
        .map(|person| person.name)
        .collect();
    assert_eq!(matching, ["carla", "anna"]);

    let sort: Vec<Sort<UserField>> = parse_sort(&json!([{"roles": "desc"}, "username"])).unwrap();
    let (total, page) = sort_and_page(people(), &sort, 0, 10, None);
    assert_eq!(total, 3);
    let order: Vec<(&str, Vec<SortValue>)> = page
        .iter()
        .map(|(person, values)| (person.name, values.clone()))
        .collect();
    assert_eq!(
        order,
        vec![
            (
                "bob",
                vec![SortValue::Text("b".into()), SortValue::Text("bob".into())]
            ),
            (
                "carla",
                vec![SortValue::Text("b".into()), SortValue::Text("carla".into())]
            ),
            (
                "anna",
                vec![SortValue::Null, SortValue::Text("anna".into())]
            ),
        ]
    );
    let after = vec![SortValue::Text("b".into()), SortValue::Text("carla".into())];
    let (_, page) = sort_and_page(people(), &sort, 0, 10, Some(&after));
    assert_eq!(
        page.iter()
            .map(|(person, _)| person.name)
            .collect::<Vec<_>>(),
        ["anna"]
    );
}

#[test]
fn user_queries_allow_fewer_query_types() {
    assert_eq!(
        parse_query::<UserField>(&json!({"range": {"username": {"gte": "a"}}}), NOW),
        Err(Error::illegal_argument(
            "Query type [range] is not currently supported in this context"
        ))
    );
    assert_eq!(
        parse_query::<UserField>(&json!({"term": {"name": "a"}}), NOW),
        Err(Error::illegal_argument(
            "Field [name] is not allowed for querying or aggregation"
        ))
    );
    assert_eq!(
        parse_query::<RoleField>(&json!({"term": {"applications.resources": "*"}}), NOW),
        Ok(Query::Term {
            field: RoleField::ApplicationsResources,
            value: FieldValue::Keyword("*".into()),
            case_insensitive: false,
        })
    );
}

#[test]
fn sort_missing_and_mode_are_honoured_or_refused() {
    // `_last` is what the stores do; a mode on a single-valued field changes nothing.
    assert!(
        parse_sort::<ApiKeyField>(&json!([{"expiration": {"missing": "_last", "mode": "max"}}]))
            .is_ok()
    );
    for (sort, reason) in [
        (
            json!([{"expiration": {"missing": "_first"}}]),
            "sort [missing] value [_first] for [expiration] is not supported by keyward: keys \
             without the field always sort last (_last)",
        ),
        (
            json!([{"expiration": {"missing": 0}}]),
            "sort [missing] value [0] for [expiration] is not supported by keyward: keys \
             without the field always sort last (_last)",
        ),
        (
            json!([{"name": {"mode": "middle"}}]),
            "Unknown SortMode [middle]",
        ),
        (
            json!([{"metadata.tags": {"mode": "min"}}]),
            "sort [mode] on the multi-valued field [metadata.tags] is not supported by keyward",
        ),
        (
            json!([{"creation": {"format": "yyyy"}}]),
            "sort option [format] is not supported by keyward",
        ),
    ] {
        assert_eq!(
            parse_sort::<ApiKeyField>(&sort),
            Err(Error::IllegalArgument(reason.to_owned())),
            "{sort}"
        );
    }
}

#[test]
fn range_time_zones_move_rounding_and_formats_are_checked() {
    let day = 86_400_000;
    let midnight_utc = NOW - NOW.rem_euclid(day);
    let range = |options: Value| parse(json!({"range": {"creation": options}}));
    let bound = |query: Result<Query, Error>| match query {
        Ok(Query::Range {
            gte: Some(FieldValue::Date(ms)),
            ..
        }) => ms,
        other => panic!("{other:?}"),
    };
    assert_eq!(bound(range(json!({"gte": "now/d"}))), midnight_utc);
    assert_eq!(
        bound(range(json!({"gte": "now/d", "time_zone": "Z"}))),
        midnight_utc
    );
    // NOW is 22:13 UTC: in +02:00 the day began at 22:00 UTC the same day.
    assert_eq!(
        bound(range(json!({"gte": "now/d", "time_zone": "+02:00"}))),
        midnight_utc + 22 * 3_600_000
    );
    // Epoch values are instants: a zone does not move them.
    assert_eq!(bound(range(json!({"gte": 5, "time_zone": "-0530"}))), 5);
    assert_eq!(
        bound(range(
            json!({"gte": 5, "format": "epoch_millis||strict_date_optional_time"})
        )),
        5
    );
    check_error(
        json!({"range": {"creation": {"gte": 5, "time_zone": "Europe/Paris"}}}),
        Error::IllegalArgument(
            "time_zone [Europe/Paris] is not supported by keyward: only UTC and fixed offsets \
             such as +01:00"
                .to_owned(),
        ),
    );
    check_error(
        json!({"range": {"creation": {"gte": "2024-01-01", "format": "yyyy-MM-dd"}}}),
        Error::IllegalArgument(
            "range [format] [yyyy-MM-dd] is not supported by keyward: dates are read as \
             epoch_millis"
                .to_owned(),
        ),
    );
    check_error(
        json!({"range": {"name": {"gte": "a", "time_zone": "Z"}}}),
        Error::IllegalArgument(
            "Field [name] of type [keyword] does not support custom time zones".to_owned(),
        ),
    );
}

#[test]
fn match_options_that_change_matching_are_refused() {
    assert_eq!(
        parse(
            json!({"match": {"name": {"query": "k", "operator": "and", "analyzer": "keyword", "fuzziness": 0}}})
        ),
        Ok(term(ApiKeyField::Name, "k"))
    );
    check_error(
        json!({"match": {"name": {"query": "k", "fuzziness": "AUTO"}}}),
        Error::IllegalArgument(
            "[match] option [fuzziness] [AUTO] is not supported by keyward: values are \
             compared as exact keywords"
                .to_owned(),
        ),
    );
    check_error(
        json!({"match": {"name": {"query": "k", "analyzer": "standard"}}}),
        Error::IllegalArgument(
            "[match] option [analyzer] [standard] is not supported by keyward: values are \
             compared as exact keywords"
                .to_owned(),
        ),
    );
}
