//! The real face path through the engine: witnessed enrollment, genuine,
//! impostor and static-replay attempts, an unplugged camera, each with its
//! evidence. Needs the models (scripts/setup.sh); fails saying so if absent.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use countersign_capture::replay::{ReplayOptions, ReplaySource};
use countersign_capture::{CaptureError, DeviceInfo, Frame, Resolution, Source};
use countersign_core::session::SessionEvent;
use countersign_core::SessionState;
use countersign_engine::{kinds, FaceAttempt, StepUp};
use countersign_ledger::{Filter, PageRequest};
use countersign_matcher::{Matcher, MatcherError};

use crate::{demo, factors, Fixture};

pub(crate) fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../matcher/tests/fixtures")
        .join(name)
}

pub(crate) fn matcher() -> &'static Matcher {
    static M: OnceLock<Matcher> = OnceLock::new();
    M.get_or_init(|| match Matcher::load_default() {
        Ok(m) => m,
        Err(e @ MatcherError::ModelMissing { .. }) => {
            panic!("the face models are missing ({e}).\n  Run scripts/setup.sh from the repository root.")
        }
        Err(e) => panic!("loading the face models: {e}"),
    })
}

pub(crate) fn replay(files: &[&str]) -> ReplaySource {
    let paths: Vec<PathBuf> = files.iter().map(|f| fixture(f)).collect();
    ReplaySource::open(
        &paths,
        ReplayOptions {
            rate_hz: 0.0,
            looping: false,
            resolution: Some(Resolution::new(640, 480)),
        },
    )
    .unwrap()
}

pub(crate) fn enroll_olga(f: &mut Fixture) {
    let (secret, code) = factors(f, "sam");
    let mut src = replay(&["obama.jpg", "obama3.jpg"]);
    let r = f
        .engine
        .enroll_face("olga", "sam", secret, &code, matcher(), &mut src, 2)
        .unwrap();
    assert_eq!(r.accepted_captures, 2);
    assert!(r.device.replay);
    f.clock.advance(60_000);
}

pub(crate) fn start(f: &mut Fixture, who: &str) -> StepUp {
    let scope: BTreeSet<String> = ["payments.approve".to_string()].into();
    let mut s = f.engine.start_stepup(scope, vec![], "test").unwrap();
    f.engine.identify(&mut s, who).unwrap();
    f.engine.apply(&mut s, SessionEvent::Intent).unwrap();
    s
}

pub(crate) fn last(f: &Fixture, kind: &str) -> serde_json::Value {
    f.engine
        .ledger()
        .query(
            &Filter {
                kinds: vec![kind.into()],
                ..Default::default()
            },
            &PageRequest {
                after_seq: None,
                limit: 1,
                newest_first: true,
            },
        )
        .unwrap()
        .rows
        .first()
        .unwrap_or_else(|| panic!("no {kind} event"))
        .body
        .clone()
}

#[test]
fn witnessed_enrollment_seals_the_template_and_records_the_witness() {
    let mut f = demo();
    enroll_olga(&mut f);
    let ev = last(&f, kinds::BIOMETRIC_ENROLLED);
    assert_eq!(ev["witness"], "sam");
    assert_eq!(ev["person"], "olga");
    assert_eq!(ev["device"]["replay"], true);
    assert_eq!(ev["models"].as_array().unwrap().len(), 2);
    assert_eq!(ev["samples"].as_array().unwrap().len(), 2);
    let (t, sha) = f.engine.face_template("olga").unwrap().unwrap();
    assert_eq!(ev["template_sha256"], sha.as_str());
    assert_eq!(t.embeddings.len(), 2);
    // sue may not witness her own enrollment
    let (secret, code) = factors(&f, "sue");
    let e = f
        .engine
        .enroll_face(
            "sue",
            "sue",
            secret,
            &code,
            matcher(),
            &mut replay(&["obama.jpg"]),
            1,
        )
        .unwrap_err();
    assert_eq!(e.code(), countersign_engine::Code::BiometricSelfWitness);
}

#[test]
fn replayed_genuine_burst_matches_with_full_evidence() {
    let mut f = demo();
    enroll_olga(&mut f);
    let mut s = start(&mut f, "olga");
    let r = f
        .engine
        .face_attempt(
            &mut s,
            matcher(),
            &mut replay(&["obama2.jpg", "obama.jpg"]),
            2,
            None,
        )
        .unwrap();
    assert!(
        matches!(
            r,
            FaceAttempt::Scored {
                matched: true,
                pad_passed: true,
                ..
            }
        ),
        "{r:?}"
    );
    assert!(matches!(s.session.state, SessionState::Succeeded { .. }));
    let ev = last(&f, kinds::MATCH_ATTEMPT);
    assert_eq!(ev["matched"], true);
    let face = &ev["face"];
    assert_eq!(face["device"]["replay"], true);
    assert_eq!(face["device"]["driver"], "replay");
    assert_eq!(face["threshold"], 0.48);
    assert_eq!(
        face["models"][0]["sha256"],
        "49f000ec501fef24739071fc7e68267d32209045b6822c0c72dce1da25726f10"
    );
    assert_eq!(face["pad"]["passed"], true);
    assert_eq!(face["frames"].as_array().unwrap().len(), 2);
    let sample = face["sample"]["sha256"].as_str().unwrap();
    let png = f.engine.ledger().get_blob(sample).unwrap();
    assert!(png.starts_with(b"\x89PNG"));
    assert_eq!(ev["score_source"], countersign_engine::FACE_SCORE_SOURCE);
}

#[test]
fn impostor_and_static_replay_are_refused() {
    let mut f = demo();
    enroll_olga(&mut f);
    let mut s = start(&mut f, "olga");
    let r = f
        .engine
        .face_attempt(
            &mut s,
            matcher(),
            &mut replay(&["biden.jpg", "astronaut.png"]),
            2,
            None,
        )
        .unwrap();
    assert!(
        matches!(r, FaceAttempt::Scored { matched: false, .. }),
        "{r:?}"
    );
    // the same genuine photo, three times: it scores, PAD fails, no match
    f.engine.apply(&mut s, SessionEvent::Intent).unwrap();
    let r = f
        .engine
        .face_attempt(
            &mut s,
            matcher(),
            &mut replay(&["obama2.jpg", "obama2.jpg", "obama2.jpg"]),
            3,
            None,
        )
        .unwrap();
    match r {
        FaceAttempt::Scored {
            score,
            threshold,
            pad_passed,
            matched,
        } => {
            assert!(score >= threshold, "it is the person");
            assert!(!pad_passed && !matched);
        }
        other => panic!("{other:?}"),
    }
    let ev = last(&f, kinds::MATCH_ATTEMPT);
    assert_eq!(ev["pad_passed"], false);
    assert_eq!(ev["face"]["pad"]["checks"][0]["method"], "static_replay");
}

#[test]
fn no_face_is_a_quality_failure_and_not_enrolled_is_an_error() {
    let mut f = demo();
    enroll_olga(&mut f);
    let d = tempfile::tempdir().unwrap();
    let blank = d.path().join("wall.png");
    image::RgbImage::from_pixel(320, 240, image::Rgb([90, 90, 90]))
        .save(&blank)
        .unwrap();
    let mut src = ReplaySource::open(
        &[blank.clone(), blank],
        ReplayOptions {
            rate_hz: 0.0,
            ..Default::default()
        },
    )
    .unwrap();
    let mut s = start(&mut f, "olga");
    let r = f
        .engine
        .face_attempt(&mut s, matcher(), &mut src, 2, None)
        .unwrap();
    assert!(matches!(r, FaceAttempt::QualityFailure { .. }), "{r:?}");
    let ev = last(&f, kinds::CAPTURE_QUALITY_FAILED);
    assert!(ev["reason"].as_str().unwrap().contains("no_face"));
    assert_eq!(ev["face"]["frames"][0]["quality"]["failures"][0], "no_face");

    let mut s = start(&mut f, "otto");
    let e = f
        .engine
        .face_attempt(&mut s, matcher(), &mut replay(&["obama.jpg"]), 1, None)
        .unwrap_err();
    assert_eq!(e.code(), countersign_engine::Code::BiometricNotEnrolled);
}

/// A camera that is pulled out after the first frame.
#[derive(Debug)]
struct Unplugging {
    info: DeviceInfo,
    inner: ReplaySource,
    left: usize,
}

impl Source for Unplugging {
    fn info(&self) -> &DeviceInfo {
        &self.info
    }
    fn next_frame(&mut self) -> Result<Frame, CaptureError> {
        if self.left == 0 {
            return Err(CaptureError::from_os_message(
                &self.info.id,
                "No such device (os error 19)",
            ));
        }
        self.left -= 1;
        self.inner.next_frame()
    }
}

#[test]
fn an_unplugged_camera_fires_device_unavailable() {
    let mut f = demo();
    enroll_olga(&mut f);
    let mut s = start(&mut f, "olga");
    let mut cam = Unplugging {
        info: DeviceInfo {
            id: "v4l2:usb-test".into(),
            driver: "v4l2".into(),
            name: "test camera".into(),
            resolution: Resolution::new(640, 480),
            replay: false,
        },
        inner: replay(&["obama2.jpg", "obama.jpg"]),
        left: 1,
    };
    let r = f
        .engine
        .face_attempt(&mut s, matcher(), &mut cam, 3, None)
        .unwrap();
    assert!(
        matches!(r, FaceAttempt::DeviceUnavailable { code, .. } if code == countersign_engine::Code::CaptureUnplugged),
        "{r:?}"
    );
    match &s.session.state {
        SessionState::FallbackOffered { trigger } => {
            assert_eq!(trigger.to_string(), "device_unavailable")
        }
        other => panic!("{other:?}"),
    }
    let ev = last(&f, kinds::CAPTURE_DEVICE_UNAVAILABLE);
    assert_eq!(ev["device"], "v4l2:usb-test");
}

#[test]
fn the_face_threshold_floor_was_measured_on_the_model_the_matcher_pins() {
    // The floor (policy/matching.rs) means something only for the recogniser
    // it was measured on: a new model must fail here until it is measured.
    let pinned = countersign_matcher::model::KNOWN_MODELS
        .iter()
        .find(|m| m.role == countersign_matcher::ModelRole::Recognizer)
        .unwrap();
    assert_eq!(
        countersign_core::policy::FACE_FLOOR_MODEL_SHA256,
        pinned.sha256
    );
}
