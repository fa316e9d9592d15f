//! Full-ledger verification.

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension};
use serde::{Deserialize, Serialize};

use crate::blobs::{self, blob_from_row, BLOB_COLS};
use crate::chain_head::{self, head_message};
use crate::checkpoints::{self, checkpoint_message, merkle_root};
use crate::events::{raw_from_row, RawRow, COLS, KIND_BLOB_PURGED, KIND_BLOB_SEALED};
use crate::people::fold::{check_person, PeopleFold, PEOPLE_KINDS};
use crate::{Keys, LedgerError};

/// What kind of integrity failure was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemKind {
    /// Row content (body, kind, time or index columns) no longer matches its signed hash.
    Modified,
    /// One or more rows are missing (a gap, or the tail was truncated); `seq` is the first missing one.
    Deleted,
    /// A row that is not part of the signed chain was added.
    Inserted,
    /// A genuine row sits at the wrong position.
    Reordered,
    /// A row's signature does not verify.
    BadSignature,
    /// A genuine row does not link to its predecessor.
    ChainBroken,
    /// A checkpoint's signature, range or Merkle root is wrong.
    BadCheckpoint,
    /// A blob's ciphertext or metadata was altered, or it was removed without a purge event.
    BlobTampered,
    /// A `blob.sealed` event names a blob that is not stored.
    BlobMissing,
    /// The signed chain head is missing, badly signed or disagrees with the rows.
    HeadMismatch,
    /// A row of the `people` table differs from what its registry events
    /// say (roles, name, credentials, failure count, lockout), or has no
    /// events, or the events do not fit together. The detail names the person.
    RegistryMismatch,
}

/// One integrity failure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    /// The event sequence number concerned, when there is one.
    pub seq: Option<u64>,
    /// Classification.
    pub what: ProblemKind,
    /// Human-readable explanation (never contains blob content).
    pub detail: String,
}

/// Result of [`crate::Ledger::verify`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyReport {
    /// Event rows read.
    pub events: u64,
    /// Checkpoints checked.
    pub checkpoints: u64,
    /// Blob rows checked.
    pub blobs: u64,
    /// Of those, purged.
    pub purged_blobs: u64,
    /// Seq in the signed chain head.
    pub head_seq: Option<u64>,
    /// Problems; row problems first in seq order, so `problems[0]` is the first bad row.
    pub problems: Vec<Problem>,
}

impl VerifyReport {
    /// No problems found.
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }

    /// The first problem, if any.
    pub fn first_problem(&self) -> Option<&Problem> {
        self.problems.first()
    }
}

fn p(seq: Option<u64>, what: ProblemKind, detail: impl Into<String>) -> Problem {
    Problem {
        seq,
        what,
        detail: detail.into(),
    }
}

/// Original seq of a row, deduced from the row its `prev_hash` points to.
fn original_seq(conn: &Connection, r: &RawRow) -> Result<Option<u64>, LedgerError> {
    if r.prev_hash.iter().all(|b| *b == 0) {
        return Ok(Some(1));
    }
    let s: Option<i64> = conn
        .query_row(
            "SELECT seq FROM events WHERE hash = ?1 LIMIT 1",
            [&r.prev_hash],
            |x| x.get(0),
        )
        .optional()?;
    Ok(s.map(|s| s as u64 + 1))
}

pub(crate) fn verify(conn: &Connection, keys: &Keys) -> Result<VerifyReport, LedgerError> {
    let head = chain_head::read(conn)?;
    let mut row_problems = Vec::new();
    let mut other = Vec::new();
    let mut sealed: HashMap<String, (u64, serde_json::Value)> = HashMap::new();
    let mut purged: HashMap<String, u64> = HashMap::new();
    let mut people = PeopleFold::new();

    let mut events = 0u64;
    let mut expected = 1u64;
    let mut prev: Vec<u8> = vec![0u8; 32];
    let mut prev_bad = false;
    let mut last: Option<(u64, Vec<u8>)> = None;
    let mut hash_at_head: Option<Vec<u8>> = None;
    {
        let mut stmt = conn.prepare(&format!("SELECT {COLS} FROM events ORDER BY seq"))?;
        let mut rows = stmt.query_map([], raw_from_row)?.peekable();
        while let Some(r) = rows.next() {
            let r = r?;
            events += 1;
            let mut link_expected = true;
            if r.seq > expected {
                row_problems.push(p(
                    Some(expected),
                    ProblemKind::Deleted,
                    format!("rows {expected}..={} are missing", r.seq - 1),
                ));
                link_expected = false;
            }
            let hash_ok = r.recompute(r.seq)[..] == r.hash[..];
            let sig_ok = keys.verify(&r.hash, &r.sig);
            let link_ok = r.prev_hash == prev;
            let next_skips = matches!(rows.peek(), Some(Ok(n)) if n.prev_hash == r.prev_hash);
            let beyond_head = matches!(&head, Some(h) if r.seq > h.seq);
            let found = if beyond_head {
                Some(p(
                    Some(r.seq),
                    ProblemKind::Inserted,
                    "row is beyond the signed chain head",
                ))
            } else if hash_ok && sig_ok {
                if link_ok || !link_expected || prev_bad {
                    None
                } else {
                    Some(p(
                        Some(r.seq),
                        ProblemKind::ChainBroken,
                        "prev_hash does not match the previous row's hash",
                    ))
                }
            } else if next_skips {
                Some(p(
                    Some(r.seq),
                    ProblemKind::Inserted,
                    "row is not part of the signed chain (the next row links to its predecessor)",
                ))
            } else if !hash_ok && sig_ok {
                match original_seq(conn, &r)? {
                    Some(orig) if orig != r.seq && r.recompute(orig)[..] == r.hash[..] => Some(p(
                        Some(r.seq),
                        ProblemKind::Reordered,
                        format!("genuine row belongs at seq {orig}"),
                    )),
                    _ => Some(p(
                        Some(r.seq),
                        ProblemKind::Modified,
                        "row content does not match its signed hash",
                    )),
                }
            } else if hash_ok {
                Some(p(
                    Some(r.seq),
                    ProblemKind::BadSignature,
                    "signature over the row hash does not verify",
                ))
            } else {
                Some(p(
                    Some(r.seq),
                    ProblemKind::Modified,
                    "row content does not match its hash and the signature does not verify",
                ))
            };
            prev_bad = found.is_some();
            row_problems.extend(found);
            if r.kind == KIND_BLOB_SEALED || r.kind == KIND_BLOB_PURGED {
                if let Ok(body) = serde_json::from_str::<serde_json::Value>(&r.body) {
                    if let Some(sha) = body.get("sha256").and_then(|v| v.as_str()) {
                        if r.kind == KIND_BLOB_SEALED {
                            sealed.insert(sha.to_string(), (r.seq, body.clone()));
                        } else {
                            purged.insert(sha.to_string(), r.seq);
                        }
                    }
                }
            }
            if PEOPLE_KINDS.contains(&r.kind.as_str()) {
                if let Ok(body) = serde_json::from_str::<serde_json::Value>(&r.body) {
                    people.apply(r.seq, &r.kind, r.index.person.as_deref(), &body);
                }
            }
            if matches!(&head, Some(h) if h.seq == r.seq) {
                hash_at_head = Some(r.hash.clone());
            }
            expected = r.seq + 1;
            prev = r.hash.clone();
            last = Some((r.seq, r.hash));
        }
    }

    // Chain head.
    let last_seq = last.as_ref().map(|l| l.0).unwrap_or(0);
    match &head {
        None if events > 0 => other.push(p(
            None,
            ProblemKind::HeadMismatch,
            "events exist but the signed chain head is missing",
        )),
        None => {}
        Some(h) => {
            if !keys.verify(&head_message(h.seq, &h.hash), &h.sig) {
                other.push(p(
                    Some(h.seq),
                    ProblemKind::HeadMismatch,
                    "chain head signature does not verify",
                ));
            }
            if h.seq > last_seq {
                row_problems.push(p(
                    Some(last_seq + 1),
                    ProblemKind::Deleted,
                    format!(
                        "rows {}..={} are missing (tail truncated; signed head is {})",
                        last_seq + 1,
                        h.seq,
                        h.seq
                    ),
                ));
            } else if hash_at_head.as_deref() != Some(&h.hash[..]) {
                other.push(p(
                    Some(h.seq),
                    ProblemKind::HeadMismatch,
                    "chain head hash differs from the row at its seq",
                ));
            }
        }
    }

    // Checkpoints.
    let cps = checkpoints::all(conn)?;
    let mut prev_last = 0u64;
    for (i, c) in cps.iter().enumerate() {
        let bad = |d: String| {
            p(
                Some(c.first_seq),
                ProblemKind::BadCheckpoint,
                format!("checkpoint {}: {d}", c.n),
            )
        };
        if c.n != i as u64 + 1 {
            other.push(bad(format!("expected number {}", i + 1)));
        }
        if !keys.verify(
            &checkpoint_message(c.n, c.first_seq, c.last_seq, c.tree_size, &c.root, c.ts_ms),
            &c.sig,
        ) {
            other.push(bad("signature does not verify".into()));
        }
        if c.first_seq != prev_last + 1
            || c.last_seq < c.first_seq
            || c.tree_size != c.last_seq - c.first_seq + 1
        {
            other.push(bad(format!(
                "range {}..={} (size {}) does not follow the previous checkpoint ending at {prev_last}",
                c.first_seq, c.last_seq, c.tree_size
            )));
        } else {
            let hashes = checkpoints::hashes_in_range(conn, c.first_seq, c.last_seq)?;
            if hashes.len() as u64 != c.tree_size {
                other.push(bad(format!(
                    "covers {} rows but only {} exist",
                    c.tree_size,
                    hashes.len()
                )));
            } else if merkle_root(&hashes)[..] != c.root[..] {
                other.push(bad("Merkle root does not match the rows".into()));
            }
        }
        prev_last = c.last_seq;
    }

    // Blobs.
    let mut nblobs = 0u64;
    let mut npurged = 0u64;
    {
        let mut stmt = conn.prepare(&format!(
            "SELECT {BLOB_COLS} FROM blobs ORDER BY sealed_seq"
        ))?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let b = blob_from_row(row)?;
            nblobs += 1;
            let sha_hex = hex::encode(&b.sha256);
            let Some((seal_seq, body)) = sealed.remove(&sha_hex) else {
                other.push(p(
                    None,
                    ProblemKind::BlobTampered,
                    format!("blob {sha_hex} has no blob.sealed event"),
                ));
                continue;
            };
            let sp = Some(seal_seq);
            if b.sealed_seq != seal_seq
                || body.get("size").and_then(|v| v.as_u64()) != Some(b.size)
                || body.get("media_type").and_then(|v| v.as_str()) != Some(b.media_type.as_str())
            {
                other.push(p(
                    sp,
                    ProblemKind::BlobTampered,
                    format!("blob {sha_hex} metadata differs from its blob.sealed event"),
                ));
            }
            match &b.ciphertext {
                Some(ct) => match blobs::open(&keys.data_key, &b.sha256, &b.nonce, ct) {
                    Some(pt) if blobs::sha256(&pt)[..] == b.sha256[..] => {}
                    Some(_) => other.push(p(
                        sp,
                        ProblemKind::BlobTampered,
                        format!("blob {sha_hex} decrypts to different content"),
                    )),
                    None => other.push(p(
                        sp,
                        ProblemKind::BlobTampered,
                        format!("blob {sha_hex} fails authentication"),
                    )),
                },
                None => {
                    npurged += 1;
                    match purged.get(&sha_hex) {
                        Some(ps) if b.purged_seq == Some(*ps) => {}
                        _ => other.push(p(
                            sp,
                            ProblemKind::BlobTampered,
                            format!("blob {sha_hex} ciphertext is gone without a matching blob.purged event"),
                        )),
                    }
                }
            }
        }
    }
    for (sha, (seq, _)) in sealed {
        other.push(p(
            Some(seq),
            ProblemKind::BlobMissing,
            format!("blob {sha} recorded by this event is not stored"),
        ));
    }

    // The people table against the chain.
    for (seq, _, what) in &people.problems {
        other.push(p(Some(*seq), ProblemKind::RegistryMismatch, what.clone()));
    }
    let ids: Vec<String> = {
        let mut stmt = conn.prepare("SELECT id FROM people ORDER BY id")?;
        let ids = stmt
            .query_map([], |r| r.get(0))?
            .collect::<Result<Vec<String>, _>>()?;
        ids
    };
    let table = crate::People { conn, keys };
    for id in &ids {
        let exp = people.get(id);
        let seq = exp.map(|e| e.last_seq);
        match table.get(id) {
            Ok(row) => {
                if let Err(why) = check_person(keys, row.as_ref(), exp) {
                    other.push(p(seq, ProblemKind::RegistryMismatch, why));
                }
            }
            Err(e) => other.push(p(
                seq,
                ProblemKind::RegistryMismatch,
                format!("person {id}: row cannot be read: {e}"),
            )),
        }
    }
    for e in people.people().filter(|e| !ids.contains(&e.id)) {
        if let Err(why) = check_person(keys, None, Some(e)) {
            other.push(p(Some(e.last_seq), ProblemKind::RegistryMismatch, why));
        }
    }

    row_problems.sort_by_key(|x| x.seq);
    other.sort_by_key(|x| x.seq);
    row_problems.extend(other);
    Ok(VerifyReport {
        events,
        checkpoints: cps.len() as u64,
        blobs: nblobs,
        purged_blobs: npurged,
        head_seq: head.map(|h| h.seq),
        problems: row_problems,
    })
}
