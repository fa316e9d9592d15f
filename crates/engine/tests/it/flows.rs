use std::collections::BTreeSet;

use countersign_core::session::{GrantRequest, Modality, SessionEvent};
use countersign_core::{Disposition, GrantStatus};
use countersign_engine::{kinds, EngineError, ReviewInput, StepUp, StepUpOutcome};
use countersign_ledger::Filter;

use crate::{demo, factors, Fixture};

pub(crate) fn scope(s: &str) -> BTreeSet<String> {
    s.split(',').map(String::from).collect()
}

fn attempt(f: &mut Fixture, s: &mut StepUp, score: f64) {
    f.engine.apply(s, SessionEvent::Intent).unwrap();
    f.engine
        .apply(
            s,
            SessionEvent::CaptureStarted {
                device: "replay:test".into(),
            },
        )
        .unwrap();
    f.engine
        .apply(
            s,
            SessionEvent::Match {
                modality: Modality::Face,
                score,
                pad_passed: None,
            },
        )
        .unwrap();
}

/// A step-up for `operator` whose camera went away: the fallback is on offer.
fn unavailable(
    f: &mut Fixture,
    operator: &str,
    scopes: &str,
    acr: Vec<String>,
    detail: &str,
) -> StepUp {
    let mut s = f.engine.start_stepup(scope(scopes), acr, "app").unwrap();
    f.engine.identify(&mut s, operator).unwrap();
    f.engine.apply(&mut s, SessionEvent::Intent).unwrap();
    f.engine
        .apply(
            &mut s,
            SessionEvent::DeviceUnavailable {
                device: "cam0".into(),
                detail: detail.into(),
            },
        )
        .unwrap();
    assert_eq!(
        s.session.state.name(),
        "fallback_offered",
        "device_unavailable offers the fallback"
    );
    s
}

fn grant_req(minutes: i64) -> GrantRequest {
    GrantRequest {
        grant_id: "ovr-test-1".into(),
        scope: scope("payments.approve"),
        duration_ms: Some(minutes * 60_000),
        reason_code: "ENROLLMENT_DRIFT".into(),
        note: "bandage on the operator's face".into(),
        ticket: Some("INC-1".into()),
        compensating_control: "second person watches".into(),
    }
}

pub(crate) fn count(f: &Fixture, kind: &str) -> usize {
    f.engine
        .ledger()
        .query(
            &Filter {
                kinds: vec![kind.into()],
                ..Default::default()
            },
            &countersign_ledger::PageRequest {
                after_seq: None,
                limit: 1000,
                newest_first: false,
            },
        )
        .unwrap()
        .rows
        .len()
}

/// Five failures, the trigger, a supervisor's two factors, a grant, its use,
/// expiry by the clock, a third person's review, and reconciliation by the
/// operator's next successful match; then the whole ledger verifies.
#[test]
fn full_fallback_lifecycle_is_recorded_and_verifies() {
    let mut f = demo();
    let mut s = f
        .engine
        .start_stepup(scope("payments.approve"), vec!["phr".into()], "test-app")
        .unwrap();
    f.engine.identify(&mut s, "olga").unwrap();
    for _ in 0..5 {
        attempt(&mut f, &mut s, 0.1);
    }
    assert!(
        matches!(f.engine.outcome(&s), StepUpOutcome::FallbackOffered { ref trigger, .. } if trigger == "failure_limit")
    );

    let (secret, code) = factors(&f, "sam");
    let e = f
        .engine
        .supervisor_login(&mut s, "sam", "wrong-password", &code)
        .unwrap_err();
    assert_eq!(
        e.code(),
        countersign_engine::Code::AuthAuthFailed,
        "a wrong password fails even with a good code"
    );
    f.clock.advance(30_000); // next TOTP step: the previous code cannot be replayed
    let (_, code) = factors(&f, "sam");
    f.engine
        .supervisor_login(&mut s, "sam", secret, &code)
        .unwrap();
    let grant = f.engine.grant(&mut s, grant_req(15)).unwrap();
    assert_eq!(grant.expires_at - grant.granted_at, 15 * 60_000);

    let (rs, rc) = factors(&f, "rita");
    let early = f.engine.review_override(
        &grant.id,
        ReviewInput {
            reviewer: "rita",
            secret: rs,
            otp: &rc,
            disposition: Disposition::Justified,
            notes: "",
        },
    );
    assert_eq!(
        early.unwrap_err().code(),
        countersign_engine::Code::RefusedInvalidTransition,
        "a live grant cannot be reviewed yet"
    );

    f.clock.advance(15 * 60_000);
    assert_eq!(f.engine.expire_due().unwrap(), vec![grant.id.clone()]);
    assert!(
        f.engine.expire_due().unwrap().is_empty(),
        "expiry is written once"
    );
    assert!(matches!(
        f.engine.load_case(&grant.id).unwrap().status,
        GrantStatus::Expired { .. }
    ));

    let pending = f
        .engine
        .list_overrides(&countersign_engine_filter(true), 10)
        .unwrap();
    assert_eq!(pending.len(), 1);
    f.clock.advance(30_000);
    let (rs, rc) = factors(&f, "rita");
    let v = f
        .engine
        .review_override(
            &grant.id,
            ReviewInput {
                reviewer: "rita",
                secret: rs,
                otp: &rc,
                disposition: Disposition::Justified,
                notes: "confirmed by phone",
            },
        )
        .unwrap();
    assert!(v.case.review.is_some());
    assert!(
        f.engine
            .list_overrides(&countersign_engine_filter(true), 10)
            .unwrap()
            .is_empty(),
        "no longer pending review"
    );

    // The operator's next primary success reconciles the case and closes it.
    f.clock.advance(3_600_000);
    let mut s2 = f
        .engine
        .start_stepup(scope("payments.approve"), vec![], "test-app")
        .unwrap();
    f.engine.identify(&mut s2, "olga").unwrap();
    attempt(&mut f, &mut s2, 0.8);
    assert!(matches!(
        f.engine.outcome(&s2),
        StepUpOutcome::Succeeded { .. }
    ));
    let case = f.engine.load_case(&grant.id).unwrap();
    assert!(case.is_closed(), "reviewed and reconciled: {case:?}");
    assert_eq!(
        f.engine.attempt_state("olga").unwrap().consecutive_failures,
        0
    );

    assert_eq!(count(&f, kinds::MATCH_ATTEMPT), 6);
    // Once in the first session, and again when olga identified in the second:
    // her regime was still at the limit (the fallback stays on offer, the
    // primary path stays open after the wait).
    assert_eq!(count(&f, kinds::FALLBACK_TRIGGERED), 2);
    assert_eq!(
        count(&f, kinds::SUPERVISOR_AUTH),
        3,
        "sam's failure, sam's and rita's successes; the early review spent no factor"
    );
    let report = f.engine.ledger().verify().unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
}

fn countersign_engine_filter(pending: bool) -> countersign_engine::OverrideFilter {
    countersign_engine::OverrideFilter {
        pending_review: pending,
        ..Default::default()
    }
}

#[test]
fn attempt_regime_persists_across_sessions() {
    let mut f = demo();
    for _ in 0..2 {
        let mut s = f
            .engine
            .start_stepup(scope("payments.approve"), vec![], "app")
            .unwrap();
        f.engine.identify(&mut s, "otto").unwrap();
        attempt(&mut f, &mut s, 0.0);
        attempt(&mut f, &mut s, 0.0);
        f.engine
            .apply(
                &mut s,
                SessionEvent::Cancel {
                    reason: "walked away".into(),
                },
            )
            .unwrap();
    }
    assert_eq!(
        f.engine.attempt_state("otto").unwrap().consecutive_failures,
        4
    );
    let mut s = f
        .engine
        .start_stepup(scope("payments.approve"), vec![], "app")
        .unwrap();
    f.engine.identify(&mut s, "otto").unwrap();
    attempt(&mut f, &mut s, 0.0);
    assert!(
        matches!(f.engine.outcome(&s), StepUpOutcome::FallbackOffered { .. }),
        "the fifth failure overall fires the trigger"
    );
    let e = f.engine.apply(&mut s, SessionEvent::Intent).unwrap_err();
    assert_eq!(e.code(), countersign_engine::Code::RefusedThrottled);
}

#[test]
fn refusals_are_clear_and_logged() {
    let mut f = demo();
    assert!(matches!(
        f.engine.start_stepup(scope("nope.scope"), vec![], "app"),
        Err(EngineError::Refused(_))
    ));
    let mut s = f
        .engine
        .start_stepup(scope("payments.approve"), vec![], "app")
        .unwrap();
    assert_eq!(
        f.engine.identify(&mut s, "ghost").unwrap_err().code(),
        countersign_engine::Code::PersonUnknown
    );
    assert_eq!(
        f.engine.identify(&mut s, "rita").unwrap_err().code(),
        countersign_engine::Code::RefusedMissingRole
    );
    // sue is an operator and a supervisor: she cannot approve her own override.
    f.engine.identify(&mut s, "sue").unwrap();
    f.engine.apply(&mut s, SessionEvent::Intent).unwrap();
    f.engine
        .apply(
            &mut s,
            SessionEvent::DeviceUnavailable {
                device: "cam0".into(),
                detail: "unplugged".into(),
            },
        )
        .unwrap();
    assert!(
        f.engine.grant(&mut s, grant_req(5)).is_err(),
        "no grant before a supervisor authenticates"
    );
    let (secret, code) = factors(&f, "sue");
    assert_eq!(
        f.engine
            .supervisor_login(&mut s, "sue", secret, &code)
            .unwrap_err()
            .code(),
        countersign_engine::Code::RefusedSelfDealing
    );
    f.clock.advance(30_000);
    let (secret, code) = factors(&f, "sam");
    f.engine
        .supervisor_login(&mut s, "sam", secret, &code)
        .unwrap();
    assert_eq!(
        f.engine.grant(&mut s, grant_req(61)).unwrap_err().code(),
        countersign_engine::Code::RefusedOverCap
    );
    assert_eq!(
        f.engine.grant(&mut s, grant_req(0)).unwrap_err().code(),
        countersign_engine::Code::RefusedNoExpiry
    );
    let g = f.engine.grant(&mut s, grant_req(1)).unwrap();
    assert_eq!(
        f.engine
            .extend_override(&g.id, "sam", 600_000)
            .unwrap_err()
            .code(),
        countersign_engine::Code::RefusedExtensionRefused
    );
    f.clock.advance(60_000);
    assert!(matches!(
        f.engine
            .override_view(f.engine.load_case(&g.id).unwrap())
            .status_now,
        GrantStatus::Expired { .. }
    ));
    // sam approved it; he has no reviewer role, and rita may review.
    let (rs, rc) = factors(&f, "sam");
    assert_eq!(
        f.engine
            .review_override(
                &g.id,
                ReviewInput {
                    reviewer: "sam",
                    secret: rs,
                    otp: &rc,
                    disposition: Disposition::Justified,
                    notes: ""
                }
            )
            .unwrap_err()
            .code(),
        countersign_engine::Code::RefusedMissingRole,
        "refused before any factor is checked"
    );
    let refused = count(&f, kinds::STEPUP_REFUSED) + count(&f, kinds::OVERRIDE_REFUSED);
    assert!(
        refused >= 6,
        "every refusal in a session is evidence, got {refused}"
    );
    assert!(f.engine.ledger().verify().unwrap().problems.is_empty());
}

#[test]
fn supervisor_lockout_after_ten_failures() {
    let mut f = demo();
    let mut s = unavailable(&mut f, "olga", "payments.approve", vec![], "busy");
    for _ in 0..10 {
        assert!(f
            .engine
            .supervisor_login(&mut s, "sam", "bad-password", "000000")
            .is_err());
    }
    let (secret, code) = factors(&f, "sam");
    assert_eq!(
        f.engine
            .supervisor_login(&mut s, "sam", secret, &code)
            .unwrap_err()
            .code(),
        countersign_engine::Code::AuthLocked
    );
    let sam = f
        .engine
        .list_people()
        .unwrap()
        .into_iter()
        .find(|p| p.id == "sam")
        .unwrap();
    assert!(sam.locked);
    let pass = crate::admin(&mut f);
    f.engine.unlock(&pass, "sam").unwrap();
    f.engine
        .supervisor_login(&mut s, "sam", secret, &code)
        .unwrap();
}

#[test]
fn a_session_resumes_in_another_process_and_cannot_be_granted_twice() {
    let mut f = demo();
    let mut s = f
        .engine
        .start_stepup(
            scope("payments.approve,records.export"),
            vec!["phr".into()],
            "app",
        )
        .unwrap();
    f.engine.identify(&mut s, "olga").unwrap();
    f.engine.apply(&mut s, SessionEvent::Intent).unwrap();
    f.engine
        .apply(
            &mut s,
            SessionEvent::DeviceUnavailable {
                device: "cam0".into(),
                detail: "unplugged".into(),
            },
        )
        .unwrap();
    let mut resumed = f.engine.resume_stepup(&s.session.id).unwrap();
    assert_eq!(resumed.session.state, s.session.state);
    assert_eq!(resumed.session.requested_scope, s.session.requested_scope);
    let (secret, code) = factors(&f, "sam");
    f.engine
        .supervisor_login(&mut resumed, "sam", secret, &code)
        .unwrap();
    f.engine.grant(&mut resumed, grant_req(5)).unwrap();
    let mut again = f.engine.resume_stepup(&s.session.id).unwrap();
    assert_eq!(again.session.state.name(), "override_granted");
    f.clock.advance(30_000);
    let (secret, code) = factors(&f, "sam");
    assert_eq!(
        f.engine
            .supervisor_login(&mut again, "sam", secret, &code)
            .unwrap_err()
            .code(),
        countersign_engine::Code::RefusedInvalidTransition
    );
    assert!(f.engine.resume_stepup("stp-nope").is_err());
}

#[test]
fn preflight_refuses_without_spending_factors() {
    let mut f = demo();
    let s = unavailable(&mut f, "olga", "payments.approve", vec![], "unplugged");
    let before = count(&f, kinds::SUPERVISOR_AUTH);
    assert_eq!(
        f.engine
            .preflight_grant(&s, "sam", &grant_req(61))
            .unwrap_err()
            .code(),
        countersign_engine::Code::RefusedOverCap
    );
    assert_eq!(
        f.engine
            .preflight_grant(&s, "rita", &grant_req(5))
            .unwrap_err()
            .code(),
        countersign_engine::Code::RefusedMissingRole
    );
    f.engine.preflight_grant(&s, "sam", &grant_req(5)).unwrap();
    assert_eq!(
        count(&f, kinds::SUPERVISOR_AUTH),
        before,
        "no factor was checked"
    );
    assert_eq!(
        s.session.state.name(),
        "fallback_offered",
        "the real session is untouched"
    );
}
