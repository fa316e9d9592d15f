//! `sync_objects` and `sync_status`: what has been copied to write-once
//! remote storage (see the `countersign-sync` crate).
//!
//! The outbox is implicit: every event, checkpoint and sealed blob is
//! *queued* by the very transaction that appends it, because "pending" means
//! "in its own table and without a row here". So nothing can be committed
//! and not queued, and there is no second write to forget. A row here is
//! written once, after the remote store confirmed the create-only PUT, and
//! records the object key, the SHA-256 of the bytes uploaded and the
//! server's version id (reads go by version id). Rows are never updated or
//! deleted (triggers refuse it).
//!
//! `sync_status` is one mutable row: the last attempt, success and error of
//! the uploader, for `countersign sync status` from another process.

use rusqlite::{params, Connection, OptionalExtension, Transaction};
use serde::{Deserialize, Serialize};

use crate::{blobs, Checkpoint, EventIndex, LedgerError};

pub(crate) const MIGRATION: crate::schema::Migration = crate::schema::Migration {
    version: 6,
    name: "sync_state",
    sql: "
CREATE TABLE sync_objects (
    kind           TEXT NOT NULL CHECK (kind IN ('event', 'checkpoint', 'blob', 'manifest')),
    id             TEXT NOT NULL,
    seq            INTEGER,
    object_key     TEXT NOT NULL UNIQUE,
    content_sha256 TEXT NOT NULL,
    version        TEXT,
    e_tag          TEXT,
    uploaded_ms    INTEGER NOT NULL,
    PRIMARY KEY (kind, id)
) WITHOUT ROWID;
CREATE UNIQUE INDEX sync_objects_event_seq ON sync_objects(seq) WHERE kind = 'event';
CREATE TRIGGER sync_objects_no_update BEFORE UPDATE ON sync_objects
BEGIN SELECT RAISE(ABORT, 'sync records are write-once'); END;
CREATE TRIGGER sync_objects_no_delete BEFORE DELETE ON sync_objects
BEGIN SELECT RAISE(ABORT, 'sync records are write-once'); END;
CREATE TABLE sync_status (
    id              INTEGER PRIMARY KEY CHECK (id = 1),
    last_attempt_ms INTEGER,
    last_success_ms INTEGER,
    last_error      TEXT,
    last_error_ms   INTEGER
);
",
};

/// Lets the uploader find pending blobs from an index alone (`purged_ms`
/// sits after the ciphertext in the row, so reading it from the table walks
/// every blob's overflow pages).
pub(crate) const MIGRATION_BLOB_INDEX: crate::schema::Migration = crate::schema::Migration {
    version: 7,
    name: "sync_blob_index",
    sql: "CREATE INDEX blobs_sealed_seq_purged ON blobs(sealed_seq, purged_ms);",
};

/// Kind of a synced object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncKind {
    /// One event row (`id` = seq).
    Event,
    /// One checkpoint (`id` = n).
    Checkpoint,
    /// One sealed blob (`id` = hex SHA-256 of the plaintext).
    Blob,
    /// The kiosk manifest (public key) (`id` = `"kiosk"`).
    Manifest,
}

impl SyncKind {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            SyncKind::Event => "event",
            SyncKind::Checkpoint => "checkpoint",
            SyncKind::Blob => "blob",
            SyncKind::Manifest => "manifest",
        }
    }

    fn parse(s: &str) -> Result<SyncKind, LedgerError> {
        Ok(match s {
            "event" => SyncKind::Event,
            "checkpoint" => SyncKind::Checkpoint,
            "blob" => SyncKind::Blob,
            "manifest" => SyncKind::Manifest,
            other => return Err(LedgerError::Corrupt(format!("unknown sync kind {other:?}"))),
        })
    }
}

/// A remote copy confirmed by the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncedObject {
    /// What it is.
    pub kind: SyncKind,
    /// seq, checkpoint n, blob hash or `"kiosk"`.
    pub id: String,
    /// Object key in the bucket.
    pub object_key: String,
    /// Hex SHA-256 of the uploaded bytes.
    pub content_sha256_hex: String,
    /// Server version id (`None` if the server has no versioning).
    pub version: Option<String>,
    /// Server ETag.
    pub e_tag: Option<String>,
    /// When the upload was confirmed (Unix ms).
    pub uploaded_ms: i64,
}

/// An event exactly as stored, for upload: the body is the canonical JSON
/// text the row hash covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RawEvent {
    /// Sequence number.
    pub seq: u64,
    /// Event time (Unix ms).
    pub ts_ms: i64,
    /// Kind.
    pub kind: String,
    /// Indexed fields.
    pub index: EventIndex,
    /// Canonical JSON body text, exactly as hashed.
    pub body_json: String,
    /// Hex previous row hash.
    pub prev_hash_hex: String,
    /// Hex row hash.
    pub hash_hex: String,
    /// Hex Ed25519 signature over the row hash.
    pub sig_hex: String,
}

/// A sealed blob for upload: `nonce (24 bytes) || XChaCha20-Poly1305
/// ciphertext` with AAD = the plaintext SHA-256. Never the plaintext.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedBlob {
    /// Hex SHA-256 of the plaintext.
    pub sha256_hex: String,
    /// Media type.
    pub media_type: String,
    /// Plaintext size.
    pub size: u64,
    /// The `blob.sealed` event.
    pub sealed_seq: u64,
    /// `nonce || ciphertext`.
    pub sealed: Vec<u8>,
}

impl std::fmt::Debug for SealedBlob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealedBlob")
            .field("sha256_hex", &self.sha256_hex)
            .field("media_type", &self.media_type)
            .field("size", &self.size)
            .field("sealed_seq", &self.sealed_seq)
            .field("sealed_len", &self.sealed.len())
            .finish()
    }
}

/// What is still to upload.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncBacklog {
    /// Events without a remote copy.
    pub events_pending: u64,
    /// Events with a remote copy.
    pub events_synced: u64,
    /// Lowest unsynced seq.
    pub oldest_pending_seq: Option<u64>,
    /// Timestamp of the lowest unsynced event (Unix ms).
    pub oldest_pending_ts_ms: Option<i64>,
    /// Checkpoints without a remote copy.
    pub checkpoints_pending: u64,
    /// Sealed blobs (ciphertext still present) without a remote copy.
    pub blobs_pending: u64,
    /// Blobs purged by retention before they were ever uploaded.
    pub blobs_purged_unsynced: u64,
    /// Whether the kiosk manifest has been uploaded.
    pub manifest_synced: bool,
}

/// The uploader's last outcome (shared between processes through the ledger).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncStatusRow {
    /// Last pass started (Unix ms).
    pub last_attempt_ms: Option<i64>,
    /// Last pass that left nothing pending (Unix ms).
    pub last_success_ms: Option<i64>,
    /// Last error message (never contains credentials).
    pub last_error: Option<String>,
    /// When it happened.
    pub last_error_ms: Option<i64>,
}

pub(crate) fn pending_events(
    conn: &Connection,
    after_seq: u64,
    limit: u32,
) -> Result<Vec<RawEvent>, LedgerError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {} FROM events e WHERE e.seq > ?1 AND NOT EXISTS \
         (SELECT 1 FROM sync_objects s WHERE s.kind = 'event' AND s.seq = e.seq) \
         ORDER BY e.seq LIMIT ?2",
        crate::events::COLS
            .split(", ")
            .map(|c| format!("e.{c}"))
            .collect::<Vec<_>>()
            .join(", ")
    ))?;
    let rows = stmt
        .query_map(params![after_seq as i64, limit as i64], |r| {
            crate::events::raw_from_row(r)
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows
        .into_iter()
        .map(|r| RawEvent {
            seq: r.seq,
            ts_ms: r.ts_ms,
            kind: r.kind,
            index: r.index,
            body_json: r.body,
            prev_hash_hex: hex::encode(&r.prev_hash),
            hash_hex: hex::encode(&r.hash),
            sig_hex: hex::encode(&r.sig),
        })
        .collect())
}

pub(crate) fn event_range(
    conn: &Connection,
    from_seq: u64,
    limit: u32,
) -> Result<Vec<RawEvent>, LedgerError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {} FROM events WHERE seq >= ?1 ORDER BY seq LIMIT ?2",
        crate::events::COLS
    ))?;
    let rows = stmt
        .query_map(params![from_seq as i64, limit as i64], |r| {
            crate::events::raw_from_row(r)
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows
        .into_iter()
        .map(|r| RawEvent {
            seq: r.seq,
            ts_ms: r.ts_ms,
            kind: r.kind,
            index: r.index,
            body_json: r.body,
            prev_hash_hex: hex::encode(&r.prev_hash),
            hash_hex: hex::encode(&r.hash),
            sig_hex: hex::encode(&r.sig),
        })
        .collect())
}

pub(crate) fn pending_checkpoints(conn: &Connection) -> Result<Vec<Checkpoint>, LedgerError> {
    Ok(crate::checkpoints::all(conn)?
        .iter()
        .map(|c| c.public())
        .filter(|c| !exists(conn, SyncKind::Checkpoint, &c.n.to_string()).unwrap_or(false))
        .collect())
}

pub(crate) fn pending_blobs(
    conn: &Connection,
    after_sealed_seq: u64,
    limit: u32,
) -> Result<Vec<SealedBlob>, LedgerError> {
    // Pick the next hashes from the (sealed_seq, purged_ms) index first
    // (`purged_ms IS NULL` is the same as a present ciphertext, by the blobs
    // trigger), then read those rows: sorting whole rows would drag every
    // ciphertext along.
    let shas: Vec<Vec<u8>> = {
        let mut stmt = conn.prepare_cached(
            "SELECT b.sha256 FROM blobs b WHERE b.sealed_seq > ?1 AND b.purged_ms IS NULL AND NOT EXISTS \
             (SELECT 1 FROM sync_objects s WHERE s.kind = 'blob' AND s.id = lower(hex(b.sha256))) \
             ORDER BY b.sealed_seq LIMIT ?2",
        )?;
        let v = stmt
            .query_map(params![after_sealed_seq as i64, limit as i64], |r| r.get(0))?
            .collect::<Result<Vec<_>, _>>()?;
        v
    };
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {} FROM blobs WHERE sha256 = ?1",
        blobs::BLOB_COLS
    ))?;
    let mut out = Vec::with_capacity(shas.len());
    for sha in shas {
        let b = stmt.query_row([&sha], blobs::blob_from_row)?;
        let Some(ct) = b.ciphertext else { continue };
        let mut sealed = b.nonce.clone();
        sealed.extend_from_slice(&ct);
        out.push(SealedBlob {
            sha256_hex: hex::encode(&b.sha256),
            media_type: b.media_type,
            size: b.size,
            sealed_seq: b.sealed_seq,
            sealed,
        });
    }
    Ok(out)
}

fn exists(conn: &Connection, kind: SyncKind, id: &str) -> Result<bool, LedgerError> {
    Ok(conn
        .query_row(
            "SELECT 1 FROM sync_objects WHERE kind = ?1 AND id = ?2",
            params![kind.as_str(), id],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

pub(crate) fn get(
    conn: &Connection,
    kind: SyncKind,
    id: &str,
) -> Result<Option<SyncedObject>, LedgerError> {
    conn.query_row(
        &format!("SELECT {OBJ_COLS} FROM sync_objects WHERE kind = ?1 AND id = ?2"),
        params![kind.as_str(), id],
        obj_from_row,
    )
    .optional()?
    .transpose()
}

const OBJ_COLS: &str = "kind, id, object_key, content_sha256, version, e_tag, uploaded_ms";

fn obj_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Result<SyncedObject, LedgerError>> {
    let kind: String = r.get(0)?;
    Ok(SyncKind::parse(&kind).map(|kind| SyncedObject {
        kind,
        id: r.get(1).unwrap_or_default(),
        object_key: r.get(2).unwrap_or_default(),
        content_sha256_hex: r.get(3).unwrap_or_default(),
        version: r.get(4).unwrap_or_default(),
        e_tag: r.get(5).unwrap_or_default(),
        uploaded_ms: r.get(6).unwrap_or_default(),
    }))
}

pub(crate) fn all(conn: &Connection) -> Result<Vec<SyncedObject>, LedgerError> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {OBJ_COLS} FROM sync_objects ORDER BY kind, seq, id"
    ))?;
    let rows = stmt
        .query_map([], obj_from_row)?
        .collect::<Result<Vec<_>, _>>()?;
    rows.into_iter().collect()
}

/// Record confirmed uploads. A record that already exists with the same key
/// and content is accepted (idempotent); one that disagrees is an error.
pub(crate) fn record(tx: &Transaction<'_>, objs: &[SyncedObject]) -> Result<(), LedgerError> {
    let mut ins = tx.prepare_cached(
        "INSERT INTO sync_objects (kind, id, seq, object_key, content_sha256, version, e_tag, uploaded_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT DO NOTHING",
    )?;
    for o in objs {
        let seq: Option<i64> = match o.kind {
            SyncKind::Event => Some(o.id.parse::<i64>().map_err(|_| {
                LedgerError::Invalid(format!("event sync id {:?} is not a seq", o.id))
            })?),
            _ => None,
        };
        let n = ins
            .execute(params![
                o.kind.as_str(),
                o.id,
                seq,
                o.object_key,
                o.content_sha256_hex,
                o.version,
                o.e_tag,
                o.uploaded_ms
            ])
            .map_err(|e| LedgerError::sql("recording a synced object", e))?;
        if n == 0 {
            let prev = get(tx, o.kind, &o.id)?;
            match prev {
                Some(p)
                    if p.object_key == o.object_key
                        && p.content_sha256_hex == o.content_sha256_hex => {}
                _ => {
                    return Err(LedgerError::Corrupt(format!(
                        "sync record for {} {} (key {}) disagrees with the one already stored",
                        o.kind.as_str(),
                        o.id,
                        o.object_key
                    )))
                }
            }
        }
    }
    Ok(())
}

pub(crate) fn backlog(conn: &Connection) -> Result<SyncBacklog, LedgerError> {
    let head: i64 = conn.query_row("SELECT coalesce(max(seq), 0) FROM events", [], |r| r.get(0))?;
    let synced: i64 = conn.query_row(
        "SELECT count(*) FROM sync_objects WHERE kind = 'event'",
        [],
        |r| r.get(0),
    )?;
    let oldest = pending_events(conn, 0, 1)?.pop();
    let cps: i64 = conn.query_row("SELECT count(*) FROM checkpoints", [], |r| r.get(0))?;
    let cps_synced: i64 = conn.query_row(
        "SELECT count(*) FROM sync_objects WHERE kind = 'checkpoint'",
        [],
        |r| r.get(0),
    )?;
    let blobs_pending: i64 = conn.query_row(
        "SELECT count(*) FROM blobs b WHERE b.purged_ms IS NULL AND NOT EXISTS \
         (SELECT 1 FROM sync_objects s WHERE s.kind = 'blob' AND s.id = lower(hex(b.sha256)))",
        [],
        |r| r.get(0),
    )?;
    let blobs_lost: i64 = conn.query_row(
        "SELECT count(*) FROM blobs b WHERE b.purged_ms IS NOT NULL AND NOT EXISTS \
         (SELECT 1 FROM sync_objects s WHERE s.kind = 'blob' AND s.id = lower(hex(b.sha256)))",
        [],
        |r| r.get(0),
    )?;
    Ok(SyncBacklog {
        events_pending: (head - synced).max(0) as u64,
        events_synced: synced as u64,
        oldest_pending_seq: oldest.as_ref().map(|e| e.seq),
        oldest_pending_ts_ms: oldest.as_ref().map(|e| e.ts_ms),
        checkpoints_pending: (cps - cps_synced).max(0) as u64,
        blobs_pending: blobs_pending as u64,
        blobs_purged_unsynced: blobs_lost as u64,
        manifest_synced: exists(conn, SyncKind::Manifest, "kiosk")?,
    })
}

pub(crate) fn status(conn: &Connection) -> Result<SyncStatusRow, LedgerError> {
    Ok(conn
        .query_row(
            "SELECT last_attempt_ms, last_success_ms, last_error, last_error_ms FROM sync_status WHERE id = 1",
            [],
            |r| {
                Ok(SyncStatusRow {
                    last_attempt_ms: r.get(0)?,
                    last_success_ms: r.get(1)?,
                    last_error: r.get(2)?,
                    last_error_ms: r.get(3)?,
                })
            },
        )
        .optional()?
        .unwrap_or_default())
}

pub(crate) fn note(
    conn: &Connection,
    attempt_ms: Option<i64>,
    success_ms: Option<i64>,
    error: Option<(&str, i64)>,
) -> Result<(), LedgerError> {
    conn.execute(
        "INSERT INTO sync_status (id) VALUES (1) ON CONFLICT(id) DO NOTHING",
        [],
    )?;
    if let Some(a) = attempt_ms {
        conn.execute(
            "UPDATE sync_status SET last_attempt_ms = ?1 WHERE id = 1",
            [a],
        )?;
    }
    if let Some(s) = success_ms {
        conn.execute(
            "UPDATE sync_status SET last_success_ms = ?1 WHERE id = 1",
            [s],
        )?;
    }
    if let Some((msg, at)) = error {
        conn.execute(
            "UPDATE sync_status SET last_error = ?1, last_error_ms = ?2 WHERE id = 1",
            params![msg, at],
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
