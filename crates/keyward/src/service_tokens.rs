//! File service tokens: the `service_tokens` file in the config directory (the directory of the
//! `--config` file, or `path.data` without one), `namespace/service/name:hash` a line as
//! Elasticsearch's `elasticsearch-service-tokens` writes it. `keyward service-tokens` edits it;
//! the server reads it at start and again whenever it changes.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use keyward_core::service_account::{
    INVALID_TOKEN_NAME, SERVICE_ACCOUNTS, ServiceToken, is_service_account, is_valid_token_name,
};
use keyward_service::{
    FileTokens, SecurityService, hash_service_token_secret, new_service_token_secret,
};

/// The file's name, as Elasticsearch names it.
pub(crate) const FILE_NAME: &str = "service_tokens";

/// The `service_tokens` file for these settings.
pub(crate) fn file_path(config_file: Option<&Path>, data_dir: &Path) -> PathBuf {
    let dir = config_file
        .and_then(Path::parent)
        .filter(|dir| !dir.as_os_str().is_empty())
        .unwrap_or(data_dir);
    dir.join(FILE_NAME)
}

/// Reads the file; an absent file holds no tokens.
pub(crate) fn read(path: &Path) -> anyhow::Result<FileTokens> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            FileTokens::parse(&text).map_err(|err| anyhow::anyhow!("{err} in [{}]", path.display()))
        }
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(FileTokens::default()),
        Err(err) => Err(err).with_context(|| format!("cannot read [{}]", path.display())),
    }
}

/// Writes the file whole: a temporary file beside it, renamed over it, so a server reading it
/// never sees half of it. Created for the owner only (the process umask).
fn write(path: &Path, tokens: &FileTokens) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create [{}]", dir.display()))?;
    }
    let temporary = path.with_extension("tmp");
    std::fs::write(&temporary, tokens.render())
        .with_context(|| format!("cannot write [{}]", temporary.display()))?;
    std::fs::rename(&temporary, path).with_context(|| format!("cannot write [{}]", path.display()))
}

/// `keyward service-tokens create`: adds a token and prints its bearer value once.
pub(crate) fn create(path: &Path, principal: &str, name: &str) -> anyhow::Result<String> {
    check_principal(principal)?;
    if !is_valid_token_name(name) {
        anyhow::bail!("{INVALID_TOKEN_NAME}");
    }
    let mut tokens = read(path)?;
    let secret = new_service_token_secret();
    let hash = hash_service_token_secret(&secret);
    if !tokens.insert(principal, name, hash) {
        anyhow::bail!("Service token [{principal}/{name}] already exists");
    }
    write(path, &tokens)?;
    let value = ServiceToken::new(principal, name, secret).to_bearer();
    Ok(format!(
        "SERVICE_TOKEN {principal}/{name} = {}",
        value.as_str()
    ))
}

/// `keyward service-tokens delete`.
pub(crate) fn delete(path: &Path, principal: &str, name: &str) -> anyhow::Result<()> {
    check_principal(principal)?;
    let mut tokens = read(path)?;
    if !tokens.remove(principal, name) {
        anyhow::bail!("Service token [{principal}/{name}] does not exist");
    }
    write(path, &tokens)
}

/// `keyward service-tokens list`: one qualified name a line.
pub(crate) fn list(path: &Path, principal: Option<&str>) -> anyhow::Result<String> {
    if let Some(principal) = principal {
        check_principal(principal)?;
    }
    let tokens = read(path)?;
    Ok(tokens
        .names()
        .filter(|qualified| {
            principal.is_none_or(|principal| {
                qualified
                    .strip_prefix(principal)
                    .is_some_and(|rest| rest.starts_with('/'))
            })
        })
        .map(|qualified| format!("{qualified}\n"))
        .collect())
}

fn check_principal(principal: &str) -> anyhow::Result<()> {
    if !is_service_account(principal) {
        anyhow::bail!(
            "Unknown service account principal: [{principal}]. Must be one of [{}]",
            SERVICE_ACCOUNTS.join(",")
        );
    }
    Ok(())
}

/// Reads the file into the service now, then re-reads it every `interval` and puts a changed
/// file in force; a file that does not parse is logged and the tokens in use kept.
pub(crate) fn spawn_reloader(
    path: PathBuf,
    service: SecurityService,
    interval: Duration,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let initial = read(&path)?;
    let mut in_force = initial.clone();
    service.replace_file_tokens(initial);
    Ok(tokio::spawn(async move {
        let mut last_error = String::new();
        loop {
            tokio::time::sleep(interval).await;
            match read(&path) {
                Ok(tokens) if tokens == in_force => {}
                Ok(tokens) => {
                    service.replace_file_tokens(tokens.clone());
                    in_force = tokens;
                    last_error.clear();
                    tracing::info!(file = %path.display(), "reloaded the service tokens file");
                }
                Err(err) => {
                    let err = format!("{err:#}");
                    if err != last_error {
                        tracing::warn!(error = %err, "cannot read the service tokens file; the tokens in use are kept");
                        last_error = err;
                    }
                }
            }
        }
    }))
}
