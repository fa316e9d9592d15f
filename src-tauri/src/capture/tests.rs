use super::*;
use crate::ipc::Code;

fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let pairs: Vec<(String, String)> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |k| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
}

#[test]
fn a_replay_dir_wins_over_a_camera_on_a_demo() {
    let d = demo_dir();
    let c = Capture::from_env(
        d.path(),
        env_of(&[(ENV_REPLAY_DIR, "/scenes"), (ENV_CAMERA, "v4l2:0")]),
    );
    assert_eq!(
        c.spec,
        SourceSpec::Replay {
            root: "/scenes".into()
        }
    );
}

/// A configured camera that is not there (this machine and CI have no
/// /dev/video*) is reported, and an attempt gets the device error that
/// fires `device_unavailable`: never a silent replay instead.
#[test]
fn an_absent_camera_is_unavailable_not_replaced() {
    if Path::new("/dev/video0").exists() {
        eprintln!("skipping: this machine has a camera");
        return;
    }
    let c = Capture::from_env(
        Path::new("/data"),
        env_of(&[(ENV_CAMERA, "v4l2:usb-missing")]),
    );
    assert_eq!(
        c.spec,
        SourceSpec::Camera {
            id: "v4l2:usb-missing".into()
        }
    );
    let st = c.status().unwrap();
    assert!(!st.replay);
    assert!(st.device.is_none());
    assert_eq!(
        st.error.as_ref().map(|e| e.code),
        Some(Code::CaptureNotFound)
    );
    let e = c.preview().unwrap_err();
    assert_eq!(e.code, Code::CaptureNotFound);
    match c.attempt_source().unwrap() {
        AttemptSource::Unavailable {
            device,
            error,
            replay,
        } => {
            assert!(!replay);
            assert_eq!(device, "v4l2:usb-missing");
            assert!(error.is_device_unavailable(), "{error}");
        }
        AttemptSource::Open(s) => panic!("opened {:?}", s.info()),
    }
    let e = c.set_scene("genuine").unwrap_err();
    assert_eq!(e.code, codes::DEMO_ONLY, "not a demo data dir");
}

/// A data dir made by `init --demo` (only its marker matters here).
fn demo_dir() -> tempfile::TempDir {
    let t = tempfile::tempdir().unwrap();
    std::fs::write(
        t.path().join("countersign.json"),
        r#"{"kiosk_id":"k","created_ms":0,"demo":true,"format":1}"#,
    )
    .unwrap();
    t
}

#[test]
fn no_camera_on_a_demo_is_the_data_dirs_replay() {
    if Path::new("/dev/video0").exists() {
        eprintln!("skipping: this machine has a camera");
        return;
    }
    let d = demo_dir();
    let c = Capture::from_env(d.path(), env_of(&[]));
    assert_eq!(
        c.spec,
        SourceSpec::Replay {
            root: d.path().join(countersign_engine::REPLAY_DIR)
        }
    );
    assert!(c.demo);
}

/// A real kiosk (no demo marker) with no camera has no source at all:
/// no replay, no scenes, and an attempt is `device_unavailable`.
#[test]
fn no_camera_on_a_real_kiosk_is_unavailable_never_a_replay() {
    if Path::new("/dev/video0").exists() {
        eprintln!("skipping: this machine has a camera");
        return;
    }
    let c = Capture::from_env(Path::new("/data"), env_of(&[]));
    assert_eq!(c.spec, SourceSpec::NoCamera);
    let st = c.status().unwrap();
    assert!(!st.replay && st.scenes.is_empty() && st.device.is_none());
    assert_eq!(st.error.unwrap().code, Code::CaptureNotFound);
    match c.attempt_source().unwrap() {
        AttemptSource::Unavailable { replay, error, .. } => {
            assert!(!replay);
            assert!(error.is_device_unavailable());
        }
        AttemptSource::Open(s) => panic!("opened {:?}", s.info()),
    }
    assert_eq!(c.preview().unwrap_err().code, Code::CaptureNotFound);
    assert_eq!(c.set_scene("genuine").unwrap_err().code, codes::DEMO_ONLY);
}

/// COUNTERSIGN_REPLAY_DIR on a real kiosk is refused, never used.
#[test]
fn a_replay_dir_on_a_real_kiosk_is_refused() {
    let c = Capture::from_env(Path::new("/data"), env_of(&[(ENV_REPLAY_DIR, "/scenes")]));
    assert!(matches!(c.spec, SourceSpec::Refused { .. }), "{:?}", c.spec);
    let st = c.status().unwrap();
    assert!(!st.replay && st.scenes.is_empty());
    assert_eq!(st.error.unwrap().code, codes::DEMO_ONLY);
    assert_eq!(c.attempt_source().unwrap_err().code, codes::DEMO_ONLY);
    assert_eq!(c.preview().unwrap_err().code, codes::DEMO_ONLY);
    assert_eq!(c.set_scene("genuine").unwrap_err().code, codes::DEMO_ONLY);
    // On a demo it is still the replay it always was.
    let d = demo_dir();
    let c = Capture::from_env(d.path(), env_of(&[(ENV_REPLAY_DIR, "/scenes")]));
    assert_eq!(
        c.spec,
        SourceSpec::Replay {
            root: "/scenes".into()
        }
    );
}
