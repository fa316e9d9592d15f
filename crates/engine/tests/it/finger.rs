//! The fingerprint path through the engine on the real libfprint
//! (`virtual_image` driver, NBIS matching; synthetic prints fed over its
//! socket) and a real ledger file: witnessed enrollment with the duplicate
//! check, genuine and impostor attempts, the failure limit, a removed
//! reader, a rescan request, each with its evidence. Nothing is mocked.

use std::collections::BTreeSet;
use std::time::Duration;

use countersign_core::session::SessionEvent;
use countersign_core::{SessionState, Trigger};
use countersign_engine::{kinds, FingerAttempt, StepUp};
use countersign_fingerprint::synth::MasterPrint;
use countersign_fingerprint::{
    virtual_socket_in, Finger, Presentation, Reader, ReaderSpec, VirtualFeeder, TEMPLATE_MEDIA_TYPE,
};
use countersign_ledger::{Filter, PageRequest};

use crate::{demo, factors, Fixture};

struct Virt {
    _dir: tempfile::TempDir,
    reader: Reader,
    feeder: VirtualFeeder,
}

fn reader() -> Virt {
    let dir = tempfile::tempdir().unwrap();
    let socket = virtual_socket_in(dir.path());
    let reader = Reader::open(
        ReaderSpec::Virtual {
            socket: socket.clone(),
        },
        Duration::from_secs(20),
    )
    .expect("libfprint's virtual_image reader opens (scripts/setup.sh installs libfprint)");
    Virt {
        _dir: dir,
        reader,
        feeder: VirtualFeeder::new(socket),
    }
}

/// Enrolls `who`'s right index finger from master `seed`, witnessed by sam.
fn enroll(
    f: &mut Fixture,
    v: &mut Virt,
    who: &str,
    seed: u64,
) -> Result<(), countersign_engine::EngineError> {
    let m = MasterPrint::generate(seed);
    // one impression per enroll stage
    for n in 0..v.reader.enroll_stages() {
        v.feeder.push_image(m.impression(n));
    }
    let (secret, code) = factors(f, "sam");
    let feeder = &mut v.feeder;
    let r = f.engine.enroll_finger(
        who,
        "sam",
        secret,
        &code,
        &mut v.reader,
        Finger::RightIndexFinger,
        &mut |e| feeder.on_event(e),
    );
    f.clock.advance(60_000);
    r.map(|_| ())
}

fn start(f: &mut Fixture, who: &str) -> StepUp {
    let scope: BTreeSet<String> = ["payments.approve".to_string()].into();
    let mut s = f.engine.start_stepup(scope, vec![], "test").unwrap();
    f.engine.identify(&mut s, who).unwrap();
    s
}

fn attempt(f: &mut Fixture, v: &mut Virt, s: &mut StepUp, p: Presentation) -> FingerAttempt {
    f.engine.apply(s, SessionEvent::Intent).unwrap();
    v.feeder.push(p);
    let feeder = &mut v.feeder;
    f.engine
        .finger_attempt(s, &mut v.reader, &mut |e| feeder.on_event(e))
        .unwrap()
}

fn last(f: &Fixture, kind: &str) -> serde_json::Value {
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
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("no {kind} event"))
        .body
}

#[test]
fn witnessed_enrollment_seals_template_and_every_impression() {
    let mut f = demo();
    let mut v = reader();
    enroll(&mut f, &mut v, "olga", 301).unwrap();
    let ev = last(&f, kinds::BIOMETRIC_ENROLLED);
    assert_eq!(ev["modality"], "finger");
    assert_eq!(ev["finger"], "right-index-finger");
    assert_eq!(ev["witness"], "sam");
    assert_eq!(ev["device"]["driver"], "virtual_image");
    assert_eq!(ev["device"]["replay"], true);
    assert_eq!(ev["device"]["resolution"]["width"], 288);
    let stages = v.reader.enroll_stages() as usize;
    assert_eq!(ev["samples"].as_array().unwrap().len(), stages);
    assert!(ev["started_ms"].as_i64().unwrap() <= ev["finished_ms"].as_i64().unwrap());
    // the template is sealed, referenced by hash only
    let sha = ev["template_sha256"].as_str().unwrap();
    let (tpl, tsha, finger) = f.engine.finger_template("olga").unwrap().unwrap();
    assert_eq!(tsha, sha);
    assert_eq!(finger, Some(Finger::RightIndexFinger));
    assert_eq!(tpl.sha256_hex(), sha);
    assert_eq!(ev["template_media_type"], TEMPLATE_MEDIA_TYPE);
    let body = ev.to_string();
    assert!(
        !body.contains(&hex_prefix(tpl.bytes())),
        "template bytes never in an event"
    );
    // each sample is a sealed PNG of exactly what was presented
    let first = ev["samples"][0]["sha256"].as_str().unwrap();
    let png = f.engine.ledger().get_blob(first).unwrap();
    let img = countersign_fingerprint::GreyImage::from_png_bytes(&png).unwrap();
    assert_eq!(img, MasterPrint::generate(301).impression(0));
    // a finger enrollment is not a face enrollment
    assert!(f.engine.face_template("olga").unwrap().is_none());
}

fn hex_prefix(b: &[u8]) -> String {
    b.iter().take(24).map(|x| format!("{x:02x}")).collect()
}

#[test]
fn genuine_finger_passes_with_fpt_evidence_and_impostor_reaches_the_failure_limit() {
    let mut f = demo();
    let mut v = reader();
    enroll(&mut f, &mut v, "olga", 311).unwrap();
    let genuine = MasterPrint::generate(311).impression(9);
    let mut s = start(&mut f, "olga");
    let r = attempt(&mut f, &mut v, &mut s, Presentation::Image(genuine.clone()));
    assert!(
        matches!(r, FingerAttempt::Decided { matched: true }),
        "{r:?}"
    );
    assert!(matches!(s.session.state, SessionState::Succeeded { .. }));
    let ev = last(&f, kinds::MATCH_ATTEMPT);
    assert_eq!(ev["modality"], "finger");
    assert_eq!(ev["matched"], true);
    assert_eq!(ev["score_source"], "libfprint_decision");
    let fp = &ev["finger"];
    assert_eq!(fp["amr"], serde_json::json!(["fpt"]));
    assert_eq!(fp["score"], serde_json::Value::Null);
    assert_eq!(fp["decision_source"], "libfprint");
    assert_eq!(fp["device"]["resolution"]["height"], 368);
    assert!(fp["capture"]["captured_ms"].is_i64());
    let png = f
        .engine
        .ledger()
        .get_blob(fp["sample"]["sha256"].as_str().unwrap())
        .unwrap();
    assert_eq!(
        countersign_fingerprint::GreyImage::from_png_bytes(&png).unwrap(),
        genuine
    );

    // an impostor, five times: the policy's failure limit offers the fallback
    let mut s = start(&mut f, "olga");
    let limit = f.engine.policy().attempts.consecutive_failure_limit;
    for i in 0..limit {
        let imp = MasterPrint::generate(900 + u64::from(i)).impression(1);
        let r = attempt(&mut f, &mut v, &mut s, Presentation::Image(imp));
        assert!(
            matches!(r, FingerAttempt::Decided { matched: false }),
            "{r:?}"
        );
    }
    assert_eq!(
        s.session.state,
        SessionState::FallbackOffered {
            trigger: Trigger::FailureLimit
        }
    );
    assert_eq!(last(&f, kinds::MATCH_ATTEMPT)["finger"]["matched"], false);
}

#[test]
fn removed_reader_offers_the_device_unavailable_fallback() {
    let mut f = demo();
    let mut v = reader();
    enroll(&mut f, &mut v, "olga", 321).unwrap();
    let mut s = start(&mut f, "olga");
    let r = attempt(&mut f, &mut v, &mut s, Presentation::Remove);
    match r {
        FingerAttempt::DeviceUnavailable { code, .. } => {
            assert_eq!(code, countersign_engine::Code::CaptureUnplugged)
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        s.session.state,
        SessionState::FallbackOffered {
            trigger: Trigger::DeviceUnavailable
        }
    );
    let ev = last(&f, kinds::CAPTURE_DEVICE_UNAVAILABLE);
    assert!(
        ev["detail"]
            .as_str()
            .unwrap()
            .starts_with(countersign_engine::Code::CaptureUnplugged.as_str()),
        "{ev}"
    );
    assert!(ev["device"]
        .as_str()
        .unwrap()
        .starts_with("libfprint:virtual_image:"));
}

#[test]
fn rescan_request_is_a_quality_failure_with_evidence() {
    let mut f = demo();
    let mut v = reader();
    enroll(&mut f, &mut v, "olga", 331).unwrap();
    let mut s = start(&mut f, "olga");
    let r = attempt(&mut f, &mut v, &mut s, Presentation::Retry(2));
    assert!(matches!(r, FingerAttempt::QualityFailure { .. }), "{r:?}");
    assert_eq!(s.session.state, SessionState::Identified);
    let ev = last(&f, kinds::CAPTURE_QUALITY_FAILED);
    assert_eq!(ev["finger"]["failure"]["code"], "finger.retry");
    assert_eq!(ev["finger"]["amr"], serde_json::json!(["fpt"]));
}

#[test]
fn re_enrollment_replaces_the_template_and_faces_are_separate() {
    let mut f = demo();
    let mut v = reader();
    enroll(&mut f, &mut v, "olga", 341).unwrap();
    let (_, first, _) = f.engine.finger_template("olga").unwrap().unwrap();
    enroll(&mut f, &mut v, "olga", 342).unwrap();
    let (_, second, _) = f.engine.finger_template("olga").unwrap().unwrap();
    assert_ne!(first, second);
    // the old finger no longer passes, the new one does
    let mut s = start(&mut f, "olga");
    let r = attempt(
        &mut f,
        &mut v,
        &mut s,
        Presentation::Image(MasterPrint::generate(341).impression(8)),
    );
    assert!(
        matches!(r, FingerAttempt::Decided { matched: false }),
        "{r:?}"
    );
    let r = attempt(
        &mut f,
        &mut v,
        &mut s,
        Presentation::Image(MasterPrint::generate(342).impression(8)),
    );
    assert!(
        matches!(r, FingerAttempt::Decided { matched: true }),
        "{r:?}"
    );
}

#[test]
fn enrollment_needs_a_witnessing_supervisor_and_an_operator() {
    let mut f = demo();
    let mut v = reader();
    let (secret, code) = factors(&f, "sam");
    let feeder = &mut v.feeder;
    let err = f
        .engine
        .enroll_finger(
            "olga",
            "sam",
            "wrong",
            &code,
            &mut v.reader,
            Finger::LeftThumb,
            &mut |e| feeder.on_event(e),
        )
        .unwrap_err();
    assert!(err.code().as_str().starts_with("auth."), "{}", err.code());
    let err = f
        .engine
        .enroll_finger(
            "sam",
            "sue",
            secret,
            &code,
            &mut v.reader,
            Finger::LeftThumb,
            &mut |e| feeder.on_event(e),
        )
        .unwrap_err();
    assert_eq!(err.code(), countersign_engine::Code::BiometricNotOperator);
    assert_eq!(v.feeder.sent(), 0, "nothing was captured");
    assert!(f.engine.finger_template("olga").unwrap().is_none());
}
