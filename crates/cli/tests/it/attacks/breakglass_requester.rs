//! Item 4: break-glass requesters are who they say.
//!
//! Supervisor sue wants break-glass for a service account and to approve it
//! herself. She cannot ask in otto's name without otto's two factors; if
//! she asks as herself, she cannot approve her own request; the
//! principal's owner can neither approve nor review its grant.

use serde_json::Value;

use crate::helpers::*;

fn events_of(cs: &Cs, kind: &str) -> Vec<Value> {
    cs.events()
        .into_iter()
        .filter(|e| e["kind"] == kind)
        .collect()
}

/// `breakglass request` for svc-batch naming `requester`, with `as_who`'s
/// password and `code`.
fn ask(cs: &Cs, requester: &str, as_who: Person, code: &str) -> std::process::Output {
    cs.run_env(
        &[
            "breakglass",
            "request",
            "--principal",
            "svc-batch",
            "--requester",
            requester,
            "--otp",
            code,
            "--trigger",
            "rotation_broken",
            "--scope",
            SCOPE,
            "--detail",
            "the rotation job failed at 02:00",
        ],
        &[("COUNTERSIGN_SECRET", as_who.pass)],
    )
}

fn grant(cs: &Cs, request: &str, sup: Person, code: &str) -> std::process::Output {
    cs.run_env(
        &[
            "breakglass",
            "grant",
            request,
            "--supervisor",
            sup.id,
            "--otp",
            code,
            "--duration",
            "5m",
            "--reason",
            "URGENT_BUSINESS",
            "--note",
            "rotation broken",
            "--control",
            "second person watching",
        ],
        &[("COUNTERSIGN_SECRET", sup.pass)],
    )
}

#[test]
fn a_supervisor_cannot_ask_in_someone_elses_name_or_approve_her_own_request() {
    let cs = Cs::demo();
    // vic owns the service account and holds supervisor and reviewer roles.
    let vic = cs.add_authenticator("vic", "supervisor,reviewer");
    cs.admin_ok(
        &[
            "principal",
            "add",
            "svc-batch",
            "--kind",
            "service_account",
            "--owner",
            "vic",
            "--scope",
            SCOPE,
        ],
        &[],
    );
    let otto = cs.give_credentials("otto");

    // sue names otto, with no factor, then with her own password and code.
    let o = cs.run(&[
        "breakglass",
        "request",
        "--principal",
        "svc-batch",
        "--requester",
        "otto",
        "--trigger",
        "rotation_broken",
        "--scope",
        SCOPE,
        "--detail",
        "x",
    ]);
    assert!(!o.status.success(), "no factors: refused\n{}", stdout(&o));
    let o = ask(&cs, "otto", SUE, &totp(SUE.totp));
    expect_error(&o, "auth.auth_failed", "sue's factors in otto's name");
    assert!(events_of(&cs, "breakglass.requested").is_empty());
    let fail = events_of(&cs, "supervisor.auth")
        .into_iter()
        .find(|e| e["index"]["person"] == "otto")
        .expect("the failed sign-in as otto is evidence");
    assert_eq!(fail["body"]["role"], "operator");

    // otto, with his own factors, may ask.
    let o = ask(&cs, "otto", otto, &cs.fresh_code(otto));
    expect_ok(&o, "otto asks with his two factors");

    // sue asks as herself (she is also an operator) ...
    let o = ask(&cs, "sue", SUE, &totp_ahead(SUE.totp, 1));
    let out = expect_ok(&o, "sue asks as herself");
    let req = out
        .split_whitespace()
        .find(|w| w.starts_with("brk-"))
        .unwrap()
        .to_string();
    let reqs = events_of(&cs, "breakglass.requested");
    let mine = reqs
        .iter()
        .find(|e| e["body"]["request_id"] == req.as_str())
        .unwrap();
    assert_eq!(mine["body"]["requester"], "sue");
    // ... and cannot approve it, nor can the owner.
    let o = grant(&cs, &req, SUE, &totp(SUE.totp));
    expect_error(&o, "refused.self_dealing", "sue approving her own request");
    let o = grant(&cs, &req, vic, &totp(vic.totp));
    expect_error(&o, "refused.self_dealing", "the owner approving");
    assert!(cs.overrides().is_empty(), "nothing granted");

    // sam approves; the grant ends (he revokes it) and is reviewed.
    let o = grant(&cs, &req, SAM, &totp(SAM.totp));
    let out = expect_ok(&o, "sam approves");
    let id = out
        .split_whitespace()
        .find(|w| w.starts_with("ovr-"))
        .unwrap()
        .to_string();
    let code = totp_ahead(SAM.totp, 1);
    let o = cs.run_env(
        &[
            "override",
            "revoke",
            &id,
            "--by",
            "sam",
            "--otp",
            &code,
            "--reason",
            "rotation fixed",
        ],
        &[("COUNTERSIGN_SECRET", SAM.pass)],
    );
    expect_ok(&o, "sam revokes");
    // The owner never reviews its grant; the requester neither.
    let o = cs.review(&id, vic, &totp_ahead(vic.totp, 1), "justified");
    let err = expect_error(&o, "refused.self_dealing", "the owner reviewing");
    assert!(err.contains("vic"), "{err}");
    let o = cs.review(&id, RITA, &totp(RITA.totp), "justified");
    expect_ok(&o, "rita reviews");
    let v = cs.override_by_id(&id);
    assert_eq!(v["review"]["reviewer"], "rita", "{v}");
    cs.verify_ok();
}
