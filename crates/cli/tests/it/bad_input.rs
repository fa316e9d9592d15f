//! Refusals and bad input: one clear line, nothing lost or changed.

use crate::helpers::*;

const DEFAULT_POLICY: &str = include_str!("../../../../assets/policy/default.toml");

/// The default policy with one line replaced; returns (text, 1-based line).
fn policy_with(from: &str, to: &str) -> (String, usize) {
    let line = DEFAULT_POLICY
        .lines()
        .position(|l| l == from)
        .unwrap_or_else(|| panic!("the default policy has the line {from:?}"))
        + 1;
    (DEFAULT_POLICY.replacen(from, to, 1), line)
}

/// Snapshot of what an error must not change.
struct Before {
    events: u64,
    overrides: Vec<serde_json::Value>,
}

impl Before {
    fn take(cs: &Cs) -> Before {
        Before {
            events: cs.verify_ok(),
            overrides: cs.overrides(),
        }
    }

    /// The ledger still verifies, no override appeared, changed or went,
    /// and (when `same_events`) nothing was written at all.
    fn unchanged(&self, cs: &Cs, same_events: bool) {
        let n = cs.verify_ok();
        if same_events {
            assert_eq!(n, self.events, "a refused request writes no event");
        } else {
            assert!(
                n >= self.events,
                "no event was lost ({n} < {})",
                self.events
            );
        }
        let now: Vec<serde_json::Value> = cs
            .overrides()
            .into_iter()
            .map(|mut v| {
                v["remaining_ms"] = serde_json::Value::Null;
                v
            })
            .collect();
        let before: Vec<serde_json::Value> = self
            .overrides
            .iter()
            .cloned()
            .map(|mut v| {
                v["remaining_ms"] = serde_json::Value::Null;
                v
            })
            .collect();
        assert_eq!(now, before, "the override list is as before");
    }
}

#[test]
fn policy_check_names_key_and_line_of_an_out_of_range_value() {
    let cs = Cs::uninit();
    let (text, line) = policy_with(
        "consecutive_failure_limit = 5",
        "consecutive_failure_limit = 6",
    );
    let f = cs.root().join("bad.toml");
    std::fs::write(&f, text).unwrap();
    let err = cs.fails(&["policy", "check", f.to_str().unwrap()], "policy.invalid");
    assert!(
        err.contains("attempts.consecutive_failure_limit") && err.contains(&format!("line {line}")),
        "names the key and line {line}: {err}"
    );
    // The shipped default checks clean.
    let good = cs.root().join("good.toml");
    std::fs::write(&good, DEFAULT_POLICY).unwrap();
    let out = cs.ok(&["policy", "check", good.to_str().unwrap()]);
    assert!(out.contains("is valid"), "{out}");
}

#[test]
fn policy_check_names_key_and_line_of_a_type_error() {
    let cs = Cs::uninit();
    let (text, line) = policy_with("throttle_seconds = 30", "throttle_seconds = \"thirty\"");
    let f = cs.root().join("bad.toml");
    std::fs::write(&f, text).unwrap();
    let err = cs.fails(&["policy", "check", f.to_str().unwrap()], "policy.invalid");
    assert!(
        err.contains("throttle_seconds") && err.contains(&format!("line {line}")),
        "names the key and line {line}: {err}"
    );
}

#[test]
fn init_with_a_bad_policy_leaves_no_data_dir_behind() {
    let cs = Cs::uninit();
    let (text, _) = policy_with(
        "consecutive_failure_limit = 5",
        "consecutive_failure_limit = 6",
    );
    let policies = tempfile::tempdir().unwrap();
    let f = policies.path().join("bad.toml");
    std::fs::write(&f, text).unwrap();
    let err = cs.fails(
        &["init", "--demo", "--policy", f.to_str().unwrap()],
        "policy.invalid",
    );
    assert!(err.contains("consecutive_failure_limit"), "{err}");
    assert!(!cs.data.exists(), "no data dir after a failed init");
    let left: Vec<_> = std::fs::read_dir(cs.root()).unwrap().collect();
    assert!(left.is_empty(), "no staging dir left behind: {left:?}");
    cs.fails(&["people", "list"], "datadir.not_initialized");
}

#[test]
fn stepup_of_an_unknown_person_is_refused() {
    let cs = Cs::demo();
    let before = Before::take(&cs);
    let err = cs.fails(
        &[
            "stepup",
            "--operator",
            "nobody",
            "--scope",
            SCOPE,
            "--test-scores",
            "0.9",
        ],
        "person.unknown",
    );
    assert!(err.contains("nobody"), "{err}");
    before.unchanged(&cs, false);
}

#[test]
fn stepup_by_a_reviewer_is_refused_missing_role() {
    let cs = Cs::demo();
    let before = Before::take(&cs);
    let err = cs.fails(
        &[
            "stepup",
            "--operator",
            "rita",
            "--scope",
            SCOPE,
            "--test-scores",
            "0.9",
        ],
        "refused.missing_role",
    );
    assert!(err.contains("rita") && err.contains("operator"), "{err}");
    before.unchanged(&cs, false);
}

#[test]
fn grant_by_an_operator_is_refused_missing_role() {
    let cs = Cs::demo();
    let sid = cs.stepup_to_fallback("olga");
    let before = Before::take(&cs);
    let o = cs.grant(&sid, SAM_AS("otto"), "123456", "5m");
    let err = expect_error(&o, "refused.missing_role", "grant by otto");
    assert!(err.contains("otto") && err.contains("supervisor"), "{err}");
    before.unchanged(&cs, true);
}

/// A person with sam's password but another id (for role refusals that
/// happen before any authentication).
#[allow(non_snake_case)]
fn SAM_AS(id: &'static str) -> Person {
    Person { id, ..SAM }
}

#[test]
fn over_cap_duration_is_refused_and_the_totp_code_is_not_spent() {
    let cs = Cs::demo();
    let sid = cs.stepup_to_fallback("olga");
    let before = Before::take(&cs);
    let code = totp(SAM.totp);
    let o = cs.grant(&sid, SAM, &code, "61m");
    let err = expect_error(&o, "refused.over_cap", "a 61 min grant (cap 60)");
    assert!(err.contains("61") && err.contains("60"), "{err}");
    before.unchanged(&cs, true);
    let people = cs.ok(&["people", "list"]);
    let sam = people.lines().find(|l| l.starts_with("sam ")).unwrap();
    assert!(
        sam.ends_with(" ok"),
        "no failed authentication counted: {sam}"
    );
    // The very same code still works: the refusal spent no factor.
    let o = cs.grant(&sid, SAM, &code, "60m");
    let id = override_id(&expect_ok(&o, "a 60 min grant with the same code"));
    assert_eq!(cs.override_by_id(&id)["status_now"]["status"], "active");
}

#[test]
fn zero_duration_grant_is_refused_no_expiry() {
    let cs = Cs::demo();
    let sid = cs.stepup_to_fallback("olga");
    let before = Before::take(&cs);
    let o = cs.grant(&sid, SAM, &totp(SAM.totp), "0s");
    expect_error(&o, "refused.no_expiry", "a grant without expiry");
    before.unchanged(&cs, true);
}

#[test]
fn self_approval_is_refused_self_dealing() {
    let cs = Cs::demo();
    // sue is operator and supervisor.
    let sid = cs.stepup_to_fallback("sue");
    let before = Before::take(&cs);
    let o = cs.grant(&sid, SUE, &totp(SUE.totp), "5m");
    let err = expect_error(&o, "refused.self_dealing", "sue granting to herself");
    assert!(err.contains("sue"), "{err}");
    before.unchanged(&cs, true);
    // Another supervisor may grant the same case.
    cs.grant_ok(&sid, SAM, "5m");
}

#[test]
fn self_review_is_refused_self_dealing() {
    let cs = Cs::demo();
    let vic = cs.add_authenticator("vic", "supervisor,reviewer");

    let sid = cs.stepup_to_fallback("olga");
    let id = cs.grant_ok(&sid, vic, "1s");
    std::thread::sleep(std::time::Duration::from_millis(1300));
    let before = Before::take(&cs);
    // The next step's code (within skew), as this step's was just spent.
    let o = cs.review(&id, vic, &totp_ahead(vic.totp, 1), "justified");
    let err = expect_error(&o, "refused.self_dealing", "vic reviewing his own grant");
    assert!(err.contains("vic"), "{err}");
    before.unchanged(&cs, false);
    // Someone else may review it.
    expect_ok(
        &cs.review(&id, RITA, &totp(RITA.totp), "justified"),
        "review by rita",
    );
}

#[test]
fn review_of_a_live_override_is_refused() {
    let cs = Cs::demo();
    let sid = cs.stepup_to_fallback("olga");
    let id = cs.grant_ok(&sid, SAM, "15m");
    let before = Before::take(&cs);
    let o = cs.review(&id, RITA, &totp(RITA.totp), "justified");
    let err = expect_error(
        &o,
        "refused.invalid_transition",
        "reviewing a live override",
    );
    assert!(err.contains("active"), "{err}");
    before.unchanged(&cs, false);
    let v = cs.override_by_id(&id);
    assert!(v["review"].is_null(), "{v}");
    assert_eq!(v["status_now"]["status"], "active", "{v}");
}

#[test]
fn wrong_totp_fails_and_ten_failures_lock_the_supervisor_until_unlocked() {
    let cs = Cs::demo();
    let sid = cs.stepup_to_fallback("olga");
    let before = Before::take(&cs);
    for i in 1..=10 {
        let o = cs.grant(&sid, SAM, &wrong_totp(SAM.totp), "5m");
        let err = expect_error(&o, "auth.auth_failed", "a wrong TOTP code");
        assert!(
            err.contains(&format!("{i} of 10")),
            "counts failures: {err}"
        );
    }
    let people = cs.ok(&["people", "list"]);
    let sam = people.lines().find(|l| l.starts_with("sam ")).unwrap();
    assert!(sam.ends_with("LOCKED"), "10 failures lock sam: {sam}");
    // Locked: even the right code is refused.
    let o = cs.grant(&sid, SAM, &totp(SAM.totp), "5m");
    expect_error(&o, "auth.locked", "a locked supervisor with the right code");
    before.unchanged(&cs, false);

    let out = cs.admin_ok(&["people", "unlock", "sam"], &[]);
    assert!(out.contains("sam unlocked"), "{out}");
    let people = cs.ok(&["people", "list"]);
    let sam = people.lines().find(|l| l.starts_with("sam ")).unwrap();
    assert!(sam.ends_with(" ok"), "unlocked: {sam}");
    let id = cs.grant_ok(&sid, SAM, "5m");
    assert_eq!(cs.override_by_id(&id)["grant"]["supervisor"], "sam");
    cs.verify_ok();
}

#[test]
fn grant_reads_the_password_from_stdin_and_a_wrong_one_fails() {
    let cs = Cs::demo();
    let sid = cs.stepup_to_fallback("otto");
    let args = |otp: &str| {
        vec![
            "override".to_string(),
            "grant".into(),
            "--session".into(),
            sid.clone(),
            "--supervisor".into(),
            "sam".into(),
            "--otp".into(),
            otp.into(),
            "--reason".into(),
            "SENSOR_FAULT".into(),
            "--note".into(),
            "n".into(),
            "--control".into(),
            "c".into(),
        ]
    };
    let a = args(&totp(SAM.totp));
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    let o = cs.run_stdin(&a, "not-sams-password\n");
    expect_error(&o, "auth.auth_failed", "a wrong password");
    let a = args(&totp_ahead(SAM.totp, 1));
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    let o = cs.run_stdin(&a, "sam-demo-pass\n");
    expect_ok(&o, "grant with the password on stdin");
    cs.verify_ok();
}

#[test]
fn commands_on_an_uninitialised_data_dir_are_refused() {
    let cs = Cs::uninit();
    for args in [
        vec!["people", "list"],
        vec!["log", "verify"],
        vec!["override", "list"],
        vec![
            "stepup",
            "--operator",
            "olga",
            "--scope",
            SCOPE,
            "--test-scores",
            "0.9",
        ],
    ] {
        cs.fails(&args, "datadir.not_initialized");
    }
    assert!(
        !cs.data.exists(),
        "no command but init creates the data dir"
    );
}

#[test]
fn init_twice_is_refused_but_init_if_missing_is_idempotent() {
    let cs = Cs::demo();
    let n = cs.verify_ok();
    let err = cs.fails(&["init", "--demo"], "datadir.already_initialized");
    assert!(err.contains("already initialised"), "{err}");
    let out = cs.ok(&["init", "--if-missing"]);
    assert!(out.contains("nothing changed"), "{out}");
    let out = cs.ok(&["init", "--demo", "--if-missing"]);
    assert!(out.contains("nothing changed"), "{out}");
    assert_eq!(cs.verify_ok(), n, "init --if-missing writes nothing");

    let fresh = Cs::uninit();
    let first = ["init", "--if-missing", "--admin", "root"];
    let out = expect_ok(
        &fresh.run_env(&first, &[("COUNTERSIGN_SECRET", "root-secret-pass")]),
        "init --if-missing --admin root",
    );
    assert!(out.contains("initialised"), "{out}");
    fresh.ok(&["init", "--if-missing"]);
    fresh.verify_ok();
}

/// `countersign log list | head -1`: the reader goes away; the command
/// ends quietly (exit 0, no panic message) instead of panicking on EPIPE.
#[test]
fn a_closed_stdout_ends_the_command_quietly() {
    let cs = Cs::demo();
    let mut child = cs
        .command(&["log", "list"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take()); // the reader is gone before the first line
    let out = child.wait_with_output().unwrap();
    let err = stderr(&out);
    assert!(
        !err.contains("panicked"),
        "no panic on a closed pipe: {err}"
    );
    assert!(
        out.status.success(),
        "exit 0 on a closed pipe: {:?} {err}",
        out.status
    );
}
