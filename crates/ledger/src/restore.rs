//! Rebuilding an empty ledger from a copy of its evidence (issue 14 item
//! 3: a kiosk whose disk died, restored from the write-once bucket).
//!
//! The rows come back exactly as they were signed: every event's row hash
//! is recomputed, its signature checked under this ledger's key and its
//! link to the previous row followed from seq 1; every checkpoint's
//! signature and Merkle root are checked; every sealed blob must open under
//! this ledger's data key. Only then are they inserted, in one transaction,
//! with the chain head signed for the last event. The `people` table is
//! rebuilt from the chain's fold (names, roles, failures, locks); the
//! credentials are not in the chain (only their keyed digest), so the
//! restored rows have none and the caller records what it does about that
//! (`person.credentials_cleared`, see `people/fold.rs`).

use std::collections::{HashMap, HashSet};

use rusqlite::params;

use crate::people::fold::PeopleFold;
use crate::{
    blobs, chain_head, checkpoint_message, merkle_root, row_hash, Checkpoint, Ledger, LedgerError,
    PersonRecord, RawEvent, SyncedObject, KIND_BLOB_PURGED, KIND_BLOB_SEALED,
};

/// A copy of a ledger's evidence, in seq order (the bucket's objects).
#[derive(Debug, Clone, Default)]
pub struct RestoreRows {
    /// Every event from seq 1, without gaps.
    pub events: Vec<RawEvent>,
    /// Every checkpoint from n 1.
    pub checkpoints: Vec<Checkpoint>,
    /// Sealed blobs: (hex SHA-256 of the plaintext, nonce || ciphertext).
    pub blobs: Vec<(String, Vec<u8>)>,
    /// The objects these came from, recorded as already synced so the
    /// kiosk does not upload them again.
    pub synced: Vec<SyncedObject>,
}

/// What [`Ledger::restore_rows`] inserted.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct RestoreSummary {
    pub events: u64,
    pub checkpoints: u64,
    pub blobs: u64,
    pub purged_blobs: u64,
    pub people: u64,
    /// People whose credentials the chain records (their digest) but the
    /// bucket cannot bring back: their restored rows have none.
    pub credentials_lost: Vec<String>,
}

fn bad(what: String) -> LedgerError {
    LedgerError::Corrupt(what)
}

fn body_str(body: &serde_json::Value, k: &str) -> Option<String> {
    body.get(k)?.as_str().map(str::to_string)
}

impl Ledger {
    /// Fills this **empty** ledger with `rows` after checking them (see the
    /// module docs). A row that fails is [`LedgerError::Corrupt`] naming
    /// it; a blob the data key does not open is [`LedgerError::Key`];
    /// nothing is written unless everything holds.
    pub fn restore_rows(&mut self, rows: &RestoreRows) -> Result<RestoreSummary, LedgerError> {
        if self.head()?.is_some() {
            return Err(LedgerError::Invalid(
                "a ledger is restored only into an empty one".into(),
            ));
        }
        let keys = self.keys.clone();
        let mut prev = [0u8; 32];
        let mut hashes: Vec<[u8; 32]> = Vec::with_capacity(rows.events.len());
        let mut fold = PeopleFold::new();
        let mut added_ms: HashMap<String, i64> = HashMap::new();
        // blob sha -> (media type, size, created, sealed seq)
        let mut sealed: HashMap<String, (String, i64, i64, u64)> = HashMap::new();
        let mut purged: HashMap<String, (i64, u64)> = HashMap::new();
        for (i, e) in rows.events.iter().enumerate() {
            let seq = i as u64 + 1;
            if e.seq != seq {
                return Err(bad(format!("expected event {seq}, found {}", e.seq)));
            }
            let prev_hex = hex::encode(prev);
            if e.prev_hash_hex != prev_hex {
                return Err(bad(format!(
                    "event {seq} does not link to event {}",
                    seq - 1
                )));
            }
            let h = row_hash(seq, e.ts_ms, &e.kind, &e.index, &e.body_json, &prev);
            if hex::encode(h) != e.hash_hex {
                return Err(bad(format!("event {seq}: the row hash does not recompute")));
            }
            let sig = hex::decode(&e.sig_hex).unwrap_or_default();
            if !keys.verify(&h, &sig) {
                return Err(bad(format!(
                    "event {seq}: the signature does not verify under the restored key"
                )));
            }
            let body: serde_json::Value = serde_json::from_str(&e.body_json)?;
            fold.apply(seq, &e.kind, e.index.person.as_deref(), &body);
            if e.kind == crate::people::fold::KIND_PERSON_ADDED {
                if let Some(p) = &e.index.person {
                    added_ms.entry(p.clone()).or_insert(e.ts_ms);
                }
            }
            if e.kind == KIND_BLOB_SEALED {
                if let Some(sha) = body_str(&body, "sha256") {
                    let mt = body_str(&body, "media_type").unwrap_or_default();
                    let size = body.get("size").and_then(|v| v.as_i64()).unwrap_or(0);
                    sealed.entry(sha).or_insert((mt, size, e.ts_ms, seq));
                }
            }
            if e.kind == KIND_BLOB_PURGED {
                if let Some(sha) = body_str(&body, "sha256") {
                    purged.insert(sha, (e.ts_ms, seq));
                }
            }
            prev = h;
            hashes.push(h);
        }
        if let Some((seq, _, what)) = fold.problems.first() {
            return Err(bad(format!("event {seq}: {what}")));
        }
        let mut next_first = 1u64;
        for (i, c) in rows.checkpoints.iter().enumerate() {
            let n = i as u64 + 1;
            let root = hex::decode(&c.root_hash_hex).unwrap_or_default();
            let sig = hex::decode(&c.sig_hex).unwrap_or_default();
            let msg = checkpoint_message(c.n, c.first_seq, c.last_seq, c.tree_size, &root, c.ts_ms);
            let leaves = hashes.get(c.first_seq.saturating_sub(1) as usize..c.last_seq as usize);
            let ok = c.n == n
                && c.first_seq == next_first
                && c.last_seq >= c.first_seq
                && c.tree_size == c.last_seq - c.first_seq + 1
                && keys.verify(&msg, &sig)
                && leaves.is_some_and(|l| merkle_root(l)[..] == root[..]);
            if !ok {
                return Err(bad(format!(
                    "checkpoint {}: its signature, range or Merkle root does not hold",
                    c.n
                )));
            }
            next_first = c.last_seq + 1;
        }
        let given: HashMap<&str, &Vec<u8>> =
            rows.blobs.iter().map(|(s, b)| (s.as_str(), b)).collect();
        let mut blob_rows = Vec::new();
        for (sha_hex, (mt, size, created, seq)) in &sealed {
            let sha = blobs::parse_sha_hex(sha_hex)?;
            let p = purged.get(sha_hex).copied();
            match (given.get(sha_hex.as_str()), p) {
                (Some(obj), _) if obj.len() > 24 => {
                    let (nonce, ct) = obj.split_at(24);
                    let pt = blobs::open(&keys.data_key, &sha, nonce, ct).ok_or_else(|| {
                        LedgerError::Key(format!(
                            "the restored data key does not open blob {sha_hex} (sealed at seq {seq}): a data key from another kiosk, or the blob was altered"
                        ))
                    })?;
                    if blobs::sha256(&pt) != sha {
                        return Err(bad(format!(
                            "blob {sha_hex}: content does not match its hash"
                        )));
                    }
                    let ct = if p.is_some() { None } else { Some(ct.to_vec()) };
                    blob_rows.push((
                        sha,
                        mt.clone(),
                        *size,
                        *created,
                        *seq,
                        nonce.to_vec(),
                        ct,
                        p,
                    ));
                }
                // Purged before it was uploaded: hash and metadata only.
                (None, Some(_)) => blob_rows.push((
                    sha,
                    mt.clone(),
                    *size,
                    *created,
                    *seq,
                    vec![0u8; 24],
                    None,
                    p,
                )),
                _ => {
                    return Err(bad(format!(
                        "blob {sha_hex} (sealed at seq {seq}) is missing or malformed"
                    )))
                }
            }
        }
        let referenced: HashSet<&String> = sealed.keys().collect();
        if let Some((s, _)) = rows.blobs.iter().find(|(s, _)| !referenced.contains(s)) {
            return Err(bad(format!("blob {s} is referenced by no event")));
        }

        let mut summary = RestoreSummary {
            events: rows.events.len() as u64,
            checkpoints: rows.checkpoints.len() as u64,
            blobs: blob_rows.len() as u64,
            ..Default::default()
        };
        let tx = self.conn.transaction()?;
        {
            let mut st = tx.prepare(
                "INSERT INTO events (seq, ts_ms, kind, person, supervisor, outcome, trig, case_id, body, prev_hash, hash, sig)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            )?;
            for e in &rows.events {
                st.execute(params![
                    e.seq as i64,
                    e.ts_ms,
                    e.kind,
                    e.index.person,
                    e.index.supervisor,
                    e.index.outcome,
                    e.index.trigger,
                    e.index.case_id,
                    e.body_json,
                    hex::decode(&e.prev_hash_hex).unwrap_or_default(),
                    hex::decode(&e.hash_hex).unwrap_or_default(),
                    hex::decode(&e.sig_hex).unwrap_or_default(),
                ])
                .map_err(|e| LedgerError::sql("restoring an event", e))?;
            }
            if let Some(last) = hashes.last() {
                chain_head::write(&tx, &keys, hashes.len() as u64, last)?;
            }
            let mut st = tx.prepare(
                "INSERT INTO checkpoints (n, first_seq, last_seq, tree_size, root_hash, ts_ms, sig) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?;
            for c in &rows.checkpoints {
                st.execute(params![
                    c.n as i64,
                    c.first_seq as i64,
                    c.last_seq as i64,
                    c.tree_size as i64,
                    hex::decode(&c.root_hash_hex).unwrap_or_default(),
                    c.ts_ms,
                    hex::decode(&c.sig_hex).unwrap_or_default(),
                ])
                .map_err(|e| LedgerError::sql("restoring a checkpoint", e))?;
            }
            let mut st = tx.prepare(
                "INSERT INTO blobs (sha256, media_type, size, created_ms, sealed_seq, nonce, ciphertext, purged_ms, purged_seq)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?;
            for (sha, mt, size, created, seq, nonce, ct, p) in &blob_rows {
                if p.is_some() {
                    summary.purged_blobs += 1;
                }
                st.execute(params![
                    &sha[..],
                    mt,
                    size,
                    created,
                    *seq as i64,
                    nonce,
                    ct,
                    p.map(|p| p.0),
                    p.map(|p| p.1 as i64),
                ])
                .map_err(|e| LedgerError::sql("restoring a blob", e))?;
            }
            let people = crate::People {
                conn: &tx,
                keys: &keys,
            };
            for p in fold.people() {
                people.insert(&PersonRecord {
                    id: p.id.clone(),
                    display_name: p.display_name.clone(),
                    roles: p.roles.iter().cloned().collect(),
                    secret_phc: None,
                    totp_secret: None,
                    failed_auths: p.failed_auths,
                    locked: p.locked,
                    created_ms: added_ms.get(&p.id).copied().unwrap_or(0),
                })?;
                summary.people += 1;
                if p.credentials != crate::people::fold::CredentialState::None {
                    summary.credentials_lost.push(p.id.clone());
                }
            }
            crate::sync_state::record(&tx, &rows.synced)?;
        }
        tx.commit()?;
        Ok(summary)
    }
}

#[cfg(test)]
#[path = "restore/tests.rs"]
mod tests;
