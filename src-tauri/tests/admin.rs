//! Issue 15, item 4: the admin's acts in the console. Each act needs an
//! admin's console session (refused and recorded otherwise) AND the admin's
//! two factors for that act (a wrong code is refused and recorded as a
//! failed `supervisor.auth`); accepted acts are the engine's chained,
//! signed registry events. Driven through the app's service functions over
//! a real demo data dir and a real engine (manual clock: every act uses a
//! fresh TOTP step, as the engine refuses a replayed one).

use countersign_app::ipc::{
    AddClientRequest, AddPersonRequest, AddPrincipalRequest, AdminAuth, ApplyPolicyRequest,
    ConsoleRole, ConsoleSignIn, IssueCredentialsRequest, SetRolesRequest, UnlockRequest,
};
use countersign_app::service::{self, Shared};
use countersign_engine::{
    kinds, Clock, Engine, InitOptions, ManualClock, SystemClock, DEMO_PEOPLE,
};
use countersign_ledger::{Filter, PageRequest};

struct Kiosk {
    _tmp: tempfile::TempDir,
    dir: std::path::PathBuf,
    clock: ManualClock,
    sh: Shared,
}

fn kiosk() -> Kiosk {
    let tmp = tempfile::tempdir().unwrap();
    countersign_engine::use_test_state_dir();
    let dir = tmp.path().join("data");
    countersign_engine::DataDir::new(dir.clone())
        .init(
            &InitOptions {
                demo: true,
                ..Default::default()
            },
            &SystemClock,
        )
        .unwrap();
    let clock = ManualClock::at(SystemClock.now_ms() + 1_000);
    let engine = Engine::open_with_clock(&dir, Box::new(clock.clone())).unwrap();
    Kiosk {
        _tmp: tmp,
        dir,
        clock,
        sh: Shared::with_engine(engine),
    }
}

fn code_at(b32: &str, ms: i64) -> String {
    let key = data_encoding::BASE32_NOPAD.decode(b32.as_bytes()).unwrap();
    countersign_core::auth::totp::code_at(&key, ms / 1000, 30, 6)
}

impl Kiosk {
    /// `id`'s demo password and the TOTP code of a step no sign-in used yet
    /// (the clock moves one step first).
    fn creds(&self, id: &str) -> (String, String) {
        let (secret, b32) = DEMO_PEOPLE
            .iter()
            .find(|p| p.id == id)
            .and_then(|p| p.credentials)
            .unwrap();
        self.clock.advance(30_000);
        (secret.to_string(), code_at(b32, self.clock.now_ms()))
    }
    fn auth(&self, id: &str) -> AdminAuth {
        let (secret, otp) = self.creds(id);
        AdminAuth { secret, otp }
    }
    fn sign_in(&self, id: &str, role: ConsoleRole) {
        let (secret, otp) = self.creds(id);
        service::console_sign_in(
            &self.sh,
            ConsoleSignIn {
                person: id.into(),
                role,
                secret,
                otp,
            },
        )
        .unwrap();
    }
    fn engine(&self) -> Engine {
        Engine::open_with_clock(&self.dir, Box::new(self.clock.clone())).unwrap()
    }
    fn events(&self, kind: &str) -> Vec<serde_json::Value> {
        let e = self.engine();
        e.ledger()
            .query(
                &Filter {
                    kinds: vec![kind.into()],
                    ..Filter::default()
                },
                &PageRequest {
                    after_seq: None,
                    limit: 1000,
                    newest_first: false,
                },
            )
            .unwrap()
            .rows
            .into_iter()
            .map(|r| r.body)
            .collect()
    }
    fn all_bodies(&self) -> String {
        let e = self.engine();
        e.ledger()
            .query(
                &Filter::default(),
                &PageRequest {
                    after_seq: None,
                    limit: 100_000,
                    newest_first: false,
                },
            )
            .unwrap()
            .rows
            .into_iter()
            .map(|r| r.body.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    }
    fn add_mallory(&self, auth: AdminAuth) -> Result<countersign_app::ipc::Person, String> {
        service::add_person(
            &self.sh,
            AddPersonRequest {
                auth,
                id: "mallory".into(),
                display_name: "Mallory M".into(),
                roles: vec!["reviewer".into()],
            },
        )
        .map_err(|e| e.code)
    }
}

fn bad_auth() -> AdminAuth {
    AdminAuth {
        secret: "nope".into(),
        otp: "000000".into(),
    }
}

const CLIENT_SECRET: &str = "the payroll app's long secret";

fn client_req(auth: AdminAuth) -> AddClientRequest {
    AddClientRequest {
        auth,
        id: "payroll".into(),
        name: "Payroll".into(),
        scopes: vec!["payments.approve".into()],
        secret: Some(CLIENT_SECRET.into()),
        public_key: None,
    }
}

fn principal_req(auth: AdminAuth) -> AddPrincipalRequest {
    AddPrincipalRequest {
        auth,
        id: "nightly-batch".into(),
        kind: "service_account".into(),
        owner: "sam".into(),
        scopes: vec!["payments.approve".into()],
        clients: vec!["payroll".into()],
        description: "the nightly payment batch".into(),
    }
}

/// Every admin act, with `auth`; their command names.
fn every_act(k: &Kiosk, auth: AdminAuth) -> Vec<(&'static str, Result<(), String>)> {
    let c = |r: Result<(), countersign_app::ipc::IpcError>| r.map_err(|e| e.code);
    vec![
        ("add_person", k.add_mallory(auth.clone()).map(drop)),
        (
            "set_roles",
            c(service::set_roles(
                &k.sh,
                SetRolesRequest {
                    auth: auth.clone(),
                    id: "olga".into(),
                    roles: vec!["admin".into()],
                },
            )
            .map(drop)),
        ),
        (
            "unlock_person",
            c(service::unlock_person(
                &k.sh,
                UnlockRequest {
                    auth: auth.clone(),
                    id: "olga".into(),
                },
            )
            .map(drop)),
        ),
        (
            "issue_credentials",
            c(service::issue_credentials(
                &k.sh,
                IssueCredentialsRequest {
                    auth: auth.clone(),
                    id: "olga".into(),
                    password: "a long enough password".into(),
                },
            )
            .map(drop)),
        ),
        ("policy_source", c(service::policy_source(&k.sh).map(drop))),
        (
            "policy_diff",
            c(service::policy_diff(&k.sh, String::new()).map(drop)),
        ),
        (
            "apply_policy",
            c(service::apply_policy(
                &k.sh,
                ApplyPolicyRequest {
                    auth: auth.clone(),
                    toml: String::new(),
                },
            )
            .map(drop)),
        ),
        ("list_clients", c(service::list_clients(&k.sh).map(drop))),
        (
            "add_client",
            c(service::add_client(&k.sh, client_req(auth.clone())).map(drop)),
        ),
        (
            "list_principals",
            c(service::list_principals(&k.sh).map(drop)),
        ),
        (
            "add_principal",
            c(service::add_principal(&k.sh, principal_req(auth)).map(drop)),
        ),
    ]
}

#[test]
fn every_admin_act_is_refused_without_a_session_and_the_refusal_is_recorded() {
    let k = kiosk();
    let auth = k.auth("ada");
    for (cmd, r) in every_act(&k, auth) {
        assert_eq!(r, Err("console.no_session".into()), "{cmd}");
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
        assert_eq!(r, Err("console.wrong_role".into()), "{cmd}");
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
    assert!(err.starts_with("auth."), "{err}");
    // Another person's factors do not sign the session admin's act.
    let err = k.add_mallory(k.auth("rita")).unwrap_err();
    assert!(err.starts_with("auth."), "{err}");
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
    assert_eq!(again.code, "auth.totp_replayed");
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
    assert_eq!(bad.code, "input.invalid");

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
    assert!(e.code.starts_with("policy."), "{}", e.code);
    // Wrong factors: nothing applied.
    let e = service::apply_policy(
        &k.sh,
        ApplyPolicyRequest {
            auth: bad_auth(),
            toml: proposed.clone(),
        },
    )
    .unwrap_err();
    assert!(e.code.starts_with("auth."), "{}", e.code);
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

#[test]
fn clients_and_principals_are_registered_by_the_admin_with_the_kiosk_pin() {
    let k = kiosk();
    k.sign_in("ada", ConsoleRole::Admin);
    // Wrong factors: nothing registered.
    let e = service::add_client(&k.sh, client_req(bad_auth())).unwrap_err();
    assert!(e.code.starts_with("auth."), "{}", e.code);
    assert!(service::list_clients(&k.sh).unwrap().is_empty());
    // Neither a secret nor a key: the app's own check of its request shape.
    let mut neither = client_req(k.auth("ada"));
    neither.secret = None;
    assert_eq!(
        service::add_client(&k.sh, neither).unwrap_err().code,
        "input.invalid"
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
        "input.invalid"
    );
}
