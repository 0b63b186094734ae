//! Access tokens: `POST /_security/oauth2/token` (password, client credentials, refresh),
//! `Authorization: Bearer`, `DELETE /_security/oauth2/token`, and grants with access tokens.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::{TestServer, assert_error, assert_unauthenticated};

const UNKNOWN_TOKEN: &str = "unable to authenticate with provided credentials and anonymous access is not allowed for this request";

async fn setup(server: &TestServer) {
    for (role, body) in [
        ("token_role", json!({"cluster": ["manage_token"]})),
        ("granter", json!({"cluster": ["grant_api_key"]})),
        ("runner", json!({"cluster": [], "run_as": ["token_user"]})),
        ("nothing", json!({"cluster": []})),
    ] {
        server.put_role(role, body).await;
    }
    for (user, roles) in [
        ("token_user", &["token_role"][..]),
        ("granter_user", &["granter"][..]),
        ("runner_user", &["runner"]),
        ("plain_user", &["nothing"]),
    ] {
        server.put_user(user, "password-1", roles).await;
    }
}

async fn password_token(server: &TestServer, username: &str) -> Value {
    let reply = server
        .superuser()
        .post(
            "/_security/oauth2/token",
            json!({"grant_type": "password", "username": username, "password": "password-1"}),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.json()
}

fn bearer(token: &Value) -> String {
    format!("Bearer {}", token["access_token"].as_str().unwrap())
}

#[tokio::test]
async fn a_password_token_authenticates_as_its_user() {
    let server = TestServer::start().await;
    setup(&server).await;
    let token = password_token(&server, "token_user").await;
    assert_eq!(token["type"], "Bearer");
    assert_eq!(token["expires_in"], 1200);
    assert!(
        token["refresh_token"]
            .as_str()
            .is_some_and(|t| !t.is_empty())
    );
    assert!(token.get("scope").is_none());
    assert_eq!(token["authentication"]["username"], "token_user");
    assert_eq!(token["authentication"]["full_name"], "token_user name");

    let me = server
        .with_authorization(&bearer(&token))
        .get("/_security/_authenticate")
        .await;
    assert_eq!(me.status, 200, "{}", me.text);
    let me = me.json();
    assert_eq!(me["username"], "token_user");
    assert_eq!(me["roles"], json!(["token_role"]));
    assert_eq!(me["authentication_type"], "token");
    assert_eq!(me["authentication_realm"]["name"], "default_native");
    assert_eq!(me["lookup_realm"]["type"], "native");

    // The secret never reaches the logs.
    let access = token["access_token"].as_str().unwrap();
    assert!(!server.logs().contains(access));
}

#[tokio::test]
async fn tokens_survive_a_restart() {
    let mut server = TestServer::start().await;
    setup(&server).await;
    let token = password_token(&server, "token_user").await;
    assert_eq!(server.stop(), Some(0), "{}", server.logs());
    let restarted = TestServer::start_in(server.data.clone(), &[]).await;
    let me = restarted
        .with_authorization(&bearer(&token))
        .get("/_security/_authenticate")
        .await;
    assert_eq!(me.status, 200, "{}", me.text);
    assert_eq!(me.json()["username"], "token_user");
}

#[tokio::test]
async fn client_credentials_issue_a_token_for_the_caller_without_refresh_token() {
    let server = TestServer::start().await;
    setup(&server).await;
    let reply = server
        .basic("token_user", "password-1")
        .post(
            "/_security/oauth2/token",
            json!({"grant_type": "client_credentials"}),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let token = reply.json();
    assert!(token.get("refresh_token").is_none(), "{token}");
    assert_eq!(token["authentication"]["username"], "token_user");
    let me = server
        .with_authorization(&bearer(&token))
        .get("/_security/_authenticate")
        .await;
    assert_eq!(me.json()["username"], "token_user");
}

#[tokio::test]
async fn client_credentials_with_an_api_key_are_refused() {
    let server = TestServer::start().await;
    let key = server.create_key(json!({"name": "k"})).await;
    let reply = server
        .api_key(key["encoded"].as_str().unwrap())
        .post(
            "/_security/oauth2/token",
            json!({"grant_type": "client_credentials"}),
        )
        .await;
    assert_error(
        &reply,
        400,
        "security_exception",
        "an access token cannot be created for an API key: client_credentials requires a user's credentials",
    );
}

#[tokio::test]
async fn a_refresh_token_is_exchanged_once() {
    let server = TestServer::start().await;
    setup(&server).await;
    let token = password_token(&server, "token_user").await;
    let refresh = json!({"grant_type": "refresh_token", "refresh_token": token["refresh_token"]});
    let reply = server
        .superuser()
        .post("/_security/oauth2/token", refresh.clone())
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let renewed = reply.json();
    assert_ne!(renewed["access_token"], token["access_token"]);
    let me = server
        .with_authorization(&bearer(&renewed))
        .get("/_security/_authenticate")
        .await;
    assert_eq!(me.json()["username"], "token_user");

    let again = server
        .superuser()
        .post("/_security/oauth2/token", refresh)
        .await;
    assert_error(&again, 400, "security_exception", "invalid_grant");
}

#[tokio::test]
async fn bad_grant_types_and_fields_are_rejected() {
    let server = TestServer::start().await;
    let admin = server.superuser();
    for (body, reason) in [
        (json!({}), "Validation Failed: 1: grant_type is missing;"),
        (
            json!({"grant_type": "_kerberos"}),
            "Validation Failed: 1: kerberos_ticket is missing;",
        ),
        (
            json!({"grant_type": "password", "username": "elastic"}),
            "Validation Failed: 1: password is missing;",
        ),
        (
            json!({"grant_type": "refresh_token"}),
            "Validation Failed: 1: refresh_token is missing;",
        ),
    ] {
        let reply = admin.post("/_security/oauth2/token", body).await;
        assert_error(&reply, 400, "action_request_validation_exception", reason);
    }
    let unknown = admin
        .post(
            "/_security/oauth2/token",
            json!({"grant_type": "client_credentials", "x": 1}),
        )
        .await;
    assert_eq!(unknown.status, 400, "{}", unknown.text);
    assert_eq!(unknown.json()["error"]["type"], "x_content_parse_exception");
}

#[tokio::test]
async fn a_wrong_password_is_a_401() {
    let server = TestServer::start().await;
    setup(&server).await;
    let reply = server
        .superuser()
        .post(
            "/_security/oauth2/token",
            json!({"grant_type": "password", "username": "token_user", "password": "wrong-one"}),
        )
        .await;
    assert_eq!(reply.status, 401, "{}", reply.text);
}

#[tokio::test]
async fn getting_and_invalidating_tokens_needs_manage_token() {
    let server = TestServer::start().await;
    setup(&server).await;
    let plain = server.basic("plain_user", "password-1");
    let reply = plain
        .post(
            "/_security/oauth2/token",
            json!({"grant_type": "client_credentials"}),
        )
        .await;
    assert_error(
        &reply,
        403,
        "security_exception",
        "action [cluster:admin/xpack/security/token/create] is unauthorized for user [plain_user] with effective roles [nothing], this action is granted by the cluster privileges [manage_token,manage_security,all]",
    );
    let reply = plain
        .delete("/_security/oauth2/token", json!({"username": "x"}))
        .await;
    assert_eq!(reply.status, 403, "{}", reply.text);
    // manage_token alone is enough.
    let reply = server
        .basic("token_user", "password-1")
        .post(
            "/_security/oauth2/token",
            json!({"grant_type": "password", "username": "plain_user", "password": "password-1"}),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
}

#[tokio::test]
async fn invalidating_by_token_ends_it() {
    let server = TestServer::start().await;
    setup(&server).await;
    let token = password_token(&server, "token_user").await;
    let admin = server.superuser();
    let body = json!({"token": token["access_token"]});
    let reply = admin.delete("/_security/oauth2/token", body.clone()).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(
        reply.json(),
        json!({"invalidated_tokens": 1, "previously_invalidated_tokens": 0, "error_count": 0})
    );
    let again = admin.delete("/_security/oauth2/token", body).await;
    assert_eq!(
        again.json(),
        json!({"invalidated_tokens": 0, "previously_invalidated_tokens": 1, "error_count": 0})
    );
    let me = server
        .with_authorization(&bearer(&token))
        .get("/_security/_authenticate")
        .await;
    assert_unauthenticated(&me, "token expired");
    // The refresh token of an invalidated token is dead too.
    let refresh = admin
        .post(
            "/_security/oauth2/token",
            json!({"grant_type": "refresh_token", "refresh_token": token["refresh_token"]}),
        )
        .await;
    assert_error(&refresh, 400, "security_exception", "invalid_grant");
}

#[tokio::test]
async fn invalidating_by_username_ends_all_their_tokens() {
    let server = TestServer::start().await;
    setup(&server).await;
    let first = password_token(&server, "token_user").await;
    let second = password_token(&server, "token_user").await;
    let other = password_token(&server, "plain_user").await;
    let reply = server
        .superuser()
        .delete("/_security/oauth2/token", json!({"username": "token_user"}))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json()["invalidated_tokens"], 2);
    for token in [&first, &second] {
        let me = server
            .with_authorization(&bearer(token))
            .get("/_security/_authenticate")
            .await;
        assert_unauthenticated(&me, "token expired");
    }
    let me = server
        .with_authorization(&bearer(&other))
        .get("/_security/_authenticate")
        .await;
    assert_eq!(me.status, 200, "{}", me.text);
    let by_realm = server
        .superuser()
        .delete(
            "/_security/oauth2/token",
            json!({"realm_name": "default_native"}),
        )
        .await;
    assert_eq!(
        by_realm.json(),
        json!({"invalidated_tokens": 1, "previously_invalidated_tokens": 2, "error_count": 0})
    );
}

#[tokio::test]
async fn invalidating_an_unknown_token_is_a_404_with_the_usual_body() {
    let server = TestServer::start().await;
    let reply = server
        .superuser()
        .delete("/_security/oauth2/token", json!({"token": "nope"}))
        .await;
    assert_eq!(reply.status, 404, "{}", reply.text);
    assert_eq!(
        reply.json(),
        json!({"invalidated_tokens": 0, "previously_invalidated_tokens": 0, "error_count": 0})
    );
}

#[tokio::test]
async fn invalidate_requests_must_name_one_target() {
    let server = TestServer::start().await;
    let admin = server.superuser();
    let reply = admin.delete("/_security/oauth2/token", json!({})).await;
    assert_error(
        &reply,
        400,
        "action_request_validation_exception",
        "Validation Failed: 1: token string must be provided when not specifying a realm name or a username;",
    );
    let reply = admin
        .delete(
            "/_security/oauth2/token",
            json!({"token": "a", "refresh_token": "b"}),
        )
        .await;
    assert_error(
        &reply,
        400,
        "illegal_argument_exception",
        "only one of [token, refresh_token] may be sent per request",
    );
}

#[tokio::test]
async fn unknown_and_expired_bearer_tokens_are_401s() {
    let server = TestServer::start_with(&["xpack.security.authc.token.timeout=1s"]).await;
    setup(&server).await;
    let unknown = server
        .with_authorization("Bearer not-a-token")
        .get("/_security/_authenticate")
        .await;
    assert_unauthenticated(&unknown, UNKNOWN_TOKEN);

    let token = password_token(&server, "token_user").await;
    assert_eq!(token["expires_in"], 1);
    let caller = server.with_authorization(&bearer(&token));
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let me = caller.get("/_security/_authenticate").await;
        if me.status == 401 {
            assert_unauthenticated(&me, "token expired");
            break;
        }
        assert_eq!(me.status, 200, "{}", me.text);
        assert!(Instant::now() < deadline, "the token never expired");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_token_of_a_disabled_user_no_longer_authenticates() {
    let server = TestServer::start().await;
    setup(&server).await;
    let token = password_token(&server, "token_user").await;
    let reply = server
        .superuser()
        .put_empty("/_security/user/token_user/_disable")
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let me = server
        .with_authorization(&bearer(&token))
        .get("/_security/_authenticate")
        .await;
    assert_unauthenticated(&me, UNKNOWN_TOKEN);
}

#[tokio::test]
async fn an_api_key_granted_with_an_access_token_belongs_to_the_token_user() {
    let server = TestServer::start().await;
    setup(&server).await;
    let token = password_token(&server, "token_user").await;
    let reply = server
        .basic("granter_user", "password-1")
        .post(
            "/_security/api_key/grant",
            json!({"grant_type": "access_token", "access_token": token["access_token"],
                   "api_key": {"name": "by-token"}}),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let me = server
        .api_key(reply.json()["encoded"].as_str().unwrap())
        .get("/_security/_authenticate")
        .await;
    assert_eq!(me.json()["username"], "token_user");
    assert_eq!(me.json()["api_key"]["name"], "by-token");
}

#[tokio::test]
async fn an_access_token_grant_supports_run_as() {
    let server = TestServer::start().await;
    setup(&server).await;
    let token = password_token(&server, "runner_user").await;
    let grant = |run_as: &str| {
        json!({"grant_type": "access_token", "access_token": token["access_token"],
               "run_as": run_as, "api_key": {"name": "ran-as"}})
    };
    let granter = server.basic("granter_user", "password-1");
    let reply = granter
        .post("/_security/api_key/grant", grant("token_user"))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let me = server
        .api_key(reply.json()["encoded"].as_str().unwrap())
        .get("/_security/_authenticate")
        .await;
    assert_eq!(me.json()["username"], "token_user");

    let denied = granter
        .post("/_security/api_key/grant", grant("plain_user"))
        .await;
    assert_eq!(denied.status, 403, "{}", denied.text);
}

#[tokio::test]
async fn access_token_grants_fail_for_bad_tokens_and_client_authentication() {
    let server = TestServer::start().await;
    setup(&server).await;
    let granter = server.basic("granter_user", "password-1");
    let reply = granter
        .post(
            "/_security/api_key/grant",
            json!({"grant_type": "access_token", "access_token": "nope", "api_key": {"name": "x"}}),
        )
        .await;
    assert_error(
        &reply,
        403,
        "security_exception",
        "Failed to authenticate api key grant",
    );
    let token = password_token(&server, "token_user").await;
    let reply = granter
        .post(
            "/_security/api_key/grant",
            json!({"grant_type": "access_token", "access_token": token["access_token"],
                   "client_authentication": {"scheme": "SharedSecret", "value": "x"},
                   "api_key": {"name": "x"}}),
        )
        .await;
    assert_error(
        &reply,
        400,
        "security_exception",
        "[client_authentication] not supported with the supplied access_token type",
    );
}
