//! Object layout and formats. Keys are derived from content, so the same
//! evidence always lands on the same key and a create-only PUT makes a
//! second copy impossible:
//!
//! ```text
//! <prefix><kiosk>/kiosk.json                      manifest: kiosk id + Ed25519 public key
//! <prefix><kiosk>/events/<seq, 12 digits>-<row hash>.json
//! <prefix><kiosk>/blobs/<plaintext sha256>        nonce || XChaCha20-Poly1305 ciphertext (never plaintext)
//! <prefix><kiosk>/checkpoints/<n, 12 digits>.json
//! ```
//!
//! The sequence numbers are zero-padded so a listing comes back in order.
//! Every object's bytes are a pure function of the ledger row, so a retry
//! after a crash produces byte-identical content (compared by SHA-256).

use countersign_ledger::{Checkpoint, EventIndex, RawEvent};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::SyncError;

/// Format tag of an event object.
pub const EVENT_FORMAT: &str = "countersign.event.v1";
/// Format tag of a checkpoint object.
pub const CHECKPOINT_FORMAT: &str = "countersign.checkpoint.v1";
/// Format tag of the kiosk manifest.
pub const MANIFEST_FORMAT: &str = "countersign.kiosk.v1";

/// `<kiosk>/kiosk.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KioskManifest {
    /// Format tag.
    pub format: String,
    /// Kiosk id.
    pub kiosk: String,
    /// Hex Ed25519 public key that signs every event, head and checkpoint.
    pub public_key: String,
}

/// `<kiosk>/events/...json`: everything needed to re-check the row hash
/// and signature without the kiosk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventObject {
    /// Format tag.
    pub format: String,
    /// Kiosk id.
    pub kiosk: String,
    /// Sequence number.
    pub seq: u64,
    /// Event time (Unix ms).
    pub ts_ms: i64,
    /// Kind.
    pub kind: String,
    /// Indexed fields.
    pub index: EventIndex,
    /// Canonical JSON body text exactly as hashed.
    pub body_json: String,
    /// Hex previous row hash.
    pub prev_hash: String,
    /// Hex row hash.
    pub hash: String,
    /// Hex Ed25519 signature over the row hash.
    pub sig: String,
}

/// `<kiosk>/checkpoints/<n>.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointObject {
    /// Format tag.
    pub format: String,
    /// Kiosk id.
    pub kiosk: String,
    /// The signed checkpoint.
    pub checkpoint: Checkpoint,
}

/// Hex SHA-256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Key builder for one kiosk.
#[derive(Debug, Clone)]
pub struct Layout {
    /// `<prefix><kiosk>/`.
    pub root: String,
    /// Kiosk id.
    pub kiosk: String,
}

impl Layout {
    /// Layout for `kiosk` under `prefix` (empty or ending in `/`).
    pub fn new(prefix: &str, kiosk: &str) -> Result<Layout, SyncError> {
        if kiosk.is_empty()
            || !kiosk
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
        {
            return Err(SyncError::Config(format!(
                "kiosk id {kiosk:?} is not usable in an object key"
            )));
        }
        Ok(Layout {
            root: format!("{prefix}{kiosk}/"),
            kiosk: kiosk.into(),
        })
    }
    /// Manifest key.
    pub fn manifest(&self) -> String {
        format!("{}kiosk.json", self.root)
    }
    /// Event key.
    pub fn event(&self, seq: u64, hash_hex: &str) -> String {
        format!("{}events/{seq:012}-{hash_hex}.json", self.root)
    }
    /// Blob key.
    pub fn blob(&self, sha256_hex: &str) -> String {
        format!("{}blobs/{sha256_hex}", self.root)
    }
    /// Checkpoint key.
    pub fn checkpoint(&self, n: u64) -> String {
        format!("{}checkpoints/{n:012}.json", self.root)
    }

    /// Manifest bytes.
    pub fn manifest_bytes(&self, public_key_hex: &str) -> Vec<u8> {
        serde_json::to_vec(&KioskManifest {
            format: MANIFEST_FORMAT.into(),
            kiosk: self.kiosk.clone(),
            public_key: public_key_hex.into(),
        })
        .unwrap_or_default()
    }

    /// Event object bytes (deterministic).
    pub fn event_bytes(&self, e: &RawEvent) -> Vec<u8> {
        serde_json::to_vec(&EventObject {
            format: EVENT_FORMAT.into(),
            kiosk: self.kiosk.clone(),
            seq: e.seq,
            ts_ms: e.ts_ms,
            kind: e.kind.clone(),
            index: e.index.clone(),
            body_json: e.body_json.clone(),
            prev_hash: e.prev_hash_hex.clone(),
            hash: e.hash_hex.clone(),
            sig: e.sig_hex.clone(),
        })
        .unwrap_or_default()
    }

    /// Checkpoint object bytes (deterministic).
    pub fn checkpoint_bytes(&self, c: &Checkpoint) -> Vec<u8> {
        serde_json::to_vec(&CheckpointObject {
            format: CHECKPOINT_FORMAT.into(),
            kiosk: self.kiosk.clone(),
            checkpoint: c.clone(),
        })
        .unwrap_or_default()
    }
}

/// What a key under a kiosk root names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyKind {
    /// `kiosk.json`.
    Manifest,
    /// An event (seq, hash).
    Event(u64, String),
    /// A blob (sha256).
    Blob(String),
    /// A checkpoint (n).
    Checkpoint(u64),
    /// Anything else.
    Other,
}

/// Classify a key relative to a kiosk root.
pub fn classify(rel: &str) -> KeyKind {
    if rel == "kiosk.json" {
        return KeyKind::Manifest;
    }
    if let Some(name) = rel
        .strip_prefix("events/")
        .and_then(|n| n.strip_suffix(".json"))
    {
        if let Some((seq, hash)) = name.split_once('-') {
            if let Ok(seq) = seq.parse::<u64>() {
                if hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return KeyKind::Event(seq, hash.to_ascii_lowercase());
                }
            }
        }
        return KeyKind::Other;
    }
    if let Some(sha) = rel.strip_prefix("blobs/") {
        if sha.len() == 64 && sha.bytes().all(|b| b.is_ascii_hexdigit()) {
            return KeyKind::Blob(sha.to_ascii_lowercase());
        }
        return KeyKind::Other;
    }
    if let Some(n) = rel
        .strip_prefix("checkpoints/")
        .and_then(|n| n.strip_suffix(".json"))
    {
        if let Ok(n) = n.parse::<u64>() {
            return KeyKind::Checkpoint(n);
        }
    }
    KeyKind::Other
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_through_classify() {
        let l = Layout::new("site/", "kiosk-1").unwrap();
        let h = "ab".repeat(32);
        let k = l.event(42, &h);
        assert_eq!(k, format!("site/kiosk-1/events/000000000042-{h}.json"));
        let rel = k.strip_prefix(&l.root).unwrap();
        assert_eq!(classify(rel), KeyKind::Event(42, h.clone()));
        assert_eq!(
            classify(l.blob(&h).strip_prefix(&l.root).unwrap()),
            KeyKind::Blob(h.clone())
        );
        assert_eq!(
            classify(l.checkpoint(3).strip_prefix(&l.root).unwrap()),
            KeyKind::Checkpoint(3)
        );
        assert_eq!(classify("kiosk.json"), KeyKind::Manifest);
        assert_eq!(classify("events/x.json"), KeyKind::Other);
        assert!(Layout::new("", "a/b").is_err());
    }
}
