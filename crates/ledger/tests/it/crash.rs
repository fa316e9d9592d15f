//! Kill a writer with SIGKILL at random moments; every acknowledged event must survive.

use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rand::Rng;

use crate::common::Fixture;

#[test]
fn acknowledged_events_survive_sigkill() {
    let fx = Fixture::new();
    let started = Instant::now();
    let mut rng = rand::thread_rng();
    let mut acked: Vec<(u64, u64, u64)> = Vec::new();
    let mut killed_mid_run = 0;
    for run in 0..200u64 {
        let mut child = Command::new(env!("CARGO_BIN_EXE_ledger-crash-worker"))
            .arg(&fx.db)
            .arg(fx.key_dir())
            .arg(run.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn ledger-crash-worker");
        std::thread::sleep(Duration::from_millis(rng.gen_range(0..=50)));
        child.kill().expect("SIGKILL worker");
        let status = child.wait().unwrap();
        let mut out = String::new();
        child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        let mut err = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        assert_eq!(
            status.signal(),
            Some(9),
            "worker run {run} exited on its own ({status}): {err}"
        );
        let mut n_lines = 0;
        for line in out.split_inclusive('\n').filter(|l| l.ends_with('\n')) {
            let f: Vec<u64> = line
                .split_whitespace()
                .map(|x| x.parse().unwrap())
                .collect();
            assert_eq!(f[1], run);
            acked.push((f[0], f[1], f[2]));
            n_lines += 1;
        }
        if n_lines > 0 {
            killed_mid_run += 1;
        }
    }
    assert!(
        killed_mid_run > 20,
        "only {killed_mid_run} of 200 runs acknowledged anything; the test proves little"
    );
    let l = fx.open();
    let mut seqs: Vec<u64> = acked.iter().map(|a| a.0).collect();
    seqs.sort_unstable();
    seqs.dedup();
    assert_eq!(seqs.len(), acked.len(), "a seq was acknowledged twice");
    for (seq, run, n) in &acked {
        let row = l
            .get(*seq)
            .unwrap()
            .unwrap_or_else(|| panic!("acknowledged seq {seq} lost"));
        assert_eq!(
            row.body,
            serde_json::json!({"run": run, "n": n}),
            "seq {seq}"
        );
    }
    let rep = l.verify().unwrap();
    assert!(rep.ok(), "{:?}", rep.problems);
    assert!(rep.events >= acked.len() as u64);
    eprintln!(
        "crash test: 200 SIGKILLs, {} acknowledged events, {} in ledger, {:.1}s",
        acked.len(),
        rep.events,
        started.elapsed().as_secs_f64()
    );
}
