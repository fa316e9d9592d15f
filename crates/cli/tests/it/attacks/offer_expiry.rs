//! Item 6: an offered fallback expires. A fallback offered on Monday must
//! not be granted on Thursday: past the policy's `[fallback]
//! offer_ttl_minutes` (15 by default) a grant is refused with
//! `refused.offer_expired`, before any factor is asked for, and the refusal
//! is in the ledger. The clock is moved with libfaketime in the granting
//! process only, as an insider who waits would move it.

use serde_json::Value;

use crate::helpers::*;

const LIBFAKETIME: &str = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";

/// `override grant` by sam in a process whose clock runs `minutes` ahead,
/// with the TOTP code of that moment (so only the offer's age can refuse it).
fn grant_later(cs: &Cs, session: &str, minutes: i64) -> std::process::Output {
    let offset = format!("+{minutes}m");
    cs.run_env(
        &[
            "override",
            "grant",
            "--session",
            session,
            "--supervisor",
            SAM.id,
            "--otp",
            &totp_ahead(SAM.totp, minutes * 2),
            "--duration",
            "5m",
            "--reason",
            "SENSOR_FAULT",
            "--note",
            "camera fogged",
            "--control",
            "second person watched",
        ],
        &[
            ("COUNTERSIGN_SECRET", SAM.pass),
            ("LD_PRELOAD", LIBFAKETIME),
            ("FAKETIME", &offset),
            ("FAKETIME_DONT_RESET", "1"),
        ],
    )
}

#[test]
fn a_fallback_offered_long_ago_cannot_be_granted() {
    assert!(
        std::path::Path::new(LIBFAKETIME).exists(),
        "libfaketime is missing: scripts/setup.sh installs Debian's faketime"
    );
    let cs = Cs::demo();
    // Two offers made now, one acted on within the 15 minutes, one after.
    let in_time = cs.stepup_to_fallback("olga");
    let too_late = cs.stepup_to_fallback("olga");

    let o = grant_later(&cs, &in_time, 14);
    let out = expect_ok(&o, "a grant 14 min after the offer");
    assert!(out.contains("granted by sam"), "{out}");

    let o = grant_later(&cs, &too_late, 16);
    let err = expect_error(
        &o,
        "refused.offer_expired",
        "a grant 16 min after the offer",
    );
    assert!(!err.contains(SAM.pass), "no secret in the message: {err}");

    // Recorded, and no factor was spent on it.
    let events = cs.events();
    let refused: Vec<&Value> = events
        .iter()
        .filter(|e| e["kind"] == "stepup.refused" && e["body"]["refusal"] == "offer_expired")
        .collect();
    assert_eq!(refused.len(), 1, "the refusal is evidence: {refused:?}");
    assert_eq!(refused[0]["body"]["session_id"], too_late.as_str());
    let grants = events
        .iter()
        .filter(|e| e["kind"] == "override.granted")
        .count();
    assert_eq!(grants, 1, "only the offer acted on in time was granted");
    let sam_auths_late = events
        .iter()
        .filter(|e| {
            e["kind"] == "supervisor.auth"
                && e["body"]["purpose"]
                    .as_str()
                    .is_some_and(|p| p.contains(&too_late))
        })
        .count();
    assert_eq!(sam_auths_late, 0, "no factor asked for an expired offer");
}
