use expect_test::{expect, Expect};

fn check(script: &str, expected: Expect) {
    expected.assert_eq(&crate::script::run(script));
}

#[test]
fn primary_match_succeeds() {
    check(
        "
        request payments.approve
        identify olga
        intent
        capture cam0
        match face 0.71
        intent          # a finished session takes no more events
        ",
        expect![[r#"
            > request payments.approve
              ok: requested
            > identify olga
              ok: identified
            > intent
              ok: awaiting_capture
            > capture cam0
              ok: capturing
            > match face 0.71
              ok: succeeded | attempt 1 score 0.71 vs 0.48 matched=true pad=None consecutive=0
            > intent
              REFUSED invalid_transition: intent is not allowed in state succeeded
        "#]],
    );
}

#[test]
fn capture_needs_explicit_intent_each_attempt() {
    check(
        "
        request payments.approve
        capture cam0    # no 'Verify me' press yet
        identify olga
        capture cam0
        intent
        capture cam0
        match face 0.10
        capture cam0    # the failed attempt used up the intent
        ",
        expect![[r#"
            > request payments.approve
              ok: requested
            > capture cam0
              REFUSED invalid_transition: capture_started is not allowed in state requested
            > identify olga
              ok: identified
            > capture cam0
              REFUSED invalid_transition: capture_started is not allowed in state identified
            > intent
              ok: awaiting_capture
            > capture cam0
              ok: capturing
            > match face 0.10
              ok: identified | attempt 1 score 0.1 vs 0.48 matched=false pad=None consecutive=1
            > capture cam0
              REFUSED invalid_transition: capture_started is not allowed in state identified
        "#]],
    );
}

#[test]
fn five_failures_fire_the_trigger_and_throttle() {
    check(
        "
        request payments.approve
        identify olga
        intent
        capture cam0
        match face 0.10
        intent
        capture cam0
        match face 0.20
        intent
        capture cam0
        match face 0.30
        intent
        capture cam0
        match face 0.35
        intent
        capture cam0
        match face 0.36
        intent          # the 30 s wait is enforced
        +29s
        intent
        +1s
        intent          # the operator may still retry the primary path
        capture cam0
        match face 0.90
        ",
        expect![[r#"
            > request payments.approve
              ok: requested
            > identify olga
              ok: identified
            > intent
              ok: awaiting_capture
            > capture cam0
              ok: capturing
            > match face 0.10
              ok: identified | attempt 1 score 0.1 vs 0.48 matched=false pad=None consecutive=1
            > intent
              ok: awaiting_capture
            > capture cam0
              ok: capturing
            > match face 0.20
              ok: identified | attempt 2 score 0.2 vs 0.48 matched=false pad=None consecutive=2
            > intent
              ok: awaiting_capture
            > capture cam0
              ok: capturing
            > match face 0.30
              ok: identified | attempt 3 score 0.3 vs 0.48 matched=false pad=None consecutive=3
            > intent
              ok: awaiting_capture
            > capture cam0
              ok: capturing
            > match face 0.35
              ok: identified | attempt 4 score 0.35 vs 0.48 matched=false pad=None consecutive=4
            > intent
              ok: awaiting_capture
            > capture cam0
              ok: capturing
            > match face 0.36
              ok: fallback_offered | attempt 5 score 0.36 vs 0.48 matched=false pad=None consecutive=5 | trigger failure_limit
            > intent
              REFUSED throttled: the next attempt is allowed in 30000 ms
            ~ +29s
            > intent
              REFUSED throttled: the next attempt is allowed in 1000 ms
            ~ +1s
            > intent
              ok: awaiting_capture
            > capture cam0
              ok: capturing
            > match face 0.90
              ok: succeeded | attempt 6 score 0.9 vs 0.48 matched=true pad=None consecutive=0
        "#]],
    );
}

#[test]
fn pad_failure_counts_and_pad_raises_limit() {
    check(
        "
        policy pad
        failures 9
        request payments.approve
        identify olga
        intent
        capture cam0
        match face 0.95 pad=fail   # a high score with a failed liveness check is a failure
        ",
        expect![[r#"
            > policy pad
              ok: pad on
            > failures 9
              ok: regime 9 failures, disabled=false
            > request payments.approve
              ok: requested
            > identify olga
              ok: identified
            > intent
              ok: awaiting_capture
            > capture cam0
              ok: capturing
            > match face 0.95 pad=fail
              ok: fallback_offered | attempt 1 score 0.95 vs 0.48 matched=false pad=Some(false) consecutive=10 | trigger failure_limit
        "#]],
    );
}

#[test]
fn disabled_biometric_goes_straight_to_fallback() {
    check(
        "
        failures 50
        request payments.approve
        identify olga
        intent
        ",
        expect![[r#"
            > failures 50
              ok: regime 50 failures, disabled=true
            > request payments.approve
              ok: requested
            > identify olga
              ok: fallback_offered | biometric disabled | trigger failure_limit
            > intent
              REFUSED biometric_disabled: biometric authentication is disabled for olga until re-enrollment
        "#]],
    );
}

#[test]
fn device_unavailable_and_quality_triggers() {
    check(
        "
        request payments.approve
        identify olga
        intent
        unavailable cam0
        ",
        expect![[r#"
            > request payments.approve
              ok: requested
            > identify olga
              ok: identified
            > intent
              ok: awaiting_capture
            > unavailable cam0
              ok: fallback_offered | trigger device_unavailable
        "#]],
    );
    check(
        "
        request payments.approve
        identify olga
        intent
        capture cam0
        quality face too small
        intent
        capture cam0
        quality too dark
        intent
        capture cam0
        quality two faces
        ",
        expect![[r#"
            > request payments.approve
              ok: requested
            > identify olga
              ok: identified
            > intent
              ok: awaiting_capture
            > capture cam0
              ok: capturing
            > quality face too small
              ok: identified | quality rejected (face too small) x1
            > intent
              ok: awaiting_capture
            > capture cam0
              ok: capturing
            > quality too dark
              ok: identified | quality rejected (too dark) x2
            > intent
              ok: awaiting_capture
            > capture cam0
              ok: capturing
            > quality two faces
              ok: fallback_offered | quality rejected (two faces) x3 | trigger capture_quality
        "#]],
    );
}

#[test]
fn trigger_disabled_by_policy_offers_nothing() {
    check(
        "
        policy only failure_limit
        request payments.approve
        identify olga
        intent
        unavailable cam0
        supervisor sam
        grant payments.approve default SENSOR_FAULT
        ",
        expect![[r#"
            > policy only failure_limit
              ok: triggers ["failure_limit"]
            > request payments.approve
              ok: requested
            > identify olga
              ok: identified
            > intent
              ok: awaiting_capture
            > unavailable cam0
              ok: identified | trigger device_unavailable suppressed by policy
            > supervisor sam
              REFUSED invalid_transition: supervisor_authenticated is not allowed in state identified
            > grant payments.approve default SENSOR_FAULT
              REFUSED no_trigger: no fallback trigger has fired; an override cannot be granted
        "#]],
    );
}

#[test]
fn no_grant_without_trigger() {
    check(
        "
        request payments.approve
        grant payments.approve default SENSOR_FAULT
        identify olga
        grant payments.approve default SENSOR_FAULT
        supervisor sam
        intent
        capture cam0
        grant payments.approve default SENSOR_FAULT
        ",
        expect![[r#"
            > request payments.approve
              ok: requested
            > grant payments.approve default SENSOR_FAULT
              REFUSED no_trigger: no fallback trigger has fired; an override cannot be granted
            > identify olga
              ok: identified
            > grant payments.approve default SENSOR_FAULT
              REFUSED no_trigger: no fallback trigger has fired; an override cannot be granted
            > supervisor sam
              REFUSED invalid_transition: supervisor_authenticated is not allowed in state identified
            > intent
              ok: awaiting_capture
            > capture cam0
              ok: capturing
            > grant payments.approve default SENSOR_FAULT
              REFUSED no_trigger: no fallback trigger has fired; an override cannot be granted
        "#]],
    );
}

#[test]
fn supervised_override_refusals_then_grant() {
    check(
        "
        request payments.approve,records.export
        identify olga
        intent
        unavailable cam0
        grant payments.approve default SENSOR_FAULT     # nobody authenticated
        supervisor olga                                 # the operator is no supervisor
        supervisor sam 1fa                              # one factor is not enough
        supervisor sam
        grant admin.keys default SENSOR_FAULT           # not requested
        grant payments.approve 61 SENSOR_FAULT          # over the 60 min cap
        grant payments.approve none SENSOR_FAULT        # no expiry
        grant payments.approve default MADE_UP          # unknown reason
        grant payments.approve default SENSOR_FAULT INC-42
        cancel
        ",
        expect![[r#"
            > request payments.approve,records.export
              ok: requested
            > identify olga
              ok: identified
            > intent
              ok: awaiting_capture
            > unavailable cam0
              ok: fallback_offered | trigger device_unavailable
            > grant payments.approve default SENSOR_FAULT
              REFUSED supervisor_not_authenticated: the supervisor must authenticate with two factors first
            > supervisor olga
              REFUSED missing_role: olga does not hold the supervisor role
            > supervisor sam 1fa
              REFUSED supervisor_not_authenticated: the supervisor must authenticate with two factors first
            > supervisor sam
              ok: supervisor_authenticated
            > grant admin.keys default SENSOR_FAULT
              REFUSED scope_not_requested: scope admin.keys was not requested by this step-up
            > grant payments.approve 61 SENSOR_FAULT
              REFUSED over_cap: duration 61 min exceeds the policy cap of 60 min
            > grant payments.approve none SENSOR_FAULT
              REFUSED no_expiry: an override needs a positive duration; grants without an expiry do not exist
            > grant payments.approve default MADE_UP
              REFUSED unknown_reason: reason code MADE_UP is unknown to the policy
            > grant payments.approve default SENSOR_FAULT INC-42
              ok: override_granted | granted g1 scope {"payments.approve"} by sam for 15 min, review due +72 h
            > cancel
              REFUSED invalid_transition: cancel is not allowed in state override_granted
        "#]],
    );
}

#[test]
fn self_approval_refused_for_dual_role_person() {
    check(
        "
        request payments.approve
        identify max
        intent
        unavailable cam0
        supervisor max
        supervisor sam
        ",
        expect![[r#"
            > request payments.approve
              ok: requested
            > identify max
              ok: identified
            > intent
              ok: awaiting_capture
            > unavailable cam0
              ok: fallback_offered | trigger device_unavailable
            > supervisor max
              REFUSED self_dealing: max cannot approve their own case
            > supervisor sam
              ok: supervisor_authenticated
        "#]],
    );
}

#[test]
fn unknown_or_ungrantable_scope() {
    check(
        "
        request nuclear.launch
        request admin.keys
        identify olga
        intent
        unavailable cam0
        supervisor sam
        grant admin.keys default SENSOR_FAULT
        ",
        expect![[r#"
            > request nuclear.launch
              REFUSED unknown_scope: scope nuclear.launch is unknown to the policy
            > request admin.keys
              ok: requested
            > identify olga
              ok: identified
            > intent
              ok: awaiting_capture
            > unavailable cam0
              ok: fallback_offered | trigger device_unavailable
            > supervisor sam
              ok: supervisor_authenticated
            > grant admin.keys default SENSOR_FAULT
              REFUSED scope_not_grantable: a supervisor may not grant scope admin.keys
        "#]],
    );
}

#[test]
fn stale_supervisor_auth_refused() {
    check(
        "
        request payments.approve
        identify olga
        intent
        unavailable cam0
        supervisor sam
        +6m
        grant payments.approve default SENSOR_FAULT
        ",
        expect![[r#"
            > request payments.approve
              ok: requested
            > identify olga
              ok: identified
            > intent
              ok: awaiting_capture
            > unavailable cam0
              ok: fallback_offered | trigger device_unavailable
            > supervisor sam
              ok: supervisor_authenticated
            ~ +6m
            > grant payments.approve default SENSOR_FAULT
              REFUSED supervisor_not_authenticated: the supervisor must authenticate with two factors first
        "#]],
    );
}

#[test]
fn offered_fallback_expires() {
    check(
        "
        request payments.approve
        identify olga
        intent
        unavailable cam0
        +16m                                            # the policy keeps an offer 15 min
        supervisor sam                                  # Monday's offer, Thursday's grant
        intent                                          # the primary path again
        capture cam0
        unavailable cam0                                # a new trigger: a new offer
        +14m
        supervisor sam
        +1m
        grant payments.approve default SENSOR_FAULT     # signed in in time, granted too late
        ",
        expect![[r#"
            > request payments.approve
              ok: requested
            > identify olga
              ok: identified
            > intent
              ok: awaiting_capture
            > unavailable cam0
              ok: fallback_offered | trigger device_unavailable
            ~ +16m
            > supervisor sam
              REFUSED offer_expired: the fallback offered at 1800000000000 expired at 1800000900000; only a new trigger offers it again
            > intent
              ok: awaiting_capture
            > capture cam0
              ok: capturing
            > unavailable cam0
              ok: fallback_offered | trigger device_unavailable
            ~ +14m
            > supervisor sam
              ok: supervisor_authenticated
            ~ +1m
            > grant payments.approve default SENSOR_FAULT
              REFUSED offer_expired: the fallback offered at 1800000960000 expired at 1800001860000; only a new trigger offers it again
        "#]],
    );
}

#[test]
fn failures_recorded_by_other_sessions_count_at_the_match() {
    // The regime is the person's: the engine refreshes it from the ledger
    // in the transaction of each attempt, and the throttle is checked again
    // at the match (another session may have reached the limit after this
    // one's intent).
    check(
        "
        request payments.approve
        identify olga
        intent
        capture cam0
        refresh 5       # meanwhile, other sessions recorded 5 failures
        match face 0.10
        +31s
        match face 0.10
        ",
        expect![[r#"
            > request payments.approve
              ok: requested
            > identify olga
              ok: identified
            > intent
              ok: awaiting_capture
            > capture cam0
              ok: capturing
            > refresh 5
              ok: regime refreshed: 5 failures
            > match face 0.10
              REFUSED throttled: the next attempt is allowed in 30000 ms
            ~ +31s
            > match face 0.10
              ok: fallback_offered | attempt 1 score 0.1 vs 0.48 matched=false pad=None consecutive=6 | trigger failure_limit
        "#]],
    );
}
