//! The data directory's permissions: it holds every key's hash and the admin socket, so it is
//! created 0700 and the files in it are 0600. A directory or file found more open (made by an
//! older keyward, by hand, or restored from a backup) is tightened, with a warning naming it;
//! one keyward cannot tighten (not its owner) is reported and left as it is.

use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::Path;

use anyhow::Context;

/// The data directory's mode.
const DIRECTORY_MODE: u32 = 0o700;

/// The mode of the files in it.
const FILE_MODE: u32 = 0o600;

/// Files only keyward leaves in a data directory: one that holds others but none of these
/// belongs to something else.
const KEYWARD_MARKERS: [&str; 2] = ["keyward.db", "node.lock"];

/// What a fresh volume may hold before keyward's first start.
// `service_tokens`: written by `keyward service-tokens` before the first start when there is no
// `--config` file (the data directory is then the config directory).
const ALLOWED_IN_NEW: [&str; 2] = ["lost+found", crate::service_tokens::FILE_NAME];

/// Creates the data directory (and missing parents) for keyward's user only, or tightens an
/// existing one and the files in it. An existing directory that holds files but nothing of
/// keyward's (another program's data, a home directory) is refused untouched.
pub(crate) fn prepare(dir: &Path) -> anyhow::Result<()> {
    match std::fs::metadata(dir) {
        Ok(metadata) if metadata.is_dir() => {
            refuse_foreign(dir)?;
            tighten(dir, DIRECTORY_MODE);
        }
        Ok(_) => anyhow::bail!("the data directory [{}] is not a directory", dir.display()),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            return std::fs::DirBuilder::new()
                .recursive(true)
                .mode(DIRECTORY_MODE)
                .create(dir)
                .with_context(|| format!("cannot create the data directory [{}]", dir.display()));
        }
        Err(err) => {
            return Err(err)
                .with_context(|| format!("cannot read the data directory [{}]", dir.display()));
        }
    }
    let entries = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read the data directory [{}]", dir.display()))?;
    for entry in entries.flatten() {
        if entry.file_type().is_ok_and(|kind| kind.is_file()) {
            tighten(&entry.path(), FILE_MODE);
        }
    }
    Ok(())
}

/// Fails when `dir` holds entries but no keyward store or lock.
fn refuse_foreign(dir: &Path) -> anyhow::Result<()> {
    let entries = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read the data directory [{}]", dir.display()))?;
    let mut others = Vec::new();
    for entry in entries {
        let entry =
            entry.with_context(|| format!("cannot read the data directory [{}]", dir.display()))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if KEYWARD_MARKERS.contains(&name.as_str()) {
            return Ok(());
        }
        if !ALLOWED_IN_NEW.contains(&name.as_str()) {
            others.push(name);
        }
    }
    if others.is_empty() {
        return Ok(());
    }
    others.sort();
    others.truncate(5);
    anyhow::bail!(
        "the data directory [{}] is not keyward's: it holds other files ([{}]) and no keyward store; \
         keyward leaves it as it is (give path.data an empty or new directory)",
        dir.display(),
        others.join(", ")
    )
}

/// Removes every permission `mode` does not grant from `path`.
fn tighten(path: &Path, mode: u32) {
    let current = match std::fs::metadata(path) {
        Ok(metadata) => metadata.permissions().mode() & 0o7777,
        Err(err) => {
            tracing::warn!(path = %path.display(), error = %err, "cannot read permissions");
            return;
        }
    };
    if current & !mode == 0 {
        return;
    }
    let tightened = current & mode;
    match std::fs::set_permissions(path, std::fs::Permissions::from_mode(tightened)) {
        Ok(()) => tracing::warn!(
            path = %path.display(),
            from = format_args!("{current:o}"),
            to = format_args!("{tightened:o}"),
            "permissions were too open and have been tightened"
        ),
        Err(err) => tracing::warn!(
            path = %path.display(),
            mode = format_args!("{current:o}"),
            error = %err,
            "permissions are too open and cannot be tightened"
        ),
    }
}
