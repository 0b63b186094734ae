//! `security.get_settings` / `security.update_settings`: the security indices' replica settings,
//! validated, stored and answered back.

use serde_json::json;

use crate::support::{TestServer, assert_error};

#[tokio::test]
async fn settings_are_read_changed_reset_and_kept_across_restarts() {
    let mut server = TestServer::start().await;
    let admin = server.superuser();
    let initial = admin.get("/_security/settings").await;
    assert_eq!(initial.status, 200, "{}", initial.text);
    for index in ["security", "security-tokens", "security-profile"] {
        assert_eq!(
            initial.json()[index],
            json!({"index": {"auto_expand_replicas": "0-1", "number_of_replicas": "0"}}),
            "{index}"
        );
    }
    let reply = admin
        .put(
            "/_security/settings",
            json!({"security": {"index.auto_expand_replicas": null, "index.number_of_replicas": 1},
                   "security-profile": {"index.auto_expand_replicas": "0-all"}}),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json(), json!({"acknowledged": true}));
    let expected = json!({
        "security": {"index": {"auto_expand_replicas": "0-1", "number_of_replicas": "1"}},
        "security-tokens": {"index": {"auto_expand_replicas": "0-1", "number_of_replicas": "0"}},
        "security-profile": {"index": {"auto_expand_replicas": "0-all", "number_of_replicas": "0"}},
    });
    assert_eq!(admin.get("/_security/settings").await.json(), expected);

    assert_eq!(server.stop(), Some(0), "{}", server.logs());
    let server = TestServer::start_in(server.data.clone(), &[]).await;
    let admin = server.superuser();
    assert_eq!(admin.get("/_security/settings").await.json(), expected);
    // null resets a setting to its default.
    admin
        .put(
            "/_security/settings",
            json!({"security": {"index.number_of_replicas": null}}),
        )
        .await;
    assert_eq!(
        admin.get("/_security/settings").await.json()["security"]["index"]["number_of_replicas"],
        "0"
    );
}

#[tokio::test]
async fn only_replica_settings_may_change_and_only_for_security_admins() {
    let server = TestServer::start().await;
    let admin = server.superuser();
    let reply = admin
        .put(
            "/_security/settings",
            json!({"security": {"index.max_ngram_diff": 0}}),
        )
        .await;
    assert_error(
        &reply,
        400,
        "action_request_validation_exception",
        "Validation Failed: 1: illegal settings for index [security]: [index.max_ngram_diff], these settings may not be configured. Only the following settings may be configured for that index: [index.auto_expand_replicas, index.number_of_replicas];",
    );
    let reply = admin.put("/_security/settings", json!({})).await;
    assert_error(
        &reply,
        400,
        "action_request_validation_exception",
        "Validation Failed: 1: No settings given to update;",
    );
    server
        .put_role("reader", json!({"cluster": ["read_security"]}))
        .await;
    server
        .put_user("reader_user", "password-1", &["reader"])
        .await;
    let reader = server.basic("reader_user", "password-1");
    assert_eq!(reader.get("/_security/settings").await.status, 200);
    let reply = reader
        .put(
            "/_security/settings",
            json!({"security": {"index.number_of_replicas": 2}}),
        )
        .await;
    assert_eq!(reply.status, 403, "{}", reply.text);
    assert_eq!(
        admin.get("/_security/settings").await.json()["security"]["index"]["number_of_replicas"],
        "0"
    );
}
