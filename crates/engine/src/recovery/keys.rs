//! Key backups (`keys backup`, an admin's act): see the parent module.

use crate::Code;
use std::path::{Path, PathBuf};

use countersign_ledger::{EventRef, Keys, DATA_KEY_FILE, PUBLIC_KEY_FILE, SIGNING_KEY_FILE};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{err, is_nonempty_dir, resolved};
use crate::datadir::create_private_dir;
use crate::evidence::{kinds, Ev};
use crate::{AdminPass, Engine, EngineError};

/// The manifest of a key backup.
pub const BACKUP_MANIFEST: &str = "kiosk.json";
/// The API's TLS identity (certificate and key, `countersign_api::tls`),
/// in the data dir once the API has run. Backed up when present, so the
/// relying apps' pin (its certificate digest) survives a restore.
pub const API_TLS_FILE: &str = "api-tls.pem";
const BACKUP_FORMAT: &str = "countersign.key-backup.v1";

/// `<backup>/kiosk.json`: which kiosk the keys are for.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KeyBackupManifest {
    pub format: String,
    pub kiosk_id: String,
    pub public_key: String,
    /// [`Keys::data_key_check`] of the data key.
    pub data_key_check: String,
    pub created_ms: i64,
}

/// What `keys backup` wrote.
#[derive(Debug, Clone, Serialize)]
pub struct KeyBackupReport {
    pub dir: PathBuf,
    pub kiosk_id: String,
    pub public_key: String,
    pub files: Vec<String>,
    /// The `keys.backed_up` event.
    pub recorded: EventRef,
}

/// Creates `path` with `bytes`, mode 0600, failing if it exists.
fn write_new(path: &Path, bytes: &[u8]) -> Result<(), EngineError> {
    use std::io::Write;
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(EngineError::io("creating a key backup file", path))?;
    f.set_permissions(std::fs::Permissions::from_mode(0o600))
        .map_err(EngineError::io("setting a key backup file's mode", path))?;
    f.write_all(bytes)
        .and_then(|_| f.sync_all())
        .map_err(EngineError::io("writing a key backup file", path))
}

impl Engine {
    /// Writes this kiosk's keys to `dir` for a restore (an admin's act,
    /// recorded first as `keys.backed_up`). See the module docs.
    pub fn backup_keys(
        &mut self,
        pass: &AdminPass,
        dir: &Path,
    ) -> Result<KeyBackupReport, EngineError> {
        if resolved(dir).starts_with(resolved(self.dir.root())) {
            return Err(EngineError::Invalid(format!(
                "{} is inside the data dir: a key backup must live apart from the kiosk (offline)",
                dir.display()
            )));
        }
        if is_nonempty_dir(dir)? {
            return Err(err(
                Code::KeysBackupExists,
                format!(
                    "{} exists and is not empty; a key backup never overwrites anything: choose a new directory",
                    dir.display()
                ),
            ));
        }
        let by = self.admin_act(pass)?;
        let keys = self.ledger.keys().clone();
        let tls = self.dir.root().join(API_TLS_FILE).exists();
        let mut files: Vec<String> = vec![
            SIGNING_KEY_FILE.into(),
            DATA_KEY_FILE.into(),
            PUBLIC_KEY_FILE.into(),
        ];
        if tls {
            files.push(API_TLS_FILE.into());
        }
        files.push(BACKUP_MANIFEST.into());
        let now = self.now();
        let manifest = KeyBackupManifest {
            format: BACKUP_FORMAT.into(),
            kiosk_id: self.kiosk_id.clone(),
            public_key: keys.verifying_key_hex(),
            data_key_check: keys.data_key_check(),
            created_ms: now,
        };
        // Evidence first: the export is on the chain before a byte is out.
        let recorded = self.ledger.append(
            &Ev::new(
                kinds::KEYS_BACKED_UP,
                now,
                json!({
                    "by": by,
                    "kiosk_id": manifest.kiosk_id,
                    "public_key": manifest.public_key,
                    "data_key_check": manifest.data_key_check,
                    "dir": resolved(dir),
                    "files": files,
                }),
            )
            .build(),
        )?;
        let existed = dir.exists();
        let write = || -> Result<(), EngineError> {
            create_private_dir(dir)?;
            let src = self.dir.keys_dir();
            for f in [SIGNING_KEY_FILE, DATA_KEY_FILE, PUBLIC_KEY_FILE] {
                let p = src.join(f);
                let bytes = std::fs::read(&p).map_err(EngineError::io("reading a key file", &p))?;
                write_new(&dir.join(f), &bytes)?;
            }
            if tls {
                let p = self.dir.root().join(API_TLS_FILE);
                let bytes = std::fs::read(&p)
                    .map_err(EngineError::io("reading the API's TLS identity", &p))?;
                write_new(&dir.join(API_TLS_FILE), &bytes)?;
            }
            let text = serde_json::to_string_pretty(&manifest).expect("manifest serialises");
            write_new(&dir.join(BACKUP_MANIFEST), text.as_bytes())
        };
        if let Err(e) = write() {
            // Leave no half backup (and no stray secret) behind.
            for f in &files {
                let _ = std::fs::remove_file(dir.join(f));
            }
            if !existed {
                let _ = std::fs::remove_dir(dir);
            }
            return Err(e);
        }
        Ok(KeyBackupReport {
            dir: dir.to_path_buf(),
            kiosk_id: manifest.kiosk_id,
            public_key: manifest.public_key,
            files,
            recorded,
        })
    }
}

/// Reads a key backup: its manifest and the keys (modes checked, the
/// public key against the private one and the manifest).
pub fn load_key_backup(dir: &Path) -> Result<(KeyBackupManifest, Keys), EngineError> {
    let mp = dir.join(BACKUP_MANIFEST);
    let text = std::fs::read_to_string(&mp).map_err(|e| {
        err(
            Code::RestoreKeysInvalid,
            format!(
                "{} cannot be read ({e}): not a key backup made by `countersign keys backup`",
                mp.display()
            ),
        )
    })?;
    let m: KeyBackupManifest = serde_json::from_str(&text)
        .map_err(|e| err(Code::RestoreKeysInvalid, format!("{}: {e}", mp.display())))?;
    let keys = Keys::load(dir).map_err(|e| err(Code::RestoreKeysInvalid, e.to_string()))?;
    if keys.verifying_key_hex() != m.public_key {
        return Err(err(
            Code::RestoreKeysInvalid,
            format!(
                "{}'s public key is not the backed-up signing key's",
                mp.display()
            ),
        ));
    }
    Ok((m, keys))
}
