//! Each test tampers with a real ledger file through a raw SQLite connection
//! and checks that verify names the first bad seq and the right kind.

use countersign_ledger::{row_hash, EventIndex, ProblemKind, VerifyReport};
use ed25519_dalek::Signer;

use crate::common::{event, raw, Fixture};

const N: u64 = 12;
const BLOB_SEQ: u64 = 7;

/// Events 1..=6, checkpoint over them, blob sealed at 7, events 8..=12.
fn fixture() -> (Fixture, String) {
    let fx = Fixture::new();
    let mut l = fx.open();
    for i in 1..=6 {
        l.append(&event(i)).unwrap();
    }
    l.checkpoint(10_000).unwrap().unwrap();
    let b = l
        .put_blob(
            b"fingerprint image",
            "image/png",
            1007,
            EventIndex::default(),
        )
        .unwrap();
    assert_eq!(b.sealed.seq, BLOB_SEQ);
    for i in 8..=N {
        l.append(&event(i)).unwrap();
    }
    let rep = l.verify().unwrap();
    assert!(rep.ok(), "fresh ledger must verify: {:?}", rep.problems);
    (fx, b.sha256_hex)
}

fn verify(fx: &Fixture) -> VerifyReport {
    fx.open().verify().unwrap()
}

fn assert_first(rep: &VerifyReport, seq: u64, what: ProblemKind) {
    let p = rep
        .first_problem()
        .unwrap_or_else(|| panic!("tampering not detected: {rep:?}"));
    assert_eq!(
        (p.seq, p.what),
        (Some(seq), what),
        "first problem was {p:?}; all: {:?}",
        rep.problems
    );
}

#[test]
fn untouched_file_verifies_and_triggers_block_naive_edits() {
    let (fx, _) = fixture();
    let c = rusqlite::Connection::open(&fx.db).unwrap();
    assert!(c
        .execute("UPDATE events SET body = '{}' WHERE seq = 3", [])
        .is_err());
    assert!(c.execute("DELETE FROM events WHERE seq = 12", []).is_err());
    assert!(c.execute("DELETE FROM blobs", []).is_err());
    drop(c);
    let rep = verify(&fx);
    assert!(rep.ok(), "{:?}", rep.problems);
    assert_eq!(
        (rep.events, rep.checkpoints, rep.blobs, rep.head_seq),
        (N, 1, 1, Some(N))
    );
}

#[test]
fn modified_body_is_named() {
    let (fx, _) = fixture();
    raw(&fx.db)
        .execute(
            "UPDATE events SET body = '{\"i\":5,\"note\":\"edited\"}' WHERE seq = 5",
            [],
        )
        .unwrap();
    let rep = verify(&fx);
    assert_first(&rep, 5, ProblemKind::Modified);
    assert_eq!(rep.problems.len(), 1, "{:?}", rep.problems);
}

#[test]
fn modified_index_column_is_named() {
    let (fx, _) = fixture();
    raw(&fx.db)
        .execute("UPDATE events SET person = 'mallory' WHERE seq = 9", [])
        .unwrap();
    assert_first(&verify(&fx), 9, ProblemKind::Modified);
}

#[test]
fn rehashed_modification_shows_as_bad_signature_and_bad_checkpoint() {
    let (fx, _) = fixture();
    let c = raw(&fx.db);
    let prev: Vec<u8> = c
        .query_row("SELECT prev_hash FROM events WHERE seq = 3", [], |r| {
            r.get(0)
        })
        .unwrap();
    let mut e = event(3);
    e.index.outcome = Some("failure".into());
    let body = serde_json::to_string(&e.body).unwrap();
    let h = row_hash(3, e.ts_ms, &e.kind, &e.index, &body, &prev);
    c.execute(
        "UPDATE events SET outcome = 'failure', hash = ?1 WHERE seq = 3",
        [&h[..]],
    )
    .unwrap();
    let rep = verify(&fx);
    assert_first(&rep, 3, ProblemKind::BadSignature);
    assert!(
        rep.problems
            .iter()
            .any(|p| p.what == ProblemKind::BadCheckpoint),
        "{:?}",
        rep.problems
    );
}

#[test]
fn deleted_middle_row_is_named() {
    let (fx, _) = fixture();
    raw(&fx.db)
        .execute("DELETE FROM events WHERE seq = 4", [])
        .unwrap();
    let rep = verify(&fx);
    assert_first(&rep, 4, ProblemKind::Deleted);
}

#[test]
fn deleted_last_row_is_named() {
    let (fx, _) = fixture();
    raw(&fx.db)
        .execute("DELETE FROM events WHERE seq = ?1", [N])
        .unwrap();
    let rep = verify(&fx);
    assert_first(&rep, N, ProblemKind::Deleted);
}

#[test]
fn forged_row_inserted_in_the_middle_is_named() {
    let (fx, _) = fixture();
    let c = raw(&fx.db);
    // Make room at seq 9 by shifting 9..=N up by one, as a forger must.
    c.execute_batch("UPDATE events SET seq = -seq WHERE seq >= 9; UPDATE events SET seq = 1 - seq WHERE seq < 0;")
        .unwrap();
    let prev: Vec<u8> = c
        .query_row("SELECT hash FROM events WHERE seq = 8", [], |r| r.get(0))
        .unwrap();
    let e = event(99);
    let body = serde_json::to_string(&e.body).unwrap();
    let h = row_hash(9, e.ts_ms, &e.kind, &e.index, &body, &prev);
    let forger = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
    let sig = forger.sign(&h).to_bytes();
    c.execute(
        "INSERT INTO events (seq, ts_ms, kind, person, outcome, body, prev_hash, hash, sig) VALUES (9, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        rusqlite::params![e.ts_ms, e.kind, e.index.person, e.index.outcome, body, prev, &h[..], &sig[..]],
    )
    .unwrap();
    assert_first(&verify(&fx), 9, ProblemKind::Inserted);
}

#[test]
fn forged_row_appended_after_head_is_named() {
    let (fx, _) = fixture();
    let c = raw(&fx.db);
    let prev: Vec<u8> = c
        .query_row("SELECT hash FROM events WHERE seq = ?1", [N], |r| r.get(0))
        .unwrap();
    c.execute(
        "INSERT INTO events (seq, ts_ms, kind, body, prev_hash, hash, sig) VALUES (?1, 5, 'override.reviewed', '{}', ?2, ?3, ?4)",
        rusqlite::params![N + 1, prev, vec![7u8; 32], vec![7u8; 64]],
    )
    .unwrap();
    assert_first(&verify(&fx), N + 1, ProblemKind::Inserted);
}

#[test]
fn swapped_rows_are_named_as_reordered() {
    let (fx, _) = fixture();
    let c = raw(&fx.db);
    let cols =
        "ts_ms, kind, person, supervisor, outcome, trig, case_id, body, prev_hash, hash, sig";
    c.execute_batch(&format!(
        "CREATE TEMP TABLE t AS SELECT seq, {cols} FROM events WHERE seq IN (3, 10);
         UPDATE events SET ({cols}) = (SELECT {cols} FROM t WHERE t.seq = 10) WHERE seq = 3;
         UPDATE events SET ({cols}) = (SELECT {cols} FROM t WHERE t.seq = 3) WHERE seq = 10;"
    ))
    .unwrap();
    let rep = verify(&fx);
    assert_first(&rep, 3, ProblemKind::Reordered);
    assert!(
        rep.problems
            .iter()
            .any(|p| p.seq == Some(10) && p.what == ProblemKind::Reordered),
        "{:?}",
        rep.problems
    );
}

#[test]
fn corrupted_signature_is_named() {
    let (fx, _) = fixture();
    raw(&fx.db)
        .execute("UPDATE events SET sig = zeroblob(64) WHERE seq = 11", [])
        .unwrap();
    assert_first(&verify(&fx), 11, ProblemKind::BadSignature);
}

#[test]
fn modified_blob_ciphertext_is_named() {
    let (fx, sha) = fixture();
    let c = raw(&fx.db);
    let mut ct: Vec<u8> = c
        .query_row("SELECT ciphertext FROM blobs", [], |r| r.get(0))
        .unwrap();
    ct[0] ^= 1;
    c.execute("UPDATE blobs SET ciphertext = ?1", [ct]).unwrap();
    let rep = verify(&fx);
    assert_first(&rep, BLOB_SEQ, ProblemKind::BlobTampered);
    assert!(matches!(
        fx.open().get_blob(&sha),
        Err(countersign_ledger::LedgerError::Corrupt(_))
    ));
}

#[test]
fn deleted_blob_row_is_named() {
    let (fx, _) = fixture();
    raw(&fx.db).execute("DELETE FROM blobs", []).unwrap();
    assert_first(&verify(&fx), BLOB_SEQ, ProblemKind::BlobMissing);
}

#[test]
fn blob_ciphertext_dropped_without_purge_event_is_named() {
    let (fx, _) = fixture();
    raw(&fx.db)
        .execute(
            "UPDATE blobs SET ciphertext = NULL, purged_ms = 1, purged_seq = 3",
            [],
        )
        .unwrap();
    assert_first(&verify(&fx), BLOB_SEQ, ProblemKind::BlobTampered);
}

#[test]
fn tampered_checkpoint_is_named() {
    let (fx, _) = fixture();
    raw(&fx.db)
        .execute("UPDATE checkpoints SET root_hash = zeroblob(32)", [])
        .unwrap();
    let rep = verify(&fx);
    assert_first(&rep, 1, ProblemKind::BadCheckpoint);
}

#[test]
fn ledger_opened_with_another_key_reports_bad_signatures() {
    let (fx, _) = fixture();
    let l =
        countersign_ledger::Ledger::open(&fx.db, countersign_ledger::Keys::for_tests()).unwrap();
    assert_first(&l.verify().unwrap(), 1, ProblemKind::BadSignature);
}
