//! Countersign evidence ledger: an append-only, hash-chained, signed SQLite
//! log with sealed blobs, Merkle checkpoints, queries and export.
//!
//! # Invariants
//!
//! * **Append-only.** Events get consecutive sequence numbers 1, 2, 3, ...
//!   Rows are never updated or deleted (SQLite triggers refuse it; blobs may
//!   only be *purged*, which clears the ciphertext and keeps hash/metadata).
//! * **Chain.** Each row stores `prev_hash` (32 zero bytes for seq 1) and
//!   `hash` = [`row_hash`] over a domain-separated encoding of seq, ts_ms,
//!   kind, the index columns, the canonical JSON body (sorted keys, stored
//!   verbatim) and `prev_hash`. The kiosk's Ed25519 key signs each row hash.
//! * **Head.** A single-row `chain_head` table holds the last seq and hash,
//!   signed over `"head" || seq || hash`, updated in the same transaction as
//!   every append, so truncating the tail is detectable.
//! * **Checkpoints.** [`Ledger::checkpoint`] signs an RFC 6962 Merkle root over
//!   the row hashes appended since the previous checkpoint; those roots are
//!   what gets synced to write-once storage.
//! * **Durability.** WAL with `synchronous=FULL`: when `append` returns `Ok`
//!   the event is on disk. A failed append (e.g. [`LedgerError::DiskFull`])
//!   is rolled back completely; earlier events are untouched.
//!
//! # What [`Ledger::verify`] proves, and what it cannot
//!
//! Given only the database and the kiosk's public key, verify detects any
//! modification, deletion (gap or tail), insertion, reordering or signature
//! corruption of events, tampered or missing checkpoints, and tampered,
//! missing or silently removed blobs — and names the first bad sequence number.
//!
//! It **cannot** detect a rewrite by someone holding the kiosk's private
//! signing key: such a person can re-sign an entirely new history. Deleting
//! the tail *together with* the head row and later checkpoints also leaves a
//! shorter but self-consistent ledger. That is why checkpoints are exported to
//! write-once (object-locked) storage off the kiosk: a local ledger that
//! disagrees with an already-synced checkpoint has been rewritten.
//!
//! # Tables
//!
//! One module per table, each owning its migration: `events`, `chain_head`,
//! `checkpoints`, `blobs`, `people` (the people registry is mutable and *not*
//! chained; callers log changes as events). The runner tracks the schema in
//! SQLite's `user_version`.
//!
//! The binary `ledger-crash-worker` is a **test helper** used by the crash
//! test; it is not part of the product.

use std::path::Path;
use std::time::Duration;

use rusqlite::{params, Connection, OpenFlags, OptionalExtension, TransactionBehavior};

mod anchor;
pub mod bench;
mod blobs;
mod chain_head;
mod checkpoints;
mod error;
mod events;
mod export;
mod guards;
mod keys;
mod people;
mod records;
mod restore;
mod schema;
mod sync_state;
mod verify;

pub use anchor::{Alarm, AnchorGuard, AnchorRecord, ALARM_FILE, ANCHOR_FILE};
pub use blobs::{BlobInfo, BlobRef};
pub use checkpoints::{checkpoint_message, leaf_hash, merkle_root, node_hash, Checkpoint};
pub use error::LedgerError;
pub use events::{
    canonical_json, row_hash, KIND_BLOB_PURGED, KIND_BLOB_SEALED, KIND_OVERRIDE_GRANTED,
    KIND_OVERRIDE_REVIEWED,
};
pub use export::{ocsf_class, ocsf_record, OcsfClass, OCSF_VERSION};
pub use keys::{Keys, DATA_KEY_FILE, PUBLIC_KEY_FILE, SIGNING_KEY_FILE};
pub use people::{People, PersonRecord};
pub use restore::{RestoreRows, RestoreSummary};
pub use schema::SCHEMA_VERSION;
pub use sync_state::{RawEvent, SealedBlob, SyncBacklog, SyncKind, SyncStatusRow, SyncedObject};
pub use verify::{Problem, ProblemKind, VerifyReport};

pub use records::{EventIndex, EventRef, EventRow, Filter, NewEvent, Page, PageRequest};

/// The evidence ledger.
#[derive(Debug)]
pub struct Ledger {
    conn: Connection,
    keys: Keys,
    /// See [`Ledger::guard_clock`]; `None` = no guard (ledger unit tests).
    clock_tolerance_ms: Option<i64>,
    /// See [`Ledger::set_anchor`]; `None` = no anchor (ledger unit tests).
    anchor: Option<AnchorGuard>,
}

/// The kind of the event that records a write refused by the clock guard
/// (body: `observed_ms`, `newest_ms`, `behind_ms`, `tolerance_ms`, `context`).
pub const KIND_CLOCK_BEHIND_LEDGER: &str = "clock.behind_ledger";

/// At most one [`KIND_CLOCK_BEHIND_LEDGER`] event per process per this long,
/// so a kiosk whose clock went back does not flood its own ledger.
pub const CLOCK_RECORD_INTERVAL: Duration = Duration::from_secs(60);

static LAST_CLOCK_RECORD: std::sync::Mutex<Option<std::time::Instant>> =
    std::sync::Mutex::new(None);

/// A write transaction (`BEGIN IMMEDIATE`) handed to [`Ledger::transact`]:
/// reads see the database as of the write lock, so a check made here and
/// the events appended here cannot interleave with another process's.
#[derive(Debug)]
pub struct Tx<'a> {
    tx: &'a rusqlite::Transaction<'a>,
    keys: &'a Keys,
}

impl Tx<'_> {
    /// The newest event matching `filter`, read inside the transaction.
    pub fn latest(&self, filter: &Filter) -> Result<Option<EventRow>, LedgerError> {
        latest_in(self.tx, filter)
    }

    /// Every event matching `filter`, oldest first, read inside the transaction.
    pub fn all(&self, filter: &Filter) -> Result<Vec<EventRow>, LedgerError> {
        all_in(self.tx, filter)
    }

    /// Appends events; they commit with the transaction or not at all.
    pub fn append(&self, evs: &[NewEvent]) -> Result<Vec<EventRef>, LedgerError> {
        events::append_in_tx(self.tx, self.keys, evs)
    }

    /// The people registry, inside the transaction.
    pub fn people(&self) -> People<'_> {
        People {
            conn: self.tx,
            keys: self.keys,
        }
    }
}

fn latest_in(conn: &Connection, filter: &Filter) -> Result<Option<EventRow>, LedgerError> {
    let page = PageRequest {
        after_seq: None,
        limit: 1,
        newest_first: true,
    };
    Ok(events::query(conn, filter, &page)?.rows.into_iter().next())
}

fn all_in(conn: &Connection, filter: &Filter) -> Result<Vec<EventRow>, LedgerError> {
    let mut rows = Vec::new();
    let mut after_seq = None;
    loop {
        let page = events::query(
            conn,
            filter,
            &PageRequest {
                after_seq,
                limit: 500,
                newest_first: false,
            },
        )?;
        rows.extend(page.rows);
        match page.next_after {
            Some(n) => after_seq = Some(n),
            None => return Ok(rows),
        }
    }
}

/// The newest event time in the ledger (`None` when empty).
fn newest_ts(conn: &Connection) -> Result<Option<i64>, LedgerError> {
    Ok(conn.query_row("SELECT MAX(ts_ms) FROM events", [], |r| r.get(0))?)
}

impl Ledger {
    /// Open (creating if needed) a ledger file: WAL, `synchronous=FULL`,
    /// foreign keys on, migrations applied.
    pub fn open(db_path: &Path, keys: Keys) -> Result<Ledger, LedgerError> {
        let conn = Connection::open_with_flags(
            db_path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| LedgerError::sql(&format!("opening ledger {}", db_path.display()), e))?;
        Self::init(conn, true).map(|conn| Ledger {
            conn,
            keys,
            clock_tolerance_ms: None,
            anchor: None,
        })
    }

    /// An in-memory ledger (tests).
    pub fn open_in_memory(keys: Keys) -> Result<Ledger, LedgerError> {
        let conn = Connection::open_in_memory()?;
        Self::init(conn, false).map(|conn| Ledger {
            conn,
            keys,
            clock_tolerance_ms: None,
            anchor: None,
        })
    }

    fn init(mut conn: Connection, wal: bool) -> Result<Connection, LedgerError> {
        conn.busy_timeout(Duration::from_secs(10))?;
        if wal {
            let mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
            if !mode.eq_ignore_ascii_case("wal") {
                return Err(LedgerError::Corrupt(format!(
                    "could not enable WAL (journal_mode={mode})"
                )));
            }
        }
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        schema::migrate(&mut conn)?;
        Ok(conn)
    }

    /// Limit the database size to `pages` pages (SQLite `max_page_count`,
    /// per connection). Writes beyond it fail with [`LedgerError::DiskFull`].
    /// Used as a quota and by tests to simulate a full disk.
    pub fn set_max_page_count(&self, pages: u64) -> Result<u64, LedgerError> {
        Ok(self
            .conn
            .query_row(&format!("PRAGMA max_page_count = {pages}"), [], |r| {
                r.get::<_, i64>(0)
            })? as u64)
    }

    /// The keys this ledger signs and seals with.
    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    /// Runs `f` inside one `BEGIN IMMEDIATE` write transaction: what it
    /// reads through [`Tx`] and what it appends commit together, so a
    /// check-then-record (an attempt limit, a used TOTP step) holds across
    /// processes. An error from `f` rolls everything back.
    pub fn transact<T, E: From<LedgerError>>(
        &mut self,
        context: &str,
        f: impl FnOnce(&Tx<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        self.write_tx_e(context, |tx, keys| f(&Tx { tx, keys }))
    }

    /// Append one event in its own transaction; durable when this returns.
    pub fn append(&mut self, ev: &NewEvent) -> Result<EventRef, LedgerError> {
        let mut v = self.append_batch(std::slice::from_ref(ev))?;
        v.pop()
            .ok_or_else(|| LedgerError::Corrupt("append produced no event".into()))
    }

    /// Append several events in one transaction (all or nothing).
    pub fn append_batch(&mut self, evs: &[NewEvent]) -> Result<Vec<EventRef>, LedgerError> {
        self.write_tx("appending events", |tx, keys| {
            events::append_in_tx(tx, keys, evs)
        })
    }

    /// Seal and store a blob and append its `blob.sealed` event (body:
    /// `sha256`, `size`, `media_type`) in one transaction. Idempotent by
    /// SHA-256: storing the same bytes again returns the existing reference
    /// with `newly_stored = false`. Storing bytes whose blob was purged fails
    /// with [`LedgerError::Purged`] (retention decisions are not undone).
    pub fn put_blob(
        &mut self,
        plaintext: &[u8],
        media_type: &str,
        ts_ms: i64,
        index: EventIndex,
    ) -> Result<BlobRef, LedgerError> {
        let sha = blobs::sha256(plaintext);
        let sha_hex = hex::encode(sha);
        self.write_tx("storing a blob", |tx, keys| {
            let existing = tx
                .query_row(
                    &format!("SELECT {} FROM blobs WHERE sha256 = ?1", blobs::BLOB_COLS),
                    [&sha[..]],
                    blobs::blob_from_row,
                )
                .optional()?;
            if let Some(b) = existing {
                if let Some(purged_ms) = b.purged_ms {
                    return Err(LedgerError::Purged { sha256: sha_hex, purged_ms });
                }
                let hash: Vec<u8> = tx.query_row("SELECT hash FROM events WHERE seq = ?1", [b.sealed_seq as i64], |r| r.get(0))?;
                return Ok(BlobRef {
                    sha256_hex: sha_hex,
                    size: b.size,
                    media_type: b.media_type,
                    sealed: EventRef { seq: b.sealed_seq, hash_hex: hex::encode(hash) },
                    newly_stored: false,
                });
            }
            let ev = NewEvent {
                ts_ms,
                kind: KIND_BLOB_SEALED.into(),
                index,
                body: serde_json::json!({"sha256": sha_hex, "size": plaintext.len(), "media_type": media_type}),
            };
            let r = events::append_in_tx(tx, keys, std::slice::from_ref(&ev))?
                .pop()
                .ok_or_else(|| LedgerError::Corrupt("append produced no event".into()))?;
            let (nonce, ct) = blobs::seal(&keys.data_key, &sha, plaintext)?;
            tx.execute(
                "INSERT INTO blobs (sha256, media_type, size, created_ms, sealed_seq, nonce, ciphertext) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![&sha[..], media_type, plaintext.len() as i64, ts_ms, r.seq as i64, &nonce[..], ct],
            )
            .map_err(|e| LedgerError::sql("storing a blob", e))?;
            Ok(BlobRef {
                sha256_hex: sha_hex,
                size: plaintext.len() as u64,
                media_type: media_type.into(),
                sealed: r,
                newly_stored: true,
            })
        })
    }

    /// Decrypt a blob and check its hash. [`LedgerError::Purged`] if purged,
    /// [`LedgerError::NotFound`] if unknown, [`LedgerError::Corrupt`] if it
    /// fails authentication or hashing.
    pub fn get_blob(&self, sha256_hex: &str) -> Result<Vec<u8>, LedgerError> {
        let sha = blobs::parse_sha_hex(sha256_hex)?;
        let b = self
            .conn
            .query_row(
                &format!("SELECT {} FROM blobs WHERE sha256 = ?1", blobs::BLOB_COLS),
                [&sha[..]],
                blobs::blob_from_row,
            )
            .optional()?
            .ok_or_else(|| LedgerError::NotFound(format!("blob {sha256_hex}")))?;
        let Some(ct) = b.ciphertext else {
            return Err(LedgerError::Purged {
                sha256: sha256_hex.to_ascii_lowercase(),
                purged_ms: b.purged_ms.unwrap_or_default(),
            });
        };
        let pt = blobs::open(&self.keys.data_key, &sha, &b.nonce, &ct).ok_or_else(|| {
            LedgerError::Corrupt(format!(
                "blob {sha256_hex} failed authentication (tampered or wrong data key)"
            ))
        })?;
        if blobs::sha256(&pt) != sha {
            return Err(LedgerError::Corrupt(format!(
                "blob {sha256_hex} content does not match its hash"
            )));
        }
        Ok(pt)
    }

    /// Purge blobs created before `older_than_ms`: delete the ciphertext,
    /// keep hash and metadata, and append a `blob.purged` event per blob
    /// (body: `sha256`, `size`, `media_type`, `created_ms`, `reason`), all in
    /// one transaction. Returns how many were purged.
    pub fn purge_blobs(
        &mut self,
        older_than_ms: i64,
        now_ms: i64,
        reason: &str,
    ) -> Result<usize, LedgerError> {
        self.write_tx("purging blobs", |tx, keys| {
            let victims = {
                let mut stmt = tx.prepare(&format!(
                    "SELECT {} FROM blobs WHERE ciphertext IS NOT NULL AND created_ms < ?1 ORDER BY created_ms, sha256",
                    blobs::BLOB_COLS
                ))?;
                let v = stmt.query_map([older_than_ms], blobs::blob_from_row)?.collect::<Result<Vec<_>, _>>()?;
                v
            };
            for b in &victims {
                let ev = NewEvent {
                    ts_ms: now_ms,
                    kind: KIND_BLOB_PURGED.into(),
                    index: EventIndex::default(),
                    body: serde_json::json!({
                        "sha256": hex::encode(&b.sha256), "size": b.size, "media_type": b.media_type,
                        "created_ms": b.created_ms, "reason": reason,
                    }),
                };
                let r = events::append_in_tx(tx, keys, std::slice::from_ref(&ev))?
                    .pop()
                    .ok_or_else(|| LedgerError::Corrupt("append produced no event".into()))?;
                tx.execute(
                    "UPDATE blobs SET ciphertext = NULL, purged_ms = ?2, purged_seq = ?3 WHERE sha256 = ?1",
                    params![&b.sha256[..], now_ms, r.seq as i64],
                )
                .map_err(|e| LedgerError::sql("purging a blob", e))?;
            }
            Ok(victims.len())
        })
    }

    /// Sign a checkpoint over all events since the previous one
    /// (`None` when there are none).
    pub fn checkpoint(&mut self, now_ms: i64) -> Result<Option<Checkpoint>, LedgerError> {
        self.write_tx("writing a checkpoint", |tx, keys| {
            checkpoints::create(tx, keys, now_ms)
        })
    }

    /// Checkpoint if at least `every` events were appended since the last one.
    pub fn maybe_checkpoint(
        &mut self,
        now_ms: i64,
        every: u64,
    ) -> Result<Option<Checkpoint>, LedgerError> {
        let (_, last, head) = checkpoints::pending(&self.conn)?;
        if head.saturating_sub(last) >= every.max(1) {
            self.checkpoint(now_ms)
        } else {
            Ok(None)
        }
    }

    /// All checkpoints, oldest first.
    pub fn checkpoints(&self) -> Result<Vec<Checkpoint>, LedgerError> {
        Ok(checkpoints::all(&self.conn)?
            .iter()
            .map(|c| c.public())
            .collect())
    }

    /// One event by seq.
    pub fn get(&self, seq: u64) -> Result<Option<EventRow>, LedgerError> {
        let raw = self
            .conn
            .query_row(
                &format!("SELECT {} FROM events WHERE seq = ?1", events::COLS),
                [seq as i64],
                events::raw_from_row,
            )
            .optional()?;
        raw.map(|r| r.into_event_row()).transpose()
    }

    /// Filtered, keyset-paged query.
    pub fn query(&self, filter: &Filter, page: &PageRequest) -> Result<Page, LedgerError> {
        events::query(&self.conn, filter, page)
    }

    /// The newest event matching `filter`, if any.
    pub fn latest(&self, filter: &Filter) -> Result<Option<EventRow>, LedgerError> {
        latest_in(&self.conn, filter)
    }

    /// Every event matching `filter`, oldest first (paged internally, so
    /// use it for one case or one person, not for the whole ledger).
    pub fn all(&self, filter: &Filter) -> Result<Vec<EventRow>, LedgerError> {
        all_in(&self.conn, filter)
    }

    /// The last appended event, per the signed chain head.
    pub fn head(&self) -> Result<Option<EventRef>, LedgerError> {
        Ok(chain_head::read(&self.conn)?.map(|h| EventRef {
            seq: h.seq,
            hash_hex: hex::encode(h.hash),
        }))
    }

    /// Check the whole ledger; see the crate docs for what this proves.
    pub fn verify(&self) -> Result<VerifyReport, LedgerError> {
        verify::verify(&self.conn, &self.keys)
    }

    /// Write matching events as JSON lines ([`EventRow`] per line); returns the count.
    pub fn export_jsonl(
        &self,
        filter: &Filter,
        out: &mut dyn std::io::Write,
    ) -> Result<u64, LedgerError> {
        export::jsonl(&self.conn, filter, out)
    }

    /// Write matching events as OCSF 1.5 JSON lines, each of its class; see [`ocsf_record`].
    pub fn export_ocsf(
        &self,
        filter: &Filter,
        out: &mut dyn std::io::Write,
    ) -> Result<u64, LedgerError> {
        export::ocsf(&self.conn, filter, out)
    }

    /// Events not yet copied to remote storage, in seq order, after `after_seq`
    /// (see `sync_state`: every appended event is queued by its own commit).
    pub fn sync_pending_events(
        &self,
        after_seq: u64,
        limit: u32,
    ) -> Result<Vec<RawEvent>, LedgerError> {
        sync_state::pending_events(&self.conn, after_seq, limit)
    }

    /// Events `from_seq..` as stored (exact canonical body text), at most `limit`.
    pub fn raw_events(&self, from_seq: u64, limit: u32) -> Result<Vec<RawEvent>, LedgerError> {
        sync_state::event_range(&self.conn, from_seq, limit)
    }

    /// Checkpoints not yet copied to remote storage, oldest first.
    pub fn sync_pending_checkpoints(&self) -> Result<Vec<Checkpoint>, LedgerError> {
        sync_state::pending_checkpoints(&self.conn)
    }

    /// Sealed blobs (never plaintext) not yet copied, in sealing order,
    /// sealed after event `after_sealed_seq`.
    pub fn sync_pending_blobs(
        &self,
        after_sealed_seq: u64,
        limit: u32,
    ) -> Result<Vec<SealedBlob>, LedgerError> {
        sync_state::pending_blobs(&self.conn, after_sealed_seq, limit)
    }

    /// Record remote copies confirmed by the server, all in one transaction.
    pub fn sync_record(&mut self, objs: &[SyncedObject]) -> Result<(), LedgerError> {
        self.write_tx_unsigned("recording synced objects", |tx, _| {
            sync_state::record(tx, objs)
        })
    }

    /// The record of one remote copy.
    pub fn sync_object(
        &self,
        kind: SyncKind,
        id: &str,
    ) -> Result<Option<SyncedObject>, LedgerError> {
        sync_state::get(&self.conn, kind, id)
    }

    /// Every remote copy recorded.
    pub fn sync_objects(&self) -> Result<Vec<SyncedObject>, LedgerError> {
        sync_state::all(&self.conn)
    }

    /// What is still to upload.
    pub fn sync_backlog(&self) -> Result<SyncBacklog, LedgerError> {
        sync_state::backlog(&self.conn)
    }

    /// The uploader's last attempt, success and error.
    pub fn sync_status(&self) -> Result<SyncStatusRow, LedgerError> {
        sync_state::status(&self.conn)
    }

    /// Update the uploader's status row (each `Some` field is set).
    pub fn sync_note(
        &mut self,
        attempt_ms: Option<i64>,
        success_ms: Option<i64>,
        error: Option<(&str, i64)>,
    ) -> Result<(), LedgerError> {
        self.write_tx_unsigned("updating sync status", |tx, _| {
            sync_state::note(tx, attempt_ms, success_ms, error)
        })
    }

    /// The people registry.
    pub fn people(&mut self) -> People<'_> {
        People {
            conn: &self.conn,
            keys: &self.keys,
        }
    }
}

#[cfg(test)]
mod tests;
