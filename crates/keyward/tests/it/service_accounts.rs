//! Service accounts and service tokens: the built-in accounts, tokens in the store (create,
//! authenticate with `Bearer`, the account's privileges, delete, clear cache), tokens in the
//! `service_tokens` file written by `keyward service-tokens`, Elasticsearch's errors for bad
//! input, and no secret in logs or the audit trail.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::{TestServer, assert_error, assert_unauthenticated, binary};

const FLEET: &str = "/_security/service/elastic/fleet-server";

async fn create_token(server: &TestServer, name: &str) -> String {
    let reply = server
        .superuser()
        .post_empty(&format!("{FLEET}/credential/token/{name}?refresh=wait_for"))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let body = reply.json();
    assert_eq!(body["created"], true);
    assert_eq!(body["token"]["name"], name);
    body["token"]["value"].as_str().unwrap().to_owned()
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// Runs `keyward service-tokens <args>` with the data directory as the config directory.
fn service_tokens_cli(data: &Path, args: &[&str]) -> std::process::Output {
    Command::new(binary())
        .arg("service-tokens")
        .args(args)
        .arg("-E")
        .arg(format!("path.data={}", data.display()))
        .output()
        .unwrap()
}

#[tokio::test]
async fn get_service_accounts_lists_the_built_in_accounts() {
    let server = TestServer::start().await;
    let all = server.superuser().get("/_security/service").await.json();
    let names: Vec<&str> = all
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        names,
        [
            "elastic/auto-ops",
            "elastic/fleet-server",
            "elastic/fleet-server-remote",
            "elastic/kibana"
        ]
    );
    let namespace = server.superuser().get("/_security/service/elastic").await;
    assert_eq!(namespace.json(), all);
    let fleet = server.superuser().get(FLEET).await.json();
    let descriptor = &fleet["elastic/fleet-server"]["role_descriptor"];
    assert_eq!(
        descriptor["cluster"],
        json!([
            "monitor",
            "manage_own_api_key",
            "read_fleet_secrets",
            "cluster:admin/xpack/connector/*"
        ])
    );
    assert_eq!(
        descriptor["applications"],
        json!([{"application": "kibana-*", "privileges": ["reserved_fleet-setup"], "resources": ["*"]}])
    );
    let remote = server
        .superuser()
        .get("/_security/service/elastic/fleet-server-remote")
        .await
        .json();
    assert_eq!(
        remote["elastic/fleet-server-remote"]["role_descriptor"]["indices"][0]["names"],
        json!(["logs-*", "metrics-*", "traces-*"])
    );
    // Unknown accounts select nothing: an empty object, status 200.
    for path in ["/_security/service/nope", "/_security/service/elastic/nope"] {
        let reply = server.superuser().get(path).await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        assert_eq!(reply.json(), json!({}));
    }
}

#[tokio::test]
async fn an_index_token_authenticates_as_fleet_server_until_deleted() {
    let server = TestServer::start().await;
    let token = create_token(&server, "fleet-token-1").await;
    let fleet = server.with_authorization(&bearer(&token));

    let me = fleet.get("/_security/_authenticate").await;
    assert_eq!(me.status, 200, "{}", me.text);
    assert_eq!(
        me.json(),
        json!({
            "username": "elastic/fleet-server",
            "roles": [],
            "full_name": "Service account - elastic/fleet-server",
            "email": null,
            "metadata": {"_elastic_service_account": true},
            "enabled": true,
            "authentication_realm": {"name": "_service_account", "type": "_service_account"},
            "lookup_realm": {"name": "_service_account", "type": "_service_account"},
            "authentication_type": "token",
            "token": {"name": "fleet-token-1", "type": "_service_account_index"},
        })
    );

    let fields: Vec<String> = me.json().as_object().unwrap().keys().cloned().collect();
    assert_eq!(
        fields,
        [
            "username",
            "roles",
            "full_name",
            "email",
            "token",
            "metadata",
            "enabled",
            "authentication_realm",
            "lookup_realm",
            "authentication_type"
        ]
    );

    // manage_own_api_key: fleet-server creates and reads its own keys.
    let key = fleet
        .post("/_security/api_key", json!({"name": "agent-key"}))
        .await;
    assert_eq!(key.status, 200, "{}", key.text);
    let listed = fleet.get("/_security/api_key?owner=true").await;
    assert_eq!(listed.status, 200, "{}", listed.text);
    assert_eq!(
        listed.json()["api_keys"][0]["username"],
        "elastic/fleet-server"
    );
    // Index privileges from its descriptor.
    let privileges = fleet
        .post(
            "/_security/user/_has_privileges",
            json!({"cluster": ["monitor", "manage_security"], "index": [
                {"names": ["logs-app-default"], "privileges": ["write", "read"]},
                {"names": [".fleet-agents"], "privileges": ["read"]},
            ]}),
        )
        .await
        .json();
    assert_eq!(
        privileges["cluster"],
        json!({"monitor": true, "manage_security": false})
    );
    assert_eq!(
        privileges["index"],
        json!({"logs-app-default": {"write": true, "read": false}, ".fleet-agents": {"read": true}})
    );
    // Denied: managing users, and creating service tokens.
    assert_error(
        &fleet.get("/_security/user").await,
        403,
        "security_exception",
        "action [cluster:admin/xpack/security/user/get] is unauthorized for service account \
         [elastic/fleet-server], this action is granted by the cluster privileges \
         [manage_security,read_security,all]",
    );
    let denied = fleet
        .post_empty(&format!("{FLEET}/credential/token/other"))
        .await;
    assert_eq!(denied.status, 403, "{}", denied.text);

    // Listed, then deleted: refused at once.
    let credentials = server.superuser().get(&format!("{FLEET}/credential")).await;
    assert_eq!(
        credentials.json(),
        json!({
            "service_account": "elastic/fleet-server",
            "count": 1,
            "tokens": {"fleet-token-1": {}},
            "nodes_credentials": {
                "_nodes": {"total": 1, "successful": 1, "failed": 0},
                "file_tokens": {},
            },
        })
    );
    let deleted = server
        .superuser()
        .send(
            "DELETE",
            &format!("{FLEET}/credential/token/fleet-token-1?refresh=true"),
            None,
            &[],
        )
        .await;
    assert_eq!(deleted.status, 200, "{}", deleted.text);
    assert_eq!(deleted.json(), json!({"found": true}));
    assert_unauthenticated(
        &fleet.get("/_security/_authenticate").await,
        "failed to authenticate service account [elastic/fleet-server] with token name \
         [fleet-token-1]",
    );
    let again = server
        .superuser()
        .send(
            "DELETE",
            &format!("{FLEET}/credential/token/fleet-token-1"),
            None,
            &[],
        )
        .await;
    assert_eq!(again.status, 404, "{}", again.text);
    assert_eq!(again.json(), json!({"found": false}));
}

#[tokio::test]
async fn a_wrong_secret_and_a_cleared_cache_are_handled() {
    let server = TestServer::start().await;
    let token = create_token(&server, "t").await;
    let fleet = server.with_authorization(&bearer(&token));
    assert_eq!(fleet.get("/_security/_authenticate").await.status, 200);
    // The same account and name with another secret.
    use base64::Engine;
    let forged = base64::engine::general_purpose::STANDARD_NO_PAD
        .encode(b"\x00\x01\x00\x01elastic/fleet-server/t:not-the-secret-at-all");
    assert_unauthenticated(
        &server
            .with_authorization(&bearer(&forged))
            .get("/_security/_authenticate")
            .await,
        "failed to authenticate service account [elastic/fleet-server] with token name [t]",
    );
    let cleared = server
        .superuser()
        .post_empty(&format!("{FLEET}/credential/token/t/_clear_cache"))
        .await;
    assert_eq!(cleared.status, 200, "{}", cleared.text);
    assert_eq!(cleared.json()["_nodes"]["failed"], 0);
    // Still valid after the cache is cleared: verified against the store again.
    assert_eq!(fleet.get("/_security/_authenticate").await.status, 200);
    // A generated name when none is given.
    let generated = server
        .superuser()
        .post_empty(&format!("{FLEET}/credential/token"))
        .await;
    assert_eq!(generated.status, 200, "{}", generated.text);
    let name = generated.json()["token"]["name"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(name.starts_with("token_"), "{name}");
}

#[tokio::test]
async fn bad_input_gets_elasticsearch_errors() {
    let server = TestServer::start().await;
    assert_error(
        &server
            .superuser()
            .post_empty("/_security/service/elastic/nope/credential/token/t")
            .await,
        400,
        "illegal_argument_exception",
        "service account [elastic/nope] does not exist",
    );
    for (name, decoded) in [("_t", "_t"), ("a%20b", "a b"), ("%C3%A9", "é")] {
        assert_error(
            &server
                .superuser()
                .put_empty(&format!("{FLEET}/credential/token/{name}"))
                .await,
            400,
            "action_request_validation_exception",
            &format!(
                "Validation Failed: 1: invalid service token name [{decoded}]. service account \
                 token name must have at least 1 character and at most 256 characters that are \
                 alphanumeric (A-Z, a-z, 0-9) or hyphen (-) or underscore (_). It must not begin \
                 with an underscore (_).;"
            ),
        );
    }
    create_token(&server, "dup").await;
    assert_error(
        &server
            .superuser()
            .post_empty(&format!("{FLEET}/credential/token/dup"))
            .await,
        409,
        "version_conflict_engine_exception",
        "[service_account_token-elastic/fleet-server/dup]: version conflict, document already \
         exists (current version [1])",
    );
    assert_error(
        &server
            .superuser()
            .post_empty(&format!("{FLEET}/credential/token/x?refresh=maybe"))
            .await,
        400,
        "illegal_argument_exception",
        "Unknown value for refresh: [maybe].",
    );
    let unknown = server
        .superuser()
        .send(
            "DELETE",
            "/_security/service/elastic/nope/credential/token/t",
            None,
            &[],
        )
        .await;
    assert_eq!(unknown.status, 404, "{}", unknown.text);
    // A bearer string that is not a service token is still an access token to keyward.
    let garbage = server
        .with_authorization("Bearer AAEAAWVsYXN0aWM")
        .get("/_security/_authenticate")
        .await;
    assert_eq!(garbage.status, 401, "{}", garbage.text);
}

#[tokio::test]
async fn a_file_token_from_the_cli_authenticates_and_reloads() {
    let data = Arc::new(tempfile::tempdir().unwrap());
    let created = service_tokens_cli(data.path(), &["create", "elastic/fleet-server", "file-1"]);
    assert!(created.status.success(), "{created:?}");
    let line = String::from_utf8(created.stdout).unwrap();
    let token = line
        .trim()
        .strip_prefix("SERVICE_TOKEN elastic/fleet-server/file-1 = ")
        .unwrap_or_else(|| panic!("{line}"))
        .to_owned();
    let file = std::fs::read_to_string(data.path().join("service_tokens")).unwrap();
    assert!(
        file.starts_with("elastic/fleet-server/file-1:{PBKDF2_STRETCH}"),
        "{file}"
    );
    assert!(!file.contains(&token));
    let unknown = service_tokens_cli(data.path(), &["create", "elastic/nope", "x"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&unknown.stderr).contains("Unknown service account principal"),
        "{unknown:?}"
    );

    let server = TestServer::start_in(data.clone(), &["resource.reload.interval.high=100ms"]).await;
    let me = server
        .with_authorization(&bearer(&token))
        .get("/_security/_authenticate")
        .await;
    assert_eq!(me.status, 200, "{}", me.text);
    assert_eq!(
        me.json()["token"],
        json!({"name": "file-1", "type": "_service_account_file"})
    );
    let credentials = server
        .superuser()
        .get(&format!("{FLEET}/credential"))
        .await
        .json();
    assert_eq!(credentials["count"], 1);
    assert_eq!(credentials["tokens"], json!({}));
    assert_eq!(
        credentials["nodes_credentials"]["file_tokens"]["file-1"]["nodes"],
        json!(["keyward-0"])
    );

    // Deleted from the file while the server runs: refused once the file is read again.
    let deleted = service_tokens_cli(data.path(), &["delete", "elastic/fleet-server", "file-1"]);
    assert!(deleted.status.success(), "{deleted:?}");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let reply = server
            .with_authorization(&bearer(&token))
            .get("/_security/_authenticate")
            .await;
        if reply.status == 401 {
            break;
        }
        assert!(Instant::now() < deadline, "still accepted: {}", reply.text);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let listed = service_tokens_cli(data.path(), &["list"]);
    assert!(listed.status.success(), "{listed:?}");
    assert_eq!(String::from_utf8(listed.stdout).unwrap(), "");
    assert!(!server.logs().contains(&token));
}

#[tokio::test]
async fn a_token_secret_never_reaches_logs_or_the_audit_trail() {
    let server = TestServer::start_with(&[
        "xpack.security.audit.enabled=true",
        "xpack.security.audit.logfile.events.include=_all",
        "keyward.log.format=json",
    ])
    .await;
    let token = create_token(&server, "audited").await;
    let fleet = server.with_authorization(&bearer(&token));
    assert_eq!(fleet.get("/_security/_authenticate").await.status, 200);
    assert_eq!(fleet.get("/_security/user").await.status, 403);
    let secret = String::from_utf8(
        {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD_NO_PAD
                .decode(&token)
                .unwrap()
        }[4..]
            .to_vec(),
    )
    .unwrap();
    let secret = secret.split_once(':').unwrap().1.to_owned();
    let audit_path = server.data_dir().join("logs").join("keyward_audit.json");
    let deadline = Instant::now() + Duration::from_secs(10);
    let audit = loop {
        let audit = std::fs::read_to_string(&audit_path).unwrap_or_default();
        if audit.contains("create_service_token") && audit.contains("access_denied") {
            break audit;
        }
        assert!(Instant::now() < deadline, "audit: {audit}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(
        audit.contains(
            r#""service_token":{"namespace":"elastic","service":"fleet-server","name":"audited"}"#
        ),
        "{audit}"
    );
    for text in [&audit, &server.logs()] {
        assert!(!text.contains(&token));
        assert!(!text.contains(&secret));
    }
    let metrics = server.superuser().get("/_keyward/metrics").await.text;
    assert!(!metrics.contains(&secret));
}
