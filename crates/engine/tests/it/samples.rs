//! Sealed samples opened for the people entitled to see them: a signed-in
//! reviewer, the supervisor deciding in the sample's own step-up. Every
//! look is a `sample.viewed` event; templates, other sessions' samples,
//! expired sign-ins and purged samples are refused with their codes.

use countersign_core::session::SessionEvent;
use countersign_engine::{kinds, sample_refs, REVIEWER_PASS_MS};
use sha2::{Digest, Sha256};

use crate::face::{enroll_olga, last, matcher, replay, start};
use crate::{demo, factors, Fixture};

/// An impostor attempt in a fresh step-up of olga's.
fn impostor_attempt(f: &mut Fixture) -> (countersign_engine::StepUp, String) {
    attempt(f, &["biden.jpg", "astronaut.png"])
}

/// An attempt of olga's on these frames; returns the step-up and the hash
/// of the sample its attempt sealed.
fn attempt(f: &mut Fixture, frames: &[&str]) -> (countersign_engine::StepUp, String) {
    let mut s = start(f, "olga");
    f.engine
        .face_attempt(&mut s, matcher(), &mut replay(frames), frames.len(), None)
        .unwrap();
    let ev = last(f, kinds::MATCH_ATTEMPT);
    let refs = sample_refs(&ev);
    assert_eq!(refs.len(), 1, "one sample per attempt: {refs:?}");
    assert_eq!(refs[0].path, "face.sample");
    (s, refs[0].sha256.clone())
}

fn views(f: &Fixture) -> Vec<serde_json::Value> {
    f.engine
        .ledger()
        .query(
            &countersign_ledger::Filter {
                kinds: vec![kinds::SAMPLE_VIEWED.into()],
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
fn a_signed_in_reviewer_opens_a_sample_and_the_view_is_recorded() {
    let mut f = demo();
    enroll_olga(&mut f);
    let (_s, sha) = impostor_attempt(&mut f);

    // a supervisor is not a reviewer
    let (secret, code) = factors(&f, "sam");
    let e = f.engine.reviewer_sign_in("sam", secret, &code).unwrap_err();
    assert_eq!(e.code(), countersign_engine::Code::AuthNotPermitted, "{e}");

    let (secret, code) = factors(&f, "rita");
    let pass = f.engine.reviewer_sign_in("rita", secret, &code).unwrap();
    assert_eq!(pass.reviewer(), "rita");
    let sample = f
        .engine
        .open_sample_for_review(&pass, &sha, Some(42))
        .unwrap();
    assert!(
        sample.bytes.starts_with(b"\x89PNG"),
        "the sealed frame is a PNG"
    );
    assert_eq!(
        hex::encode(Sha256::digest(&sample.bytes)),
        sha,
        "bytes match their hash"
    );
    assert_eq!(sample.person.as_deref(), Some("olga"));
    assert!(sample.case_id.is_some());

    let v = views(&f);
    assert_eq!(v.len(), 1, "one view, one event");
    assert_eq!(v[0]["viewer"], "rita");
    assert_eq!(v[0]["role"], "reviewer");
    assert_eq!(v[0]["sha256"], sha.as_str());
    assert_eq!(v[0]["event_seq"], 42);

    // the template is sealed too, but it is never shown
    let (_, tpl) = f.engine.face_template("olga").unwrap().unwrap();
    let e = f
        .engine
        .open_sample_for_review(&pass, &tpl, None)
        .unwrap_err();
    assert_eq!(e.code(), countersign_engine::Code::SampleNotAnImage);
    let e = f
        .engine
        .open_sample_for_review(&pass, &"0".repeat(64), None)
        .unwrap_err();
    assert_eq!(e.code(), countersign_engine::Code::SampleNotFound);
    let e = f
        .engine
        .open_sample_for_review(&pass, "../etc/passwd", None)
        .unwrap_err();
    assert_eq!(e.code(), countersign_engine::Code::SampleNotFound);

    // the pass expires
    f.clock.advance(REVIEWER_PASS_MS);
    let e = f
        .engine
        .open_sample_for_review(&pass, &sha, None)
        .unwrap_err();
    assert_eq!(e.code(), countersign_engine::Code::SamplePassExpired);
    assert_eq!(
        views(&f).len(),
        1,
        "refusals open nothing and record no view"
    );
}

#[test]
fn a_purged_sample_says_so() {
    let mut f = demo();
    enroll_olga(&mut f);
    let (_s, sha) = impostor_attempt(&mut f);
    let (secret, code) = factors(&f, "rita");
    let pass = f.engine.reviewer_sign_in("rita", secret, &code).unwrap();
    let now = f.engine.now();
    f.engine
        .ledger_mut()
        .purge_blobs(now + 1, now, "retention")
        .unwrap();
    let e = f
        .engine
        .open_sample_for_review(&pass, &sha, None)
        .unwrap_err();
    assert_eq!(e.code(), countersign_engine::Code::SamplePurged, "{e}");
}

#[test]
fn the_deciding_supervisor_sees_only_their_sessions_samples() {
    let mut f = demo();
    enroll_olga(&mut f);
    let (_other, other_sha) = attempt(&mut f, &["obama2.jpg", "obama.jpg"]);
    let (mut s, sha) = impostor_attempt(&mut f);

    // no supervisor yet: nobody may look
    let e = f.engine.open_sample_for_supervisor(&s, &sha).unwrap_err();
    assert_eq!(e.code(), countersign_engine::Code::SampleNoSupervisor);

    f.engine.apply(&mut s, SessionEvent::Intent).unwrap();
    f.engine
        .apply(
            &mut s,
            SessionEvent::DeviceUnavailable {
                device: "test:unplugged".into(),
                detail: "unplugged".into(),
            },
        )
        .unwrap();
    let (secret, code) = factors(&f, "sam");
    f.engine
        .supervisor_login(&mut s, "sam", secret, &code)
        .unwrap();

    let sample = f.engine.open_sample_for_supervisor(&s, &sha).unwrap();
    assert!(sample.bytes.starts_with(b"\x89PNG"));
    let e = f
        .engine
        .open_sample_for_supervisor(&s, &other_sha)
        .unwrap_err();
    assert_eq!(
        e.code(),
        countersign_engine::Code::SampleNotInSession,
        "another step-up's sample stays closed"
    );

    let v = views(&f);
    assert_eq!(v.len(), 1);
    assert_eq!(v[0]["viewer"], "sam");
    assert_eq!(v[0]["role"], "supervisor");
    assert_eq!(v[0]["purpose"], "approval");
}
