//! A real kiosk's data dir (not `init --demo`): no replay, no camera, no
//! demo credentials.

use super::*;

/// A real kiosk's data dir (`init` without `--demo`) with one operator.
/// Kept in one place: how administration authenticates is changing.
fn production() -> (tempfile::TempDir, std::path::PathBuf, Shared) {
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
        .add_person(&pass, "olga", "Olga", [countersign_core::Role::Operator])
        .unwrap();
    (tmp, dir, Shared::with_engine(engine))
}

/// Item 1 of issue 13, in the app: a real kiosk has no replay camera and
/// no scenes, refuses a scene and `COUNTERSIGN_REPLAY_DIR`, and with no
/// camera an attempt is `device_unavailable` (never a replay instead). The
/// demo's own replay scenes, copied into the data dir, are not used either.
#[test]
fn a_real_kiosk_offers_no_replay_and_no_camera_is_device_unavailable() {
    if std::path::Path::new("/dev/video0").exists() {
        eprintln!("skipping: this machine has a camera");
        return;
    }
    let (_tmp, dir, sh) = production();
    // Scenes planted where a demo keeps them change nothing.
    let planted = dir
        .join(countersign_engine::REPLAY_DIR)
        .join("genuine-olga");
    std::fs::create_dir_all(&planted).unwrap();
    assert!(!policy_view(&sh).unwrap().demo);
    assert_eq!(demo_credentials(&sh).unwrap_err().code, codes::NOT_DEMO);
    let env = |pairs: &'static [(&'static str, &'static str)]| {
        move |k: &str| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    };
    let cap = Capture::from_env(&dir, env(&[]));
    let st = cap.status().unwrap();
    assert!(!st.replay, "{st:?}");
    assert!(st.scenes.is_empty() && st.scene.is_none(), "{st:?}");
    assert_eq!(
        cap.set_scene("genuine-olga").unwrap_err().code,
        codes::DEMO_ONLY
    );

    let v = start_stepup(
        &sh,
        StartStepupRequest {
            scope: vec!["payments.approve".into()],
            requester: "ledger-app".into(),
        },
    )
    .unwrap();
    identify(&sh, &v.session_id, "olga").unwrap();
    // COUNTERSIGN_REPLAY_DIR is refused: not used, and no fallback either.
    let replaying = Capture::from_env(
        &dir,
        env(&[(crate::capture::ENV_REPLAY_DIR, "/tmp/scenes")]),
    );
    assert_eq!(
        replaying.set_scene("genuine-olga").unwrap_err().code,
        codes::DEMO_ONLY
    );
    let e = verify_me(&sh, &replaying, &v.session_id).unwrap_err();
    assert_eq!(e.code, codes::DEMO_ONLY);
    assert_eq!(
        stepup_status(&sh, &v.session_id).unwrap().state,
        crate::ipc::StepupState::Identified
    );
    // No camera: the device_unavailable trigger, naming no replay.
    let v = verify_me(&sh, &cap, &v.session_id).unwrap();
    assert_eq!(v.state, crate::ipc::StepupState::FallbackOffered, "{v:?}");
    assert_eq!(v.trigger.as_deref(), Some("device_unavailable"));
    let ev = events_of(&sh, kinds::CAPTURE_DEVICE_UNAVAILABLE);
    let body = &ev.first().expect("a device_unavailable event").body;
    assert_eq!(body["face"]["device"]["replay"], false, "{body}");
    assert_eq!(body["device"], crate::capture::NO_CAMERA, "{body}");

    // A replay source handed to the engine anyway is refused there.
    let v = start_stepup(
        &sh,
        StartStepupRequest {
            scope: vec!["payments.approve".into()],
            requester: "ledger-app".into(),
        },
    )
    .unwrap();
    identify(&sh, &v.session_id, "olga").unwrap();
    let replay = Capture::new(
        SourceSpec::Replay {
            root: demo_faces().join("scenes"),
        },
        countersign_matcher::default_models_dir(),
    );
    replay.set_scene("genuine-olga").unwrap();
    let e = verify_me(&sh, &replay, &v.session_id).unwrap_err();
    assert_eq!(e.code, codes::DEMO_ONLY, "{e:?}");
    let refused = events_of(&sh, kinds::STEPUP_REFUSED);
    assert!(
        refused.iter().any(|r| r.body["refusal"] == "demo_only"),
        "the refusal is evidence"
    );
    assert!(events_of(&sh, kinds::MATCH_ATTEMPT).is_empty());
}
