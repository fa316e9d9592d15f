//! Issue 13, item 1, at the engine: a production data dir refuses evidence
//! that was handed to `apply` instead of measured (what the CLI's
//! `--test-*` flags do), whoever calls it; a demo takes it and marks it.

use countersign_core::session::{Modality, SessionEvent};
use countersign_core::{Role, SessionState};
use countersign_engine::{kinds, Engine, InitOptions, ManualClock};
use countersign_ledger::Filter;

use crate::T0;

/// A production data dir (`init` without demo) with one operator; kept in
/// one place because how administration authenticates is changing.
fn production() -> (tempfile::TempDir, Engine) {
    let tmp = tempfile::tempdir().unwrap();
    countersign_engine::use_test_state_dir();
    let dir = tmp.path().join("data");
    let clock = ManualClock::at(T0);
    let report = countersign_engine::DataDir::new(dir.clone())
        .init(
            &InitOptions {
                admin: Some(countersign_engine::FirstAdmin {
                    id: "root".into(),
                    display_name: "Root Admin".into(),
                    secret: "a long admin passphrase".into(),
                }),
                ..Default::default()
            },
            &clock,
        )
        .unwrap();
    let b32 = report
        .admin
        .expect("the first admin's TOTP")
        .totp_secret_base32;
    let key = data_encoding::BASE32_NOPAD
        .decode(b32.trim_end_matches('=').as_bytes())
        .unwrap();
    let code = countersign_core::auth::totp::code_at(&key, T0 / 1000, 30, 6);
    let mut e = Engine::open_with_clock(&dir, Box::new(clock)).unwrap();
    let pass = e
        .admin_sign_in("root", "a long admin passphrase", &code, "test setup")
        .unwrap();
    e.add_person(&pass, "olga", "Olga", [Role::Operator])
        .unwrap();
    (tmp, e)
}

fn count(e: &Engine, kind: &str) -> usize {
    e.ledger()
        .all(&Filter {
            kinds: vec![kind.into()],
            ..Default::default()
        })
        .unwrap()
        .len()
}

#[test]
fn production_engine_refuses_given_results_whoever_applies_them() {
    let (_tmp, mut e) = production();
    assert!(!e.is_demo());
    let given = [
        SessionEvent::Match {
            modality: Modality::Face,
            score: 0.99,
            pad_passed: Some(true),
        },
        SessionEvent::QualityFailure {
            reason: "given".into(),
        },
        SessionEvent::DeviceUnavailable {
            device: "v4l2:0".into(),
            detail: "given".into(),
        },
    ];
    for ev in given {
        let mut s = e
            .start_stepup(
                ["payments.approve".to_string()].into_iter().collect(),
                vec![],
                "cli",
            )
            .unwrap();
        e.identify(&mut s, "olga").unwrap();
        e.apply(&mut s, SessionEvent::Intent).unwrap();
        e.apply(
            &mut s,
            SessionEvent::CaptureStarted {
                device: "v4l2:0".into(),
            },
        )
        .unwrap();
        let err = e.apply(&mut s, ev).unwrap_err();
        assert_eq!(
            err.code(),
            countersign_engine::Code::RefusedDemoOnly,
            "{err}"
        );
        assert!(matches!(s.session.state, SessionState::Capturing { .. }));
    }
    assert_eq!(count(&e, kinds::MATCH_ATTEMPT), 0);
    assert_eq!(count(&e, kinds::CAPTURE_QUALITY_FAILED), 0);
    assert_eq!(count(&e, kinds::CAPTURE_DEVICE_UNAVAILABLE), 0);
    assert_eq!(count(&e, kinds::FALLBACK_TRIGGERED), 0);
    let refused = e
        .ledger()
        .all(&Filter {
            kinds: vec![kinds::STEPUP_REFUSED.into()],
            ..Default::default()
        })
        .unwrap();
    assert_eq!(refused.len(), 3, "each refusal is evidence");
    assert!(refused.iter().all(|r| r.body["refusal"] == "demo_only"));
    assert!(e.ledger().verify().unwrap().problems.is_empty());
}

#[test]
fn a_demo_takes_given_results_and_marks_them() {
    let mut f = crate::demo();
    assert!(f.engine.is_demo());
    let e = &mut f.engine;
    let mut s = e
        .start_stepup(
            ["payments.approve".to_string()].into_iter().collect(),
            vec![],
            "cli",
        )
        .unwrap();
    e.identify(&mut s, "olga").unwrap();
    e.apply(&mut s, SessionEvent::Intent).unwrap();
    e.apply(
        &mut s,
        SessionEvent::CaptureStarted {
            device: "replay:cli".into(),
        },
    )
    .unwrap();
    e.apply(
        &mut s,
        SessionEvent::Match {
            modality: Modality::Face,
            score: 0.99,
            pad_passed: None,
        },
    )
    .unwrap();
    assert!(matches!(s.session.state, SessionState::Succeeded { .. }));
    let m = e
        .ledger()
        .all(&Filter {
            kinds: vec![kinds::MATCH_ATTEMPT.into()],
            ..Default::default()
        })
        .unwrap();
    assert_eq!(m[0].body["test_input"]["demo"], true, "{}", m[0].body);
}

/// The demo credentials are the engine's: codes of the policy's step and
/// digits (not a fixed 30 s / 6), that sign in, each of a step not used yet;
/// and none on a data dir that is not a demo one.
#[test]
fn demo_credentials_follow_the_policys_totp_and_sign_in() {
    let mut f = crate::demo();
    let pass = crate::admin(&mut f);
    let src = std::fs::read_to_string(f.engine.data_dir().join("policy.toml")).unwrap();
    let src = src
        .replace("totp_step_seconds = 30", "totp_step_seconds = 60")
        .replace("totp_digits = 6", "totp_digits = 8");
    f.engine.apply_policy(&pass, &src).unwrap();
    f.clock.advance(120_000);
    let creds = f.engine.demo_credentials().unwrap();
    assert!(creds.iter().any(|c| c.id == "ada"), "{creds:?}");
    for c in &creds {
        assert_eq!(c.otp.len(), 8, "{}: {:?}", c.id, c.otp);
    }
    let ada = creds.iter().find(|c| c.id == "ada").unwrap().clone();
    f.engine
        .admin_sign_in("ada", &ada.secret, &ada.otp, "demo credentials")
        .unwrap();
    // The step is used now: the next call hands out another step's code.
    let again = f.engine.demo_credentials().unwrap();
    let next = again.iter().find(|c| c.id == "ada").unwrap();
    assert_ne!(next.otp, ada.otp);
    f.engine
        .admin_sign_in("ada", &next.secret, &next.otp, "demo credentials again")
        .unwrap();
    assert!(
        !format!("{ada:?}").contains(&ada.secret),
        "Debug hides the secret"
    );
}

#[test]
fn a_real_data_dir_has_no_demo_credentials() {
    let tmp = tempfile::tempdir().unwrap();
    countersign_engine::use_test_state_dir();
    let dir = tmp.path().join("data");
    let clock = countersign_engine::ManualClock::at(crate::T0);
    countersign_engine::DataDir::new(dir.clone())
        .init(&Default::default(), &clock)
        .unwrap();
    let e = countersign_engine::Engine::open_with_clock(&dir, Box::new(clock)).unwrap();
    assert_eq!(
        e.demo_credentials().unwrap_err().code(),
        countersign_engine::Code::RefusedDemoOnly
    );
}
