//! User profiles: activation with a password and with an access token, get with `data`,
//! updates of labels and data with optimistic concurrency, enable and disable, suggest,
//! has-privileges, `with_profile_uid` on keys and users, and the privileges each API needs.

use serde_json::{Value, json};

use crate::support::{TestServer, assert_error};

async fn put_user(server: &TestServer, name: &str, roles: &[&str]) {
    let reply = server
        .superuser()
        .put(
            &format!("/_security/user/{name}"),
            json!({
                "password": "s3krit-password",
                "roles": roles,
                "full_name": format!("{name} Pérez"),
                "email": format!("{name}@bazooka.gum"),
            }),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
}

async fn activate(server: &TestServer, name: &str) -> Value {
    let reply = server
        .superuser()
        .post(
            "/_security/profile/_activate",
            json!({"grant_type": "password", "username": name, "password": "s3krit-password"}),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.json()
}

async fn profile(server: &TestServer, uid: &str, query: &str) -> Value {
    let reply = server
        .superuser()
        .get(&format!("/_security/profile/{uid}{query}"))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.json()["profiles"][0].clone()
}

#[tokio::test]
async fn activate_with_password_creates_then_reuses_the_profile() {
    let server = TestServer::start().await;
    put_user(&server, "juan", &["superuser"]).await;
    let first = activate(&server, "juan").await;
    let uid = first["uid"].as_str().unwrap().to_owned();
    assert!(uid.starts_with("u_") && uid.ends_with("_0"), "{uid}");
    assert_eq!(first["enabled"], true);
    assert!(first["last_synchronized"].as_i64().unwrap() > 0);
    assert_eq!(
        first["user"],
        json!({
            "username": "juan",
            "roles": ["superuser"],
            "realm_name": "default_native",
            "email": "juan@bazooka.gum",
            "full_name": "juan Pérez",
        })
    );
    assert_eq!(first["labels"], json!({}));
    assert_eq!(first["data"], json!({}));
    assert_eq!(first["_doc"], json!({"_primary_term": 1, "_seq_no": 1}));

    // Activating again finds the same profile and records the user's new details.
    put_user(&server, "juan", &["viewer"]).await;
    let second = activate(&server, "juan").await;
    assert_eq!(second["uid"], uid.as_str());
    assert_eq!(second["user"]["roles"], json!(["viewer"]));
    assert_eq!(second["_doc"]["_seq_no"], 2);
    assert_eq!(profile(&server, &uid, "").await, second);
}

#[tokio::test]
async fn activate_with_access_token_and_bad_credentials() {
    let server = TestServer::start().await;
    put_user(&server, "ana", &["viewer"]).await;
    let token = server
        .superuser()
        .post(
            "/_security/oauth2/token",
            json!({"grant_type": "password", "username": "ana", "password": "s3krit-password"}),
        )
        .await
        .json()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let reply = server
        .superuser()
        .post(
            "/_security/profile/_activate",
            json!({"grant_type": "access_token", "access_token": token}),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json()["user"]["username"], "ana");
    assert_eq!(activate(&server, "ana").await["uid"], reply.json()["uid"]);

    let wrong = server
        .superuser()
        .post(
            "/_security/profile/_activate",
            json!({"grant_type": "password", "username": "ana", "password": "wrong-password"}),
        )
        .await;
    assert_eq!(wrong.status, 401, "{}", wrong.text);
    assert_eq!(wrong.json()["error"]["type"], "security_exception");
    let missing = server
        .superuser()
        .post(
            "/_security/profile/_activate",
            json!({"grant_type": "password", "username": "ana"}),
        )
        .await;
    assert_error(
        &missing,
        400,
        "action_request_validation_exception",
        "Validation Failed: 1: [password] is required for grant_type [password];",
    );
    let unknown = server
        .superuser()
        .post(
            "/_security/profile/_activate",
            json!({"grant_type": "password", "username": "ana", "password": "x", "run_as": "y"}),
        )
        .await;
    assert_error(
        &unknown,
        400,
        "x_content_parse_exception",
        "[activate_profile_request] unknown field [run_as]",
    );
}

#[tokio::test]
async fn get_reports_unknown_uids_and_filters_data() {
    let server = TestServer::start().await;
    put_user(&server, "juan", &["superuser"]).await;
    let uid = activate(&server, "juan").await["uid"]
        .as_str()
        .unwrap()
        .to_owned();
    let update = server
        .superuser()
        .post(
            &format!("/_security/profile/{uid}/_data"),
            json!({"labels": {"kibana": {"spaces": "demo"}}, "data": {"app1": {"k": 1}, "app2": {"k": 2}}}),
        )
        .await;
    assert_eq!(update.status, 200, "{}", update.text);
    assert_eq!(update.json(), json!({"acknowledged": true}));

    let plain = profile(&server, &uid, "").await;
    assert_eq!(plain["labels"], json!({"kibana": {"spaces": "demo"}}));
    assert_eq!(plain["data"], json!({}));
    assert_eq!(
        profile(&server, &uid, "?data=app1").await["data"],
        json!({"app1": {"k": 1}})
    );
    assert_eq!(
        profile(&server, &uid, "?data=*").await["data"],
        json!({"app1": {"k": 1}, "app2": {"k": 2}})
    );

    let reply = server
        .superuser()
        .get(&format!("/_security/profile/{uid},u_missing_0"))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let body = reply.json();
    assert_eq!(body["profiles"].as_array().unwrap().len(), 1);
    assert_eq!(
        body["errors"],
        json!({"count": 1, "details": {"u_missing_0": {
            "type": "resource_not_found_exception",
            "reason": "profile document not found",
        }}})
    );
}

#[tokio::test]
async fn update_data_merges_and_honours_seq_no() {
    let server = TestServer::start().await;
    put_user(&server, "juan", &["superuser"]).await;
    let uid = activate(&server, "juan").await["uid"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/_security/profile/{uid}/_data");
    let first = server
        .superuser()
        .put(
            &format!("{path}?if_seq_no=1&if_primary_term=1&refresh=true"),
            json!({"data": {"app": {"a": 1, "b": 1}}}),
        )
        .await;
    assert_eq!(first.status, 200, "{}", first.text);
    // The seqNo read before the first update is stale now.
    let stale = server
        .superuser()
        .put(
            &format!("{path}?if_seq_no=1&if_primary_term=1"),
            json!({"data": {"app": {"a": 2}}}),
        )
        .await;
    assert_error(
        &stale,
        409,
        "version_conflict_engine_exception",
        &format!(
            "[profile_{uid}]: version conflict, required seqNo [1], primary term [1]. current document has seqNo [2] and primary term [1]"
        ),
    );
    let merged = server
        .superuser()
        .put(&path, json!({"data": {"app": {"b": 2, "c": [1]}}}))
        .await;
    assert_eq!(merged.status, 200, "{}", merged.text);
    let shown = profile(&server, &uid, "?data=app").await;
    assert_eq!(shown["data"], json!({"app": {"a": 1, "b": 2, "c": [1]}}));
    assert_eq!(shown["_doc"]["_seq_no"], 3);

    let empty = server.superuser().put(&path, json!({})).await;
    assert_error(
        &empty,
        400,
        "action_request_validation_exception",
        "Validation Failed: 1: update request is empty;",
    );
    let underscore = server
        .superuser()
        .put(&path, json!({"labels": {"_private": 1}}))
        .await;
    assert_error(
        &underscore,
        400,
        "action_request_validation_exception",
        "Validation Failed: 1: labels field key [_private] cannot start with [_];",
    );
    let wrong_type = server.superuser().put(&path, json!({"data": [1]})).await;
    assert_eq!(wrong_type.status, 400, "{}", wrong_type.text);
    assert_eq!(
        wrong_type.json()["error"]["type"],
        "x_content_parse_exception"
    );
    let bad_seq = server
        .superuser()
        .put(
            &format!("{path}?if_seq_no=x&if_primary_term=1"),
            json!({"data": {}}),
        )
        .await;
    assert_error(
        &bad_seq,
        400,
        "illegal_argument_exception",
        "Failed to parse long parameter [if_seq_no] with value [x]",
    );
    let missing = server
        .superuser()
        .put(
            "/_security/profile/u_missing_0/_data",
            json!({"data": {"a": 1}}),
        )
        .await;
    assert_eq!(missing.status, 404, "{}", missing.text);
    assert_eq!(
        missing.json()["error"]["type"],
        "resource_not_found_exception"
    );
}

#[tokio::test]
async fn disable_hides_a_profile_from_suggest_until_enabled() {
    let server = TestServer::start().await;
    put_user(&server, "juan", &["superuser"]).await;
    put_user(&server, "juana", &["viewer"]).await;
    put_user(&server, "ana", &["viewer"]).await;
    let juan = activate(&server, "juan").await["uid"]
        .as_str()
        .unwrap()
        .to_owned();
    let juana = activate(&server, "juana").await["uid"]
        .as_str()
        .unwrap()
        .to_owned();
    activate(&server, "ana").await;
    server
        .superuser()
        .post(
            &format!("/_security/profile/{juana}/_data"),
            json!({"labels": {"direction": "north"}}),
        )
        .await;

    let suggest = |body: Value| {
        let server = &server;
        async move {
            let reply = server
                .superuser()
                .post("/_security/profile/_suggest", body)
                .await;
            assert_eq!(reply.status, 200, "{}", reply.text);
            reply.json()
        }
    };
    let uids = |body: &Value| -> Vec<String> {
        body["profiles"]
            .as_array()
            .unwrap()
            .iter()
            .map(|profile| profile["uid"].as_str().unwrap().to_owned())
            .collect()
    };
    // "juan" prefixes both; the label hint ranks juana first.
    let found =
        suggest(json!({"name": "juan", "hint": {"labels": {"direction": ["north", "east"]}}}))
            .await;
    assert_eq!(found["total"], json!({"value": 2, "relation": "eq"}));
    assert_eq!(uids(&found), [juana.clone(), juan.clone()]);
    let first = &found["profiles"][0];
    assert_eq!(first["labels"], json!({"direction": "north"}));
    assert!(first.get("enabled").is_none() && first.get("_doc").is_none());
    // The email matches too; without a name every enabled profile does.
    assert_eq!(
        uids(&suggest(json!({"name": "bazooka", "size": 1})).await).len(),
        1
    );
    assert_eq!(suggest(json!({})).await["total"]["value"], 3);

    let disabled = server
        .superuser()
        .put_empty(&format!(
            "/_security/profile/{juan}/_disable?refresh=wait_for"
        ))
        .await;
    assert_eq!(disabled.status, 200, "{}", disabled.text);
    assert_eq!(profile(&server, &juan, "").await["enabled"], false);
    assert_eq!(
        uids(&suggest(json!({"name": "juan"})).await),
        std::slice::from_ref(&juana)
    );
    let enabled = server
        .superuser()
        .post_empty(&format!("/_security/profile/{juan}/_enable"))
        .await;
    assert_eq!(enabled.status, 200, "{}", enabled.text);
    assert_eq!(profile(&server, &juan, "").await["enabled"], true);
    assert_eq!(suggest(json!({"name": "juan"})).await["total"]["value"], 2);

    let too_big = server
        .superuser()
        .post("/_security/profile/_suggest", json!({"size": 10001}))
        .await;
    assert_eq!(too_big.status, 400, "{}", too_big.text);
    let negative = server
        .superuser()
        .post("/_security/profile/_suggest", json!({"size": -1}))
        .await;
    assert_error(
        &negative,
        400,
        "action_request_validation_exception",
        "Validation Failed: 1: [size] parameter cannot be negative but was [-1];",
    );
    let missing = server
        .superuser()
        .post_empty("/_security/profile/u_missing_0/_disable")
        .await;
    assert_eq!(missing.status, 404, "{}", missing.text);
}

#[tokio::test]
async fn has_privileges_checks_each_profiles_roles() {
    let server = TestServer::start().await;
    server
        .put_role(
            "reader",
            json!({"indices": [{"names": ["index1*"], "privileges": ["read"]}]}),
        )
        .await;
    put_user(&server, "juan", &["superuser"]).await;
    put_user(&server, "ana", &["reader"]).await;
    put_user(&server, "bob", &[]).await;
    let [juan, ana, bob] = ["juan", "ana", "bob"];
    let mut uids = Vec::new();
    for name in [juan, ana, bob] {
        uids.push(
            activate(&server, name).await["uid"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let mut asked = uids.clone();
    asked.push("u_missing_0".to_owned());
    let reply = server
        .superuser()
        .post(
            "/_security/profile/_has_privileges",
            json!({"uids": asked, "privileges": {"index": [{"names": ["index1*"], "privileges": ["read"]}]}}),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(
        reply.json(),
        json!({"has_privilege_uids": [uids[0], uids[1]]})
    );
    let cluster = server
        .superuser()
        .post(
            "/_security/profile/_has_privileges",
            json!({"uids": uids, "privileges": {"cluster": ["manage_security"]}}),
        )
        .await;
    assert_eq!(cluster.json(), json!({"has_privilege_uids": [uids[0]]}));
    let nothing = server
        .superuser()
        .post(
            "/_security/profile/_has_privileges",
            json!({"uids": uids, "privileges": {}}),
        )
        .await;
    assert_error(
        &nothing,
        400,
        "action_request_validation_exception",
        "Validation Failed: 1: must specify at least one privilege;",
    );
}

#[tokio::test]
async fn with_profile_uid_shows_the_owners_profile_on_keys_and_users() {
    let server = TestServer::start().await;
    put_user(&server, "juan", &["superuser"]).await;
    put_user(&server, "ana", &["superuser"]).await;
    let uid = activate(&server, "juan").await["uid"]
        .as_str()
        .unwrap()
        .to_owned();
    for name in ["juan", "ana"] {
        let reply = server
            .basic(name, "s3krit-password")
            .post("/_security/api_key", json!({"name": format!("{name}-key")}))
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text);
    }
    let profile_uids = |keys: &Value| -> Vec<(String, Option<String>)> {
        let mut shown: Vec<_> = keys
            .as_array()
            .unwrap()
            .iter()
            .map(|key| {
                (
                    key["username"].as_str().unwrap().to_owned(),
                    key.get("profile_uid")
                        .map(|uid| uid.as_str().unwrap().to_owned()),
                )
            })
            .collect();
        shown.sort();
        shown
    };
    let expected = vec![
        ("ana".to_owned(), None),
        ("juan".to_owned(), Some(uid.clone())),
    ];
    let got = server
        .superuser()
        .get("/_security/api_key?with_profile_uid=true")
        .await
        .json();
    assert_eq!(profile_uids(&got["api_keys"]), expected);
    let queried = server
        .superuser()
        .post("/_security/_query/api_key?with_profile_uid=true", json!({}))
        .await
        .json();
    assert_eq!(profile_uids(&queried["api_keys"]), expected);
    let without = server.superuser().get("/_security/api_key").await.json();
    assert!(
        without["api_keys"]
            .as_array()
            .unwrap()
            .iter()
            .all(|key| key.get("profile_uid").is_none())
    );

    let users = server
        .superuser()
        .get("/_security/user?with_profile_uid=true")
        .await
        .json();
    assert_eq!(users["juan"]["profile_uid"], uid.as_str());
    assert!(users["ana"].get("profile_uid").is_none());
    let one = server
        .superuser()
        .get("/_security/user/juan?with_profile_uid")
        .await
        .json();
    assert_eq!(one["juan"]["profile_uid"], uid.as_str());
    assert!(
        server.superuser().get("/_security/user/juan").await.json()["juan"]
            .get("profile_uid")
            .is_none()
    );
    let queried_users = server
        .superuser()
        .post(
            "/_security/_query/user?with_profile_uid=true",
            json!({"query": {"term": {"username": "juan"}}}),
        )
        .await
        .json();
    assert_eq!(queried_users["users"][0]["profile_uid"], uid.as_str());
}

#[tokio::test]
async fn profile_apis_need_their_privileges() {
    let server = TestServer::start().await;
    put_user(&server, "juan", &["superuser"]).await;
    let uid = activate(&server, "juan").await["uid"]
        .as_str()
        .unwrap()
        .to_owned();
    server
        .put_role("security_reader", json!({"cluster": ["read_security"]}))
        .await;
    server
        .put_role(
            "profile_manager",
            json!({"cluster": ["manage_user_profile"]}),
        )
        .await;
    put_user(&server, "plain", &[]).await;
    put_user(&server, "reader", &["security_reader"]).await;
    put_user(&server, "manager", &["profile_manager"]).await;
    let plain = server.basic("plain", "s3krit-password");
    let activate_body =
        json!({"grant_type": "password", "username": "juan", "password": "s3krit-password"});
    assert_error(
        &plain
            .post("/_security/profile/_activate", activate_body.clone())
            .await,
        403,
        "security_exception",
        "action [cluster:admin/xpack/security/profile/activate] is unauthorized for user [plain] with effective roles [], this action is granted by the cluster privileges [manage_user_profile,manage_security,all]",
    );
    let denied = [
        plain.get(&format!("/_security/profile/{uid}")).await,
        plain
            .put(
                &format!("/_security/profile/{uid}/_data"),
                json!({"data": {"a": 1}}),
            )
            .await,
        plain
            .put_empty(&format!("/_security/profile/{uid}/_disable"))
            .await,
        plain.post("/_security/profile/_suggest", json!({})).await,
    ];
    for reply in denied {
        assert_eq!(reply.status, 403, "{}", reply.text);
        assert_eq!(reply.json()["error"]["type"], "security_exception");
    }

    // read_security reads profiles but changes none.
    let reader = server.basic("reader", "s3krit-password");
    assert_eq!(
        reader
            .get(&format!("/_security/profile/{uid}"))
            .await
            .status,
        200
    );
    assert_eq!(
        reader
            .post("/_security/profile/_suggest", json!({}))
            .await
            .status,
        200
    );
    assert_eq!(
        reader
            .put(
                &format!("/_security/profile/{uid}/_data"),
                json!({"data": {"a": 1}})
            )
            .await
            .status,
        403
    );
    // manage_user_profile does everything with profiles.
    let manager = server.basic("manager", "s3krit-password");
    assert_eq!(
        manager
            .post("/_security/profile/_activate", activate_body)
            .await
            .status,
        200
    );
    assert_eq!(
        manager
            .put(
                &format!("/_security/profile/{uid}/_data"),
                json!({"data": {"a": 1}})
            )
            .await
            .status,
        200
    );
    assert_eq!(
        manager
            .post_empty(&format!("/_security/profile/{uid}/_disable"))
            .await
            .status,
        200
    );
}

/// On PostgreSQL, two nodes share profiles: activated on one, read, updated and found by suggest
/// on the other, and a stale `if_seq_no` conflicts whichever node wrote last.
#[tokio::test]
async fn nodes_sharing_postgresql_share_profiles() {
    let database = crate::postgres::ScratchDatabase::create().await;
    let url = format!("keyward.store.postgresql.url={}", database.url());
    let settings = [
        "keyward.store.type=postgresql",
        url.as_str(),
        "keyward.store.postgresql.pool_size=4",
    ];
    let a = TestServer::start_with(&settings).await;
    let b = TestServer::start_with(&settings).await;
    put_user(&a, "juan", &["superuser"]).await;
    let uid = activate(&a, "juan").await["uid"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(profile(&b, &uid, "").await["user"]["username"], "juan");
    let path = format!("/_security/profile/{uid}/_data?if_seq_no=1&if_primary_term=1");
    let updated = b
        .superuser()
        .post(&path, json!({"data": {"app": {"k": 1}}}))
        .await;
    assert_eq!(updated.status, 200, "{}", updated.text);
    let stale = a
        .superuser()
        .post(&path, json!({"data": {"app": {"k": 2}}}))
        .await;
    assert_eq!(stale.status, 409, "{}", stale.text);
    assert_eq!(
        profile(&a, &uid, "?data=app").await["data"],
        json!({"app": {"k": 1}})
    );
    let found = a
        .superuser()
        .post("/_security/profile/_suggest", json!({"name": "juan"}))
        .await
        .json();
    assert_eq!(found["profiles"][0]["uid"], uid.as_str());
    let keys = b
        .basic("juan", "s3krit-password")
        .post("/_security/api_key", json!({"name": "k"}))
        .await;
    assert_eq!(keys.status, 200, "{}", keys.text);
    let listed = a
        .superuser()
        .get("/_security/api_key?with_profile_uid=true&username=juan")
        .await
        .json();
    assert_eq!(listed["api_keys"][0]["profile_uid"], uid.as_str());
}
