//! Cross-cluster API keys through the real server: create, get, update, invalidate, the rules
//! on who may do what, the validation of `access` (reference §8.8, §8.9, §9), and keyward's
//! internal `POST /_keyward/cross_cluster/_authenticate`.

use serde_json::{Value, json};

use crate::support::{Reply, TestServer, assert_error, assert_unauthenticated};

const PASSWORD: &str = "user-password";
const CREATE: &str = "/_security/cross_cluster/api_key";
const AUTHENTICATE: &str = "/_keyward/cross_cluster/_authenticate";

/// The create request of the seed (`001_585c8fb46359ba94.txt`), unchanged.
fn seed_body() -> Value {
    json!({
        "name": "my-cross-cluster-api-key",
        "expiration": "1d",
        "access": {
            "search": [{"names": ["logs*"]}],
            "replication": [{"names": ["archive*"]}]
        },
        "metadata": {
            "description": "phase one",
            "environment": {"level": 1, "trusted": true, "tags": ["dev", "staging"]}
        }
    })
}

/// Creates `username` holding one role with the given cluster privileges.
async fn user_with(server: &TestServer, username: &str, cluster: &[&str]) {
    let role = format!("{username}_role");
    let reply = server
        .superuser()
        .put(
            &format!("/_security/role/{role}"),
            json!({"cluster": cluster}),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let reply = server
        .superuser()
        .put(
            &format!("/_security/user/{username}"),
            json!({"password": PASSWORD, "roles": [role]}),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
}

async fn admin(server: &TestServer) {
    user_with(server, "admin_user", &["manage_security"]).await;
}

async fn create_as(server: &TestServer, username: &str, body: Value) -> Value {
    let reply = server.basic(username, PASSWORD).post(CREATE, body).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.json()
}

async fn get_key(server: &TestServer, id: &str, params: &str) -> Value {
    let reply = server
        .basic("admin_user", PASSWORD)
        .get(&format!("/_security/api_key?id={id}{params}"))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let body = reply.json();
    assert_eq!(body["api_keys"].as_array().unwrap().len(), 1, "{body}");
    body["api_keys"][0].clone()
}

async fn update(server: &TestServer, id: &str, body: Value) -> Reply {
    server
        .basic("admin_user", PASSWORD)
        .put(&format!("/_security/cross_cluster/api_key/{id}"), body)
        .await
}

fn str_of<'a>(value: &'a Value, field: &str) -> &'a str {
    value[field].as_str().unwrap()
}

#[tokio::test]
async fn seed_example_creates_a_key_that_get_shows_as_the_seed_does() {
    let server = TestServer::start().await;
    user_with(&server, "myuser", &["manage_security"]).await;
    let created = create_as(&server, "myuser", seed_body()).await;
    let keys: Vec<&str> = created
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, ["id", "name", "expiration", "api_key", "encoded"]);
    assert_eq!(created["name"], "my-cross-cluster-api-key");
    let id = str_of(&created, "id");

    let reply = server
        .basic("myuser", PASSWORD)
        .get(&format!("/_security/api_key?id={id}"))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let got = reply.json();
    let key = &got["api_keys"][0];
    // The seed's GET example, field by field. Instance values (id, instants, owner) are this
    // server's; the seed predates Elasticsearch 8.14, which added `monitor_enrich` to keys with
    // search access (reference §9.1), so the expected cluster privileges carry it.
    let creation = key["creation"].as_i64().unwrap();
    let mut expected = json!({"api_keys": [{
        "id": id,
        "name": "my-cross-cluster-api-key",
        "type": "cross_cluster",
        "creation": creation,
        "expiration": creation + 86_400_000,
        "invalidated": false,
        "username": "myuser",
        "realm": "default_native",
        "realm_type": "native",
        "metadata": {
            "description": "phase one",
            "environment": {"level": 1, "trusted": true, "tags": ["dev", "staging"]}
        },
        "role_descriptors": {
            "cross_cluster": {
                "cluster": ["cross_cluster_search", "cross_cluster_replication"],
                "indices": [
                    {"names": ["logs*"], "privileges": ["read", "read_cross_cluster", "view_index_metadata"], "allow_restricted_indices": false},
                    {"names": ["archive*"], "privileges": ["cross_cluster_replication", "cross_cluster_replication_internal"], "allow_restricted_indices": false}
                ],
                "applications": [],
                "run_as": [],
                "metadata": {},
                "transient_metadata": {"enabled": true}
            }
        },
        "access": {
            "search": [{"names": ["logs*"], "allow_restricted_indices": false}],
            "replication": [{"names": ["archive*"], "allow_restricted_indices": false}]
        }
    }]});
    expected["api_keys"][0]["role_descriptors"]["cross_cluster"]["cluster"] = json!([
        "cross_cluster_search",
        "monitor_enrich",
        "cross_cluster_replication"
    ]);
    assert_eq!(got, expected);
    assert_eq!(key["expiration"], created["expiration"]);
    // Field order as Elasticsearch emits it (reference §8.3).
    let order: Vec<&str> = key
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        order,
        [
            "id",
            "name",
            "type",
            "creation",
            "expiration",
            "invalidated",
            "username",
            "realm",
            "realm_type",
            "metadata",
            "role_descriptors",
            "access"
        ]
    );

    // A cross-cluster key has no owner snapshot: `limited_by` stays absent even when asked for.
    let reply = server
        .basic("myuser", PASSWORD)
        .get(&format!("/_security/api_key?id={id}&with_limited_by=true"))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let with_limited_by = &reply.json()["api_keys"][0];
    assert!(
        with_limited_by.get("limited_by").is_none(),
        "{with_limited_by}"
    );
}

#[tokio::test]
async fn search_with_document_and_field_level_security_is_shown_with_its_query_as_text() {
    let server = TestServer::start().await;
    admin(&server).await;
    let created = create_as(
        &server,
        "admin_user",
        json!({
            "name": "my-cc-api-key",
            "access": {"search": [{
                "names": ["logs*"],
                "query": {"term": {"category": "shared"}},
                "field_security": {"grant": ["*"], "except": ["private"]}
            }]},
            "metadata": {"answer": 42, "tag": "dev"}
        }),
    )
    .await;
    let key = get_key(&server, str_of(&created, "id"), "&with_limited_by=true").await;
    assert_eq!(
        key["role_descriptors"],
        json!({"cross_cluster": {
            "cluster": ["cross_cluster_search", "monitor_enrich"],
            "indices": [{
                "names": ["logs*"],
                "privileges": ["read", "read_cross_cluster", "view_index_metadata"],
                "field_security": {"grant": ["*"], "except": ["private"]},
                "query": "{\"term\":{\"category\":\"shared\"}}",
                "allow_restricted_indices": false
            }],
            "applications": [], "run_as": [], "metadata": {}, "transient_metadata": {"enabled": true}
        }})
    );
    assert_eq!(
        key["access"],
        json!({"search": [{
            "names": ["logs*"],
            "field_security": {"grant": ["*"], "except": ["private"]},
            "query": "{\"term\":{\"category\":\"shared\"}}",
            "allow_restricted_indices": false
        }]})
    );
    assert_eq!(key["metadata"], json!({"answer": 42, "tag": "dev"}));
    assert!(key.get("limited_by").is_none());
}

#[tokio::test]
async fn a_cross_cluster_key_cannot_authenticate_rest_requests() {
    let server = TestServer::start().await;
    admin(&server).await;
    let created = create_as(&server, "admin_user", seed_body()).await;
    let id = str_of(&created, "id");
    let encoded = str_of(&created, "encoded");
    let reason = format!(
        "authentication expected API key type of [rest], but API key [{id}] has type [cross_cluster]"
    );
    let reply = server
        .api_key(encoded)
        .get("/_security/_authenticate")
        .await;
    assert_unauthenticated(&reply, &reason);
    // Also once the key is known to the authentication cache.
    let reply = server.api_key(encoded).get("/_cluster/health").await;
    assert_unauthenticated(&reply, &reason);
}

#[tokio::test]
async fn only_manage_security_users_may_create_them() {
    let server = TestServer::start().await;
    admin(&server).await;
    user_with(&server, "keys_user", &["manage_api_key"]).await;
    user_with(&server, "own_keys_user", &["manage_own_api_key"]).await;
    for user in ["keys_user", "own_keys_user"] {
        let reply = server.basic(user, PASSWORD).post(CREATE, seed_body()).await;
        assert_eq!(reply.status, 403, "{}", reply.text);
        let reason = reply.json()["error"]["reason"].as_str().unwrap().to_owned();
        assert!(
            reason.starts_with(&format!(
                "action [cluster:admin/xpack/security/cross_cluster/api_key/create] is unauthorized for user [{user}]"
            )),
            "{reason}"
        );
    }

    // An API key never may, even one whose owner holds manage_security.
    let reply = server
        .basic("admin_user", PASSWORD)
        .post("/_security/api_key", json!({"name": "rest-key"}))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let encoded = reply.json()["encoded"].as_str().unwrap().to_owned();
    let reply = server.api_key(&encoded).post(CREATE, seed_body()).await;
    assert_error(
        &reply,
        400,
        "illegal_argument_exception",
        "authentication via API key not supported: An API key cannot be used to create a cross-cluster API key",
    );

    // Nothing was written by the refused requests.
    let all = server.superuser().get("/_security/api_key").await.json();
    assert_eq!(all["api_keys"].as_array().unwrap().len(), 1, "{all}");
}

#[tokio::test]
async fn create_validates_access_as_elasticsearch_does() {
    let server = TestServer::start().await;
    admin(&server).await;
    let caller = server.basic("admin_user", PASSWORD);
    let empty = "must specify non-empty access for either [search] or [replication]";
    let cases = [
        (
            json!({"access": {"search": [{"names": ["logs"]}]}}),
            "illegal_argument_exception",
            "Required [name]",
        ),
        (
            json!({"name": "k"}),
            "illegal_argument_exception",
            "Required [access]",
        ),
        (
            json!({}),
            "illegal_argument_exception",
            "Required [name, access]",
        ),
        (
            json!({"name": "k", "access": null}),
            "x_content_parse_exception",
            "[cross_cluster_api_key_request] access doesn't support values of type: VALUE_NULL",
        ),
        (
            json!({"name": "k", "access": {}}),
            "illegal_argument_exception",
            empty,
        ),
        (
            json!({"name": "k", "access": {"search": []}}),
            "illegal_argument_exception",
            empty,
        ),
        (
            json!({"name": "k", "access": {"replication": []}}),
            "illegal_argument_exception",
            empty,
        ),
        (
            json!({"name": "k", "access": {"search": [], "replication": []}}),
            "illegal_argument_exception",
            empty,
        ),
        (
            json!({"name": "k", "access": {"replication": [{"names": ["logs"], "query": {"term": {"tag": 42}}}]}}),
            "illegal_argument_exception",
            "replication does not support document or field level security",
        ),
        (
            json!({"name": "k", "access": {"replication": [{"names": ["logs"], "field_security": {"grant": ["*"], "except": ["private"]}}]}}),
            "illegal_argument_exception",
            "replication does not support document or field level security",
        ),
        (
            json!({"name": "k", "access": {"search": [{"names": ["logs"], "query": {"term": {"tag": 42}}}], "replication": [{"names": ["logs"]}]}}),
            "illegal_argument_exception",
            "search does not support document or field level security if replication is assigned",
        ),
        (
            json!({"name": "k", "access": {"search": [{"names": ["logs"], "field_security": {"grant": ["*"]}}], "replication": [{"names": ["logs"]}]}}),
            "illegal_argument_exception",
            "search does not support document or field level security if replication is assigned",
        ),
        (
            json!({"name": "k", "access": {"search": [{"names": ["logs"], "privileges": ["read"]}]}}),
            "parse_exception",
            "failed to parse indices privileges for role [cross_cluster]. field [privileges] must not present",
        ),
        (
            json!({"name": "k", "access": {"search": [{"allow_restricted_indices": true}]}}),
            "parse_exception",
            "failed to parse indices privileges for role [cross_cluster]. missing required [names] field",
        ),
        (
            json!({"name": "k", "access": {"replication": [{"names": []}]}}),
            "parse_exception",
            "failed to parse indices privileges for role [cross_cluster]. [names] cannot be an empty array",
        ),
        (
            json!({"name": "k", "access": {"search": [{"names": ["logs"]}], "remote": []}}),
            "x_content_parse_exception",
            "[cross_cluster_api_key_request_access] unknown field [remote]",
        ),
        (
            json!({"name": "k", "access": {"search": [{"names": ["logs"]}]}, "role_descriptors": {}}),
            "x_content_parse_exception",
            "[cross_cluster_api_key_request] unknown field [role_descriptors]",
        ),
        (
            json!({"name": "k", "access": {"search": [{"names": ["logs"]}]}, "metadata": {"_x": 1}}),
            "action_request_validation_exception",
            "Validation Failed: 1: API key metadata keys may not start with [_];",
        ),
        (
            json!({"name": "_k", "access": {"search": [{"names": ["logs"]}]}}),
            "action_request_validation_exception",
            "Validation Failed: 1: api key name may not begin with an underscore;",
        ),
        (
            json!({"name": "k", "access": {"search": [{"names": ["logs"]}]}, "certificate_identity": " "}),
            "illegal_argument_exception",
            "certificate_identity must not be blank",
        ),
    ];
    for (body, error_type, reason) in cases {
        let reply = caller.post(CREATE, body.clone()).await;
        assert_error(&reply, 400, error_type, reason);
    }
    let reply = caller.send("POST", CREATE, None, &[]).await;
    assert_error(&reply, 400, "parse_exception", "request body is required");
    let reply = caller
        .post(
            CREATE,
            json!({"name": "k", "access": {"search": [{"names": ["logs"]}]}, "expiration": "1.5d"}),
        )
        .await;
    assert_eq!(reply.status, 400, "{}", reply.text);
    assert_eq!(
        reply.json()["error"]["reason"],
        "[cross_cluster_api_key_request] failed to parse field [expiration]"
    );
    // Only POST, as in the rest-api-spec.
    let reply = caller.put(CREATE, seed_body()).await;
    assert_eq!(reply.status, 405, "{}", reply.text);

    let all = server.superuser().get("/_security/api_key").await.json();
    assert_eq!(all["api_keys"], json!([]));
}

#[tokio::test]
async fn update_replaces_access_and_metadata_and_detects_noops() {
    let server = TestServer::start().await;
    admin(&server).await;
    let created = create_as(
        &server,
        "admin_user",
        json!({"name": "my-cc-api-key", "access": {"search": [{"names": ["logs*"]}]}, "metadata": {"tag": "dev"}}),
    )
    .await;
    let id = str_of(&created, "id");
    let change =
        json!({"access": {"replication": [{"names": ["archive"]}]}, "metadata": {"tag": "prod"}});
    let reply = update(&server, id, change.clone()).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json(), json!({"updated": true}));

    let key = get_key(&server, id, "&with_limited_by=true").await;
    assert_eq!(key["type"], "cross_cluster");
    assert_eq!(key["metadata"], json!({"tag": "prod"}));
    assert_eq!(
        key["role_descriptors"],
        json!({"cross_cluster": {
            "cluster": ["cross_cluster_replication"],
            "indices": [{"names": ["archive"], "privileges": ["cross_cluster_replication", "cross_cluster_replication_internal"], "allow_restricted_indices": false}],
            "applications": [], "run_as": [], "metadata": {}, "transient_metadata": {"enabled": true}
        }})
    );
    assert_eq!(
        key["access"],
        json!({"replication": [{"names": ["archive"], "allow_restricted_indices": false}]})
    );
    assert!(key.get("limited_by").is_none());
    assert!(key.get("expiration").is_none());

    // The same update again, and the access get shows sent back unchanged: nothing to do.
    assert_eq!(
        update(&server, id, change).await.json(),
        json!({"updated": false})
    );
    let round_trip = json!({"access": key["access"]});
    assert_eq!(
        update(&server, id, round_trip).await.json(),
        json!({"updated": false})
    );
    assert_eq!(
        update(&server, id, json!({"metadata": {"tag": "prod"}}))
            .await
            .json(),
        json!({"updated": false})
    );

    // Metadata only keeps the access; access only keeps the metadata.
    let reply = update(
        &server,
        id,
        json!({"metadata": {"env": "prod", "magic": 42}}),
    )
    .await;
    assert_eq!(reply.json(), json!({"updated": true}));
    let reply = update(
        &server,
        id,
        json!({"access": {"search": [{"names": ["blogs"]}]}}),
    )
    .await;
    assert_eq!(reply.json(), json!({"updated": true}));
    let key = get_key(&server, id, "").await;
    assert_eq!(key["metadata"], json!({"env": "prod", "magic": 42}));
    assert_eq!(
        key["access"],
        json!({"search": [{"names": ["blogs"], "allow_restricted_indices": false}]})
    );
    assert_eq!(
        key["role_descriptors"]["cross_cluster"]["cluster"],
        json!(["cross_cluster_search", "monitor_enrich"])
    );

    // Any expiration is a change; it counts from now.
    let before = now_millis();
    let reply = update(&server, id, json!({"expiration": "30d"})).await;
    assert_eq!(reply.json(), json!({"updated": true}));
    let expiration = get_key(&server, id, "").await["expiration"]
        .as_i64()
        .unwrap();
    assert!(
        expiration >= before + 30 * 86_400_000 - 1000,
        "{expiration}"
    );

    // The certificate identity is set, shown, kept when omitted, and cleared by null.
    let reply = update(&server, id, json!({"certificate_identity": "CN=remote"})).await;
    assert_eq!(reply.json(), json!({"updated": true}));
    assert_eq!(
        get_key(&server, id, "").await["certificate_identity"],
        "CN=remote"
    );
    let reply = update(
        &server,
        id,
        json!({"metadata": {"env": "prod", "magic": 42}, "certificate_identity": "CN=remote"}),
    )
    .await;
    assert_eq!(reply.json(), json!({"updated": false}));
    let reply = update(&server, id, json!({"certificate_identity": null})).await;
    assert_eq!(reply.json(), json!({"updated": true}));
    assert!(
        get_key(&server, id, "")
            .await
            .get("certificate_identity")
            .is_none()
    );
}

#[tokio::test]
async fn update_refuses_what_elasticsearch_refuses() {
    let server = TestServer::start().await;
    admin(&server).await;
    let created = create_as(
        &server,
        "admin_user",
        json!({"name": "cross-cluster-key", "access": {"search": [{"names": ["metrics"]}]}}),
    )
    .await;
    let id = str_of(&created, "id").to_owned();
    let path = format!("/_security/cross_cluster/api_key/{id}");
    let caller = server.basic("admin_user", PASSWORD);

    let reply = caller.send("PUT", &path, None, &[]).await;
    assert_error(&reply, 400, "parse_exception", "request body is required");
    assert_error(
        &caller.put(&path, json!({})).await,
        400,
        "action_request_validation_exception",
        "Validation Failed: 1: must update either [access] or [metadata] for cross-cluster API keys;",
    );
    assert_error(
        &caller.put(&path, json!({"access": {}})).await,
        400,
        "illegal_argument_exception",
        "must specify non-empty access for either [search] or [replication]",
    );
    assert_error(
        &caller
            .put(&path, json!({"access": {"search": [{"names": ["logs"], "query": {"term": {"tag": 42}}}], "replication": [{"names": ["logs"]}]}}))
            .await,
        400,
        "illegal_argument_exception",
        "search does not support document or field level security if replication is assigned",
    );
    for expiration in ["0", "-1", "0s"] {
        assert_error(
            &caller.put(&path, json!({"expiration": expiration})).await,
            400,
            "action_request_validation_exception",
            "Validation Failed: 1: API key expiration must be in the future;",
        );
    }
    assert_error(
        &caller.put(&path, json!({"metadata": {"_x": 1}})).await,
        400,
        "action_request_validation_exception",
        "Validation Failed: 1: API key metadata keys may not start with [_];",
    );

    // The REST update APIs refuse a cross-cluster key, and this API refuses a REST key.
    assert_error(
        &caller
            .put(&format!("/_security/api_key/{id}"), json!({"metadata": {}}))
            .await,
        400,
        "illegal_argument_exception",
        "cannot update API key of type [cross_cluster] while expected type is [rest]",
    );
    let bulk = caller
        .post("/_security/api_key/_bulk_update", json!({"ids": [id]}))
        .await;
    assert_eq!(bulk.status, 200, "{}", bulk.text);
    assert_eq!(
        bulk.json(),
        json!({"updated": [], "noops": [], "errors": {"count": 1, "details": {id.clone(): {
            "type": "illegal_argument_exception",
            "reason": "cannot update API key of type [cross_cluster] while expected type is [rest]"
        }}}})
    );
    let rest = caller
        .post("/_security/api_key", json!({"name": "rest-key"}))
        .await
        .json();
    assert_error(
        &caller
            .put(
                &format!("/_security/cross_cluster/api_key/{}", str_of(&rest, "id")),
                json!({"metadata": {}}),
            )
            .await,
        400,
        "illegal_argument_exception",
        "cannot update API key of type [rest] while expected type is [cross_cluster]",
    );

    // Another owner's key is not found; without manage_security the action is denied.
    user_with(&server, "another_power_user", &["manage_security"]).await;
    let other = create_as(
        &server,
        "another_power_user",
        json!({"name": "other", "access": {"replication": [{"names": ["logs"]}]}}),
    )
    .await;
    let other_id = str_of(&other, "id");
    assert_error(
        &caller
            .put(
                &format!("/_security/cross_cluster/api_key/{other_id}"),
                json!({"metadata": {}}),
            )
            .await,
        404,
        "resource_not_found_exception",
        &format!("no API key owned by requesting user found for ID [{other_id}]"),
    );
    assert_error(
        &caller
            .put(
                "/_security/cross_cluster/api_key/does-not-exist",
                json!({"metadata": {}}),
            )
            .await,
        404,
        "resource_not_found_exception",
        "no API key owned by requesting user found for ID [does-not-exist]",
    );
    for (user, privilege) in [
        ("keys_user", "manage_api_key"),
        ("own_keys_user", "manage_own_api_key"),
    ] {
        user_with(&server, user, &[privilege]).await;
        let reply = server
            .basic(user, PASSWORD)
            .put(&path, json!({"metadata": {}}))
            .await;
        assert_eq!(reply.status, 403, "{}", reply.text);
        assert!(
            reply.json()["error"]["reason"]
                .as_str()
                .unwrap()
                .starts_with("action [cluster:admin/xpack/security/cross_cluster/api_key/update] is unauthorized"),
            "{}",
            reply.text
        );
    }

    // An API key cannot update keys, even with its owner's manage_security.
    let encoded = str_of(&rest, "encoded");
    assert_error(
        &server
            .api_key(encoded)
            .put(&path, json!({"metadata": {}}))
            .await,
        400,
        "illegal_argument_exception",
        "authentication via API key not supported: only the owner user can update an API key",
    );

    // Invalidated keys cannot be updated.
    let reply = caller
        .delete("/_security/api_key", json!({"ids": [id]}))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_error(
        &caller.put(&path, json!({"metadata": {}})).await,
        400,
        "illegal_argument_exception",
        &format!("cannot update invalidated API key [{id}]"),
    );
}

#[tokio::test]
async fn only_manage_security_may_invalidate_them() {
    let server = TestServer::start().await;
    admin(&server).await;
    user_with(&server, "keys_user", &["manage_api_key"]).await;
    let body = json!({"name": "my-cc-api-key", "access": {"search": [{"names": ["*"], "allow_restricted_indices": true}]}});
    let first = create_as(&server, "admin_user", body.clone()).await;
    let second = create_as(&server, "admin_user", body).await;
    let (id1, id2) = (str_of(&first, "id"), str_of(&second, "id"));
    let rest = server
        .basic("keys_user", PASSWORD)
        .post("/_security/api_key", json!({"name": "rest-api-key"}))
        .await
        .json();
    let rest_id = str_of(&rest, "id");

    // manage_api_key invalidates the REST key and reports each cross-cluster key as an error.
    let reply = server
        .basic("keys_user", PASSWORD)
        .delete("/_security/api_key", json!({"ids": [id1, id2, rest_id]}))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let denied = |id: &str| {
        json!({"type": "security_exception",
               "reason": format!("Cannot invalidate cross-cluster API key [{id}]. This requires [manage_security] cluster privilege or higher")})
    };
    let body = reply.json();
    assert_eq!(body["invalidated_api_keys"], json!([rest_id]));
    assert_eq!(body["previously_invalidated_api_keys"], json!([]));
    assert_eq!(body["error_count"], 2);
    let details = body["error_details"].as_array().unwrap();
    assert_eq!(details.len(), 2);
    assert!(
        details.contains(&denied(id1)) && details.contains(&denied(id2)),
        "{body}"
    );

    // The owner losing manage_security loses the right too, whichever way it selects its keys.
    let cases = [
        ("manage_api_key", json!({"ids": [id1]})),
        ("manage_api_key", json!({"username": "admin_user"})),
        ("manage_api_key", json!({"realm_name": "default_native"})),
        ("manage_api_key", json!({"owner": true})),
        ("manage_own_api_key", json!({"owner": true})),
        (
            "manage_own_api_key",
            json!({"username": "admin_user", "realm_name": "default_native"}),
        ),
    ];
    for (privilege, selection) in cases {
        let reply = server
            .superuser()
            .put(
                "/_security/role/admin_user_role",
                json!({"cluster": [privilege]}),
            )
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        let reply = server
            .basic("admin_user", PASSWORD)
            .delete("/_security/api_key", selection)
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        let body = reply.json();
        assert_eq!(body["invalidated_api_keys"], json!([]), "{body}");
        assert!(
            body["error_details"]
                .as_array()
                .unwrap()
                .contains(&denied(id1)),
            "{body}"
        );
    }
    let reply = server
        .superuser()
        .put(
            "/_security/role/admin_user_role",
            json!({"cluster": ["manage_security"]}),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);

    // manage_security invalidates them; get then shows them invalidated.
    let reply = server
        .basic("admin_user", PASSWORD)
        .delete("/_security/api_key", json!({"ids": [id1]}))
        .await;
    assert_eq!(
        reply.json(),
        json!({"invalidated_api_keys": [id1], "previously_invalidated_api_keys": [], "error_count": 0})
    );
    let key = get_key(&server, id1, "").await;
    assert_eq!(key["invalidated"], true);
    assert!(key["invalidation"].is_i64());
    let reply = server
        .basic("admin_user", PASSWORD)
        .delete("/_security/api_key", json!({"username": "admin_user"}))
        .await;
    assert_eq!(reply.json()["invalidated_api_keys"], json!([id2]));
}

#[tokio::test]
async fn get_lists_cross_cluster_keys_for_readers_of_all_keys() {
    let server = TestServer::start().await;
    admin(&server).await;
    user_with(&server, "keys_user", &["manage_api_key"]).await;
    let created = create_as(&server, "admin_user", seed_body()).await;
    let id = str_of(&created, "id");
    let reply = server
        .basic("keys_user", PASSWORD)
        .get(&format!("/_security/api_key?id={id}&with_limited_by=true"))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let key = &reply.json()["api_keys"][0];
    assert_eq!(key["type"], "cross_cluster");
    assert!(key["access"]["search"].is_array());
    assert!(key.get("limited_by").is_none());
    let reply = server
        .basic("admin_user", PASSWORD)
        .get("/_security/api_key?owner=true&active_only=true")
        .await;
    assert_eq!(reply.json()["api_keys"][0]["id"], id);
}

#[tokio::test]
async fn internal_authenticate_resolves_a_cross_cluster_key_to_its_descriptors() {
    let server = TestServer::start().await;
    admin(&server).await;
    let created = create_as(&server, "admin_user", seed_body()).await;
    let id = str_of(&created, "id");
    let encoded = str_of(&created, "encoded");

    let reply = server
        .basic("admin_user", PASSWORD)
        .post(AUTHENTICATE, json!({"api_key": encoded}))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let key = get_key(&server, id, "").await;
    assert_eq!(
        reply.json(),
        json!({
            "api_key": {"id": id, "name": "my-cross-cluster-api-key", "type": "cross_cluster"},
            "username": "admin_user",
            "realm": "default_native",
            "expiration": created["expiration"],
            "role_descriptors": key["role_descriptors"],
            "access": key["access"]
        })
    );
    // The header form a querying cluster sends is accepted as well.
    let reply = server
        .superuser()
        .post(
            AUTHENTICATE,
            json!({"api_key": format!("ApiKey {encoded}")}),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
}

#[tokio::test]
async fn internal_authenticate_refuses_everything_else() {
    let server = TestServer::start().await;
    admin(&server).await;
    user_with(&server, "keys_user", &["manage_api_key"]).await;
    let created = create_as(&server, "admin_user", seed_body()).await;
    let id = str_of(&created, "id").to_owned();
    let encoded = str_of(&created, "encoded").to_owned();
    let caller = server.basic("admin_user", PASSWORD);
    let api_key_failure = |reply: &Reply, detail: &str| {
        assert_unauthenticated(
            reply,
            "unable to authenticate with provided credentials and anonymous access is not allowed for this request",
        );
        assert_eq!(
            reply.json()["error"]["additional_unsuccessful_credentials"],
            format!("API key: {detail}")
        );
    };

    // The caller must authenticate, and hold the authenticate action.
    let reply = server
        .anonymous()
        .post(AUTHENTICATE, json!({"api_key": encoded}))
        .await;
    assert_eq!(reply.status, 401, "{}", reply.text);
    let reply = server
        .basic("keys_user", PASSWORD)
        .post(AUTHENTICATE, json!({"api_key": encoded}))
        .await;
    assert_eq!(reply.status, 403, "{}", reply.text);
    assert!(
        reply.json()["error"]["reason"]
            .as_str()
            .unwrap()
            .starts_with("action [cluster:admin/xpack/security/cross_cluster/api_key/authenticate] is unauthorized for user [keys_user]"),
        "{}",
        reply.text
    );
    // A cross-cluster key is no REST credential, so it cannot call this API for itself.
    let reply = server
        .api_key(&encoded)
        .post(AUTHENTICATE, json!({"api_key": encoded}))
        .await;
    assert_eq!(reply.status, 401, "{}", reply.text);

    // A role granting exactly the action is enough: no manage_security needed by a gateway.
    user_with(
        &server,
        "gateway",
        &["cluster:admin/xpack/security/cross_cluster/api_key/authenticate"],
    )
    .await;
    let reply = server
        .basic("gateway", PASSWORD)
        .post(AUTHENTICATE, json!({"api_key": encoded}))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);

    // Wrong secret, unknown id, REST key, malformed credential.
    let wrong = base64_encode(&format!("{id}:not-the-secret-at-all-xx"));
    api_key_failure(
        &caller.post(AUTHENTICATE, json!({"api_key": wrong})).await,
        &format!("invalid credentials for API key [{id}]"),
    );
    let unknown = base64_encode("aaaaaaaaaaaaaaaaaaaa:bbbbbbbbbbbbbbbbbbbbbb");
    api_key_failure(
        &caller.post(AUTHENTICATE, json!({"api_key": unknown})).await,
        "unable to find apikey with id aaaaaaaaaaaaaaaaaaaa",
    );
    let rest = caller
        .post("/_security/api_key", json!({"name": "rest"}))
        .await
        .json();
    let reply = caller
        .post(AUTHENTICATE, json!({"api_key": str_of(&rest, "encoded")}))
        .await;
    assert_unauthenticated(
        &reply,
        &format!(
            "authentication expected API key type of [cross_cluster], but API key [{}] has type [rest]",
            str_of(&rest, "id")
        ),
    );
    let reply = caller.post(AUTHENTICATE, json!({"api_key": "%%%"})).await;
    assert_eq!(reply.status, 401, "{}", reply.text);
    assert_error(
        &caller.post(AUTHENTICATE, json!({})).await,
        400,
        "illegal_argument_exception",
        "Required [api_key]",
    );
    assert_error(
        &caller
            .post(AUTHENTICATE, json!({"api_key": encoded, "x": 1}))
            .await,
        400,
        "x_content_parse_exception",
        "[cross_cluster_authenticate_request] unknown field [x]",
    );

    // Expired (Elasticsearch creates already-expired keys for a zero expiration) and invalidated.
    let expired = create_as(
        &server,
        "admin_user",
        json!({"name": "expired", "expiration": "0s", "access": {"search": [{"names": ["a"]}]}}),
    )
    .await;
    api_key_failure(
        &caller
            .post(
                AUTHENTICATE,
                json!({"api_key": str_of(&expired, "encoded")}),
            )
            .await,
        "api key is expired",
    );
    let reply = caller
        .delete("/_security/api_key", json!({"ids": [id]}))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    api_key_failure(
        &caller.post(AUTHENTICATE, json!({"api_key": encoded})).await,
        &format!("api key [{id}] has been invalidated"),
    );
}

#[tokio::test]
async fn internal_authenticate_checks_the_certificate_identity() {
    let server = TestServer::start().await;
    admin(&server).await;
    let caller = server.basic("admin_user", PASSWORD);
    let bound = create_as(
        &server,
        "admin_user",
        json!({"name": "bound", "access": {"search": [{"names": ["a"]}]}, "certificate_identity": "CN=remote,O=example"}),
    )
    .await;
    let encoded = str_of(&bound, "encoded");
    let key = get_key(&server, str_of(&bound, "id"), "").await;
    assert_eq!(key["certificate_identity"], "CN=remote,O=example");

    let reply = caller
        .post(
            AUTHENTICATE,
            json!({"api_key": encoded, "certificate_dn": "CN=remote,O=example"}),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json()["certificate_identity"], "CN=remote,O=example");
    for body in [
        json!({"api_key": encoded}),
        json!({"api_key": encoded, "certificate_dn": "CN=other,O=example"}),
    ] {
        let reply = caller.post(AUTHENTICATE, body).await;
        assert_eq!(reply.status, 401, "{}", reply.text);
    }
    // Certificate identities are regular expressions over the whole DN, as in Elasticsearch.
    let pattern = create_as(
        &server,
        "admin_user",
        json!({"name": "pattern", "access": {"search": [{"names": ["a"]}]}, "certificate_identity": "CN=remote-[0-9]+,O=example"}),
    )
    .await;
    for (dn, status) in [
        ("CN=remote-7,O=example", 200),
        ("CN=remote-x,O=example", 401),
        ("CN=remote-7,O=example,C=US", 401),
    ] {
        let reply = caller
            .post(
                AUTHENTICATE,
                json!({"api_key": str_of(&pattern, "encoded"), "certificate_dn": dn}),
            )
            .await;
        assert_eq!(reply.status, status, "{dn}: {}", reply.text);
    }
}

fn base64_encode(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(text)
}

fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}
