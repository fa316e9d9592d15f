//! `countersign sync verify`: the bucket against the local chain.

use std::collections::{BTreeMap, HashMap};

use countersign_ledger::{SyncKind, SyncedObject};
use futures::StreamExt;
use serde::{Deserialize, Serialize};

use crate::layout::sha256_hex;
use crate::{SyncError, Syncer};

/// Result of comparing the bucket with the local ledger.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteReport {
    /// Kiosk id.
    pub kiosk: String,
    /// Objects the local ledger expects remotely (uploaded or queued).
    pub expected: u64,
    /// Objects found under the kiosk's prefix.
    pub remote_objects: u64,
    /// Present with the right content.
    pub ok: u64,
    /// Queued locally and not uploaded yet (normal while offline).
    pub not_yet_uploaded: u64,
    /// Present and right but not yet recorded locally (an upload whose answer
    /// was lost; the next pass records it).
    pub unrecorded: u64,
    /// Recorded as uploaded but absent from the bucket.
    pub missing: Vec<String>,
    /// In the bucket but matching no local evidence.
    pub extra: Vec<String>,
    /// Present with different content (or a newer version on top of ours).
    pub altered: Vec<String>,
}

impl RemoteReport {
    /// No missing, extra or altered object.
    pub fn is_clean(&self) -> bool {
        self.missing.is_empty() && self.extra.is_empty() && self.altered.is_empty()
    }
}

struct Expect {
    sha: String,
    record: Option<SyncedObject>,
}

/// Compare every object under the kiosk's prefix with the local ledger.
/// Recorded objects are read by their version id; the latest version's ETag
/// (from the listing) must still be ours.
pub async fn verify_remote(s: &Syncer) -> Result<RemoteReport, SyncError> {
    let layout = s.layout().clone();
    let mut expect: BTreeMap<String, Expect> = BTreeMap::new();
    {
        let l = s
            .ledger()
            .lock()
            .map_err(|_| SyncError::Remote("ledger lock poisoned".into()))?;
        let records: HashMap<(SyncKind, String), SyncedObject> = l
            .sync_objects()?
            .into_iter()
            .map(|o| ((o.kind, o.id.clone()), o))
            .collect();
        let rec = |k: SyncKind, id: &str| records.get(&(k, id.to_string())).cloned();
        expect.insert(
            layout.manifest(),
            Expect {
                sha: sha256_hex(&layout.manifest_bytes(&l.keys().verifying_key_hex())),
                record: rec(SyncKind::Manifest, "kiosk"),
            },
        );
        let mut from = 1u64;
        loop {
            let evs = l.raw_events(from, 2048)?;
            let Some(last) = evs.last() else { break };
            from = last.seq + 1;
            for e in &evs {
                expect.insert(
                    layout.event(e.seq, &e.hash_hex),
                    Expect {
                        sha: sha256_hex(&layout.event_bytes(e)),
                        record: rec(SyncKind::Event, &e.seq.to_string()),
                    },
                );
            }
        }
        for c in l.checkpoints()? {
            expect.insert(
                layout.checkpoint(c.n),
                Expect {
                    sha: sha256_hex(&layout.checkpoint_bytes(&c)),
                    record: rec(SyncKind::Checkpoint, &c.n.to_string()),
                },
            );
        }
        for o in records.values().filter(|o| o.kind == SyncKind::Blob) {
            expect.insert(
                o.object_key.clone(),
                Expect {
                    sha: o.content_sha256_hex.clone(),
                    record: Some(o.clone()),
                },
            );
        }
        for b in l.sync_pending_blobs(0, u32::MAX)? {
            expect.insert(
                layout.blob(&b.sha256_hex),
                Expect {
                    sha: sha256_hex(&b.sealed),
                    record: None,
                },
            );
        }
    }
    let listed = s.remote().list(&layout.root).await?;
    let mut rep = RemoteReport {
        kiosk: layout.kiosk.clone(),
        expected: expect.len() as u64,
        remote_objects: listed.len() as u64,
        ..Default::default()
    };
    let listed: BTreeMap<String, object_store::ObjectMeta> = listed
        .into_iter()
        .map(|m| (m.location.to_string(), m))
        .collect();
    for k in listed.keys() {
        if !expect.contains_key(k) {
            rep.extra.push(k.clone());
        }
    }
    let mut to_read = Vec::new();
    for (k, e) in &expect {
        match listed.get(k) {
            None if e.record.is_some() => rep.missing.push(k.clone()),
            None => rep.not_yet_uploaded += 1,
            Some(m) => to_read.push((k.clone(), e, m.e_tag.clone())),
        }
    }
    let remote = s.remote().clone();
    let results: Vec<(String, Result<String, SyncError>, bool, bool)> =
        futures::stream::iter(to_read.into_iter().map(|(k, e, listed_etag)| {
            let remote = remote.clone();
            async move {
                let version = e.record.as_ref().and_then(|r| r.version.clone());
                let got = remote
                    .get_bytes(&k, version.as_deref())
                    .await
                    .map(|(_, b)| sha256_hex(&b));
                let ok = matches!(&got, Ok(h) if *h == e.sha);
                // A newer version stacked on ours (overwrite through the API).
                let stacked = match (e.record.as_ref().and_then(|r| r.e_tag.clone()), listed_etag) {
                    (Some(a), Some(b)) => a.trim_matches('"') != b.trim_matches('"'),
                    _ => false,
                };
                (k, got, ok && !stacked, e.record.is_none())
            }
        }))
        .buffered(16)
        .collect()
        .await;
    for (k, got, ok, unrecorded) in results {
        match got {
            Err(SyncError::NotFound(_)) => rep.missing.push(k),
            Err(e) => return Err(e),
            Ok(_) if ok => {
                rep.ok += 1;
                rep.unrecorded += unrecorded as u64;
            }
            Ok(_) => rep.altered.push(k),
        }
    }
    Ok(rep)
}
