use std::time::Duration;

use bytes::Bytes;
use countersign_ledger::SyncKind;
use countersign_sync::testkit::Weed;
use countersign_sync::{verify_remote, SyncError};
use object_store::path::Path as OPath;
use object_store::{ObjectStoreExt, PutPayload};

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_uploads_everything_once_with_version_ids_and_verifies() {
    let tmp = tempfile::tempdir().unwrap();
    let weed = Weed::start(tmp.path());
    weed.create_locked_bucket("evidence", 1);
    let k = Kiosk::new("kiosk-a");
    fill(&mut k.ledger(), 250, "olga");
    let s = k.syncer(&weed.endpoint(), "evidence", |_| {});
    let st = s.status().unwrap();
    assert_eq!(st.queued_events, 253); // 250 + 3 blob.sealed
    assert_eq!((st.queued_blobs, st.queued_checkpoints), (3, 1));
    let r = s.run_until_caught_up(3).await.unwrap();
    assert!(r.caught_up);
    assert_eq!(r.uploaded, 1 + 253 + 3 + 1);
    assert_eq!(r.adopted, 0);
    assert_exactly_once(&weed, "evidence", &k, &s).await;
    let st = s.status().unwrap();
    assert_eq!(
        (st.queued_events, st.queued_blobs, st.queued_checkpoints),
        (0, 0, 0)
    );
    assert!(st.last_success_ms.is_some() && !st.alert);
    // Nothing left: a second pass uploads nothing.
    assert_eq!(s.pass().await.unwrap().uploaded, 0);

    // Reads go by version id and return our bytes; blobs are sealed, never plaintext.
    let rec = s
        .ledger()
        .lock()
        .unwrap()
        .sync_objects()
        .unwrap()
        .into_iter()
        .find(|o| o.kind == SyncKind::Blob)
        .unwrap();
    let (_, bytes) = s
        .remote()
        .get_bytes(&rec.object_key, rec.version.as_deref())
        .await
        .unwrap();
    assert_eq!(
        countersign_sync::layout::sha256_hex(&bytes),
        rec.content_sha256_hex
    );
    assert!(!bytes
        .windows(64)
        .any(|w| w.iter().enumerate().all(|(i, b)| *b == (i as u8))));

    // New evidence later: only the new part goes.
    fill(&mut k.ledger(), 20, "otto");
    let r = s.run_until_caught_up(3).await.unwrap();
    assert_eq!(r.uploaded, 20 + 1 + 1 + 1);
    assert_exactly_once(&weed, "evidence", &k, &s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn locked_objects_cannot_be_deleted_or_overwritten_and_verify_sees_tampering() {
    let tmp = tempfile::tempdir().unwrap();
    let weed = Weed::start(tmp.path());
    weed.create_locked_bucket("locked", 1);
    let k = Kiosk::new("kiosk-l");
    fill(&mut k.ledger(), 30, "olga");
    let s = k.syncer(&weed.endpoint(), "locked", |_| {});
    s.run_until_caught_up(3).await.unwrap();
    let rec = s
        .ledger()
        .lock()
        .unwrap()
        .sync_object(SyncKind::Event, "5")
        .unwrap()
        .unwrap();
    let version = rec.version.clone().unwrap();

    // DELETE of the version through the S3 API: refused (COMPLIANCE).
    let (code, body) = weed.delete_version("locked", &rec.object_key, &version);
    assert!(
        code == 403 || code == 400,
        "delete of a locked version answered {code}: {body}"
    );
    // Create-only PUT of other bytes: refused, nothing overwritten.
    let err = s
        .remote()
        .put_create(&rec.object_key, Bytes::from_static(b"forged"))
        .await
        .unwrap_err();
    assert!(matches!(err, SyncError::Conflict { .. }), "{err}");
    // A plain overwrite only stacks a new version; ours stays, readable by id.
    s.remote()
        .put_store()
        .put(
            &OPath::from(rec.object_key.as_str()),
            PutPayload::from_static(b"{\"forged\":true}"),
        )
        .await
        .unwrap();
    let (_, ours) = s
        .remote()
        .get_bytes(&rec.object_key, Some(&version))
        .await
        .unwrap();
    assert_eq!(
        countersign_sync::layout::sha256_hex(&ours),
        rec.content_sha256_hex
    );
    let (code, _) = weed.delete_version("locked", &rec.object_key, &version);
    assert!(code == 403 || code == 400, "{code}");
    // A delete without version id only adds a marker; the version survives.
    s.remote()
        .put_store()
        .delete(&OPath::from(rec.object_key.as_str()))
        .await
        .unwrap();
    let (_, ours) = s
        .remote()
        .get_bytes(&rec.object_key, Some(&version))
        .await
        .unwrap();
    assert_eq!(
        countersign_sync::layout::sha256_hex(&ours),
        rec.content_sha256_hex
    );
    // An extra object under the kiosk's prefix.
    s.remote()
        .put_store()
        .put(
            &OPath::from("kiosk-l/events/000000000999-00.json"),
            PutPayload::from_static(b"x"),
        )
        .await
        .unwrap();

    let rep = verify_remote(&s).await.unwrap();
    assert!(!rep.is_clean());
    assert_eq!(
        rep.extra,
        vec!["kiosk-l/events/000000000999-00.json".to_string()]
    );
    // The deleted-with-marker key no longer lists: reported missing.
    assert_eq!(rep.missing, vec![rec.object_key.clone()], "{rep:?}");
    let _ = Duration::from_secs(0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_kiosk_queues_alerts_and_catches_up_by_itself() {
    let tmp = tempfile::tempdir().unwrap();
    let mut weed = Weed::start(tmp.path());
    weed.create_locked_bucket("evidence", 1);
    weed.kill(); // offline from the start
    let k = Kiosk::new("kiosk-off");
    let s = k.syncer(&weed.endpoint(), "evidence", |c| {
        c.poll_ms = 100;
        c.request_timeout_secs = 2;
    });
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let bg = {
        let s = s.clone();
        tokio::spawn(async move { s.run(stop_rx).await })
    };
    // Evidence keeps coming while offline (timestamps long past: alert).
    fill(&mut k.ledger(), 120, "olga");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let st = s.status().unwrap();
    assert_eq!(st.queued_events, 122);
    // The limit is the policy's (60 min); the events are years old.
    assert!(st.alert && st.alert_after_ms == 3_600_000, "{st:?}");
    assert!(
        st.last_error.is_some() && st.last_success_ms.is_none(),
        "{st:?}"
    );
    assert!(!st.last_error.as_deref().unwrap().contains("testsecret123"));
    // Back online: the background task catches up without help.
    let weed = tokio::task::spawn_blocking(move || {
        weed.restart();
        weed
    })
    .await
    .unwrap();
    let t0 = std::time::Instant::now();
    loop {
        let st = s.status().unwrap();
        if st.queued_events == 0 && st.queued_checkpoints == 0 && st.queued_blobs == 0 {
            assert!(!st.alert);
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "no catch-up: {st:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    stop_tx.send(true).unwrap();
    bg.await.unwrap();
    assert_exactly_once(&weed, "evidence", &k, &s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_disk_full_while_recording_is_recovered_without_duplicates() {
    let tmp = tempfile::tempdir().unwrap();
    let weed = Weed::start(tmp.path());
    weed.create_locked_bucket("evidence", 1);
    let k = Kiosk::new("kiosk-full");
    fill(&mut k.ledger(), 200, "olga");
    let s = k.syncer(&weed.endpoint(), "evidence", |_| {});
    // Freeze the ledger's size: uploads succeed, recording them fails.
    {
        let l = s.ledger().lock().unwrap();
        let pages = l.set_max_page_count(1).unwrap(); // clamped to the current size
        l.set_max_page_count(pages).unwrap();
    }
    let mut fulls = 0;
    for _ in 0..3 {
        match s.pass().await {
            Err(SyncError::Ledger(e)) => {
                assert!(e.to_string().contains("disk full"), "{e}");
                fulls += 1;
            }
            other => panic!("expected disk full, got {other:?}"),
        }
    }
    assert_eq!(fulls, 3);
    s.ledger()
        .lock()
        .unwrap()
        .set_max_page_count(1 << 30)
        .unwrap();
    let r = s.run_until_caught_up(3).await.unwrap();
    assert!(
        r.adopted > 0,
        "uploads done before the disk filled are adopted: {r:?}"
    );
    assert_exactly_once(&weed, "evidence", &k, &s).await;
}
