//! Item 8: no unauthenticated case actions.
//!
//! An insider at the kiosk's shell tries to change someone's override case
//! without proving who they are: spending a grant with `override use`
//! (outside the assertion path), and closing a person's override with
//! `breakglass reconcile`. Neither changes the case.

use serde_json::Value;

use crate::helpers::*;

fn events_of(cs: &Cs, kind: &str) -> Vec<Value> {
    cs.events()
        .into_iter()
        .filter(|e| e["kind"] == kind)
        .collect()
}

#[test]
fn override_use_from_the_shell_cannot_spend_a_grant() {
    let cs = Cs::demo();
    let sid = cs.stepup_to_fallback("olga");
    let id = cs.grant_ok(&sid, SAM, "15m");
    let n = cs.verify_ok();
    let o = cs.run(&["override", "use", &id, "--scope", SCOPE]);
    assert!(
        !o.status.success(),
        "`override use` is refused\n{}",
        stdout(&o)
    );
    let v = cs.override_by_id(&id);
    assert_eq!(v["status_now"]["status"], "active", "{v}");
    assert!(events_of(&cs, "override.used").is_empty());
    assert_eq!(cs.verify_ok(), n, "nothing was written");
}

#[test]
fn breakglass_reconcile_cannot_close_a_persons_override() {
    let cs = Cs::demo();
    let sid = cs.stepup_to_fallback("olga");
    let id = cs.grant_ok(&sid, SAM, "1s");
    std::thread::sleep(std::time::Duration::from_millis(1300));
    // No one named: refused.
    let o = cs.run(&["breakglass", "reconcile", &id]);
    assert!(!o.status.success(), "{}", stdout(&o));
    // A supervisor with a wrong code: refused.
    let o = cs.run_env(
        &[
            "breakglass",
            "reconcile",
            &id,
            "--by",
            "sue",
            "--otp",
            &wrong_totp(SUE.totp),
        ],
        &[("COUNTERSIGN_SECRET", SUE.pass)],
    );
    assert!(!o.status.success(), "{}", stdout(&o));
    // With her two factors: still refused, it is olga's override.
    let o = cs.run_env(
        &[
            "breakglass",
            "reconcile",
            &id,
            "--by",
            "sue",
            "--otp",
            &totp(SUE.totp),
        ],
        &[("COUNTERSIGN_SECRET", SUE.pass)],
    );
    expect_error(&o, "override.not_breakglass", "reconciling olga's override");
    let v = cs.override_by_id(&id);
    assert!(v["reconciled"].is_null(), "not reconciled: {v}");
    assert_eq!(v["closed"], false);
    assert!(events_of(&cs, "override.reconciled").is_empty());
    let refused = events_of(&cs, "override.refused");
    assert!(
        refused
            .iter()
            .any(|e| e["body"]["refusal"] == "override.not_breakglass"),
        "the attempt is evidence: {refused:?}"
    );
    cs.verify_ok();
}
