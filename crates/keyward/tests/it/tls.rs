//! TLS on the HTTP port: generated certificates, given ones and their reload, client
//! certificates, plain HTTP on the TLS port, and settings keyward refuses.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use sha2::Digest;

use crate::support::{PASSWORD, TestServer, serve_refused};

/// A CA made by the test.
struct TestCa {
    issuer: rcgen::CertifiedIssuer<'static, rcgen::KeyPair>,
}

impl TestCa {
    fn new(name: &str) -> TestCa {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::DigitalSignature,
        ];
        let key = rcgen::KeyPair::generate().unwrap();
        TestCa {
            issuer: rcgen::CertifiedIssuer::self_signed(params, key).unwrap(),
        }
    }

    fn pem(&self) -> String {
        self.issuer.pem()
    }

    /// A certificate and its key, PEM, for `names` (a server) or for a client when empty.
    fn issue(&self, names: &[&str], client: bool) -> (String, String) {
        let names: Vec<String> = names.iter().map(|name| (*name).to_owned()).collect();
        let mut params = rcgen::CertificateParams::new(names).unwrap();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "test");
        params.extended_key_usages = vec![if client {
            rcgen::ExtendedKeyUsagePurpose::ClientAuth
        } else {
            rcgen::ExtendedKeyUsagePurpose::ServerAuth
        }];
        let key = rcgen::KeyPair::generate().unwrap();
        let certificate = params.signed_by(&key, &self.issuer).unwrap();
        (certificate.pem(), key.serialize_pem())
    }
}

/// A fresh client (no pooled connection) trusting `ca_pem`, presenting `identity` if given.
fn client(ca_pem: &str, identity: Option<&(String, String)>) -> reqwest::Client {
    let mut builder = reqwest::Client::builder()
        .use_rustls_tls()
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(10))
        .add_root_certificate(reqwest::Certificate::from_pem(ca_pem.as_bytes()).unwrap());
    if let Some((certificate, key)) = identity {
        builder = builder.identity(
            reqwest::Identity::from_pem(format!("{certificate}{key}").as_bytes()).unwrap(),
        );
    }
    builder.build().unwrap()
}

/// `GET /_security/_authenticate` as `elastic`: the status, or the error's text when no
/// response came (a refused handshake).
async fn authenticate(client: &reqwest::Client, url: &str) -> Result<u16, String> {
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("elastic:{PASSWORD}"));
    client
        .get(format!("{url}/_security/_authenticate"))
        .header("authorization", format!("Basic {basic}"))
        .send()
        .await
        .map(|response| response.status().as_u16())
        .map_err(|err| format!("{err:?}"))
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[tokio::test]
async fn generated_certificates_serve_https_print_the_fingerprint_once_and_are_reused() {
    let mut server = TestServer::start_with(&["xpack.security.http.ssl.enabled=true"]).await;
    assert!(
        server.url.starts_with("https://127.0.0.1:"),
        "{}",
        server.url
    );
    let tls = server.data_dir().join("tls");
    let ca_pem = std::fs::read_to_string(tls.join("http_ca.crt")).unwrap();
    // The printed fingerprint is the SHA-256 of the CA certificate's DER, in hex.
    let der = base64::engine::general_purpose::STANDARD
        .decode(
            ca_pem
                .lines()
                .filter(|line| !line.starts_with("-----"))
                .collect::<String>(),
        )
        .unwrap();
    let fingerprint: String = sha2::Sha256::digest(&der)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    let logs = server.logs();
    assert!(
        logs.contains("HTTP CA certificate SHA-256 fingerprint"),
        "{logs}"
    );
    assert!(logs.contains(&fingerprint), "{fingerprint} not in {logs}");
    assert!(
        logs.contains(&tls.join("http_ca.crt").display().to_string()),
        "{logs}"
    );
    // Files for keyward's user only, the CA key kept beside them.
    use std::os::unix::fs::PermissionsExt;
    let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&tls), 0o700);
    for name in ["http_ca.crt", "http_ca.key", "http.crt", "http.key"] {
        assert_eq!(mode(&tls.join(name)), 0o600, "{name}");
    }
    // Keys never reach the log.
    let key = std::fs::read_to_string(tls.join("http.key")).unwrap();
    let key_body: String = key
        .lines()
        .filter(|line| !line.starts_with("-----"))
        .collect();
    assert!(!logs.contains(&key_body));

    let reply = server.superuser().get("/_security/_authenticate").await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(
        authenticate(&client(&ca_pem, None), &server.url).await,
        Ok(200)
    );

    // Plain HTTP on the TLS port: the connection is closed, with Elasticsearch's warning, and
    // the server goes on.
    let plain = server
        .raw(
            b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
            b"",
            Duration::from_secs(5),
        )
        .await;
    assert!(
        matches!(plain, crate::support::RawReply::Closed),
        "{plain:?}"
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    while !server
        .logs()
        .contains("received plaintext http traffic on an https channel")
    {
        assert!(Instant::now() < deadline, "{}", server.logs());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(server.superuser().get("/").await.status, 200);

    // A later start reuses the certificates and prints nothing.
    assert_eq!(server.stop(), Some(0));
    let data = Arc::clone(&server.data);
    drop(server);
    let again = TestServer::start_in(data, &["xpack.security.http.ssl.enabled=true"]).await;
    assert_eq!(
        std::fs::read_to_string(tls.join("http_ca.crt")).unwrap(),
        ca_pem
    );
    assert!(!again.logs().contains("fingerprint"), "{}", again.logs());
    assert_eq!(
        authenticate(&client(&ca_pem, None), &again.url).await,
        Ok(200)
    );
}

#[tokio::test]
async fn a_handshake_that_does_not_finish_in_the_header_read_timeout_is_closed() {
    let server = TestServer::start_with(&[
        "xpack.security.http.ssl.enabled=true",
        "keyward.http.header_read_timeout=500ms",
    ])
    .await;
    let started = Instant::now();
    // The first byte of a TLS record, then nothing.
    let reply = server.raw(&[0x16], b"", Duration::from_secs(10)).await;
    assert!(
        matches!(reply, crate::support::RawReply::Closed),
        "{reply:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(server.superuser().get("/").await.status, 200);
}

#[tokio::test]
async fn given_certificates_reload_when_their_files_change() {
    let files = tempfile::tempdir().unwrap();
    let first = TestCa::new("first");
    let second = TestCa::new("second");
    let (certificate, key) = first.issue(&["localhost", "127.0.0.1"], false);
    let certificate_path = write(files.path(), "node.crt", &certificate);
    let key_path = write(files.path(), "node.key", &key);
    let server = TestServer::start_with(&[
        "xpack.security.http.ssl.enabled=true",
        &format!(
            "xpack.security.http.ssl.certificate={}",
            certificate_path.display()
        ),
        &format!("xpack.security.http.ssl.key={}", key_path.display()),
        "resource.reload.interval.high=100ms",
    ])
    .await;
    // Nothing generated when a certificate is given.
    assert!(!server.data_dir().join("tls").exists());
    assert_eq!(
        authenticate(&client(&first.pem(), None), &server.url).await,
        Ok(200)
    );
    assert!(
        authenticate(&client(&second.pem(), None), &server.url)
            .await
            .is_err()
    );

    // A new pair: new connections get it, without a restart.
    let (certificate, key) = second.issue(&["localhost", "127.0.0.1"], false);
    std::fs::write(&key_path, &key).unwrap();
    std::fs::write(&certificate_path, &certificate).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while authenticate(&client(&second.pem(), None), &server.url).await != Ok(200) {
        assert!(Instant::now() < deadline, "not reloaded: {}", server.logs());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        authenticate(&client(&first.pem(), None), &server.url)
            .await
            .is_err()
    );

    // A broken pair is logged and the one in use kept.
    std::fs::write(
        &key_path,
        "-----BEGIN PRIVATE KEY-----\nQUJDREVGR0hJSktMTU5PUA==\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !server
        .logs()
        .contains("cannot reload the HTTP TLS certificate")
    {
        assert!(Instant::now() < deadline, "{}", server.logs());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        authenticate(&client(&second.pem(), None), &server.url).await,
        Ok(200)
    );
    // Key material never reaches the log (request ids are base64 too: a distinctive marker).
    assert!(!server.logs().contains("QUJDREVGR0hJSktMTU5PUA"));
}

#[tokio::test]
async fn client_certificates_required_refuse_a_client_without_one_at_the_handshake() {
    let files = tempfile::tempdir().unwrap();
    let clients = TestCa::new("clients");
    let stranger = TestCa::new("stranger");
    let ca_path = write(files.path(), "clients.crt", &clients.pem());
    let server = TestServer::start_with(&[
        "xpack.security.http.ssl.enabled=true",
        &format!(
            "xpack.security.http.ssl.certificate_authorities={}",
            ca_path.display()
        ),
        "xpack.security.http.ssl.client_authentication=required",
    ])
    .await;
    let server_ca = std::fs::read_to_string(server.data_dir().join("tls/http_ca.crt")).unwrap();
    let trusted = clients.issue(&[], true);
    let untrusted = stranger.issue(&[], true);
    assert!(
        authenticate(&client(&server_ca, None), &server.url)
            .await
            .is_err()
    );
    assert!(
        authenticate(&client(&server_ca, Some(&untrusted)), &server.url)
            .await
            .is_err()
    );
    // The certificate opens the connection; the request still authenticates (no PKI realm).
    assert_eq!(
        authenticate(&client(&server_ca, Some(&trusted)), &server.url).await,
        Ok(200)
    );
    let anonymous = client(&server_ca, Some(&trusted))
        .get(format!("{}/_security/_authenticate", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status().as_u16(), 401);
}

#[tokio::test]
async fn client_certificates_optional_accept_clients_with_and_without_one() {
    let files = tempfile::tempdir().unwrap();
    let clients = TestCa::new("clients");
    let stranger = TestCa::new("stranger");
    let ca_path = write(files.path(), "clients.crt", &clients.pem());
    let server = TestServer::start_with(&[
        "xpack.security.http.ssl.enabled=true",
        &format!(
            "xpack.security.http.ssl.certificate_authorities={}",
            ca_path.display()
        ),
        "xpack.security.http.ssl.client_authentication=optional",
    ])
    .await;
    let server_ca = std::fs::read_to_string(server.data_dir().join("tls/http_ca.crt")).unwrap();
    assert_eq!(
        authenticate(&client(&server_ca, None), &server.url).await,
        Ok(200)
    );
    let trusted = clients.issue(&[], true);
    assert_eq!(
        authenticate(&client(&server_ca, Some(&trusted)), &server.url).await,
        Ok(200)
    );
    // A certificate that is presented must be trusted.
    let untrusted = stranger.issue(&[], true);
    assert!(
        authenticate(&client(&server_ca, Some(&untrusted)), &server.url)
            .await
            .is_err()
    );
}

#[test]
fn tls_settings_keyward_cannot_honour_stop_the_server() {
    let data = tempfile::tempdir().unwrap();
    let files = tempfile::tempdir().unwrap();
    let (certificate, key) = TestCa::new("ca").issue(&["localhost"], false);
    let certificate_path = write(files.path(), "node.crt", &certificate);
    let key_path = write(files.path(), "node.key", &key);
    for (settings, message) in [
        (
            vec!["xpack.security.http.ssl.key_passphrase=secret".to_owned()],
            "setting [xpack.security.http.ssl.key_passphrase] is not supported",
        ),
        (
            vec![format!(
                "xpack.security.http.ssl.certificate={}",
                certificate_path.display()
            )],
            "must be given together",
        ),
        (
            vec!["xpack.security.http.ssl.client_authentication=maybe".to_owned()],
            "[xpack.security.http.ssl.client_authentication]",
        ),
        (
            vec![
                format!(
                    "xpack.security.http.ssl.certificate={}",
                    certificate_path.display()
                ),
                format!("xpack.security.http.ssl.key={}", key_path.display()),
                "xpack.security.http.ssl.client_authentication=required".to_owned(),
            ],
            "[xpack.security.http.ssl.certificate_authorities] is required",
        ),
        (
            vec![
                format!("xpack.security.http.ssl.certificate={}", key_path.display()),
                format!("xpack.security.http.ssl.key={}", key_path.display()),
            ],
            "holds no certificate",
        ),
    ] {
        let mut all = vec!["xpack.security.http.ssl.enabled=true".to_owned()];
        all.extend(settings);
        let all: Vec<&str> = all.iter().map(String::as_str).collect();
        let (code, stderr) = serve_refused(data.path(), &all);
        assert_eq!(code, Some(2), "{all:?}: {stderr}");
        assert!(stderr.contains(message), "{all:?}: {stderr}");
        assert!(!stderr.contains("PRIVATE KEY"), "{stderr}");
    }
}
