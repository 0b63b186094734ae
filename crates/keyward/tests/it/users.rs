//! Native and reserved users through the real server: put, get, delete, enable, disable,
//! change password, authentication as those users, and what they may do.

use serde_json::json;

use crate::support::{TestServer, assert_error, assert_unauthenticated};

/// Creates `username` with `password` and `roles` as the superuser.
async fn put_user(server: &TestServer, username: &str, password: &str, roles: serde_json::Value) {
    let reply = server
        .superuser()
        .put(
            &format!("/_security/user/{username}"),
            json!({"password": password, "roles": roles}),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
}

fn user_failed(username: &str, path: &str) -> String {
    format!("unable to authenticate user [{username}] for REST request [{path}]")
}

#[tokio::test]
async fn put_get_authenticate_and_delete_a_native_user() {
    let server = TestServer::start().await;
    let body = json!({
        "password": "s3krit-password",
        "roles": ["superuser", "unknown_role"],
        "full_name": "Joe Doe",
        "email": "joe@example.com",
        "metadata": {"team": "a"}
    });
    let reply = server
        .superuser()
        .put("/_security/user/joe?refresh=wait_for", body.clone())
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json(), json!({"created": true}));
    let again = server.superuser().post("/_security/user/joe", body).await;
    assert_eq!(again.json(), json!({"created": false}));

    let joe = json!({"username": "joe", "roles": ["superuser", "unknown_role"], "full_name": "Joe Doe",
                     "email": "joe@example.com", "metadata": {"team": "a"}, "enabled": true});
    let reply = server.superuser().get("/_security/user/joe").await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json(), json!({"joe": joe}));

    // All users: the reserved ones, then the native ones.
    let all = server.superuser().get("/_security/user").await.json();
    let names: Vec<&String> = all.as_object().unwrap().keys().collect();
    assert_eq!(
        names,
        [
            "elastic",
            "kibana",
            "kibana_system",
            "logstash_system",
            "beats_system",
            "apm_system",
            "remote_monitoring_user",
            "joe"
        ]
    );
    assert_eq!(
        all["elastic"],
        json!({"username": "elastic", "roles": ["superuser"], "full_name": null, "email": null,
               "metadata": {"_reserved": true}, "enabled": true})
    );
    assert_eq!(all["kibana"]["metadata"]["_deprecated"], true);
    assert_eq!(all["joe"], joe);
    let two = server
        .superuser()
        .get("/_security/user/joe,elastic,nobody")
        .await
        .json();
    assert_eq!(two.as_object().unwrap().len(), 2);

    let missing = server.superuser().get("/_security/user/nobody").await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.json(), json!({}));

    // Basic authentication in the native realm; unknown roles grant nothing but do not fail.
    let me = server
        .basic("joe", "s3krit-password")
        .get("/_security/_authenticate")
        .await;
    assert_eq!(me.status, 200, "{}", me.text);
    let me = me.json();
    assert_eq!(me["username"], "joe");
    assert_eq!(me["roles"], json!(["superuser", "unknown_role"]));
    assert_eq!(me["full_name"], "Joe Doe");
    assert_eq!(
        me["authentication_realm"],
        json!({"name": "default_native", "type": "native"})
    );
    assert_eq!(
        me["lookup_realm"],
        json!({"name": "default_native", "type": "native"})
    );

    let reply = server
        .superuser()
        .send("DELETE", "/_security/user/joe", None, &[])
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json(), json!({"found": true}));
    let reply = server
        .superuser()
        .send("DELETE", "/_security/user/joe", None, &[])
        .await;
    assert_eq!(reply.status, 404, "{}", reply.text);
    assert_eq!(reply.json(), json!({"found": false}));
    // A deleted user no longer authenticates, cached or not.
    let reply = server
        .basic("joe", "s3krit-password")
        .get("/_cluster/health")
        .await;
    assert_unauthenticated(&reply, &user_failed("joe", "/_cluster/health"));
}

#[tokio::test]
async fn updating_a_user_without_a_password_keeps_it() {
    let server = TestServer::start().await;
    put_user(&server, "ann", "first-password", json!(["viewer"])).await;
    let reply = server
        .superuser()
        .put(
            "/_security/user/ann",
            json!({"roles": ["superuser"], "full_name": "Ann"}),
        )
        .await;
    assert_eq!(reply.json(), json!({"created": false}));
    let me = server
        .basic("ann", "first-password")
        .get("/_security/_authenticate")
        .await
        .json();
    assert_eq!(me["roles"], json!(["superuser"]));
    assert_eq!(me["full_name"], "Ann");

    // A new user needs a password.
    let reply = server
        .superuser()
        .put("/_security/user/bob", json!({"roles": []}))
        .await;
    assert_error(
        &reply,
        400,
        "validation_exception",
        "Validation Failed: 1: password must be specified unless you are updating an existing user;",
    );
}

#[tokio::test]
async fn a_pre_hashed_password_authenticates() {
    let server = TestServer::start().await;
    let hash = bcrypt::hash("hashed-password", 10).unwrap();
    let reply = server
        .superuser()
        .put(
            "/_security/user/hashed",
            json!({"password_hash": hash, "roles": ["viewer"]}),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let reply = server
        .basic("hashed", "hashed-password")
        .get("/_security/_authenticate")
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);

    let reply = server
        .superuser()
        .put(
            "/_security/user/plain",
            json!({"password_hash": "not-a-hash", "roles": []}),
        )
        .await;
    assert_eq!(reply.status, 400, "{}", reply.text);
    let body = reply.json();
    assert_eq!(body["error"]["type"], "illegal_argument_exception");
    assert!(
        body["error"]["reason"]
            .as_str()
            .unwrap()
            .starts_with("The provided password hash is not a hash"),
        "{body}"
    );
    assert_eq!(
        server.superuser().get("/_security/user/plain").await.status,
        404
    );
}

#[tokio::test]
async fn bad_user_input_is_400_and_writes_nothing() {
    let server = TestServer::start().await;
    let cases = [
        (
            json!({"password": "short", "roles": []}),
            "validation_exception",
            "Validation Failed: 1: passwords must be at least [6] characters long;",
        ),
        (
            json!({"password": "long-enough", "roles": [], "metadata": {"_secret": 1}}),
            "action_request_validation_exception",
            "Validation Failed: 1: metadata keys may not start with [_];",
        ),
        (
            json!({"password": "long-enough"}),
            "action_request_validation_exception",
            "Validation Failed: 1: roles are missing;",
        ),
        (
            json!({"password": "long-enough", "roles": [], "shoe_size": 9}),
            "parse_exception",
            "failed to parse add user request. unexpected field [shoe_size]",
        ),
        (
            json!({"password": "long-enough", "roles": [], "enabled": "yes"}),
            "parse_exception",
            "failed to parse add user request. expected field [enabled] to be a boolean, but found [VALUE_STRING] instead",
        ),
    ];
    for (body, error_type, reason) in cases {
        let reply = server.superuser().put("/_security/user/eve", body).await;
        assert_error(&reply, 400, error_type, reason);
    }
    let reply = server
        .superuser()
        .put(
            "/_security/user/%20eve",
            json!({"password": "long-enough", "roles": []}),
        )
        .await;
    assert_eq!(reply.status, 400, "{}", reply.text);
    assert!(
        reply.json()["error"]["reason"]
            .as_str()
            .unwrap()
            .contains("Valid usernames must be at least 1 and no more than 507 characters")
    );
    assert_eq!(
        server.superuser().get("/_security/user/eve").await.status,
        404
    );
    let reply = server
        .superuser()
        .put("/_security/user/eve", json!(null))
        .await;
    assert_eq!(reply.status, 400, "{}", reply.text);
}

#[tokio::test]
async fn reserved_users_keep_their_roles_but_take_a_password() {
    let server = TestServer::start().await;
    let reply = server
        .superuser()
        .put(
            "/_security/user/elastic",
            json!({"password": "new-password", "roles": []}),
        )
        .await;
    assert_error(
        &reply,
        400,
        "action_request_validation_exception",
        "Validation Failed: 1: user [elastic] is reserved and only the password can be changed;",
    );
    let reply = server
        .superuser()
        .send("DELETE", "/_security/user/kibana_system", None, &[])
        .await;
    assert_error(
        &reply,
        400,
        "illegal_argument_exception",
        "user [kibana_system] is reserved and cannot be deleted",
    );

    // A reserved user without a password cannot log in until it gets one.
    let reply = server
        .basic("kibana_system", "kibana-password")
        .get("/_cluster/health")
        .await;
    assert_eq!(reply.status, 401);
    let reply = server
        .superuser()
        .post(
            "/_security/user/kibana_system/_password",
            json!({"password": "kibana-password"}),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json(), json!({}));
    let me = server
        .basic("kibana_system", "kibana-password")
        .get("/_security/_authenticate")
        .await;
    assert_eq!(me.status, 200, "{}", me.text);
    let me = me.json();
    assert_eq!(me["roles"], json!(["kibana_system"]));
    assert_eq!(me["metadata"], json!({"_reserved": true}));
    assert_eq!(
        me["authentication_realm"],
        json!({"name": "reserved", "type": "reserved"})
    );

    // Reserved users can be disabled and enabled, but nobody changes their own status.
    let reply = server
        .superuser()
        .put_empty("/_security/user/kibana_system/_disable")
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let reply = server
        .basic("kibana_system", "kibana-password")
        .get("/_cluster/health")
        .await;
    assert_eq!(reply.status, 401);
    assert_eq!(
        server
            .superuser()
            .get("/_security/user/kibana_system")
            .await
            .json()["kibana_system"]["enabled"],
        false
    );
    let reply = server
        .superuser()
        .put_empty("/_security/user/elastic/_disable")
        .await;
    assert_error(
        &reply,
        400,
        "illegal_argument_exception",
        "users may not update the enabled status of their own account",
    );
}

#[tokio::test]
async fn disabled_users_are_401_until_enabled_again() {
    let server = TestServer::start().await;
    put_user(&server, "juan", "s3krit-password", json!(["superuser"])).await;
    let juan = server.basic("juan", "s3krit-password");
    // Warm the cache: disabling must still take effect at once.
    assert_eq!(juan.get("/_cluster/health").await.status, 200);

    let reply = server
        .superuser()
        .post_empty("/_security/user/juan/_disable?refresh=true")
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json(), json!({}));
    let reply = juan.get("/_cluster/health").await;
    assert_unauthenticated(&reply, &user_failed("juan", "/_cluster/health"));
    assert_eq!(
        server.superuser().get("/_security/user/juan").await.json()["juan"]["enabled"],
        false
    );

    let reply = server
        .superuser()
        .put_empty("/_security/user/juan/_enable")
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(juan.get("/_cluster/health").await.status, 200);

    let reply = server
        .superuser()
        .put_empty("/_security/user/nobody/_enable")
        .await;
    assert_error(
        &reply,
        400,
        "validation_exception",
        "Validation Failed: 1: only existing users can be enabled;",
    );
}

#[tokio::test]
async fn changing_a_password_retires_the_old_one() {
    let server = TestServer::start().await;
    put_user(
        &server,
        "joe",
        "s3krit-password",
        json!(["monitoring_user"]),
    )
    .await;
    let old = server.basic("joe", "s3krit-password");
    assert_eq!(old.get("/_security/_authenticate").await.status, 200);

    // Any user may change its own password, without any security privilege.
    let reply = old
        .put(
            "/_security/user/_password",
            json!({"password": "s3krit-password2"}),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let reply = old.get("/_security/_authenticate").await;
    assert_unauthenticated(&reply, &user_failed("joe", "/_security/_authenticate"));
    let new = server.basic("joe", "s3krit-password2");
    assert_eq!(new.get("/_security/_authenticate").await.status, 200);

    // Not someone else's.
    let reply = new
        .put(
            "/_security/user/elastic/_password",
            json!({"password": "hijacked!"}),
        )
        .await;
    assert_error(
        &reply,
        403,
        "security_exception",
        "action [cluster:admin/xpack/security/user/change_password] is unauthorized for user [joe] with effective roles [monitoring_user], this action is granted by the cluster privileges [manage_security,all]",
    );

    // The superuser may change anyone's.
    let reply = server
        .superuser()
        .post(
            "/_security/user/joe/_password",
            json!({"password": "third-password"}),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(new.get("/_security/_authenticate").await.status, 401);

    let reply = server
        .superuser()
        .post(
            "/_security/user/joe/_password",
            json!({"password": "short"}),
        )
        .await;
    assert_error(
        &reply,
        400,
        "validation_exception",
        "Validation Failed: 1: passwords must be at least [6] characters long;",
    );
    let reply = server
        .superuser()
        .post(
            "/_security/user/nobody/_password",
            json!({"password": "long-enough"}),
        )
        .await;
    assert_error(
        &reply,
        400,
        "validation_exception",
        "Validation Failed: 1: user must exist in order to change password;",
    );
    let reply = server
        .superuser()
        .post(
            "/_security/user/joe/_password",
            json!({"pasword": "typo-typo"}),
        )
        .await;
    assert_error(
        &reply,
        400,
        "parse_exception",
        "failed to parse change password request. unexpected field [pasword]",
    );
    assert_eq!(
        server
            .basic("joe", "third-password")
            .get("/_security/_authenticate")
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn a_monitor_user_is_refused_security_actions_by_name() {
    let server = TestServer::start().await;
    let reply = server
        .superuser()
        .put("/_security/role/mon", json!({"cluster": ["monitor"]}))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    put_user(&server, "watcher", "watcher-password", json!(["mon"])).await;
    let watcher = server.basic("watcher", "watcher-password");
    assert_eq!(watcher.get("/_cluster/health").await.status, 200);

    let denied = |action: &str, granted_by: &str| {
        format!(
            "action [cluster:admin/xpack/security/{action}] is unauthorized for user [watcher] with effective roles [mon], this action is granted by the cluster privileges [{granted_by}]"
        )
    };
    let reply = watcher
        .put(
            "/_security/user/other",
            json!({"password": "long-enough", "roles": []}),
        )
        .await;
    assert_error(
        &reply,
        403,
        "security_exception",
        &denied("user/put", "manage_security,all"),
    );
    let reply = watcher.get("/_security/user").await;
    assert_error(
        &reply,
        403,
        "security_exception",
        &denied("user/get", "manage_security,read_security,all"),
    );
    let reply = watcher
        .send("DELETE", "/_security/user/elastic", None, &[])
        .await;
    // Reserved users are refused before authorization, whoever asks.
    assert_eq!(reply.status, 400);
    let reply = watcher
        .send("DELETE", "/_security/user/other", None, &[])
        .await;
    assert_error(
        &reply,
        403,
        "security_exception",
        &denied("user/delete", "manage_security,all"),
    );
    let reply = watcher.put_empty("/_security/user/other/_enable").await;
    assert_error(
        &reply,
        403,
        "security_exception",
        &denied("user/set_enabled", "manage_security,all"),
    );
    assert_eq!(
        server.superuser().get("/_security/user/other").await.status,
        404
    );
}

#[tokio::test]
async fn a_native_user_creates_keys_limited_by_its_roles() {
    let server = TestServer::start().await;
    let reply = server
        .superuser()
        .put(
            "/_security/role/key_maker",
            json!({"cluster": ["manage_own_api_key"], "description": "makes its own keys"}),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    put_user(&server, "maker", "maker-password", json!(["key_maker"])).await;
    let maker = server.basic("maker", "maker-password");

    let reply = maker
        .post("/_security/api_key", json!({"name": "maker-key"}))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let id = reply.json()["id"].as_str().unwrap().to_owned();

    let reply = maker
        .get(&format!(
            "/_security/api_key?owner=true&with_limited_by=true&id={id}"
        ))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let key = &reply.json()["api_keys"][0];
    assert_eq!(key["username"], "maker");
    assert_eq!(key["realm"], "default_native");
    assert_eq!(key["realm_type"], "native");
    assert_eq!(
        key["limited_by"],
        json!([{"key_maker": {"cluster": ["manage_own_api_key"], "indices": [], "applications": [],
                "run_as": [], "metadata": {}, "transient_metadata": {"enabled": true}}}])
    );

    // Not other people's keys.
    let reply = maker.get("/_security/api_key").await;
    assert_eq!(reply.status, 403, "{}", reply.text);
}

#[tokio::test]
async fn passwords_never_reach_the_logs() {
    let server = TestServer::start().await;
    put_user(&server, "quiet", "very-secret-password", json!(["viewer"])).await;
    server
        .basic("quiet", "wrong-secret-password")
        .get("/_cluster/health")
        .await;
    server
        .superuser()
        .post(
            "/_security/user/quiet/_password",
            json!({"password": "other-secret-password"}),
        )
        .await;
    let logs = server.logs();
    for secret in [
        "very-secret-password",
        "wrong-secret-password",
        "other-secret-password",
    ] {
        assert!(!logs.contains(secret), "{secret} leaked into: {logs}");
    }
}

#[tokio::test]
async fn user_privilege_paths_are_not_taken_for_usernames() {
    let server = TestServer::start().await;
    // The literal segments win: these are get_user_privileges and has_privileges, not users.
    let reply = server.superuser().get("/_security/user/_privileges").await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json()["cluster"], json!(["all"]));
    let reply = server
        .superuser()
        .post(
            "/_security/user/_has_privileges",
            json!({"cluster": ["all"]}),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json()["has_all_requested"], true);
    let reply = server.superuser().get("/_security/user/_password").await;
    assert_eq!(reply.status, 404, "GET falls to get_user: {}", reply.text);
}

#[tokio::test]
async fn realm_caches_clear_for_admins_only_and_unknown_realms_are_named() {
    let server = TestServer::start().await;
    server
        .put_role("watcher", json!({"cluster": ["monitor"]}))
        .await;
    server
        .put_user("watcher_user", "password-1", &["watcher"])
        .await;
    let admin = server.superuser();
    for path in [
        "/_security/realm/*/_clear_cache",
        "/_security/realm/default_native/_clear_cache?usernames=watcher_user,elastic",
        "/_security/realm/default_native,reserved/_clear_cache",
    ] {
        let reply = admin.post_empty(path).await;
        assert_eq!(reply.status, 200, "{path}: {}", reply.text);
        let body = reply.json();
        assert_eq!(body["_nodes"]["failed"], 0, "{}", reply.text);
        assert_eq!(
            body["nodes"].as_object().unwrap().len(),
            1,
            "{}",
            reply.text
        );
    }
    // A user whose cached verification was cleared still signs in.
    let me = server
        .basic("watcher_user", "password-1")
        .get("/_security/_authenticate")
        .await;
    assert_eq!(me.status, 200, "{}", me.text);
    let reply = admin
        .post_empty("/_security/realm/ldap1/_clear_cache")
        .await;
    assert_error(
        &reply,
        400,
        "illegal_argument_exception",
        "could not find active realm [ldap1]",
    );
    let reply = server
        .basic("watcher_user", "password-1")
        .post_empty("/_security/realm/*/_clear_cache")
        .await;
    assert_eq!(reply.status, 403, "{}", reply.text);

    // Security stats: monitor may read them; one node, its (empty) DLS cache.
    let stats = server
        .basic("watcher_user", "password-1")
        .get("/_security/stats")
        .await;
    assert_eq!(stats.status, 200, "{}", stats.text);
    let nodes = stats.json()["nodes"].as_object().unwrap().clone();
    assert_eq!(nodes.len(), 1);
    let node = nodes.values().next().unwrap();
    assert_eq!(node["roles"]["dls"]["bit_set_cache"]["count"], 0);
}
