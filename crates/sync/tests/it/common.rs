use std::collections::{BTreeMap, BTreeSet};

use countersign_core::policy::SyncPolicy;
use countersign_ledger::{EventIndex, Keys, Ledger, NewEvent};
use countersign_sync::testkit::{Weed, TEST_KEY, TEST_SECRET};
use countersign_sync::{verify_remote, SyncConfig, Syncer};

pub fn rounds(default: u32) -> u32 {
    std::env::var("COUNTERSIGN_SYNC_FAULT_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The policy's `[sync]` section the test kiosks run under.
pub const POLICY: SyncPolicy = SyncPolicy {
    unsynced_alert_minutes: 60,
};

pub struct Kiosk {
    pub dir: tempfile::TempDir,
    pub id: String,
}

impl Kiosk {
    pub fn new(id: &str) -> Kiosk {
        let dir = tempfile::tempdir().unwrap();
        Keys::generate(&dir.path().join("keys")).unwrap();
        Kiosk { dir, id: id.into() }
    }
    pub fn db(&self) -> std::path::PathBuf {
        self.dir.path().join("ledger.db")
    }
    pub fn keys_dir(&self) -> std::path::PathBuf {
        self.dir.path().join("keys")
    }
    pub fn ledger(&self) -> Ledger {
        Ledger::open(&self.db(), Keys::load(&self.keys_dir()).unwrap()).unwrap()
    }
    pub fn syncer(
        &self,
        endpoint: &str,
        bucket: &str,
        tweak: impl FnOnce(&mut SyncConfig),
    ) -> Syncer {
        let mut cfg = SyncConfig::for_endpoint(endpoint, bucket, TEST_KEY, TEST_SECRET);
        cfg.backoff_min_ms = 20;
        cfg.backoff_max_ms = 500;
        cfg.request_timeout_secs = 5;
        tweak(&mut cfg);
        Syncer::new(self.ledger(), &self.id, cfg, &POLICY).unwrap()
    }
}

pub fn event(i: u64, person: &str) -> NewEvent {
    NewEvent {
        ts_ms: 1_700_000_000_000 + i as i64,
        kind: if i.is_multiple_of(7) {
            "override.granted"
        } else {
            "stepup.match"
        }
        .into(),
        index: EventIndex {
            person: Some(person.into()),
            outcome: Some(
                if i.is_multiple_of(2) {
                    "success"
                } else {
                    "failure"
                }
                .into(),
            ),
            case_id: i.is_multiple_of(7).then(|| format!("case-{i}")),
            ..Default::default()
        },
        body: serde_json::json!({"i": i, "score": 0.25 + i as f64 / 1000.0, "note": "é✓"}),
    }
}

/// Append `n` events (in batches), a blob every 50 and a checkpoint at the end.
pub fn fill(l: &mut Ledger, n: u64, person: &str) {
    let start = l.head().unwrap().map(|h| h.seq).unwrap_or(0);
    let evs: Vec<NewEvent> = (start + 1..=start + n).map(|i| event(i, person)).collect();
    for (k, chunk) in evs.chunks(100).enumerate() {
        l.append_batch(chunk).unwrap();
        let blob: Vec<u8> = (0..2048u32)
            .map(|b| (b as u8) ^ (k as u8))
            .chain(person.bytes())
            .collect();
        l.put_blob(&blob, "image/png", 1_700_000_000_000, EventIndex::default())
            .unwrap();
    }
    l.checkpoint(1_700_000_100_000).unwrap();
}

/// Every local event, blob and checkpoint is in the bucket exactly once
/// (one version per key, no other key), and `sync verify` is clean.
pub async fn assert_exactly_once(weed: &Weed, bucket: &str, k: &Kiosk, s: &Syncer) {
    let dups = exactly_once(weed, bucket, k, s).await;
    assert_eq!(dups, 0, "keys with more than one version");
}

/// Like [`assert_exactly_once`], but a key may hold extra versions if they
/// are byte-identical to ours (SeaweedFS killed in the middle of a
/// create-only PUT can accept the retry as a second version); returns how
/// many such keys there are.
pub async fn exactly_once(weed: &Weed, bucket: &str, k: &Kiosk, s: &Syncer) -> usize {
    let versions = weed.object_versions(bucket, &format!("{}/", k.id));
    let mut per_key: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (key, v) in &versions {
        per_key.entry(key.clone()).or_default().push(v.clone());
    }
    let mut dups = 0;
    for (key, vs) in per_key.iter().filter(|(_, v)| v.len() > 1) {
        dups += 1;
        let shas: BTreeSet<String> = futures::future::join_all(vs.iter().map(|v| async {
            let (_, b) = s.remote().get_bytes(key, Some(v)).await.unwrap();
            countersign_sync::layout::sha256_hex(&b)
        }))
        .await
        .into_iter()
        .collect();
        assert_eq!(
            shas.len(),
            1,
            "{key}: versions with different content {vs:?}"
        );
        eprintln!(
            "{key}: {} byte-identical versions (server crash during a create-only PUT)",
            vs.len()
        );
    }
    let l = k.ledger();
    let head = l.head().unwrap().unwrap().seq;
    let expected: BTreeSet<String> = s
        .ledger()
        .lock()
        .unwrap()
        .sync_objects()
        .unwrap()
        .into_iter()
        .map(|o| o.object_key)
        .collect();
    let events = per_key.keys().filter(|k| k.contains("/events/")).count() as u64;
    assert_eq!(events, head, "every event remote exactly once");
    let remote: BTreeSet<String> = per_key.keys().cloned().collect();
    assert_eq!(remote, expected, "remote keys = recorded keys");
    let b = l.sync_backlog().unwrap();
    assert_eq!(
        (b.events_pending, b.blobs_pending, b.checkpoints_pending),
        (0, 0, 0)
    );
    let rep = verify_remote(s).await.unwrap();
    assert!(
        rep.is_clean() && rep.not_yet_uploaded == 0 && rep.unrecorded == 0,
        "{rep:?}"
    );
    assert_eq!(rep.ok, rep.expected);
    // Every record carries the server's version id.
    assert!(s
        .ledger()
        .lock()
        .unwrap()
        .sync_objects()
        .unwrap()
        .iter()
        .all(|o| o.version.is_some()));
    dups
}
