//! The fuzz targets' shared part: proptest strategies for hostile inputs and
//! a driver that runs a target for a wall-clock budget. Each target is an
//! `#[ignore]` test in its crate that includes this file with
//! `#[path = ".../fuzz/fuzzkit.rs"] mod fuzzkit;` (FUZZING.md).
//!
//! Two kinds of input:
//! - [`mutated`]: a seed (a valid policy file, request body, IPC argument)
//!   changed by byte flips, insertions, deletions, splices of two seeds,
//!   repeated slices and hostile tokens ([`TOKENS`]);
//! - [`around`]: a JSON value shaped like a seed, with leaves replaced by
//!   hostile values ([`hostile_value`]: integer limits, huge floats,
//!   control and bidi characters, long strings, wrong types), keys dropped
//!   and unknown keys added.
//!
//! proptest generates them and, when a target panics, shrinks the input to
//! a minimal one (fewer mutations, simpler values) before reporting it.
//! There is no coverage guidance (that needs cargo-fuzz's libFuzzer and a
//! nightly toolchain): it finds what a structure-aware random search finds.
//!
//! - `FUZZ_SECONDS` (default 2): how long to run;
//! - `FUZZ_SEED` (default: from the clock, printed): replays a run;
//! - a panic writes the minimal input to `$FUZZ_CRASH_DIR/<target>.txt`
//!   (scripts/fuzz.sh: `target/fuzz-crashes`; default: the temp dir's
//!   `countersign-fuzz-crashes`) and fails the test with it.

#![allow(dead_code)]

use std::cell::{Cell, RefCell};
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, RngAlgorithm, TestError, TestRng, TestRunner};
use serde_json::Value;

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

/// Bytes, shown as (lossy) text in reports.
#[derive(Clone)]
pub struct Input(pub Vec<u8>);

impl fmt::Debug for Input {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(&self.0))
    }
}

/// One change to a seed. Positions are [`Index`]es, scaled to the input's
/// length when applied, so a shrunk mutation stays meaningful.
#[derive(Debug, Clone)]
pub enum Mutation {
    Flip(Index, u8),
    Set(Index, u8),
    Insert(Index, u8),
    Delete(Index, u8),
    /// Replace the word or number at the position with a token.
    Token(Index, Index),
    /// Cut here and continue with the tail of another seed.
    Splice(Index, Index, Index),
    /// Repeat a short slice many times (long strings, deep nesting).
    Repeat(Index, u8, u8),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        1 => (any::<Index>(), 0u8..8).prop_map(|(i, b)| Mutation::Flip(i, b)),
        1 => (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::Set(i, b)),
        1 => (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::Insert(i, b)),
        1 => (any::<Index>(), 1u8..16).prop_map(|(i, n)| Mutation::Delete(i, n)),
        2 => (any::<Index>(), any::<Index>()).prop_map(|(i, t)| Mutation::Token(i, t)),
        1 => (any::<Index>(), any::<Index>(), any::<Index>())
            .prop_map(|(i, s, j)| Mutation::Splice(i, s, j)),
        1 => (any::<Index>(), 1u8..8, 1u8..64).prop_map(|(i, n, k)| Mutation::Repeat(i, n, k)),
    ]
}

/// `seed` changed by `ms`, in order (`corpus` gives splice partners).
pub fn apply(seed: &[u8], corpus: &[Vec<u8>], ms: &[Mutation]) -> Vec<u8> {
    let mut v = seed.to_vec();
    for m in ms {
        let len = v.len();
        let at = |i: &Index| if len == 0 { 0 } else { i.index(len + 1) };
        match m {
            Mutation::Flip(i, b) if len > 0 => v[i.index(len)] ^= 1 << b,
            Mutation::Set(i, b) if len > 0 => v[i.index(len)] = *b,
            Mutation::Insert(i, b) => v.insert(at(i), *b),
            Mutation::Delete(i, n) if len > 0 => {
                let a = i.index(len);
                v.drain(a..(a + *n as usize).min(len));
            }
            Mutation::Token(i, t) => {
                let a = at(i);
                let mut b = a;
                while b < len && (v[b].is_ascii_alphanumeric() || v[b] == b'.' || v[b] == b'-') {
                    b += 1;
                }
                v.splice(a..b, TOKENS[t.index(TOKENS.len())].bytes());
            }
            Mutation::Splice(i, s, j) if !corpus.is_empty() => {
                let other = &corpus[s.index(corpus.len())];
                if !other.is_empty() {
                    v.truncate(at(i));
                    v.extend_from_slice(&other[j.index(other.len())..]);
                }
            }
            Mutation::Repeat(i, n, k) if len > 0 => {
                let a = i.index(len);
                let piece = v[a..(a + *n as usize).min(len)].to_vec();
                for _ in 0..*k {
                    v.splice(a..a, piece.iter().copied());
                }
            }
            _ => {}
        }
        v.truncate(64 * 1024);
    }
    v
}

/// A seed, changed by up to five mutations (none: the seed itself).
pub fn mutated(seeds: Vec<Vec<u8>>) -> impl Strategy<Value = Input> {
    let corpus = Arc::new(seeds);
    (any::<Index>(), prop::collection::vec(mutation(), 0..6)).prop_map(move |(s, ms)| {
        let seed = &corpus[s.index(corpus.len())];
        Input(apply(seed, &corpus, &ms))
    })
}

/// A JSON value a hostile client would send where some other value belongs.
pub fn hostile_value() -> BoxedStrategy<Value> {
    prop_oneof![
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        prop::sample::select(vec![
            i64::MAX,
            i64::MIN,
            i64::MAX / 1000,
            i64::MAX / 60_000,
            -1,
            0,
            u32::MAX as i64 + 1
        ])
        .prop_map(Value::from),
        // serde_json has no NaN or infinity (they become null).
        any::<f64>().prop_map(Value::from),
        prop::sample::select(vec![1e19, -1e19, 1e300, 5e-324, 0.5, -0.0]).prop_map(Value::from),
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        prop::sample::select(TOKENS).prop_map(Value::from),
        any::<String>().prop_map(Value::from),
        // Not a run of quotes: toml_write 0.1.2 counts them in a u8 and
        // overflows (debug) at 256 when the policy target writes TOML back
        // (FUZZING.md); the product never writes TOML.
        (
            200usize..5000,
            any::<char>().prop_filter("no quote runs", |c| *c != '"' && *c != '\'')
        )
            .prop_map(|(n, c)| Value::from(c.to_string().repeat(n))),
        prop::collection::vec(any::<i64>().prop_map(Value::from), 0..4).prop_map(Value::Array),
        Just(Value::Object(Default::default())),
    ]
    .boxed()
}

/// Values shaped like `template`: each leaf kept or replaced by a
/// [`hostile_value`]; object keys dropped or unknown ones added; arrays
/// kept, emptied or filled with hostile values.
pub fn around(template: &Value) -> BoxedStrategy<Value> {
    match template {
        Value::Object(map) => {
            let keys: Vec<String> = map.keys().cloned().collect();
            let fields: Vec<BoxedStrategy<Option<Value>>> = map
                .values()
                .map(|v| prop_oneof![8 => around(v).prop_map(Some), 1 => Just(None)].boxed())
                .collect();
            let extra = prop::option::weighted(0.1, (any::<String>(), hostile_value()));
            (fields, extra)
                .prop_map(move |(vals, extra)| {
                    let mut out = serde_json::Map::new();
                    for (k, v) in keys.iter().zip(vals) {
                        if let Some(v) = v {
                            out.insert(k.clone(), v);
                        }
                    }
                    if let Some((k, v)) = extra {
                        out.insert(k, v);
                    }
                    Value::Object(out)
                })
                .boxed()
        }
        Value::Array(items) => {
            let kept: Vec<BoxedStrategy<Value>> = items.iter().map(around).collect();
            prop_oneof![
                6 => kept.prop_map(Value::Array),
                1 => Just(Value::Array(vec![])),
                1 => prop::collection::vec(hostile_value(), 1..40).prop_map(Value::Array),
            ]
            .boxed()
        }
        leaf => prop_oneof![3 => Just(leaf.clone()), 2 => hostile_value()].boxed(),
    }
}

/// What a run did.
#[derive(Debug, Default, Clone, Copy)]
pub struct Report {
    pub executions: u64,
    pub crashes: u64,
}

thread_local! {
    /// Set while the target runs (its panics are findings, reported once).
    static IN_TARGET: Cell<bool> = const { Cell::new(false) };
}

fn budget() -> Duration {
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

/// Runs `target` on values of `strategy` for `FUZZ_SECONDS` (in rounds of
/// 200 cases, each round a new runner: a runner counts its successes and
/// stops at `cases`). Fails the test, after shrinking, when `target` panicked.
pub fn run<S>(name: &str, strategy: S, target: impl FnMut(&S::Value)) -> Report
where
    S: Strategy,
    S::Value: fmt::Debug,
{
    let seed = seed();
    let budget = budget();
    eprintln!("fuzz {name}: seed {seed}, {} s", budget.as_secs_f64());
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(&seed.to_le_bytes());
    let config = Config {
        cases: 200,
        failure_persistence: None,
        max_shrink_iters: 2000,
        ..Config::default()
    };
    let mut rounds = TestRunner::new_with_rng(
        config.clone(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &key),
    );
    let target = RefCell::new(target);
    let executions = Cell::new(0u64);
    // Quiet the target's panics (every shrinking step panics again; the
    // minimal input is reported once, below); any other panic, in a
    // strategy or the harness, is printed as usual.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !IN_TARGET.with(Cell::get) {
            hook(info)
        }
    }));
    let start = Instant::now();
    let mut failure = None;
    loop {
        let mut runner = TestRunner::new_with_rng(config.clone(), rounds.new_rng());
        IN_TARGET.with(|t| t.set(false));
        let r = runner.run(&strategy, |v| {
            executions.set(executions.get() + 1);
            IN_TARGET.with(|t| t.set(true));
            (target.borrow_mut())(&v);
            IN_TARGET.with(|t| t.set(false));
            Ok(())
        });
        match r {
            Ok(()) => {}
            Err(TestError::Fail(why, minimal)) => {
                failure = Some(format!("{why}; minimal input: {minimal:?}"));
                break;
            }
            Err(TestError::Abort(why)) => {
                failure = Some(format!("aborted: {why}"));
                break;
            }
        }
        if start.elapsed() >= budget {
            break;
        }
    }
    IN_TARGET.with(|t| t.set(false));
    let report = Report {
        executions: executions.get(),
        crashes: u64::from(failure.is_some()),
    };
    eprintln!(
        "fuzz {name}: {} executions in {:.1} s, {} crashes",
        report.executions,
        start.elapsed().as_secs_f64(),
        report.crashes
    );
    if let Some(f) = failure {
        let dir = std::env::var_os("FUZZ_CRASH_DIR")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| std::env::temp_dir().join("countersign-fuzz-crashes"));
        let _ = std::fs::create_dir_all(&dir);
        let _ = std::fs::write(dir.join(format!("{name}.txt")), &f);
        panic!("fuzz {name} (seed {seed}): {f}");
    }
    report
}
