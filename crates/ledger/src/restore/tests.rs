//! `Ledger::restore_rows` on in-memory ledgers: a round trip with
//! checkpoints, sealed and purged blobs, then each thing it must refuse.

use crate::tests::{ev, ledger};
use crate::{EventIndex, Keys, Ledger, LedgerError, RestoreRows};

/// A ledger with events, two blobs (one purged after it was copied out),
/// a checkpoint; and its copy as the bucket would hold it.
fn source() -> (Ledger, RestoreRows) {
    let mut l = ledger();
    l.append(&ev(10, "stepup.requested", Some("alice"), None, None))
        .unwrap();
    l.put_blob(b"sample a", "image/png", 20, EventIndex::default())
        .unwrap();
    l.put_blob(b"sample b", "image/png", 30, EventIndex::default())
        .unwrap();
    l.checkpoint(31).unwrap();
    // Both blobs reached the bucket before a was purged by retention.
    let blobs = l
        .sync_pending_blobs(0, 100)
        .unwrap()
        .into_iter()
        .map(|b| (b.sha256_hex, b.sealed))
        .collect();
    assert_eq!(l.purge_blobs(25, 40, "retention").unwrap(), 1);
    l.append(&ev(
        50,
        "override.granted",
        Some("alice"),
        Some("granted"),
        Some("c1"),
    ))
    .unwrap();
    let rows = RestoreRows {
        events: l.raw_events(1, 1000).unwrap(),
        checkpoints: l.checkpoints().unwrap(),
        blobs,
        synced: vec![],
    };
    (l, rows)
}

fn fresh(keys: &Keys) -> Ledger {
    Ledger::open_in_memory(keys.clone()).unwrap()
}

#[test]
fn a_restored_ledger_is_the_original_row_for_row() {
    let (l, rows) = source();
    let mut r = fresh(l.keys());
    let s = r.restore_rows(&rows).unwrap();
    // requested, two blob.sealed, blob.purged, granted.
    assert_eq!(s.events, l.head().unwrap().unwrap().seq);
    assert_eq!(
        (s.events, s.checkpoints, s.blobs, s.purged_blobs),
        (5, 1, 2, 1)
    );
    assert!(r.verify().unwrap().ok(), "{:?}", r.verify().unwrap());
    assert_eq!(
        r.raw_events(1, 1000).unwrap(),
        l.raw_events(1, 1000).unwrap()
    );
    assert_eq!(r.head().unwrap(), l.head().unwrap());
    assert_eq!(r.checkpoints().unwrap(), l.checkpoints().unwrap());
    let b = crate::blobs::sha256(b"sample b");
    assert_eq!(r.get_blob(&hex::encode(b)).unwrap(), b"sample b");
    let a = hex::encode(crate::blobs::sha256(b"sample a"));
    assert!(matches!(r.get_blob(&a), Err(LedgerError::Purged { .. })));
    // It carries on: the next append links to the restored head.
    r.append(&ev(60, "stepup.requested", Some("bob"), None, None))
        .unwrap();
    assert!(r.verify().unwrap().ok());
    // Only into an empty ledger.
    assert!(matches!(
        r.restore_rows(&rows),
        Err(LedgerError::Invalid(_))
    ));
}

#[test]
fn a_blob_purged_before_it_was_uploaded_keeps_its_hash_and_metadata() {
    let (l, mut rows) = source();
    let a = hex::encode(crate::blobs::sha256(b"sample a"));
    rows.blobs.retain(|(s, _)| *s != a);
    let mut r = fresh(l.keys());
    r.restore_rows(&rows).unwrap();
    assert!(r.verify().unwrap().ok(), "{:?}", r.verify().unwrap());
    // An unpurged blob missing from the copy is refused.
    let (l, mut rows) = source();
    let b = hex::encode(crate::blobs::sha256(b"sample b"));
    rows.blobs.retain(|(s, _)| *s != b);
    let e = fresh(l.keys()).restore_rows(&rows).unwrap_err();
    assert!(e.to_string().contains("missing"), "{e}");
}

/// Refused, and the ledger stays empty.
fn refused(keys: &Keys, rows: &RestoreRows) -> LedgerError {
    let mut r = fresh(keys);
    let e = r.restore_rows(rows).unwrap_err();
    assert!(r.head().unwrap().is_none(), "nothing written on {e}");
    e
}

#[test]
fn altered_missing_or_foreign_rows_are_refused() {
    let (l, rows) = source();
    let k = l.keys();
    let mut x = rows.clone();
    x.events[1].body_json = x.events[1].body_json.replace("image/png", "image/gif");
    let e = refused(k, &x);
    assert!(
        matches!(&e, LedgerError::Corrupt(m) if m.contains("event 2")),
        "{e}"
    );
    let mut x = rows.clone();
    x.events.remove(2);
    let e = refused(k, &x);
    assert!(
        matches!(&e, LedgerError::Corrupt(m) if m.contains("expected event 3")),
        "{e}"
    );
    let mut x = rows.clone();
    x.checkpoints[0].root_hash_hex = "00".repeat(32);
    let e = refused(k, &x);
    assert!(
        matches!(&e, LedgerError::Corrupt(m) if m.contains("checkpoint 1")),
        "{e}"
    );
    let mut x = rows.clone();
    x.blobs.push(("ab".repeat(32), vec![0; 40]));
    let e = refused(k, &x);
    assert!(
        matches!(&e, LedgerError::Corrupt(m) if m.contains("referenced by no event")),
        "{e}"
    );
    // Another kiosk's key: the first signature fails.
    let e = refused(&Keys::for_tests(), &rows);
    assert!(
        matches!(&e, LedgerError::Corrupt(m) if m.contains("signature")),
        "{e}"
    );
    // This kiosk's signing key with another data key: the blobs do not open.
    let other = Keys {
        signing: k.signing.clone(),
        data_key: [7u8; 32],
    };
    let e = refused(&other, &rows);
    assert!(
        matches!(&e, LedgerError::Key(m) if m.contains("does not open")),
        "{e}"
    );
}
