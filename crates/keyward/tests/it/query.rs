//! `security.query_api_keys` through the real server: filters, sort, paging, `search_after`, the
//! implicit owner filter of `manage_own_api_key`, aggregations and errors.

use serde_json::{Value, json};

use crate::support::{TestServer, assert_error};

const PASSWORD: &str = "x-pack-test-password";

/// Roles `admin_role` (manage_api_key) and `user_role` (manage_own_api_key); users `manager`
/// (admin_role), `user1` and `user2` (user_role); one key each, created in that order.
async fn seed(server: &TestServer) -> [String; 3] {
    let superuser = server.superuser();
    for (role, privilege) in [
        ("admin_role", "manage_api_key"),
        ("user_role", "manage_own_api_key"),
    ] {
        let reply = superuser
            .put(
                &format!("/_security/role/{role}"),
                json!({"cluster": [privilege]}),
            )
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text);
    }
    for (user, role) in [
        ("manager", "admin_role"),
        ("user1", "user_role"),
        ("user2", "user_role"),
    ] {
        let reply = superuser
            .put(
                &format!("/_security/user/{user}"),
                json!({"password": PASSWORD, "roles": [role]}),
            )
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text);
    }
    let mut ids = Vec::new();
    for (user, expiration, metadata) in [
        ("manager", "10d", json!({"letter": "a", "number": 42})),
        ("user1", "1d", json!({"letter": "a", "number": 1})),
        (
            "user2",
            "2d",
            json!({"letter": "b", "number": 42, "tags": ["x", "y"]}),
        ),
    ] {
        let reply = server
            .basic(user, PASSWORD)
            .post(
                "/_security/api_key",
                json!({"name": format!("{user}-api-key"), "expiration": expiration, "metadata": metadata}),
            )
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        ids.push(reply.json()["id"].as_str().unwrap().to_owned());
    }
    [ids[0].clone(), ids[1].clone(), ids[2].clone()]
}

fn ids_of(body: &Value) -> Vec<String> {
    body["api_keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|key| key["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn query_filters_and_counts() {
    let server = TestServer::start().await;
    let [manager, user1, user2] = seed(&server).await;
    let admin = server.basic("manager", PASSWORD);

    let everything = admin.get("/_security/_query/api_key").await;
    assert_eq!(everything.status, 200, "{}", everything.text);
    let body = everything.json();
    assert_eq!(
        (body["total"].as_u64(), body["count"].as_u64()),
        (Some(3), Some(3))
    );
    let first = &body["api_keys"][0];
    assert!(first.get("_sort").is_none());
    assert_eq!(first["role_descriptors"], json!({}));
    assert!(first.get("limited_by").is_none());

    let cases = [
        (
            json!({"wildcard": {"name": "user*"}}),
            vec![user1.clone(), user2.clone()],
        ),
        (
            json!({"term": {"username": "manager"}}),
            vec![manager.clone()],
        ),
        (
            json!({"term": {"metadata.number": 42}}),
            vec![manager.clone(), user2.clone()],
        ),
        (json!({"term": {"metadata.tags": "y"}}), vec![user2.clone()]),
        (
            json!({"ids": {"values": [user1.clone()]}}),
            vec![user1.clone()],
        ),
        (
            json!({"prefix": {"name": "manager"}}),
            vec![manager.clone()],
        ),
        (
            json!({"bool": {"must": [{"term": {"metadata.letter": "a"}}], "must_not": [{"term": {"username": "manager"}}]}}),
            vec![user1.clone()],
        ),
        (
            json!({"range": {"expiration": {"gt": "now+3d"}}}),
            vec![manager.clone()],
        ),
        (
            json!({"simple_query_string": {"query": "user2*", "fields": ["na*"]}}),
            vec![user2.clone()],
        ),
    ];
    for (query, expected) in cases {
        let reply = admin
            .post(
                "/_security/_query/api_key",
                json!({"query": query, "sort": ["creation"]}),
            )
            .await;
        assert_eq!(reply.status, 200, "{query}: {}", reply.text);
        assert_eq!(ids_of(&reply.json()), expected, "{query}");
    }
}

#[tokio::test]
async fn query_sorts_pages_and_searches_after() {
    let server = TestServer::start().await;
    let [manager, user1, user2] = seed(&server).await;
    let admin = server.basic("manager", PASSWORD);

    let reply = admin
        .post(
            "/_security/_query/api_key",
            json!({"sort": [{"creation": {"order": "desc"}}], "from": 1, "size": 1}),
        )
        .await;
    let body = reply.json();
    assert_eq!(
        (body["total"].as_u64(), body["count"].as_u64()),
        (Some(3), Some(1))
    );
    assert_eq!(ids_of(&body), [user1.as_str()]);
    assert_eq!(
        body["api_keys"][0]["_sort"],
        json!([body["api_keys"][0]["creation"]])
    );

    let mut search_after: Option<Value> = None;
    let mut seen = Vec::new();
    for _ in 0..3 {
        let mut request = json!({"sort": ["expiration", "username"], "size": 1});
        if let Some(after) = &search_after {
            // Elasticsearch's YAML test passes the values back as strings.
            let as_strings: Vec<Value> = after
                .as_array()
                .unwrap()
                .iter()
                .map(|value| json!(value.to_string().trim_matches('"')))
                .collect();
            request["search_after"] = json!(as_strings);
        }
        let body = admin
            .post("/_security/_query/api_key", request)
            .await
            .json();
        assert_eq!(body["total"], 3);
        seen.extend(ids_of(&body));
        search_after = Some(body["api_keys"][0]["_sort"].clone());
    }
    assert_eq!(seen, [user1, user2, manager]);
}

#[tokio::test]
async fn query_by_manage_own_user_sees_only_own_keys() {
    let server = TestServer::start().await;
    let [_, user1, _] = seed(&server).await;
    let reply = server
        .basic("user1", PASSWORD)
        .post(
            "/_security/_query/api_key",
            json!({"query": {"match_all": {}}}),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let body = reply.json();
    assert_eq!(body["total"], 1);
    assert_eq!(ids_of(&body), [user1.as_str()]);

    // With the user's own key, limited-by snapshots stay hidden from a manage_own_api_key key.
    let created = server
        .basic("user1", PASSWORD)
        .post("/_security/api_key", json!({"name": "own"}))
        .await
        .json();
    let key = server.api_key(created["encoded"].as_str().unwrap());
    let reply = key.get("/_security/_query/api_key").await;
    // A key owns no other key: its owner's other key stays out of its answers.
    assert_eq!(reply.json()["total"], 1, "{}", reply.text);
    assert_eq!(ids_of(&reply.json()), [created["id"].as_str().unwrap()]);
    let denied = key
        .get("/_security/_query/api_key?with_limited_by=true")
        .await;
    assert_eq!(denied.status, 403, "{}", denied.text);

    let unauthorized = server
        .superuser()
        .put(
            "/_security/user/nobody",
            json!({"password": PASSWORD, "roles": []}),
        )
        .await;
    assert_eq!(unauthorized.status, 200);
    let reply = server
        .basic("nobody", PASSWORD)
        .get("/_security/_query/api_key")
        .await;
    assert_eq!(reply.status, 403, "{}", reply.text);
}

#[tokio::test]
async fn query_shows_limited_by_when_asked() {
    let server = TestServer::start().await;
    seed(&server).await;
    let reply = server
        .basic("user1", PASSWORD)
        .post("/_security/_query/api_key?with_limited_by=true", json!({}))
        .await;
    let body = reply.json();
    assert_eq!(
        body["api_keys"][0]["limited_by"][0]["user_role"]["cluster"],
        json!(["manage_own_api_key"]),
        "{}",
        reply.text
    );
}

#[tokio::test]
async fn query_aggregates() {
    let server = TestServer::start().await;
    seed(&server).await;
    let reply = server
        .superuser()
        .post(
            "/_security/_query/api_key?typed_keys=true",
            json!({
                "size": 0,
                "aggs": {
                    "names": {"composite": {"sources": [{"key_name": {"terms": {"field": "name"}}}]}},
                    "letters": {"terms": {"field": "metadata.letter"}},
                    "no_tags": {"missing": {"field": "metadata.tags"}},
                    "owners": {"cardinality": {"field": "username"}},
                    "letter_a": {
                        "filter": {"term": {"metadata.letter": "a"}},
                        "aggs": {"users": {"terms": {"field": "username"}}}
                    },
                    "kinds": {"filters": {"filters": {
                        "tagged": {"exists": {"field": "metadata.tags"}},
                        "rest": {"term": {"type": "rest"}}
                    }}}
                }
            }),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let body = reply.json();
    assert_eq!(
        (body["total"].as_u64(), body["count"].as_u64()),
        (Some(3), Some(0))
    );
    let aggs = &body["aggregations"];
    assert_eq!(
        aggs["composite#names"]["buckets"],
        json!([
            {"key": {"key_name": "manager-api-key"}, "doc_count": 1},
            {"key": {"key_name": "user1-api-key"}, "doc_count": 1},
            {"key": {"key_name": "user2-api-key"}, "doc_count": 1},
        ])
    );
    assert_eq!(
        aggs["sterms#letters"]["buckets"],
        json!([{"key": "a", "doc_count": 2}, {"key": "b", "doc_count": 1}])
    );
    assert_eq!(aggs["missing#no_tags"]["doc_count"], 2);
    assert_eq!(aggs["cardinality#owners"]["value"], 3);
    assert_eq!(aggs["filter#letter_a"]["doc_count"], 2);
    assert_eq!(
        aggs["filter#letter_a"]["sterms#users"]["buckets"],
        json!([{"key": "manager", "doc_count": 1}, {"key": "user1", "doc_count": 1}])
    );
    assert_eq!(
        aggs["filters#kinds"]["buckets"],
        json!({"tagged": {"doc_count": 1}, "rest": {"doc_count": 3}})
    );
}

#[tokio::test]
async fn query_aggregates_date_ranges() {
    let server = TestServer::start().await;
    server
        .create_keys([
            json!({"name": "soon", "expiration": "1h"}),
            json!({"name": "later", "expiration": "30d"}),
            json!({"name": "never"}),
        ])
        .await;
    let reply = server
        .superuser()
        .post(
            "/_security/_query/api_key",
            json!({
                "size": 0,
                "aggs": {
                    "expiry": {"date_range": {"field": "expiration", "ranges": [
                        {"from": "now+1d", "key": "later"},
                        {"to": "now+1d", "key": "within a day"}
                    ]}},
                    "created": {"date_range": {"field": "creation", "keyed": true, "ranges": [
                        {"from": "now-1h"}
                    ]}, "aggs": {"names": {"terms": {"field": "name"}}}}
                }
            }),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let aggs = &reply.json()["aggregations"];
    let expiry = aggs["expiry"]["buckets"].as_array().unwrap();
    // Sorted as Elasticsearch sorts ranges: the open start first.
    assert_eq!(expiry[0]["key"], "within a day");
    assert_eq!(expiry[0]["doc_count"], 1);
    assert!(expiry[0].get("from").is_none());
    assert_eq!(expiry[1]["key"], "later");
    assert_eq!(expiry[1]["doc_count"], 1);
    let from = expiry[1]["from"].as_f64().unwrap();
    assert_eq!(expiry[1]["from_as_string"], format!("{}", from as i64));
    assert_eq!(expiry[0]["to"], expiry[1]["from"]);
    let created = aggs["created"]["buckets"].as_object().unwrap();
    assert_eq!(created.len(), 1);
    let (_, bucket) = created.iter().next().unwrap();
    assert_eq!(bucket["doc_count"], 3);
    assert_eq!(bucket["names"]["buckets"].as_array().unwrap().len(), 3);

    let reply = server
        .superuser()
        .post(
            "/_security/_query/api_key",
            json!({"aggs": {"r": {"range": {"field": "username", "ranges": [{"to": 1}]}}}}),
        )
        .await;
    assert_error(
        &reply,
        400,
        "illegal_argument_exception",
        "Field [username] of type [keyword] is not supported for aggregation [range]",
    );
}

#[tokio::test]
async fn query_rejects_what_elasticsearch_rejects() {
    let server = TestServer::start().await;
    let caller = server.superuser();
    let cases = [
        (
            json!({"query": {"fuzzy": {"name": "x"}}}),
            "illegal_argument_exception",
            "Query type [fuzzy] is not currently supported in this context",
        ),
        (
            json!({"query": {"term": {"api_key_hash": "x"}}}),
            "illegal_argument_exception",
            "Field [api_key_hash] is not allowed for querying or aggregation",
        ),
        (
            json!({"query": {"term": {"na*": "x"}}}),
            "illegal_argument_exception",
            "Field name pattern [na*] is not allowed for querying or aggregation",
        ),
        (
            json!({"query": {"range": {"creation": {"gte": 1, "relation": "within"}}}}),
            "illegal_argument_exception",
            "range query with relation is not currently supported in this context",
        ),
        (
            json!({"sort": [{"name": {"nested": {"path": "x"}}}]}),
            "illegal_argument_exception",
            "nested sorting is not currently supported in this context",
        ),
        (
            json!({"from": -1}),
            "action_request_validation_exception",
            "Validation Failed: 1: [from] parameter cannot be negative but was [-1];",
        ),
        (
            json!({"size": -2}),
            "action_request_validation_exception",
            "Validation Failed: 1: [size] parameter cannot be negative but was [-2];",
        ),
        (
            json!({"aggs": {"g": {"global": {}}}}),
            "illegal_argument_exception",
            "Unsupported API Keys agg [g] of type [global]",
        ),
        (
            json!({"unknown": 1}),
            "x_content_parse_exception",
            "[query_api_key_request] unknown field [unknown]",
        ),
    ];
    for (body, error_type, reason) in cases {
        let reply = caller.post("/_security/_query/api_key", body).await;
        assert_error(&reply, 400, error_type, reason);
    }
}

#[tokio::test]
async fn query_user_finds_native_users_only() {
    let server = TestServer::start().await;
    let superuser = server.superuser();
    for (user, roles, enabled) in [
        ("carla", json!(["viewer", "editor"]), true),
        ("bob", json!(["viewer"]), false),
        ("anna", json!(["superuser"]), true),
    ] {
        let reply = superuser
            .put(
                &format!("/_security/user/{user}"),
                json!({"password": PASSWORD, "roles": roles, "enabled": enabled, "full_name": format!("{user} full")}),
            )
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text);
    }
    let reply = superuser.get("/_security/_query/user").await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let body = reply.json();
    assert_eq!(
        (body["total"].as_u64(), body["count"].as_u64()),
        (Some(3), Some(3))
    );

    let reply = superuser
        .post(
            "/_security/_query/user",
            json!({"query": {"bool": {"must": [{"term": {"roles": "viewer"}}, {"term": {"enabled": true}}]}}, "sort": ["username"]}),
        )
        .await;
    let body = reply.json();
    assert_eq!(body["total"], 1, "{}", reply.text);
    assert_eq!(
        body["users"][0],
        json!({"username": "carla", "roles": ["viewer", "editor"], "full_name": "carla full", "email": null, "metadata": {}, "enabled": true, "_sort": ["carla"]})
    );

    let reply = superuser
        .post(
            "/_security/_query/user",
            json!({"sort": [{"username": "desc"}], "size": 1, "search_after": ["bob"]}),
        )
        .await;
    assert_eq!(
        reply.json()["users"][0]["username"],
        "anna",
        "{}",
        reply.text
    );

    let reply = superuser
        .post(
            "/_security/_query/user",
            json!({"query": {"range": {"username": {"gte": "a"}}}}),
        )
        .await;
    assert_error(
        &reply,
        400,
        "illegal_argument_exception",
        "Query type [range] is not currently supported in this context",
    );
    let reply = superuser
        .post(
            "/_security/_query/user",
            json!({"query": {"term": {"password": "x"}}}),
        )
        .await;
    assert_error(
        &reply,
        400,
        "illegal_argument_exception",
        "Field [password] is not allowed for querying or aggregation",
    );
}

#[tokio::test]
async fn query_role_finds_stored_roles_only() {
    let server = TestServer::start().await;
    let superuser = server.superuser();
    for (name, body) in [
        (
            "zeta",
            json!({"cluster": ["monitor"], "metadata": {"tier": "gold"}, "description": "the last"}),
        ),
        (
            "alpha",
            json!({"applications": [{"application": "kibana", "privileges": ["read"], "resources": ["*"]}], "metadata": {"tier": "silver"}}),
        ),
    ] {
        let reply = superuser
            .put(&format!("/_security/role/{name}"), body)
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text);
    }
    let reply = superuser
        .post(
            "/_security/_query/role",
            json!({"query": {"match_all": {}}, "sort": ["name"]}),
        )
        .await;
    let body = reply.json();
    assert_eq!(body["total"], 2, "{}", reply.text);
    assert_eq!(body["roles"][0]["name"], "alpha");
    assert_eq!(body["roles"][0]["_sort"], json!(["alpha"]));
    assert_eq!(body["roles"][1]["description"], "the last");
    for (query, expected) in [
        (json!({"term": {"metadata.tier": "gold"}}), "zeta"),
        (
            json!({"term": {"applications.application": "kibana"}}),
            "alpha",
        ),
        (json!({"prefix": {"description": "the"}}), "zeta"),
    ] {
        let body = superuser
            .post("/_security/_query/role", json!({"query": query}))
            .await
            .json();
        assert_eq!(body["total"], 1, "{query}");
        assert_eq!(body["roles"][0]["name"], expected, "{query}");
    }
}

#[tokio::test]
async fn a_query_can_come_in_the_source_parameter() {
    let server = TestServer::start().await;
    seed(&server).await;
    let admin = server.superuser();
    let query = json!({"query": {"term": {"username": "user1"}}});
    let in_body = admin.post("/_security/_query/api_key", query.clone()).await;
    assert_eq!(in_body.status, 200, "{}", in_body.text);
    let encoded: String = query
        .to_string()
        .bytes()
        .map(|byte| {
            if byte.is_ascii_alphanumeric() {
                char::from(byte).to_string()
            } else {
                format!("%{byte:02X}")
            }
        })
        .collect();
    let in_source = admin
        .get(&format!(
            "/_security/_query/api_key?source={encoded}&source_content_type=application/json"
        ))
        .await;
    assert_eq!(in_source.status, 200, "{}", in_source.text);
    assert_eq!(ids_of(&in_source.json()), ids_of(&in_body.json()));
    assert_eq!(in_source.json()["total"], 1);

    assert_error(
        &admin
            .get(&format!("/_security/_query/api_key?source={encoded}"))
            .await,
        400,
        "illegal_argument_exception",
        "source and source_content_type parameters are required",
    );
    // Only the APIs whose Elasticsearch handlers read it take `source`.
    assert_error(
        &admin
            .get(&format!(
                "/_security/api_key?source={encoded}&source_content_type=application/json"
            ))
            .await,
        400,
        "illegal_argument_exception",
        "request [/_security/api_key] contains unrecognized parameters: [source], [source_content_type]",
    );
}

#[tokio::test]
async fn query_options_are_honoured_or_refused_never_ignored() {
    let server = TestServer::start().await;
    server
        .create_keys((0..5).map(|index| {
            serde_json::json!({"name": format!("k{}", index % 3), "metadata": {"i": index}})
        }))
        .await;
    let query = |body: serde_json::Value| {
        let server = &server;
        async move {
            server
                .superuser()
                .post("/_security/_query/api_key", body)
                .await
        }
    };
    // k0 and k1 twice, k2 once: ascending by count, then by key descending.
    let reply = query(serde_json::json!({"size": 0, "aggs": {"names": {"terms": {
        "field": "name", "order": [{"_count": "asc"}, {"_key": "desc"}], "exclude": ["k0"]
    }}}}))
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(
        reply.json()["aggregations"]["names"]["buckets"],
        serde_json::json!([{"key": "k2", "doc_count": 1}, {"key": "k1", "doc_count": 2}])
    );
    let reply = query(serde_json::json!({"size": 0, "aggs": {"names": {"terms": {
        "field": "name", "min_doc_count": 2, "include": "k[01]"
    }}}}))
    .await;
    assert_eq!(
        reply.json()["aggregations"]["names"]["buckets"],
        serde_json::json!([{"key": "k0", "doc_count": 2}, {"key": "k1", "doc_count": 2}])
    );
    for (body, reason) in [
        (
            serde_json::json!({"sort": [{"expiration": {"missing": "_first"}}]}),
            "sort [missing] value [_first] for [expiration] is not supported by keyward: keys without the field always sort last (_last)",
        ),
        (
            serde_json::json!({"query": {"range": {"creation": {"gte": "now-1d/d", "time_zone": "Europe/Paris"}}}}),
            "time_zone [Europe/Paris] is not supported by keyward: only UTC and fixed offsets such as +01:00",
        ),
        (
            serde_json::json!({"query": {"match": {"name": {"query": "k1", "fuzziness": "AUTO"}}}}),
            "[match] option [fuzziness] [AUTO] is not supported by keyward: values are compared as exact keywords",
        ),
        (
            serde_json::json!({"aggs": {"names": {"terms": {"field": "name", "order": {"sub": "desc"}}}}}),
            "Unsupported API Keys agg [names] of type [terms]: order by [sub] is not supported by keyward",
        ),
    ] {
        let reply = query(body).await;
        assert_error(&reply, 400, "illegal_argument_exception", reason);
    }
    // A fixed offset moves where `now/d` rounds: the start of yesterday in UTC+14 is still more
    // than a day ago, so every key just created is found.
    let reply = query(serde_json::json!({"query": {"range": {"creation": {
        "gte": "now-1d/d", "time_zone": "+14:00", "format": "epoch_millis"
    }}}}))
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json()["total"], 5);
}
