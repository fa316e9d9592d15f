//! Item 3: a TOTP code is good once, even when two processes race.
//!
//! The attack: a supervisor's code seen once (over a shoulder, on a
//! screen) is sent by two `override grant` processes at the same moment,
//! for two different step-ups, hoping both read "step not used yet" before
//! either records it. The used-step check and its record are one write
//! transaction, so exactly one succeeds; the other is refused as a replay,
//! and both are in the ledger.

use super::attempt_race::{behind_barrier, outputs};
use crate::helpers::{totp, Cs, SAM};

#[test]
fn two_racing_grants_with_one_code_exactly_one_succeeds() {
    let cs = Cs::demo();
    let sessions = [cs.stepup_to_fallback("olga"), cs.stepup_to_fallback("otto")];
    // One code, fresh in its step for long enough that both processes use
    // the same step (never one this step and one the next).
    let code = loop {
        let s = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        if s % 30 < 20 {
            break totp(SAM.totp);
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    };
    let barrier = cs.root().join("barrier");
    let kids = sessions
        .iter()
        .map(|sid| {
            behind_barrier(
                &cs,
                &barrier,
                0,
                &[("COUNTERSIGN_SECRET", SAM.pass)],
                &[
                    "override",
                    "grant",
                    "--session",
                    sid,
                    "--supervisor",
                    SAM.id,
                    "--otp",
                    &code,
                    "--duration",
                    "10m",
                    "--reason",
                    "SENSOR_FAULT",
                    "--note",
                    "camera fogged",
                    "--control",
                    "second person watched",
                ],
            )
        })
        .collect();
    std::fs::write(&barrier, b"go").unwrap();
    let outs = outputs(kids);
    let show = format!("{outs:#?}");
    let ok = outs.iter().filter(|(c, _, _)| *c == Some(0)).count();
    assert_eq!(ok, 1, "exactly one grant with one code\n{show}");
    let refused: Vec<_> = outs.iter().filter(|(c, _, _)| *c != Some(0)).collect();
    assert!(
        refused[0].2.starts_with("error[auth.totp_replayed]: "),
        "the other is refused as a replay\n{show}"
    );

    let auths: Vec<_> = cs
        .events()
        .into_iter()
        .filter(|e| e["kind"] == "supervisor.auth" && e["index"]["supervisor"] == SAM.id)
        .collect();
    let outcome = |o: &str| auths.iter().filter(|e| e["index"]["outcome"] == o).count();
    assert_eq!(
        (outcome("success"), outcome("failure")),
        (1, 1),
        "both attempts are recorded: one success, one refusal\n{auths:#?}"
    );
    let failure = auths
        .iter()
        .find(|e| e["index"]["outcome"] == "failure")
        .unwrap();
    assert_eq!(failure["body"]["refusal"], "totp_replayed");
    assert_eq!(
        cs.overrides().len(),
        1,
        "one override exists, not two\n{show}"
    );
}
