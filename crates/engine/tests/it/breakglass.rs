//! Break-glass asked by a relying application for a service principal:
//! request, pending list, supervisor's grant (duration as asked) or denial,
//! the signed assertion with its override claims, revocation, expiry,
//! review and reconciliation in the same ledger; and every refusal.

use std::collections::BTreeSet;

use countersign_assertion::{
    verify, AssertionError, Expectations, MemoryReplayStore, OverrideStatus, OverrideStatusSource,
    ACR_SUPERVISED_OVERRIDE,
};
use countersign_core::session::{GrantRequest, Trigger};
use countersign_core::{BreakGlassState, Disposition, PrincipalKind, Role};
use countersign_engine::{
    kinds, AssertionOutcome, ClientBreakGlassRequest, ClientView, Engine, NewClientCredential,
    ReviewInput, REQUEST_TTL_MS,
};
use countersign_ledger::Filter;

use crate::{demo, factors, Fixture};

fn scope(s: &str) -> BTreeSet<String> {
    s.split(',').map(String::from).collect()
}

/// `batch-app` may ask for `svc-batch` (owned by olga); `other-app` may not.
fn setup(f: &mut Fixture) -> (ClientView, ClientView) {
    let pass = crate::admin(f);
    let mut add = |id: &str, scopes: &str| {
        f.engine
            .add_client(
                &pass,
                id,
                id,
                scope(scopes),
                NewClientCredential::Secret("a-client-secret-000000".into()),
            )
            .unwrap()
    };
    let batch = add("batch-app", "payments.approve,records.export");
    let other = add("other-app", "payments.approve");
    f.engine
        .add_principal(
            &pass,
            "svc-batch",
            PrincipalKind::ServiceAccount,
            "olga",
            scope("payments.approve"),
            scope("batch-app"),
            "nightly payment batch",
        )
        .unwrap();
    (batch, other)
}

fn ask(duration_s: Option<i64>) -> ClientBreakGlassRequest {
    ClientBreakGlassRequest {
        principal: "svc-batch".into(),
        trigger: Trigger::IssuerDown,
        scope: scope("payments.approve"),
        detail: "CA unreachable since 02:00".into(),
        duration_s,
        nonce: "bg-nonce-1".into(),
    }
}

fn grant_req() -> GrantRequest {
    GrantRequest {
        grant_id: String::new(),
        scope: scope("payments.approve"),
        duration_ms: None,
        reason_code: "URGENT_BUSINESS".into(),
        note: "the batch must run tonight".into(),
        ticket: Some("INC-9".into()),
        compensating_control: "manual reconciliation of the batch".into(),
    }
}

fn grant(
    f: &mut Fixture,
    id: &str,
    sup: &str,
) -> Result<countersign_core::Grant, countersign_engine::Code> {
    let (secret, code) = factors(f, sup);
    f.engine
        .grant_breakglass(id, sup, secret, &code, grant_req())
        .map_err(|e| e.code())
}

struct Local<'a>(&'a Engine);
impl OverrideStatusSource for Local<'_> {
    fn override_status(&self, id: &str) -> Result<Option<OverrideStatus>, AssertionError> {
        self.0
            .override_status(id)
            .map_err(|e| AssertionError::StatusUnavailable(e.to_string()))
    }
}

#[test]
fn client_breakglass_is_granted_signed_revoked_and_reviewed() {
    let mut f = demo();
    let (batch, other) = setup(&mut f);
    let bg = f
        .engine
        .request_breakglass_for_client(&batch, ask(Some(300)))
        .unwrap();
    assert_eq!(bg.requester, "client:batch-app");
    assert_eq!(bg.state, BreakGlassState::Requested);
    let pending = f.engine.pending_breakglass().unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].id, bg.id);
    assert!(matches!(
        f.engine.breakglass_assertion_for(&bg.id, "batch-app").unwrap(),
        AssertionOutcome::Pending { ref state } if state == "requested"
    ));
    // Only the client that asked may poll.
    assert_eq!(
        f.engine
            .breakglass_assertion_for(&bg.id, &other.id)
            .unwrap_err()
            .code(),
        countersign_engine::Code::RequestUnknown
    );

    // A supervisor grants for the duration the client asked (300 s), not
    // the policy default.
    f.clock.advance(2_000);
    let g = grant(&mut f, &bg.id, "sam").unwrap();
    assert_eq!(g.expires_at - g.granted_at, 300_000);
    assert_eq!(g.principal_kind, PrincipalKind::ServiceAccount);
    assert_eq!(g.requester.as_deref(), Some("client:batch-app"));
    assert!(f.engine.pending_breakglass().unwrap().is_empty());
    assert_eq!(
        grant(&mut f, &bg.id, "sue").unwrap_err(),
        countersign_engine::Code::RefusedInvalidTransition
    );

    f.clock.advance(1_000);
    let AssertionOutcome::Issued { token, claims } = f
        .engine
        .breakglass_assertion_for(&bg.id, "batch-app")
        .unwrap()
    else {
        panic!("no assertion")
    };
    assert_eq!(claims.sub, "svc-batch");
    assert_eq!(claims.aud, "batch-app");
    assert_eq!(claims.acr, ACR_SUPERVISED_OVERRIDE);
    assert_eq!(claims.nonce, "bg-nonce-1");
    assert!(
        claims.amr.iter().any(|a| a == "otp") && claims.amr.len() >= 2,
        "{:?}",
        claims.amr
    );
    assert_eq!(claims.auth_time, g.granted_at / 1000);
    let o = claims.override_.as_ref().unwrap();
    assert_eq!(
        (
            o.id.as_str(),
            o.supervisor.as_str(),
            o.reason_code.as_str(),
            o.trigger.as_str(),
            o.principal_kind.as_str()
        ),
        (
            g.id.as_str(),
            "sam",
            "URGENT_BUSINESS",
            "issuer_down",
            "service_account"
        )
    );
    assert!(claims.exp <= g.expires_at / 1000);
    // Once only.
    assert!(matches!(
        f.engine.breakglass_assertion_for(&bg.id, "batch-app").unwrap(),
        AssertionOutcome::Failed { ref state, .. } if state == "answered"
    ));

    // The relying side accepts it while the override lives...
    let mut x = Expectations::new("batch-app", f.engine.now() / 1000);
    x.accept_demo = true; // a demo data dir signs countersign_demo assertions
    x.issuer = Some(f.engine.issuer());
    x.nonce = Some("bg-nonce-1".into());
    x.required_scope = Some("payments.approve".into());
    let jwks = f.engine.jwks();
    let mut replay = MemoryReplayStore::default();
    verify(&token, &jwks, &x, Some(&Local(&f.engine)), &mut replay).unwrap();
    // ... and refuses it once revoked.
    let (secret, code) = factors(&f, "ada");
    f.engine
        .revoke_override(&g.id, "ada", Role::Admin, secret, &code, "CA is back")
        .unwrap();
    let e = countersign_assertion::check(&token, &jwks, &x, Some(&Local(&f.engine))).unwrap_err();
    assert_eq!(e.code(), countersign_engine::Code::AssertionOverrideRevoked);

    // Reviewed and reconciled like a person's override, in the same ledger.
    let (rs, rc) = factors(&f, "rita");
    f.engine
        .review_override(
            &g.id,
            ReviewInput {
                reviewer: "rita",
                secret: rs,
                otp: &rc,
                disposition: Disposition::Justified,
                notes: "issuer outage confirmed",
            },
        )
        .unwrap();
    // Reconciled by a supervisor with two factors (sue: sam's step is spent).
    let (ss, sc) = factors(&f, "sue");
    let v = f
        .engine
        .reconcile_breakglass(&g.id, "sue", Role::Supervisor, ss, &sc)
        .unwrap();
    assert!(v.closed, "{v:?}");
    assert!(f.engine.ledger().verify().unwrap().problems.is_empty());
}

#[test]
fn client_breakglass_refusals_are_clear_and_logged() {
    let mut f = demo();
    let (batch, other) = setup(&mut f);
    let code = |f: &mut Fixture, c: &ClientView, r: ClientBreakGlassRequest| {
        f.engine
            .request_breakglass_for_client(c, r)
            .unwrap_err()
            .code()
    };
    // Not named by the principal.
    assert_eq!(
        code(&mut f, &other, ask(None)),
        countersign_engine::Code::ClientPrincipalNotAllowed
    );
    // Over the break-glass cap (30 min by default), or no expiry at all.
    assert_eq!(
        code(&mut f, &batch, ask(Some(31 * 60))),
        countersign_engine::Code::RefusedOverCap
    );
    assert_eq!(
        code(&mut f, &batch, ask(Some(0))),
        countersign_engine::Code::RefusedNoExpiry
    );
    // A person's trigger is not a service's.
    let mut r = ask(None);
    r.trigger = Trigger::FailureLimit;
    assert_eq!(
        code(&mut f, &batch, r),
        countersign_engine::Code::RefusedTriggerNotAllowed
    );
    // A scope the principal is not registered for (the client may ask it).
    let mut r = ask(None);
    r.scope = scope("records.export");
    assert_eq!(
        code(&mut f, &batch, r),
        countersign_engine::Code::RefusedScopeNotRegistered
    );
    let mut r = ask(None);
    r.principal = "svc-ghost".into();
    assert_eq!(
        code(&mut f, &batch, r),
        countersign_engine::Code::PrincipalUnknown
    );
    let mut r = ask(None);
    r.detail = " ".into();
    assert_eq!(
        code(&mut f, &batch, r),
        countersign_engine::Code::RefusedMissingField
    );
    let refused = f
        .engine
        .ledger()
        .all(&Filter {
            kinds: vec![kinds::BREAKGLASS_REFUSED.into()],
            ..Default::default()
        })
        .unwrap();
    let logged: Vec<&str> = refused
        .iter()
        .map(|r| r.body["refusal"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        logged,
        [
            countersign_engine::Code::ClientPrincipalNotAllowed.as_str(),
            countersign_engine::Code::RefusedOverCap.as_str(),
            countersign_engine::Code::RefusedNoExpiry.as_str(),
            countersign_engine::Code::RefusedTriggerNotAllowed.as_str(),
            countersign_engine::Code::RefusedScopeNotRegistered.as_str(),
            countersign_engine::Code::RefusedMissingField.as_str(),
        ]
    );
    // A principal may only name registered clients allowed its scopes.
    f.clock.advance(30_000); // a TOTP step past setup's sign-in
    let pass = crate::admin(&mut f);
    let e = f
        .engine
        .add_principal(
            &pass,
            "svc-two",
            PrincipalKind::Agent,
            "olga",
            scope("records.export"),
            scope("other-app"),
            "",
        )
        .unwrap_err();
    assert_eq!(e.code(), countersign_engine::Code::ClientScopeNotAllowed);
    assert!(f.engine.pending_breakglass().unwrap().is_empty());
}

#[test]
fn denied_expired_and_unanswered_requests_end_with_a_reason() {
    let mut f = demo();
    let (batch, _) = setup(&mut f);

    // Denied by a supervisor (two factors): the poll says why; no grant after.
    let a = f
        .engine
        .request_breakglass_for_client(&batch, ask(None))
        .unwrap();
    let (secret, code) = factors(&f, "sam");
    f.engine
        .deny_breakglass(&a.id, "sam", secret, &code, "use the standby CA")
        .unwrap();
    match f
        .engine
        .breakglass_assertion_for(&a.id, "batch-app")
        .unwrap()
    {
        AssertionOutcome::Failed {
            error,
            error_description,
            ..
        } => {
            assert_eq!(error, "access_denied");
            assert!(error_description.contains("use the standby CA"));
        }
        o => panic!("{o:?}"),
    }
    f.clock.advance(30_000);
    assert_eq!(
        grant(&mut f, &a.id, "sue").unwrap_err(),
        countersign_engine::Code::RefusedInvalidTransition
    );

    // Granted for the policy default, then expired before the client polled.
    let b = f
        .engine
        .request_breakglass_for_client(&batch, ask(None))
        .unwrap();
    f.clock.advance(30_000);
    let g = grant(&mut f, &b.id, "sam").unwrap();
    assert_eq!(g.expires_at - g.granted_at, 10 * 60_000);
    f.clock.advance(10 * 60_000);
    assert_eq!(
        f.engine
            .load_case(&g.id)
            .unwrap()
            .status_at(f.engine.now())
            .name(),
        "expired"
    );
    match f
        .engine
        .breakglass_assertion_for(&b.id, "batch-app")
        .unwrap()
    {
        AssertionOutcome::Failed {
            error,
            error_description,
            ..
        } => {
            assert_eq!(error, "access_denied");
            assert!(error_description.contains("expired"), "{error_description}");
        }
        o => panic!("{o:?}"),
    }

    // Nobody answered in time: off the pending list, the poll fails, and
    // a late grant is refused before any factor is spent.
    let c = f
        .engine
        .request_breakglass_for_client(&batch, ask(None))
        .unwrap();
    f.clock.advance(REQUEST_TTL_MS);
    assert!(f.engine.pending_breakglass().unwrap().is_empty());
    assert_eq!(
        grant(&mut f, &c.id, "sam").unwrap_err(),
        countersign_engine::Code::RequestExpired
    );
    assert!(matches!(
        f.engine.breakglass_assertion_for(&c.id, "batch-app").unwrap(),
        AssertionOutcome::Failed { ref error, .. } if error == "access_denied"
    ));
    assert!(f.engine.ledger().verify().unwrap().problems.is_empty());
}
