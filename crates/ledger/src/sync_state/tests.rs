//! Unit tests of the sync outbox (in-memory ledger).
use super::*;
use crate::{EventIndex, Keys, Ledger, NewEvent};

fn ev(i: i64) -> NewEvent {
    NewEvent {
        ts_ms: 1_000 + i,
        kind: "test.event".into(),
        index: EventIndex::default(),
        body: serde_json::json!({"i": i, "z": 1.5, "a": [1, 2]}),
    }
}

fn obj(kind: SyncKind, id: &str) -> SyncedObject {
    SyncedObject {
        kind,
        id: id.into(),
        object_key: format!("k/{}/{id}", kind.as_str()),
        content_sha256_hex: "00".repeat(32),
        version: Some("v1".into()),
        e_tag: None,
        uploaded_ms: 5,
    }
}

#[test]
fn everything_appended_is_pending_until_recorded_and_records_are_write_once() {
    let mut l = Ledger::open_in_memory(Keys::for_tests()).unwrap();
    let b = l.sync_backlog().unwrap();
    assert_eq!(b.events_pending, 0);
    assert_eq!(b.oldest_pending_seq, None);
    for i in 0..5 {
        l.append(&ev(i)).unwrap();
    }
    let blob = l
        .put_blob(b"sample", "image/png", 2_000, EventIndex::default())
        .unwrap();
    l.checkpoint(3_000).unwrap().unwrap();
    let b = l.sync_backlog().unwrap();
    assert_eq!(b.events_pending, 6);
    assert_eq!(b.oldest_pending_seq, Some(1));
    assert_eq!(b.oldest_pending_ts_ms, Some(1_000));
    assert_eq!(b.checkpoints_pending, 1);
    assert_eq!(b.blobs_pending, 1);
    assert!(!b.manifest_synced);

    // Raw events carry the exact hashed body text.
    let raw = l.sync_pending_events(0, 100).unwrap();
    assert_eq!(raw.len(), 6);
    let r = &raw[0];
    let idx = r.index.clone();
    let prev = hex::decode(&r.prev_hash_hex).unwrap();
    assert_eq!(
        hex::encode(crate::row_hash(
            r.seq,
            r.ts_ms,
            &r.kind,
            &idx,
            &r.body_json,
            &prev
        )),
        r.hash_hex
    );
    let sealed = l.sync_pending_blobs(0, 10).unwrap();
    assert_eq!(sealed.len(), 1);
    assert_eq!(sealed[0].sha256_hex, blob.sha256_hex);
    assert_eq!(sealed[0].sealed.len(), 24 + 6 + 16);
    assert!(!format!("{:?}", sealed[0]).contains("sealed: ["));

    // Record 1, 2 and 4 (out of order completion): 3 stays the oldest pending.
    l.sync_record(&[
        obj(SyncKind::Event, "1"),
        obj(SyncKind::Event, "2"),
        obj(SyncKind::Event, "4"),
    ])
    .unwrap();
    let pend: Vec<u64> = l
        .sync_pending_events(0, 100)
        .unwrap()
        .iter()
        .map(|e| e.seq)
        .collect();
    assert_eq!(pend, vec![3, 5, 6]);
    assert_eq!(l.sync_backlog().unwrap().oldest_pending_seq, Some(3));
    // Idempotent for the same content, refused for different content.
    l.sync_record(&[obj(SyncKind::Event, "1")]).unwrap();
    let mut bad = obj(SyncKind::Event, "1");
    bad.content_sha256_hex = "11".repeat(32);
    assert!(matches!(
        l.sync_record(&[bad]),
        Err(LedgerError::Corrupt(_))
    ));
    assert!(l.conn.execute("DELETE FROM sync_objects", []).is_err());
    assert!(l
        .conn
        .execute("UPDATE sync_objects SET version = 'x'", [])
        .is_err());

    l.sync_record(&[
        obj(SyncKind::Blob, &blob.sha256_hex),
        obj(SyncKind::Checkpoint, "1"),
        obj(SyncKind::Manifest, "kiosk"),
    ])
    .unwrap();
    let b = l.sync_backlog().unwrap();
    assert_eq!((b.events_pending, b.events_synced), (3, 3));
    assert_eq!((b.checkpoints_pending, b.blobs_pending), (0, 0));
    assert!(b.manifest_synced);
    assert_eq!(l.sync_objects().unwrap().len(), 6);
    assert_eq!(
        l.sync_object(SyncKind::Event, "2")
            .unwrap()
            .unwrap()
            .version,
        Some("v1".into())
    );
}

#[test]
fn status_row_keeps_each_field() {
    let mut l = Ledger::open_in_memory(Keys::for_tests()).unwrap();
    assert_eq!(l.sync_status().unwrap(), SyncStatusRow::default());
    l.sync_note(Some(10), None, Some(("offline", 10))).unwrap();
    l.sync_note(Some(20), Some(21), None).unwrap();
    let s = l.sync_status().unwrap();
    assert_eq!(s.last_attempt_ms, Some(20));
    assert_eq!(s.last_success_ms, Some(21));
    assert_eq!(s.last_error.as_deref(), Some("offline"));
    assert_eq!(s.last_error_ms, Some(10));
}

#[test]
fn blob_purged_before_upload_is_counted_not_uploaded() {
    let mut l = Ledger::open_in_memory(Keys::for_tests()).unwrap();
    l.put_blob(b"x", "image/png", 1, EventIndex::default())
        .unwrap();
    l.purge_blobs(10, 20, "retention").unwrap();
    let b = l.sync_backlog().unwrap();
    assert_eq!((b.blobs_pending, b.blobs_purged_unsynced), (0, 1));
    assert!(l.sync_pending_blobs(0, 10).unwrap().is_empty());
}
