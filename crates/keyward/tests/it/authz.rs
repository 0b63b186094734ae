//! Authorization through the real server: has-privileges for users and API keys (the limited-by
//! intersection), get-user-privileges, run-as and clearing the privileges cache.

use serde_json::{Value, json};

use crate::support::{TestServer, assert_error};

const PASSWORD: &str = "s3krit-password";

async fn put_role(server: &TestServer, name: &str, body: Value) {
    server.put_role(name, body).await;
}

async fn put_user(server: &TestServer, name: &str, roles: &[&str]) {
    server.put_user(name, PASSWORD, roles).await;
}

#[tokio::test]
async fn limited_key_reads_only_where_key_and_owner_both_allow() {
    let server = TestServer::start().await;
    put_role(
        &server,
        "logs_a_reader",
        json!({"cluster": ["manage_own_api_key"], "indices": [{"names": ["logs-a*"], "privileges": ["read"]}]}),
    )
    .await;
    put_user(&server, "owner", &["logs_a_reader"]).await;
    let owner = server.basic("owner", PASSWORD);
    let created = owner
        .post(
            "/_security/api_key",
            json!({"name": "k", "role_descriptors": {"r": {"indices": [{"names": ["logs-*"], "privileges": ["read"]}]}}}),
        )
        .await;
    assert_eq!(created.status, 200, "{}", created.text);
    let encoded = created.json()["encoded"].as_str().unwrap().to_owned();
    let check = json!({"index": [{"names": ["logs-abc", "logs-b", "logs-a*", "logs-*"], "privileges": ["read", "write"]}]});

    let reply = server
        .api_key(&encoded)
        .post("/_security/user/_has_privileges", check.clone())
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(
        reply.json(),
        json!({
            "username": "owner",
            "has_all_requested": false,
            "cluster": {},
            "index": {
                "logs-abc": {"read": true, "write": false},
                "logs-b": {"read": false, "write": false},
                "logs-a*": {"read": true, "write": false},
                "logs-*": {"read": false, "write": false}
            },
            "application": {}
        })
    );
    // The owner alone holds the same, since its role is narrower than the key's.
    let reply = owner
        .post("/_security/user/owner/_has_privileges", check)
        .await;
    assert_eq!(reply.json()["index"]["logs-abc"]["read"], true);
    assert_eq!(reply.json()["index"]["logs-b"]["read"], false);
}

#[tokio::test]
async fn has_privileges_covers_cluster_index_and_applications() {
    let server = TestServer::start().await;
    let reply = server
        .superuser()
        .put(
            "/_security/privilege",
            json!({"myapp": {"read": {"actions": ["data:read/*"]}, "write": {"actions": ["data:write/*"]}}}),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let key = server
        .create_key(json!({"name": "k", "role_descriptors": {
            "role-a": {"cluster": ["all"], "index": [{"names": ["index-a"], "privileges": ["read"]}],
                       "applications": [{"application": "myapp", "privileges": ["read"], "resources": ["*"]}]},
            "role-b": {"cluster": ["manage"], "index": [{"names": ["index-b"], "privileges": ["all"]}]}
        }}))
        .await;
    let reply = server
        .api_key(key["encoded"].as_str().unwrap())
        .post(
            "/_security/user/_has_privileges",
            json!({
                "cluster": ["manage", "monitor", "manage_security"],
                "index": [
                    {"names": ["*", "index-a"], "privileges": ["read", "index", "write"]},
                    {"names": ["index-a", "index-b"], "privileges": ["read", "write"]}
                ],
                "application": [{"application": "myapp", "resources": ["*", "some-other-res"], "privileges": ["data:read/me", "data:write/me"]}]
            }),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(
        reply.json(),
        json!({
            "username": "elastic",
            "has_all_requested": false,
            "cluster": {"manage": true, "monitor": true, "manage_security": true},
            "index": {
                "*": {"read": false, "index": false, "write": false},
                "index-a": {"read": true, "index": false, "write": false},
                "index-b": {"read": true, "write": true}
            },
            "application": {"myapp": {
                "*": {"data:read/me": true, "data:write/me": false},
                "some-other-res": {"data:read/me": true, "data:write/me": false}
            }}
        })
    );

    let reply = server
        .superuser()
        .post(
            "/_security/user/_has_privileges",
            json!({"index": [{"names": "create", "privileges": ["all"]}, {"names": [".security"], "privileges": ["read", "write"]}]}),
        )
        .await;
    assert_eq!(
        reply.json()["index"],
        json!({"create": {"all": true}, ".security": {"read": true, "write": false}})
    );
    assert_eq!(reply.json()["has_all_requested"], false);
}

#[tokio::test]
async fn has_privileges_rejects_bad_requests() {
    let server = TestServer::start().await;
    let reply = server
        .superuser()
        .post(
            "/_security/user/_has_privileges",
            json!({"index": [{"names": ["a"], "privileges": ["reed"]}]}),
        )
        .await;
    assert_eq!(reply.status, 400, "{}", reply.text);
    assert_eq!(reply.json()["error"]["type"], "illegal_argument_exception");
    assert!(
        reply.json()["error"]["reason"]
            .as_str()
            .unwrap()
            .starts_with("unknown index privilege [reed]")
    );
    let reply = server
        .superuser()
        .post(
            "/_security/user/someone/_has_privileges",
            json!({"cluster": ["all"]}),
        )
        .await;
    assert_error(
        &reply,
        400,
        "illegal_argument_exception",
        "users may only check the privileges of their own account",
    );
    let reply = server
        .superuser()
        .post("/_security/user/_has_privileges", json!({}))
        .await;
    assert_eq!(reply.status, 400, "{}", reply.text);
    assert_eq!(
        reply.json()["error"]["type"],
        "action_request_validation_exception"
    );
}

#[tokio::test]
async fn get_user_privileges_for_users_and_keys() {
    let server = TestServer::start().await;
    put_role(
        &server,
        "mixed",
        json!({"cluster": ["monitor", "manage_own_api_key"],
               "indices": [{"names": ["logs-*"], "privileges": ["read"], "query": {"match_all": {}}},
                           {"names": ["logs-*"], "privileges": ["view_index_metadata"]}],
               "applications": [{"application": "app", "privileges": ["p1"], "resources": ["*"]}],
               "run_as": ["bob"]}),
    )
    .await;
    put_user(&server, "mixed_user", &["mixed"]).await;
    let user = server.basic("mixed_user", PASSWORD);
    let reply = user.get("/_security/user/_privileges").await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(
        reply.json(),
        json!({
            "cluster": ["manage_own_api_key", "monitor"],
            "global": [],
            "indices": [{"names": ["logs-*"], "privileges": ["read", "view_index_metadata"],
                         "query": ["{\"match_all\":{}}"], "allow_restricted_indices": false}],
            "applications": [{"application": "app", "privileges": ["p1"], "resources": ["*"]}],
            "run_as": ["bob"]
        })
    );

    let derived = user
        .post("/_security/api_key", json!({"name": "plain"}))
        .await;
    let reply = server
        .api_key(derived.json()["encoded"].as_str().unwrap())
        .get("/_security/user/_privileges")
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(
        reply.json()["cluster"],
        json!(["manage_own_api_key", "monitor"])
    );

    let with_roles = user
        .post(
            "/_security/api_key",
            json!({"name": "scoped", "role_descriptors": {"r": {"cluster": ["monitor"]}}}),
        )
        .await;
    let reply = server
        .api_key(with_roles.json()["encoded"].as_str().unwrap())
        .get("/_security/user/_privileges")
        .await;
    assert_error(
        &reply,
        400,
        "illegal_argument_exception",
        "Cannot retrieve privileges for API keys with assigned role descriptors. Please use the Get API key information API https://ela.st/es-api-get-api-key",
    );
}

#[tokio::test]
async fn run_as_switches_the_user_when_allowed() {
    let server = TestServer::start().await;
    put_role(&server, "runner", json!({"run_as": ["target*"]})).await;
    put_role(&server, "target_role", json!({"cluster": ["monitor"]})).await;
    put_user(&server, "runner", &["runner"]).await;
    put_user(&server, "target1", &["target_role"]).await;
    put_user(&server, "other", &["target_role"]).await;
    let runner = server.basic("runner", PASSWORD);

    let reply = runner
        .send(
            "GET",
            "/_security/_authenticate",
            None,
            &[("es-security-runas-user", "target1")],
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let body = reply.json();
    assert_eq!(body["username"], "target1");
    assert_eq!(body["roles"], json!(["target_role"]));
    assert_eq!(
        body["authentication_realm"],
        json!({"name": "default_native", "type": "native"})
    );
    assert_eq!(
        body["lookup_realm"],
        json!({"name": "default_native", "type": "native"})
    );
    let reply = runner
        .send(
            "GET",
            "/_cluster/health",
            None,
            &[("es-security-runas-user", "target1")],
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);

    let reply = runner
        .send(
            "GET",
            "/_security/_authenticate",
            None,
            &[("es-security-runas-user", "other")],
        )
        .await;
    assert_error(
        &reply,
        403,
        "security_exception",
        "action [cluster:admin/xpack/security/user/authenticate] is unauthorized for user [runner] with effective roles [runner], because user [runner] is unauthorized to run as [other]",
    );
    let reply = runner
        .send(
            "GET",
            "/_cluster/health",
            None,
            &[("es-security-runas-user", "target-missing")],
        )
        .await;
    assert_error(
        &reply,
        403,
        "security_exception",
        "action [cluster:monitor/health] is unauthorized for user [runner] with effective roles [runner], because user [runner] is unauthorized to run as [target-missing]",
    );
    // The superuser may run as anyone, reserved users included.
    let reply = server
        .superuser()
        .send(
            "GET",
            "/_security/_authenticate",
            None,
            &[("es-security-runas-user", "kibana_system")],
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json()["username"], "kibana_system");
    assert_eq!(reply.json()["authentication_realm"]["name"], "reserved");
}

#[tokio::test]
async fn denials_name_roles_that_were_not_found() {
    let server = TestServer::start().await;
    put_role(&server, "mon", json!({"cluster": ["monitor"]})).await;
    put_user(&server, "ghosted", &["mon", "ghost"]).await;
    let reply = server
        .basic("ghosted", PASSWORD)
        .post_empty("/_security/privilege/app/_clear_cache")
        .await;
    assert_error(
        &reply,
        403,
        "security_exception",
        "action [cluster:admin/xpack/security/privilege/cache/clear] is unauthorized for user [ghosted] with effective roles [mon] (assigned roles [ghost] were not found), this action is granted by the cluster privileges [manage_security,all]",
    );
}

#[tokio::test]
async fn clear_cached_privileges_answers_for_the_node() {
    let server = TestServer::start().await;
    for application in ["app", "*"] {
        let reply = server
            .superuser()
            .send(
                "POST",
                &format!("/_security/privilege/{application}/_clear_cache"),
                None,
                &[],
            )
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        assert_eq!(reply.json()["_nodes"]["failed"], 0);
    }
}
