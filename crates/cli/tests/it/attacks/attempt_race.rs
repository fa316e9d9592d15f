//! Item 2: attempt limits hold across sessions and processes.
//!
//! The attack: many `countersign stepup` processes for the same operator at
//! once, each with failing matches, hoping each works on its own copy of
//! the failure count (taken at identify) so that none of them ever sees the
//! fifth failure, the 30 s wait or the disable at 50. The count, the wait
//! and the disable must be checked and recorded in one ledger write
//! transaction per attempt.

use std::path::Path;
use std::process::{Child, Command, Stdio};

use serde_json::Value;

use crate::helpers::{Cs, BIN, FIVE_FAILS, SCOPE};

pub(super) const FAKETIME_LIB: &str = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";
const OPERATOR: &str = "olga";

/// A `countersign` process that waits for `barrier` to exist before it
/// starts (so all of them overlap), with `env` set and, when `offset_s` is
/// not 0, under a clock `offset_s` ahead (libfaketime).
pub(super) fn behind_barrier(
    cs: &Cs,
    barrier: &Path,
    offset_s: i64,
    env: &[(&str, &str)],
    args: &[&str],
) -> Child {
    let script = format!(
        "while [ ! -e '{}' ]; do sleep 0.005; done; exec \"$@\"",
        barrier.display()
    );
    let mut c = Command::new("sh");
    c.arg("-c")
        .arg(script)
        .arg("sh")
        .arg(BIN)
        .arg("--data-dir")
        .arg(&cs.data)
        .args(args)
        .env_remove("COUNTERSIGN_DATA_DIR")
        .env_remove("COUNTERSIGN_SECRET")
        .env("COUNTERSIGN_STATE_DIR", &cs.state)
        .env("RUST_BACKTRACE", "0")
        .current_dir(cs.root())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        c.env(k, v);
    }
    if offset_s != 0 {
        c.env("LD_PRELOAD", FAKETIME_LIB)
            .env("FAKETIME", format!("{offset_s:+}s"));
    }
    c.spawn().expect("spawning countersign")
}

/// Waits for each child; returns (exit code, stdout, stderr).
pub(super) fn outputs(kids: Vec<Child>) -> Vec<(Option<i32>, String, String)> {
    kids.into_iter()
        .map(|k| {
            let o = k.wait_with_output().expect("waiting for countersign");
            (
                o.status.code(),
                String::from_utf8_lossy(&o.stdout).into_owned(),
                String::from_utf8_lossy(&o.stderr).into_owned(),
            )
        })
        .collect()
}

fn spawn_behind_barrier(cs: &Cs, barrier: &Path, offset_s: i64, scores: &str) -> Child {
    behind_barrier(
        cs,
        barrier,
        offset_s,
        &[],
        &[
            "stepup",
            "--operator",
            OPERATOR,
            "--scope",
            SCOPE,
            "--test-scores",
            scores,
        ],
    )
}

/// Runs `n` racing step-ups (each with `scores`) under `offset_s`; returns
/// their outputs once all have exited.
fn race(cs: &Cs, n: usize, offset_s: i64, scores: &str, round: usize) -> Vec<String> {
    let barrier = cs.root().join(format!("barrier-{round}"));
    let kids: Vec<Child> = (0..n)
        .map(|_| spawn_behind_barrier(cs, &barrier, offset_s, scores))
        .collect();
    std::fs::write(&barrier, b"go").unwrap();
    outputs(kids)
        .into_iter()
        .map(|(code, out, err)| format!("exit {code:?}\n{out}{err}"))
        .collect()
}

/// The operator's failed matches in the ledger, oldest first.
fn failed_matches(cs: &Cs) -> Vec<Value> {
    cs.events()
        .into_iter()
        .filter(|e| {
            e["kind"] == "match.attempt"
                && e["index"]["person"] == OPERATOR
                && e["index"]["outcome"] == "no_match"
        })
        .collect()
}

fn disabled_recorded(cs: &Cs) -> bool {
    cs.events().iter().any(|e| {
        e["kind"] == "match.attempt"
            && e["index"]["person"] == OPERATOR
            && e["body"]["biometric_disabled"] == true
    })
}

/// The wait after the `n`th consecutive failure (n >= 5) under the default
/// policy: 30 s, doubling with each further failure (capped at 2^16).
fn wait_after_s(n: u32) -> i64 {
    30 * (1i64 << (n - 5).min(16))
}

#[test]
fn twenty_racing_stepups_get_at_most_five_failures_before_the_wait_and_fifty_disable() {
    let cs = Cs::demo();

    // 20 processes, 5 failing scores each, all at once.
    let outs = race(&cs, 20, 0, FIVE_FAILS, 0);
    let fails = failed_matches(&cs);
    assert!(
        fails.len() <= 5,
        "at most 5 failed matches before the 30 s wait, however many processes race; \
         got {}\n{}",
        fails.len(),
        outs.join("\n---\n")
    );
    assert_eq!(
        fails.len(),
        5,
        "the racing processes did reach the limit (the test attacked something)\n{}",
        outs.join("\n---\n")
    );
    let counts: Vec<u64> = fails
        .iter()
        .map(|e| e["body"]["consecutive_failures"].as_u64().unwrap())
        .collect();
    assert_eq!(
        counts,
        vec![1, 2, 3, 4, 5],
        "each failure counted on the person's current count, not a copy"
    );

    // Past each wait, a new burst of racing processes: each burst gets
    // exactly one more failure (the others wait), up to the disable at 50.
    let mut offset_s = 0;
    let mut n = 5;
    let mut round = 1;
    while n < 50 {
        offset_s += wait_after_s(n) + 2;
        let outs = race(&cs, 3, offset_s, "0.1,0.1", round);
        round += 1;
        let now = failed_matches(&cs).len() as u32;
        assert_eq!(
            now,
            n + 1,
            "one failure per wait, whatever races (after {n} failures)\n{}",
            outs.join("\n---\n")
        );
        n = now;
    }
    assert!(
        disabled_recorded(&cs),
        "the 50th failure disables the biometric"
    );

    // Disabled means disabled: no wait is long enough, however many race.
    offset_s += wait_after_s(50) * 4;
    let outs = race(&cs, 5, offset_s, FIVE_FAILS, round);
    assert_eq!(
        failed_matches(&cs).len(),
        50,
        "no attempt after the disable\n{}",
        outs.join("\n---\n")
    );
}
