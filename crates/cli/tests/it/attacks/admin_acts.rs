//! Item 5: administration is authenticated and the registry is evidence.
//!
//! An insider with a shell on the kiosk tries to make someone a supervisor:
//! first by naming an admin (`--by ada`) without her factors, then with a
//! supervisor's or a reviewer's own factors, then by editing the `people`
//! table with `sqlite3` (roles, lockout, credentials), and by editing
//! `policy.toml`. Every attempt is refused and leaves evidence; every SQL
//! edit makes `log verify` fail naming the person, and the engine refuses
//! to act on that person.

use std::process::Command;

use serde_json::Value;

use crate::helpers::*;

fn people(cs: &Cs) -> Vec<Value> {
    serde_json::from_str(&cs.ok(&["--json", "people", "list"])).unwrap()
}

fn has_person(cs: &Cs, id: &str) -> bool {
    people(cs).iter().any(|p| p["id"] == id)
}

fn sql(cs: &Cs, stmt: &str) {
    let o = Command::new("sqlite3")
        .arg(cs.data.join("ledger.db"))
        .arg(stmt)
        .output()
        .expect("sqlite3 (Debian package sqlite3) runs");
    assert!(o.status.success(), "sqlite3 {stmt}: {}", stderr(&o));
}

fn events_of(cs: &Cs, kind: &str) -> Vec<Value> {
    cs.events()
        .into_iter()
        .filter(|e| e["kind"] == kind)
        .collect()
}

/// `log verify` fails naming `who` as a registry mismatch.
fn verify_names(cs: &Cs, who: &str) {
    let o = cs.run(&["--json", "log", "verify"]);
    assert!(!o.status.success(), "log verify must fail\n{}", stdout(&o));
    let v: Value = serde_json::from_str(&stdout(&o)).expect("JSON report");
    let named = v["problems"].as_array().unwrap().iter().any(|p| {
        p["what"] == "registry_mismatch"
            && p["detail"]
                .as_str()
                .unwrap_or_default()
                .contains(&format!("person {who}"))
    });
    assert!(named, "verify names {who}: {v}");
    let err = cs.fails(&["log", "verify"], "ledger.verify_failed");
    assert!(err.contains(who), "{err}");
}

#[test]
fn naming_an_admin_without_her_factors_adds_nobody() {
    let cs = Cs::demo();
    let n = cs.verify_ok();
    let add = [
        "people",
        "add",
        "mallory",
        "--name",
        "Mallory",
        "--role",
        "supervisor",
        "--by",
        "ada",
    ];
    // No factor at all.
    let o = cs.run(&add);
    assert!(!o.status.success(), "no factors: refused\n{}", stdout(&o));
    // The code but no password (no COUNTERSIGN_SECRET, empty stdin).
    let code = cs.fresh_code(ADA);
    let with_code: Vec<&str> = add.iter().copied().chain(["--otp", &code]).collect();
    let o = cs.run(&with_code);
    assert!(!o.status.success(), "no password: refused\n{}", stdout(&o));
    // Her password and a wrong code.
    let bad = wrong_totp(ADA.totp);
    let with_bad: Vec<&str> = add.iter().copied().chain(["--otp", &bad]).collect();
    let o = cs.run_env(&with_bad, &[("COUNTERSIGN_SECRET", ADA.pass)]);
    expect_error(&o, "auth.auth_failed", "ada's password with a wrong code");
    // A right code with a wrong password.
    let code = cs.fresh_code(ADA);
    let with_code: Vec<&str> = add.iter().copied().chain(["--otp", &code]).collect();
    let o = cs.run_env(&with_code, &[("COUNTERSIGN_SECRET", "guessed-pass")]);
    expect_error(&o, "auth.auth_failed", "a wrong password with ada's code");

    assert!(!has_person(&cs, "mallory"), "mallory was not added");
    assert!(events_of(&cs, "person.added")
        .iter()
        .all(|e| e["index"]["person"] != "mallory"));
    // Both failures are evidence (ada's, as admin); nothing else happened.
    let fails: Vec<Value> = events_of(&cs, "supervisor.auth")
        .into_iter()
        .filter(|e| e["index"]["outcome"] == "failure" && e["index"]["person"] == "ada")
        .collect();
    assert_eq!(fails.len(), 2, "{fails:?}");
    assert!(fails.iter().all(|e| e["body"]["role"] == "admin"));
    assert_eq!(cs.verify_ok(), n + 2);

    // mallory, never added, cannot grant.
    let sid = cs.stepup_to_fallback("olga");
    let mallory = Person {
        id: "mallory",
        pass: "mallory-pass",
        totp: SAM.totp,
    };
    let o = cs.grant(&sid, mallory, &totp(SAM.totp), "5m");
    expect_error(&o, "person.unknown", "a grant by mallory");
    assert!(cs.overrides().is_empty());

    // With her two factors, ada adds people; the event names her.
    cs.admin_ok(&add[..add.len() - 2], &[]);
    let added = events_of(&cs, "person.added");
    let m = added
        .iter()
        .find(|e| e["index"]["person"] == "mallory")
        .unwrap();
    assert_eq!(m["body"]["by"], "ada");
    cs.verify_ok();
}

#[test]
fn supervisors_and_reviewers_cannot_do_admin_acts() {
    let cs = Cs::demo();
    let n = cs.verify_ok();
    let key = cs.root().join("k.pub");
    std::fs::write(&key, "ab".repeat(32)).unwrap();
    let policy = cs.root().join("p.toml");
    std::fs::write(&policy, std::fs::read(cs.data.join("policy.toml")).unwrap()).unwrap();
    let acts: Vec<Vec<&str>> = vec![
        vec![
            "people",
            "add",
            "mallory",
            "--name",
            "M",
            "--role",
            "supervisor",
        ],
        vec!["people", "role", "rita", "--set", "reviewer,supervisor"],
        vec!["people", "credentials", "olga"],
        vec!["people", "unlock", "sam"],
        vec![
            "client",
            "add",
            "evil-app",
            "--name",
            "E",
            "--scope",
            "payments.approve",
            "--public-key",
            key.to_str().unwrap(),
        ],
        vec![
            "principal",
            "add",
            "svc-evil",
            "--kind",
            "agent",
            "--owner",
            "sue",
            "--scope",
            "payments.approve",
        ],
        vec!["policy", "apply", policy.to_str().unwrap()],
    ];
    let mut failures = 0;
    for who in [SAM, RITA, SUE] {
        // Their own, valid factors (the role is checked before the code,
        // so one code serves every attempt).
        let code = totp(who.totp);
        for act in &acts {
            let mut args = act.clone();
            args.extend(["--by", who.id, "--otp", &code]);
            let o = cs.run_env(
                &args,
                &[
                    ("COUNTERSIGN_SECRET", who.pass),
                    ("COUNTERSIGN_NEW_SECRET", "a-new-secret-pass"),
                ],
            );
            expect_error(
                &o,
                "auth.not_permitted",
                &format!("{} by {}", act.join(" "), who.id),
            );
            failures += 1;
        }
    }
    assert!(!has_person(&cs, "mallory"));
    let rita = people(&cs).into_iter().find(|p| p["id"] == "rita").unwrap();
    assert_eq!(rita["roles"], serde_json::json!(["reviewer"]));
    assert!(
        cs.ok(&["client", "list"]).trim().is_empty(),
        "no client registered"
    );
    assert!(!cs.ok(&["principal", "list"]).contains("svc-evil"));
    // Each refusal is one signed event; nothing else was written.
    assert_eq!(cs.verify_ok(), n + failures);
}

#[test]
fn a_real_kiosk_starts_with_one_admin_who_signs_in_with_two_factors() {
    let cs = Cs::uninit();
    // No admin, no kiosk.
    let o = cs.run(&["init"]);
    assert!(!o.status.success(), "init without --admin is refused");
    assert!(!cs.data.exists());
    let o = cs.run_env(
        &["init", "--admin", "root", "--admin-name", "Root Admin"],
        &[("COUNTERSIGN_SECRET", "root-secret-pass")],
    );
    let out = expect_ok(&o, "init --admin root");
    assert!(!out.contains("root-secret-pass"));
    let secret = out
        .lines()
        .find_map(|l| l.trim().strip_prefix("secret: "))
        .unwrap_or_else(|| panic!("the TOTP secret is shown once: {out}"))
        .to_string();
    assert!(
        out.contains("otpauth://totp/Countersign:root?secret="),
        "{out}"
    );
    let root = Person {
        id: "root",
        pass: "root-secret-pass",
        totp: Box::leak(secret.into_boxed_str()),
    };
    // Nobody but root can add the first people.
    let o = cs.run(&[
        "people",
        "add",
        "sam",
        "--name",
        "Sam",
        "--role",
        "supervisor",
        "--by",
        "root",
    ]);
    assert!(!o.status.success());
    let o = cs.admin_run(
        root,
        &[
            "people",
            "add",
            "sam",
            "--name",
            "Sam",
            "--role",
            "supervisor",
        ],
        &[],
    );
    expect_ok(&o, "root adds sam");
    let people = people(&cs);
    assert_eq!(
        people
            .iter()
            .map(|p| p["id"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["root", "sam"]
    );
    // The secret is never stored or logged in clear.
    let log = cs.ok(&["log", "export", "--format", "jsonl"]);
    assert!(!log.contains(root.totp) && !log.contains("root-secret-pass"));
    cs.verify_ok();
}

#[test]
fn a_role_given_by_sql_is_caught_by_verify_and_refused_by_the_engine() {
    let cs = Cs::demo();
    cs.verify_ok();
    // rita is a reviewer; the insider makes her a supervisor in the table.
    sql(
        &cs,
        "UPDATE people SET roles = '[\"supervisor\",\"reviewer\"]' WHERE id = 'rita'",
    );
    verify_names(&cs, "rita");
    let sid = cs.stepup_to_fallback("olga");
    let o = cs.grant(&sid, RITA, &totp(RITA.totp), "5m");
    let err = expect_error(
        &o,
        "registry.tampered",
        "a grant by rita-made-supervisor-by-SQL",
    );
    assert!(err.contains("rita"), "{err}");
    assert!(cs.overrides().is_empty(), "no override granted");
    let refused = events_of(&cs, "registry.refused");
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(refused[0]["index"]["person"], "rita");
    // The rest of the registry still works: sam grants.
    cs.grant_ok(&sid, SAM, "5m");
}

#[test]
fn an_unlock_by_sql_is_caught_by_verify_and_refused_by_the_engine() {
    let cs = Cs::demo();
    let sid = cs.stepup_to_fallback("olga");
    for _ in 0..10 {
        let o = cs.grant(&sid, SAM, &wrong_totp(SAM.totp), "5m");
        assert!(!o.status.success());
    }
    let o = cs.grant(&sid, SAM, &totp(SAM.totp), "5m");
    expect_error(&o, "auth.locked", "sam is locked after 10 failures");
    cs.verify_ok();
    sql(
        &cs,
        "UPDATE people SET locked = 0, failed_auths = 0 WHERE id = 'sam'",
    );
    verify_names(&cs, "sam");
    let o = cs.grant(&sid, SAM, &totp_ahead(SAM.totp, 1), "5m");
    expect_error(&o, "registry.tampered", "a grant by sam unlocked by SQL");
    assert!(cs.overrides().is_empty());
    // A failure count rewound by SQL is caught the same way.
    let cs = Cs::demo();
    let sid = cs.stepup_to_fallback("olga");
    for _ in 0..3 {
        assert!(!cs
            .grant(&sid, SUE, &wrong_totp(SUE.totp), "5m")
            .status
            .success());
    }
    sql(&cs, "UPDATE people SET failed_auths = 0 WHERE id = 'sue'");
    verify_names(&cs, "sue");
    let o = cs.grant(&sid, SUE, &totp(SUE.totp), "5m");
    expect_error(
        &o,
        "registry.tampered",
        "a grant by sue with her failures rewound",
    );
}

#[test]
fn credentials_swapped_by_sql_are_caught_by_verify_and_refused_by_the_engine() {
    let cs = Cs::demo();
    // sue's password hash replaced by sam's: sam's password would open sue.
    sql(
        &cs,
        "UPDATE people SET secret_phc = (SELECT secret_phc FROM people WHERE id = 'sam') WHERE id = 'sue'",
    );
    verify_names(&cs, "sue");
    let sid = cs.stepup_to_fallback("olga");
    let sue_with_sams_password = Person {
        id: "sue",
        pass: SAM.pass,
        totp: SUE.totp,
    };
    let o = cs.grant(&sid, sue_with_sams_password, &totp(SUE.totp), "5m");
    expect_error(&o, "registry.tampered", "sue with a swapped password hash");
    // A person inserted by SQL (no person.added event) is refused too.
    sql(
        &cs,
        "INSERT INTO people (id, display_name, roles, secret_phc, failed_auths, locked, created_ms) SELECT 'eve', 'Eve', '[\"supervisor\"]', secret_phc, 0, 0, 0 FROM people WHERE id = 'sam'",
    );
    verify_names(&cs, "eve");
    let eve = Person {
        id: "eve",
        pass: SAM.pass,
        totp: SAM.totp,
    };
    let o = cs.grant(&sid, eve, &totp(SAM.totp), "5m");
    expect_error(&o, "registry.tampered", "a grant by eve, inserted by SQL");
    assert!(cs.overrides().is_empty());
}

#[test]
fn a_policy_edited_on_disk_is_not_used_and_the_refusal_is_logged() {
    let cs = Cs::demo();
    let path = cs.data.join("policy.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let before: Value = serde_json::from_str(&cs.ok(&["policy", "show"])).unwrap();
    let max = before["override"]["max_duration_minutes"].as_u64().unwrap();
    // The insider lets overrides last 8 hours (the policy's outer bound).
    let edited = text.replacen(
        &format!("max_duration_minutes = {max}"),
        "max_duration_minutes = 480",
        1,
    );
    assert_ne!(edited, text, "the policy names max_duration_minutes");
    std::fs::write(&path, &edited).unwrap();
    let now: Value = serde_json::from_str(&cs.ok(&["policy", "show"])).unwrap();
    assert_eq!(now, before, "the applied policy stays in force");
    cs.ok(&["people", "list"]);
    let refused = events_of(&cs, "policy.refused");
    assert_eq!(refused.len(), 1, "logged once per edited file: {refused:?}");
    let sid = cs.stepup_to_fallback("olga");
    let o = cs.grant(&sid, SAM, &totp(SAM.totp), "1440m");
    expect_error(
        &o,
        "refused.over_cap",
        "a day-long grant under the edited file",
    );
    // Applied by an admin with two factors, it is in force.
    let file = cs.root().join("long.toml");
    std::fs::write(&file, &edited).unwrap();
    cs.admin_ok(&["policy", "apply", file.to_str().unwrap()], &[]);
    let now: Value = serde_json::from_str(&cs.ok(&["policy", "show"])).unwrap();
    assert_eq!(now["override"]["max_duration_minutes"], 480);
    let loaded = events_of(&cs, "policy.loaded");
    assert_eq!(loaded.last().unwrap()["body"]["by"], "ada");
    cs.verify_ok();
}
