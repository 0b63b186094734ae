//! Roles through the real server: put, get, delete, the bulk forms, the cache, the built-in
//! roles, and roles taking effect for the users that hold them.

use serde_json::json;

use crate::support::{TestServer, assert_error};

#[tokio::test]
async fn put_get_and_delete_a_role() {
    let server = TestServer::start().await;
    let body = json!({
        "description": "Administers everything",
        "metadata": {"key1": "val1"},
        "cluster": ["manage_security"],
        "indices": [{"names": "*", "privileges": ["all"], "query": {"match_all": {}}}]
    });
    let reply = server
        .superuser()
        .put("/_security/role/admin_role?refresh=true", body.clone())
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json(), json!({"role": {"created": true}}));
    let reply = server
        .superuser()
        .post("/_security/role/admin_role", body)
        .await;
    assert_eq!(reply.json(), json!({"role": {"created": false}}));

    let shown = json!({
        "cluster": ["manage_security"],
        "indices": [{"names": ["*"], "privileges": ["all"], "query": "{\"match_all\":{}}", "allow_restricted_indices": false}],
        "applications": [],
        "run_as": [],
        "metadata": {"key1": "val1"},
        "transient_metadata": {"enabled": true},
        "description": "Administers everything"
    });
    let reply = server.superuser().get("/_security/role/admin_role").await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json(), json!({"admin_role": shown}));

    let reply = server
        .superuser()
        .get("/_security/role/admin_role,superuser,nope")
        .await
        .json();
    let names: Vec<&String> = reply.as_object().unwrap().keys().collect();
    assert_eq!(names, ["superuser", "admin_role"]);
    assert_eq!(reply["superuser"]["metadata"]["_reserved"], true);
    assert_eq!(reply["superuser"]["cluster"], json!(["all"]));

    // Every role: the built-in ones first.
    let all = server.superuser().get("/_security/role").await.json();
    let all = all.as_object().unwrap();
    for builtin in [
        "superuser",
        "viewer",
        "editor",
        "kibana_system",
        "monitoring_user",
        "kibana_admin",
        "logstash_system",
        "beats_system",
        "apm_system",
        "remote_monitoring_agent",
        "ingest_admin",
        "transport_client",
    ] {
        assert_eq!(all[builtin]["metadata"]["_reserved"], true, "{builtin}");
    }
    assert_eq!(all.keys().next_back().unwrap(), "admin_role");

    let missing = server.superuser().get("/_security/role/nope").await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.json(), json!({}));

    let reply = server
        .superuser()
        .send("DELETE", "/_security/role/admin_role", None, &[])
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json(), json!({"found": true}));
    let reply = server
        .superuser()
        .send("DELETE", "/_security/role/admin_role", None, &[])
        .await;
    assert_eq!(reply.status, 404);
    assert_eq!(reply.json(), json!({"found": false}));
}

#[tokio::test]
async fn built_in_roles_cannot_be_changed_or_deleted() {
    let server = TestServer::start().await;
    let reply = server
        .superuser()
        .put("/_security/role/superuser", json!({"cluster": ["monitor"]}))
        .await;
    assert_error(
        &reply,
        400,
        "action_request_validation_exception",
        "Validation Failed: 1: Role [superuser] is reserved and may not be used.;",
    );
    let reply = server
        .superuser()
        .send("DELETE", "/_security/role/viewer", None, &[])
        .await;
    assert_error(
        &reply,
        400,
        "illegal_argument_exception",
        "role [viewer] is reserved and cannot be deleted",
    );
    assert_eq!(
        server
            .superuser()
            .get("/_security/role/superuser")
            .await
            .json()["superuser"]["cluster"],
        json!(["all"])
    );
}

#[tokio::test]
async fn bad_roles_are_400_and_write_nothing() {
    let server = TestServer::start().await;
    let reply = server
        .superuser()
        .put("/_security/role/bad", json!({"cluster": ["fly"]}))
        .await;
    assert_eq!(reply.status, 400, "{}", reply.text);
    let body = reply.json();
    assert_eq!(body["error"]["type"], "action_request_validation_exception");
    assert!(
        body["error"]["reason"]
            .as_str()
            .unwrap()
            .starts_with("Validation Failed: 1: unknown cluster privilege [fly]. a privilege must be either one of the predefined cluster privilege names ["),
        "{body}"
    );
    let reply = server
        .superuser()
        .put(
            "/_security/role/bad",
            json!({"indices": [{"names": ["i"], "privileges": ["readd"]}]}),
        )
        .await;
    assert_eq!(reply.status, 400, "{}", reply.text);
    assert!(
        reply.json()["error"]["reason"]
            .as_str()
            .unwrap()
            .contains("unknown index privilege [readd]")
    );
    let reply = server
        .superuser()
        .put("/_security/role/bad", json!({"metadata": {"_x": 1}}))
        .await;
    assert_error(
        &reply,
        400,
        "action_request_validation_exception",
        "Validation Failed: 1: role descriptor metadata keys may not start with [_];",
    );
    let reply = server
        .superuser()
        .put("/_security/role/bad", json!({"clusterr": []}))
        .await;
    assert_error(
        &reply,
        400,
        "parse_exception",
        "failed to parse role [bad]. unexpected field [clusterr]",
    );
    let reply = server
        .superuser()
        .put(
            "/_security/role/bad",
            json!({"restriction": {"workflows": []}}),
        )
        .await;
    assert_error(
        &reply,
        400,
        "parse_exception",
        "failed to parse role [bad]. unexpected field [restriction]",
    );
    let reply = server
        .superuser()
        .put("/_security/role/%20bad", json!({}))
        .await;
    assert_eq!(reply.status, 400);
    assert!(
        reply.json()["error"]["reason"]
            .as_str()
            .unwrap()
            .contains("Role names must be at least 1 and no more than 507 characters")
    );
    assert_eq!(
        server.superuser().get("/_security/role/bad").await.status,
        404
    );
}

#[tokio::test]
async fn bulk_put_and_bulk_delete() {
    let server = TestServer::start().await;
    server
        .superuser()
        .put("/_security/role/same", json!({"cluster": ["monitor"]}))
        .await;
    server
        .superuser()
        .put("/_security/role/changed", json!({"cluster": ["monitor"]}))
        .await;
    let reply = server
        .superuser()
        .post(
            "/_security/role?refresh=wait_for",
            json!({"roles": {
                "fresh": {"description": "This is my test role", "indices": [{"names": "*", "privileges": ["all"]}]},
                "same": {"cluster": ["monitor"]},
                "changed": {"cluster": ["manage"]},
                "broken": {"cluster": ["fly"]},
                "superuser": {}
            }}),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let body = reply.json();
    assert_eq!(body["created"], json!(["fresh"]));
    assert_eq!(body["updated"], json!(["changed"]));
    assert_eq!(body["noop"], json!(["same"]));
    assert_eq!(body["errors"]["count"], 2);
    assert_eq!(
        body["errors"]["details"]["broken"]["type"],
        "action_request_validation_exception"
    );
    assert_eq!(
        body["errors"]["details"]["superuser"]["reason"],
        "Validation Failed: 1: Role [superuser] is reserved and may not be used.;"
    );
    assert_eq!(
        server.superuser().get("/_security/role/fresh").await.json()["fresh"]["description"],
        "This is my test role"
    );
    assert_eq!(
        server
            .superuser()
            .get("/_security/role/broken")
            .await
            .status,
        404
    );

    let reply = server
        .superuser()
        .delete(
            "/_security/role",
            json!({"names": ["fresh", "gone", "viewer"]}),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let body = reply.json();
    assert_eq!(body["deleted"], json!(["fresh"]));
    assert_eq!(body["not_found"], json!(["gone"]));
    assert_eq!(body["errors"]["count"], 1);
    assert_eq!(
        body["errors"]["details"]["viewer"]["reason"],
        "role [viewer] is reserved and cannot be deleted"
    );

    let reply = server
        .superuser()
        .post("/_security/role", json!({"roles": {}, "extra": 1}))
        .await;
    assert_error(
        &reply,
        400,
        "x_content_parse_exception",
        "[bulk_put_roles_request] unknown field [extra]",
    );
}

#[tokio::test]
async fn role_changes_apply_to_users_at_once() {
    let server = TestServer::start().await;
    server
        .superuser()
        .put("/_security/role/ops", json!({"cluster": ["monitor"]}))
        .await;
    let reply = server
        .superuser()
        .put(
            "/_security/user/ops_user",
            json!({"password": "ops-password", "roles": ["ops"]}),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let ops = server.basic("ops_user", "ops-password");
    assert_eq!(ops.get("/_security/role/ops").await.status, 403);

    server
        .superuser()
        .put("/_security/role/ops", json!({"cluster": ["read_security"]}))
        .await;
    assert_eq!(ops.get("/_security/role/ops").await.status, 200);

    server
        .superuser()
        .send("DELETE", "/_security/role/ops", None, &[])
        .await;
    let reply = ops.get("/_security/user").await;
    assert_eq!(reply.status, 403, "{}", reply.text);

    let reply = server
        .superuser()
        .post_empty("/_security/role/ops,other/_clear_cache")
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let body = reply.json();
    assert_eq!(
        body["_nodes"],
        json!({"total": 1, "successful": 1, "failed": 0})
    );
    assert!(body["cluster_name"].is_string());
    assert_eq!(body["nodes"].as_object().unwrap().len(), 1);

    // The role is gone: Elasticsearch names it as assigned but not found.
    let reply = ops.post_empty("/_security/role/ops/_clear_cache").await;
    assert_error(
        &reply,
        403,
        "security_exception",
        "action [cluster:admin/xpack/security/roles/cache/clear] is unauthorized for user [ops_user] with effective roles [] (assigned roles [ops] were not found), this action is granted by the cluster privileges [manage_security,all]",
    );
}
