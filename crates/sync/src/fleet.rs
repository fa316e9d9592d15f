//! The fleet view: a bucket opened read-only (GET and LIST only), every
//! kiosk in it verified from its objects alone, and events browsed across
//! kiosks with the same filters as the local log.
//!
//! From the objects alone this proves, per kiosk: every event object's key
//! names its own seq and row hash, the row hash recomputes, the kiosk's
//! Ed25519 key (from `kiosk.json`) signed it, the chain links without gaps
//! or forks from seq 1, every checkpoint's signature and Merkle root hold,
//! and every sealed blob referenced by a `blob.sealed` event is present
//! (unless purged). It cannot tell whether the kiosk has newer events that
//! never reached the bucket: `countersign sync status` on the kiosk (and its
//! alert) covers that.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use countersign_ledger::{
    checkpoint_message, merkle_root, row_hash, EventIndex, Filter, KIND_BLOB_PURGED,
    KIND_BLOB_SEALED, KIND_OVERRIDE_GRANTED, KIND_OVERRIDE_REVIEWED,
};
use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use futures::StreamExt;
use serde::{Deserialize, Serialize};

use crate::layout::{classify, CheckpointObject, EventObject, KeyKind, KioskManifest};
use crate::{Remote, SyncConfig, SyncError};

/// A bucket opened for reading.
#[derive(Debug, Clone)]
pub struct Fleet {
    pub(crate) remote: Remote,
    pub(crate) prefix: String,
}

/// One event as found in the bucket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FleetEvent {
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
    /// Body.
    pub body: serde_json::Value,
    /// Hex row hash.
    pub hash: String,
}

impl FleetEvent {
    pub(crate) fn from_object(kiosk: &str, e: EventObject) -> FleetEvent {
        FleetEvent {
            kiosk: kiosk.into(),
            seq: e.seq,
            ts_ms: e.ts_ms,
            body: serde_json::from_str(&e.body_json).unwrap_or(serde_json::Value::Null),
            kind: e.kind,
            index: e.index,
            hash: e.hash,
        }
    }
}

/// A kiosk's verification from the bucket alone.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KioskReport {
    /// Kiosk id.
    pub kiosk: String,
    /// Hex public key from `kiosk.json`.
    pub public_key: Option<String>,
    /// Event objects.
    pub events: u64,
    /// Highest contiguous verified seq.
    pub verified_through: u64,
    /// Its hash.
    pub head_hash: Option<String>,
    /// Checkpoint objects.
    pub checkpoints: u64,
    /// Blob objects.
    pub blobs: u64,
    /// Everything wrong, first problem first.
    pub problems: Vec<String>,
}

impl KioskReport {
    /// No problem found.
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }
}

pub(crate) struct Loaded {
    pub(crate) report: KioskReport,
    pub(crate) events: Vec<EventObject>,
}

fn verify_sig(pk: &VerifyingKey, msg: &[u8], sig_hex: &str) -> bool {
    let Ok(sig) = hex::decode(sig_hex) else {
        return false;
    };
    let Ok(sig) = Signature::from_slice(&sig) else {
        return false;
    };
    pk.verify(msg, &sig).is_ok()
}

impl Fleet {
    /// Open the bucket of `cfg` for reading (the prefix of `cfg` applies).
    pub fn open(cfg: &SyncConfig) -> Result<Fleet, SyncError> {
        Ok(Fleet {
            remote: Remote::open(cfg)?,
            prefix: cfg.prefix.clone(),
        })
    }

    /// Kiosk ids in the bucket.
    pub async fn list_kiosks(&self) -> Result<Vec<String>, SyncError> {
        self.remote.list_dirs(&self.prefix).await
    }

    pub(crate) async fn load(&self, kiosk: &str) -> Result<Loaded, SyncError> {
        let root = format!("{}{kiosk}/", self.prefix);
        let mut rep = KioskReport {
            kiosk: kiosk.into(),
            ..Default::default()
        };
        let listed = self.remote.list(&root).await?;
        let mut event_keys: BTreeMap<u64, Vec<(String, String)>> = BTreeMap::new();
        let mut cp_keys = Vec::new();
        let mut blob_shas = BTreeSet::new();
        let mut has_manifest = false;
        for m in &listed {
            let key = m.location.to_string();
            let rel = key.strip_prefix(&root).unwrap_or(&key).to_string();
            match classify(&rel) {
                KeyKind::Manifest => has_manifest = true,
                KeyKind::Event(seq, h) => event_keys.entry(seq).or_default().push((key, h)),
                KeyKind::Checkpoint(n) => cp_keys.push((n, key)),
                KeyKind::Blob(sha) => {
                    blob_shas.insert(sha);
                }
                KeyKind::Other => rep.problems.push(format!("unexpected object {key}")),
            }
        }
        rep.blobs = blob_shas.len() as u64;
        let pk = if has_manifest {
            let (_, b) = self
                .remote
                .get_bytes(&format!("{root}kiosk.json"), None)
                .await?;
            match serde_json::from_slice::<KioskManifest>(&b) {
                Ok(m) if m.kiosk == kiosk => {
                    rep.public_key = Some(m.public_key.clone());
                    hex::decode(&m.public_key)
                        .ok()
                        .and_then(|v| <[u8; 32]>::try_from(v.as_slice()).ok())
                        .and_then(|a| VerifyingKey::from_bytes(&a).ok())
                }
                _ => None,
            }
        } else {
            None
        };
        if pk.is_none() {
            rep.problems.push(format!(
                "{root}kiosk.json missing or invalid: signatures cannot be checked"
            ));
        }
        // Fetch every event object (16 in flight).
        let keys: Vec<(u64, String, String)> = event_keys
            .iter()
            .flat_map(|(s, v)| v.iter().map(move |(k, h)| (*s, k.clone(), h.clone())))
            .collect();
        for (s, v) in &event_keys {
            if v.len() > 1 {
                rep.problems.push(format!(
                    "seq {s}: {} different event objects (fork)",
                    v.len()
                ));
            }
        }
        rep.events = keys.len() as u64;
        let remote = self.remote.clone();
        let fetched: Vec<(u64, String, String, Result<bytes::Bytes, SyncError>)> =
            futures::stream::iter(keys.into_iter().map(|(s, k, h)| {
                let remote = remote.clone();
                async move {
                    let r = remote.get_bytes(&k, None).await.map(|(_, b)| b);
                    (s, k, h, r)
                }
            }))
            .buffered(16)
            .collect()
            .await;
        let mut events = Vec::new();
        let mut prev_hash = "00".repeat(32);
        let mut expect_seq = 1u64;
        let mut chain_ok = true;
        for (seq, key, key_hash, got) in fetched {
            let bytes = got?;
            let ev: EventObject = match serde_json::from_slice(&bytes) {
                Ok(e) => e,
                Err(e) => {
                    rep.problems
                        .push(format!("{key}: not an event object ({e})"));
                    chain_ok = false;
                    continue;
                }
            };
            let mut bad = Vec::new();
            if ev.seq != seq || ev.hash != key_hash || ev.kiosk != kiosk {
                bad.push("content does not match its key");
            }
            let prev = hex::decode(&ev.prev_hash).unwrap_or_default();
            let h = row_hash(ev.seq, ev.ts_ms, &ev.kind, &ev.index, &ev.body_json, &prev);
            if hex::encode(h) != ev.hash {
                bad.push("row hash does not recompute (altered)");
            }
            if let Some(pk) = &pk {
                if !verify_sig(pk, &h, &ev.sig) {
                    bad.push("bad signature");
                }
            }
            if chain_ok {
                if seq != expect_seq {
                    rep.problems.push(format!(
                        "events {expect_seq}..{} missing",
                        seq.saturating_sub(1)
                    ));
                    chain_ok = false;
                } else if ev.prev_hash != prev_hash {
                    bad.push("does not link to the previous event");
                }
            }
            if !bad.is_empty() {
                rep.problems
                    .push(format!("seq {seq} ({key}): {}", bad.join(", ")));
                chain_ok = false;
            }
            if chain_ok {
                rep.verified_through = seq;
                rep.head_hash = Some(ev.hash.clone());
                prev_hash = ev.hash.clone();
                expect_seq = seq + 1;
            }
            events.push(ev);
        }
        // The first event names the key the kiosk was initialised with.
        if let (Some(first), Some(pk_hex)) = (events.first(), rep.public_key.clone()) {
            if first.seq == 1 && first.kind == "kiosk.initialized" {
                let named = serde_json::from_str::<serde_json::Value>(&first.body_json)
                    .ok()
                    .and_then(|b| b.get("public_key")?.as_str().map(str::to_string));
                if named.is_some_and(|n| n != pk_hex) {
                    rep.problems.push(
                        "kiosk.json's public key differs from the one in kiosk.initialized (seq 1)"
                            .into(),
                    );
                }
            }
        }
        // Checkpoints.
        cp_keys.sort();
        rep.checkpoints = cp_keys.len() as u64;
        let by_seq: BTreeMap<u64, &EventObject> = events.iter().map(|e| (e.seq, e)).collect();
        let mut next_first = 1u64;
        for (n, key) in cp_keys {
            let (_, b) = self.remote.get_bytes(&key, None).await?;
            let Ok(co) = serde_json::from_slice::<CheckpointObject>(&b) else {
                rep.problems.push(format!("{key}: not a checkpoint object"));
                continue;
            };
            let c = &co.checkpoint;
            let root_bytes = hex::decode(&c.root_hash_hex).unwrap_or_default();
            let msg = checkpoint_message(
                c.n,
                c.first_seq,
                c.last_seq,
                c.tree_size,
                &root_bytes,
                c.ts_ms,
            );
            if c.n != n || co.kiosk != kiosk {
                rep.problems
                    .push(format!("{key}: content does not match its key"));
            }
            if let Some(pk) = &pk {
                if !verify_sig(pk, &msg, &c.sig_hex) {
                    rep.problems.push(format!("checkpoint {n}: bad signature"));
                }
            }
            if c.first_seq != next_first {
                rep.problems.push(format!(
                    "checkpoint {n} starts at {} (expected {next_first})",
                    c.first_seq
                ));
            }
            next_first = c.last_seq + 1;
            let leaves: Option<Vec<Vec<u8>>> = (c.first_seq..=c.last_seq)
                .map(|s| by_seq.get(&s).and_then(|e| hex::decode(&e.hash).ok()))
                .collect();
            match leaves {
                Some(l) if hex::encode(merkle_root(&l)) == c.root_hash_hex => {}
                Some(_) => rep.problems.push(format!(
                    "checkpoint {n}: Merkle root does not match the events"
                )),
                None => rep.problems.push(format!(
                    "checkpoint {n}: events {}..{} not all in the bucket",
                    c.first_seq, c.last_seq
                )),
            }
        }
        // Blobs referenced by events.
        let purged: HashSet<String> = events
            .iter()
            .filter(|e| e.kind == KIND_BLOB_PURGED)
            .filter_map(|e| body_sha(&e.body_json))
            .collect();
        let mut referenced = HashSet::new();
        for e in events.iter().filter(|e| e.kind == KIND_BLOB_SEALED) {
            if let Some(sha) = body_sha(&e.body_json) {
                if !blob_shas.contains(&sha) && !purged.contains(&sha) {
                    rep.problems
                        .push(format!("blob {sha} (sealed at seq {}) missing", e.seq));
                }
                referenced.insert(sha);
            }
        }
        for sha in &blob_shas {
            if !referenced.contains(sha) {
                rep.problems
                    .push(format!("blob {sha} is referenced by no event"));
            }
        }
        Ok(Loaded {
            report: rep,
            events,
        })
    }

    /// Verify one kiosk from its objects alone.
    pub async fn verify_kiosk(&self, kiosk: &str) -> Result<KioskReport, SyncError> {
        Ok(self.load(kiosk).await?.report)
    }

    /// Events of the given kiosks (all when empty) matching `filter`, by
    /// kiosk then seq. Rows that failed verification are still listed; run
    /// [`Fleet::verify_kiosk`] to know whether to trust them.
    pub async fn log(
        &self,
        kiosks: &[String],
        filter: &Filter,
    ) -> Result<Vec<FleetEvent>, SyncError> {
        let ks = if kiosks.is_empty() {
            self.list_kiosks().await?
        } else {
            kiosks.to_vec()
        };
        let mut out = Vec::new();
        for k in ks {
            let loaded = self.load(&k).await?;
            let reviewed = reviewed_cases(&loaded.events);
            for e in loaded.events {
                if matches(filter, e.ts_ms, &e.kind, &e.index, &reviewed) {
                    out.push(FleetEvent::from_object(&k, e));
                }
            }
        }
        Ok(out)
    }
}

fn body_sha(body_json: &str) -> Option<String> {
    serde_json::from_str::<serde_json::Value>(body_json)
        .ok()?
        .get("sha256")?
        .as_str()
        .map(str::to_string)
}

/// Case ids that have a review, among one kiosk's events.
pub(crate) fn reviewed_cases(events: &[EventObject]) -> HashSet<String> {
    events
        .iter()
        .filter(|e| e.kind == KIND_OVERRIDE_REVIEWED)
        .filter_map(|e| e.index.case_id.clone())
        .collect()
}

/// The local log's [`Filter`] applied to one event of a kiosk whose
/// reviewed cases are `reviewed`.
pub(crate) fn matches(
    f: &Filter,
    ts_ms: i64,
    kind: &str,
    index: &EventIndex,
    reviewed: &HashSet<String>,
) -> bool {
    let eq = |want: &Option<String>, have: &Option<String>| want.is_none() || want == have;
    f.from_ms.is_none_or(|v| ts_ms >= v)
        && f.to_ms.is_none_or(|v| ts_ms < v)
        && (f.kinds.is_empty() || f.kinds.iter().any(|k| k == kind))
        && eq(&f.person, &index.person)
        && eq(&f.supervisor, &index.supervisor)
        && eq(&f.outcome, &index.outcome)
        && eq(&f.trigger, &index.trigger)
        && eq(&f.case_id, &index.case_id)
        && (!f.pending_review
            || (kind == KIND_OVERRIDE_GRANTED
                && !index.case_id.as_ref().is_some_and(|c| reviewed.contains(c))))
}
