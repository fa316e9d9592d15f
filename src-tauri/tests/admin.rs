//! Issue 15, item 4: the admin's acts in the console. Each act needs an
//! admin's console session (refused and recorded otherwise) AND the admin's
//! two factors for that act (a wrong code is refused and recorded as a
//! failed `supervisor.auth`); accepted acts are the engine's chained,
//! signed registry events. Driven through the app's service functions over
//! a real demo data dir and a real engine (manual clock: every act uses a
//! fresh TOTP step, as the engine refuses a replayed one).

mod admin_kit;
use admin_kit::*;

use countersign_app::ipc::{
    ApplyPolicyRequest, ConsoleRole, ConsoleSignIn, IssueCredentialsRequest, SetRolesRequest,
    UnlockRequest,
};
use countersign_app::service::{self, Shared};
use countersign_engine::{kinds, Clock};

#[test]
fn every_admin_act_is_refused_without_a_session_and_the_refusal_is_recorded() {
    let k = kiosk();
    let auth = k.auth("ada");
    for (cmd, r) in every_act(&k, auth) {
        assert_eq!(r, Err(countersign_engine::Code::ConsoleNoSession), "{cmd}");
    }
    let refused = k.events(kinds::CONSOLE_REFUSED);
    for (cmd, _) in every_act(&k, bad_auth()) {
        assert!(
            refused
                .iter()
                .any(|b| b["command"] == cmd && b["code"] == "console.no_session"),
            "{cmd} refusal recorded"
        );
    }
    assert!(k
        .events(kinds::PERSON_ADDED)
        .iter()
        .all(|b| b["id"] != "mallory"));
}

#[test]
fn a_reviewer_session_cannot_run_admin_acts_even_with_an_admins_factors() {
    let k = kiosk();
    k.sign_in("rita", ConsoleRole::Reviewer);
    let auth = k.auth("ada");
    for (cmd, r) in every_act(&k, auth) {
        assert_eq!(r, Err(countersign_engine::Code::ConsoleWrongRole), "{cmd}");
    }
    let refused = k.events(kinds::CONSOLE_REFUSED);
    assert!(refused
        .iter()
        .any(|b| b["command"] == "issue_credentials" && b["code"] == "console.wrong_role"));
}

#[test]
fn an_admin_session_still_needs_the_admins_factors_for_each_act() {
    let k = kiosk();
    k.sign_in("ada", ConsoleRole::Admin);
    // Wrong factors: refused by the engine's sign-in, recorded as a failure.
    let err = k.add_mallory(bad_auth()).unwrap_err();
    assert!(err.as_str().starts_with("auth."), "{err}");
    // Another person's factors do not sign the session admin's act.
    let err = k.add_mallory(k.auth("rita")).unwrap_err();
    assert!(err.as_str().starts_with("auth."), "{err}");
    let fails: Vec<_> = k
        .events(kinds::SUPERVISOR_AUTH)
        .into_iter()
        .filter(|b| b["purpose"] == "people add mallory")
        .collect();
    assert!(!fails.is_empty());
    assert!(k
        .events(kinds::PERSON_ADDED)
        .iter()
        .all(|b| b["id"] != "mallory"));
    // A replayed code (the step the session's sign-in used) is refused too.
    let ok = k.auth("ada");
    k.add_mallory(ok.clone()).unwrap();
    let again = service::unlock_person(
        &k.sh,
        UnlockRequest {
            auth: ok,
            id: "olga".into(),
        },
    )
    .unwrap_err();
    assert_eq!(again.code, countersign_engine::Code::AuthTotpReplayed);
}

#[test]
fn people_acts_with_the_admins_factors_are_chained_registry_events() {
    let k = kiosk();
    k.sign_in("ada", ConsoleRole::Admin);
    let p = k.add_mallory(k.auth("ada")).unwrap();
    assert_eq!(p.roles, vec!["reviewer".to_string()]);
    assert!(!p.has_credentials);
    let added = k.events(kinds::PERSON_ADDED);
    assert!(added
        .iter()
        .any(|b| b["id"] == "mallory" && b["by"] == "ada"));

    let p = service::set_roles(
        &k.sh,
        SetRolesRequest {
            auth: k.auth("ada"),
            id: "mallory".into(),
            roles: vec!["supervisor".into(), "reviewer".into()],
        },
    )
    .unwrap();
    assert_eq!(p.roles.len(), 2);
    assert!(k
        .events(kinds::PERSON_ROLES_CHANGED)
        .iter()
        .any(|b| b["id"] == "mallory" && b["by"] == "ada"));
    // A role the engine does not know is its refusal, not the app's.
    let bad = service::set_roles(
        &k.sh,
        SetRolesRequest {
            auth: k.auth("ada"),
            id: "mallory".into(),
            roles: vec!["king".into()],
        },
    )
    .unwrap_err();
    assert_eq!(bad.code, countersign_engine::Code::InputInvalid);

    // Lock rita out (wrong codes at the console), then unlock her.
    for _ in 0..10 {
        let _ = service::console_sign_in(
            &k.sh,
            ConsoleSignIn {
                person: "rita".into(),
                role: ConsoleRole::Reviewer,
                secret: "wrong".into(),
                otp: "000000".into(),
            },
        );
    }
    let people = service::list_people(&k.sh).unwrap();
    assert!(people.iter().any(|p| p.id == "rita" && p.locked));
    let p = service::unlock_person(
        &k.sh,
        UnlockRequest {
            auth: k.auth("ada"),
            id: "rita".into(),
        },
    )
    .unwrap();
    assert!(!p.locked);
    assert_eq!(p.failed_auths, 0);
    assert!(k
        .events(kinds::PERSON_UNLOCKED)
        .iter()
        .any(|b| b["id"] == "rita" && b["by"] == "ada"));
}

#[test]
fn issued_credentials_work_and_the_totp_secret_appears_once() {
    let k = kiosk();
    k.sign_in("ada", ConsoleRole::Admin);
    k.add_mallory(k.auth("ada")).unwrap();
    let issued = service::issue_credentials(
        &k.sh,
        IssueCredentialsRequest {
            auth: k.auth("ada"),
            id: "mallory".into(),
            password: "mallory's long password".into(),
        },
    )
    .unwrap();
    let b32 = issued.totp_secret_base32.clone();
    assert!(issued.otpauth_uri.contains(&b32));
    let svg = issued
        .qr_svg_data_url
        .strip_prefix("data:image/svg+xml;base64,")
        .unwrap();
    let svg = String::from_utf8(data_encoding::BASE64.decode(svg.as_bytes()).unwrap()).unwrap();
    assert!(svg.contains("<svg"));
    // Nowhere else: not in the ledger, not in the people list, not in the
    // request's or answer's Debug (what a log line would print).
    assert!(!k.all_bodies().contains(&b32));
    let listed = format!("{:?}", service::list_people(&k.sh).unwrap());
    assert!(!listed.contains(&b32));
    assert!(!format!("{issued:?}").contains(&b32));
    assert!(k
        .events(kinds::PERSON_CREDENTIALS_SET)
        .iter()
        .any(|b| b["id"] == "mallory" && b["by"] == "ada"));
    // The credentials sign mallory in (on a second window's engine).
    let other = Shared::with_engine(k.engine());
    k.clock.advance(30_000);
    service::console_sign_in(
        &other,
        ConsoleSignIn {
            person: "mallory".into(),
            role: ConsoleRole::Reviewer,
            secret: "mallory's long password".into(),
            otp: code_at(&b32, k.clock.now_ms()),
        },
    )
    .unwrap();
    // Issuing again makes a new secret; the old one is gone.
    let again = service::issue_credentials(
        &k.sh,
        IssueCredentialsRequest {
            auth: k.auth("ada"),
            id: "mallory".into(),
            password: "mallory's long password".into(),
        },
    )
    .unwrap();
    assert_ne!(again.totp_secret_base32, b32);
}

#[test]
fn the_policy_is_viewed_diffed_and_applied_by_the_admin() {
    let k = kiosk();
    k.sign_in("ada", ConsoleRole::Admin);
    let cur = service::policy_source(&k.sh).unwrap();
    assert!(cur.toml.contains("throttle_seconds = 30"));
    let proposed = cur
        .toml
        .replace("throttle_seconds = 30", "throttle_seconds = 45");
    let d = service::policy_diff(&k.sh, proposed.clone()).unwrap();
    assert!(d.changed);
    assert!(d.error.is_none(), "{:?}", d.error);
    let ch: Vec<_> = d.lines.iter().filter(|l| l.op != "same").collect();
    assert_eq!(ch.len(), 2, "{ch:?}");
    assert!(ch
        .iter()
        .any(|l| l.op == "removed" && l.text.contains("= 30")));
    assert!(ch
        .iter()
        .any(|l| l.op == "added" && l.text.contains("= 45")));
    // The engine's validation is the verdict (below its floor: refused).
    let invalid = cur
        .toml
        .replace("throttle_seconds = 30", "throttle_seconds = 1");
    let d = service::policy_diff(&k.sh, invalid.clone()).unwrap();
    assert!(d.error.is_some());
    let e = service::apply_policy(
        &k.sh,
        ApplyPolicyRequest {
            auth: k.auth("ada"),
            toml: invalid,
        },
    )
    .unwrap_err();
    assert!(e.code.as_str().starts_with("policy."), "{}", e.code);
    // Wrong factors: nothing applied.
    let e = service::apply_policy(
        &k.sh,
        ApplyPolicyRequest {
            auth: bad_auth(),
            toml: proposed.clone(),
        },
    )
    .unwrap_err();
    assert!(e.code.as_str().starts_with("auth."), "{}", e.code);
    assert_eq!(service::policy_view(&k.sh).unwrap().throttle_seconds, 30);
    let applied = service::apply_policy(
        &k.sh,
        ApplyPolicyRequest {
            auth: k.auth("ada"),
            toml: proposed,
        },
    )
    .unwrap();
    assert_ne!(applied.sha256, cur.sha256);
    assert_eq!(service::policy_view(&k.sh).unwrap().throttle_seconds, 45);
    assert!(k
        .events(kinds::POLICY_LOADED)
        .iter()
        .any(|b| b["by"] == "ada" && b["sha256"] == applied.sha256.as_str()));
    assert_eq!(
        service::policy_source(&k.sh).unwrap().sha256,
        applied.sha256
    );
}
