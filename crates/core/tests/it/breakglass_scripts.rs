//! Break-glass for non-human identities: request, approval, grant, and the
//! same override lifecycle afterwards. Each step's outcome is written to a
//! transcript checked with expect-test.

use std::collections::BTreeSet;
use std::fmt::Write;

use countersign_core::auth::Authenticated;
use countersign_core::session::{GrantRequest, Trigger};
use countersign_core::{
    BreakGlass, BreakGlassEvent, Disposition, OverrideCase, OverrideEvent, Person, Policy,
    Principal, PrincipalKind, Reconciliation, Role,
};
use expect_test::expect;

const T0: i64 = 1_800_000_000_000;

fn person(id: &str, roles: &[Role]) -> Person {
    Person::new(id, id, roles.iter().copied())
}

fn scopes(s: &str) -> BTreeSet<String> {
    s.split(',').map(String::from).collect()
}

fn principal() -> Principal {
    Principal {
        id: "svc-payments".into(),
        kind: PrincipalKind::ServiceAccount,
        owner: "olga".into(),
        scopes: scopes("payments.approve,admin.keys"),
        description: "nightly payment batch".into(),
    }
}

fn auth(sup: &str, at: i64) -> Authenticated {
    Authenticated {
        supervisor: sup.into(),
        amr: vec!["pwd".into(), "otp".into()],
        at,
        totp_step: 1,
    }
}

fn req(scope: &str, minutes: Option<i64>) -> GrantRequest {
    GrantRequest {
        grant_id: "bg-g1".into(),
        scope: scopes(scope),
        duration_ms: minutes.map(|m| m * 60_000),
        reason_code: "URGENT_BUSINESS".into(),
        note: "CA down, batch must run".into(),
        ticket: Some("INC-7".into()),
        compensating_control: "second engineer watches the batch".into(),
    }
}

fn show<T: std::fmt::Debug>(out: &mut String, what: &str, r: Result<T, countersign_core::Refusal>) {
    match r {
        Ok(_) => writeln!(out, "{what}: ok").unwrap(),
        Err(e) => writeln!(out, "{what}: refused {} ({e})", e.code()).unwrap(),
    }
}

#[test]
fn breakglass_request_refusals() {
    let p = Policy::default_policy();
    let olga = person("olga", &[Role::Operator]);
    let mut out = String::new();
    let mut human = principal();
    human.kind = PrincipalKind::Human;
    let r = |pr: Principal, who: &Person, t: Trigger, s: &str, d: &str| {
        BreakGlass::request(&p, "bg1".into(), pr, who, t, scopes(s), d.into(), T0)
    };
    show(
        &mut out,
        "human principal",
        r(human, &olga, Trigger::IssuerDown, "payments.approve", "x"),
    );
    show(
        &mut out,
        "human trigger",
        r(
            principal(),
            &olga,
            Trigger::FailureLimit,
            "payments.approve",
            "x",
        ),
    );
    show(
        &mut out,
        "unregistered scope",
        r(
            principal(),
            &olga,
            Trigger::IssuerDown,
            "records.export",
            "x",
        ),
    );
    show(
        &mut out,
        "unknown scope",
        r(principal(), &olga, Trigger::IssuerDown, "nope", "x"),
    );
    show(
        &mut out,
        "no detail",
        r(
            principal(),
            &olga,
            Trigger::IssuerDown,
            "payments.approve",
            " ",
        ),
    );
    show(
        &mut out,
        "requester not operator",
        r(
            principal(),
            &person("rita", &[Role::Reviewer]),
            Trigger::IssuerDown,
            "payments.approve",
            "x",
        ),
    );
    let mut off = p.clone();
    off.breakglass.triggers.clear();
    show(
        &mut out,
        "disabled by policy",
        BreakGlass::request(
            &off,
            "bg1".into(),
            principal(),
            &olga,
            Trigger::IssuerDown,
            scopes("payments.approve"),
            "x".into(),
            T0,
        ),
    );
    show(
        &mut out,
        "valid",
        r(
            principal(),
            &olga,
            Trigger::CertificateExpired,
            "payments.approve",
            "cert expired at 02:00",
        ),
    );
    expect![[r#"
        human principal: refused human_principal (svc-payments is a person; people step up with their biometric, not break-glass)
        human trigger: refused trigger_not_allowed (trigger failure_limit is not enabled by the policy)
        unregistered scope: refused scope_not_registered (scope records.export is not registered for svc-payments)
        unknown scope: refused unknown_scope (scope nope is unknown to the policy)
        no detail: refused missing_field (detail is required)
        requester not operator: refused missing_role (rita does not hold the operator role)
        disabled by policy: refused trigger_not_allowed (trigger issuer_down is not enabled by the policy)
        valid: ok
    "#]]
    .assert_eq(&out);
}

#[test]
fn breakglass_grant_then_override_lifecycle() {
    let p = Policy::default_policy();
    let sue = person("sue", &[Role::Operator, Role::Supervisor]);
    let sam = person("sam", &[Role::Supervisor]);
    let mut out = String::new();
    let mut bg = BreakGlass::request(
        &p,
        "bg1".into(),
        principal(),
        &sue,
        Trigger::RotationBroken,
        scopes("payments.approve,admin.keys"),
        "vault rotation job failing since 01:00".into(),
        T0,
    )
    .unwrap();
    let ev = |bg: &mut BreakGlass, e: BreakGlassEvent, now: i64, out: &mut String| {
        let name = e.name();
        let r = bg.apply(&p, e, now);
        show(out, &format!("{name} -> {}", bg.state.name()), r);
    };
    ev(
        &mut bg,
        BreakGlassEvent::Grant(req("payments.approve", None)),
        T0,
        &mut out,
    );
    ev(
        &mut bg,
        BreakGlassEvent::SupervisorAuthenticated {
            supervisor: sue.clone(),
            auth: auth("sue", T0),
        },
        T0,
        &mut out,
    );
    // The owner may not approve either.
    let mut owned = bg.clone();
    owned.principal.owner = "sam".into();
    ev(
        &mut owned,
        BreakGlassEvent::SupervisorAuthenticated {
            supervisor: sam.clone(),
            auth: auth("sam", T0),
        },
        T0,
        &mut out,
    );
    ev(
        &mut bg,
        BreakGlassEvent::SupervisorAuthenticated {
            supervisor: sam.clone(),
            auth: auth("sam", T0),
        },
        T0,
        &mut out,
    );
    ev(
        &mut bg,
        BreakGlassEvent::Grant(req("payments.approve", Some(31))),
        T0,
        &mut out,
    );
    ev(
        &mut bg,
        BreakGlassEvent::Grant(req("admin.keys", None)),
        T0,
        &mut out,
    );
    let g = bg
        .apply(
            &p,
            BreakGlassEvent::Grant(req("payments.approve", None)),
            T0 + 1000,
        )
        .unwrap()
        .unwrap();
    writeln!(
        out,
        "granted {} to {} ({}) requested by {:?}, trigger {}, {} min",
        g.id,
        g.operator,
        g.principal_kind.as_str(),
        g.requester,
        g.trigger,
        (g.expires_at - g.granted_at) / 60_000
    )
    .unwrap();
    ev(
        &mut bg,
        BreakGlassEvent::Cancel {
            reason: "late".into(),
        },
        T0,
        &mut out,
    );
    let mut case = OverrideCase::new(g.clone());
    let mut act = |e: OverrideEvent, now: i64, out: &mut String| {
        let name = e.name();
        let r = case.apply(e, now);
        show(out, &format!("{name} -> {}", case.status_at(now).name()), r);
    };
    act(
        OverrideEvent::Use {
            scope: "payments.approve".into(),
        },
        T0 + 60_000,
        &mut out,
    );
    let end = g.expires_at;
    act(OverrideEvent::Expire, end, &mut out);
    // The requester may not review, even holding the reviewer role.
    act(
        OverrideEvent::Review {
            reviewer: person("sue", &[Role::Reviewer]),
            disposition: Disposition::Justified,
            notes: String::new(),
        },
        end + 1,
        &mut out,
    );
    act(
        OverrideEvent::Review {
            reviewer: person("rita", &[Role::Reviewer]),
            disposition: Disposition::Justified,
            notes: String::new(),
        },
        end + 1,
        &mut out,
    );
    act(
        OverrideEvent::Reconcile {
            how: Reconciliation::CredentialRestored,
        },
        end + 2,
        &mut out,
    );
    writeln!(out, "closed: {}", case.is_closed()).unwrap();
    let json = serde_json::to_value(&g).unwrap();
    writeln!(
        out,
        "evidence principal_kind={} requester={}",
        json["principal_kind"], json["requester"]
    )
    .unwrap();
    expect![[r#"
        grant_override -> requested: refused supervisor_not_authenticated (the supervisor must authenticate with two factors first)
        supervisor_authenticated -> requested: refused self_dealing (sue cannot approve their own case)
        supervisor_authenticated -> requested: refused self_dealing (sam cannot approve their own case)
        supervisor_authenticated -> supervisor_authenticated: ok
        grant_override -> supervisor_authenticated: refused over_cap (duration 31 min exceeds the policy cap of 30 min)
        grant_override -> supervisor_authenticated: refused scope_not_grantable (a supervisor may not grant scope admin.keys)
        granted bg-g1 to svc-payments (service_account) requested by Some("sue"), trigger rotation_broken, 10 min
        cancel -> granted: refused invalid_transition (cancel is not allowed in state granted)
        use -> used: ok
        expire -> expired: ok
        review -> expired: refused self_dealing (sue cannot review their own case)
        review -> expired: ok
        reconcile -> expired: ok
        closed: true
        evidence principal_kind="service_account" requester="sue"
    "#]]
    .assert_eq(&out);
}

#[test]
fn human_grant_evidence_is_unchanged() {
    // A person's grant serialises without the new fields, so older evidence
    // and newer evidence read the same way.
    let g: countersign_core::Grant = serde_json::from_value(serde_json::json!({
        "id": "g", "session_id": "s", "operator": "olga", "supervisor": "sam",
        "supervisor_amr": ["pwd", "otp"], "trigger": "failure_limit",
        "requested_scope": ["payments.approve"], "scope": ["payments.approve"],
        "granted_at": 1, "expires_at": 2, "review_due": 3, "reason_code": "SENSOR_FAULT",
        "note": "n", "ticket": null, "compensating_control": "c"
    }))
    .unwrap();
    assert_eq!(g.principal_kind, PrincipalKind::Human);
    let v = serde_json::to_value(&g).unwrap();
    assert!(v.get("principal_kind").is_none() && v.get("requester").is_none());
}
