//! Shared by tests/admin.rs and tests/admin_registry.rs: a demo data dir
//! behind the app's service with a manual clock (every act uses a fresh
//! TOTP step, as the engine refuses a replayed one), and every admin act.
#![allow(dead_code)]

use countersign_app::ipc::{
    AddClientRequest, AddPersonRequest, AddPrincipalRequest, AdminAuth, ApplyPolicyRequest,
    ConsoleRole, ConsoleSignIn, IssueCredentialsRequest, SetRolesRequest, UnlockRequest,
};
use countersign_app::service::{self, Shared};
use countersign_engine::{Clock, Engine, InitOptions, ManualClock, SystemClock, DEMO_PEOPLE};
use countersign_ledger::{Filter, PageRequest};

pub struct Kiosk {
    pub _tmp: tempfile::TempDir,
    pub dir: std::path::PathBuf,
    pub clock: ManualClock,
    pub sh: Shared,
}

pub fn kiosk() -> Kiosk {
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

pub fn code_at(b32: &str, ms: i64) -> String {
    let key = data_encoding::BASE32_NOPAD.decode(b32.as_bytes()).unwrap();
    countersign_core::auth::totp::code_at(&key, ms / 1000, 30, 6)
}

impl Kiosk {
    /// `id`'s demo password and the TOTP code of a step no sign-in used yet
    /// (the clock moves one step first).
    pub fn creds(&self, id: &str) -> (String, String) {
        let (secret, b32) = DEMO_PEOPLE
            .iter()
            .find(|p| p.id == id)
            .and_then(|p| p.credentials)
            .unwrap();
        self.clock.advance(30_000);
        (secret.to_string(), code_at(b32, self.clock.now_ms()))
    }
    pub fn auth(&self, id: &str) -> AdminAuth {
        let (secret, otp) = self.creds(id);
        AdminAuth { secret, otp }
    }
    pub fn sign_in(&self, id: &str, role: ConsoleRole) {
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
    pub fn engine(&self) -> Engine {
        Engine::open_with_clock(&self.dir, Box::new(self.clock.clone())).unwrap()
    }
    pub fn events(&self, kind: &str) -> Vec<serde_json::Value> {
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
    pub fn all_bodies(&self) -> String {
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
    pub fn add_mallory(
        &self,
        auth: AdminAuth,
    ) -> Result<countersign_app::ipc::Person, countersign_engine::Code> {
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

pub fn bad_auth() -> AdminAuth {
    AdminAuth {
        secret: "nope".into(),
        otp: "000000".into(),
    }
}

pub const CLIENT_SECRET: &str = "the payroll app's long secret";

pub fn client_req(auth: AdminAuth) -> AddClientRequest {
    AddClientRequest {
        auth,
        id: "payroll".into(),
        name: "Payroll".into(),
        scopes: vec!["payments.approve".into()],
        secret: Some(CLIENT_SECRET.into()),
        public_key: None,
    }
}

pub fn principal_req(auth: AdminAuth) -> AddPrincipalRequest {
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
pub fn every_act(
    k: &Kiosk,
    auth: AdminAuth,
) -> Vec<(&'static str, Result<(), countersign_engine::Code>)> {
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
