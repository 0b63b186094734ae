//! The process: settings, refusal to start, the elastic user's password, reset-password.

use std::process::{Command, Stdio};

use base64::Engine;
use serde_json::json;

use crate::support::{TestServer, binary};

#[test]
fn unknown_settings_refuse_to_start() {
    let output = Command::new(binary())
        .args(["serve", "-E", "http.prot=9200"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("unknown setting [http.prot]"), "{stderr}");

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("keyward.yml");
    std::fs::write(
        &file,
        "xpack:\n  security:\n    authc:\n      api_key:\n        hashing.algorithm: rot13\n",
    )
    .unwrap();
    let output = Command::new(binary())
        .args(["serve", "--config"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("xpack.security.authc.api_key.hashing.algorithm")
            && stderr.contains("rot13"),
        "{stderr}"
    );
}

#[tokio::test]
async fn a_second_server_on_the_same_data_dir_is_refused() {
    let server = TestServer::start().await;
    let output = Command::new(binary())
        .args(["serve", "-E", "http.port=0", "-E"])
        .arg(format!("path.data={}", server.data_dir().display()))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("locked by another keyward process"),
        "{stderr}"
    );
}

#[tokio::test]
async fn config_file_settings_apply() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("keyward.yml");
    std::fs::write(
        &file,
        "cluster.name: from-file\nxpack.security.authc.api_key:\n  hashing.algorithm: pbkdf2\n",
    )
    .unwrap();
    let output = Command::new(binary())
        .args(["config", "show", "--config"])
        .arg(&file)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("cluster.name: from-file"), "{stdout}");
    assert!(
        stdout.contains("xpack.security.authc.api_key.hashing.algorithm: pbkdf2"),
        "{stdout}"
    );
}

#[tokio::test]
async fn keys_hashed_with_pbkdf2_and_bcrypt_authenticate() {
    for algorithm in ["pbkdf2_1000", "bcrypt4", "pbkdf2_stretch_1000"] {
        let setting = format!("xpack.security.authc.api_key.hashing.algorithm={algorithm}");
        let server =
            TestServer::start_with(&[&setting, "xpack.security.authc.api_key.cache.ttl=0"]).await;
        let created = server.create_key(json!({"name": algorithm})).await;
        let reply = server
            .api_key(created["encoded"].as_str().unwrap())
            .get("/_security/_authenticate")
            .await;
        assert_eq!(reply.status, 200, "{algorithm}: {}", reply.text);
    }
}

#[test]
fn generated_password_is_printed_once_and_reset_password_works_offline() {
    let dir = tempfile::tempdir().unwrap();
    let data = format!("path.data={}", dir.path().display());
    let mut child = Command::new(binary())
        .args(["serve", "-E", "http.port=0", "-E", &data])
        .env_remove("ELASTIC_PASSWORD")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line).unwrap();
    let url = line
        .trim()
        .strip_prefix("keyward listening on ")
        .unwrap()
        .to_owned();
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let password = stderr
        .lines()
        .skip_while(|line| !line.contains("[elastic] superuser was created"))
        .map(str::trim)
        .find(|line| !line.is_empty() && !line.contains("superuser"))
        .unwrap_or_else(|| panic!("no generated password in: {stderr}"))
        .to_owned();
    assert_eq!(password.len(), 20);
    assert!(!url.is_empty());

    // Offline reset with a chosen password, then the server accepts it and not the old one.
    let mut reset = Command::new(binary())
        .args(["reset-password", "-u", "elastic", "-b", "-s", "-E", &data])
        .output()
        .unwrap();
    assert!(
        reset.status.success(),
        "{}",
        String::from_utf8_lossy(&reset.stderr)
    );
    let new_password = String::from_utf8_lossy(&reset.stdout).trim().to_owned();
    assert_eq!(new_password.len(), 20);
    assert_ne!(new_password, password);
    reset = Command::new(binary())
        .args(["reset-password", "-u", "kibana", "-b", "-E", &data])
        .output()
        .unwrap();
    assert_eq!(reset.status.code(), Some(2));

    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let server = TestServer::start_in(std::sync::Arc::new(dir), &[]).await;
        let basic = |password: &str| {
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("elastic:{password}"))
            )
        };
        assert_eq!(
            server
                .with_authorization(&basic(&new_password))
                .get("/_security/_authenticate")
                .await
                .status,
            200
        );
        assert_eq!(
            server
                .with_authorization(&basic(&password))
                .get("/_security/_authenticate")
                .await
                .status,
            401
        );

        // Online reset through the admin socket while the server holds the data directory.
        let data = format!("path.data={}", server.data_dir().display());
        let reset = Command::new(binary())
            .args(["reset-password", "-u", "elastic", "-b", "-s", "-E", &data])
            .output()
            .unwrap();
        assert!(
            reset.status.success(),
            "{}",
            String::from_utf8_lossy(&reset.stderr)
        );
        let online = String::from_utf8_lossy(&reset.stdout).trim().to_owned();
        assert_eq!(
            server
                .with_authorization(&basic(&online))
                .get("/_security/_authenticate")
                .await
                .status,
            200
        );
        assert_eq!(
            server
                .with_authorization(&basic(&new_password))
                .get("/_security/_authenticate")
                .await
                .status,
            401
        );
    });
}

#[tokio::test]
async fn concurrent_first_uses_of_a_slow_hashed_key_all_succeed_and_wrong_secrets_never_do() {
    // PBKDF2 with many iterations: each verification costs milliseconds, so the requests below
    // really do arrive while the first verification is running.
    let server =
        TestServer::start_with(&["xpack.security.authc.api_key.hashing.algorithm=pbkdf2_50000"])
            .await;
    let created = server.create_key(json!({"name": "slow"})).await;
    let id = created["id"].as_str().unwrap();
    // The create filled the cache; clear it so the first uses are cold.
    let cleared = server
        .superuser()
        .post_empty(&format!("/_security/api_key/{id}/_clear_cache"))
        .await;
    assert_eq!(cleared.status, 200, "{}", cleared.text);

    let good = created["encoded"].as_str().unwrap().to_owned();
    let wrong =
        base64::engine::general_purpose::STANDARD.encode(format!("{id}:not-the-secret-at-all"));
    let client = reqwest::Client::new();
    let mut tasks = Vec::new();
    for n in 0..40 {
        let correct = n % 2 == 0;
        let encoded = if correct { good.clone() } else { wrong.clone() };
        let request = client
            .get(format!("{}/_security/_authenticate", server.url))
            .header("Authorization", format!("ApiKey {encoded}"));
        tasks.push(tokio::spawn(async move {
            (correct, request.send().await.unwrap().status().as_u16())
        }));
    }
    for task in tasks {
        let (correct, status) = task.await.unwrap();
        if correct {
            assert_eq!(status, 200, "a correct secret was refused");
        } else {
            assert!(
                status == 401 || status == 429,
                "a wrong secret got {status}"
            );
        }
    }
}
