//! Issue 14 item 3: a kiosk whose disk died is rebuilt from the bucket and
//! its key backup, verifies everything, and carries on with no fork.
//! `countersign keys backup` is an admin's act with two factors, recorded.
//! Real binary, real SQLite files, real photos, a real SeaweedFS.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use countersign_sync::testkit::{Weed, TEST_KEY, TEST_SECRET};
use serde_json::Value;

use crate::helpers::*;

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

/// A real SeaweedFS with a locked bucket; the sync config is written both
/// in the data dir (for `sync run`) and beside it (what the operator keeps
/// for a restore). Returns the server and the outside copy's path.
fn bucket(cs: &Cs) -> (Weed, PathBuf) {
    let weed = Weed::start(&cs.root().join("weed"));
    weed.create_locked_bucket("evidence", 1);
    let text = format!(
        "endpoint = \"{}\"\nbucket = \"evidence\"\nallow_http = true\naccess_key_id = \"{TEST_KEY}\"\nsecret_access_key = \"{TEST_SECRET}\"\n",
        weed.endpoint()
    );
    let outside = cs.root().join("sync.toml");
    for p in [cs.data.join("sync.toml"), outside.clone()] {
        std::fs::write(&p, &text).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    (weed, outside)
}

/// Event objects in the bucket as (seq, key), asserting no seq has two.
fn remote_events(weed: &Weed) -> Vec<(u64, String)> {
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
        assert_ne!(w[0].0, w[1].0, "a fork in the bucket: {w:?}");
    }
    v
}

fn fx(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../matcher/tests/fixtures")
        .join(name)
        .display()
        .to_string()
}

/// Witnessed face enrollment from real photos: sealed blobs (template and
/// captures) in the ledger.
fn enroll_olga(cs: &Cs) {
    let files = format!("{},{}", fx("obama.jpg"), fx("obama3.jpg"));
    let code = cs.fresh_code(SAM);
    expect_ok(
        &cs.run_env(
            &[
                "enroll",
                "olga",
                "--witness",
                "sam",
                "--otp",
                &code,
                "--replay",
                &files,
                "--captures",
                "2",
                "--replay-fps",
                "0",
            ],
            &[("COUNTERSIGN_SECRET", SAM.pass)],
        ),
        "enroll olga",
    );
}

/// A policy with a checkpoint every 8 events, applied by ada.
fn checkpoint_often(cs: &Cs) {
    let text = std::fs::read_to_string(cs.data.join("policy.toml")).unwrap();
    assert!(text.contains("checkpoint_every = 256"));
    let new = cs.root().join("often.toml");
    std::fs::write(
        &new,
        text.replace("checkpoint_every = 256", "checkpoint_every = 8"),
    )
    .unwrap();
    cs.admin_ok(&["policy", "apply", new.to_str().unwrap()], &[]);
}

fn backup(cs: &Cs, dir: &Path) -> String {
    cs.admin_ok(&["keys", "backup", dir.to_str().unwrap()], &[])
}

const NEW_PASS: &str = "ada-after-the-restore";

fn restore(cs: &Cs, keys: &Path, cfg: &Path) -> std::process::Output {
    cs.run_env(
        &[
            "restore",
            "--from-bucket",
            "--keys",
            keys.to_str().unwrap(),
            "--config",
            cfg.to_str().unwrap(),
            "--admin",
            "ada",
            "--reason",
            "disk died",
        ],
        &[("COUNTERSIGN_SECRET", NEW_PASS)],
    )
}

fn fleet_clean(cs: &Cs, cfg: &Path) {
    let out = cs.ok(&[
        "--json",
        "fleet",
        "verify",
        "--config",
        cfg.to_str().unwrap(),
    ]);
    for line in out.lines() {
        let r: Value = serde_json::from_str(line).unwrap();
        assert_eq!(r["problems"], serde_json::json!([]), "fleet verify: {r}");
    }
}

fn count_kind(events: &[Value], kind: &str) -> usize {
    events.iter().filter(|e| e["kind"] == kind).count()
}

#[test]
fn keys_backup_is_an_admin_act_recorded_private_and_never_overwrites() {
    let cs = Cs::demo();
    let dir = cs.root().join("backup");
    let d = dir.to_str().unwrap();

    // Not without an admin's two factors: a wrong code and a supervisor are
    // refused, and nothing is written.
    let o = cs.run_env(
        &[
            "keys",
            "backup",
            d,
            "--by",
            "ada",
            "--otp",
            &wrong_totp(ADA.totp),
        ],
        &[("COUNTERSIGN_SECRET", ADA.pass)],
    );
    assert!(stderr(&o).starts_with("error[auth."), "{}", stderr(&o));
    let o = cs.run_env(
        &["keys", "backup", d, "--by", "sam", "--otp", &totp(SAM.totp)],
        &[("COUNTERSIGN_SECRET", SAM.pass)],
    );
    assert!(!o.status.success(), "{}", stderr(&o));
    assert!(!dir.exists(), "a refused backup writes nothing");

    let out = backup(&cs, &dir);
    assert!(
        out.contains("offline") && out.contains("not on the kiosk"),
        "{out}"
    );
    assert_eq!(mode(&dir), 0o700);
    for f in ["kiosk.ed25519", "data.key", "kiosk.pub"] {
        assert_eq!(mode(&dir.join(f)), 0o600, "{f}");
        assert_eq!(
            std::fs::read(dir.join(f)).unwrap(),
            std::fs::read(cs.data.join("keys").join(f)).unwrap(),
            "{f} is the kiosk's"
        );
    }
    assert_eq!(mode(&dir.join("kiosk.json")), 0o600);
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(dir.join("kiosk.json")).unwrap()).unwrap();
    let ev = cs
        .events()
        .into_iter()
        .find(|e| e["kind"] == "keys.backed_up")
        .expect("the export is recorded");
    assert_eq!(ev["body"]["by"], "ada");
    assert_eq!(ev["body"]["kiosk_id"], manifest["kiosk_id"]);
    assert_eq!(ev["body"]["public_key"], manifest["public_key"]);
    cs.verify_ok();

    // Never overwritten, and never inside the data dir (it would die with it).
    let before = std::fs::read(dir.join("data.key")).unwrap();
    let o = cs.admin_run(ADA, &["keys", "backup", d], &[]);
    expect_error(
        &o,
        "keys.backup_exists",
        "a second backup into the same dir",
    );
    assert_eq!(std::fs::read(dir.join("data.key")).unwrap(), before);
    let inside = cs.data.join("backup");
    let o = cs.admin_run(ADA, &["keys", "backup", inside.to_str().unwrap()], &[]);
    expect_error(&o, "input.invalid", "a backup inside the data dir");
    assert!(!inside.exists());
}

#[test]
fn a_kiosk_whose_disk_died_is_restored_from_the_bucket_and_carries_on() {
    let cs = Cs::demo();
    let (weed, cfg) = bucket(&cs);
    checkpoint_often(&cs);
    enroll_olga(&cs);
    let sid = cs.stepup_to_fallback("otto");
    let code = cs.fresh_code(SAM);
    expect_ok(&cs.grant(&sid, SAM, &code, "5m"), "grant");
    cs.stepup_to_fallback("olga");
    // The API has run once: relying apps hold a pin of its key and TLS
    // certificate, which the backup carries so the pin survives a restore.
    let pin = |name: &str| -> Value {
        let p = cs.root().join(name);
        cs.ok(&["api", "pin", "--out", p.to_str().unwrap()]);
        serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
    };
    let pin_before = pin("pin-before.json");
    let keys = cs.root().join("backup");
    backup(&cs, &keys);
    assert_eq!(mode(&keys.join("api-tls.pem")), 0o600);
    cs.ok(&["sync", "run", "--once"]);
    let before = cs.events();
    let head = before.len();
    assert!(
        count_kind(&before, "blob.sealed") >= 2,
        "sealed blobs to restore"
    );
    let cps: Value = serde_json::from_str(&cs.ok(&["--json", "log", "verify"])).unwrap();
    assert!(cps["checkpoints"].as_u64().unwrap() >= 1, "{cps}");
    let synced = remote_events(&weed);
    assert_eq!(synced.len(), head);

    // The disk dies: the data dir and the state dir (the local anchor) are gone.
    std::fs::remove_dir_all(&cs.data).unwrap();
    std::fs::remove_dir_all(&cs.state).unwrap();

    let out = expect_ok(&restore(&cs, &keys, &cfg), "restore");
    assert!(out.contains(&format!("{head} events")), "{out}");
    let new_totp = out
        .lines()
        .find_map(|l| l.trim().strip_prefix("secret: "))
        .unwrap_or_else(|| panic!("ada's new TOTP secret is printed once: {out}"))
        .to_string();
    cs.verify_ok();
    cs.ok(&["anchor", "status"]);
    cs.ok(&["status"]);
    // The history is the bucket's, event for event.
    let after = cs.events();
    assert_eq!(
        &after[..head],
        &before[..],
        "the restored events are the originals"
    );
    let restored = after
        .iter()
        .find(|e| e["kind"] == "kiosk.restored")
        .expect("the restore is recorded");
    assert_eq!(restored["body"]["restored_head"]["seq"], head as u64);
    assert_eq!(restored["body"]["admin"], "ada");
    // The sealed samples came back and open under the restored data key:
    // `log verify` opened every blob; modes are private.
    assert_eq!(mode(&cs.data.join("keys/data.key")), 0o600);
    assert_eq!(mode(&cs.data.join("api-tls.pem")), 0o600);
    assert_eq!(
        pin("pin-after.json"),
        pin_before,
        "the relying apps' pin holds"
    );
    assert_eq!(mode(&cs.data), 0o700);

    // Credentials are not in the chain (only their keyed digest): the
    // restore cleared them, recorded, and gave ada new ones.
    let o = cs.grant(
        &cs.stepup_to_fallback("otto"),
        SAM,
        &cs.fresh_code(SAM),
        "5m",
    );
    assert!(!o.status.success(), "sam's old credentials are gone");
    let ada = Person {
        id: "ada",
        pass: NEW_PASS,
        totp: Box::leak(new_totp.into_boxed_str()),
    };
    let o = cs.admin_run(
        ada,
        &["people", "credentials", "sam"],
        &[("COUNTERSIGN_NEW_SECRET", "sam-new-pass")],
    );
    expect_ok(&o, "ada re-issues sam's credentials");

    // Another step-up, synced on the same chain: no fork, everything clean.
    cs.stepup_to_fallback("olga");
    cs.ok(&["sync", "run", "--once"]);
    let now = remote_events(&weed);
    assert_eq!(
        &now[..synced.len()],
        &synced[..],
        "the old objects are untouched"
    );
    assert_eq!(now.len() as u64, cs.verify_ok());
    cs.ok(&["sync", "verify"]);
    cs.ok(&["sync", "status"]);
    fleet_clean(&cs, &cfg);
}

#[test]
fn restore_refuses_a_used_dir_foreign_keys_and_a_broken_bucket() {
    let cs = Cs::demo();
    let (weed, cfg) = bucket(&cs);
    cs.stepup_to_fallback("olga");
    let keys = cs.root().join("backup");
    backup(&cs, &keys);
    cs.ok(&["sync", "run", "--once"]);

    // A target that is not empty: refused, untouched.
    let o = restore(&cs, &keys, &cfg);
    expect_error(&o, "restore.target_not_empty", "restore over a data dir");
    cs.verify_ok();
    std::fs::remove_dir_all(&cs.data).unwrap();
    std::fs::remove_dir_all(&cs.state).unwrap();

    // Another kiosk's keys: refused.
    let other = Cs::demo();
    let other_keys = other.root().join("backup");
    backup(&other, &other_keys);
    let o = restore(&cs, &other_keys, &cfg);
    let e = expect_error(&o, "restore.key_mismatch", "another kiosk's backup");
    assert!(e.contains("not in the bucket"), "{e}");
    // This kiosk's signing key with another data key: the sealed blobs and
    // credentials would be lost, so refused too (the manifest says which
    // kiosk; the data key is checked against the data key's own digest).
    let mixed = cs.root().join("mixed");
    copy_dir(&keys, &mixed);
    std::fs::copy(other_keys.join("data.key"), mixed.join("data.key")).unwrap();
    let o = restore(&cs, &mixed, &cfg);
    expect_error(&o, "restore.key_mismatch", "a data key from another kiosk");
    assert!(!cs.data.exists(), "a refused restore leaves nothing behind");
    // A backup others can read is not trusted; an --admin who is not one is refused.
    let loose = cs.root().join("loose");
    copy_dir(&keys, &loose);
    std::fs::set_permissions(
        loose.join("data.key"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    expect_error(
        &restore(&cs, &loose, &cfg),
        "restore.keys_invalid",
        "a 0644 data.key",
    );
    let o = cs.run_env(
        &[
            "restore",
            "--from-bucket",
            "--keys",
            keys.to_str().unwrap(),
            "--config",
            cfg.to_str().unwrap(),
            "--admin",
            "sam",
        ],
        &[("COUNTERSIGN_SECRET", NEW_PASS)],
    );
    expect_error(&o, "restore.admin_invalid", "a supervisor as --admin");
    assert!(!cs.data.exists(), "a refused restore leaves nothing behind");
    assert_eq!(
        std::fs::read_dir(cs.root())
            .unwrap()
            .filter(|e| e
                .as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .contains(".restore-"))
            .count(),
        0,
        "no staging dir left behind"
    );

    // A gap, then a fork, put into the bucket behind the kiosk's back.
    let ev = remote_events(&weed);
    let (last_seq, last_key) = ev.last().unwrap().clone();
    let (_, body) = weed.curl("GET", &format!("/evidence/{last_key}"), &[], None);
    let prefix = &last_key[..last_key.find("/events/").unwrap()];
    let mut obj: Value = serde_json::from_str(&body).unwrap();
    obj["seq"] = (last_seq + 2).into();
    let gap_key = format!(
        "{prefix}/events/{:012}-{}.json",
        last_seq + 2,
        "a".repeat(64)
    );
    let (c, b) = weed.curl(
        "PUT",
        &format!("/evidence/{gap_key}"),
        &[],
        Some(obj.to_string().as_bytes()),
    );
    assert_eq!(c, 200, "{b}");
    let o = restore(&cs, &keys, &cfg);
    let e = expect_error(&o, "restore.bucket_gap", "a bucket with a gap");
    assert!(e.contains(&format!("{}", last_seq + 1)), "{e}");
    let fork_key = format!("{prefix}/events/{last_seq:012}-{}.json", "b".repeat(64));
    let (c, b) = weed.curl(
        "PUT",
        &format!("/evidence/{fork_key}"),
        &[],
        Some(body.as_bytes()),
    );
    assert_eq!(c, 200, "{b}");
    let o = restore(&cs, &keys, &cfg);
    let e = expect_error(&o, "restore.bucket_fork", "a bucket with a fork");
    assert!(e.contains(&format!("seq {last_seq}")), "{e}");
    assert!(!cs.data.exists(), "a refused restore leaves nothing behind");
}

fn cp_a(from: &Path, to: &Path) {
    let st = std::process::Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .status()
        .unwrap();
    assert!(st.success());
}

#[test]
fn a_kiosk_rolled_back_with_its_state_dir_is_restored_from_the_bucket() {
    let cs = Cs::demo();
    let (weed, cfg) = bucket(&cs);
    cs.stepup_to_fallback("olga");
    let keys = cs.root().join("backup");
    backup(&cs, &keys);
    cs.ok(&["sync", "run", "--once"]);
    let (old_data, old_state) = (cs.root().join("old-data"), cs.root().join("old-state"));
    cp_a(&cs.data, &old_data);
    cp_a(&cs.state, &old_state);
    cs.stepup_to_fallback("otto");
    cs.ok(&["sync", "run", "--once"]);
    let synced = remote_events(&weed);

    // The whole machine rolled back; the kiosk signs on the old chain until
    // its sync pass meets the bucket and raises the alarm.
    std::fs::remove_dir_all(&cs.data).unwrap();
    std::fs::remove_dir_all(&cs.state).unwrap();
    cp_a(&old_data, &cs.data);
    cp_a(&old_state, &cs.state);
    cs.stepup_to_fallback("olga");
    cs.fails(&["sync", "run", "--once"], "anchor.remote_fork");
    assert_eq!(remote_events(&weed), synced);

    // What to do: keep the forked dir for the investigation, restore from
    // the bucket. The restore records the alarm it answers and clears it.
    std::fs::rename(&cs.data, cs.root().join("forked")).unwrap();
    expect_ok(&restore(&cs, &keys, &cfg), "restore after a fork");
    let ev = cs
        .events()
        .into_iter()
        .find(|e| e["kind"] == "kiosk.restored")
        .unwrap();
    assert_eq!(ev["body"]["alarm"]["code"], "anchor.remote_fork", "{ev}");
    assert_eq!(ev["body"]["restored_head"]["seq"], synced.last().unwrap().0);
    assert!(
        ev["body"]["previous_anchor"]["seq"].as_u64().is_some(),
        "{ev}"
    );
    cs.verify_ok();
    cs.ok(&["anchor", "status"]);
    cs.stepup_to_fallback("olga");
    cs.ok(&["sync", "run", "--once"]);
    let now = remote_events(&weed);
    assert_eq!(&now[..synced.len()], &synced[..]);
    cs.ok(&["sync", "status"]);
    fleet_clean(&cs, &cfg);
}
