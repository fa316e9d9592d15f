//! Fuzz target: the policy parser (`Policy::from_toml`) on mutated policy
//! files, and every derived value of a policy it accepts. Ignored in the
//! normal test run; `scripts/fuzz.sh` runs it (FUZZING.md).

#[path = "../../../fuzz/fuzzkit.rs"]
mod fuzzkit;

use countersign_core::policy::DEFAULT_POLICY_TOML;
use countersign_core::Policy;

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
    let _ = toml::to_string(p);
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

#[test]
#[ignore = "fuzzing: run by scripts/fuzz.sh"]
fn fuzz_policy_parser() {
    let seeds = seeds();
    let refs: Vec<&[u8]> = seeds.iter().map(|s| s.as_slice()).collect();
    fuzzkit::run("policy", &refs, |input| {
        if let Ok(src) = std::str::from_utf8(input) {
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
