//! Upgrades never break a ledger: data dirs written by earlier releases,
//! committed under `tests/fixtures/upgrade/` (made by
//! `scripts/deb-upgrade-fixture.sh` with that release's binary), are opened
//! by this build. Every later schema or format change must keep this test
//! passing: a migration that rewrites or drops old evidence fails it.
//!
//! Each fixture holds a witnessed face enrollment (a sealed template and
//! sealed captures), a step-up that ended in the fallback, a supervisor's
//! grant and a reviewer's review, plus the kiosk's state dir (its local
//! anchor). `FIXTURE` names the last event the old build wrote.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::helpers::*;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/upgrade")
}

fn fx_photo(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../matcher/tests/fixtures")
        .join(name)
        .display()
        .to_string()
}

/// `key: value` lines of a fixture's `FIXTURE` file.
fn manifest(dir: &Path) -> BTreeMap<String, String> {
    std::fs::read_to_string(dir.join("FIXTURE"))
        .unwrap()
        .lines()
        .filter_map(|l| l.split_once(": "))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Git keeps no modes: the copy gets what `init` gives a data dir (0700
/// dirs, 0600 files), as an admin restoring one from a backup would.
fn private_modes(p: &Path) {
    let meta = std::fs::metadata(p).unwrap();
    let mode = if meta.is_dir() { 0o700 } else { 0o600 };
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
    if meta.is_dir() {
        for e in std::fs::read_dir(p).unwrap() {
            private_modes(&e.unwrap().path());
        }
    }
}

/// The fixture copied to a temp dir, modes fixed; the `Cs` runs this build.
fn open_copy(fixture: &Path) -> (tempfile::TempDir, Cs) {
    let tmp = tempfile::tempdir().unwrap();
    copy_dir(&fixture.join("data"), &tmp.path().join("data"));
    copy_dir(&fixture.join("state"), &tmp.path().join("state"));
    private_modes(&tmp.path().join("data"));
    private_modes(&tmp.path().join("state"));
    let cs = Cs::at(&tmp.path().join("data"));
    (tmp, cs)
}

fn each_fixture() -> Vec<PathBuf> {
    let mut all: Vec<PathBuf> = std::fs::read_dir(fixtures())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("FIXTURE").is_file())
        .collect();
    all.sort();
    assert!(!all.is_empty(), "no upgrade fixture under {:?}", fixtures());
    all
}

#[test]
fn ledgers_written_by_earlier_releases_open_verify_and_grow() {
    for fixture in each_fixture() {
        let m = manifest(&fixture);
        let what = format!("{} ({})", fixture.display(), m["made_with"]);
        let head_seq: u64 = m["head_seq"].parse().unwrap();
        let (_tmp, cs) = open_copy(&fixture);

        // The old chain verifies under this build: hashes, signatures, the
        // registry fold, and every sealed blob opened with the old data key.
        let text = cs.ok(&["log", "verify"]);
        assert!(
            text.contains(&format!("{} blobs (0 purged)", m["blobs"])),
            "{what}: every sealed blob opens\n{text}"
        );
        let n = cs.verify_ok();
        assert!(
            n >= head_seq,
            "{what}: {n} events, the old build wrote {head_seq}"
        );

        // What the old build wrote is still there, byte for byte: the
        // event it ended on has the same hash (the chain covers the rest).
        let events = cs.events();
        let old_head = events
            .iter()
            .find(|e| e["seq"] == head_seq)
            .unwrap_or_else(|| panic!("{what}: event {head_seq} is gone"));
        assert_eq!(old_head["hash_hex"], m["head_hash"].as_str(), "{what}");
        assert!(
            events.iter().any(|e| e["kind"] == "blob.sealed"),
            "{what}: the sealed blobs' events are kept"
        );

        // The old grant and its review read back.
        let v = cs.override_by_id(&m["override"]);
        assert_eq!(v["grant"]["operator"], "olga", "{what}: {v}");
        assert_eq!(v["review"]["reviewer"], "rita", "{what}: {v}");
        assert_eq!(v["closed"], false, "{what}: open until reconciled: {v}");

        // New events append: olga's face, enrolled by the old build (its
        // sealed template), matches a photo the enrollment never saw, and
        // that reconciles the old case.
        let files = format!("{},{}", fx_photo("obama2.jpg"), fx_photo("obama.jpg"));
        let out = cs.ok(&[
            "stepup",
            "--operator",
            "olga",
            "--scope",
            SCOPE,
            "--replay",
            &files,
            "--burst",
            "2",
            "--replay-fps",
            "0",
        ]);
        assert!(out.contains("succeeded: olga matched"), "{what}: {out}");
        let v = cs.override_by_id(&m["override"]);
        assert_eq!(v["closed"], true, "{what}: the old case reconciles: {v}");

        // A whole new case on the upgraded ledger: fallback, grant, review.
        let sid = cs.stepup_to_fallback("otto");
        let id = cs.grant_ok(&sid, SAM, "1s");
        std::thread::sleep(std::time::Duration::from_millis(1500));
        expect_ok(
            &cs.review(&id, RITA, &cs.fresh_code(RITA), "justified"),
            "review on the upgraded ledger",
        );

        let after = cs.verify_ok();
        assert!(after > n, "{what}: new events appended ({n} -> {after})");
        let again = cs.events();
        assert_eq!(
            again.iter().find(|e| e["seq"] == head_seq).unwrap()["hash_hex"],
            m["head_hash"].as_str(),
            "{what}: appending leaves the old events alone"
        );
        // The local anchor followed the chain.
        cs.ok(&["anchor", "status"]);
    }
}
