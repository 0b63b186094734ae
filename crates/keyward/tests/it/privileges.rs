//! Application privileges and the built-in privilege list through the real server.

use serde_json::json;

use crate::support::{TestServer, assert_error};

#[tokio::test]
async fn put_get_and_delete_application_privileges() {
    let server = TestServer::start().await;
    let reply = server
        .superuser()
        .put(
            "/_security/privilege?refresh=true",
            json!({
                "app": {
                    "p1": {"application": "app", "name": "p1", "actions": ["data:read/*", "action:login"], "metadata": {"key1": "val1a"}},
                    "p2": {"actions": ["data:write/*"]}
                },
                "app2": {"p1": {"actions": ["*"]}}
            }),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(
        reply.json(),
        json!({"app": {"p1": {"created": true}, "p2": {"created": true}}, "app2": {"p1": {"created": true}}})
    );
    let reply = server
        .superuser()
        .post(
            "/_security/privilege",
            json!({"app": {"p1": {"actions": ["data:read/*", "action:login"], "metadata": {"key3": "val3"}}}}),
        )
        .await;
    assert_eq!(reply.json(), json!({"app": {"p1": {"created": false}}}));

    let p1 = json!({"application": "app", "name": "p1", "actions": ["data:read/*", "action:login"], "metadata": {"key3": "val3"}});
    let reply = server.superuser().get("/_security/privilege/app/p1").await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json(), json!({"app": {"p1": p1}}));
    let reply = server
        .superuser()
        .get("/_security/privilege/app")
        .await
        .json();
    assert_eq!(reply["app"].as_object().unwrap().len(), 2);
    let reply = server.superuser().get("/_security/privilege").await.json();
    assert_eq!(reply["app2"]["p1"]["actions"], json!(["*"]));
    assert_eq!(reply["app2"]["p1"]["metadata"], json!({}));
    let reply = server
        .superuser()
        .get("/_security/privilege/app/p1,p2")
        .await
        .json();
    assert_eq!(reply["app"].as_object().unwrap().len(), 2);

    let missing = server.superuser().get("/_security/privilege/app3/p1").await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.json(), json!({}));

    let reply = server
        .superuser()
        .send("DELETE", "/_security/privilege/app/p1,p2,p0", None, &[])
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(
        reply.json(),
        json!({"app": {"p1": {"found": true}, "p2": {"found": true}, "p0": {"found": false}}})
    );
    let reply = server
        .superuser()
        .send("DELETE", "/_security/privilege/app/p1", None, &[])
        .await;
    assert_eq!(reply.status, 404);
    assert_eq!(reply.json(), json!({"app": {"p1": {"found": false}}}));
    assert_eq!(
        server
            .superuser()
            .get("/_security/privilege/app")
            .await
            .status,
        404
    );
}

#[tokio::test]
async fn bad_application_privileges_are_400_and_write_nothing() {
    let server = TestServer::start().await;
    let reply = server
        .superuser()
        .put(
            "/_security/privilege",
            json!({"app": {"p1": {"actions": ["read"], "metadata": {"_x": 1}}}, "ap": {"p1": {"actions": ["a:b"]}}}),
        )
        .await;
    assert_error(
        &reply,
        400,
        "action_request_validation_exception",
        "Validation Failed: 1: action [read] must contain one of [/ , * , :];2: metadata keys may not start with [_] (in privilege app p1);3: An application name prefix must be at least 3 characters long;",
    );
    let reply = server
        .superuser()
        .put(
            "/_security/privilege",
            json!({"app": {"p1": {"application": "other", "actions": ["a:b"]}}}),
        )
        .await;
    assert_error(
        &reply,
        400,
        "illegal_argument_exception",
        "privilege application [other] in source does not match the provided application [app]",
    );
    let reply = server
        .superuser()
        .put(
            "/_security/privilege",
            json!({"app": {"p1": {"actions": ["a:b"], "color": "red"}}}),
        )
        .await;
    assert_error(
        &reply,
        400,
        "x_content_parse_exception",
        "[application_privilege] unknown field [color]",
    );
    assert_eq!(
        server.superuser().get("/_security/privilege").await.json(),
        json!({})
    );
}

#[tokio::test]
async fn builtin_privileges_are_listed_sorted() {
    let server = TestServer::start().await;
    let reply = server
        .superuser()
        .get("/_security/privilege/_builtin")
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let body = reply.json();
    let cluster: Vec<&str> = body["cluster"]
        .as_array()
        .unwrap()
        .iter()
        .map(|name| name.as_str().unwrap())
        .collect();
    assert!(cluster.contains(&"manage_security") && cluster.contains(&"manage_own_api_key"));
    assert!(cluster.windows(2).all(|pair| pair[0] < pair[1]));
    assert!(body["index"].as_array().unwrap().contains(&json!("read")));
    assert_eq!(
        body["remote_cluster"],
        json!(["monitor_enrich", "monitor_stats"])
    );
}

#[tokio::test]
async fn read_security_reads_privileges_but_does_not_write_them() {
    let server = TestServer::start().await;
    server
        .superuser()
        .put(
            "/_security/role/reader",
            json!({"cluster": ["read_security"]}),
        )
        .await;
    server
        .superuser()
        .put(
            "/_security/user/reader",
            json!({"password": "reader-password", "roles": ["reader"]}),
        )
        .await;
    let reader = server.basic("reader", "reader-password");
    assert_eq!(reader.get("/_security/privilege").await.status, 200);
    assert_eq!(
        reader.get("/_security/privilege/_builtin").await.status,
        200
    );
    assert_eq!(reader.get("/_security/user").await.status, 200);
    assert_eq!(reader.get("/_security/role").await.status, 200);
    let reply = reader
        .put(
            "/_security/privilege",
            json!({"app": {"p1": {"actions": ["a:b"]}}}),
        )
        .await;
    assert_error(
        &reply,
        403,
        "security_exception",
        "action [cluster:admin/xpack/security/privilege/put] is unauthorized for user [reader] with effective roles [reader], this action is granted by the cluster privileges [manage_security,all]",
    );
    let reply = reader
        .send("DELETE", "/_security/privilege/app/p1", None, &[])
        .await;
    assert_eq!(reply.status, 403, "{}", reply.text);
}
