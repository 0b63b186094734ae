//! Role mappings through the real server: put, get and delete round trips, Elasticsearch's
//! validation errors, the privileges they need, and bounded work on hostile rules.

use std::sync::Arc;

use serde_json::{Value, json};

use crate::support::{TestServer, assert_error};

fn everyone() -> Value {
    json!({
        "enabled": true,
        "roles": ["kibana_user"],
        "rules": {"field": {"username": "*"}},
        "metadata": {"uuid": "b9a59ba9-6b92-4be2-bb8d-02bb270cb3a7"}
    })
}

#[tokio::test]
async fn put_get_and_delete_round_trip() {
    let server = TestServer::start().await;
    let admin = server.superuser();
    let reply = admin
        .put("/_security/role_mapping/everyone?refresh=true", everyone())
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json(), json!({"role_mapping": {"created": true}}));
    let reply = admin
        .post("/_security/role_mapping/everyone", everyone())
        .await;
    assert_eq!(reply.json(), json!({"role_mapping": {"created": false}}));

    let templated = json!({
        "role_templates": [
            {"template": {"source": "{{#tojson}}groups{{/tojson}}"}, "format": "json"},
            {"template": "{\"source\":\"_user_{{username}}\"}"}
        ],
        "rules": {"all": [
            {"field": {"realm.name": "ldap1"}},
            {"any": [{"field": {"groups": "*,ou=admin,dc=example,dc=com"}}, {"field": {"metadata.level": [1, 2]}}]},
            {"except": {"field": {"dn": "/.*,ou=guests,.*/"}}}
        ]},
        "enabled": false
    });
    let reply = admin
        .put("/_security/role_mapping/templated", templated)
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json(), json!({"role_mapping": {"created": true}}));

    let shown_everyone = json!({
        "enabled": true,
        "roles": ["kibana_user"],
        "rules": {"field": {"username": "*"}},
        "metadata": {"uuid": "b9a59ba9-6b92-4be2-bb8d-02bb270cb3a7"}
    });
    let shown_templated = json!({
        "enabled": false,
        "roles": [],
        "role_templates": [
            {"template": "{\"source\":\"{{#tojson}}groups{{/tojson}}\"}", "format": "json"},
            {"template": "{\"source\":\"_user_{{username}}\"}", "format": "string"}
        ],
        "rules": {"all": [
            {"field": {"realm.name": "ldap1"}},
            {"any": [{"field": {"groups": "*,ou=admin,dc=example,dc=com"}}, {"field": {"metadata.level": [1, 2]}}]},
            {"except": {"field": {"dn": "/.*,ou=guests,.*/"}}}
        ]},
        "metadata": {}
    });
    let reply = admin.get("/_security/role_mapping/everyone").await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json(), json!({"everyone": shown_everyone}));
    let reply = admin.get("/_security/role_mapping").await;
    assert_eq!(
        reply.json(),
        json!({"everyone": shown_everyone, "templated": shown_templated})
    );
    let reply = admin
        .get("/_security/role_mapping/templated,nope,everyone")
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(
        reply.json(),
        json!({"everyone": shown_everyone, "templated": shown_templated})
    );

    let missing = admin.get("/_security/role_mapping/nope,other").await;
    assert_eq!(missing.status, 404, "{}", missing.text);
    assert_eq!(missing.json(), json!({}));

    let reply = admin
        .send("DELETE", "/_security/role_mapping/everyone", None, &[])
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json(), json!({"found": true}));
    let reply = admin
        .send("DELETE", "/_security/role_mapping/everyone", None, &[])
        .await;
    assert_eq!(reply.status, 404, "{}", reply.text);
    assert_eq!(reply.json(), json!({"found": false}));
    assert_eq!(
        admin.get("/_security/role_mapping").await.json(),
        json!({"templated": shown_templated})
    );
}

#[tokio::test]
async fn mappings_survive_a_restart() {
    let data = Arc::new(tempfile::tempdir().unwrap());
    let mut server = TestServer::start_in(Arc::clone(&data), &[]).await;
    let reply = server
        .superuser()
        .put("/_security/role_mapping/everyone", everyone())
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    server.stop();
    drop(server);
    let server = TestServer::start_in(data, &[]).await;
    let reply = server.superuser().get("/_security/role_mapping").await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json()["everyone"]["metadata"], everyone()["metadata"]);
}

#[tokio::test]
async fn validation_errors_are_elasticsearch_errors() {
    let server = TestServer::start().await;
    let admin = server.superuser();
    let server = &server;
    let put = |body: Value| async move {
        server
            .superuser()
            .put("/_security/role_mapping/m", body)
            .await
    };
    assert_error(
        &put(json!({"roles": ["r"]})).await,
        400,
        "action_request_validation_exception",
        "Validation Failed: 1: role-mapping rules are missing;",
    );
    assert_error(
        &put(json!({"rules": {"field": {"username": "*"}}})).await,
        400,
        "action_request_validation_exception",
        "Validation Failed: 1: role-mapping roles or role-templates are missing;",
    );
    assert_error(
        &put(json!({
            "roles": ["r"],
            "role_templates": [{"template": {"source": "r"}}],
            "rules": {"field": {"username": "*"}},
            "metadata": {"_reserved": true}
        }))
        .await,
        400,
        "action_request_validation_exception",
        "Validation Failed: 1: role-mapping cannot have both roles and role-templates;2: metadata keys may not start with [_];",
    );
    assert_error(
        &put(json!({"roles": ["r"], "rules": {"field": {"username": "*"}}, "bogus": 1})).await,
        400,
        "x_content_parse_exception",
        "[role-mapping] unknown field [bogus]",
    );

    let reply =
        put(json!({"roles": ["r"], "rules": {"except": {"field": {"username": "x"}}}})).await;
    assert_error(
        &reply,
        400,
        "x_content_parse_exception",
        "[role-mapping] failed to parse field [rules]",
    );
    let body = reply.json();
    assert_eq!(body["error"]["caused_by"]["type"], "parse_exception");
    assert_eq!(
        body["error"]["caused_by"]["reason"],
        "failed to parse rules expression. field [except] is not allowed within [rules]"
    );

    let reply = put(json!({"roles": ["r"], "rules": {"field": {"username": {"nested": 1}}}})).await;
    assert_eq!(reply.status, 400, "{}", reply.text);
    assert_eq!(
        reply.json()["error"]["caused_by"]["reason"],
        "failed to parse rules expression. expected a field value but found [START_OBJECT] instead"
    );
    let reply = put(json!({"roles": ["r"], "rules": {"field": {"username": "/[/"}}})).await;
    assert_eq!(reply.status, 400, "{}", reply.text);
    assert_eq!(
        reply.json()["error"]["caused_by"]["type"],
        "illegal_argument_exception"
    );

    let reply = put(json!({
        "role_templates": [{"template": {"source": "{{#open}}"}}],
        "rules": {"field": {"username": "*"}}
    }))
    .await;
    assert_eq!(reply.status, 400, "{}", reply.text);
    assert_eq!(
        reply.json()["error"]["caused_by"]["reason"],
        "failed to compile role template: section [open] is not closed"
    );

    assert_error(
        &admin
            .put(
                "/_security/role_mapping/x-read-only-operator-mapping",
                json!({"roles": ["r"], "rules": {"field": {"username": "*"}}}),
            )
            .await,
        400,
        "illegal_argument_exception",
        "Invalid mapping name [x-read-only-operator-mapping]. [-read-only-operator-mapping] is not an allowed suffix",
    );
    assert_error(
        &admin
            .send("PUT", "/_security/role_mapping/m", None, &[])
            .await,
        400,
        "parse_exception",
        "request body is required",
    );
    // Nothing was stored by any of them.
    let reply = admin.get("/_security/role_mapping").await;
    assert_eq!(reply.json(), json!({}));
}

#[tokio::test]
async fn managing_mappings_needs_manage_security() {
    let server = TestServer::start().await;
    server
        .superuser()
        .put("/_security/role_mapping/everyone", everyone())
        .await;
    server
        .put_role("reader", json!({"cluster": ["read_security"]}))
        .await;
    server
        .put_role("watcher", json!({"cluster": ["monitor"]}))
        .await;
    server
        .put_user("reader", "reader-password", &["reader"])
        .await;
    server
        .put_user("watcher", "watcher-password", &["watcher"])
        .await;

    let watcher = server.basic("watcher", "watcher-password");
    assert_error(
        &watcher.put("/_security/role_mapping/m", everyone()).await,
        403,
        "security_exception",
        "action [cluster:admin/xpack/security/role_mapping/put] is unauthorized for user [watcher] with effective roles [watcher], this action is granted by the cluster privileges [manage_security,all]",
    );
    assert_error(
        &watcher.get("/_security/role_mapping").await,
        403,
        "security_exception",
        "action [cluster:admin/xpack/security/role_mapping/get] is unauthorized for user [watcher] with effective roles [watcher], this action is granted by the cluster privileges [manage_security,read_security,all]",
    );

    // read_security reads mappings but cannot change them.
    let reader = server.basic("reader", "reader-password");
    let reply = reader.get("/_security/role_mapping/everyone").await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json()["everyone"]["roles"], json!(["kibana_user"]));
    assert_error(
        &reader
            .send("DELETE", "/_security/role_mapping/everyone", None, &[])
            .await,
        403,
        "security_exception",
        "action [cluster:admin/xpack/security/role_mapping/delete] is unauthorized for user [reader] with effective roles [reader], this action is granted by the cluster privileges [manage_security,all]",
    );
    assert_eq!(
        server
            .superuser()
            .get("/_security/role_mapping/everyone")
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn hostile_rules_are_bounded() {
    let server = TestServer::start().await;
    let admin = server.superuser();

    // Nested past the body parser's depth: refused before any field is read.
    let mut rules = json!({"field": {"username": "x"}});
    for _ in 0..200 {
        rules = json!({"all": [rules]});
    }
    let reply = admin
        .put(
            "/_security/role_mapping/deep",
            json!({"roles": ["r"], "rules": rules}),
        )
        .await;
    assert_eq!(reply.status, 400, "{}", reply.text);
    assert_eq!(reply.json()["error"]["type"], "x_content_parse_exception");

    // Deep but within it: accepted and served back unchanged.
    let mut rules = json!({"field": {"username": "x"}});
    for _ in 0..60 {
        rules = json!({"any": [rules]});
    }
    let reply = admin
        .put(
            "/_security/role_mapping/nested",
            json!({"roles": ["r"], "rules": rules.clone()}),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let reply = admin.get("/_security/role_mapping/nested").await;
    assert_eq!(reply.json()["nested"]["rules"], rules);

    // Many values, and patterns too complex to compile: a clear 400, never a 500.
    let values: Vec<String> = (0..20_000).map(|n| format!("user-{n}-*")).collect();
    let reply = admin
        .put(
            "/_security/role_mapping/wide",
            json!({"roles": ["r"], "rules": {"field": {"username": values}}}),
        )
        .await;
    assert!(reply.status == 200 || reply.status == 400, "{}", reply.text);
    let reply = admin
        .put(
            "/_security/role_mapping/complex",
            json!({"roles": ["r"], "rules": {"field": {"username": "/(a|b)*a(a|b)(a|b)(a|b)(a|b)(a|b)(a|b)(a|b)(a|b)(a|b)(a|b)(a|b)(a|b)(a|b)(a|b)(a|b)(a|b)(a|b)(a|b)(a|b)(a|b)(a|b)(a|b)/"}}}),
        )
        .await;
    assert_eq!(reply.status, 400, "{}", reply.text);
    assert_eq!(
        reply.json()["error"]["caused_by"]["type"],
        "illegal_argument_exception"
    );

    // Malformed bodies of every shape: 400 with an error type, nothing stored.
    for body in [
        json!({"roles": ["r"], "rules": "not an object"}),
        json!({"roles": ["r"], "rules": []}),
        json!({"roles": ["r"], "rules": {"field": {}}}),
        json!({"roles": ["r"], "rules": {"all": [1, 2]}}),
        json!({"roles": {"a": 1}, "rules": {"all": []}}),
        json!({"role_templates": "x", "rules": {"all": []}}),
        json!({"role_templates": [{"template": 5}], "rules": {"all": []}}),
        json!({"role_templates": [{"template": {"source": "x"}, "format": 1}], "rules": {"all": []}}),
        json!({"role_templates": [{"template": {"id": "stored"}}], "rules": {"all": []}}),
        json!([1, 2, 3]),
        json!("text"),
    ] {
        let reply = admin.put("/_security/role_mapping/bad", body.clone()).await;
        assert_eq!(reply.status, 400, "{body}: {}", reply.text);
        assert!(reply.json()["error"]["type"].is_string(), "{}", reply.text);
    }
    assert_eq!(admin.get("/_security/role_mapping/bad").await.status, 404);
}
