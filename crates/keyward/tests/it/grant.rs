//! `security.grant_api_key`: a granter creates keys owned by another user who proves consent with
//! their password, optionally running as a third user.

use serde_json::{Value, json};

use crate::support::{TestServer, assert_error};

async fn setup(server: &TestServer) {
    for (role, body) in [
        ("granter", json!({"cluster": ["grant_api_key"]})),
        (
            "target",
            json!({"cluster": ["monitor"], "indices": [{"names": ["logs-*"], "privileges": ["read"]}]}),
        ),
        ("runner", json!({"cluster": [], "run_as": ["target_user"]})),
        ("own_keys", json!({"cluster": ["manage_own_api_key"]})),
    ] {
        server.put_role(role, body).await;
    }
    for (user, roles) in [
        ("granter_user", &["granter"][..]),
        ("target_user", &["target"]),
        ("runner_user", &["runner"]),
        ("own_user", &["own_keys"]),
    ] {
        server.put_user(user, "password-1", roles).await;
    }
}

#[tokio::test]
async fn a_granted_key_belongs_to_the_grantee_and_carries_their_roles() {
    let server = TestServer::start().await;
    setup(&server).await;
    let reply = server
        .basic("granter_user", "password-1")
        .post(
            "/_security/api_key/grant?refresh=wait_for",
            json!({"grant_type": "password", "username": "target_user", "password": "password-1",
                   "api_key": {"name": "granted", "expiration": "1d", "metadata": {"by": "granter"}}}),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let created = reply.json();
    assert_eq!(created["name"], "granted");
    assert!(created["expiration"].as_i64().is_some());

    let me = server
        .api_key(created["encoded"].as_str().unwrap())
        .get("/_security/_authenticate")
        .await;
    assert_eq!(me.status, 200, "{}", me.text);
    assert_eq!(me.json()["username"], "target_user");
    assert_eq!(me.json()["api_key"]["name"], "granted");

    let info = server
        .superuser()
        .get(&format!(
            "/_security/api_key?id={}&with_limited_by=true",
            created["id"].as_str().unwrap()
        ))
        .await
        .json();
    let key = &info["api_keys"][0];
    assert_eq!(key["username"], "target_user");
    assert_eq!(key["realm"], "default_native");
    assert_eq!(key["metadata"], json!({"by": "granter"}));
    let limited_by: &Value = &key["limited_by"][0];
    assert_eq!(limited_by["target"]["cluster"], json!(["monitor"]));
}

#[tokio::test]
async fn run_as_makes_the_run_as_user_the_owner() {
    let server = TestServer::start().await;
    setup(&server).await;
    let reply = server
        .basic("granter_user", "password-1")
        .post(
            "/_security/api_key/grant",
            json!({"grant_type": "password", "username": "runner_user", "password": "password-1",
                   "run_as": "target_user", "api_key": {"name": "ran-as"}}),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let me = server
        .api_key(reply.json()["encoded"].as_str().unwrap())
        .get("/_security/_authenticate")
        .await;
    assert_eq!(me.json()["username"], "target_user");

    // The grantee may not run as anyone else.
    let reply = server
        .basic("granter_user", "password-1")
        .post(
            "/_security/api_key/grant",
            json!({"grant_type": "password", "username": "runner_user", "password": "password-1",
                   "run_as": "own_user", "api_key": {"name": "nope"}}),
        )
        .await;
    assert_eq!(reply.status, 403, "{}", reply.text);
}

#[tokio::test]
async fn grant_needs_the_grant_privilege_and_valid_grantee_credentials() {
    let server = TestServer::start().await;
    setup(&server).await;
    let body = json!({"grant_type": "password", "username": "target_user", "password": "password-1",
                      "api_key": {"name": "k"}});
    // manage_own_api_key is not enough, not even to grant to oneself.
    let reply = server
        .basic("own_user", "password-1")
        .post("/_security/api_key/grant", body.clone())
        .await;
    assert_error(
        &reply,
        403,
        "security_exception",
        "action [cluster:admin/xpack/security/api_key/grant] is unauthorized for user [own_user] with effective roles [own_keys], this action is granted by the cluster privileges [grant_api_key,manage_api_key,manage_security,all]",
    );

    let wrong = json!({"grant_type": "password", "username": "target_user", "password": "wrong-password",
                       "api_key": {"name": "k"}});
    let reply = server
        .basic("granter_user", "password-1")
        .post("/_security/api_key/grant", wrong)
        .await;
    assert_error(
        &reply,
        403,
        "security_exception",
        "Failed to authenticate api key grant",
    );

    let token = json!({"grant_type": "access_token", "access_token": "not-a-token", "api_key": {"name": "k"}});
    let reply = server
        .basic("granter_user", "password-1")
        .post("/_security/api_key/grant", token)
        .await;
    assert_error(
        &reply,
        403,
        "security_exception",
        "Failed to authenticate api key grant",
    );

    // Nothing was created by the refused grants.
    let keys = server.superuser().get("/_security/api_key").await.json();
    assert_eq!(keys["api_keys"], json!([]));
}

#[tokio::test]
async fn grant_requests_are_validated_before_anything_happens() {
    let server = TestServer::start().await;
    setup(&server).await;
    let granter = server.basic("granter_user", "password-1");
    let reply = granter
        .post(
            "/_security/api_key/grant",
            json!({"grant_type": "password", "username": "target_user", "password": "password-1"}),
        )
        .await;
    assert_error(
        &reply,
        400,
        "action_request_validation_exception",
        "Validation Failed: 1: api key name is required;",
    );
    let reply = granter
        .post(
            "/_security/api_key/grant",
            json!({"api_key": {"name": "k"}}),
        )
        .await;
    assert_error(
        &reply,
        400,
        "action_request_validation_exception",
        "Validation Failed: 1: [grant_type] is required;",
    );
    let reply = granter
        .post(
            "/_security/api_key/grant",
            json!({"grant_type": "password", "api_key": {"name": "k"}, "access_token": "t"}),
        )
        .await;
    assert_error(
        &reply,
        400,
        "action_request_validation_exception",
        "Validation Failed: 1: [username] is required for grant_type [password];2: [password] is required for grant_type [password];3: [access_token] is not supported for grant_type [password];",
    );
    let reply = granter
        .post(
            "/_security/api_key/grant",
            json!({"grant_type": "magic", "api_key": {"name": "k"}}),
        )
        .await;
    assert_error(
        &reply,
        400,
        "action_request_validation_exception",
        "Validation Failed: 1: grant_type [magic] is not supported;",
    );
    let reply = granter
        .post(
            "/_security/api_key/grant",
            json!({"grant_type": "password", "bogus": 1}),
        )
        .await;
    assert_eq!(reply.status, 400, "{}", reply.text);
    assert_eq!(reply.json()["error"]["type"], "x_content_parse_exception");
}

#[tokio::test]
async fn a_bulk_grant_creates_every_key_for_the_grantee_in_request_order() {
    let server = TestServer::start().await;
    setup(&server).await;
    let reply = server
        .basic("granter_user", "password-1")
        .post(
            "/_security/api_key/_bulk_grant",
            json!({"grant_type": "password", "username": "target_user", "password": "password-1",
            "api_keys": [
                {"name": "rule-1", "expiration": "1d", "metadata": {"rule": 1}},
                {"name": "rule-2", "role_descriptors": {"narrow": {"cluster": ["monitor"]}}},
                {"name": "rule-3"}
            ]}),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let body = reply.json();
    assert!(body.get("errors").is_none(), "{body}");
    let created = body["created"].as_array().unwrap();
    let names: Vec<&str> = created
        .iter()
        .map(|key| key["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["rule-1", "rule-2", "rule-3"]);
    assert!(created[0]["expiration"].as_i64().is_some());
    assert!(created[1].get("expiration").is_none());

    for key in created {
        let me = server
            .api_key(key["encoded"].as_str().unwrap())
            .get("/_security/_authenticate")
            .await;
        assert_eq!(me.status, 200, "{}", me.text);
        assert_eq!(me.json()["username"], "target_user");
        assert_eq!(me.json()["api_key"]["name"], key["name"]);
    }
    // The second key holds only what its own descriptor gives: no index reads.
    let narrow = server.api_key(created[1]["encoded"].as_str().unwrap());
    let check = narrow
        .post(
            "/_security/user/_has_privileges",
            json!({"cluster": ["monitor"], "index": [{"names": ["logs-1"], "privileges": ["read"]}]}),
        )
        .await;
    assert_eq!(check.status, 200, "{}", check.text);
    assert_eq!(check.json()["has_all_requested"], false);
    assert_eq!(check.json()["cluster"]["monitor"], true);

    let owned = server
        .superuser()
        .get("/_security/api_key?username=target_user")
        .await
        .json();
    let owned = owned["api_keys"].as_array().unwrap();
    assert_eq!(owned.len(), 3);
    let first = owned.iter().find(|key| key["name"] == "rule-1").unwrap();
    assert_eq!(first["metadata"], json!({"rule": 1}));
}

#[tokio::test]
async fn a_bulk_grant_with_one_bad_key_creates_none() {
    let server = TestServer::start().await;
    setup(&server).await;
    let granter = server.basic("granter_user", "password-1");
    let reply = granter
        .post(
            "/_security/api_key/_bulk_grant",
            json!({"grant_type": "password", "username": "target_user", "password": "password-1",
                   "api_keys": [{"name": "fine"}, {"name": "_reserved"}, {"name": "meta", "metadata": {"_x": 1}}]}),
        )
        .await;
    assert_error(
        &reply,
        400,
        "action_request_validation_exception",
        "Validation Failed: 1: api key name may not begin with an underscore;2: API key metadata keys may not start with [_];",
    );
    let reply = granter
        .post(
            "/_security/api_key/_bulk_grant",
            json!({"grant_type": "password", "username": "target_user", "password": "password-1"}),
        )
        .await;
    assert_error(
        &reply,
        400,
        "action_request_validation_exception",
        "Validation Failed: 1: [api_keys] must not be empty;",
    );
    let too_many: Vec<Value> = (0..10_001)
        .map(|n| json!({"name": format!("k{n}")}))
        .collect();
    let reply = granter
        .post(
            "/_security/api_key/_bulk_grant",
            json!({"grant_type": "password", "username": "target_user", "password": "password-1",
                   "api_keys": too_many}),
        )
        .await;
    assert_error(
        &reply,
        400,
        "action_request_validation_exception",
        "Validation Failed: 1: [api_keys] must not hold more than 10000 keys, got [10001];",
    );
    // A wrong password fails the grant as a whole.
    let reply = granter
        .post(
            "/_security/api_key/_bulk_grant",
            json!({"grant_type": "password", "username": "target_user", "password": "wrong-password",
                   "api_keys": [{"name": "never"}]}),
        )
        .await;
    assert_error(
        &reply,
        403,
        "security_exception",
        "Failed to authenticate api key grant",
    );
    let owned = server
        .superuser()
        .get("/_security/api_key?username=target_user")
        .await;
    assert_eq!(owned.status, 200, "{}", owned.text);
    assert_eq!(owned.json()["api_keys"], json!([]));
}

#[tokio::test]
async fn bulk_grant_needs_the_grant_privilege_not_manage_own_api_key() {
    let server = TestServer::start().await;
    setup(&server).await;
    let reply = server
        .basic("own_user", "password-1")
        .post(
            "/_security/api_key/_bulk_grant",
            json!({"grant_type": "password", "username": "target_user", "password": "password-1",
                   "api_keys": [{"name": "k"}]}),
        )
        .await;
    assert_error(
        &reply,
        403,
        "security_exception",
        "action [cluster:admin/xpack/security/api_key/grant/bulk] is unauthorized for user [own_user] with effective roles [own_keys], this action is granted by the cluster privileges [grant_api_key,manage_api_key,manage_security,all]",
    );
}

#[tokio::test]
async fn client_authentication_is_validated_as_elasticsearch_does() {
    let server = TestServer::start().await;
    setup(&server).await;
    let granter = server.basic("granter_user", "password-1");
    let reply = granter
        .post(
            "/_security/api_key/grant",
            json!({"grant_type": "password", "username": "target_user", "password": "password-1",
                   "client_authentication": {"scheme": "SharedSecret", "value": "s"},
                   "api_key": {"name": "k"}}),
        )
        .await;
    assert_error(
        &reply,
        400,
        "action_request_validation_exception",
        "Validation Failed: 1: [client_authentication] is not supported for grant_type [password];",
    );
    let reply = granter
        .post(
            "/_security/api_key/grant",
            json!({"grant_type": "access_token", "access_token": "t",
                   "client_authentication": {"scheme": "Basic", "value": "s"},
                   "api_key": {"name": "k"}}),
        )
        .await;
    assert_error(
        &reply,
        400,
        "action_request_validation_exception",
        "Validation Failed: 1: [client_authentication.scheme] must be set to [SharedSecret];",
    );
    // An empty password is a missing one.
    let reply = granter
        .post(
            "/_security/api_key/grant",
            json!({"grant_type": "password", "username": "target_user", "password": "",
                   "api_key": {"name": "k"}}),
        )
        .await;
    assert_error(
        &reply,
        400,
        "action_request_validation_exception",
        "Validation Failed: 1: [password] is required for grant_type [password];",
    );
}
