//! Kiosk keys: an Ed25519 signing key for the chain and a 32-byte data key
//! for sealing blobs and secrets.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use rand::rngs::OsRng;
use rand::RngCore;

use crate::LedgerError;

/// File name of the PKCS#8 PEM private signing key.
pub const SIGNING_KEY_FILE: &str = "kiosk.ed25519";
/// File name of the hex public key.
pub const PUBLIC_KEY_FILE: &str = "kiosk.pub";
/// File name of the raw 32-byte data key.
pub const DATA_KEY_FILE: &str = "data.key";

/// The kiosk's secret keys. `Debug` shows only the public key.
#[derive(Clone)]
pub struct Keys {
    pub(crate) signing: SigningKey,
    pub(crate) data_key: [u8; 32],
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keys")
            .field("verifying_key", &self.verifying_key_hex())
            .field("data_key", &"<redacted>")
            .finish()
    }
}

impl Keys {
    /// Generate fresh keys and write them to `dir` (created if needed):
    /// `kiosk.ed25519` (PKCS#8 PEM, mode 0600), `kiosk.pub` (hex, 0600) and
    /// `data.key` (32 raw bytes, 0600). Refuses to overwrite any existing file.
    pub fn generate(dir: &Path) -> Result<Keys, LedgerError> {
        fs::create_dir_all(dir)
            .map_err(|e| LedgerError::io("creating the key directory", Some(dir.into()), e))?;
        for name in [SIGNING_KEY_FILE, PUBLIC_KEY_FILE, DATA_KEY_FILE] {
            let p = dir.join(name);
            if p.exists() {
                return Err(LedgerError::AlreadyExists(format!(
                    "{} exists; refusing to overwrite kiosk keys",
                    p.display()
                )));
            }
        }
        let keys = Keys::random();
        let pem = keys
            .signing
            .to_pkcs8_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF)
            .map_err(|e| LedgerError::Key(format!("encoding signing key: {e}")))?;
        write_new(&dir.join(SIGNING_KEY_FILE), pem.as_bytes(), 0o600)?;
        write_new(&dir.join(DATA_KEY_FILE), &keys.data_key, 0o600)?;
        write_new(
            &dir.join(PUBLIC_KEY_FILE),
            format!("{}\n", keys.verifying_key_hex()).as_bytes(),
            // Public, but the data dir's files are all 0600 (the engine
            // refuses a data dir others can write, and keeps it unreadable).
            0o600,
        )?;
        Ok(keys)
    }

    /// Load keys written by [`Keys::generate`]. Fails if a secret file is
    /// group- or world-accessible, malformed, or disagrees with `kiosk.pub`.
    pub fn load(dir: &Path) -> Result<Keys, LedgerError> {
        let sk_path = dir.join(SIGNING_KEY_FILE);
        let dk_path = dir.join(DATA_KEY_FILE);
        for p in [&sk_path, &dk_path] {
            let meta = fs::metadata(p).map_err(|e| {
                if e.kind() == std::io::ErrorKind::NotFound {
                    LedgerError::Key(format!(
                        "{} not found (run key generation first)",
                        p.display()
                    ))
                } else {
                    LedgerError::io("reading key file metadata", Some(p.clone()), e)
                }
            })?;
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Err(LedgerError::Key(format!(
                    "{} has mode {mode:04o}; secret key files must not be group/world accessible (chmod 600)",
                    p.display()
                )));
            }
        }
        let pem = fs::read_to_string(&sk_path)
            .map_err(|e| LedgerError::io("reading signing key", Some(sk_path.clone()), e))?;
        let signing = SigningKey::from_pkcs8_pem(&pem).map_err(|e| {
            LedgerError::Key(format!(
                "{} is not a PKCS#8 Ed25519 key: {e}",
                sk_path.display()
            ))
        })?;
        let dk = fs::read(&dk_path)
            .map_err(|e| LedgerError::io("reading data key", Some(dk_path.clone()), e))?;
        let data_key: [u8; 32] = dk.as_slice().try_into().map_err(|_| {
            LedgerError::Key(format!(
                "{} must be exactly 32 bytes, found {}",
                dk_path.display(),
                dk.len()
            ))
        })?;
        let keys = Keys { signing, data_key };
        let pub_path = dir.join(PUBLIC_KEY_FILE);
        if let Ok(text) = fs::read_to_string(&pub_path) {
            if text.trim() != keys.verifying_key_hex() {
                return Err(LedgerError::Key(format!(
                    "{} does not match the private key in {}",
                    pub_path.display(),
                    sk_path.display()
                )));
            }
        }
        Ok(keys)
    }

    /// Hex of the 32-byte Ed25519 public key.
    pub fn verifying_key_hex(&self) -> String {
        hex::encode(self.signing.verifying_key().as_bytes())
    }

    /// A check value of the data key (HMAC-SHA256 under it of a fixed
    /// label, hex): recorded in `keys.backed_up`, so a restore can tell a
    /// backup's data key is this kiosk's without revealing anything of it.
    pub fn data_key_check(&self) -> String {
        use hmac::{Hmac, Mac};
        let mut m = Hmac::<sha2::Sha256>::new_from_slice(&self.data_key)
            .expect("HMAC takes any key length");
        m.update(b"countersign-ledger/keys/data-key-check/v1");
        hex::encode(m.finalize().into_bytes())
    }

    /// The public key.
    pub fn verifying_key(&self) -> VerifyingKey {
        self.signing.verifying_key()
    }

    /// The kiosk's Ed25519 signing key, for signing outside the chain
    /// (step-up assertions). The same key the chain is signed with.
    pub fn signing_key(&self) -> &SigningKey {
        &self.signing
    }

    /// Random in-memory keys (tests, benchmarks).
    pub fn for_tests() -> Keys {
        Keys::random()
    }

    fn random() -> Keys {
        let signing = SigningKey::generate(&mut OsRng);
        let mut data_key = [0u8; 32];
        OsRng.fill_bytes(&mut data_key);
        Keys { signing, data_key }
    }

    pub(crate) fn sign(&self, msg: &[u8]) -> [u8; 64] {
        self.signing.sign(msg).to_bytes()
    }

    pub(crate) fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        let Ok(sig) = Signature::from_slice(sig) else {
            return false;
        };
        self.signing.verifying_key().verify(msg, &sig).is_ok()
    }
}

fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<(), LedgerError> {
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(|e| LedgerError::io("creating key file", Some(path.into()), e))?;
    // The umask may have narrowed the mode; make it exact.
    f.set_permissions(fs::Permissions::from_mode(mode))
        .map_err(|e| LedgerError::io("setting key file mode", Some(path.into()), e))?;
    f.write_all(bytes)
        .and_then(|_| f.sync_all())
        .map_err(|e| LedgerError::io("writing key file", Some(path.into()), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generate_load_round_trip_and_refuse_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let k = Keys::generate(dir.path()).unwrap();
        let mode = fs::metadata(dir.path().join(SIGNING_KEY_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let l = Keys::load(dir.path()).unwrap();
        assert_eq!(k.verifying_key_hex(), l.verifying_key_hex());
        assert_eq!(k.data_key, l.data_key);
        assert!(matches!(
            Keys::generate(dir.path()),
            Err(LedgerError::AlreadyExists(_))
        ));
        assert!(!format!("{k:?}").contains(&hex::encode(k.data_key)));
    }

    #[test]
    fn load_rejects_group_readable_key() {
        let dir = tempfile::tempdir().unwrap();
        Keys::generate(dir.path()).unwrap();
        let p = dir.path().join(DATA_KEY_FILE);
        fs::set_permissions(&p, fs::Permissions::from_mode(0o640)).unwrap();
        let err = Keys::load(dir.path()).unwrap_err();
        assert!(err.to_string().contains("chmod 600"), "{err}");
    }

    #[test]
    fn load_rejects_mismatched_public_key() {
        let dir = tempfile::tempdir().unwrap();
        Keys::generate(dir.path()).unwrap();
        fs::write(dir.path().join(PUBLIC_KEY_FILE), "00".repeat(32)).unwrap();
        assert!(matches!(Keys::load(dir.path()), Err(LedgerError::Key(_))));
    }
}
