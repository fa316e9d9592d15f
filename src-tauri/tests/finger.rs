//! Fingerprint step-ups through the app's service in the app's own
//! configuration: the reader runs in a helper process that is the real
//! `countersign-app` binary started with `--fingerprint-helper`, while a
//! thread of this process owns GLib's default main context with a running
//! main loop, as GTK does in the window. libfprint's real `virtual_image`
//! driver, real NBIS, a real demo data dir (SQLite file) and a manual clock.

use std::path::{Path, PathBuf};
use std::sync::{mpsc, Once};
use std::time::Duration;

use countersign_app::finger::{Fingers, ReaderChoice, HELPER_ARG, SCENE_POOR_SCAN, SCENE_REMOVED};
use countersign_app::ipc::{
    ConsoleRole, ConsoleSignIn, FingerEnrollRequest, StartStepupRequest, StepupView,
};
use countersign_app::service::{self, Shared};
use countersign_engine::{Engine, InitOptions, ManualClock};
use countersign_fingerprint::{virtual_socket_in, HelperCommand, Reader, ReaderSpec};

const T0: i64 = 1_800_000_000_000;

fn helper() -> HelperCommand {
    HelperCommand::new(env!("CARGO_BIN_EXE_countersign-app"), &[HELPER_ARG])
}

/// Like GTK in the window: another thread owns the default main context.
fn gtk_like_main_loop() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let ctx = glib::MainContext::default();
            let main_loop = glib::MainLoop::new(Some(&ctx), false);
            ctx.invoke(move || tx.send(()).unwrap());
            main_loop.run();
        });
        rx.recv_timeout(Duration::from_secs(10))
            .expect("the main loop runs");
    });
}

struct Fx {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    sh: Shared,
    fp: Fingers,
    clock: ManualClock,
}

/// A demo data dir with otto's finger enrolled (`init --demo
/// --demo-fingers`, here through the helper too) and the app's finger state.
fn demo() -> Fx {
    gtk_like_main_loop();
    let tmp = tempfile::tempdir().unwrap();
    countersign_engine::use_test_state_dir();
    let dir = tmp.path().join("data");
    let clock = ManualClock::at(T0);
    countersign_engine::DataDir::new(dir.clone())
        .init(
            &InitOptions {
                demo: true,
                ..Default::default()
            },
            &clock,
        )
        .unwrap();
    let mut engine = Engine::open_with_clock(&dir, Box::new(clock.clone())).unwrap();
    let sock_dir = tempfile::tempdir().unwrap();
    let socket = virtual_socket_in(sock_dir.path());
    let mut reader = Reader::open_in_helper(
        &helper(),
        ReaderSpec::Virtual {
            socket: socket.clone(),
        },
        Duration::from_secs(20),
    )
    .unwrap();
    let r = engine.install_demo_fingers(&mut reader, &socket).unwrap();
    reader.close();
    assert_eq!(r.enrolled.expect("otto enrolled").person, "otto");
    clock.advance(120_000); // past the witness's TOTP steps
    let fp = Fingers::new(
        ReaderChoice::Virtual {
            root: dir.join(countersign_engine::FINGER_SCENES_DIR),
        },
        helper(),
        Duration::from_secs(20),
        Duration::ZERO,
    );
    Fx {
        _tmp: tmp,
        dir,
        sh: Shared::with_engine(engine),
        fp,
        clock,
    }
}

fn stepup(fx: &Fx, operator: &str) -> StepupView {
    let v = service::start_stepup(
        &fx.sh,
        StartStepupRequest {
            scope: vec!["payments.approve".into()],
            requester: "ledger-app".into(),
        },
    )
    .unwrap();
    service::identify(&fx.sh, &v.session_id, operator).unwrap()
}

fn scene(fx: &Fx, name: &str) {
    let st = service::set_finger_scene(&fx.sh, &fx.fp, name).unwrap();
    assert_eq!(st.scene.as_deref(), Some(name));
}

fn events(fx: &Fx, kind: &str, case: &str) -> Vec<serde_json::Value> {
    ledger_rows(&fx.dir, kind, Some(case))
}

/// The ledger's rows of `kind` (and `case`), read by a second engine on the
/// data dir: the app's own evidence log is a reviewer's console command.
fn ledger_rows(dir: &Path, kind: &str, case: Option<&str>) -> Vec<serde_json::Value> {
    let e = Engine::open(dir).unwrap();
    e.ledger()
        .query(
            &countersign_ledger::Filter {
                kinds: vec![kind.into()],
                case_id: case.map(String::from),
                ..Default::default()
            },
            &countersign_ledger::PageRequest {
                after_seq: None,
                limit: 100,
                newest_first: false,
            },
        )
        .unwrap()
        .rows
        .into_iter()
        .map(|r| r.body)
        .collect()
}

#[test]
fn status_lists_the_virtual_reader_its_scenes_and_who_has_a_finger() {
    let fx = demo();
    let st = service::finger_status(&fx.sh, &fx.fp).unwrap();
    assert!(st.virtual_reader);
    let dev = st.device.expect("libfprint lists the virtual reader");
    assert_eq!(dev.driver, "virtual_image");
    assert!(dev.replay, "the reader is labelled as fed from files");
    assert!(st.error.is_none(), "{:?}", st.error);
    assert_eq!(st.enrolled, vec!["otto".to_string()]);
    for s in [
        "otto-right-index",
        "someone-else",
        SCENE_POOR_SCAN,
        SCENE_REMOVED,
    ] {
        assert!(st.scenes.iter().any(|x| x == s), "{s} in {:?}", st.scenes);
    }
    assert_eq!(st.scene.as_deref(), Some("otto-right-index"));
    assert_eq!(
        service::set_finger_scene(&fx.sh, &fx.fp, "nope")
            .unwrap_err()
            .code,
        countersign_app::ipc::codes::UNKNOWN_SCENE
    );
}

#[test]
fn a_genuine_finger_succeeds_with_libfprints_decision_and_sealed_evidence() {
    let fx = demo();
    scene(&fx, "otto-right-index");
    let v = stepup(&fx, "otto");
    let v = service::verify_finger(&fx.sh, &fx.fp, &v.session_id).unwrap();
    assert_eq!(
        v.state,
        countersign_app::ipc::StepupState::Succeeded,
        "{v:?}"
    );
    assert_eq!(v.attempts.len(), 1);
    assert_eq!(v.attempts[0].outcome, "matched");
    assert_eq!(
        v.attempts[0].score_source.as_deref(),
        Some("libfprint_decision")
    );
    let ev = events(&fx, "match.attempt", &v.session_id);
    let f = &ev[0]["finger"];
    assert_eq!(f["amr"], serde_json::json!(["fpt"]));
    assert_eq!(f["device"]["driver"], "virtual_image");
    assert_eq!(f["device"]["replay"], true, "VIRTUAL in the evidence");
    assert_eq!(f["matched"], true);
    assert!(
        f["sample"]["sha256"].is_string(),
        "the probe is sealed: {f}"
    );
    assert_eq!(
        fx.fp.progress().unwrap().phase,
        countersign_app::ipc::FingerPhase::Idle
    );
}

#[test]
fn another_finger_fails_until_the_limit_then_the_fallback_is_offered() {
    let fx = demo();
    scene(&fx, "someone-else");
    let mut v = stepup(&fx, "otto");
    let id = v.session_id.clone();
    for _ in 0..v.failure_limit {
        if let Some(at) = v.next_attempt_at_ms {
            fx.clock.advance(at - v.now_ms);
        }
        v = service::verify_finger(&fx.sh, &fx.fp, &id).unwrap();
    }
    assert_eq!(
        v.state,
        countersign_app::ipc::StepupState::FallbackOffered,
        "{v:?}"
    );
    assert_eq!(v.trigger.as_deref(), Some("failure_limit"));
    assert!(
        v.attempts.iter().all(|a| a.outcome == "no_match"),
        "{:?}",
        v.attempts
    );
    assert_eq!(v.consecutive_failures, v.failure_limit);
    // The enforced wait: the next attempt is refused until it passes.
    assert!(v.next_attempt_at_ms.is_some_and(|at| at > v.now_ms));
    let err = service::verify_finger(&fx.sh, &fx.fp, &id).unwrap_err();
    assert!(err.code.as_str().contains("throttle"), "{err:?}");
}

#[test]
fn a_poor_scan_is_a_quality_failure_with_its_reason() {
    let fx = demo();
    scene(&fx, SCENE_POOR_SCAN);
    let v = stepup(&fx, "otto");
    let v = service::verify_finger(&fx.sh, &fx.fp, &v.session_id).unwrap();
    assert_eq!(
        v.state,
        countersign_app::ipc::StepupState::Identified,
        "{v:?}"
    );
    assert_eq!(v.attempts[0].outcome, "quality_failed");
    assert!(
        v.attempts[0]
            .detail
            .as_deref()
            .is_some_and(|d| d.contains("poor scan quality")),
        "{:?}",
        v.attempts
    );
    assert_eq!(v.consecutive_failures, 0, "not a match failure");
}

#[test]
fn a_removed_reader_is_the_device_unavailable_trigger() {
    let fx = demo();
    scene(&fx, SCENE_REMOVED);
    let v = stepup(&fx, "otto");
    let v = service::verify_finger(&fx.sh, &fx.fp, &v.session_id).unwrap();
    assert_eq!(
        v.state,
        countersign_app::ipc::StepupState::FallbackOffered,
        "{v:?}"
    );
    assert_eq!(v.trigger.as_deref(), Some("device_unavailable"));
    assert_eq!(v.attempts[0].outcome, "unavailable");
}

#[test]
fn an_absent_real_reader_is_the_device_unavailable_trigger() {
    let fx = demo();
    let fp = Fingers::new(
        ReaderChoice::Real {
            id: Some("libfprint:uru4000:0".into()),
        },
        helper(),
        Duration::from_secs(5),
        Duration::ZERO,
    );
    let st = service::finger_status(&fx.sh, &fp).unwrap();
    assert!(!st.virtual_reader);
    assert!(st.device.is_none());
    assert_eq!(
        st.error.expect("not found").code,
        countersign_engine::Code::CaptureNotFound
    );
    let v = stepup(&fx, "otto");
    let v = service::verify_finger(&fx.sh, &fp, &v.session_id).unwrap();
    assert_eq!(
        v.state,
        countersign_app::ipc::StepupState::FallbackOffered,
        "{v:?}"
    );
    assert_eq!(v.trigger.as_deref(), Some("device_unavailable"));
}

#[test]
fn a_witnessed_finger_enrollment_through_the_app() {
    let fx = demo();
    let creds = service::demo_credentials(&fx.sh).unwrap();
    let sam = creds.iter().find(|c| c.id == "sam").unwrap();
    let ada = creds.iter().find(|c| c.id == "ada").unwrap();
    // Enrolment is an admin's console act.
    service::console_sign_in(
        &fx.sh,
        ConsoleSignIn {
            person: "ada".into(),
            role: ConsoleRole::Admin,
            secret: ada.secret.clone(),
            otp: ada.otp.clone(),
        },
    )
    .unwrap();
    scene(&fx, "someone-else");
    let r = service::enroll_finger(
        &fx.sh,
        &fx.fp,
        FingerEnrollRequest {
            person: "olga".into(),
            finger: "left-thumb".into(),
            witness: "sam".into(),
            secret: sam.secret.clone(),
            otp: sam.otp.clone(),
        },
    )
    .unwrap();
    assert_eq!(r.person, "olga");
    assert_eq!(r.witness, "sam");
    assert_eq!(r.finger, "left-thumb");
    assert_eq!(r.impressions, 5);
    assert!(r.virtual_reader);
    let st = service::finger_status(&fx.sh, &fx.fp).unwrap();
    assert_eq!(st.enrolled, vec!["olga".to_string(), "otto".to_string()]);
    // An unknown finger name is refused before anything is opened.
    let err = service::enroll_finger(
        &fx.sh,
        &fx.fp,
        FingerEnrollRequest {
            person: "olga".into(),
            finger: "pinky".into(),
            witness: "sam".into(),
            secret: sam.secret.clone(),
            otp: sam.otp.clone(),
        },
    )
    .unwrap_err();
    assert_eq!(err.code, countersign_engine::Code::InputInvalid, "{err:?}");
    let _ = Path::new(&fx.dir);
}

/// A real kiosk's data dir (`init` without `--demo`) with one operator.
/// Kept in one place: how administration authenticates is changing.
fn production() -> (tempfile::TempDir, PathBuf, Shared) {
    let tmp = tempfile::tempdir().unwrap();
    countersign_engine::use_test_state_dir();
    let dir = tmp.path().join("data");
    let clock = ManualClock::at(T0);
    // A real kiosk starts with its first admin, who adds the operator
    // with two factors (issue 13, item 5).
    let report = countersign_engine::DataDir::new(dir.clone())
        .init(
            &InitOptions {
                admin: Some(countersign_engine::FirstAdmin {
                    id: "root".into(),
                    display_name: "Root Admin".into(),
                    secret: "a long admin passphrase".into(),
                }),
                ..Default::default()
            },
            &clock,
        )
        .unwrap();
    let b32 = report
        .admin
        .expect("the first admin's TOTP")
        .totp_secret_base32;
    let key = data_encoding::BASE32_NOPAD
        .decode(b32.trim_end_matches('=').as_bytes())
        .unwrap();
    let code = countersign_core::auth::totp::code_at(&key, T0 / 1000, 30, 6);
    let mut engine = Engine::open_with_clock(&dir, Box::new(clock)).unwrap();
    let pass = engine
        .admin_sign_in("root", "a long admin passphrase", &code, "test setup")
        .unwrap();
    engine
        .add_person(&pass, "otto", "Otto", [countersign_core::Role::Operator])
        .unwrap();
    (tmp, dir, Shared::with_engine(engine))
}

/// Item 1 of issue 13, in the app: on a real kiosk the reader is never
/// libfprint's virtual one (even with the demo's impressions planted in
/// the data dir), there are no scenes ("Reader unplugged" and "A smudged
/// scan" included) and choosing one is refused; with no real reader an
/// attempt is `device_unavailable`, recorded as a live device's.
#[test]
fn a_real_kiosk_has_no_virtual_reader_and_no_reader_is_device_unavailable() {
    gtk_like_main_loop();
    let (_tmp, dir, sh) = production();
    std::fs::create_dir_all(
        dir.join(countersign_engine::FINGER_SCENES_DIR)
            .join("otto-right-index"),
    )
    .unwrap();
    let from_env = Fingers::from_env(&dir, |_| None);
    assert_eq!(from_env.choice(), &ReaderChoice::Real { id: None });
    assert!(!from_env.is_virtual());
    // The same choice with this test's helper binary.
    let fp = Fingers::with_mode(
        ReaderChoice::Real { id: None },
        helper(),
        Duration::from_secs(5),
        Duration::ZERO,
        false,
    );
    let st = service::finger_status(&sh, &fp).unwrap();
    assert!(!st.virtual_reader, "{st:?}");
    assert!(st.scenes.is_empty() && st.scene.is_none(), "{st:?}");
    for scene in [SCENE_REMOVED, SCENE_POOR_SCAN, "otto-right-index"] {
        let e = service::set_finger_scene(&sh, &fp, scene).unwrap_err();
        assert_eq!(
            e.code,
            countersign_engine::Code::RefusedDemoOnly,
            "{scene}: {e:?}"
        );
    }
    if st.device.is_some() {
        eprintln!("skipping the no-reader half: this machine has a fingerprint reader");
        return;
    }
    let v = service::start_stepup(
        &sh,
        StartStepupRequest {
            scope: vec!["payments.approve".into()],
            requester: "ledger-app".into(),
        },
    )
    .unwrap();
    service::identify(&sh, &v.session_id, "otto").unwrap();
    let v = service::verify_finger(&sh, &fp, &v.session_id).unwrap();
    assert_eq!(
        v.state,
        countersign_app::ipc::StepupState::FallbackOffered,
        "{v:?}"
    );
    assert_eq!(v.trigger.as_deref(), Some("device_unavailable"));
    let rows = ledger_rows(&dir, "capture.device_unavailable", None);
    let body = &rows[0];
    assert_eq!(body["finger"]["device"]["replay"], false, "{body}");

    // The virtual reader handed to the engine anyway is refused there.
    let virt = Fingers::new(
        ReaderChoice::Virtual {
            root: dir.join(countersign_engine::FINGER_SCENES_DIR),
        },
        helper(),
        Duration::from_secs(5),
        Duration::ZERO,
    );
    let v = service::start_stepup(
        &sh,
        StartStepupRequest {
            scope: vec!["payments.approve".into()],
            requester: "ledger-app".into(),
        },
    )
    .unwrap();
    service::identify(&sh, &v.session_id, "otto").unwrap();
    virt.set_scene(SCENE_REMOVED).unwrap();
    let e = service::verify_finger(&sh, &virt, &v.session_id).unwrap_err();
    assert_eq!(e.code, countersign_engine::Code::RefusedDemoOnly, "{e:?}");
}
