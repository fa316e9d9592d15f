//! `blobs`: content-addressed sealed blobs (face crops, fingerprint images,
//! ...). Key = SHA-256 of the plaintext; sealed with XChaCha20-Poly1305 under
//! the data key with a random 24-byte nonce and AAD = the raw SHA-256.
//! Retention purges delete the ciphertext but keep hash and metadata.
//! Blob bytes are never logged and never appear in errors.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::rngs::OsRng;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{EventRef, LedgerError};

pub(crate) const MIGRATION: crate::schema::Migration = crate::schema::Migration {
    version: 4,
    name: "blobs",
    sql: "
CREATE TABLE blobs (
    sha256     BLOB PRIMARY KEY,
    media_type TEXT NOT NULL,
    size       INTEGER NOT NULL,
    created_ms INTEGER NOT NULL,
    sealed_seq INTEGER NOT NULL,
    nonce      BLOB NOT NULL,
    ciphertext BLOB,
    purged_ms  INTEGER,
    purged_seq INTEGER
) WITHOUT ROWID;
CREATE INDEX blobs_created ON blobs(created_ms) WHERE ciphertext IS NOT NULL;
CREATE TRIGGER blobs_no_delete BEFORE DELETE ON blobs
BEGIN SELECT RAISE(ABORT, 'blobs are never deleted; purge clears the ciphertext'); END;
CREATE TRIGGER blobs_purge_only BEFORE UPDATE ON blobs
WHEN NOT (NEW.sha256 = OLD.sha256 AND NEW.media_type = OLD.media_type AND NEW.size = OLD.size
          AND NEW.created_ms = OLD.created_ms AND NEW.sealed_seq = OLD.sealed_seq AND NEW.nonce = OLD.nonce
          AND OLD.ciphertext IS NOT NULL AND NEW.ciphertext IS NULL
          AND NEW.purged_ms IS NOT NULL AND NEW.purged_seq IS NOT NULL)
BEGIN SELECT RAISE(ABORT, 'blobs can only be purged, not modified'); END;
",
};

/// Reference to a stored blob.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobRef {
    /// Hex SHA-256 of the plaintext (the blob's key).
    pub sha256_hex: String,
    /// Plaintext size in bytes.
    pub size: u64,
    /// Media type given at sealing time.
    pub media_type: String,
    /// The `blob.sealed` event recording it.
    pub sealed: EventRef,
    /// `false` when the blob was already stored (idempotent put).
    pub newly_stored: bool,
}

pub(crate) fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// Seal `plaintext` under `key` with AAD `aad`. Returns (nonce, ciphertext).
pub(crate) fn seal(
    key: &[u8; 32],
    aad: &[u8],
    plaintext: &[u8],
) -> Result<([u8; 24], Vec<u8>), LedgerError> {
    let cipher = XChaCha20Poly1305::new(key.into());
    let mut nonce = [0u8; 24];
    OsRng.fill_bytes(&mut nonce);
    let ct = cipher
        .encrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg: plaintext,
                aad,
            },
        )
        .map_err(|_| LedgerError::Corrupt("sealing failed".into()))?;
    Ok((nonce, ct))
}

/// Open a sealed value; `None` if authentication fails.
pub(crate) fn open(key: &[u8; 32], aad: &[u8], nonce: &[u8], ct: &[u8]) -> Option<Vec<u8>> {
    if nonce.len() != 24 {
        return None;
    }
    let cipher = XChaCha20Poly1305::new(key.into());
    cipher
        .decrypt(XNonce::from_slice(nonce), Payload { msg: ct, aad })
        .ok()
}

/// A stored blob row.
#[derive(Debug)]
pub(crate) struct BlobRow {
    pub sha256: Vec<u8>,
    pub media_type: String,
    pub size: u64,
    pub created_ms: i64,
    pub sealed_seq: u64,
    pub nonce: Vec<u8>,
    pub ciphertext: Option<Vec<u8>>,
    pub purged_ms: Option<i64>,
    pub purged_seq: Option<u64>,
}

pub(crate) const BLOB_COLS: &str =
    "sha256, media_type, size, created_ms, sealed_seq, nonce, ciphertext, purged_ms, purged_seq";

pub(crate) fn blob_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<BlobRow> {
    Ok(BlobRow {
        sha256: r.get(0)?,
        media_type: r.get(1)?,
        size: r.get::<_, i64>(2)? as u64,
        created_ms: r.get(3)?,
        sealed_seq: r.get::<_, i64>(4)? as u64,
        nonce: r.get(5)?,
        ciphertext: r.get(6)?,
        purged_ms: r.get(7)?,
        purged_seq: r.get::<_, Option<i64>>(8)?.map(|v| v as u64),
    })
}

pub(crate) fn parse_sha_hex(s: &str) -> Result<[u8; 32], LedgerError> {
    let v = hex::decode(s)
        .map_err(|_| LedgerError::Invalid("blob id must be 64 hex characters".into()))?;
    v.as_slice()
        .try_into()
        .map_err(|_| LedgerError::Invalid("blob id must be 64 hex characters".into()))
}

/// What is known about a stored blob without opening it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobInfo {
    /// Hex SHA-256 of the plaintext.
    pub sha256_hex: String,
    /// Media type given at sealing time.
    pub media_type: String,
    /// Plaintext size in bytes.
    pub size: u64,
    /// When it was sealed (Unix ms).
    pub created_ms: i64,
    /// The `blob.sealed` event (its index carries the person and case).
    pub sealed_seq: u64,
    /// When retention purged the ciphertext, if it did.
    pub purged_ms: Option<i64>,
}

impl crate::Ledger {
    /// Metadata of a blob (never its bytes). [`LedgerError::NotFound`] if unknown.
    pub fn blob_info(&self, sha256_hex: &str) -> Result<BlobInfo, LedgerError> {
        use rusqlite::OptionalExtension;
        let sha = parse_sha_hex(sha256_hex)?;
        let b = self
            .conn
            .query_row(
                &format!("SELECT {BLOB_COLS} FROM blobs WHERE sha256 = ?1"),
                [&sha[..]],
                blob_from_row,
            )
            .optional()?
            .ok_or_else(|| LedgerError::NotFound(format!("blob {sha256_hex}")))?;
        Ok(BlobInfo {
            sha256_hex: hex::encode(&b.sha256),
            media_type: b.media_type,
            size: b.size,
            created_ms: b.created_ms,
            sealed_seq: b.sealed_seq,
            purged_ms: b.purged_ms,
        })
    }
}
