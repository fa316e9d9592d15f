//! Issue 14 item 2: rollback is caught at the kiosk before it signs
//! anything new. Each attack below passes `log verify` (the ledger is
//! self-consistent); the local anchor, in the state dir outside the data
//! dir, is what catches it.

use std::path::Path;
use std::process::Command;

use crate::helpers::*;

/// The ledger's event count and head, read with the sqlite3 CLI.
fn sql(db: &Path, q: &str) -> String {
    let o = Command::new("sqlite3")
        .arg(db)
        .arg(q)
        .output()
        .expect("running sqlite3");
    assert!(
        o.status.success(),
        "sqlite3 {q}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

fn count(cs: &Cs) -> u64 {
    sql(&cs.data.join("ledger.db"), "SELECT COUNT(*) FROM events")
        .parse()
        .unwrap()
}

fn cp_a(from: &Path, to: &Path) {
    let st = Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .status()
        .unwrap();
    assert!(st.success());
}

/// A step-up that must be refused with `code`, signing nothing.
fn refused_and_nothing_signed(cs: &Cs, code: &str) -> String {
    let before = count(cs);
    let err = cs.fails(
        &[
            "stepup",
            "--operator",
            "olga",
            "--scope",
            SCOPE,
            "--test-scores",
            FIVE_FAILS,
        ],
        code,
    );
    assert_eq!(count(cs), before, "nothing new is signed after {code}");
    // Reads and investigation still work; `status` shows the refusal.
    cs.fails(&["status"], code);
    cs.fails(&["anchor", "status"], code);
    err
}

fn head_seq(cs: &Cs) -> u64 {
    let st: serde_json::Value =
        serde_json::from_str(&stdout(&cs.run(&["--json", "anchor", "status"]))).unwrap();
    st["ledger_head"]["seq"].as_u64().unwrap()
}

#[test]
fn an_older_copy_of_the_whole_data_dir_is_refused() {
    let cs = Cs::demo();
    cs.stepup_to_fallback("olga");
    let old = cs.root().join("old");
    cp_a(&cs.data, &old);
    let old_seq = head_seq(&cs);
    let sid = cs.stepup_to_fallback("otto");
    cs.grant_ok(&sid, SAM, "5m");
    let new_seq = head_seq(&cs);
    assert!(new_seq > old_seq);

    // Restore the old copy over the data dir.
    std::fs::remove_dir_all(&cs.data).unwrap();
    cp_a(&old, &cs.data);
    cs.verify_ok(); // self-consistent: the ledger alone cannot tell
    let err = refused_and_nothing_signed(&cs, "anchor.ledger_behind");
    assert!(
        err.contains(&format!("seq {old_seq}")) && err.contains(&format!("seq {new_seq}")),
        "the error names both heads: {err}"
    );
}

#[test]
fn a_tail_cut_with_the_old_chain_head_pasted_back_is_refused() {
    let cs = Cs::demo();
    cs.stepup_to_fallback("olga");
    let db = cs.data.join("ledger.db");
    let n: u64 = sql(&db, "SELECT seq FROM chain_head").parse().unwrap();
    let old_head = sql(&db, "SELECT hex(hash) || '|' || hex(sig) FROM chain_head");
    let sid = cs.stepup_to_fallback("otto");
    cs.grant_ok(&sid, SAM, "5m");
    let new_seq = head_seq(&cs);

    // With the sqlite3 CLI: drop the guards, cut the tail, paste the old head.
    let triggers = sql(
        &db,
        "SELECT group_concat(name, ' ') FROM sqlite_master WHERE type = 'trigger'",
    );
    let (hash, sig) = old_head.split_once('|').unwrap();
    let mut script = String::new();
    for t in triggers.split_whitespace() {
        script.push_str(&format!("DROP TRIGGER {t};"));
    }
    script.push_str(&format!(
        "DELETE FROM events WHERE seq > {n}; \
         UPDATE chain_head SET seq = {n}, hash = X'{hash}', sig = X'{sig}';"
    ));
    sql(&db, &script);
    assert_eq!(count(&cs), n);
    cs.verify_ok(); // self-consistent: the ledger alone cannot tell
    let err = refused_and_nothing_signed(&cs, "anchor.ledger_behind");
    assert!(
        err.contains(&format!("seq {n}")) && err.contains(&format!("seq {new_seq}")),
        "the error names both heads: {err}"
    );
}

#[test]
fn deleting_the_wal_under_an_open_connection_is_detected() {
    use std::io::{BufRead, Write};
    let cs = Cs::demo();
    let db = cs.data.join("ledger.db");
    // A second process holds the database open, as the app does, so the
    // CLI's writes stay in the WAL (the last connection to close folds it).
    let mut held = Command::new("sqlite3")
        .arg(&db)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = held.stdin.take().unwrap();
    let mut output = std::io::BufReader::new(held.stdout.take().unwrap());
    writeln!(
        input,
        "PRAGMA wal_autocheckpoint = 0; SELECT COUNT(*) FROM events;"
    )
    .unwrap();
    let mut line = String::new();
    output.read_line(&mut line).unwrap();
    let before: u64 = line.lines().last().unwrap().trim().parse().unwrap();
    let sid = cs.stepup_to_fallback("olga");
    cs.grant_ok(&sid, SAM, "5m");
    let after = head_seq(&cs);
    assert!(after > before);
    let wal = cs.data.join("ledger.db-wal");
    assert!(wal.exists(), "the new events are in the WAL");
    std::fs::remove_file(&wal).unwrap();
    // The holder goes away without folding the WAL back (a crash, a kill).
    held.kill().unwrap();
    held.wait().unwrap();
    let now: u64 = sql(&db, "SELECT COUNT(*) FROM events").parse().unwrap();
    assert!(now < after, "the WAL's events are gone ({now} < {after})");
    cs.verify_ok(); // self-consistent: the ledger alone cannot tell
    let err = refused_and_nothing_signed(&cs, "anchor.ledger_behind");
    assert!(err.contains(&format!("seq {after}")), "{err}");
}

#[test]
fn a_missing_anchor_refuses_writes_until_an_admin_reseeds_it_with_two_factors() {
    let cs = Cs::demo();
    cs.stepup_to_fallback("olga");
    let state = std::fs::read_dir(&cs.state)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    assert!(
        state.join("anchor.json").is_file(),
        "the anchor is in the state dir"
    );
    assert!(!cs.data.join("anchor.json").exists());
    std::fs::remove_file(state.join("anchor.json")).unwrap();
    refused_and_nothing_signed(&cs, "anchor.missing");

    // Not without both factors: a wrong code is refused (and recorded).
    let o = cs.run_env(
        &[
            "anchor",
            "reseed",
            "--by",
            "ada",
            "--otp",
            &wrong_totp(ADA.totp),
        ],
        &[("COUNTERSIGN_SECRET", ADA.pass)],
    );
    assert!(!o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).starts_with("error[auth."), "{}", stderr(&o));
    // A supervisor is not an admin.
    let o = cs.run_env(
        &["anchor", "reseed", "--by", "sam", "--otp", &totp(SAM.totp)],
        &[("COUNTERSIGN_SECRET", SAM.pass)],
    );
    assert!(!o.status.success(), "{}", stderr(&o));
    refused_and_nothing_signed(&cs, "anchor.missing");

    cs.admin_ok(
        &[
            "anchor",
            "reseed",
            "--reason",
            "state dir restored from scratch",
        ],
        &[],
    );
    cs.ok(&["anchor", "status"]);
    cs.stepup_to_fallback("olga");
    let ev = cs
        .events()
        .into_iter()
        .find(|e| e["kind"] == "anchor.reseeded")
        .expect("the re-seed is recorded");
    assert_eq!(ev["body"]["by"], "ada");
    assert_eq!(ev["body"]["problem"]["code"], "anchor.missing");
    cs.verify_ok();
    // Nothing left to re-seed.
    let o = cs.admin_run(ADA, &["anchor", "reseed"], &[]);
    assert!(
        stderr(&o).starts_with("error[input.invalid]"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn several_data_dirs_share_a_state_dir_and_a_restored_dir_can_be_reseeded() {
    let cs = Cs::demo();
    let other = Cs::at(&cs.root().join("other"));
    other.ok(&["init", "--demo"]);
    assert_eq!(
        std::fs::read_dir(&cs.state).unwrap().count(),
        2,
        "one anchor dir per kiosk"
    );
    cs.stepup_to_fallback("olga");
    other.stepup_to_fallback("olga");
    let old = cs.root().join("old");
    cp_a(&cs.data, &old);
    cs.stepup_to_fallback("olga");
    std::fs::remove_dir_all(&cs.data).unwrap();
    cp_a(&old, &cs.data);
    refused_and_nothing_signed(&cs, "anchor.ledger_behind");
    other.stepup_to_fallback("olga"); // the other kiosk is not affected
                                      // After investigation an admin may accept the older ledger: recorded.
    cs.admin_ok(
        &["anchor", "reseed", "--reason", "disk restored from backup"],
        &[],
    );
    cs.stepup_to_fallback("olga");
    let ev = cs
        .events()
        .into_iter()
        .find(|e| e["kind"] == "anchor.reseeded")
        .unwrap();
    assert_eq!(ev["body"]["problem"]["code"], "anchor.ledger_behind");
    assert!(
        ev["body"]["previous_anchor"]["seq"].as_u64().unwrap()
            > ev["body"]["ledger_head"]["seq"].as_u64().unwrap()
    );
}

/// A real SeaweedFS with a locked bucket, and `cs`'s sync.toml pointing at it.
fn bucket(cs: &Cs) -> countersign_sync::testkit::Weed {
    use countersign_sync::testkit::{Weed, TEST_KEY, TEST_SECRET};
    use std::os::unix::fs::PermissionsExt;
    let weed = Weed::start(&cs.root().join("weed"));
    weed.create_locked_bucket("evidence", 1);
    let p = cs.data.join("sync.toml");
    std::fs::write(
        &p,
        format!(
            "endpoint = \"{}\"\nbucket = \"evidence\"\nallow_http = true\naccess_key_id = \"{TEST_KEY}\"\nsecret_access_key = \"{TEST_SECRET}\"\n",
            weed.endpoint()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
    weed
}

/// The event objects in the bucket, as (seq, key); panics on a fork (two
/// objects for one seq).
fn remote_events(weed: &countersign_sync::testkit::Weed) -> Vec<(u64, String)> {
    let mut v: Vec<(u64, String)> = weed
        .object_versions("evidence", "")
        .into_iter()
        .filter(|(k, _)| k.contains("/events/"))
        .map(|(k, _)| {
            let name = k.rsplit('/').next().unwrap();
            (name[..12].parse().unwrap(), k)
        })
        .collect();
    v.sort();
    for w in v.windows(2) {
        assert_ne!(
            w[0].0, w[1].0,
            "a fork in the bucket: {} and {}",
            w[0].1, w[1].1
        );
    }
    v
}

/// The whole machine restored from an old backup: the data dir and the
/// state dir together, so the local anchor agrees with the old ledger.
fn restore_both(cs: &Cs, data: &Path, state: &Path) {
    std::fs::remove_dir_all(&cs.data).unwrap();
    std::fs::remove_dir_all(&cs.state).unwrap();
    cp_a(data, &cs.data);
    cp_a(state, &cs.state);
}

#[test]
fn rollback_then_sync_is_refused_alerts_and_the_bucket_gets_no_fork() {
    let cs = Cs::demo();
    let weed = bucket(&cs);
    cs.stepup_to_fallback("olga");
    cs.ok(&["sync", "run", "--once"]);
    let (old_data, old_state) = (cs.root().join("old-data"), cs.root().join("old-state"));
    cp_a(&cs.data, &old_data);
    cp_a(&cs.state, &old_state);
    let sid = cs.stepup_to_fallback("otto");
    cs.grant_ok(&sid, SAM, "5m");
    cs.ok(&["sync", "run", "--once"]);
    let synced = remote_events(&weed);
    let remote_head = synced.last().unwrap().0;

    // Only the data dir rolled back: the local anchor refuses, and sync
    // uploads nothing.
    std::fs::remove_dir_all(&cs.data).unwrap();
    cp_a(&old_data, &cs.data);
    refused_and_nothing_signed(&cs, "anchor.ledger_behind");
    cs.fails(&["sync", "run", "--once"], "anchor.ledger_behind");
    assert_eq!(remote_events(&weed), synced);

    // Data dir and state dir rolled back together: the kiosk cannot tell
    // locally, and signs a step-up on the old chain; the sync pass finds
    // the bucket on another branch, uploads nothing and raises the alarm.
    restore_both(&cs, &old_data, &old_state);
    cs.stepup_to_fallback("olga");
    let err = cs.fails(&["sync", "run", "--once"], "anchor.remote_fork");
    assert!(
        err.contains(&format!("bucket newest seq {remote_head}")),
        "{err}"
    );
    assert_eq!(remote_events(&weed), synced, "nothing of the fork went up");
    // From now on nothing new is signed, and status says why.
    refused_and_nothing_signed(&cs, "anchor.remote_fork");
    let o = cs.run(&["sync", "status"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).contains("ALERT [anchor.remote_fork]"),
        "{}",
        stdout(&o)
    );
    assert!(
        stderr(&o).starts_with("error[anchor.remote_fork]"),
        "{}",
        stderr(&o)
    );
    cs.fails(&["sync", "run", "--once"], "anchor.remote_fork");
    assert_eq!(remote_events(&weed), synced);
}

#[test]
fn a_restored_kiosk_checks_the_bucket_before_it_signs() {
    let cs = Cs::demo();
    let weed = bucket(&cs);
    cs.stepup_to_fallback("olga");
    cs.ok(&["sync", "run", "--once"]);
    let (old_data, old_state) = (cs.root().join("old-data"), cs.root().join("old-state"));
    cp_a(&cs.data, &old_data);
    cp_a(&cs.state, &old_state);
    cs.stepup_to_fallback("otto");
    cs.ok(&["sync", "run", "--once"]);
    let synced = remote_events(&weed);

    restore_both(&cs, &old_data, &old_state);
    // Sync starts first (as the app's does): the bucket is ahead.
    let err = cs.fails(&["sync", "run", "--once"], "anchor.remote_ahead");
    assert!(
        err.contains(&format!("bucket newest seq {}", synced.last().unwrap().0)),
        "{err}"
    );
    refused_and_nothing_signed(&cs, "anchor.remote_ahead");
    assert_eq!(remote_events(&weed), synced);

    // After investigation an admin clears it; the next pass raises it again
    // while the bucket holds the other branch (restoring from the bucket is
    // item 3): the re-seed's own events are now a fork of it.
    // A re-seed checks the bucket first and never accepts a ledger behind
    // it (restoring from the bucket is the way back, see restore.rs).
    let o = cs.admin_run(ADA, &["anchor", "reseed", "--reason", "investigating"], &[]);
    let e = expect_error(&o, "anchor.remote_ahead", "a re-seed behind the bucket");
    assert!(e.contains("restore --from-bucket"), "{e}");
    assert!(!cs.events().iter().any(|e| e["kind"] == "anchor.reseeded"));
    refused_and_nothing_signed(&cs, "anchor.remote_ahead");
    // After investigation an admin may skip that check (recorded).
    cs.admin_ok(
        &[
            "anchor",
            "reseed",
            "--reason",
            "investigating",
            "--no-bucket-check",
        ],
        &[],
    );
    cs.fails(&["sync", "run", "--once"], "anchor.remote_fork");
    refused_and_nothing_signed(&cs, "anchor.remote_fork");
    assert_eq!(remote_events(&weed), synced);
    let ev = cs
        .events()
        .into_iter()
        .find(|e| e["kind"] == "anchor.reseeded")
        .unwrap();
    assert_eq!(ev["body"]["alarm"]["code"], "anchor.remote_ahead");
    assert_eq!(ev["body"]["bucket"]["checked"], false);
}

#[test]
fn a_reseed_with_sync_configured_accepts_only_a_ledger_the_bucket_agrees_with() {
    let cs = Cs::demo();
    let weed = bucket(&cs);
    cs.stepup_to_fallback("olga");
    cs.ok(&["sync", "run", "--once"]);
    let synced = remote_events(&weed);
    let old = cs.root().join("old");
    cp_a(&cs.data, &old);
    cs.stepup_to_fallback("otto"); // never reaches the bucket

    // The data dir rolled back to a copy the bucket agrees with: the lost
    // events were never uploaded, so the bucket cannot bring them back.
    std::fs::remove_dir_all(&cs.data).unwrap();
    cp_a(&old, &cs.data);
    refused_and_nothing_signed(&cs, "anchor.ledger_behind");
    cs.admin_ok(
        &[
            "anchor",
            "reseed",
            "--reason",
            "otto's step-up lost with the disk",
        ],
        &[],
    );
    let ev = cs
        .events()
        .into_iter()
        .find(|e| e["kind"] == "anchor.reseeded")
        .unwrap();
    assert_eq!(ev["body"]["bucket"]["checked"], true);
    assert_eq!(
        ev["body"]["bucket"]["remote_seq"],
        synced.last().unwrap().0,
        "the bucket's head, checked: {ev}"
    );
    assert_eq!(ev["body"]["problem"]["code"], "anchor.ledger_behind");
    cs.stepup_to_fallback("olga");
    cs.ok(&["sync", "run", "--once"]);
    let now = remote_events(&weed); // no fork
    assert_eq!(&now[..synced.len()], &synced[..]);
    cs.ok(&["sync", "verify"]);
}

#[test]
fn a_state_dir_inside_the_data_dir_is_refused() {
    let cs = Cs::uninit();
    let inside = cs.data.join("state");
    let inside = inside.to_str().unwrap();
    let err = cs.fails(&["--state-dir", inside, "init", "--demo"], "input.invalid");
    assert!(err.contains("inside the data dir"), "{err}");
    assert!(!cs.data.exists(), "nothing was created");
    // An initialised dir is refused the same way at open.
    cs.ok(&["init", "--demo"]);
    cs.fails(&["--state-dir", inside, "status"], "input.invalid");
    cs.ok(&["status"]);
}
