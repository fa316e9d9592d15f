//! Issue 15, item 4: clients and principals registered from the console,
//! and the demo's factors for a sign-in and two acts. See tests/admin.rs.

mod admin_kit;
use admin_kit::*;

use countersign_app::ipc::{AdminAuth, ConsoleRole, ConsoleSignIn, SetRolesRequest, UnlockRequest};
use countersign_app::service::{self, Shared};
use countersign_engine::kinds;

#[test]
fn clients_and_principals_are_registered_by_the_admin_with_the_kiosk_pin() {
    let k = kiosk();
    k.sign_in("ada", ConsoleRole::Admin);
    // Wrong factors: nothing registered.
    let e = service::add_client(&k.sh, client_req(bad_auth())).unwrap_err();
    assert!(e.code.as_str().starts_with("auth."), "{}", e.code);
    assert!(service::list_clients(&k.sh).unwrap().is_empty());
    // Neither a secret nor a key: the app's own check of its request shape.
    let mut neither = client_req(k.auth("ada"));
    neither.secret = None;
    assert_eq!(
        service::add_client(&k.sh, neither).unwrap_err().code,
        countersign_engine::Code::InputInvalid
    );
    // A scope the policy lacks: the engine's refusal.
    let mut bad_scope = client_req(k.auth("ada"));
    bad_scope.scopes = vec!["nope.scope".into()];
    assert!(service::add_client(&k.sh, bad_scope).is_err());

    let added = service::add_client(&k.sh, client_req(k.auth("ada"))).unwrap();
    assert_eq!(added.client.id, "payroll");
    assert_eq!(added.client.auth_method, "client_secret_basic");
    let pin: serde_json::Value = serde_json::from_str(&added.pin_json).unwrap();
    assert!(pin["key_thumbprint"]
        .as_str()
        .is_some_and(|t| !t.is_empty()));
    assert_eq!(pin["tls_cert_sha256"].as_str().map(str::len), Some(64));
    assert!(k
        .events(kinds::CLIENT_ADDED)
        .iter()
        .any(|b| b["client"]["id"] == "payroll" && b["by"] == "ada"));
    assert!(!k.all_bodies().contains(CLIENT_SECRET));
    assert!(!format!("{:?}", client_req(bad_auth())).contains(CLIENT_SECRET));
    assert_eq!(service::list_clients(&k.sh).unwrap().len(), 1);

    let p = service::add_principal(&k.sh, principal_req(k.auth("ada"))).unwrap();
    assert_eq!(p.kind, "service_account");
    assert_eq!(p.clients, vec!["payroll".to_string()]);
    assert!(k
        .events(kinds::PRINCIPAL_ADDED)
        .iter()
        .any(|b| b["principal"]["id"] == "nightly-batch" && b["by"] == "ada"));
    assert_eq!(service::list_principals(&k.sh).unwrap().len(), 1);
    // An unknown kind is the engine's (core's) refusal.
    let mut human = principal_req(k.auth("ada"));
    human.id = "someone".into();
    human.kind = "human".into();
    assert_eq!(
        service::add_principal(&k.sh, human).unwrap_err().code,
        countersign_engine::Code::InputInvalid
    );
}

/// The demo's "Fill demo factors" hands out a code no sign-in used yet:
/// the console sign-in and two acts within one TOTP step (the policy's one
/// step of skew allows three codes), then a replay is refused.
#[test]
fn demo_factors_cover_a_sign_in_and_two_acts_within_one_step() {
    let k = kiosk();
    let demo = |sh: &Shared| {
        let c = service::demo_credentials(sh)
            .unwrap()
            .into_iter()
            .find(|c| c.id == "ada")
            .unwrap();
        AdminAuth {
            secret: c.secret,
            otp: c.otp,
        }
    };
    let a = demo(&k.sh);
    service::console_sign_in(
        &k.sh,
        ConsoleSignIn {
            person: "ada".into(),
            role: ConsoleRole::Admin,
            secret: a.secret,
            otp: a.otp,
        },
    )
    .unwrap();
    k.add_mallory(demo(&k.sh)).unwrap();
    service::set_roles(
        &k.sh,
        SetRolesRequest {
            auth: demo(&k.sh),
            id: "mallory".into(),
            roles: vec!["operator".into()],
        },
    )
    .unwrap();
    let e = service::unlock_person(
        &k.sh,
        UnlockRequest {
            auth: demo(&k.sh),
            id: "mallory".into(),
        },
    )
    .unwrap_err();
    assert_eq!(e.code, countersign_engine::Code::AuthTotpReplayed);
}
