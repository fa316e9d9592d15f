use expect_test::{expect, Expect};

fn check(script: &str, expected: Expect) {
    expected.assert_eq(&crate::script::run(script));
}

const GRANTED: &str = "
    request payments.approve,records.export
    identify olga
    intent
    unavailable cam0
    supervisor sam
    grant payments.approve 15 SENSOR_FAULT INC-7
";

#[test]
fn used_expired_reviewed_reconciled_closed() {
    check(
        &format!(
            "{GRANTED}
            review rita justified        # still live: too early to review
            use records.export           # outside the granted scope
            use payments.approve
            use payments.approve         # single use
            extend sam                   # never
            +14m
            status
            +1m
            status                       # expired by the clock alone
            use payments.approve
            revoke sam
            expire
            review olga justified        # the operator cannot review
            review sam justified         # nor the supervisor
            review ada justified         # nor someone without the role
            review rita unjustified      # a negative finding needs notes
            review rita needs_follow_up re-enroll olga this week
            review rita justified
            reconcile reenroll
            reconcile primary
            "
        ),
        expect![[r#"
            > request payments.approve,records.export
              ok: requested
            > identify olga
              ok: identified
            > intent
              ok: awaiting_capture
            > unavailable cam0
              ok: fallback_offered | trigger device_unavailable
            > supervisor sam
              ok: supervisor_authenticated
            > grant payments.approve 15 SENSOR_FAULT INC-7
              ok: override_granted | granted g1 scope {"payments.approve"} by sam for 15 min, review due +72 h
            > review rita justified
              REFUSED invalid_transition: review is not allowed in state active
            > use records.export
              REFUSED scope_not_requested: scope records.export was not requested by this step-up
            > use payments.approve
              ok: override used reviewed=no reconciled=no closed=false overdue=false
            > use payments.approve
              REFUSED already_done: the case was already used
            > extend sam
              REFUSED extension_refused: grants cannot be extended; ask a supervisor for a new approval
            ~ +14m
            > status
              ok: override used reviewed=no reconciled=no closed=false overdue=false
            ~ +1m
            > status
              ok: override expired reviewed=no reconciled=no closed=false overdue=false
            > use payments.approve
              REFUSED expired: the grant expired at 1800000900000
            > revoke sam
              REFUSED expired: the grant expired at 1800000900000
            > expire
              ok: override expired reviewed=no reconciled=no closed=false overdue=false
            > review olga justified
              REFUSED missing_role: olga does not hold the reviewer role
            > review sam justified
              REFUSED missing_role: sam does not hold the reviewer role
            > review ada justified
              REFUSED missing_role: ada does not hold the reviewer role
            > review rita unjustified
              REFUSED missing_field: notes is required
            > review rita needs_follow_up re-enroll olga this week
              ok: override expired reviewed=NeedsFollowUp reconciled=no closed=false overdue=false
            > review rita justified
              REFUSED already_done: the case was already reviewed
            > reconcile reenroll
              ok: override expired reviewed=NeedsFollowUp reconciled=ReEnrollment closed=true overdue=false
            > reconcile primary
              REFUSED already_done: the case was already reconciled
        "#]],
    );
}

#[test]
fn revoked_then_reviewed_overdue() {
    check(
        &format!(
            "{GRANTED}
            revoke olga                  # operators cannot revoke
            revoke sam
            use payments.approve
            revoke sam
            +4380m
            status
            review max justified
            reconcile primary
            "
        ),
        expect![[r#"
            > request payments.approve,records.export
              ok: requested
            > identify olga
              ok: identified
            > intent
              ok: awaiting_capture
            > unavailable cam0
              ok: fallback_offered | trigger device_unavailable
            > supervisor sam
              ok: supervisor_authenticated
            > grant payments.approve 15 SENSOR_FAULT INC-7
              ok: override_granted | granted g1 scope {"payments.approve"} by sam for 15 min, review due +72 h
            > revoke olga
              REFUSED missing_role: olga does not hold the supervisor role
            > revoke sam
              ok: override revoked reviewed=no reconciled=no closed=false overdue=false
            > use payments.approve
              REFUSED revoked: the grant was revoked
            > revoke sam
              REFUSED revoked: the grant was revoked
            ~ +4380m
            > status
              ok: override revoked reviewed=no reconciled=no closed=false overdue=true
            > review max justified
              ok: override revoked reviewed=Justified reconciled=no closed=false overdue=false
            > reconcile primary
              ok: override revoked reviewed=Justified reconciled=PrimaryMatch closed=true overdue=false
        "#]],
    );
}

#[test]
fn supervisor_with_reviewer_role_cannot_review_own_grant() {
    check(
        "
        request payments.approve
        identify otto
        intent
        unavailable cam0
        supervisor max
        grant payments.approve 5 ENVIRONMENT
        +5m
        review max justified         # max approved it: a third person must review
        review rita justified
        ",
        expect![[r#"
            > request payments.approve
              ok: requested
            > identify otto
              ok: identified
            > intent
              ok: awaiting_capture
            > unavailable cam0
              ok: fallback_offered | trigger device_unavailable
            > supervisor max
              ok: supervisor_authenticated
            > grant payments.approve 5 ENVIRONMENT
              ok: override_granted | granted g1 scope {"payments.approve"} by max for 5 min, review due +72 h
            ~ +5m
            > review max justified
              REFUSED self_dealing: max cannot review their own case
            > review rita justified
              ok: override expired reviewed=Justified reconciled=no closed=false overdue=false
        "#]],
    );
}
