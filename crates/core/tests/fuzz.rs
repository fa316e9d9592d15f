//! Fuzz target: the policy parser (`Policy::from_toml`) on policy files,
//! and every derived value of a policy it accepts. Two proptest strategies
//! (fuzz/fuzzkit.rs): the default policy and its lines with byte-level
//! mutations, and the default policy's structure with hostile values in
//! its keys (re-serialised as TOML). Ignored in the normal test run;
//! `scripts/fuzz.sh` runs it (FUZZING.md).

#[path = "../../../fuzz/fuzzkit.rs"]
mod fuzzkit;

use countersign_core::policy::DEFAULT_POLICY_TOML;
use countersign_core::Policy;
use fuzzkit::Input;
use proptest::prelude::*;

/// Uses everything a parsed policy offers, so an accepted policy whose
/// numbers overflow later shows up here, not on a kiosk.
fn exercise(p: &Policy) {
    let _ = (
        p.consecutive_limit(),
        p.disable_limit(),
        p.default_duration_ms(),
        p.max_duration_ms(),
        p.review_deadline_ms(),
    );
    for s in &p.scopes {
        let _ = p.scope(&s.name);
    }
    for r in &p.reason_codes {
        let _ = p.reason(&r.code);
    }
    // Not `toml::to_string(p)`: the product never writes TOML, and
    // toml_write 0.1.2 overflows (debug) on 256 quotes in a row (FUZZING.md).
}

fn seeds() -> Vec<Vec<u8>> {
    let d = DEFAULT_POLICY_TOML;
    let mut v = vec![d.as_bytes().to_vec()];
    // Each line alone and the file without each line: small, valid-ish starts.
    for (i, line) in d.lines().enumerate() {
        if line.contains('=') {
            v.push(line.as_bytes().to_vec());
            let without: Vec<&str> = d
                .lines()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(_, l)| l)
                .collect();
            v.push(without.join("\n").into_bytes());
        }
    }
    v.push(b"".to_vec());
    v.push(b"[overrides]\nmax_duration_minutes = 9223372036854775807\n".to_vec());
    v
}

/// The default policy as JSON, for [`fuzzkit::around`].
fn default_as_json() -> serde_json::Value {
    let t: toml::Value = toml::from_str(DEFAULT_POLICY_TOML).unwrap();
    serde_json::to_value(t).unwrap()
}

/// Policy files: mutated bytes, or the default's structure with hostile
/// values written back as TOML (a value TOML cannot hold, such as null,
/// gives an empty file).
fn policy_files() -> impl Strategy<Value = Input> {
    prop_oneof![
        fuzzkit::mutated(seeds()),
        fuzzkit::around(&default_as_json())
            .prop_map(|v| Input(toml::to_string(&v).unwrap_or_default().into_bytes())),
    ]
}

#[test]
#[ignore = "fuzzing: run by scripts/fuzz.sh"]
fn fuzz_policy_parser() {
    fuzzkit::run("policy", policy_files(), |input| {
        if let Ok(src) = std::str::from_utf8(&input.0) {
            if let Ok(p) = Policy::from_toml(src) {
                exercise(&p);
            }
        }
    });
}

/// Regression inputs found by fuzzing (none so far for the policy parser);
/// also checks that the target's seeds parse where they should.
#[test]
fn policy_parser_fuzz_seeds_do_not_panic() {
    for s in seeds() {
        if let Ok(src) = std::str::from_utf8(&s) {
            if let Ok(p) = Policy::from_toml(src) {
                exercise(&p);
            }
        }
    }
    assert!(Policy::from_toml(DEFAULT_POLICY_TOML).is_ok());
}

/// The harness finds a planted bug and reports a shrunk input: a target
/// that panics on a `duration_s` past a year (as the API's break-glass
/// handler once did near `i64::MAX`) fails the run.
#[test]
#[should_panic(expected = "minimal input")]
fn the_harness_finds_a_planted_overflow() {
    let body = serde_json::json!({ "principal": "svc", "duration_s": 600, "scope": ["a"] });
    fuzzkit::run("planted", fuzzkit::around(&body), |v| {
        if let Some(d) = v["duration_s"].as_i64() {
            assert!(d <= 365 * 86_400, "duration_s {d} overflowed");
        }
    });
}
