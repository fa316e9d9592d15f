//! Issue 15, item 2: reviewer and admin commands answer only to a console
//! session signed in with two factors, held on the Rust side. Driven
//! through the app's service functions (what each IPC command runs) over a
//! real demo data dir (SQLite file); a second engine on the same data dir
//! plays the admin changing a role, as another process would. The window
//! itself is driven by tests/e2e/journey.sh.

use std::time::Duration;

use countersign_app::capture::{Capture, SourceSpec};
use countersign_app::ipc::{
    ConsoleRole, ConsoleSignIn, EnrollRequest, EventQuery, ReviewSubmission,
};
use countersign_app::service::{self, Shared};
use countersign_core::Role;
use countersign_engine::{kinds, Engine, InitOptions, SystemClock, DEMO_PEOPLE};
use countersign_ledger::{Filter, PageRequest};

fn demo() -> (tempfile::TempDir, std::path::PathBuf) {
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
    (tmp, dir)
}

/// A demo person's password and their TOTP code `steps_ahead` steps from now
/// (the policy accepts one step of skew; each step signs in once).
fn creds(id: &str, steps_ahead: i64) -> (String, String) {
    let (secret, b32) = DEMO_PEOPLE
        .iter()
        .find(|p| p.id == id)
        .and_then(|p| p.credentials)
        .unwrap();
    let key = data_encoding::BASE32_NOPAD.decode(b32.as_bytes()).unwrap();
    let now_s = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let otp = countersign_core::auth::totp::code_at(&key, now_s + 30 * steps_ahead, 30, 6);
    (secret.to_string(), otp)
}

fn sign_in(
    sh: &Shared,
    id: &str,
    role: ConsoleRole,
    step: i64,
) -> Result<(), countersign_engine::Code> {
    let (secret, otp) = creds(id, step);
    service::console_sign_in(
        sh,
        ConsoleSignIn {
            person: id.into(),
            role,
            secret,
            otp,
        },
    )
    .map(|_| ())
    .map_err(|e| e.code)
}

fn events() -> EventQuery {
    serde_json::from_value(serde_json::json!({
        "kinds": [], "person": null, "supervisor": null, "outcome": null, "trigger": null,
        "caseId": null, "fromMs": null, "toMs": null, "afterSeq": null, "limit": 20,
        "newestFirst": true
    }))
    .unwrap()
}

/// A reviewer command: the evidence log.
fn reviewer_cmd(sh: &Shared) -> Result<(), countersign_engine::Code> {
    service::query_events(sh, events())
        .map(|_| ())
        .map_err(|e| e.code)
}

/// An admin command: enrolling a face. The gate comes first; past it, this
/// capture (an empty replay dir) fails for its own reasons.
fn admin_cmd(sh: &Shared, cap: &Capture) -> Result<(), countersign_engine::Code> {
    service::enroll_face(
        sh,
        cap,
        EnrollRequest {
            person: "olga".into(),
            witness: "sue".into(),
            secret: "x".into(),
            otp: "000000".into(),
        },
    )
    .map(|_| ())
    .map_err(|e| e.code)
}

fn capture(tmp: &tempfile::TempDir) -> Capture {
    Capture::new(
        SourceSpec::Replay {
            root: tmp.path().join("no-replay"),
        },
        countersign_matcher::default_models_dir(),
    )
}

/// The `console.refused` events' codes and commands, and the sign-outs' whys.
fn recorded(dir: &std::path::Path) -> (Vec<(String, String)>, Vec<String>) {
    let e = Engine::open(dir).unwrap();
    let rows = |kind: &str| {
        e.ledger()
            .query(
                &Filter {
                    kinds: vec![kind.into()],
                    ..Default::default()
                },
                &PageRequest {
                    after_seq: None,
                    limit: 1000,
                    newest_first: false,
                },
            )
            .unwrap()
            .rows
    };
    let refused = rows(kinds::CONSOLE_REFUSED)
        .iter()
        .map(|r| {
            (
                r.body["code"].as_str().unwrap().to_string(),
                r.body["command"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let outs = rows(kinds::CONSOLE_SIGNED_OUT)
        .iter()
        .map(|r| r.body["why"].as_str().unwrap().to_string())
        .collect();
    (refused, outs)
}

fn pair(code: &str, cmd: &str) -> (String, String) {
    (code.to_string(), cmd.to_string())
}

#[test]
fn a_kiosk_window_refuses_reviewer_and_admin_commands_and_the_console_sign_in() {
    let (tmp, dir) = demo();
    let sh = Shared::new(dir.clone()).kiosk_mode(true);
    let cap = capture(&tmp);
    assert_eq!(
        sign_in(&sh, "rita", ConsoleRole::Reviewer, 0),
        Err(countersign_engine::Code::ConsoleKioskMode)
    );
    assert_eq!(
        reviewer_cmd(&sh),
        Err(countersign_engine::Code::ConsoleKioskMode)
    );
    assert_eq!(
        admin_cmd(&sh, &cap),
        Err(countersign_engine::Code::ConsoleKioskMode)
    );
    let (refused, _) = recorded(&dir);
    assert_eq!(
        refused,
        vec![
            pair("console.kiosk_mode", "console_sign_in"),
            pair("console.kiosk_mode", "query_events"),
            pair("console.kiosk_mode", "enroll_face"),
        ]
    );
    // No factor was checked, so none was spent or failed.
    assert_eq!(
        sign_in(&Shared::new(dir), "rita", ConsoleRole::Reviewer, 0),
        Ok(())
    );
}

#[test]
fn reviewer_and_admin_commands_need_a_session_of_their_own_role() {
    let (tmp, dir) = demo();
    let sh = Shared::new(dir.clone());
    let cap = capture(&tmp);

    // No session.
    assert_eq!(
        reviewer_cmd(&sh),
        Err(countersign_engine::Code::ConsoleNoSession)
    );
    assert_eq!(
        admin_cmd(&sh, &cap),
        Err(countersign_engine::Code::ConsoleNoSession)
    );

    // A wrong factor is no session either.
    let (secret, _) = creds("rita", 0);
    let bad = service::console_sign_in(
        &sh,
        ConsoleSignIn {
            person: "rita".into(),
            role: ConsoleRole::Reviewer,
            secret,
            otp: "000000".into(),
        },
    );
    assert!(bad.is_err());
    assert_eq!(service::console_session(&sh).unwrap(), None);

    // A reviewer: the log, not the admin's acts.
    sign_in(&sh, "rita", ConsoleRole::Reviewer, 0).unwrap();
    assert_eq!(reviewer_cmd(&sh), Ok(()));
    assert_eq!(
        admin_cmd(&sh, &cap),
        Err(countersign_engine::Code::ConsoleWrongRole)
    );

    // Rita holds no admin role: she cannot sign in as one.
    assert!(sign_in(&sh, "rita", ConsoleRole::Admin, 1).is_err());

    // An admin: past the gate for enrolment, not the reviewer's log.
    sign_in(&sh, "ada", ConsoleRole::Admin, 0).unwrap();
    assert_eq!(
        reviewer_cmd(&sh),
        Err(countersign_engine::Code::ConsoleWrongRole)
    );
    let past_gate = admin_cmd(&sh, &cap).unwrap_err();
    assert!(!past_gate.as_str().starts_with("console."), "{past_gate}");

    let (refused, outs) = recorded(&dir);
    assert_eq!(
        refused,
        vec![
            pair("console.no_session", "query_events"),
            pair("console.no_session", "enroll_face"),
            pair("console.wrong_role", "enroll_face"),
            pair("console.wrong_role", "query_events"),
        ]
    );
    assert_eq!(
        outs,
        vec!["signed_out"],
        "ada's sign-in ended rita's session"
    );
}

#[test]
fn idle_expiry_sign_out_and_a_role_change_each_end_the_session() {
    let (_tmp, dir) = demo();
    let sh = Shared::new(dir.clone());

    // Idle for the policy's 15 minutes (monotonic): ended, recorded.
    sign_in(&sh, "rita", ConsoleRole::Reviewer, 0).unwrap();
    service::age_console_for_tests(&sh, Duration::from_secs(14 * 60)).unwrap();
    assert_eq!(
        reviewer_cmd(&sh),
        Ok(()),
        "a command restarts the idle timer"
    );
    service::age_console_for_tests(&sh, Duration::from_secs(15 * 60)).unwrap();
    assert_eq!(
        reviewer_cmd(&sh),
        Err(countersign_engine::Code::ConsoleExpired)
    );
    assert_eq!(service::console_session(&sh).unwrap(), None);
    assert_eq!(
        reviewer_cmd(&sh),
        Err(countersign_engine::Code::ConsoleNoSession)
    );

    // Signing out.
    sign_in(&sh, "rita", ConsoleRole::Reviewer, 1).unwrap();
    service::console_sign_out(&sh).unwrap();
    assert_eq!(
        reviewer_cmd(&sh),
        Err(countersign_engine::Code::ConsoleNoSession)
    );

    // A role change, made by an admin in another process.
    let (secret, otp) = creds("ada", 0);
    let mut admin = Engine::open(&dir).unwrap();
    let pass = admin.admin_sign_in("ada", &secret, &otp, "test").unwrap();
    let sh2 = Shared::new(dir.clone());
    let (secret, otp) = creds("sue", 0);
    // sue holds supervisor and operator; an admin makes her a reviewer too.
    admin
        .set_roles(
            &pass,
            "sue",
            [Role::Supervisor, Role::Operator, Role::Reviewer],
        )
        .unwrap();
    service::console_sign_in(
        &sh2,
        ConsoleSignIn {
            person: "sue".into(),
            role: ConsoleRole::Reviewer,
            secret,
            otp,
        },
    )
    .unwrap();
    assert_eq!(reviewer_cmd(&sh2), Ok(()));
    admin
        .set_roles(&pass, "sue", [Role::Supervisor, Role::Operator])
        .unwrap();
    assert_eq!(
        reviewer_cmd(&sh2),
        Err(countersign_engine::Code::ConsoleRoleChanged)
    );
    assert_eq!(service::console_session(&sh2).unwrap(), None);

    let (refused, outs) = recorded(&dir);
    let codes: Vec<&str> = refused.iter().map(|(c, _)| c.as_str()).collect();
    assert_eq!(
        codes,
        [
            countersign_engine::Code::ConsoleExpired.as_str(),
            countersign_engine::Code::ConsoleNoSession.as_str(),
            countersign_engine::Code::ConsoleNoSession.as_str(),
            countersign_engine::Code::ConsoleRoleChanged.as_str()
        ]
    );
    assert_eq!(outs, ["idle", "signed_out", "role_changed"]);
}

#[test]
fn the_registry_is_shown_in_full_to_an_admin_only() {
    let (_tmp, dir) = demo();
    let sh = Shared::new(dir.clone());
    let ids = |sh: &Shared| -> Vec<(String, Vec<String>)> {
        service::list_people(sh)
            .unwrap()
            .into_iter()
            .map(|p| (p.id, p.roles))
            .collect()
    };
    // The kiosk's pickers: operators and supervisors, those roles only.
    let shown = ids(&sh);
    assert!(
        shown.iter().all(|(id, _)| id != "rita" && id != "ada"),
        "{shown:?}"
    );
    assert!(shown
        .iter()
        .all(|(_, roles)| roles.iter().all(|r| r == "operator" || r == "supervisor")));
    assert!(shown.iter().any(|(id, _)| id == "sam"));
    // A reviewer's session does not widen it.
    sign_in(&sh, "rita", ConsoleRole::Reviewer, 0).unwrap();
    assert_eq!(ids(&sh), shown);
    // An admin's does.
    sign_in(&sh, "ada", ConsoleRole::Admin, 0).unwrap();
    let full = ids(&sh);
    assert!(
        full.iter()
            .any(|(id, r)| id == "rita" && r == &["reviewer"]),
        "{full:?}"
    );
    assert!(full
        .iter()
        .any(|(id, r)| id == "ada" && r.contains(&"admin".to_string())));
    // Idle: back to the kiosk's view.
    service::age_console_for_tests(&sh, Duration::from_secs(16 * 60)).unwrap();
    assert_eq!(ids(&sh), shown);
}

#[test]
fn a_reviewers_session_reviews_only_as_that_reviewer() {
    let (_tmp, dir) = demo();
    let sh = Shared::new(dir.clone());
    sign_in(&sh, "rita", ConsoleRole::Reviewer, 0).unwrap();
    // sam holds the supervisor role; his factors typed into rita's session
    // do not make her session his.
    let (secret, otp) = creds("sam", 0);
    let e = service::review_override(
        &sh,
        ReviewSubmission {
            grant_id: "ovr-any".into(),
            reviewer: "sam".into(),
            secret,
            otp,
            disposition: countersign_app::ipc::ReviewDisposition::Justified,
            notes: "not mine to review".into(),
        },
    )
    .unwrap_err();
    assert_eq!(e.code, countersign_engine::Code::ConsoleWrongPerson);
    let (refused, _) = recorded(&dir);
    assert_eq!(
        refused,
        vec![pair("console.wrong_person", "review_override")]
    );
}
