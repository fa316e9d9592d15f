//! Fill the volume until DiskFull; the ledger must stay consistent.

use std::path::{Path, PathBuf};
use std::process::Command;

use countersign_ledger::{Ledger, LedgerError, NewEvent};

use crate::common::{event, Fixture};

struct Tmpfs(PathBuf);

impl Tmpfs {
    /// Mount a 2 MiB tmpfs when running as root and permitted.
    fn mount(dir: &Path) -> Option<Tmpfs> {
        let st = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=2m", "tmpfs"])
            .arg(dir)
            .status()
            .ok()?;
        st.success().then(|| Tmpfs(dir.to_path_buf()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

fn padded(i: u64) -> NewEvent {
    let mut e = event(i);
    e.body = serde_json::json!({"i": i, "pad": "x".repeat(3000)});
    e
}

fn fill_until_full(l: &mut Ledger) -> Vec<(u64, u64)> {
    let mut acked = Vec::new();
    for i in 0..100_000u64 {
        match l.append(&padded(i)) {
            Ok(r) => acked.push((r.seq, i)),
            Err(LedgerError::DiskFull { .. }) => {
                let err = l.append(&padded(i)).unwrap_err();
                assert!(
                    err.to_string().contains("disk full"),
                    "unclear message: {err}"
                );
                return acked;
            }
            Err(e) => panic!(
                "expected DiskFull after {} appends, got: {e:?}",
                acked.len()
            ),
        }
    }
    panic!("volume never filled");
}

fn check(db: &Path, fx: &Fixture, acked: &[(u64, u64)], max_pages: Option<u64>) {
    let l = Ledger::open(db, fx.keys.clone()).unwrap();
    if let Some(p) = max_pages {
        l.set_max_page_count(p).unwrap();
    }
    let rep = l.verify().unwrap();
    assert!(rep.ok(), "{:?}", rep.problems);
    assert_eq!(
        rep.events,
        acked.len() as u64,
        "failed append must be absent, all acknowledged present"
    );
    for (seq, i) in acked {
        assert_eq!(l.get(*seq).unwrap().unwrap().body, padded(*i).body);
    }
}

#[test]
fn full_disk_gives_disk_full_and_keeps_ledger_consistent() {
    let fx = Fixture::new();
    let mnt = tempfile::tempdir().unwrap();
    let is_root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout == b"0\n")
        .unwrap_or(false);
    let tmpfs = if is_root {
        Tmpfs::mount(mnt.path())
    } else {
        None
    };
    if let Some(_t) = &tmpfs {
        let db = mnt.path().join("ledger.db");
        let mut l = Ledger::open(&db, fx.keys.clone()).unwrap();
        let acked = fill_until_full(&mut l);
        assert!(
            acked.len() > 50,
            "only {} appends fit in 2 MiB",
            acked.len()
        );
        drop(l);
        check(&db, &fx, &acked, None);
        eprintln!(
            "disk full (tmpfs 2 MiB): {} events acknowledged before ENOSPC",
            acked.len()
        );
    } else {
        println!("FALLBACK: could not mount a tmpfs (not root or not permitted); simulating a full disk with PRAGMA max_page_count");
        eprintln!(
            "FALLBACK: could not mount a tmpfs; simulating a full disk with PRAGMA max_page_count"
        );
        let mut l = fx.open();
        l.set_max_page_count(200).unwrap();
        let acked = fill_until_full(&mut l);
        assert!(acked.len() > 10);
        drop(l);
        check(&fx.db, &fx, &acked, Some(200));
    }
}
