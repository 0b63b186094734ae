//! Elasticsearch's input rules that keep hostile values out of the store: pre-computed password
//! hashes must name an algorithm Elasticsearch allows (no bcrypt cost 31), and certificate
//! identities must be regular expressions Java accepts and keyward evaluates exactly.

use serde_json::json;

use crate::support::{TestServer, assert_error};

/// A bcrypt-shaped hash with cost `cost` (two digits).
fn bcrypt_with_cost(cost: &str) -> String {
    format!("$2a${cost}$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ01234")
}

#[tokio::test]
async fn password_hashes_too_costly_to_verify_are_refused() {
    let server = TestServer::start().await;
    let admin = server.superuser();
    let refused = [
        (bcrypt_with_cost("31"), "unknown hash function [bcrypt31]"),
        (
            "{PBKDF2}1000000000$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA==".to_owned(),
            "unknown hash function [pbkdf2_1000000000]",
        ),
        (
            "{PBKDF2_STRETCH}2147483647$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA==".to_owned(),
            "unknown hash function [pbkdf2_stretch_2147483647]",
        ),
    ];
    for (hash, reason) in &refused {
        let reply = admin
            .put(
                "/_security/user/slow",
                json!({"password_hash": hash, "roles": []}),
            )
            .await;
        assert_error(&reply, 400, "illegal_argument_exception", reason);
        assert_eq!(admin.get("/_security/user/slow").await.status, 404);
    }

    server.put_user("joe", "joe-password", &[]).await;
    for (hash, reason) in &refused {
        let reply = admin
            .post(
                "/_security/user/joe/_password",
                json!({"password_hash": hash}),
            )
            .await;
        assert_error(&reply, 400, "illegal_argument_exception", reason);
    }
    let reply = server
        .basic("joe", "joe-password")
        .get("/_security/_authenticate")
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);

    // A hash made with another algorithm than the configured one (bcrypt, cost 10) is refused,
    // even at a cost Elasticsearch names.
    let cheaper = bcrypt::hash("joe-new-password", 4).unwrap();
    let reply = admin
        .post(
            "/_security/user/joe/_password",
            json!({"password_hash": cheaper}),
        )
        .await;
    assert_error(
        &reply,
        400,
        "illegal_argument_exception",
        "Provided password hash uses [BCRYPT4] but the configured hashing algorithm is [BCRYPT]",
    );
    let reply = admin
        .put(
            "/_security/user/pbkdf2-user",
            json!({"password_hash": "{PBKDF2}10000$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA==", "roles": []}),
        )
        .await;
    assert_error(
        &reply,
        400,
        "illegal_argument_exception",
        "Provided password hash uses [PBKDF2] but the configured hashing algorithm is [BCRYPT]",
    );

    // One made with the configured algorithm is accepted.
    let hash = bcrypt::hash("joe-new-password", 10).unwrap();
    let reply = admin
        .post(
            "/_security/user/joe/_password",
            json!({"password_hash": hash}),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let reply = server
        .basic("joe", "joe-new-password")
        .get("/_security/_authenticate")
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
}

#[tokio::test]
async fn the_configured_password_hashing_algorithm_hashes_and_gates_password_hashes() {
    let server =
        TestServer::start_with(&["xpack.security.authc.password_hashing.algorithm=pbkdf2_1000"])
            .await;
    let admin = server.superuser();
    // A clear password is stored with the configured algorithm.
    server.put_user("ann", "ann-password", &[]).await;
    let reply = server
        .basic("ann", "ann-password")
        .get("/_security/_authenticate")
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    // A bcrypt hash is refused; a PBKDF2 hash of 1000 iterations is taken.
    let reply = admin
        .put(
            "/_security/user/bob",
            json!({"password_hash": bcrypt::hash("bob-password", 10).unwrap(), "roles": []}),
        )
        .await;
    assert_error(
        &reply,
        400,
        "illegal_argument_exception",
        "Provided password hash uses [BCRYPT] but the configured hashing algorithm is [PBKDF2_1000]",
    );
    let reply = admin
        .put(
            "/_security/user/bob",
            json!({"password_hash": "{PBKDF2}1000$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA==", "roles": []}),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
}

const CREATE_CROSS_CLUSTER: &str = "/_security/cross_cluster/api_key";
const AUTHENTICATE_CROSS_CLUSTER: &str = "/_keyward/cross_cluster/_authenticate";

fn cross_cluster_key(identity: &str) -> serde_json::Value {
    json!({"name": "remote", "access": {"search": [{"names": ["logs"]}]}, "certificate_identity": identity})
}

#[tokio::test]
async fn certificate_identities_follow_java_regex_syntax() {
    let server = TestServer::start().await;
    let admin = server.superuser();
    // Invalid in Java, including Rust-only syntax Elasticsearch would refuse.
    for identity in [
        "CN=(remote",
        "(?P<cn>CN)=remote",
        "CN=remote{2,1}",
        "CN=\\y",
    ] {
        let reply = admin
            .post(CREATE_CROSS_CLUSTER, cross_cluster_key(identity))
            .await;
        assert_error(
            &reply,
            400,
            "illegal_argument_exception",
            &format!("Invalid certificate_identity format: [{identity}]. Must be a valid regex."),
        );
    }
    // Valid in Java but not evaluated exactly by keyward: refused rather than approximated.
    for (identity, feature) in [
        ("(?=CN)CN=remote", "lookahead"),
        ("(CN)=remote,\\1", "backreferences"),
        ("(?i)cn=remote", "inline flags"),
        ("CN=remote.*+", "possessive quantifiers"),
    ] {
        let reply = admin
            .post(CREATE_CROSS_CLUSTER, cross_cluster_key(identity))
            .await;
        assert_error(
            &reply,
            400,
            "illegal_argument_exception",
            &format!(
                "certificate_identity [{identity}] uses regular expression syntax keyward does \
                 not support: {feature}"
            ),
        );
    }

    // Java's `\d` is ASCII: an Arabic-Indic digit does not match it.
    let reply = admin
        .post(
            CREATE_CROSS_CLUSTER,
            cross_cluster_key("CN=node-\\d+,O=example"),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let encoded = reply.json()["encoded"].as_str().unwrap().to_owned();
    for (dn, status) in [
        ("CN=node-12,O=example", 200),
        ("CN=node-\u{663},O=example", 401),
    ] {
        let reply = admin
            .post(
                AUTHENTICATE_CROSS_CLUSTER,
                json!({"api_key": encoded, "certificate_dn": dn}),
            )
            .await;
        assert_eq!(reply.status, status, "{dn}: {}", reply.text);
    }
}

/// A regular expression with a deterministic automaton of about 8 000 states: each is accepted
/// alone, but a request holding dozens of them would multiply that work.
fn costly_pattern(variant: usize) -> String {
    format!("/x{variant}[ab]*a[ab]{{12}}/")
}

#[tokio::test]
async fn automaton_work_per_request_is_bounded() {
    let server = TestServer::start().await;
    let admin = server.superuser();
    let names: Vec<String> = (0..40).map(costly_pattern).collect();

    let reply = admin
        .post(
            "/_security/user/_has_privileges",
            json!({"index": [{"names": names, "privileges": ["read"]}]}),
        )
        .await;
    assert_error(
        &reply,
        400,
        "too_complex_to_determinize_exception",
        "The set of requested patterns is too complex to evaluate",
    );
    // One such pattern is fine.
    let reply = admin
        .post(
            "/_security/user/_has_privileges",
            json!({"index": [{"names": [costly_pattern(1)], "privileges": ["read"]}]}),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);

    let entries: Vec<_> = names
        .iter()
        .map(|name| json!({"names": [name], "privileges": ["read"]}))
        .collect();
    let reply = admin
        .put("/_security/role/costly", json!({"indices": entries}))
        .await;
    assert_eq!(reply.status, 400, "{}", reply.text);
    let body = reply.json();
    assert_eq!(body["error"]["type"], "action_request_validation_exception");
    assert!(
        body["error"]["reason"]
            .as_str()
            .unwrap()
            .contains("is too complex to evaluate"),
        "{body}"
    );
    assert_eq!(admin.get("/_security/role/costly").await.status, 404);
    let reply = admin
        .put(
            "/_security/role/regex",
            json!({"indices": [{"names": ["/logs-[/"], "privileges": ["read"]}]}),
        )
        .await;
    assert_error(
        &reply,
        400,
        "action_request_validation_exception",
        "Validation Failed: 1: invalid regular expression pattern [/logs-[/];",
    );
}
