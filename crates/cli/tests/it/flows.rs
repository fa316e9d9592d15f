//! The happy paths, end to end.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::helpers::*;

fn sleep_until(t: Instant) {
    let now = Instant::now();
    if t > now {
        std::thread::sleep(t - now);
    }
}

#[test]
fn full_journey_fallback_grant_use_expire_review_reconcile_verify_export() {
    let cs = Cs::demo();

    // Five failed matches: exit 3, the failure_limit fallback is offered.
    let sid = cs.stepup_to_fallback("olga");
    let last_failure = Instant::now();

    // Sam grants for 2 s (a relying application would use it through an
    // assertion: there is no `override use` from the shell).
    let id = cs.grant_ok(&sid, SAM, "2s");
    let granted = Instant::now();
    let v = cs.override_by_id(&id);
    assert_eq!(v["grant"]["operator"], "olga");
    assert_eq!(v["grant"]["supervisor"], "sam");
    assert_eq!(v["grant"]["trigger"], "failure_limit");

    // After expiry it is expired.
    sleep_until(granted + Duration::from_millis(2500));
    let v = cs.override_by_id(&id);
    assert_eq!(v["status_now"]["status"], "expired", "{v}");
    assert_eq!(v["closed"], false, "not reviewed yet: {v}");

    // Rita reviews it (justified); it stays open until reconciled.
    let o = cs.review(&id, RITA, &totp(RITA.totp), "justified");
    let out = expect_ok(&o, "review by rita");
    assert!(out.contains("reviewed by rita: justified"), "{out}");
    let v = cs.override_by_id(&id);
    assert_eq!(v["review"]["reviewer"], "rita", "{v}");
    assert_eq!(v["closed"], false, "open until the operator steps up: {v}");

    // The next biometric attempt is throttled for 30 s after the fifth failure.
    sleep_until(last_failure + Duration::from_secs(31));
    let o = cs.run(&[
        "stepup",
        "--operator",
        "olga",
        "--scope",
        SCOPE,
        "--test-scores",
        "0.9",
    ]);
    let out = expect_ok(&o, "a matching step-up after the throttle");
    assert!(out.contains("succeeded: olga matched"), "{out}");
    let v = cs.override_by_id(&id);
    assert_eq!(v["closed"], true, "a successful step-up reconciles: {v}");
    assert!(!v["reconciled"].is_null(), "{v}");

    // The evidence: verifies, and exports one line per event.
    let n = cs.verify_ok();
    let jsonl = cs.root().join("events.jsonl");
    cs.ok(&[
        "log",
        "export",
        "--format",
        "jsonl",
        "--out",
        jsonl.to_str().unwrap(),
    ]);
    let text = std::fs::read_to_string(&jsonl).unwrap();
    assert_eq!(text.lines().count() as u64, n, "one jsonl line per event");
    let kinds: Vec<String> = text
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["kind"].to_string())
        .collect();
    for k in [
        "fallback.triggered",
        "override.granted",
        "override.expired",
        "override.reviewed",
        "override.reconciled",
        "stepup.succeeded",
    ] {
        assert!(
            kinds.iter().any(|x| x.contains(k)),
            "{k} is in the log: {kinds:?}"
        );
    }

    let ocsf = cs.root().join("events.ocsf");
    cs.ok(&[
        "log",
        "export",
        "--format",
        "ocsf",
        "--out",
        ocsf.to_str().unwrap(),
    ]);
    let text = std::fs::read_to_string(&ocsf).unwrap();
    let recs: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("each OCSF line is JSON"))
        .collect();
    assert_eq!(recs.len() as u64, n, "one OCSF record per event");
    // Every record valid OCSF 1.5 by the independent validator, each in its class.
    super::ocsf::validate(&ocsf);
    for (kind, class) in [
        ("match.attempt", 3002),
        ("fallback.triggered", 3002),
        ("supervisor.auth", 3002),
        ("override.granted", 3003),
        ("override.reviewed", 3003),
        ("override.reconciled", 3003),
    ] {
        let r = recs
            .iter()
            .find(|r| r["unmapped"]["kind"] == kind)
            .unwrap_or_else(|| panic!("a {kind} record"));
        assert_eq!(r["class_uid"], class, "{kind}: {r}");
    }
    let granted = recs
        .iter()
        .find(|r| r["unmapped"]["kind"] == "override.granted")
        .expect("an override.granted record");
    let ov = &granted["countersign_override"];
    assert!(
        ov.is_object(),
        "override.granted carries countersign_override: {granted}"
    );
    assert_eq!(ov["override_id"], id.as_str(), "{ov}");
    assert_eq!(ov["supervisor"], "sam", "{ov}");
    assert_eq!(ov["reason_code"], "SENSOR_FAULT", "{ov}");
}

#[test]
fn device_unavailable_offers_the_fallback() {
    let cs = Cs::demo();
    let o = cs.run(&[
        "stepup",
        "--operator",
        "otto",
        "--scope",
        SCOPE,
        "--test-device-unavailable",
    ]);
    expect_exit(&o, 3, "no device: the step-up cannot complete");
    assert!(
        stdout(&o).contains("fallback offered: device_unavailable"),
        "{}",
        stdout(&o)
    );
    let id = cs.grant_ok(&session_id(&o), SAM, "5m");
    let v = cs.override_by_id(&id);
    assert_eq!(v["grant"]["trigger"], "device_unavailable", "{v}");
    assert_eq!(v["status_now"]["status"], "active", "{v}");
    cs.verify_ok();
}

#[test]
fn quality_failures_offer_the_fallback_at_the_limit_only() {
    let cs = Cs::demo();
    // Two rejected captures are under the limit of 3: a match still succeeds.
    let o = cs.run(&[
        "stepup",
        "--operator",
        "otto",
        "--scope",
        SCOPE,
        "--test-quality-failures",
        "2",
        "--test-scores",
        "0.9",
    ]);
    let out = expect_ok(&o, "2 quality failures then a match");
    assert!(out.contains("succeeded"), "{out}");

    let o = cs.run(&[
        "stepup",
        "--operator",
        "olga",
        "--scope",
        SCOPE,
        "--test-quality-failures",
        "3",
    ]);
    expect_exit(&o, 3, "3 quality failures end the step-up without success");
    assert!(
        stdout(&o).contains("fallback offered: capture_quality"),
        "{}",
        stdout(&o)
    );
    let id = cs.grant_ok(&session_id(&o), SUE, "5m");
    let v = cs.override_by_id(&id);
    assert_eq!(v["grant"]["trigger"], "capture_quality", "{v}");
    assert_eq!(v["grant"]["supervisor"], "sue", "{v}");
    cs.verify_ok();
}
