//! Tampering with the ledger file behind the CLI's back, like an attacker
//! with write access would: `log verify` names the first bad row.

use std::path::Path;

use crate::helpers::*;

/// A short journey: fallback, grant, use. Returns the data dir.
fn journey() -> Cs {
    let cs = Cs::demo();
    let sid = cs.stepup_to_fallback("olga");
    cs.grant_ok(&sid, SAM, "5m");
    cs.verify_ok();
    cs
}

/// A copy of the data dir, with the append-only triggers dropped.
fn attacker_copy(cs: &Cs, name: &str) -> (Cs, rusqlite::Connection) {
    let dst = cs.root().join(name);
    copy_dir(&cs.data, &dst);
    let conn = rusqlite::Connection::open(dst.join("ledger.db")).unwrap();
    let triggers: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(
        triggers.iter().any(|t| t == "events_no_update"),
        "the ledger guards its events with triggers: {triggers:?}"
    );
    for t in &triggers {
        conn.execute_batch(&format!("DROP TRIGGER {t}")).unwrap();
    }
    (Cs::at(&dst), conn)
}

fn seq_of(conn: &rusqlite::Connection, kind: &str) -> i64 {
    conn.query_row("SELECT seq FROM events WHERE kind = ?1", [kind], |r| {
        r.get(0)
    })
    .unwrap()
}

fn verify_fails_at(cs: &Cs, seq: i64) -> String {
    let o = cs.run(&["log", "verify"]);
    assert!(!o.status.success(), "verify must fail on a tampered ledger");
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(err.starts_with("error[ledger.verify_failed]: "), "{err}");
    assert!(
        err.contains(&format!("FAILED at seq {seq}:")),
        "names seq {seq} as the first bad row: {err}"
    );
    err
}

fn assert_exists(p: &Path) {
    assert!(p.exists(), "{} exists", p.display());
}

#[test]
fn editing_an_event_body_is_detected_at_its_seq() {
    let cs = journey();
    let (copy, conn) = attacker_copy(&cs, "edited");
    let seq = seq_of(&conn, "override.granted");
    let n = conn
        .execute(
            "UPDATE events SET body = replace(body, 'SENSOR_FAULT', 'ENVIRONMENT') WHERE seq = ?1",
            [seq],
        )
        .unwrap();
    assert_eq!(n, 1);
    drop(conn);
    verify_fails_at(&copy, seq);
    // The original is untouched and still verifies.
    assert_exists(&cs.data);
    cs.verify_ok();
}

#[test]
fn deleting_a_middle_event_is_detected_at_the_gap() {
    let cs = journey();
    let (copy, conn) = attacker_copy(&cs, "deleted");
    let seq = seq_of(&conn, "supervisor.auth");
    let last: i64 = conn
        .query_row("SELECT max(seq) FROM events", [], |r| r.get(0))
        .unwrap();
    assert!(seq < last, "a middle event");
    conn.execute("DELETE FROM events WHERE seq = ?1", [seq])
        .unwrap();
    drop(conn);
    verify_fails_at(&copy, seq);
    cs.verify_ok();
}
