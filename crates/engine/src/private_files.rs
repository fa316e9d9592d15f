//! Private files (issue 13, item 10): every directory of the data dir is
//! 0700 and every file 0600, whatever the umask, and a data dir that group
//! or others can write is refused. Moved out of datadir.rs.

use std::path::Path;

use crate::{Engine, EngineError};

/// Mode of every directory in the data dir.
pub const DIR_MODE: u32 = 0o700;
/// Mode of every file in the data dir.
pub const FILE_MODE: u32 = 0o600;

/// Creates `dir` (and missing parents) and sets it to 0700, whatever the umask.
pub(crate) fn create_private_dir(dir: &Path) -> Result<(), EngineError> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(dir).map_err(EngineError::io("creating a directory", dir))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(DIR_MODE))
        .map_err(EngineError::io("setting a directory's mode", dir))
}

/// Creates an empty file with mode 0600 if there is none, and sets an
/// existing one to 0600 (the ledger file, before SQLite opens it).
pub(crate) fn create_private_file(path: &Path) -> Result<(), EngineError> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(FILE_MODE)
        .open(path)
        .map_err(EngineError::io("creating a file", path))?;
    f.set_permissions(std::fs::Permissions::from_mode(FILE_MODE))
        .map_err(EngineError::io("setting a file's mode", path))
}

/// Writes `bytes` to `path` atomically (a temporary file created 0600 in the
/// same directory, fsync, rename): readers see the old or the new content,
/// and nobody else can read either, whatever the umask.
pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> Result<(), EngineError> {
    use std::io::Write;
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", Engine::new_id("w")));
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(FILE_MODE)
            .open(&tmp)?;
        f.set_permissions(std::fs::Permissions::from_mode(FILE_MODE))?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        EngineError::Io {
            context: "writing a data dir file",
            path: path.to_path_buf(),
            source: e,
        }
    })
}

/// Sets everything under `root` (itself included) to 0700 / 0600, for
/// content the engine has just written (demo scenes copied from assets keep
/// the assets' modes otherwise).
pub(crate) fn set_private_tree(root: &Path) -> Result<(), EngineError> {
    use std::os::unix::fs::PermissionsExt;
    let mut stack = vec![root.to_path_buf()];
    while let Some(p) = stack.pop() {
        let meta =
            std::fs::symlink_metadata(&p).map_err(EngineError::io("reading a file's mode", &p))?;
        if meta.file_type().is_symlink() {
            continue;
        }
        let want = if meta.is_dir() { DIR_MODE } else { FILE_MODE };
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(want))
            .map_err(EngineError::io("making a data dir file private", &p))?;
        if meta.is_dir() {
            for entry in
                std::fs::read_dir(&p).map_err(EngineError::io("reading a directory", &p))?
            {
                stack.push(
                    entry
                        .map_err(EngineError::io("reading a directory", &p))?
                        .path(),
                );
            }
        }
    }
    Ok(())
}

/// Walks the data dir (not following symlinks): refuses it when the dir or
/// anything in it can be written by group or other (`datadir.insecure`,
/// naming the path and its mode), and narrows whatever group or other can
/// read to 0700 (dirs) / 0600 (files). Run by every open.
pub(crate) fn secure_tree(root: &Path) -> Result<(), EngineError> {
    use std::os::unix::fs::PermissionsExt;
    let mut stack = vec![root.to_path_buf()];
    while let Some(p) = stack.pop() {
        let meta = match std::fs::symlink_metadata(&p) {
            Ok(m) => m,
            // Another process's temporary file, renamed meanwhile.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && p != root => continue,
            Err(e) => return Err(EngineError::io("reading a file's mode", &p)(e)),
        };
        if meta.file_type().is_symlink() {
            continue;
        }
        let mode = meta.permissions().mode() & 0o7777;
        if mode & 0o022 != 0 {
            return Err(EngineError::Insecure { path: p, mode });
        }
        let want = if meta.is_dir() { DIR_MODE } else { FILE_MODE };
        if mode & 0o077 != 0 {
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(want))
                .map_err(EngineError::io("making a data dir file private", &p))?;
        }
        if meta.is_dir() {
            let entries = match std::fs::read_dir(&p) {
                Ok(r) => r,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound && p != root => continue,
                Err(e) => return Err(EngineError::io("reading a directory", &p)(e)),
            };
            for entry in entries.flatten() {
                stack.push(entry.path());
            }
        }
    }
    Ok(())
}
