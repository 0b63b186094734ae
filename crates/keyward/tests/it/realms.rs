//! The SAML, OpenID Connect, PKI delegation, Kerberos and enrollment APIs: routed, their bodies
//! read and validated as Elasticsearch reads them, their privileges checked, then answered as
//! Elasticsearch answers when no such realm is configured or enrollment is disabled.

use serde_json::json;

use crate::support::{TestServer, assert_error, assert_unauthenticated};

/// A user whose only role grants `monitor`: authenticated, but none of these privileges.
async fn unprivileged(server: &TestServer) {
    server
        .put_role("monitor_only", json!({"cluster": ["monitor"]}))
        .await;
    server
        .put_user("watcher", "watcher-password", &["monitor_only"])
        .await;
}

fn denied(action: &str, privileges: &str) -> String {
    format!(
        "action [{action}] is unauthorized for user [watcher] with effective roles [monitor_only], \
         this action is granted by the cluster privileges [{privileges}]"
    )
}

#[tokio::test]
async fn saml_prepare_finds_no_realm() {
    let server = TestServer::start().await;
    let reply = server
        .superuser()
        .post("/_security/saml/prepare", json!({"realm": "saml1"}))
        .await;
    assert_error(
        &reply,
        500,
        "security_exception",
        "Cannot find any matching realm for [SamlPrepareAuthenticationRequest{realmName=saml1, \
         assertionConsumerServiceURL=null, relayState=null}]",
    );
    let reply = server
        .superuser()
        .post(
            "/_security/saml/prepare",
            json!({"acs": "https://kibana/api/security/saml/callback", "relay_state": "x"}),
        )
        .await;
    assert_error(
        &reply,
        500,
        "security_exception",
        "Cannot find any matching realm for [SamlPrepareAuthenticationRequest{realmName=null, \
         assertionConsumerServiceURL=https://kibana/api/security/saml/callback, relayState=x}]",
    );
}

#[tokio::test]
async fn saml_prepare_reads_its_body_then_checks_the_privilege() {
    let server = TestServer::start().await;
    unprivileged(&server).await;
    let caller = server.basic("watcher", "watcher-password");
    let reply = caller.post_empty("/_security/saml/prepare").await;
    assert_error(&reply, 400, "parse_exception", "request body is required");
    let reply = caller
        .post("/_security/saml/prepare", json!({"realm": "a", "other": 1}))
        .await;
    assert_error(
        &reply,
        400,
        "x_content_parse_exception",
        "[saml_prepare_authn] unknown field [other]",
    );
    let reply = caller
        .post("/_security/saml/prepare", json!({"realm": "a"}))
        .await;
    assert_error(
        &reply,
        403,
        "security_exception",
        &denied(
            "cluster:admin/xpack/security/saml/prepare",
            "manage_saml,manage_security,all",
        ),
    );
    let reply = server
        .anonymous()
        .post("/_security/saml/prepare", json!({"realm": "a"}))
        .await;
    assert_unauthenticated(
        &reply,
        "missing authentication credentials for REST request [/_security/saml/prepare]",
    );
}

#[tokio::test]
async fn manage_saml_is_enough_for_the_saml_apis() {
    let server = TestServer::start().await;
    server
        .put_role("saml_proxy", json!({"cluster": ["manage_saml"]}))
        .await;
    server
        .put_user("kibana_proxy", "proxy-password", &["saml_proxy"])
        .await;
    let reply = server
        .basic("kibana_proxy", "proxy-password")
        .post("/_security/saml/prepare", json!({"realm": "saml1"}))
        .await;
    assert_eq!(reply.status, 500, "{}", reply.text);
    assert_eq!(reply.json()["error"]["type"], "security_exception");
}

#[tokio::test]
async fn saml_authenticate_is_taken_by_no_realm() {
    let server = TestServer::start().await;
    let reply = server
        .superuser()
        .post(
            "/_security/saml/authenticate",
            json!({"content": "PHNhbWxwOlJlc3BvbnNlLz4=", "ids": ["_1"]}),
        )
        .await;
    assert_unauthenticated(
        &reply,
        "unable to authenticate user [<unauthenticated-saml-user>] for action \
         [cluster:admin/xpack/security/saml/authenticate]",
    );
}

#[tokio::test]
async fn saml_logout_validates_and_looks_up_the_token() {
    let server = TestServer::start().await;
    let reply = server
        .superuser()
        .post("/_security/saml/logout", json!({}))
        .await;
    assert_error(
        &reply,
        400,
        "action_request_validation_exception",
        "Validation Failed: 1: token is missing;",
    );
    let reply = server
        .superuser()
        .post("/_security/saml/logout", json!({"token": "not-a-token"}))
        .await;
    assert_error(
        &reply,
        500,
        "security_exception",
        "supplied token is not valid",
    );
    // A token of the native realm is found, and is not a SAML realm's.
    let created = server
        .superuser()
        .post(
            "/_security/oauth2/token",
            json!({"grant_type": "password", "username": "elastic", "password": crate::support::PASSWORD}),
        )
        .await;
    assert_eq!(created.status, 200, "{}", created.text);
    let token = created.json()["access_token"].as_str().unwrap().to_owned();
    let reply = server
        .superuser()
        .post("/_security/saml/logout", json!({"token": token}))
        .await;
    assert_eq!(reply.status, 500, "{}", reply.text);
    assert_eq!(reply.json()["error"]["type"], "security_exception");
    assert!(
        reply.json()["error"]["reason"]
            .as_str()
            .unwrap()
            .ends_with("is not a SAML realm"),
        "{}",
        reply.text
    );
}

#[tokio::test]
async fn saml_invalidate_requires_the_query_string() {
    let server = TestServer::start().await;
    let reply = server
        .superuser()
        .post("/_security/saml/invalidate", json!({"realm": "saml1"}))
        .await;
    assert_error(
        &reply,
        400,
        "action_request_validation_exception",
        "Validation Failed: 1: queryString is missing;",
    );
    let reply = server
        .superuser()
        .post(
            "/_security/saml/invalidate",
            json!({"query_string": "SAMLRequest=abc", "realm": "saml1"}),
        )
        .await;
    assert_error(
        &reply,
        500,
        "security_exception",
        "Cannot find any matching realm for [SamlInvalidateSessionRequest{realmName='saml1', \
         assertionConsumerServiceURL='null', url-query=15 chars}]",
    );
}

#[tokio::test]
async fn saml_complete_logout_validates_then_finds_no_realm() {
    let server = TestServer::start().await;
    let reply = server
        .superuser()
        .post("/_security/saml/complete_logout", json!({"ids": ["_1"]}))
        .await;
    assert_error(
        &reply,
        400,
        "action_request_validation_exception",
        "Validation Failed: 1: queryString and content may not both be empty;2: realm may not be empty;",
    );
    let reply = server
        .superuser()
        .post(
            "/_security/saml/complete_logout",
            json!({"realm": "saml1", "ids": ["_1"], "query_string": "SAMLResponse=x"}),
        )
        .await;
    assert_error(
        &reply,
        500,
        "security_exception",
        "Cannot find any matching realm with name [saml1]",
    );
}

#[tokio::test]
async fn saml_service_provider_metadata_finds_no_realm() {
    let server = TestServer::start().await;
    let reply = server
        .superuser()
        .get("/_security/saml/metadata/saml1")
        .await;
    assert_error(
        &reply,
        500,
        "security_exception",
        "Cannot find any matching realm for [saml1]",
    );
}

#[tokio::test]
async fn oidc_prepare_validates_then_finds_no_realm() {
    let server = TestServer::start().await;
    let reply = server
        .superuser()
        .post("/_security/oidc/prepare", json!({}))
        .await;
    assert_error(
        &reply,
        400,
        "action_request_validation_exception",
        "Validation Failed: 1: one of [realm, issuer] must be provided;",
    );
    let reply = server
        .superuser()
        .post("/_security/oidc/prepare", json!({"realm": "oidc1"}))
        .await;
    assert_error(
        &reply,
        500,
        "security_exception",
        "Cannot find OpenID Connect realm with name [oidc1]",
    );
    let reply = server
        .superuser()
        .post(
            "/_security/oidc/prepare",
            json!({"iss": "https://op.example.org", "login_hint": "u"}),
        )
        .await;
    assert_error(
        &reply,
        500,
        "security_exception",
        "Cannot find OpenID Connect realm with issuer [https://op.example.org]",
    );
}

#[tokio::test]
async fn oidc_authenticate_validates_then_no_realm_takes_it() {
    let server = TestServer::start().await;
    let reply = server
        .superuser()
        .post("/_security/oidc/authenticate", json!({"realm": "oidc1"}))
        .await;
    assert_error(
        &reply,
        400,
        "action_request_validation_exception",
        "Validation Failed: 1: state parameter is missing;2: nonce parameter is missing;\
         3: redirect_uri parameter is missing;",
    );
    let reply = server
        .superuser()
        .post(
            "/_security/oidc/authenticate",
            json!({"redirect_uri": "https://kibana/cb?code=x&state=s", "state": "s", "nonce": "n"}),
        )
        .await;
    assert_unauthenticated(
        &reply,
        "unable to authenticate user [<OIDC Token>] for action \
         [cluster:admin/xpack/security/oidc/authenticate]",
    );
}

#[tokio::test]
async fn oidc_logout_looks_up_the_token() {
    let server = TestServer::start().await;
    unprivileged(&server).await;
    let reply = server
        .basic("watcher", "watcher-password")
        .post("/_security/oidc/logout", json!({"token": "t"}))
        .await;
    assert_error(
        &reply,
        403,
        "security_exception",
        &denied(
            "cluster:admin/xpack/security/oidc/logout",
            "manage_oidc,manage_security,all",
        ),
    );
    let reply = server
        .superuser()
        .post("/_security/oidc/logout", json!({"token": "t"}))
        .await;
    assert_error(
        &reply,
        500,
        "security_exception",
        "supplied token is not valid",
    );
}

#[tokio::test]
async fn delegate_pki_validates_the_chain() {
    let server = TestServer::start().await;
    let reply = server
        .superuser()
        .post(
            "/_security/delegate_pki",
            json!({"x509_certificate_chain": []}),
        )
        .await;
    assert_error(
        &reply,
        400,
        "action_request_validation_exception",
        "Validation Failed: 1: certificates chain must not be empty;",
    );
    let reply = server
        .superuser()
        .post(
            "/_security/delegate_pki",
            json!({"x509_certificate_chain": ["not base64!"]}),
        )
        .await;
    assert_error(
        &reply,
        400,
        "x_content_parse_exception",
        "[delegate_pki_request] failed to parse field [x509_certificate_chain]",
    );
    unprivileged(&server).await;
    let reply = server
        .basic("watcher", "watcher-password")
        .post(
            "/_security/delegate_pki",
            json!({"x509_certificate_chain": [CERTIFICATE]}),
        )
        .await;
    assert_error(
        &reply,
        403,
        "security_exception",
        &denied(
            "cluster:admin/xpack/security/delegate_pki",
            "delegate_pki,manage_security,all",
        ),
    );
    let reply = server
        .superuser()
        .post(
            "/_security/delegate_pki",
            json!({"x509_certificate_chain": [CERTIFICATE]}),
        )
        .await;
    assert_eq!(reply.status, 401, "{}", reply.text);
    assert_eq!(reply.json()["error"]["type"], "security_exception");
}

#[tokio::test]
async fn kerberos_grant_is_validated_and_taken_by_no_realm() {
    let server = TestServer::start().await;
    let reply = server
        .superuser()
        .post(
            "/_security/oauth2/token",
            json!({"grant_type": "_kerberos"}),
        )
        .await;
    assert_error(
        &reply,
        400,
        "action_request_validation_exception",
        "Validation Failed: 1: kerberos_ticket is missing;",
    );
    let reply = server
        .superuser()
        .post(
            "/_security/oauth2/token",
            json!({"grant_type": "password", "username": "elastic", "password": "x", "kerberos_ticket": "YQ=="}),
        )
        .await;
    assert_error(
        &reply,
        400,
        "action_request_validation_exception",
        "Validation Failed: 1: kerberos_ticket is not supported with the password grant_type;",
    );
    let reply = server
        .superuser()
        .post(
            "/_security/oauth2/token",
            json!({"grant_type": "_kerberos", "kerberos_ticket": "YIIChgYGKwYBBQUCoII="}),
        )
        .await;
    assert_unauthenticated(
        &reply,
        "unable to authenticate user [<Kerberos Token>] for action \
         [cluster:admin/xpack/security/token/create]",
    );
}

#[tokio::test]
async fn enrollment_is_not_enabled() {
    let server = TestServer::start().await;
    let reason = "Enrollment mode is not enabled. Set [xpack.security.enrollment.enabled] to \
                  true, in order to use this API.";
    for path in ["/_security/enroll/node", "/_security/enroll/kibana"] {
        let reply = server.superuser().get(path).await;
        assert_error(&reply, 403, "security_exception", reason);
    }
    // Checked before the caller's privileges, but after authentication.
    unprivileged(&server).await;
    let reply = server
        .basic("watcher", "watcher-password")
        .get("/_security/enroll/node")
        .await;
    assert_error(&reply, 403, "security_exception", reason);
    let reply = server.anonymous().get("/_security/enroll/kibana").await;
    assert_eq!(reply.status, 401, "{}", reply.text);
}

/// A self-signed certificate's DER, base64: the chain element delegate_pki takes.
const CERTIFICATE: &str = "MIIBszCCAVmgAwIBAgIUQkLLj1Mh6Y8Zc9QjVd3xL7zv5tcwCgYIKoZIzj0EAwIwEjEQMA4GA1UEAwwHY2xpZW50MTAeFw0yNDAxMDEwMDAwMDBaFw0zNDAxMDEwMDAwMDBaMBIxEDAOBgNVBAMMB2NsaWVudDEwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAAQ=";
