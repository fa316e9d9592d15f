//! A full disk under the ledger: the write is refused with one clear line,
//! and nothing acknowledged is lost. Needs root (a small tmpfs); skipped
//! otherwise.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::helpers::*;

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// Unmounts on drop, whatever happened.
struct Mounted(PathBuf);

impl Drop for Mounted {
    fn drop(&mut self) {
        let ok = Command::new("umount")
            .arg(&self.0)
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if !ok {
            let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        }
    }
}

/// Grows `filler` until the volume is full (ENOSPC).
fn fill(filler: &Path) {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(filler)
        .unwrap();
    let chunk = vec![0u8; 4096];
    loop {
        match f.write_all(&chunk).and_then(|_| f.sync_all()) {
            Ok(()) => continue,
            Err(e) if e.raw_os_error() == Some(28) => break,
            Err(e) => panic!("filling the disk: {e}"),
        }
    }
}

/// Leaves `bytes` free by shrinking the filler.
fn free_up(filler: &Path, bytes: u64) {
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(filler)
        .unwrap();
    let len = f.metadata().unwrap().len();
    f.set_len(len.saturating_sub(bytes)).unwrap();
    f.sync_all().unwrap();
}

fn assert_disk_full(o: &std::process::Output, what: &str) {
    let err = stderr(o);
    assert!(!o.status.success(), "{what} fails on a full disk");
    assert_eq!(err.lines().count(), 1, "{what}: one line: {err}");
    assert!(
        err.starts_with("error[ledger.disk_full]: ") && err.contains("disk full"),
        "{what}: the error says the disk is full: {err}"
    );
}

#[test]
fn full_disk_refuses_stepups_cleanly_and_loses_nothing() {
    if !is_root() {
        eprintln!("SKIP full_disk_refuses_stepups_cleanly_and_loses_nothing: not root (needs a tmpfs mount)");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let mnt = tmp.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=3m", "tmpfs"])
        .arg(&mnt)
        .output();
    match mounted {
        Ok(o) if o.status.success() => {}
        other => {
            eprintln!("SKIP full_disk_refuses_stepups_cleanly_and_loses_nothing: mount -t tmpfs failed: {other:?}");
            return;
        }
    }
    let _guard = Mounted(mnt.clone());

    let cs = Cs::at(&mnt.join("data"));
    cs.ok(&["init", "--demo"]);
    let filler = mnt.join("filler");
    fill(&filler);
    free_up(&filler, 64 * 1024);

    let stepup = [
        "stepup",
        "--operator",
        "olga",
        "--scope",
        SCOPE,
        "--test-scores",
        "0.9",
    ];
    let mut succeeded = vec![];
    let mut failure = None;
    for _ in 0..400 {
        let o = cs.run(&stepup);
        if o.status.success() {
            succeeded.push(session_id(&o));
        } else {
            failure = Some(o);
            break;
        }
    }
    let o = failure.expect("the disk fills up within 400 step-ups");
    assert_disk_full(&o, "a step-up as the disk fills");

    // Not even room to open the database (its shared-memory file).
    fill(&filler);
    let o = cs.run(&stepup);
    assert_disk_full(&o, "a step-up on a completely full disk");

    std::fs::remove_file(&filler).unwrap();
    let n = cs.verify_ok();
    assert!(n > 0);
    let logged: Vec<String> = cs
        .events()
        .into_iter()
        .filter(|e| e["kind"] == "stepup.succeeded")
        .filter_map(|e| e["index"]["case_id"].as_str().map(str::to_string))
        .collect();
    for s in &succeeded {
        assert!(logged.contains(s), "acknowledged step-up {s} is in the log");
    }
    assert_eq!(
        logged.len(),
        succeeded.len(),
        "no step-up succeeded unreported"
    );
    // With space again, work goes on.
    let o = cs.run(&stepup);
    expect_ok(&o, "a step-up after freeing space");
    cs.verify_ok();
}
