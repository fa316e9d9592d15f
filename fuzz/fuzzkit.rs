//! A small mutation fuzzer without libFuzzer (the toolchain here is stable
//! and cargo-fuzz is not installed; see FUZZING.md). Each target is an
//! `#[ignore]` test in its crate that includes this file with
//! `#[path = ".../fuzz/fuzzkit.rs"] mod fuzzkit;` and calls [`run`] with a
//! seed corpus and a function that must not panic on any input.
//!
//! Inputs are seeds mutated by byte flips, insertions, deletions, splices
//! of two seeds and "interesting" tokens (integer limits, NaN, huge
//! exponents, long strings, control characters, path separators). No
//! coverage guidance: it finds the panics a grammar-aware random search
//! finds, not deep paths. Deterministic for a given `FUZZ_SEED`.
//!
//! - `FUZZ_SECONDS` (default 2): how long to run;
//! - `FUZZ_SEED` (default: from the clock, printed);
//! - a panic prints the input (escaped) and writes it to
//!   `$FUZZ_CRASH_DIR/<target>-<n>.bin` (default `target/fuzz-crashes`).

#![allow(dead_code)]

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Tokens a hostile client or a confused operator would try.
pub const TOKENS: &[&str] = &[
    "9223372036854775807",
    "-9223372036854775808",
    "9223372036854775808",
    "18446744073709551615",
    "18446744073709551616",
    "4294967295",
    "4294967296",
    "-1",
    "0",
    "-0",
    "1e19",
    "-1e19",
    "1e400",
    "1.5",
    "NaN",
    "inf",
    "-inf",
    "nan",
    "true",
    "null",
    "\"\"",
    "[]",
    "{}",
    "\u{0}",
    "\u{202e}",
    "\u{fffd}",
    "../../",
    "/etc/passwd",
    "\\",
    "\"",
    "'",
    "\n",
    "\r\n",
    "=",
    "[[",
    "]]",
    "#",
    "0x7fffffff",
    "1_000",
    "+1",
    "00000000000000000000000000001",
];

/// What a run did.
#[derive(Debug, Default, Clone, Copy)]
pub struct Report {
    pub executions: u64,
    pub crashes: u64,
}

fn seconds() -> Duration {
    let s: f64 = std::env::var("FUZZ_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2.0);
    Duration::from_secs_f64(s.max(0.0))
}

fn seed() -> u64 {
    std::env::var("FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
        })
}

/// One mutation of `input` (the corpus gives splice partners).
pub fn mutate(rng: &mut StdRng, corpus: &[Vec<u8>], input: &mut Vec<u8>) {
    let n = rng.gen_range(1..=4);
    for _ in 0..n {
        let len = input.len();
        match rng.gen_range(0..8) {
            0 if len > 0 => {
                let i = rng.gen_range(0..len);
                input[i] ^= 1 << rng.gen_range(0..8);
            }
            1 if len > 0 => {
                let i = rng.gen_range(0..len);
                input[i] = rng.gen();
            }
            2 => {
                let i = rng.gen_range(0..=len);
                let b: u8 = rng.gen();
                input.insert(i, b);
            }
            3 if len > 0 => {
                let i = rng.gen_range(0..len);
                let j = rng.gen_range(i..=len.min(i + 16));
                input.drain(i..j);
            }
            4 | 5 => {
                // Replace a run of digits or a word with a token, or insert one.
                let t = TOKENS[rng.gen_range(0..TOKENS.len())].as_bytes();
                let i = rng.gen_range(0..=len);
                let mut j = i;
                while j < len
                    && (input[j].is_ascii_alphanumeric() || input[j] == b'.' || input[j] == b'-')
                {
                    j += 1;
                }
                input.splice(i..j, t.iter().copied());
            }
            6 if !corpus.is_empty() => {
                let other = &corpus[rng.gen_range(0..corpus.len())];
                if !other.is_empty() {
                    let a = rng.gen_range(0..=len);
                    let b = rng.gen_range(0..other.len());
                    input.truncate(a);
                    input.extend_from_slice(&other[b..]);
                }
            }
            _ => {
                // Repeat a slice (long strings, deep nesting).
                if len > 0 {
                    let i = rng.gen_range(0..len);
                    let j = rng.gen_range(i..=len.min(i + 8));
                    let times = rng.gen_range(1..64);
                    let piece: Vec<u8> = input[i..j].to_vec();
                    for _ in 0..times {
                        input.splice(i..i, piece.iter().copied());
                    }
                }
            }
        }
        if input.len() > 64 * 1024 {
            input.truncate(64 * 1024);
        }
    }
}

/// Runs `target` on the seeds, then on mutations, for `FUZZ_SECONDS`.
/// Panics at the end (failing the test) when any input made `target` panic.
pub fn run(name: &str, seeds: &[&[u8]], mut target: impl FnMut(&[u8])) -> Report {
    let seed = seed();
    let budget = seconds();
    eprintln!("fuzz {name}: seed {seed}, {} s", budget.as_secs_f64());
    let mut rng = StdRng::seed_from_u64(seed);
    let corpus: Vec<Vec<u8>> = seeds.iter().map(|s| s.to_vec()).collect();
    let mut report = Report::default();
    let crash_dir =
        std::env::var("FUZZ_CRASH_DIR").unwrap_or_else(|_| "target/fuzz-crashes".into());
    // Quiet the default hook: a crash is reported once, below.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let start = Instant::now();
    let mut i = 0usize;
    let mut first: Option<(Vec<u8>, String)> = None;
    loop {
        let input = if i < corpus.len() {
            corpus[i].clone()
        } else {
            let mut x = corpus[rng.gen_range(0..corpus.len())].clone();
            mutate(&mut rng, &corpus, &mut x);
            x
        };
        i += 1;
        report.executions += 1;
        if let Err(p) = catch_unwind(AssertUnwindSafe(|| target(&input))) {
            report.crashes += 1;
            let msg = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            let _ = std::fs::create_dir_all(&crash_dir);
            let _ = std::fs::write(format!("{crash_dir}/{name}-{}.bin", report.crashes), &input);
            if first.is_none() {
                first = Some((input.clone(), msg));
            }
        }
        if i >= corpus.len() && start.elapsed() >= budget {
            break;
        }
    }
    std::panic::set_hook(hook);
    eprintln!(
        "fuzz {name}: {} executions in {:.1} s, {} crashes",
        report.executions,
        start.elapsed().as_secs_f64(),
        report.crashes
    );
    if let Some((input, msg)) = first {
        panic!(
            "fuzz {name}: {} crashing inputs (seed {seed}); the first panicked with {msg:?} on {:?}",
            report.crashes,
            String::from_utf8_lossy(&input)
        );
    }
    report
}
